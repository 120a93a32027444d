"""Boomi's per-account request rate limit, counted either of two ways (§g.8).

Boomi documents "10 requests per second" without saying how a second is counted. ``TokenBucket``
allows a one-second burst and refills continuously; ``SlidingWindow`` is strict: never more than
the rate in any one-second window. A client pacing itself at just under the rate passes the
first and, with jitter, can still be refused by the second.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

RATE_LIMITERS = ("token_bucket", "sliding_window")
"""The limiter kinds ``make_limiter`` builds."""


class RateLimiter(Protocol):
    """What the dispatcher needs of a limiter."""

    @property
    def rate(self) -> float | None:
        """Requests per second, or ``None`` when unlimited."""

    def set_rate(self, rate: float | None) -> None:
        """Change the rate (``None``/``0``: unlimited) and start afresh."""

    def try_acquire(self) -> bool:
        """Admit one request now; ``False`` means it is over the limit."""


def _check_rate(rate: float | None) -> float | None:
    if rate is not None and rate < 0:
        raise ValueError("rate_limit must be >= 0 or None")
    return rate or None


class TokenBucket:
    """Token bucket with one second of burst: capacity ``max(1, rate)``, refilled at ``rate``/s.

    ``rate`` of ``None`` or ``0`` disables the limit. The bucket starts full.
    """

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._rate: float | None = None
        self._tokens = 0.0
        self._stamp = clock()
        self.set_rate(rate)

    @property
    def rate(self) -> float | None:
        """Requests per second, or ``None`` when unlimited."""
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        """Change the rate; the bucket is refilled to the new capacity."""
        rate = _check_rate(rate)
        with self._lock:
            self._rate = rate
            self._tokens = self._capacity()
            self._stamp = self._clock()

    def _capacity(self) -> float:
        return max(1.0, self._rate) if self._rate else 0.0

    def try_acquire(self) -> bool:
        """Take one token if available; ``False`` means the request is over the limit."""
        with self._lock:
            if self._rate is None:
                return True
            now = self._clock()
            self._tokens = min(self._capacity(), self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class SlidingWindow:
    """Strict limit: a request is admitted iff fewer than ``floor(rate)`` were admitted in the last
    second, so no one-second window ever holds more than ``rate`` admitted requests.

    Below one request a second (where ``floor(rate)`` would be 0) the window stretches instead: one
    request per ``1/rate`` seconds. ``rate`` of ``None`` or ``0`` disables the limit.
    """

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._rate: float | None = None
        self._limit = 0
        self._window = 1.0
        self._admitted: deque[float] = deque()  # admissions inside the current window
        self._history: deque[float] = deque(maxlen=10_000)  # for tests: the latest admissions
        self.set_rate(rate)

    @property
    def rate(self) -> float | None:
        """Requests per second, or ``None`` when unlimited."""
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        """Change the rate; the window forgets what it admitted before."""
        rate = _check_rate(rate)
        with self._lock:
            self._rate = rate
            if rate is not None and rate < 1:
                self._limit, self._window = 1, 1.0 / rate
            else:
                self._limit, self._window = (math.floor(rate) if rate else 0), 1.0
            self._admitted.clear()
            self._history.clear()

    def admitted(self) -> list[float]:
        """Clock readings of the requests admitted since the rate was last set (the latest 10,000,
        oldest first): any ``limit + 1`` consecutive ones span at least the window."""
        with self._lock:
            return list(self._history)

    def try_acquire(self) -> bool:
        """Admit the request if the last window holds fewer than the limit."""
        with self._lock:
            if self._rate is None:
                return True
            now = self._clock()
            while self._admitted and now - self._admitted[0] >= self._window:
                self._admitted.popleft()
            if len(self._admitted) < self._limit:
                self._admitted.append(now)
                self._history.append(now)
                return True
            return False


def make_limiter(kind: str, rate: float | None) -> TokenBucket | SlidingWindow:
    """A limiter of ``kind`` (``"token_bucket"`` or ``"sliding_window"``) at ``rate`` per second."""
    if kind == "token_bucket":
        return TokenBucket(rate)
    if kind == "sliding_window":
        return SlidingWindow(rate)
    raise ValueError(f"rate_limiter must be one of {RATE_LIMITERS}, not {kind!r}")
