"""RateLimiter: spacing, bursts, adaptation and the per-account registry, on a fake clock."""

from __future__ import annotations

import itertools
import math
import threading

import pytest

from airflow_provider_boomi.client import RateLimiter, limiter_for
from airflow_provider_boomi.client.ratelimit import MIN_RATE


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
    lim = limiter(10, clock, safety_margin=0.0)
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
    lim = limiter(10, clock, safety_margin=0.0)
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
    assert lim.current_rate == 5
    clock.now += 0.5
    lim.on_success()
    assert lim.current_rate == 5  # not yet a second of success
    clock.now += 0.5
    lim.on_success()
    assert lim.current_rate == pytest.approx(5.5)
    clock.now += 1.0
    lim.on_success()
    assert lim.current_rate == pytest.approx(6.0)
    clock.now += 300
    lim.on_success()
    assert lim.current_rate == 10  # capped at the configured rate


def test_recovery_slows_near_the_rate_that_was_throttled() -> None:
    clock = FakeClock()
    lim = limiter(10, clock)
    lim.on_throttled()  # throttled at 10: fast recovery up to 9
    clock.now += 8
    lim.on_success()
    assert lim.current_rate == pytest.approx(9.0)
    clock.now += 1
    lim.on_success()
    assert lim.current_rate == pytest.approx(9.05)  # 0.5% of 10 per second above 90%
    clock.now += 5
    lim.on_throttled()  # the server's real limit is lower: throttled again at 9.05
    throttled_at = 9.05
    assert lim.current_rate == pytest.approx(throttled_at / 2)
    clock.now += 20
    lim.on_success()
    # quickly back to 90% of the throttled pace, then 0.5%/s of the configured rate
    fast_seconds = (0.9 * throttled_at - throttled_at / 2) / 0.5
    assert lim.current_rate == pytest.approx(0.9 * throttled_at + (20 - fast_seconds) * 0.05)


def test_concurrent_reservations_are_all_distinct() -> None:
    clock = FakeClock()  # frozen: every reservation queues behind the previous one
    lim = limiter(10, clock, safety_margin=0.0)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            wait = lim.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(round(w, 6) for w in waits) == [round(i * 0.1, 6) for i in range(400)]


def test_validation() -> None:
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            RateLimiter(bad)
    with pytest.raises(ValueError):
        RateLimiter(1, burst=0)
    with pytest.raises(ValueError):
        RateLimiter(1, safety_margin=1.0)


def test_registry_shares_one_limiter_per_account() -> None:
    a = limiter_for("https://unit.example/api/rest/v1", "acct-one", 10)
    assert limiter_for("https://unit.example/api/rest/v1/", "acct-one", 10) is a
    assert limiter_for("https://unit.example/api/rest/v1", "acct-two", 10) is not a
    assert limiter_for("https://unit.example/api/rest/v1", "acct-one", 4) is a
    assert a.rate == 4  # the lowest requested rate wins
    limiter_for("https://unit.example/api/rest/v1", "acct-one", 20)
    assert a.rate == 4
