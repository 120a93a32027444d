"""Attestation tokens: proof, checked by the reader, of whom a reviewer workbook was issued to.

A name typed into a returned file proves nothing: anyone can type anyone's email. A token is
issued when the campaign is built, one per reviewer, bound to the campaign and signed with a
secret only the Airflow deployment knows (the password of an Airflow connection, read by the
operators only). It is written into the reviewer's workbook; when the workbook comes back, the
reader verifies the signature and takes the reviewer's identity from the token, never from a
cell of the file.

What a token proves is that the workbook came from the one sent to that reviewer: it is a
bearer credential, like a link in an email. Deliver each workbook to its reviewer only, and
rotate the secret (a new connection password) when a workbook leaks; tokens signed with the old
secret then fail verification.

Format: ``v1.<payload>.<signature>``, both parts URL-safe base64 without padding; the payload
is canonical JSON (sorted keys, no spaces) of the campaign id, the reviewer and the issue time;
the signature is HMAC-SHA256 of the ASCII text ``v1.<payload>`` under the secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "MIN_SECRET_CHARS",
    "TOKEN_VERSION",
    "Attestation",
    "AttestationError",
    "issue_token",
    "verify_token",
]

#: The token format; a token of another version is refused, never guessed at.
TOKEN_VERSION = "v1"
#: Shortest secret accepted: a short password can be brute-forced from one token offline.
MIN_SECRET_CHARS = 16
# Far above a real token (a few hundred characters): a pasted novel is refused before decoding.
_MAX_TOKEN_CHARS = 4_096


class AttestationError(ValueError):
    """A token is malformed, signed with another secret, or issued for another campaign; the
    message says which and what to do."""


@dataclass(frozen=True)
class Attestation:
    """What a verified token proves.

    :ivar reviewer: the reviewer the workbook was issued to (as the campaign named them).
    :ivar campaign_id: the campaign it was issued for.
    :ivar issued_at: when the campaign was built (UTC).
    """

    reviewer: str
    campaign_id: str
    issued_at: datetime


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(key.strip()) < MIN_SECRET_CHARS:
        raise AttestationError(
            f"the attestation secret has {len(key.strip())} characters, fewer than the "
            f"{MIN_SECRET_CHARS} required; set a long random password on the attestation "
            "connection (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, signed_part: str) -> bytes:
    return hmac.new(key, signed_part.encode("ascii"), hashlib.sha256).digest()


def issue_token(secret: str | bytes, campaign_id: str, reviewer: str, issued_at: datetime) -> str:
    """A token saying the workbook of ``reviewer`` in ``campaign_id`` was issued at ``issued_at``.

    :param secret: the signing secret (at least :data:`MIN_SECRET_CHARS` characters).
    :param campaign_id: the campaign the token is bound to.
    :param reviewer: the reviewer the workbook is issued to.
    :param issued_at: when (an aware datetime; stored in UTC).
    :raises AttestationError: the secret is too short, the reviewer or campaign id empty, or
        ``issued_at`` naive.
    """
    key = _key(secret)
    if not campaign_id or not reviewer or not reviewer.strip():
        raise AttestationError("a token needs a campaign id and a reviewer")
    if issued_at.tzinfo is None:
        raise AttestationError("issued_at must carry a time zone (UTC)")
    payload = json.dumps(
        {"c": campaign_id, "r": reviewer.strip(), "t": issued_at.astimezone(UTC).isoformat()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode("ascii")
    signed_part = f"{TOKEN_VERSION}.{_b64(payload)}"
    return f"{signed_part}.{_b64(_sign(key, signed_part))}"


def verify_token(secret: str | bytes, token: str, campaign_id: str) -> Attestation:
    """Check ``token`` was signed with ``secret`` for ``campaign_id``; return what it proves.

    The signature is compared in constant time (:func:`hmac.compare_digest`) before anything of
    the payload is believed.

    :param secret: the secret the campaign's tokens were signed with.
    :param token: the token as read from a returned workbook (surrounding spaces ignored).
    :param campaign_id: the campaign the workbook is being read for.
    :raises AttestationError: malformed token, another version, a signature that does not
        match (another secret, or an edited token), or a token of another campaign.
    """
    key = _key(secret)
    text = token.strip() if isinstance(token, str) else ""
    if not text:
        raise AttestationError("the attestation token is empty; return the workbook as you received it")
    if len(text) > _MAX_TOKEN_CHARS:
        raise AttestationError(
            f"the attestation token has {len(text):,} characters, far more than a token has; "
            "restore the token cell of the workbook you received"
        )
    parts = text.split(".")
    if len(parts) != 3 or not all(parts):
        raise AttestationError(
            "the attestation token is malformed (expected three parts separated by '.'); "
            "restore the token cell of the workbook you received"
        )
    version, payload_text, signature_text = parts
    if version != TOKEN_VERSION:
        raise AttestationError(
            f"the attestation token has version {version[:20]!r}, not {TOKEN_VERSION!r}; "
            "use the workbook of this campaign"
        )
    try:
        signature = _unb64(signature_text)
        payload_bytes = _unb64(payload_text)
    except (binascii.Error, ValueError) as exc:
        raise AttestationError(
            "the attestation token is not valid base64; restore the token cell of the workbook you received"
        ) from exc
    expected = _sign(key, f"{version}.{payload_text}")
    if not hmac.compare_digest(signature, expected):
        raise AttestationError(
            "the attestation token's signature does not match: it was edited, or signed with "
            "another secret (another deployment, or a rotated connection password); return the "
            "workbook you received unchanged, or issue the campaign's workbooks again"
        )
    try:
        payload = json.loads(payload_bytes.decode("ascii"))
        attestation = Attestation(
            reviewer=str(payload["r"]),
            campaign_id=str(payload["c"]),
            issued_at=datetime.fromisoformat(str(payload["t"])).astimezone(UTC),
        )
    except (UnicodeError, ValueError, KeyError, TypeError) as exc:
        # Signed by our secret yet unreadable: only a bug or a leaked secret produces this.
        raise AttestationError("the attestation token is signed but its content is unreadable") from exc
    if attestation.campaign_id != campaign_id:
        raise AttestationError(
            f"the attestation token was issued for campaign {attestation.campaign_id}, not "
            f"{campaign_id}; return the workbook of campaign {campaign_id}"
        )
    return attestation
