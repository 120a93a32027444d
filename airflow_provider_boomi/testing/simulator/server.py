"""The HTTP side: a threaded loopback server and the request pipeline in front of the router.

Pipeline for every request: rate limit -> fault injection -> latency -> authentication (401) ->
account in the path (403) -> API privileges (403) -> routing (404) -> the object operation.
A ``timeout_after_answer`` fault runs the whole pipeline and then drops the connection.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .api import FORBIDDEN, ApiRouter, Target, parse_target
from .errors import SimulatorApiError
from .faults import FaultInjector, FaultRule
from .ratelimit import SlidingWindow, TokenBucket, make_limiter
from .records import RequestRecord

TOKEN_PREFIX = "BOOMI_TOKEN."
RATE_LIMITED = (
    "The Boomi server is currently unavailable or your account's rate limits have been exceeded. Retry later."
)
UNAUTHORIZED = "Authentication failed: send HTTP Basic with user BOOMI_TOKEN.<email> and the API token."
MALFORMED_BODY = b'{"@type": "QueryResult", "numberOfResults": 1, "result": [{"@type": "Ro'


@dataclass
class Response:
    """What to send back: status, body and headers, or nothing at all (``drop``)."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer, UTF-8 without escaping (Boomi returns names like "Zoë" as they are)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, "application/json", dict(headers or {}))


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Boomi's error shape: ``{"@type": "Error", "message": ...}``."""
    return json_response(status, {"@type": "Error", "message": message}, headers)


class Dispatcher:
    """Turns one parsed HTTP request into a ``Response`` and records it. Thread-safe."""

    def __init__(
        self,
        router: ApiRouter,
        *,
        email: str,
        token: str,
        rate_limit: float | None,
        rate_limit_status: int,
        retry_after: float | None,
        latency: float,
        latency_jitter: float,
        faults: FaultInjector,
        api_privileges: bool,
        seed: int,
        rate_limiter: str = "token_bucket",
    ) -> None:
        self.router = router
        self.email = email
        self.token = token
        self.token_valid = True
        self.bucket: TokenBucket | SlidingWindow = make_limiter(rate_limiter, rate_limit)
        self.rate_limit_status = rate_limit_status
        self.retry_after = retry_after
        self.latency = latency
        self.latency_jitter = latency_jitter
        self.faults = faults
        self.api_privileges = api_privileges
        self.stopped = threading.Event()
        self._jitter_rng = random.Random(f"latency:{seed}")
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._seq = 0

    # ---------------------------------------------------------------- records

    def records(self) -> list[RequestRecord]:
        """A copy of the records so far."""
        with self._lock:
            return list(self._records)

    def clear_records(self) -> None:
        """Forget all records (sequence numbers keep counting)."""
        with self._lock:
            self._records.clear()

    def _record(
        self,
        started: float,
        method: str,
        path: str,
        target: Target,
        status: int,
        body: bytes,
        fault: str | None,
    ) -> None:
        parsed: Any = None
        if body.strip():
            text = body.decode("utf-8", errors="replace")
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
        with self._lock:
            self._seq += 1
            record = RequestRecord(
                self._seq, started, method, path, target.object_type, target.operation, status, parsed, fault
            )
            self._records.append(record)

    # ---------------------------------------------------------------- pipeline

    def dispatch(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """Answer one request (the pipeline in the module docstring) and record it."""
        started = time.monotonic()
        target = parse_target(method, path)
        fault: str | None = None
        try:
            if not self.bucket.try_acquire():
                fault = "rate_limited"
                extra = {"Retry-After": _seconds(self.retry_after)} if self.retry_after is not None else {}
                self._sleep_latency()
                response = error_response(self.rate_limit_status, RATE_LIMITED, extra)
            else:
                rule = self.faults.pick(target.object_type, target.operation)
                fault = rule.kind if rule else None
                if rule is not None and rule.kind == "slow":
                    time.sleep(rule.delay)
                    rule = None
                self._sleep_latency()
                if rule is not None and rule.kind == "timeout_after_answer":
                    # Boomi acted (token consumed, write applied); only the answer is lost.
                    self._answer(method, target, headers, body)
                    response = Response(0, drop=True)
                elif rule is not None:
                    response = self._fault_response(rule)
                else:
                    response = self._answer(method, target, headers, body)
        except Exception as exc:  # never let a handler thread die without an answer
            response = error_response(500, f"Simulator internal error: {exc!r}")
        status = 0 if response.drop else response.status
        self._record(started, method, path, target, status, body, fault)
        return response

    def _sleep_latency(self) -> None:
        delay = self.latency
        if delay > 0 and self.latency_jitter > 0:
            with self._lock:
                delay *= 1 + self._jitter_rng.uniform(-self.latency_jitter, self.latency_jitter)
        if delay > 0:
            time.sleep(delay)

    @staticmethod
    def _fault_response(rule: FaultRule) -> Response:
        if rule.kind == "drop":
            return Response(0, drop=True)
        if rule.kind == "malformed":
            return Response(200, MALFORMED_BODY, "application/json")
        if rule.kind == "401":
            return error_response(401, UNAUTHORIZED)
        extra = {}
        if rule.retry_after is not None and rule.kind in ("503", "429"):
            extra["Retry-After"] = _seconds(rule.retry_after)
        message = RATE_LIMITED if rule.kind in ("503", "429") else f"Simulated HTTP {rule.kind} fault."
        return error_response(int(rule.kind), message, extra)

    def _answer(self, method: str, target: Target, headers: dict[str, str], body: bytes) -> Response:
        if not self._authenticated(headers.get("authorization", "")):
            return error_response(401, UNAUTHORIZED)
        if target.object_type is None:
            return error_response(404, "Endpoint is invalid or no longer exists.")
        if target.account_id != self.router.state.account_id:
            return error_response(403, f"{FORBIDDEN} The user has no access to account {target.account_id}.")
        if not self.api_privileges:
            return error_response(403, FORBIDDEN)
        content_type = headers.get("content-type", "").lower()
        if "xml" in content_type:
            return error_response(415, "The simulator speaks JSON only: send Content-Type: application/json.")
        accept = headers.get("accept", "").lower()
        if accept and "xml" in accept and "json" not in accept and "*/*" not in accept:
            return error_response(406, "The simulator speaks JSON only: send Accept: application/json.")
        try:
            payload = self.router.handle(target, body)
        except SimulatorApiError as exc:
            return error_response(exc.status, exc.message)
        if payload is None:
            return Response(200)  # DELETE: empty body and deliberately no JSON content type
        return json_response(200, payload)

    def _authenticated(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic" or not self.token_valid:
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return (
            bool(sep)
            and user.startswith(TOKEN_PREFIX)
            and user[len(TOKEN_PREFIX) :].lower() == self.email.lower()
            and password == self.token
        )


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class _Handler(BaseHTTPRequestHandler):
    """Reads the request, hands it to the dispatcher, writes the answer. HTTP/1.1 keep-alive."""

    protocol_version = "HTTP/1.1"
    server_version = "BoomiSimulator/1.0"
    timeout = 60  # idle keep-alive connections end after a minute
    # Headers and body leave in one segment; otherwise Nagle plus delayed ACKs add ~40 ms a call.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: SimulatorHTTPServer

    def _handle(self) -> None:
        body = self._read_body()
        dispatcher = self.server.dispatcher
        if dispatcher.stopped.is_set():
            self.close_connection = True
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = dispatcher.dispatch(self.command, self.path, headers, body)
        if response.drop:
            self.close_connection = True
            return
        try:
            self.send_response(response.status)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. a "slow" fault)
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; ``BoomiSimulator.requests`` records everything."""


class SimulatorHTTPServer(ThreadingHTTPServer):
    """Threaded server: daemon threads, a deep accept queue for concurrent clients."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection errors from clients that went away are expected; stay quiet."""
