"""The Boomi Platform API client: HTTP, retries, pacing, paging and typed reads/writes.

One :class:`BoomiClient` talks to one Boomi account. It is thread-safe: a sync may share one
client between worker threads, and every client for the same account shares one
:class:`~airflow_provider_boomi.client.ratelimit.RateLimiter` by default.

Retry policy (see ``docs/client.md``):

* reads (GET, query, queryMore) retry 503, 429, 500, 502, 504, connection errors, timeouts and
  malformed 2xx bodies, with Retry-After honoured or exponential backoff with full jitter;
* writes (create = POST, DELETE) are not idempotent, so they retry only when the request surely
  did not reach Boomi or Boomi said it did not process it (connect errors, 503, 429). Any other
  failure raises at once with a message saying the change may or may not have been applied.
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import random
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_before_delay

from airflow_provider_boomi import __version__
from airflow_provider_boomi.client.config import ClientConfig
from airflow_provider_boomi.client.errors import (
    BoomiError,
    BoomiResponseError,
    BoomiTransportError,
    error_for_status,
    parse_error_body,
    scrub_secrets,
    secret_forms,
)
from airflow_provider_boomi.client.query import QueryFilter
from airflow_provider_boomi.client.ratelimit import RateLimiter, limiter_for
from airflow_provider_boomi.client.records import (
    Account,
    AccountGroup,
    AccountGroupUserRole,
    AccountUserRole,
    Role,
)
from airflow_provider_boomi.client.stats import ClientStats

__all__ = ["USER_AGENT", "BoomiClient"]

log = logging.getLogger("airflow_provider_boomi.client")

USER_AGENT = f"airflow-provider-boomi/{__version__}"

# Object names become URL path segments: letters and digits only, as every Boomi object name is.
_OBJECT_TYPE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")

# Statuses worth retrying on a read. 503 is Boomi's documented "busy or rate limit exceeded";
# 429 is undocumented but some gateways send it; 500/502/504 are usually transient.
_RETRYABLE_READ_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses that mean "not processed", so even a non-idempotent write may be resent.
_NOT_PROCESSED_STATUSES = frozenset({429, 503})
_THROTTLE_STATUSES = frozenset({429, 503})

# A malformed 2xx body is most likely a proxy truncating the response: worth a couple more
# tries, but a server that always answers garbage must fail fast.
MAX_RESPONSE_ERROR_ATTEMPTS = 3
# Only so much of an error body is read for the message.
_ERROR_BODY_LIMIT = 65536

_QUERY_ALL_BODY: dict[str, Any] = {"QueryFilter": {}}
"""What Boomi's own CLI sends to query everything."""

T = TypeVar("T")


class _TokenAuth(AuthBase):
    """Basic auth whose repr never reveals the credentials."""

    def __init__(self, username: str, token: str) -> None:
        raw = f"{username}:{token}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode("ascii")
        #: Every form of the credentials, scrubbed from error messages (see ``secret_forms``).
        self.secrets = secret_forms(username, token)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "<BoomiTokenAuth ***>"


@dataclass
class _Call:
    """One logical API call (possibly several HTTP attempts)."""

    method: str
    path: str
    object_type: str
    operation: str
    idempotent: bool
    json_body: Any = None
    text_body: str | None = None
    response_errors: int = 0


class _Retryable:
    """Marks a BoomiError as worth another attempt (kept off the public exception API)."""

    ATTR = "_boomi_retry"

    @staticmethod
    def mark(error: BoomiError, retry_after: float | None = None) -> BoomiError:
        setattr(error, _Retryable.ATTR, (True, retry_after))
        return error

    @staticmethod
    def get(error: BaseException) -> tuple[bool, float | None]:
        value = getattr(error, _Retryable.ATTR, None)
        return value if isinstance(value, tuple) else (False, None)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _surely_not_sent(exc: requests.RequestException) -> bool:
    """True when the request provably never reached the server (connect phase failures)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError) or isinstance(
        exc, requests.exceptions.ProxyError | requests.exceptions.SSLError
    ):
        return False
    # requests wraps urllib3's MaxRetryError, whose .reason says which phase failed.
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, urllib3.exceptions.NewConnectionError):
            return True
        if isinstance(item, urllib3.exceptions.MaxRetryError):
            pending.append(item.reason)
        if isinstance(item, BaseException):
            pending.extend(item.args)
            pending.extend(x for x in (item.__cause__, item.__context__) if x is not None)
    return False


class BoomiClient:
    """Client for one Boomi account's Platform API (JSON, token auth).

    :param config: validated settings, see :class:`ClientConfig`.
    :param session: a ``requests.Session`` to use (not closed by :meth:`close`); by default the
        client creates and owns one.
    :param limiter: the rate limiter; by default the process-wide one for this account
        (:func:`limiter_for`), so concurrent clients for one account share Boomi's limit.

    Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        if not isinstance(config, ClientConfig):
            raise TypeError("config must be a ClientConfig")
        self._config = config
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            # Enough pooled connections for a sync's worker threads (the default 10 logs warnings).
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._session = session
        self._limiter = limiter or limiter_for(config.base_url, config.account_id, config.requests_per_second)
        self._stats = ClientStats()
        self._auth = _TokenAuth(config.username, config.api_token)
        self._closed = threading.Event()

    # --- lifecycle and introspection ------------------------------------------------------------

    @property
    def config(self) -> ClientConfig:
        """The settings this client was built with."""
        return self._config

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter this client paces itself with."""
        return self._limiter

    @property
    def stats(self) -> ClientStats:
        """Counters of requests, retries, throttling, pages and rows."""
        return self._stats

    def close(self) -> None:
        """Release the HTTP session if this client created it."""
        if not self._closed.is_set():
            self._closed.set()
            if self._owns_session:
                self._session.close()

    def __enter__(self) -> BoomiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BoomiClient(base_url={self._config.base_url!r}, account_id={self._config.account_id!r})"

    # --- queries ----------------------------------------------------------------------------------

    def query_pages(
        self, object_type: str, query_filter: QueryFilter | Mapping[str, Any] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page (≤100 raw row dicts) of ``POST {Object}/query`` and its ``queryMore`` chain.

        ``query_filter`` may be a :class:`QueryFilter`, a dict (a full ``{"QueryFilter": ...}``
        body, a ``{"expression": ...}`` or a bare expression), or ``None`` for every object.
        Paging follows ``queryToken`` only; ``numberOfResults`` is ignored.
        """
        self._check_object_type(object_type)
        body = self._filter_body(query_filter)
        page, token = self._call(
            _Call("POST", f"{object_type}/query", object_type, "query", True, json_body=body),
            self._parse_page,
        )
        self._stats.record_page(len(page))
        yield page
        while token:
            previous = token
            page, token = self._call(
                _Call("POST", f"{object_type}/queryMore", object_type, "queryMore", True, text_body=token),
                self._parse_page,
            )
            if token is not None and token == previous:
                # A server echoing the same token would make this loop forever.
                raise BoomiResponseError(
                    f"Boomi {object_type} queryMore returned the token it was given; stopping to avoid "
                    "an endless loop",
                    object_type=object_type,
                    operation="queryMore",
                    status=200,
                )
            self._stats.record_page(len(page))
            yield page

    def query(
        self, object_type: str, query_filter: QueryFilter | Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield every row (raw dict) of a query, across all pages."""
        for page in self.query_pages(object_type, query_filter):
            yield from page

    def query_roles(self, query_filter: QueryFilter | Mapping[str, Any] | None = None) -> Iterator[Role]:
        """Yield :class:`Role` records (filterable by ``name``, ``parentId``)."""
        return (Role.from_api(row) for row in self.query("Role", query_filter))

    def query_account_user_roles(
        self, query_filter: QueryFilter | Mapping[str, Any] | None = None
    ) -> Iterator[AccountUserRole]:
        """Yield :class:`AccountUserRole` rows (filterable by ``accountId``, ``userId``, ``roleId``)."""
        return (AccountUserRole.from_api(row) for row in self.query("AccountUserRole", query_filter))

    def query_account_groups(
        self, query_filter: QueryFilter | Mapping[str, Any] | None = None
    ) -> Iterator[AccountGroup]:
        """Yield :class:`AccountGroup` records (primary accounts only; see docs/client.md)."""
        return (AccountGroup.from_api(row) for row in self.query("AccountGroup", query_filter))

    def query_account_group_user_roles(
        self, query_filter: QueryFilter | Mapping[str, Any] | None = None
    ) -> Iterator[AccountGroupUserRole]:
        """Yield :class:`AccountGroupUserRole` rows (filter by ``accountGroupId``, ``userId``, ``roleId``)."""
        return (
            AccountGroupUserRole.from_api(row) for row in self.query("AccountGroupUserRole", query_filter)
        )

    # --- single objects ---------------------------------------------------------------------------

    def get(self, object_type: str, object_id: str) -> dict[str, Any]:
        """``GET {Object}/{id}``: one object as a raw dict."""
        self._check_object_type(object_type)
        path = f"{object_type}/{self._quote_id(object_id)}"
        return self._call(_Call("GET", path, object_type, "get", True), self._parse_object)

    def get_role(self, role_id: str) -> Role:
        """One :class:`Role` by id."""
        return Role.from_api(self.get("Role", role_id))

    def get_account_group(self, account_group_id: str) -> AccountGroup:
        """One :class:`AccountGroup` by id."""
        return AccountGroup.from_api(self.get("AccountGroup", account_group_id))

    def get_account(self) -> Account:
        """The configured account (``GET Account/{account_id}``): a cheap credential check."""
        return Account.from_api(self.get("Account", self._config.account_id))

    def get_assignable_roles(self) -> list[Role]:
        """Roles that may be assigned in this account (``GET getAssignableRoles``; not paged)."""
        data = self._call(
            _Call("GET", "getAssignableRoles", "Role", "getAssignableRoles", True), self._parse_object
        )
        rows = data.get("Role", data.get("role", []))
        if isinstance(rows, Mapping):  # a single role not wrapped in a list
            rows = [rows]
        if not isinstance(rows, list):
            raise BoomiResponseError(
                "Boomi getAssignableRoles returned an unexpected shape ('Role' is not a list)",
                status=200,
                object_type="Role",
                operation="getAssignableRoles",
            )
        return [Role.from_api(row) for row in rows if isinstance(row, Mapping)]

    # --- writes -----------------------------------------------------------------------------------

    def create(self, object_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST {Object}``: create an object and return Boomi's answer as a raw dict.

        Not idempotent: retried only on connect errors and 503/429. After a read timeout,
        dropped connection, 500/502/504 or an unreadable 2xx body it raises without retrying;
        the change may or may not have been applied and the caller must re-check state.
        """
        self._check_object_type(object_type)
        if not isinstance(body, Mapping):
            raise TypeError("body must be a mapping")
        return self._call(
            _Call("POST", object_type, object_type, "create", False, json_body=dict(body)),
            self._parse_object,
        )

    def create_account_user_role(
        self,
        user_id: str,
        role_id: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        notify_user: bool = True,
    ) -> AccountUserRole:
        """Grant ``role_id`` to ``user_id`` (an email) in this account.

        For an email unknown to Boomi this creates and invites the user; ``first_name`` and
        ``last_name`` are then used (Boomi ignores them for existing users).
        """
        self._require_id("user_id", user_id)
        self._require_id("role_id", role_id)
        record = AccountUserRole(
            account_id=self._config.account_id,
            user_id=user_id,
            role_id=role_id,
            first_name=first_name,
            last_name=last_name,
            notify_user=notify_user,
        )
        return AccountUserRole.from_api(self.create("AccountUserRole", record.to_api()))

    def create_account_group_user_role(
        self, account_group_id: str, user_id: str, role_id: str, *, notify_user: bool = False
    ) -> AccountGroupUserRole:
        """Grant ``role_id`` to ``user_id`` within an account group.

        Boomi refuses users who have never logged in (HTTP 400 with its message).
        """
        self._require_id("account_group_id", account_group_id)
        self._require_id("user_id", user_id)
        self._require_id("role_id", role_id)
        body = AccountGroupUserRole(
            account_group_id=account_group_id, user_id=user_id, role_id=role_id
        ).to_api()
        body["notifyUser"] = notify_user
        return AccountGroupUserRole.from_api(self.create("AccountGroupUserRole", body))

    def delete(self, object_type: str, object_id: str) -> None:
        """``DELETE {Object}/{id}``. A 200 (with Boomi's usual empty body) is success.

        Not idempotent (a second DELETE of the same row fails with 400), so retried only when
        the request surely did not reach Boomi; see :meth:`create`.
        """
        self._check_object_type(object_type)
        path = f"{object_type}/{self._quote_id(object_id)}"
        self._call(_Call("DELETE", path, object_type, "delete", False), lambda _resp, _call: None)

    # --- internals --------------------------------------------------------------------------------

    @staticmethod
    def _check_object_type(object_type: str) -> None:
        if not isinstance(object_type, str) or not _OBJECT_TYPE_RE.match(object_type):
            raise ValueError(f"invalid Boomi object type {object_type!r}")

    @staticmethod
    def _require_id(name: str, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string")

    def _quote_id(self, object_id: str) -> str:
        self._require_id("object id", object_id)
        if object_id.strip(".") == "":
            # quote() leaves dots alone and URL normalisation would resolve "." and "..".
            raise ValueError(f"invalid object id {object_id!r}")
        # safe="" so that '/', '?', '#' or '%' in an id can never change the path.
        return quote(object_id, safe="")

    @staticmethod
    def _filter_body(query_filter: QueryFilter | Mapping[str, Any] | None) -> dict[str, Any]:
        if query_filter is None:
            return dict(_QUERY_ALL_BODY)
        if isinstance(query_filter, QueryFilter):
            return query_filter.to_body()
        if isinstance(query_filter, Mapping):
            if "QueryFilter" in query_filter:
                return dict(query_filter)
            if "expression" in query_filter:
                return {"QueryFilter": dict(query_filter)}
            if "operator" in query_filter:
                return {"QueryFilter": {"expression": dict(query_filter)}}
            if not query_filter:
                return dict(_QUERY_ALL_BODY)
        raise TypeError("query_filter must be a QueryFilter, a QueryFilter body dict or None")

    def _headers(self, call: _Call) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if call.json_body is not None:
            headers["Content-Type"] = "application/json"
        elif call.text_body is not None:
            headers["Content-Type"] = "text/plain"
        return headers

    def _call(self, call: _Call, parse: Callable[[requests.Response, _Call], T]) -> T:
        """Run one logical call with pacing and retries; return the parsed 2xx response."""
        if self._closed.is_set():
            raise RuntimeError("BoomiClient is closed")
        retrying = Retrying(
            stop=stop_after_attempt(1 + self._config.max_retries)
            | stop_before_delay(self._config.max_retry_time),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: self._should_retry(exc, call)),
            before_sleep=lambda state: self._before_sleep(state, call),
            reraise=True,
        )
        try:
            return retrying(self._attempt, call, parse)
        except BoomiError as err:
            err.attempts = int(retrying.statistics.get("attempt_number", 1))
            raise

    def _attempt(self, call: _Call, parse: Callable[[requests.Response, _Call], T]) -> T:
        waited = self._limiter.acquire()
        self._stats.record_call(call.object_type, waited)
        url = f"{self._config.account_url}/{call.path}"
        data: bytes | None = None
        if call.json_body is not None:
            data = json.dumps(call.json_body).encode("utf-8")
        elif call.text_body is not None:
            data = call.text_body.encode("utf-8")
        try:
            response = self._session.request(
                call.method,
                url,
                data=data,
                headers=self._headers(call),
                auth=self._auth,
                timeout=self._config.timeout,
                verify=self._config.verify,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise self._transport_error(exc, call) from None
        status = response.status_code
        self._stats.record_status(status)
        if status in _THROTTLE_STATUSES:
            self._limiter.on_throttled()
        if 200 <= status < 300:
            self._limiter.on_success()
            return parse(response, call)
        raise self._status_error(response, call)

    def _status_error(self, response: requests.Response, call: _Call) -> BoomiError:
        status = response.status_code
        if 300 <= status < 400:
            location = scrub_secrets(response.headers.get("Location", ""), self._auth.secrets)
            return BoomiError(
                f"Boomi {call.object_type} {call.operation} answered HTTP {status} redirecting to "
                f"{location!r}: check the base URL (redirects are not followed, so credentials never "
                "go to another host)",
                status=status,
                object_type=call.object_type,
                operation=call.operation,
            )
        text = response.content[:_ERROR_BODY_LIMIT].decode(response.encoding or "utf-8", errors="replace")
        # A server or gateway may echo the request's Authorization header in its error body:
        # the credentials are scrubbed before the text reaches an exception (and from there
        # logs, XCom and the ledger's error column).
        message = parse_error_body(
            status, text, response.headers.get("Content-Type"), secrets=self._auth.secrets
        )
        error = error_for_status(
            status,
            message,
            object_type=call.object_type,
            operation=call.operation,
            account_id=self._config.account_id,
            secrets=self._auth.secrets,
        )
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status in _NOT_PROCESSED_STATUSES or (call.idempotent and status in _RETRYABLE_READ_STATUSES):
            return _Retryable.mark(error, retry_after)
        if not call.idempotent and status in _RETRYABLE_READ_STATUSES:
            error.message += (
                " The request reached Boomi, so the change may or may not have been applied; it was "
                "not retried automatically. Re-check the current state before trying again."
            )
        return error

    def _transport_error(self, exc: requests.RequestException, call: _Call) -> BoomiError:
        host = urlsplit(self._config.base_url).netloc
        kind = type(exc).__name__
        message = f"Boomi {call.object_type} {call.operation}: no usable response from {host} ({kind})"
        error = BoomiTransportError(message, object_type=call.object_type, operation=call.operation)
        if call.idempotent or _surely_not_sent(exc):
            return _Retryable.mark(error)
        error.message += (
            ". The request may have reached Boomi, so the change may or may not have been applied; it "
            "was not retried automatically. Re-check the current state before trying again."
        )
        return error

    def _decode_json(self, response: requests.Response, call: _Call) -> Any:
        content = response.content
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except ValueError:
            raise self._response_error(
                call,
                f"a body that is not valid JSON ({len(content)} bytes, Content-Type "
                f"{response.headers.get('Content-Type', '')!r}); a proxy may have truncated it",
            ) from None

    def _response_error(self, call: _Call, problem: str) -> BoomiError:
        message = f"Boomi {call.object_type} {call.operation} returned {problem}"
        error = BoomiResponseError(
            message, status=200, object_type=call.object_type, operation=call.operation
        )
        if call.idempotent:
            return _Retryable.mark(error)
        error.message += (
            ". Boomi did process the request, so the change was probably applied; re-check the "
            "current state before trying again."
        )
        return error

    def _parse_object(self, response: requests.Response, call: _Call) -> dict[str, Any]:
        data = self._decode_json(response, call)
        if not isinstance(data, dict):
            raise self._response_error(call, "an empty body or a body that is not a JSON object")
        return data

    def _parse_page(
        self, response: requests.Response, call: _Call
    ) -> tuple[list[dict[str, Any]], str | None]:
        data = self._decode_json(response, call)
        if not isinstance(data, dict):
            raise self._response_error(call, "an empty body or a body that is not a JSON object")
        rows = data.get("result")
        if rows is None:
            rows = []
        elif isinstance(rows, dict):  # one row not wrapped in a list (XML-to-JSON gateways)
            rows = [rows]
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise self._response_error(call, "a page whose 'result' is not a list of objects")
        token = data.get("queryToken")
        if token is not None and not isinstance(token, str):
            raise self._response_error(call, "a page whose 'queryToken' is not a string")
        return rows, (token or None)

    def _should_retry(self, exc: BaseException, call: _Call) -> bool:
        retryable, _ = _Retryable.get(exc)
        if not retryable or self._closed.is_set():
            return False
        if isinstance(exc, BoomiResponseError):
            call.response_errors += 1
            return call.response_errors < MAX_RESPONSE_ERROR_ATTEMPTS
        return True

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        _, retry_after = _Retryable.get(exc) if exc else (False, None)
        if retry_after is not None:
            # Honour the server, but never beyond the total retry budget.
            remaining = self._config.max_retry_time - (state.seconds_since_start or 0.0)
            return max(0.0, min(retry_after, remaining))
        # Exponential backoff with full jitter: spreads concurrent retriers apart.
        cap = min(self._config.backoff_max, self._config.backoff_initial * 2 ** (state.attempt_number - 1))
        return random.uniform(0.0, cap)

    def _before_sleep(self, state: RetryCallState, call: _Call) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.upcoming_sleep
        self._stats.record_retry(wait)
        status = getattr(exc, "status", None)
        log.warning(
            "Boomi %s %s failed (status=%s, %s); attempt %d of %d, retrying in %.2fs",
            call.object_type,
            call.operation,
            status,
            type(exc).__name__,
            state.attempt_number,
            1 + self._config.max_retries,
            wait,
        )
