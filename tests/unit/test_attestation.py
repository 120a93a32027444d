"""Attestation tokens: issued per reviewer and campaign, verified with the secret, refused when
forged, of another campaign, malformed, or signed with a short secret."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from airflow_provider_boomi.review.attestation import (
    MIN_SECRET_CHARS,
    Attestation,
    AttestationError,
    issue_token,
    verify_token,
)

SECRET = "s" * MIN_SECRET_CHARS + "-attestation"
WHEN = datetime(2026, 4, 1, 6, 0, tzinfo=UTC)


def test_a_token_proves_reviewer_campaign_and_time() -> None:
    token = issue_token(SECRET, "uar-q2", "Alice@Acme.example", WHEN.astimezone(timezone(timedelta(hours=2))))
    assert verify_token(SECRET, f"  {token} ", "uar-q2") == Attestation("Alice@Acme.example", "uar-q2", WHEN)
    # Deterministic: the same inputs sign the same token (a retried campaign reissues it).
    assert issue_token(SECRET.encode(), "uar-q2", "Alice@Acme.example", WHEN) == token


def test_another_secret_or_an_edited_token_is_refused() -> None:
    token = issue_token(SECRET, "uar-q2", "alice@acme.example", WHEN)
    with pytest.raises(AttestationError, match="signature does not match"):
        verify_token("another-secret-of-enough-length", token, "uar-q2")
    version, payload, signature = token.split(".")
    # The reviewer swapped in the payload, the old signature kept: refused.
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["r"] = "mallory@acme.example"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    with pytest.raises(AttestationError, match="signature does not match"):
        verify_token(SECRET, f"{version}.{forged}.{signature}", "uar-q2")


def test_a_token_of_another_campaign_is_refused() -> None:
    token = issue_token(SECRET, "uar-q1", "alice@acme.example", WHEN)
    with pytest.raises(AttestationError, match="issued for campaign uar-q1, not uar-q2"):
        verify_token(SECRET, token, "uar-q2")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "empty"),
        ("v1.abc", "malformed"),
        ("v1..sig", "malformed"),
        ("v2.abc.def", "version 'v2'"),
        ("v1.a$b.c", "not valid base64"),
        ("v1." + "a" * 5000 + ".c", "far more than a token has"),
    ],
)
def test_malformed_tokens_are_refused(token: str, message: str) -> None:
    with pytest.raises(AttestationError, match=message):
        verify_token(SECRET, token, "uar-q2")


def test_short_secrets_and_naive_times_are_refused() -> None:
    with pytest.raises(AttestationError, match="fewer than the 16 required"):
        issue_token("short", "uar-q2", "alice@acme.example", WHEN)
    with pytest.raises(AttestationError, match="fewer than the 16 required"):
        verify_token("short", "v1.a.b", "uar-q2")
    with pytest.raises(AttestationError, match="time zone"):
        issue_token(SECRET, "uar-q2", "alice@acme.example", datetime(2026, 4, 1))
    with pytest.raises(AttestationError, match="needs a campaign id and a reviewer"):
        issue_token(SECRET, "uar-q2", " ", WHEN)
