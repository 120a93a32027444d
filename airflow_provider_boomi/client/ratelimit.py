"""A thread-safe, adaptive token bucket, shared per Boomi account within the process.

Boomi limits requests per *account* (10/s today; older docs say 5/s) and answers 503 when the
limit is exceeded. Every client and thread working on one account therefore draws from one
limiter (:func:`limiter_for`), which spaces requests evenly instead of bursting, halves its pace
when Boomi pushes back and recovers slowly while requests succeed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter", "limiter_for"]

MIN_RATE = 0.5
"""Floor of the adaptive rate (requests per second) after repeated throttling."""

RECOVERY_STEP = 0.05
"""Share of the configured rate regained per second of successful requests, well below the rate
at which Boomi last pushed back."""

SLOW_RECOVERY_STEP = 0.005
"""Share of the configured rate regained per second once the pace is back near the rate at which
Boomi last pushed back (:data:`PROBE_FRACTION` of it). A server whose real limit is below the
configured one throttles again as soon as the pace exceeds it; probing slowly there turns a
503 every few seconds into one a minute, while a limit that was only briefly lower is still
regained within minutes."""

PROBE_FRACTION = 0.9
"""Fraction of the last throttled rate up to which the pace recovers quickly."""

THROTTLE_COOLDOWN = 1.0
"""Seconds during which further throttle signals are treated as the same event.

Several threads usually receive 503s for the same burst; halving once per thread would collapse
the rate to the floor for a single overshoot.
"""

SAFETY_MARGIN = 0.02
"""Fraction by which the limiter paces below the configured rate.

With requests exactly ``1/rate`` apart, a closed one-second window can hold ``rate + 1``
requests. Pacing 2% slower keeps perfectly even requests within the rate, but it does not
guarantee every one-second window at the server stays at or under it: network jitter can bunch
arrivals at the server, and a server counting a strict sliding one-second window then answers
503 (reference §g.8). Those 503s are handled, not prevented: the request is retried with
backoff and :meth:`RateLimiter.on_throttled` slows the pace.
"""


class RateLimiter:
    """Token bucket spacing requests at most ``rate`` per second, adapting to throttling.

    :param rate: configured requests per second (> 0).
    :param burst: bucket capacity. The default 1 spaces requests evenly (``1/rate`` apart);
        larger values allow short bursts, which Boomi's per-second limit punishes.
    :param clock: monotonic clock, injectable for tests.
    :param sleep: sleep function, injectable for tests.
    :param safety_margin: pace this fraction below ``rate`` (see :data:`SAFETY_MARGIN`).
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        safety_margin: float = SAFETY_MARGIN,
    ) -> None:
        if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a finite number > 0, got {rate!r}")
        if not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst must be an integer >= 1, got {burst!r}")
        if not 0 <= safety_margin < 1:
            raise ValueError(f"safety_margin must be in [0, 1), got {safety_margin!r}")
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._margin = safety_margin
        self._rate = float(rate)
        self._current = float(rate)
        self._burst = burst
        now = clock()
        # Negative token counts are reservations already handed to waiting callers.
        self._tokens = float(burst)
        self._last_refill = now
        self._last_change = now
        self._last_throttle = -math.inf
        # The pace in force when Boomi last answered 503/429: recovery slows down near it.
        self._throttled_at = math.inf

    @property
    def rate(self) -> float:
        """The configured (maximum) rate in requests per second."""
        return self._rate

    @property
    def current_rate(self) -> float:
        """The rate in force now: the configured rate, or less after throttling."""
        with self._lock:
            return self._current

    @property
    def burst(self) -> int:
        """The bucket capacity."""
        return self._burst

    def _pace(self) -> float:
        return self._current * (1.0 - self._margin)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._last_refill)
        self._tokens = min(float(self._burst), self._tokens + elapsed * self._pace())
        self._last_refill = now

    def reserve(self) -> float:
        """Take a token and return how long the caller must wait before using it (no sleep)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self._pace()

    def acquire(self) -> float:
        """Block until a request may be sent; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            # Sleep outside the lock so that other threads can queue their reservations.
            self._sleep(wait)
        return wait

    def on_throttled(self) -> None:
        """Boomi answered 503/429: halve the current rate (floor 0.5/s), once per cooldown."""
        with self._lock:
            now = self._clock()
            if now - self._last_throttle < THROTTLE_COOLDOWN:
                return
            self._refill(now)
            self._last_throttle = now
            self._last_change = now
            self._throttled_at = self._current
            self._current = max(min(MIN_RATE, self._rate), self._current * 0.5)

    def on_success(self) -> None:
        """A request succeeded: regain pace, quickly up to 90% of the last throttled rate
        (5% of the configured rate per second of success), slowly above it (0.5% per second)."""
        with self._lock:
            if self._current >= self._rate:
                return
            now = self._clock()
            steps = math.floor((now - self._last_change) / 1.0)
            if steps < 1:
                return
            self._refill(now)
            seconds = float(steps)
            fast_until = PROBE_FRACTION * self._throttled_at
            if self._current < fast_until:
                fast_gain = min(fast_until - self._current, seconds * RECOVERY_STEP * self._rate)
                self._current += fast_gain
                seconds -= fast_gain / (RECOVERY_STEP * self._rate)
            self._current = min(self._rate, self._current + seconds * SLOW_RECOVERY_STEP * self._rate)
            self._last_change = now

    def lower_rate(self, rate: float) -> None:
        """Lower the configured rate (never raises it): used when clients disagree on the rate."""
        with self._lock:
            if 0 < rate < self._rate:
                self._refill(self._clock())
                self._rate = float(rate)
                self._current = min(self._current, self._rate)

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self._rate!r}, current_rate={self._current!r}, burst={self._burst!r})"


_registry: dict[tuple[str, str], RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(base_url: str, account_id: str, rate: float) -> RateLimiter:
    """The process-wide limiter for one Boomi account, created on first use.

    Boomi's limit is per account, so every client and thread for ``(base_url, account_id)``
    must share one bucket. If callers ask for different rates, the lowest one wins: the safe side.
    """
    key = (base_url.rstrip("/").lower(), account_id)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = RateLimiter(rate)
        else:
            limiter.lower_rate(rate)
        return limiter
