"""Property: every error body shape Boomi material shows parses to its message, and nothing crashes.

``parse_error_body`` turns whatever a failing response carried into the text of the exception a
user reads. It must find the message in every known shape (JSON ``message``, ``error.message``,
``error`` as a string, XML with or without namespaces) and must never raise, whatever arrives.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_boomi.client import parse_error_body

# Text XML 1.0 can carry (no control characters, surrogates or non-characters).
_messages = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co"), blacklist_characters="\ufeff"),
    min_size=1,
    max_size=120,
).filter(lambda m: m.strip() != "")
_statuses = st.sampled_from([400, 401, 403, 404, 409, 410, 429, 500, 502, 503, 504])


@given(
    message=_messages, status=_statuses, extra=st.dictionaries(st.sampled_from(["@type", "code"]), st.text())
)
def test_json_shapes(message: str, status: int, extra: dict[str, str]) -> None:
    for body in (
        {"@type": "Error", "message": message},
        {**extra, "message": message},
        {"error": {"message": message, "code": status}},
        {"error": message},
    ):
        for content_type in ("application/json", "application/json; charset=utf-8", None):
            assert parse_error_body(status, json.dumps(body), content_type) == message.strip()
    # Unescaped UTF-8 (as the simulator and Boomi send names such as "Zoë").
    raw = json.dumps({"@type": "Error", "message": message}, ensure_ascii=False)
    assert parse_error_body(status, raw, "application/json") == message.strip()


@given(
    message=_messages,
    status=_statuses,
    root=st.sampled_from(["error", "Error", "bns:Error", "errorResponse"]),
    wrap=st.booleans(),
)
def test_xml_shapes(message: str, status: int, root: str, wrap: bool) -> None:
    namespace = ' xmlns:bns="http://api.platform.boomi.com/"' if root.startswith("bns:") else ""
    tag = "bns:message" if root.startswith("bns:") else "message"
    inner = f"<{tag}>{escape(message)}</{tag}>"
    if wrap:
        inner = f"<detail>{inner}</detail>"
    body = f'<?xml version="1.0" encoding="UTF-8"?><{root}{namespace}>{inner}</{root}>'
    # The XML parser folds line breaks; compare what a reader would see.
    expected = message.replace("\r\n", "\n").replace("\r", "\n").strip()
    assert parse_error_body(status, body, "application/xml") == expected
    assert parse_error_body(status, body, None) == expected


@given(
    text=st.one_of(
        st.none(), st.text(max_size=600), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
    ),
    status=st.one_of(st.none(), _statuses),
    content_type=st.sampled_from(
        [None, "", "application/json", "text/html", "application/xml", "text/plain"]
    ),
)
def test_anything_else_gives_a_short_message_and_never_raises(
    text: str | None, status: int | None, content_type: str | None
) -> None:
    message = parse_error_body(status, text, content_type)
    assert isinstance(message, str) and message
    assert len(message) <= 203  # 200 characters and an ellipsis for an unknown body


@given(status=_statuses, blank=st.sampled_from(["", "   ", "\n", None]))
def test_an_empty_body_names_the_status(status: int, blank: str | None) -> None:
    assert parse_error_body(status, blank) == f"HTTP {status} with an empty body"
