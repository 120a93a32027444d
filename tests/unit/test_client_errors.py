"""Error bodies in every Boomi shape, and the messages of each status."""

from __future__ import annotations

import pickle

import pytest

from airflow_provider_boomi.client import (
    BoomiAuthenticationError,
    BoomiBadRequestError,
    BoomiError,
    BoomiNotFoundError,
    BoomiPermissionError,
    BoomiRateLimitedError,
    BoomiServerError,
    parse_error_body,
)
from airflow_provider_boomi.client.errors import error_for_status


@pytest.mark.parametrize(
    ("text", "ctype"),
    [
        ('{"@type": "Error", "message": "Cannot modify default Boomi roles"}', "application/json"),
        ('{"message": "Cannot modify default Boomi roles"}', "application/json"),
        ('{"error": {"message": "Cannot modify default Boomi roles"}}', "application/json"),
        ('{"error": "Cannot modify default Boomi roles"}', "application/json"),
        ("<error><message>Cannot modify default Boomi roles</message></error>", "application/xml"),
        (
            '<bns:Error xmlns:bns="http://api.platform.boomi.com/"><bns:message>'
            "Cannot modify default Boomi roles</bns:message></bns:Error>",
            None,
        ),
        ('  {"@type":"Error","message":"  Cannot modify default Boomi roles "} ', "text/plain"),
    ],
)
def test_all_shapes(text: str, ctype: str | None) -> None:
    assert parse_error_body(400, text, ctype) == "Cannot modify default Boomi roles"


def test_fallbacks() -> None:
    assert parse_error_body(503, "", None) == "HTTP 503 with an empty body"
    assert parse_error_body(500, "Internal\n  Server   Error", "text/html") == "Internal Server Error"
    long = "x" * 500
    assert parse_error_body(500, long, None) == "x" * 200 + "..."
    assert parse_error_body(400, '{"@type": "Error"}', "application/json") == '{"@type": "Error"}'
    assert parse_error_body(400, "{not json", "application/json") == "{not json"
    assert parse_error_body(400, "<unclosed", "application/xml") == "<unclosed"
    assert parse_error_body(400, "[1, 2]", "application/json") == "[1, 2]"


@pytest.mark.parametrize(
    ("status", "cls", "needles"),
    [
        (401, BoomiAuthenticationError, ["BOOMI_TOKEN.<email>", "API token", "API Token feature"]),
        (403, BoomiPermissionError, ["API Access", "Account Administration", "acme-Q7R2ZK"]),
        (404, BoomiNotFoundError, ["base URL"]),
        (410, BoomiNotFoundError, []),
        (400, BoomiBadRequestError, ["Boomi says no"]),
        (503, BoomiRateLimitedError, ["requests_per_second"]),
        (429, BoomiRateLimitedError, []),
        (500, BoomiServerError, []),
        (502, BoomiServerError, []),
        (418, BoomiError, []),
    ],
)
def test_error_for_status(status: int, cls: type[BoomiError], needles: list[str]) -> None:
    err = error_for_status(
        status, "Boomi says no", object_type="Role", operation="query", account_id="acme-Q7R2ZK"
    )
    assert type(err) is cls
    assert err.status == status
    assert err.object_type == "Role"
    assert err.operation == "query"
    assert err.boomi_message == "Boomi says no"
    assert "Boomi says no" in str(err)
    for needle in needles:
        assert needle in str(err)


def test_403_on_account_groups_mentions_primary_accounts() -> None:
    err = error_for_status(403, "denied", object_type="AccountGroup", operation="query", account_id="a-1")
    assert "primary" in str(err)
    plain = error_for_status(403, "denied", object_type="Role", operation="query", account_id="a-1")
    assert "primary" not in str(plain)


def test_attempts_in_message_and_pickling() -> None:
    err = error_for_status(503, "busy", object_type="Role", operation="query", account_id="a-1", attempts=9)
    assert "gave up after 9 attempts" in str(err)
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is BoomiRateLimitedError
    assert str(clone) == str(err)
    assert clone.status == 503
    assert "BoomiRateLimitedError" in repr(err)
