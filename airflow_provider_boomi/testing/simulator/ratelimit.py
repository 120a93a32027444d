"""A per-account token bucket, Boomi's request rate limit."""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """Token bucket with one second of burst: capacity ``max(1, rate)``, refilled at ``rate``/s.

    ``rate`` of ``None`` or ``0`` disables the limit. The bucket starts full.
    """

    def __init__(self, rate: float | None) -> None:
        self._lock = threading.Lock()
        self._rate: float | None = None
        self._tokens = 0.0
        self._stamp = time.monotonic()
        self.set_rate(rate)

    @property
    def rate(self) -> float | None:
        """Requests per second, or ``None`` when unlimited."""
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        """Change the rate; the bucket is refilled to the new capacity."""
        if rate is not None and rate < 0:
            raise ValueError("rate_limit must be >= 0 or None")
        with self._lock:
            self._rate = rate or None
            self._tokens = self._capacity()
            self._stamp = time.monotonic()

    def _capacity(self) -> float:
        return max(1.0, self._rate) if self._rate else 0.0

    def try_acquire(self) -> bool:
        """Take one token if available; ``False`` means the request is over the limit."""
        with self._lock:
            if self._rate is None:
                return True
            now = time.monotonic()
            self._tokens = min(self._capacity(), self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False
