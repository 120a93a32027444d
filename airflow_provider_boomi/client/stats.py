"""Thread-safe counters of what a client did, for manifests, logs and benchmarks."""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["ClientStats"]


class ClientStats:
    """Counters shared by every thread using one :class:`BoomiClient`.

    Attributes (read them directly or through :meth:`as_dict`):
    ``calls`` (HTTP requests sent), ``retries``, ``status_503``, ``status_429``,
    ``status_5xx`` (every 5xx, 503 included), ``throttle_wait_seconds`` (time waiting on the
    rate limiter), ``backoff_seconds`` (time sleeping between retries), ``pages``, ``rows``,
    ``by_object`` (object type -> calls).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.retries = 0
        self.status_503 = 0
        self.status_429 = 0
        self.status_5xx = 0
        self.throttle_wait_seconds = 0.0
        self.backoff_seconds = 0.0
        self.pages = 0
        self.rows = 0
        self.by_object: dict[str, int] = {}

    def record_call(self, object_type: str, throttle_wait: float) -> None:
        """One HTTP request is about to be sent, after ``throttle_wait`` seconds on the limiter."""
        with self._lock:
            self.calls += 1
            self.throttle_wait_seconds += throttle_wait
            self.by_object[object_type] = self.by_object.get(object_type, 0) + 1

    def record_status(self, status: int) -> None:
        """Count a response status of interest (throttling and server errors)."""
        with self._lock:
            if status == 503:
                self.status_503 += 1
            elif status == 429:
                self.status_429 += 1
            if 500 <= status < 600:
                self.status_5xx += 1

    def record_retry(self, backoff: float) -> None:
        """A retry is scheduled after ``backoff`` seconds."""
        with self._lock:
            self.retries += 1
            self.backoff_seconds += backoff

    def record_page(self, rows: int) -> None:
        """A query page with ``rows`` rows was received."""
        with self._lock:
            self.pages += 1
            self.rows += rows

    def as_dict(self) -> dict[str, Any]:
        """A consistent snapshot of every counter (JSON-serialisable)."""
        with self._lock:
            return {
                "calls": self.calls,
                "retries": self.retries,
                "status_503": self.status_503,
                "status_429": self.status_429,
                "status_5xx": self.status_5xx,
                "throttle_wait_seconds": round(self.throttle_wait_seconds, 6),
                "backoff_seconds": round(self.backoff_seconds, 6),
                "pages": self.pages,
                "rows": self.rows,
                "by_object": dict(self.by_object),
            }

    def __repr__(self) -> str:
        return f"ClientStats({self.as_dict()!r})"
