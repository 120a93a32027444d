"""BoomiClient over a scripted transport: headers, auth, paging, retries, writes and secrets.

The transport is a ``requests`` adapter that answers from a script, so these tests exercise the
client's real code paths (tenacity, limiter, parsing) without a network.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from airflow_provider_boomi import __version__
from airflow_provider_boomi.client import (
    BoomiAuthenticationError,
    BoomiBadRequestError,
    BoomiClient,
    BoomiError,
    BoomiNotFoundError,
    BoomiPermissionError,
    BoomiRateLimitedError,
    BoomiResponseError,
    BoomiServerError,
    BoomiTransportError,
    ClientConfig,
    QueryFilter,
    RateLimiter,
    Role,
)
from airflow_provider_boomi.client.client import parse_retry_after

TOKEN = "tok-9b8e2f1d-very-secret"
EMAIL = "ops@acme.example"
ACCOUNT = "acme-Q7R2ZK"
BASE = "https://api.boomi.test/api/rest/v1"
B64 = base64.b64encode(f"BOOMI_TOKEN.{EMAIL}:{TOKEN}".encode()).decode()

Reply = tuple[int, Any, dict[str, str]] | BaseException


def reply(status: int = 200, body: Any = None, **headers: str) -> Reply:
    return (status, body, {k.replace("_", "-"): v for k, v in headers.items()})


class ScriptedAdapter(HTTPAdapter):
    """Answers each request with the next scripted reply (JSON-encodes dict/list bodies)."""

    def __init__(self, replies: Iterable[Reply]) -> None:
        super().__init__()
        self.replies = list(replies)
        self.sent: list[requests.PreparedRequest] = []
        self.kwargs: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        self.kwargs.append(kwargs)
        if not self.replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        item = self.replies.pop(0)
        if isinstance(item, BaseException):
            raise item
        status, body, headers = item
        response = requests.Response()
        response.status_code = status
        if isinstance(body, dict | list):
            response._content = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **headers}
        else:
            response._content = (body or "").encode() if isinstance(body, str | type(None)) else body
        response.headers = CaseInsensitiveDict(headers)
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response


def make_client(replies: Iterable[Reply], **config: Any) -> tuple[BoomiClient, ScriptedAdapter]:
    values: dict[str, Any] = {
        "base_url": BASE,
        "account_id": ACCOUNT,
        "email": EMAIL,
        "api_token": TOKEN,
        "max_retries": 4,
        "backoff_initial": 0.001,
        "backoff_max": 0.002,
    }
    values.update(config)
    adapter = ScriptedAdapter(replies)
    session = requests.Session()
    session.mount("https://", adapter)
    client = BoomiClient(ClientConfig(**values), session=session, limiter=RateLimiter(10_000))
    return client, adapter


def path(request: requests.PreparedRequest) -> str:
    assert request.url is not None
    return request.url.removeprefix(f"{BASE}/{ACCOUNT}/")


# --- headers, auth, URLs ---------------------------------------------------------------------------


def test_headers_and_exact_auth() -> None:
    client, adapter = make_client([reply(200, {"@type": "QueryResult", "result": []})])
    assert list(client.query("Role")) == []
    sent = adapter.sent[0]
    assert sent.method == "POST"
    assert sent.url == f"{BASE}/{ACCOUNT}/Role/query"
    assert sent.headers["Authorization"] == f"Basic {B64}"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["User-Agent"] == f"airflow-provider-boomi/{__version__}"
    assert json.loads(sent.body or b"") == {"QueryFilter": {}}
    assert adapter.kwargs[0]["timeout"] == 60.0
    assert adapter.kwargs[0]["verify"] not in (False, None)  # True or the environment's CA bundle


def test_prefixed_login_not_doubled() -> None:
    client, adapter = make_client([reply(200, {"accountId": ACCOUNT})], email=f"BOOMI_TOKEN.{EMAIL}")
    client.get_account()
    assert adapter.sent[0].headers["Authorization"] == f"Basic {B64}"


def test_get_has_no_content_type_and_quotes_ids() -> None:
    client, adapter = make_client([reply(200, {"id": "x"}), reply(200, {"id": "y"})])
    client.get("Role", "a/b c?d#e%f")
    client.get_account_group("g-1")
    assert path(adapter.sent[0]) == "Role/a%2Fb%20c%3Fd%23e%25f"
    assert "Content-Type" not in adapter.sent[0].headers
    assert adapter.sent[0].body is None
    assert path(adapter.sent[1]) == "AccountGroup/g-1"


@pytest.mark.parametrize("bad", ["", ".", "..", "  "])
def test_unsafe_ids_refused_before_any_call(bad: str) -> None:
    client, adapter = make_client([])
    with pytest.raises(ValueError):
        client.get("Role", bad)
    with pytest.raises(ValueError):
        client.delete("AccountUserRole", bad)
    assert adapter.sent == []


@pytest.mark.parametrize("bad", ["", "Role/../x", "Role?x", "1Role", "Ro le"])
def test_object_type_validated(bad: str) -> None:
    client, _ = make_client([])
    with pytest.raises(ValueError):
        list(client.query(bad))


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (None, {"QueryFilter": {}}),
        ({}, {"QueryFilter": {}}),
        (QueryFilter.equals("name", "Admin"), QueryFilter.equals("name", "Admin").to_body()),
        ({"QueryFilter": {"expression": {"operator": "IS_NULL", "property": "x", "argument": []}}}, None),
        (
            {"expression": {"operator": "IS_NULL", "property": "x", "argument": []}},
            {"QueryFilter": {"expression": {"operator": "IS_NULL", "property": "x", "argument": []}}},
        ),
        (
            {"operator": "IS_NULL", "property": "x", "argument": []},
            {"QueryFilter": {"expression": {"operator": "IS_NULL", "property": "x", "argument": []}}},
        ),
    ],
)
def test_filter_forms(given: Any, sent: Any) -> None:
    client, adapter = make_client([reply(200, {"result": []})])
    list(client.query("Role", given))
    assert json.loads(adapter.sent[0].body or b"") == (sent if sent is not None else given)


# --- paging ----------------------------------------------------------------------------------------


def rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"@type": "Role", "id": f"r{i}", "name": f"Role {i}"} for i in range(start, start + n)]


def test_paging_follows_tokens_and_ignores_number_of_results() -> None:
    client, adapter = make_client(
        [
            reply(200, {"numberOfResults": 999, "queryToken": "t1", "result": rows(100)}),
            reply(200, {"numberOfResults": 1, "queryToken": "t2", "result": rows(100, 100)}),
            reply(200, {"numberOfResults": 3, "queryToken": "", "result": rows(50, 200)}),
        ]
    )
    pages = list(client.query_pages("Role"))
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [path(r) for r in adapter.sent] == ["Role/query", "Role/queryMore", "Role/queryMore"]
    assert [r.body for r in adapter.sent[1:]] == [b"t1", b"t2"]
    assert all(r.headers["Content-Type"] == "text/plain" for r in adapter.sent[1:])
    assert client.stats.pages == 3
    assert client.stats.rows == 250
    assert client.stats.calls == 3
    assert client.stats.by_object == {"Role": 3}


def test_missing_result_is_an_empty_page_and_typed_rows() -> None:
    client, _ = make_client(
        [reply(200, {"@type": "QueryResult", "numberOfResults": 0}), reply(200, {"result": rows(2)})]
    )
    assert list(client.query("Role")) == []
    assert list(client.query_roles()) == [Role(id="r0", name="Role 0"), Role(id="r1", name="Role 1")]


def test_single_row_not_in_a_list_is_accepted() -> None:
    client, _ = make_client([reply(200, {"result": {"id": "r1"}})])
    assert list(client.query("Role")) == [{"id": "r1"}]


def test_repeated_token_stops_instead_of_looping() -> None:
    client, _ = make_client(
        [reply(200, {"queryToken": "same", "result": []}), reply(200, {"queryToken": "same", "result": []})]
    )
    with pytest.raises(BoomiResponseError, match="endless"):
        list(client.query("Role"))


def test_query_more_is_retried() -> None:
    client, adapter = make_client(
        [
            reply(200, {"queryToken": "t1", "result": rows(100)}),
            reply(503, {"@type": "Error", "message": "busy"}),
            reply(200, {"result": rows(1, 100)}),
        ]
    )
    assert len(list(client.query("Role"))) == 101
    assert [r.body for r in adapter.sent[1:]] == [b"t1", b"t1"]


# --- retries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 429, 500, 502, 504])
def test_retryable_statuses_recover(status: int) -> None:
    client, adapter = make_client([reply(status, {"message": "transient"}), reply(200, {"result": rows(1)})])
    assert len(list(client.query("Role"))) == 1
    assert len(adapter.sent) == 2
    assert client.stats.retries == 1
    assert client.stats.status_5xx == (1 if status != 429 else 0)
    assert client.stats.status_503 == (1 if status == 503 else 0)
    assert client.stats.status_429 == (1 if status == 429 else 0)


def test_throttle_tells_the_limiter() -> None:
    client, _ = make_client([reply(503, {"message": "rate"}), reply(200, {"result": []})])
    list(client.query("Role"))
    assert client.limiter.current_rate == client.limiter.rate / 2


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError("Connection aborted"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ChunkedEncodingError("truncated"),
    ],
)
def test_transport_errors_recover_on_reads(exc: Exception) -> None:
    client, adapter = make_client([exc, reply(200, {"result": rows(1)})])
    assert len(list(client.query("Role"))) == 1
    assert len(adapter.sent) == 2


@pytest.mark.parametrize(
    "body", ["{not json", '{"result": [1, 2]}', '["a list"]', '{"result": [], "queryToken": 5}']
)
def test_malformed_bodies_retried_then_recovered(body: str) -> None:
    client, adapter = make_client([reply(200, body), reply(200, {"result": rows(1)})])
    assert len(list(client.query("Role"))) == 1
    assert len(adapter.sent) == 2


def test_malformed_bodies_bounded() -> None:
    client, adapter = make_client([reply(200, "{trunc")] * 10, max_retries=8)
    with pytest.raises(BoomiResponseError, match="not valid JSON") as info:
        list(client.query("Role"))
    assert len(adapter.sent) == 3
    assert info.value.attempts == 3


def test_retry_after_seconds_honoured() -> None:
    client, _ = make_client(
        [reply(429, {"message": "slow down"}, Retry_After="0.05"), reply(200, {"result": []})]
    )
    list(client.query("Role"))
    assert client.stats.backoff_seconds == pytest.approx(0.05)
    assert client.stats.status_429 == 1


def test_retry_after_capped_by_retry_budget() -> None:
    client, adapter = make_client(
        [reply(503, {"message": "busy"}, Retry_After="3600")] * 3, max_retry_time=0.2, max_retries=8
    )
    with pytest.raises(BoomiRateLimitedError):
        list(client.query("Role"))
    assert len(adapter.sent) == 1  # waiting would exceed the budget, so it stops at once


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_gives_up_after_max_retries() -> None:
    client, adapter = make_client([reply(503, {"@type": "Error", "message": "busy"})] * 10, max_retries=2)
    with pytest.raises(BoomiRateLimitedError) as info:
        list(client.query("Role"))
    assert len(adapter.sent) == 3
    assert info.value.attempts == 3
    assert "gave up after 3 attempts" in str(info.value)
    assert info.value.boomi_message == "busy"


def test_server_error_and_transport_exhaustion() -> None:
    client, _ = make_client([reply(500, "oops")] * 3, max_retries=2)
    with pytest.raises(BoomiServerError):
        client.get("Role", "r1")
    client, _ = make_client([requests.exceptions.ConnectionError("refused")] * 3, max_retries=2)
    with pytest.raises(BoomiTransportError, match=r"api\.boomi\.test") as info:
        client.get("Role", "r1")
    assert info.value.status is None


@pytest.mark.parametrize(
    ("status", "body", "cls", "needle"),
    [
        (400, {"@type": "Error", "message": "Invalid query property foo"}, BoomiBadRequestError, "foo"),
        (401, "", BoomiAuthenticationError, "BOOMI_TOKEN"),
        (
            403,
            {"message": "Access denied due to insufficient permissions."},
            BoomiPermissionError,
            "ACCOUNT_ADMIN",
        ),
        (404, {"error": {"message": "nope"}}, BoomiNotFoundError, "nope"),
        (
            410,
            "<error><message>Endpoint is invalid</message></error>",
            BoomiNotFoundError,
            "Endpoint is invalid",
        ),
    ],
)
def test_non_retryable_fail_at_once(status: int, body: Any, cls: type[BoomiError], needle: str) -> None:
    client, adapter = make_client([reply(status, body)])
    with pytest.raises(cls, match=needle) as info:
        list(client.query("Role"))
    assert len(adapter.sent) == 1
    assert info.value.attempts == 1
    assert info.value.status == status
    assert client.stats.retries == 0


def test_redirects_not_followed() -> None:
    client, adapter = make_client([reply(301, "", Location="https://elsewhere.example/")])
    with pytest.raises(BoomiError, match="redirect"):
        client.get("Role", "r1")
    assert len(adapter.sent) == 1  # a followed redirect would have sent a second request


# --- writes ----------------------------------------------------------------------------------------


def test_create_account_user_role_body() -> None:
    client, adapter = make_client(
        [reply(200, {"id": "aur-1", "userId": "dana@acme.example", "roleId": "r1"})]
    )
    created = client.create_account_user_role("dana@acme.example", "r1", first_name="Dana", last_name="Lee")
    assert created.id == "aur-1"
    assert path(adapter.sent[0]) == "AccountUserRole"
    assert json.loads(adapter.sent[0].body or b"") == {
        "accountId": ACCOUNT,
        "userId": "dana@acme.example",
        "roleId": "r1",
        "firstName": "Dana",
        "lastName": "Lee",
        "notifyUser": True,
    }


def test_create_account_group_user_role_body() -> None:
    client, adapter = make_client([reply(200, {"id": "x", "accountGroupId": "g1", "firstName": "U"})])
    created = client.create_account_group_user_role("g1", "u@x.y", "r1")
    assert created.first_name == "U"
    assert json.loads(adapter.sent[0].body or b"") == {
        "accountGroupId": "g1",
        "userId": "u@x.y",
        "roleId": "r1",
        "notifyUser": False,
    }


def not_sent_error() -> requests.exceptions.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection")  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "first",
    [reply(503, {"message": "busy"}), reply(429, {"message": "slow"}), "connect"],
)
def test_writes_retry_only_when_not_processed(first: Any) -> None:
    first = not_sent_error() if first == "connect" else first
    client, adapter = make_client([first, reply(200, {"id": "aur-1"})])
    assert client.create("AccountUserRole", {"userId": "a@b.c"})["id"] == "aur-1"
    assert len(adapter.sent) == 2
    client, adapter = make_client([first, reply(200, "")])
    client.delete("AccountUserRole", "aur-1")
    assert len(adapter.sent) == 2


@pytest.mark.parametrize(
    "first",
    [
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected"),
        reply(502, "bad gateway"),
        reply(504, "gateway timeout"),
        reply(500, {"message": "boom"}),
    ],
)
def test_writes_not_retried_when_maybe_applied(first: Any) -> None:
    client, adapter = make_client([first, reply(200, {"id": "x"})])
    with pytest.raises((BoomiTransportError, BoomiServerError), match="may or may not have been applied"):
        client.create("AccountUserRole", {"userId": "a@b.c"})
    assert len(adapter.sent) == 1
    client, adapter = make_client([first, reply(200, "")])
    with pytest.raises(BoomiError, match="Re-check the current state"):
        client.delete("AccountUserRole", "aur-1")
    assert len(adapter.sent) == 1


def test_malformed_create_answer_not_retried() -> None:
    client, adapter = make_client([reply(200, "{trunc"), reply(200, {"id": "x"})])
    with pytest.raises(BoomiResponseError, match="probably applied"):
        client.create("AccountUserRole", {"userId": "a@b.c"})
    assert len(adapter.sent) == 1


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "application/json"}, {"Content-Length": "0"}])
def test_delete_empty_body_is_success(headers: dict[str, str]) -> None:
    client, adapter = make_client([(200, "", headers)])
    assert client.delete("AccountUserRole", "a/b") is None
    sent = adapter.sent[0]
    assert sent.method == "DELETE"
    assert path(sent) == "AccountUserRole/a%2Fb"
    assert not sent.body


def test_delete_400_is_bad_request() -> None:
    client, adapter = make_client([reply(400, {"@type": "Error", "message": "No such AccountUserRole: x"})])
    with pytest.raises(BoomiBadRequestError, match="No such AccountUserRole"):
        client.delete("AccountUserRole", "x")
    assert len(adapter.sent) == 1


# --- other calls -----------------------------------------------------------------------------------


def test_get_assignable_roles_and_account() -> None:
    client, adapter = make_client(
        [
            reply(200, {"@type": "", "Role": [{"id": "r1", "description": "lower"}, {"id": "r2"}]}),
            reply(200, {"@type": "", "Role": {"id": "only"}}),
            reply(200, {"accountId": ACCOUNT, "name": "Acme", "status": "active"}),
        ]
    )
    assert [r.id for r in client.get_assignable_roles()] == ["r1", "r2"]
    assert client.get_assignable_roles()[0].id == "only"
    assert client.get_account().name == "Acme"
    assert [path(r) for r in adapter.sent] == [
        "getAssignableRoles",
        "getAssignableRoles",
        f"Account/{ACCOUNT}",
    ]


def test_closed_client_refuses() -> None:
    client, _ = make_client([])
    with client:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        client.get("Role", "r1")


# --- secrets ---------------------------------------------------------------------------------------


def test_secrets_never_leak(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    script: list[Reply] = [
        reply(503, {"message": "busy"}),
        requests.exceptions.ConnectionError("aborted"),
        reply(200, {"queryToken": "t", "result": rows(1)}),
        reply(429, "", Retry_After="0"),
        reply(200, {"result": []}),
        reply(401, {"message": "Invalid credentials"}),
        reply(403, {"message": "denied"}),
        requests.exceptions.ReadTimeout("timed out"),
    ]
    client, _ = make_client(script, max_retries=3)
    texts: list[str] = [repr(client), repr(client.config), str(client.config), repr(client.stats)]
    list(client.query("Role"))
    for call in (lambda: client.get_account(), lambda: client.get("Role", "x")):
        with pytest.raises(BoomiError) as info:
            call()
        texts += [str(info.value), repr(info.value), str(info.value.args)]
    with pytest.raises(BoomiError) as info:
        client.create("AccountUserRole", {"userId": "a@b.c"})
    texts += [str(info.value), repr(info.value)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    texts.append(repr(client._auth))
    assert any("retrying" in t for t in texts)  # the retries were logged
    for text in texts:
        assert TOKEN not in text
        assert B64 not in text
        assert "Authorization" not in text
