"""A thread-safe, adaptive rate limiter, shared per Boomi account within the process.

Boomi limits requests per *account* (10/s today; older docs say 5/s) and answers 503 when the
limit is exceeded; the reference (§g.8) leaves open whether it counts a token bucket or a strict
sliding one-second window. Every client and thread working on one account therefore draws from
one limiter (:func:`limiter_for`), which

* spaces requests evenly (a token bucket of capacity 1, a little under the rate);
* never lets any window of one second (plus a margin for network jitter) hold more than the
  configured rate, counting the times it actually let requests go, so a strict sliding window
  at the same rate has nothing to refuse;
* hands the next slot to the waiting caller with the highest priority (for a sync: the chain
  with the most pages left, so the longest chain is never kept waiting behind short ones);
* halves its pace when Boomi pushes back, forgives an isolated 503 after
  :data:`FORGIVE_AFTER` seconds, and otherwise recovers slowly while requests succeed.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

__all__ = ["RateLimiter", "limiter_for"]

Priority = float | Callable[[], float]
"""A caller's priority: a number, or a function read each time the caller asks for a slot."""

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
503 (reference §g.8). That is what the sliding-window rule (:data:`WINDOW_MARGIN`) is for.
"""

WINDOW_MARGIN = 0.033
"""Seconds added to the one-second window of the sliding-window rule: at most ``floor(rate)``
requests are let go within any ``1 + WINDOW_MARGIN`` seconds, counted on their slots (see
:data:`OVERSLEEP_CREDIT`), so on the limiter's actual send times within any
``1 + WINDOW_MARGIN - OVERSLEEP_CREDIT`` = 1.03 seconds: requests that reach the server up to
30 ms later than their neighbours still never put ``rate + 1`` requests into one of its
seconds (with 20 ms, one 503 in 195 calls was seen on a loaded machine)."""

OVERSLEEP_CREDIT = 0.003
"""Seconds by which a request let go after its slot is still counted at its slot by the
sliding-window rule. A thread woken from its sleep waits for the GIL, up to a switch interval
(5 ms) in a busy process; counted at its late send time, each such delay would push every later
window back by as much, and the pace would settle below the rate (measured at 100/s: 95 requests
a second instead of 97). :data:`WINDOW_MARGIN` includes this credit."""

FORGIVE_AFTER = 2.0
"""Seconds after which an isolated throttle (no other one in :data:`REPEAT_WINDOW` before it,
and none after it) is forgiven: the pace goes back to what it was. One 503 from a strict window
(or another process's burst) must not slow the rest of a run."""

LATE_CREDIT = 0.02
"""Seconds of lateness (at most one interval) a request may be granted late by and still keep
the even schedule (see ``RateLimiter._take``)."""

REPEAT_WINDOW = 10.0
"""A throttle within this many seconds of the previous one is a repeat: no forgiveness, the
halved pace recovers as :meth:`RateLimiter.on_success` says."""


class RateLimiter:
    """Paces requests to at most ``rate`` per second, adapting to throttling, by priority.

    :param rate: configured requests per second (> 0).
    :param burst: bucket capacity. The default 1 spaces requests evenly (``1/rate`` apart);
        larger values allow short bursts, which Boomi's per-second limit punishes.
    :param clock: monotonic clock, injectable for tests.
    :param sleep: sleep function, injectable for tests.
    :param safety_margin: pace this fraction below ``rate`` (see :data:`SAFETY_MARGIN`).
    :param window_margin: seconds added to the sliding window (see :data:`WINDOW_MARGIN`).
    :param oversleep_credit: lateness counted at the slot (see :data:`OVERSLEEP_CREDIT`).
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        safety_margin: float = SAFETY_MARGIN,
        window_margin: float = WINDOW_MARGIN,
        oversleep_credit: float = OVERSLEEP_CREDIT,
    ) -> None:
        if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a finite number > 0, got {rate!r}")
        if not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst must be an integer >= 1, got {burst!r}")
        if not 0 <= safety_margin < 1:
            raise ValueError(f"safety_margin must be in [0, 1), got {safety_margin!r}")
        if not (math.isfinite(window_margin) and window_margin >= 0):
            raise ValueError(f"window_margin must be >= 0, got {window_margin!r}")
        if not (math.isfinite(oversleep_credit) and oversleep_credit >= 0):
            raise ValueError(f"oversleep_credit must be >= 0, got {oversleep_credit!r}")
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._clock = clock
        self._sleep = sleep
        self._margin = safety_margin
        self._window = 1.0 + window_margin
        # Never more than the margin: on actual send times the window stays at least a second.
        self._credit = min(oversleep_credit, window_margin)
        self._rate = float(rate)
        self._current = float(rate)
        self._burst = burst
        now = clock()
        # Theoretical time of the next request at an even pace (GCRA): a burst of ``burst``
        # may go up to (burst - 1) intervals ahead of it.
        self._next_at = now
        self._last_change = now
        self._last_throttle = -math.inf
        # The pace in force when Boomi last answered 503/429: recovery slows down near it.
        self._throttled_at = math.inf
        # An isolated throttle: (when it is forgiven, pace and throttled_at to go back to).
        self._forgive: tuple[float, float, float] | None = None
        self._sent: deque[float] = deque()  # slots of the latest floor(rate) requests let go
        self._waiting: list[tuple[float, int]] = []  # heap of (-priority, arrival)
        self._arrivals = itertools.count()
        self._local = threading.local()

    @property
    def rate(self) -> float:
        """The configured (maximum) rate in requests per second."""
        return self._rate

    @property
    def current_rate(self) -> float:
        """The rate in force now: the configured rate, or less after throttling."""
        with self._lock:
            self._maybe_forgive(self._clock())
            return self._current

    @property
    def burst(self) -> int:
        """The bucket capacity."""
        return self._burst

    # ---- pacing ------------------------------------------------------------------------------

    def _pace(self) -> float:
        return self._current * (1.0 - self._margin)

    def _window_limit(self) -> int:
        # Below one request a second the even spacing is stricter than any window.
        return math.floor(self._rate) if self._rate >= 1 else 0

    def _next_slot(self, now: float) -> float:
        """The earliest time the next request may go (``<= now``: at once, possibly late)."""
        self._maybe_forgive(now)
        interval = 1.0 / self._pace()
        at = self._next_at - (self._burst - 1) * interval
        limit = self._window_limit()
        if limit and len(self._sent) >= limit:
            at = max(at, self._sent[-limit] + self._window)
        return at

    def _take(self, now: float, slot: float) -> None:
        interval = 1.0 / self._pace()
        # A caller that woke a little late (a busy machine oversleeps by milliseconds) keeps the
        # schedule, so the pace does not drift below the rate by the oversleep of every request;
        # after a pause the schedule starts afresh, so idle time never builds a burst. The
        # sliding-window rule still bounds what any second holds.
        late = now - self._next_at
        start = self._next_at if 0 <= late <= min(interval, LATE_CREDIT) else now
        self._next_at = max(self._next_at, start) + interval
        # Counted at its slot if it goes at most OVERSLEEP_CREDIT late, so lateness does not
        # carry into every later window.
        self._sent.append(max(slot, now - self._credit))
        while len(self._sent) > max(1, self._window_limit()):
            self._sent.popleft()

    @contextlib.contextmanager
    def priority(self, value: Priority) -> Iterator[None]:
        """Within the block, this thread's requests wait with ``value`` as their priority.

        ``value`` is a number or a function called at each request (for a query chain: its
        estimated pages left). Higher goes first; the default is 0; equal priorities go in
        order of arrival.
        """
        previous = getattr(self._local, "priority", None)
        self._local.priority = value
        try:
            yield
        finally:
            self._local.priority = previous

    def _current_priority(self) -> float:
        value = getattr(self._local, "priority", None)
        if value is None:
            return 0.0
        return float(value() if callable(value) else value)

    def acquire(self, priority: float | None = None) -> float:
        """Block until a request may be sent; return the seconds waited.

        Among the callers waiting, the one with the highest ``priority`` (default: the one set
        by :meth:`priority` for this thread, else 0) gets the next slot.
        """
        rank = self._current_priority() if priority is None else float(priority)
        started = self._clock()
        with self._cond:
            entry = (-rank, next(self._arrivals))
            heapq.heappush(self._waiting, entry)
            try:
                while True:
                    if self._waiting[0] != entry:
                        self._cond.wait()
                        continue
                    now = self._clock()
                    at = self._next_slot(now)
                    if at <= now:
                        heapq.heappop(self._waiting)
                        self._take(now, at)
                        self._cond.notify_all()
                        return now - started
                    # Sleep outside the lock, so callers with a higher priority can queue in
                    # front; whoever is first when the slot comes takes it.
                    self._lock.release()
                    try:
                        self._sleep(at - now)
                    finally:
                        self._lock.acquire()
            except BaseException:
                if entry in self._waiting:
                    self._waiting.remove(entry)
                    heapq.heapify(self._waiting)
                    self._cond.notify_all()
                raise

    # ---- adapting ----------------------------------------------------------------------------

    def _set_current(self, now: float, rate: float) -> None:
        """Change the pace; the wait left before the next slot stretches or shrinks with it."""
        if rate != self._current and self._next_at > now:
            self._next_at = now + (self._next_at - now) * self._current / rate
        self._current = rate

    def _maybe_forgive(self, now: float) -> None:
        if self._forgive is not None and now >= self._forgive[0]:
            _, pace, throttled_at = self._forgive
            self._forgive = None
            self._set_current(now, max(self._current, min(pace, self._rate)))
            self._throttled_at = throttled_at
            self._last_change = now

    def on_throttled(self) -> None:
        """Boomi answered 503/429: halve the current rate (floor 0.5/s), once per cooldown.

        An isolated throttle (none in the :data:`REPEAT_WINDOW` before it) is forgiven
        :data:`FORGIVE_AFTER` seconds later unless another one follows: the pace then goes back
        to what it was. A repeated one keeps the halved pace, which recovers slowly.
        """
        with self._lock:
            now = self._clock()
            if now - self._last_throttle < THROTTLE_COOLDOWN:
                return
            if now - self._last_throttle >= REPEAT_WINDOW:
                self._forgive = (now + FORGIVE_AFTER, self._current, self._throttled_at)
            else:
                self._forgive = None
            self._last_throttle = now
            self._last_change = now
            self._throttled_at = self._current
            self._set_current(now, max(min(MIN_RATE, self._rate), self._current * 0.5))

    def on_success(self) -> None:
        """A request succeeded: regain pace, quickly up to 90% of the last throttled rate
        (5% of the configured rate per second of success), slowly above it (0.5% per second)."""
        with self._lock:
            now = self._clock()
            self._maybe_forgive(now)
            if self._current >= self._rate:
                return
            steps = math.floor((now - self._last_change) / 1.0)
            if steps < 1:
                return
            seconds = float(steps)
            fast_until = PROBE_FRACTION * self._throttled_at
            current = self._current
            if current < fast_until:
                fast_gain = min(fast_until - current, seconds * RECOVERY_STEP * self._rate)
                current += fast_gain
                seconds -= fast_gain / (RECOVERY_STEP * self._rate)
            self._set_current(now, min(self._rate, current + seconds * SLOW_RECOVERY_STEP * self._rate))
            self._last_change = now

    def lower_rate(self, rate: float) -> None:
        """Lower the configured rate (never raises it): used when clients disagree on the rate."""
        with self._lock:
            if 0 < rate < self._rate:
                self._rate = float(rate)
                self._set_current(self._clock(), min(self._current, self._rate))

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
