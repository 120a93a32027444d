"""Rate limiting, latency and every injected fault kind, over loopback HTTP."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule

RATE_LIMITED = "The Boomi server is currently unavailable or your account's rate limits have been exceeded."


def post_query(sim: BoomiSimulator, obj: str = "Role", timeout: float = 5) -> requests.Response:
    return requests.post(
        f"{sim.base_url}/{sim.account_id}/{obj}/query",
        auth=(f"BOOMI_TOKEN.{sim.email}", sim.token),
        headers={"Accept": "application/json", "Content-Type": "application/json"},
        timeout=timeout,
    )


# ------------------------------------------------------------------ rate limit


def test_burst_over_the_limit_gets_503s() -> None:
    with BoomiSimulator(profile="empty", rate_limit=10) as sim:
        with ThreadPoolExecutor(8) as pool:
            statuses = [r.status_code for r in pool.map(lambda _: post_query(sim), range(60))]
        # 10 tokens of burst plus refill while 60 requests run: far fewer than 60 succeed.
        assert statuses.count(503) >= 20
        assert statuses.count(200) >= 10
        limited = [r for r in sim.requests if r.fault == "rate_limited"]
        assert len(limited) == statuses.count(503)


def test_rate_limited_answer_shape() -> None:
    with BoomiSimulator(profile="empty", rate_limit=1) as sim:
        responses = [post_query(sim) for _ in range(3)]
        limited = [r for r in responses if r.status_code == 503]
        assert limited
        assert limited[0].json() == {"@type": "Error", "message": RATE_LIMITED + " Retry later."}
        assert "Retry-After" not in limited[0].headers


def test_429_mode_with_retry_after() -> None:
    with BoomiSimulator(profile="empty", rate_limit=1, rate_limit_status=429, retry_after=2) as sim:
        statuses = [post_query(sim) for _ in range(4)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited and limited[0].headers["Retry-After"] == "2"


def test_paced_under_the_limit_never_sees_503() -> None:
    with BoomiSimulator(profile="empty", rate_limit=20) as sim:
        statuses = []
        for _ in range(12):
            statuses.append(post_query(sim).status_code)
            time.sleep(0.1)  # 10/s against a limit of 20/s with 20 tokens of burst
        assert statuses == [200] * 12


def test_rate_limit_can_be_changed_and_disabled() -> None:
    with BoomiSimulator(profile="empty", rate_limit=1) as sim:
        sim.set_rate_limit(None)
        assert all(post_query(sim).status_code == 200 for _ in range(30))
        sim.set_rate_limit(1)
        assert [post_query(sim).status_code for _ in range(5)].count(503) >= 3


# ------------------------------------------------------------------ latency


def test_latency_overlaps_for_concurrent_requests() -> None:
    with BoomiSimulator(profile="empty", rate_limit=None, latency=0.3) as sim:
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            statuses = [r.status_code for r in pool.map(lambda _: post_query(sim), range(8))]
        elapsed = time.monotonic() - started
        assert statuses == [200] * 8
        assert 0.3 <= elapsed < 2.0  # eight sequential answers would take 2.4 s
        sim.set_latency(0.0)
        started = time.monotonic()
        post_query(sim)
        assert time.monotonic() - started < 0.3


# ------------------------------------------------------------------ faults


@pytest.mark.parametrize("kind", ["500", "502", "503", "504", "429", "401"])
def test_status_faults(kind: str) -> None:
    fault = FaultRule(kind, object_type="Role", operation="query", after=1, count=2, retry_after=1)
    with BoomiSimulator(profile="empty", rate_limit=None, faults=[fault]) as sim:
        statuses = [post_query(sim).status_code for _ in range(5)]
        assert statuses == [200, int(kind), int(kind), 200, 200]
        assert post_query(sim, "AccountUserRole").status_code == 200  # other objects untouched
        bad = [r for r in sim.requests if r.fault == kind]
        assert len(bad) == 2 and all(r.status == int(kind) for r in bad)
    sim2 = BoomiSimulator(profile="empty", rate_limit=None, faults=[FaultRule(kind, count=1, retry_after=1)])
    with sim2:
        response = post_query(sim2)
        assert response.json()["@type"] == "Error"
        if kind in ("503", "429"):
            assert response.headers["Retry-After"] == "1"
            assert response.json()["message"].startswith(RATE_LIMITED)


def test_drop_fault_closes_the_connection() -> None:
    with BoomiSimulator(profile="empty", rate_limit=None, faults=[FaultRule("drop", count=1)]) as sim:
        with pytest.raises(requests.ConnectionError):
            post_query(sim)
        assert post_query(sim).status_code == 200
        assert sim.requests[0].fault == "drop" and sim.requests[0].status == 0


def test_slow_fault_causes_a_read_timeout_then_recovers() -> None:
    with BoomiSimulator(
        profile="empty", rate_limit=None, faults=[FaultRule("slow", count=1, delay=1.0)]
    ) as sim:
        with pytest.raises(requests.ReadTimeout):
            post_query(sim, timeout=0.3)
        assert post_query(sim).status_code == 200
        deadline = time.monotonic() + 5
        while len(sim.requests) < 2 and time.monotonic() < deadline:  # recorded once answered
            time.sleep(0.05)
        assert sorted(str(r.fault) for r in sim.requests) == ["None", "slow"]


def test_slow_fault_answers_normally_when_the_client_waits() -> None:
    with BoomiSimulator(
        profile="empty", rate_limit=None, faults=[FaultRule("slow", count=1, delay=0.2)]
    ) as sim:
        started = time.monotonic()
        response = post_query(sim)
        assert response.status_code == 200 and time.monotonic() - started >= 0.2


def test_malformed_fault_is_200_with_invalid_json() -> None:
    with BoomiSimulator(profile="empty", rate_limit=None, faults=[FaultRule("malformed", count=1)]) as sim:
        response = post_query(sim)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        with pytest.raises(ValueError):
            response.json()


def test_probability_faults_are_reproducible() -> None:
    def run() -> list[int]:
        fault = FaultRule("503", probability=0.3)
        with BoomiSimulator(profile="empty", rate_limit=None, faults=[fault], seed=5) as sim:
            return [post_query(sim).status_code for _ in range(30)]

    first = run()
    assert first == run()
    assert 0 < first.count(503) < 30


def test_set_faults_at_runtime() -> None:
    with BoomiSimulator(profile="empty", rate_limit=None) as sim:
        assert post_query(sim).status_code == 200
        sim.set_faults([FaultRule("500", count=1)])
        assert post_query(sim).status_code == 500
        assert post_query(sim).status_code == 200
        sim.set_faults([])
        assert post_query(sim).status_code == 200
