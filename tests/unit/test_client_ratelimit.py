"""RateLimiter: spacing, bursts, adaptation and the per-account registry, on a fake clock."""

from __future__ import annotations

import itertools
import math
import threading
import time

import pytest

from airflow_provider_boomi.client import RateLimiter, limiter_for
from airflow_provider_boomi.client.ratelimit import (
    FORGIVE_AFTER,
    MIN_RATE,
    OVERSLEEP_CREDIT,
    REPEAT_WINDOW,
    WINDOW_MARGIN,
)


class FakeClock:
    """A clock that only moves when the limiter sleeps or the test advances it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(rate: float, clock: FakeClock, **kwargs: object) -> RateLimiter:
    return RateLimiter(rate, clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


def grant_times(lim: RateLimiter, clock: FakeClock, n: int) -> list[float]:
    times = []
    for _ in range(n):
        lim.acquire()
        times.append(clock.now)
    return times


def test_even_spacing_without_margin() -> None:
    clock = FakeClock()
    lim = limiter(10, clock, safety_margin=0.0, window_margin=0.0)
    times = grant_times(lim, clock, 21)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[0] == 1000.0  # the first request goes at once
    assert gaps == pytest.approx([0.1] * 20)


@pytest.mark.parametrize("rate", [10.0, 5.0, 3.3, 1.0])
def test_never_more_than_rate_in_any_closed_one_second_window(rate: float) -> None:
    clock = FakeClock()
    lim = limiter(rate, clock)
    times = grant_times(lim, clock, 60)
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t <= start + 1.0)
        # ceil: a fractional rate cannot send a fraction of a request (integer rates are exact).
        assert in_window <= math.ceil(rate)


def test_idle_time_does_not_build_a_burst() -> None:
    clock = FakeClock()
    lim = limiter(10, clock, safety_margin=0.0, window_margin=0.0)
    lim.acquire()
    clock.now += 60
    assert lim.acquire() == 0.0
    assert lim.acquire() == pytest.approx(0.1)


def test_burst_capacity() -> None:
    clock = FakeClock()
    lim = limiter(10, clock, burst=3, safety_margin=0.0)
    assert [lim.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert lim.acquire() == pytest.approx(0.1)


def test_acquire_returns_time_waited() -> None:
    clock = FakeClock()
    lim = limiter(4, clock, safety_margin=0.0)
    assert lim.acquire() == 0.0
    before = clock.now
    waited = lim.acquire()
    assert waited == pytest.approx(0.25)
    assert clock.now - before == pytest.approx(0.25)


def test_throttle_halves_once_per_cooldown_and_floors() -> None:
    clock = FakeClock()
    lim = limiter(8, clock)
    lim.on_throttled()
    assert lim.current_rate == 4
    lim.on_throttled()  # same burst of 503s from another thread
    assert lim.current_rate == 4
    for expected in (2, 1, MIN_RATE, MIN_RATE):
        clock.now += 1.0
        lim.on_throttled()
        assert lim.current_rate == expected
    assert lim.rate == 8


def test_floor_never_above_configured_rate() -> None:
    clock = FakeClock()
    lim = limiter(0.2, clock)
    lim.on_throttled()
    assert lim.current_rate == 0.2


def test_throttled_rate_slows_spacing() -> None:
    clock = FakeClock()
    lim = limiter(10, clock, safety_margin=0.0)
    lim.acquire()
    lim.on_throttled()
    assert lim.acquire() == pytest.approx(0.2)


def test_recovery_five_percent_per_second() -> None:
    clock = FakeClock()
    lim = limiter(10, clock)
    lim.on_throttled()
    clock.now += 1.0
    lim.on_throttled()  # a repeat: not forgiven
    clock.now += 1.0
    lim.on_success()  # fast recovery up to 90% of the pace throttled last (5)
    assert lim.current_rate == pytest.approx(3.0)
    clock.now += 300
    lim.on_success()
    assert lim.current_rate == 10  # capped at the configured rate


def test_recovery_slows_near_the_rate_that_was_throttled() -> None:
    clock = FakeClock()
    lim = limiter(10, clock)
    lim.on_throttled()
    clock.now += 1
    lim.on_throttled()  # a repeat, throttled at 5: 2.5, fast recovery up to 4.5
    clock.now += 4
    lim.on_success()
    assert lim.current_rate == pytest.approx(4.5)
    clock.now += 1
    lim.on_success()
    assert lim.current_rate == pytest.approx(4.55)  # 0.5% of 10 per second above 90%
    clock.now += 3
    lim.on_throttled()  # the server's real limit is lower: throttled again at 4.55, a repeat
    throttled_at = 4.55
    assert lim.current_rate == pytest.approx(throttled_at / 2)
    clock.now += 20
    lim.on_success()
    # quickly back to 90% of the throttled pace, then 0.5%/s of the configured rate
    fast_seconds = (0.9 * throttled_at - throttled_at / 2) / 0.5
    assert lim.current_rate == pytest.approx(0.9 * throttled_at + (20 - fast_seconds) * 0.05)


def test_an_isolated_throttle_is_forgiven_within_seconds() -> None:
    clock = FakeClock()
    lim = limiter(10, clock)
    lim.on_throttled()
    assert lim.current_rate == 5
    clock.now += FORGIVE_AFTER - 0.1
    assert lim.current_rate < 10
    clock.now += 0.1
    assert lim.current_rate == 10  # back to full pace: one 503 does not slow the rest of the run
    clock.now += REPEAT_WINDOW
    lim.on_throttled()  # long after: isolated again
    clock.now += FORGIVE_AFTER
    lim.on_success()
    assert lim.current_rate == 10


def test_a_repeated_throttle_is_not_forgiven() -> None:
    clock = FakeClock()
    lim = limiter(10, clock)
    lim.on_throttled()
    clock.now += 1.5
    lim.on_throttled()  # within the repeat window: the pace stays lowered
    assert lim.current_rate == 2.5
    clock.now += FORGIVE_AFTER
    lim.on_success()
    assert lim.current_rate < 5


def test_no_window_of_one_second_holds_more_than_the_rate_with_margin() -> None:
    # Even spacing with no margin would put rate + 1 requests into a closed second; the
    # sliding-window rule holds the (rate + 1)th until the window (plus margin) has passed.
    clock = FakeClock()
    lim = limiter(10, clock, safety_margin=0.0, window_margin=0.05)
    times = grant_times(lim, clock, 40)
    for i in range(len(times) - 10):
        assert times[i + 10] - times[i] >= 1.05 - 1e-9


def test_window_counts_actual_send_times_after_a_late_caller() -> None:
    # A burst-capable bucket would let 5 go at once; the window still caps any second at 5.
    clock = FakeClock()
    lim = limiter(5, clock, burst=5, safety_margin=0.0, window_margin=0.0)
    times = grant_times(lim, clock, 15)
    for i in range(len(times) - 5):
        assert times[i + 5] - times[i] >= 1.0 - 1e-9


def test_highest_priority_waiter_goes_first() -> None:
    lim = RateLimiter(10, safety_margin=0.0)  # real clock: 100 ms between requests
    lim.acquire()
    order: list[str] = []

    def wait(name: str, priority: float) -> None:
        with lim.priority(lambda: priority):
            lim.acquire()
        order.append(name)

    low = threading.Thread(target=wait, args=("low", 1.0))
    high = threading.Thread(target=wait, args=("high", 50.0))
    low.start()
    time.sleep(0.03)  # low is waiting for the slot at 100 ms
    high.start()
    low.join()
    high.join()
    assert order == ["high", "low"]


def test_equal_priorities_go_in_order_of_arrival() -> None:
    lim = RateLimiter(5, safety_margin=0.0)  # 200 ms between requests
    lim.acquire()
    order: list[int] = []
    threads = []

    def wait(i: int) -> None:
        lim.acquire(priority=3.0)
        order.append(i)

    for i in range(4):
        t = threading.Thread(target=wait, args=(i,))
        threads.append(t)
        t.start()
        time.sleep(0.04)  # each one queued before the next arrives
    for t in threads:
        t.join()
    assert order == [0, 1, 2, 3]


def test_concurrent_callers_get_distinct_slots() -> None:
    lim = RateLimiter(200, safety_margin=0.0, window_margin=0.0)
    sent: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            lim.acquire()
            with lock:
                sent.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent.sort()
    assert len(sent) == 80
    assert sent[-1] - sent[0] >= 79 / 200 - 0.01  # no two callers shared a slot


def test_validation() -> None:
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            RateLimiter(bad)
    with pytest.raises(ValueError):
        RateLimiter(1, burst=0)
    with pytest.raises(ValueError):
        RateLimiter(1, safety_margin=1.0)
    with pytest.raises(ValueError):
        RateLimiter(1, window_margin=-0.1)


def test_registry_shares_one_limiter_per_account() -> None:
    a = limiter_for("https://unit.example/api/rest/v1", "acct-one", 10)
    assert limiter_for("https://unit.example/api/rest/v1/", "acct-one", 10) is a
    assert limiter_for("https://unit.example/api/rest/v1", "acct-two", 10) is not a
    assert limiter_for("https://unit.example/api/rest/v1", "acct-one", 4) is a
    assert a.rate == 4  # the lowest requested rate wins
    limiter_for("https://unit.example/api/rest/v1", "acct-one", 20)
    assert a.rate == 4


class LateClock(FakeClock):
    """Every sleep overruns by ``late`` seconds, as a thread waiting for the GIL does."""

    def __init__(self, late: float) -> None:
        super().__init__()
        self.late = late

    def sleep(self, seconds: float) -> None:
        self.now += seconds + self.late


@pytest.mark.parametrize("late", [0.0005, 0.002, 0.003])
def test_late_wakeups_do_not_slow_the_pace_and_actual_windows_keep_the_margin(late: float) -> None:
    clock = LateClock(late)
    lim = limiter(100, clock)  # the defaults: 2% spacing margin, 33 ms window with 3 ms credit
    times = grant_times(lim, clock, 1000)
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate >= 100 / (1 + WINDOW_MARGIN) - 0.05  # not 100 / (1.033 + 100 * late)
    for i in range(len(times) - 100):
        assert times[i + 100] - times[i] >= 1 + WINDOW_MARGIN - OVERSLEEP_CREDIT - 1e-9


def test_lateness_beyond_the_credit_counts_from_the_actual_send_time() -> None:
    clock = LateClock(0.010)
    lim = limiter(100, clock)
    times = grant_times(lim, clock, 400)
    for i in range(len(times) - 100):
        assert times[i + 100] - times[i] >= 1 + WINDOW_MARGIN - OVERSLEEP_CREDIT - 1e-9
