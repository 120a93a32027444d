"""BoomiClient against the Boomi simulator over loopback HTTP: paging, faults, limits, writes."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from airflow_provider_boomi.client import (
    BoomiAuthenticationError,
    BoomiBadRequestError,
    BoomiClient,
    BoomiPermissionError,
    QueryFilter,
    RateLimiter,
)
from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule
from tests.helpers import client_config

config_for = client_config


def client_for(sim: BoomiSimulator, **overrides: Any) -> BoomiClient:
    # A private limiter per test: the process-wide one would carry adaptation across tests.
    config = client_config(sim, **overrides)
    return BoomiClient(config, limiter=RateLimiter(config.requests_per_second))


@pytest.fixture
def demo(sim: BoomiSimulator) -> BoomiSimulator:
    """The shared ``sim`` fixture (conftest), under the name these tests read best with."""
    return sim


def ops(sim: BoomiSimulator, object_type: str | None = None) -> list[str]:
    return [r.operation for r in sim.requests if object_type is None or r.object_type == object_type]


def group_id(sim: BoomiSimulator, name: str) -> str:
    return next(g["id"] for g in sim.state.account_groups() if g["name"] == name)


# --- paging ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "pages"), [("EMEA Customers", [100]), ("Partner Support", [100, 1])])
def test_paging_at_100_and_101_rows(demo: BoomiSimulator, group: str, pages: list[int]) -> None:
    gid = group_id(demo, group)
    with client_for(demo) as client:
        got = list(client.query_pages("AccountGroupUserRole", QueryFilter.equals("accountGroupId", gid)))
    assert [len(p) for p in got] == pages
    expected = {r["id"] for r in demo.state.group_roles() if r["accountGroupId"] == gid}
    assert {row["id"] for page in got for row in page} == expected
    assert ops(demo) == ["query"] + ["queryMore"] * (len(pages) - 1)


def test_paging_250_rows() -> None:
    with BoomiSimulator(profile="empty", rate_limit=None) as sim:
        while len(sim.state.roles()) < 250:
            sim.state.add_role(f"Custom {len(sim.state.roles()):03d}", ["BUILD"])
        with client_for(sim) as client:
            pages = list(client.query_pages("Role"))
            roles = list(client.query_roles())
        assert [len(p) for p in pages] == [100, 100, 50]
        assert sorted(r.id or "" for r in roles) == sorted(r["id"] for r in sim.state.roles())
        assert ops(sim)[:3] == ["query", "queryMore", "queryMore"]
        assert client.stats.pages == 6
        assert client.stats.rows == 500


def test_typed_reads_match_state(demo: BoomiSimulator) -> None:
    with client_for(demo) as client:
        roles = list(client.query_roles())
        aurs = list(client.query_account_user_roles(QueryFilter.equals("accountId", demo.account_id)))
        groups = list(client.query_account_groups())
        account = client.get_account()
        assignable = client.get_assignable_roles()
        first_group = client.get_account_group(groups[0].id or "")
        a_role = client.get_role(roles[0].id or "")
    assert len(roles) == len(demo.state.roles())
    assert {a.id for a in aurs} == {r["id"] for r in demo.state.user_roles()}
    assert len(aurs) == 151
    assert {g.name for g in groups} == {g["name"] for g in demo.state.account_groups()}
    assert account.account_id == demo.account_id
    assert assignable and all(r.id for r in assignable)
    assert first_group.id == groups[0].id
    assert a_role == roles[0]


# --- retryable faults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule(kind="503", object_type="Role", count=3),
        FaultRule(kind="429", object_type="Role", count=2, retry_after=0.05),
        FaultRule(kind="502", object_type="Role", count=2),
        FaultRule(kind="504", object_type="Role", count=2),
        FaultRule(kind="500", object_type="Role", count=2),
        FaultRule(kind="drop", object_type="Role", count=2),
        FaultRule(kind="malformed", object_type="Role", count=2),
        FaultRule(kind="slow", object_type="Role", count=1, delay=1.0),
    ],
    ids=lambda rule: rule.kind,
)
def test_every_retryable_fault_recovers(rule: FaultRule) -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, faults=[rule]) as sim:
        with client_for(sim, timeout=0.3) as client:
            roles = list(client.query_roles())
        assert sorted(r.id or "" for r in roles) == sorted(r["id"] for r in sim.state.roles())
        assert client.stats.retries == rule.count
        if rule.kind != "slow":  # a slow request is only recorded once its delay has passed
            assert len([r for r in sim.requests if r.fault == rule.kind]) == rule.count
        if rule.kind == "429":
            assert client.stats.status_429 == rule.count
            assert client.stats.backoff_seconds >= 0.05 * rule.count  # Retry-After honoured


def test_query_more_faults_recover(demo: BoomiSimulator) -> None:
    demo.set_faults([FaultRule(kind="503", object_type="AccountUserRole", operation="queryMore", count=2)])
    with client_for(demo) as client:
        rows = list(client.query_account_user_roles())
    assert len(rows) == 151
    assert ops(demo, "AccountUserRole") == ["query", "queryMore", "queryMore", "queryMore"]


# --- non-retryable failures ------------------------------------------------------------------------


def test_wrong_token_fails_at_once(demo: BoomiSimulator) -> None:
    with (
        client_for(demo, api_token="not-the-token") as client,
        pytest.raises(BoomiAuthenticationError) as info,
    ):
        list(client.query_roles())
    assert info.value.attempts == 1
    assert len(demo.requests) == 1
    assert demo.requests[0].status == 401
    assert "BOOMI_TOKEN.<email>" in str(info.value)
    assert "not-the-token" not in str(info.value)


def test_missing_privileges_fail_at_once(demo: BoomiSimulator) -> None:
    demo.set_api_privileges(False)
    with client_for(demo) as client, pytest.raises(BoomiPermissionError) as info:
        client.get_account()
    assert info.value.attempts == 1
    assert len(demo.requests) == 1
    assert demo.account_id in str(info.value)
    assert "Account Administration" in str(info.value)


def test_bad_filter_fails_at_once_with_boomis_message(demo: BoomiSimulator) -> None:
    with client_for(demo) as client, pytest.raises(BoomiBadRequestError) as info:
        list(client.query("Role", QueryFilter.equals("email", "x@y.z")))
    assert info.value.attempts == 1
    assert len(demo.requests) == 1
    assert info.value.boomi_message
    assert info.value.boomi_message in str(info.value)
    assert "email" in info.value.boomi_message


def test_injected_401_is_not_retried(demo: BoomiSimulator) -> None:
    demo.set_faults([FaultRule(kind="401", count=1)])
    with client_for(demo) as client, pytest.raises(BoomiAuthenticationError):
        client.get_account()
    assert len(demo.requests) == 1


# --- rate limiting ---------------------------------------------------------------------------------


def test_limiter_keeps_under_the_simulator_limit() -> None:
    # Without pacing, 4 threads would fire 60 requests at once and drain the 20-token bucket.
    with BoomiSimulator(profile="demo", rate_limit=20.0) as sim:
        config = config_for(sim, requests_per_second=20.0)
        with BoomiClient(config) as client:  # the default, process-wide limiter for the account
            errors: list[BaseException] = []

            def work() -> None:
                try:
                    for _ in range(15):
                        client.get_account()
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=work) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert errors == []
        assert len(sim.requests) == 60
        assert [r for r in sim.requests if r.status != 200] == []
        assert client.stats.status_503 == 0
        assert client.stats.calls == 60
        assert client.stats.throttle_wait_seconds > 0


def test_adapts_when_the_limit_is_lower_than_configured() -> None:
    with BoomiSimulator(profile="demo", rate_limit=5.0) as sim:
        with client_for(sim, requests_per_second=50.0) as client:
            for _ in range(15):
                client.get_account()
        assert client.stats.status_503 > 0
        assert client.limiter.current_rate < 50.0
        assert sum(1 for r in sim.requests if r.status == 200) == 15


# --- writes ----------------------------------------------------------------------------------------


def test_account_user_role_create_delete_round_trip(demo: BoomiSimulator) -> None:
    held = {(r["userId"], r["roleId"]) for r in demo.state.user_roles()}
    role = next(r for r in demo.state.assignable_roles()["Role"] if r["name"] == "Standard User")
    user = next(u["userId"] for u in demo.state.users() if (u["userId"], role["id"]) not in held)
    with client_for(demo) as client:
        created = client.create_account_user_role(user, role["id"], notify_user=False)
        assert created.id
        assert created.user_id == user
        assert any(r["id"] == created.id for r in demo.state.user_roles())
        create_record = demo.requests[-1]
        assert create_record.operation == "create"
        assert create_record.request_body["accountId"] == demo.account_id
        assert create_record.request_body["notifyUser"] is False
        assert client.delete("AccountUserRole", created.id) is None
    assert not any(r["id"] == created.id for r in demo.state.user_roles())
    delete_record = demo.requests[-1]
    assert (delete_record.operation, delete_record.status) == ("delete", 200)


def test_account_group_user_role_round_trip(demo: BoomiSimulator) -> None:
    gid = group_id(demo, "Sandbox")
    role_id = next(r["id"] for r in demo.state.assignable_roles()["Role"] if r["name"] == "Standard User")
    with client_for(demo) as client:
        created = client.create_account_group_user_role(gid, demo.email, role_id)
        assert created.account_group_id == gid
        assert [
            r.id for r in client.query_account_group_user_roles(QueryFilter.equals("accountGroupId", gid))
        ] == [created.id]
        client.delete("AccountGroupUserRole", created.id or "")
        assert list(client.query_account_group_user_roles(QueryFilter.equals("accountGroupId", gid))) == []


def test_second_delete_is_a_clear_400(demo: BoomiSimulator) -> None:
    row_id = demo.state.user_roles()[-1]["id"]
    with client_for(demo) as client:
        client.delete("AccountUserRole", row_id)
        with pytest.raises(BoomiBadRequestError) as info:
            client.delete("AccountUserRole", row_id)
    assert info.value.attempts == 1


def test_create_is_not_resent_after_a_dropped_connection(demo: BoomiSimulator) -> None:
    demo.set_faults([FaultRule(kind="drop", object_type="AccountUserRole", operation="create", count=1)])
    role_id = next(r["id"] for r in demo.state.assignable_roles()["Role"] if r["name"] == "Support")
    with client_for(demo) as client, pytest.raises(Exception, match="may or may not have been applied"):
        client.create_account_user_role("new.person@acme.example", role_id, notify_user=False)
    assert ops(demo, "AccountUserRole") == ["create"]


def test_create_is_resent_after_503(demo: BoomiSimulator) -> None:
    demo.set_faults([FaultRule(kind="503", object_type="AccountUserRole", operation="create", count=2)])
    role_id = next(r["id"] for r in demo.state.assignable_roles()["Role"] if r["name"] == "Support")
    with client_for(demo) as client:
        created = client.create_account_user_role("new.person@acme.example", role_id, notify_user=False)
    assert created.user_id == "new.person@acme.example"
    assert ops(demo, "AccountUserRole") == ["create"] * 3
