"""The client's credentials are scrubbed from Boomi's error text (issue 11, item 5).

A server or gateway that echoes the request headers in its error body must not put the
Authorization header, its base64 part, the decoded ``BOOMI_TOKEN.<email>:<token>`` pair or the
token into an exception. The end-to-end check, through a real HTTP server, a Provisioner and
its ledger, is in ``tests/integration/test_secrets.py``.
"""

from __future__ import annotations

import base64
import json
import pickle
from urllib.parse import quote

import pytest

from airflow_provider_boomi.client.errors import (
    BoomiBadRequestError,
    error_for_status,
    parse_error_body,
    scrub_secrets,
    secret_forms,
)

USER = "BOOMI_TOKEN.alice@acme.example"
# A token whose base64 form holds '/' and '+', to exercise the JSON and URL escapes.
TOKEN = "tok-\xff\xfe-secret-0123456789"
PAIR = f"{USER}:{TOKEN}"
B64 = base64.b64encode(PAIR.encode()).decode()
HEADER = f"Basic {B64}"
ALL = [HEADER, B64, PAIR, TOKEN]


def _clean(text: str) -> None:
    for form in ALL:
        assert form not in text
    assert TOKEN.split("-")[-1] not in text, "no part of the token survives"


def test_secret_forms_are_every_form_longest_first() -> None:
    assert "/" in B64 or "+" in B64
    assert secret_forms(USER, TOKEN) == (HEADER, B64, PAIR, TOKEN)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"message": f"bad request; you sent Authorization: {HEADER}"}),
        json.dumps({"error": {"message": f"credentials {PAIR} refused"}}),
        json.dumps({"message": f"token {TOKEN}"}, ensure_ascii=True),  # \u00ff escapes
        json.dumps({"headers": {"Authorization": HEADER}}),  # no message: the fallback clip
        f"<error><message>header {HEADER}</message></error>",
        f"Authorization: {HEADER}\nDecoded: {PAIR}",  # plain text
        f"echo: {quote(HEADER, safe='')}",  # percent-encoded, as in a logged URL
        "x" * 150 + HEADER,  # the clip at 200 characters would cut the header in half
    ],
)
def test_error_bodies_echoing_the_credentials_are_scrubbed(body: str) -> None:
    message = parse_error_body(400, body, "application/json", secrets=secret_forms(USER, TOKEN))
    _clean(message)
    assert "***" in message


def test_the_exception_is_built_from_scrubbed_text() -> None:
    forms = secret_forms(USER, TOKEN)
    error = error_for_status(
        400, f"echo {HEADER} / {PAIR}", object_type="Role", operation="query", account_id="a", secrets=forms
    )
    assert isinstance(error, BoomiBadRequestError)
    for text in (
        str(error),
        repr(error),
        error.message,
        error.boomi_message or "",
        str(pickle.loads(pickle.dumps(error))),
    ):
        _clean(text)
    assert error.boomi_message == "echo *** / ***"


def test_scrub_keeps_text_without_secrets() -> None:
    assert scrub_secrets("Role query failed: bad filter", secret_forms(USER, TOKEN)) == (
        "Role query failed: bad filter"
    )
    assert scrub_secrets("anything", []) == "anything"
    assert scrub_secrets("anything", [""]) == "anything"
