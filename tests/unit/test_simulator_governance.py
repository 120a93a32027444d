"""The simulator's governance objects, through its router (no sockets): data, switches, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_boomi.testing.simulator.api import ApiRouter, parse_target
from airflow_provider_boomi.testing.simulator.config import SimulatorConfig
from airflow_provider_boomi.testing.simulator.errors import SimulatorApiError
from airflow_provider_boomi.testing.simulator.filters import FilterDialect
from airflow_provider_boomi.testing.simulator.governance import (
    Governance,
    GovernanceSettings,
    parse_login_marker,
)
from airflow_provider_boomi.testing.simulator.paging import CursorStore
from airflow_provider_boomi.testing.simulator.profiles import build_state

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def router(profile: str = "demo", groups_mode: str = "empty", **settings: Any) -> ApiRouter:
    state = build_state(profile, 0)
    governance = Governance(state, GovernanceSettings(**settings), seed=0, now=NOW)
    return ApiRouter(state, CursorStore(), groups_mode, governance=governance)


def call(api: ApiRouter, method: str, tail: str, body: object = None) -> object:
    target = parse_target(method, f"/api/rest/v1/{api.state.account_id}/{tail}")
    raw = b"" if body is None else json.dumps(body).encode()
    return api.handle(target, raw)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="audit_log_mode"):
        GovernanceSettings(audit_log_mode="sometimes")
    with pytest.raises(ValueError, match="type/action/modifier"):
        parse_login_marker("account/ON_ENTRY")
    with pytest.raises(ValueError, match="login_marker"):
        SimulatorConfig(login_marker="x//y")
    assert SimulatorConfig(federation_mode="forbidden").governance_settings().federation_mode == "forbidden"


def test_the_demo_data_covers_the_cases_a_review_needs() -> None:
    api = router()
    governance = api.governance
    users = api.state.users()
    federated = {r["userId"] for r in governance.rows("AccountUserFederation")}
    assert 0 < len(federated) < len(users)
    last = governance.last_logins()
    never = {u["userId"] for u in users if not u["hasLoggedIn"]}
    assert never and not never & set(last)
    ages = [NOW - at for at in last.values()]
    assert any(a < timedelta(days=60) for a in ages)
    assert any(timedelta(days=100) <= a <= timedelta(days=115) for a in ages)
    assert any(a == timedelta(days=200) for a in ages)
    records = governance.rows("AuditLog")
    assert any(r["modifier"] == "FAILURE" and r["userId"] in never for r in records)  # not a login
    assert sum(r["type"] == "user" for r in records) == 6
    names = {e["name"] for e in governance.rows("Environment")}
    assert names == {"Production", "Test", "Development"}
    assert governance.sso_config()["enabled"] is True


def test_queries_filter_and_page_like_the_other_objects() -> None:
    api = router()
    page = call(api, "POST", "AuditLog/query")
    assert isinstance(page, dict) and page["numberOfResults"] == 100 and "queryToken" in page
    since = (NOW - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "QueryFilter": {"expression": {"operator": "GREATER_THAN", "property": "date", "argument": [since]}}
    }
    recent = call(api, "POST", "AuditLog/query", body)
    assert isinstance(recent, dict) and recent["result"]
    assert all(r["date"] > since for r in recent["result"])
    with pytest.raises(SimulatorApiError, match="Invalid query property"):
        call(
            api,
            "POST",
            "AuditLog/query",
            {"QueryFilter": {"expression": {"operator": "EQUALS", "property": "foo", "argument": ["x"]}}},
        )


def test_switches_refuse_or_empty() -> None:
    api = router(federation_mode="forbidden", sso_config_mode="forbidden", audit_log_mode="empty")
    with pytest.raises(SimulatorApiError) as refused:
        call(api, "POST", "AccountUserFederation/query")
    assert refused.value.status == 403
    with pytest.raises(SimulatorApiError):
        call(api, "GET", f"AccountSSOConfig/{api.state.account_id}")
    page = call(api, "POST", "AuditLog/query")
    assert isinstance(page, dict) and page["result"] == []
    with pytest.raises(SimulatorApiError) as other:
        call(router(), "GET", "AccountSSOConfig/another-ACCOUNT")
    assert other.value.status == 403


def test_account_group_coverage_follows_the_groups_mode_on_a_non_primary_account() -> None:
    page = call(router("non_primary"), "POST", "AccountGroupAccount/query")
    assert isinstance(page, dict) and page["result"] == []
    with pytest.raises(SimulatorApiError) as refused:
        call(router("non_primary", groups_mode="forbidden"), "POST", "AccountGroupAccount/query")
    assert refused.value.status == 403


def test_the_login_marker_shapes_the_records() -> None:
    api = router(login_marker="user/LOGIN/OK")
    kinds = {(r["type"], r["action"], r["modifier"]) for r in api.governance.rows("AuditLog")}
    assert ("user", "LOGIN", "OK") in kinds and ("account", "ON_ENTRY", "SUCCESS") not in kinds
    assert api.governance.last_logins()


def _accounts(api: ApiRouter, body: object = None) -> list[str]:
    page = call(api, "POST", "Account/query", body)
    assert isinstance(page, dict)
    return [a["accountId"] for a in page["result"]]


def _where(operator: str, prop: str, *args: str) -> dict[str, object]:
    return {"QueryFilter": {"expression": {"operator": operator, "property": prop, "argument": list(args)}}}


def test_a_partner_lists_its_sub_accounts_and_honours_the_filter() -> None:
    api = router()
    own = api.state.account_id
    every = _where("IS_NOT_NULL", "ACCOUNTID")
    assert _accounts(api, every) == [f"{own}-sub1", f"{own}-sub2", f"{own}-sub3"]
    assert _accounts(api, _where("EQUALS", "STATUS", "deleted")) == [f"{own}-sub3"]
    assert _accounts(api, _where("NOT_EQUALS", "STATUS", "deleted")) == [f"{own}-sub1", f"{own}-sub2"]
    assert _accounts(api, _where("IS_NULL", "EXPIRATIONDATE")) == [f"{own}-sub1"]
    # GET Account/{id} is still the account itself, not a sub-account.
    account = call(api, "GET", f"Account/{own}")
    assert isinstance(account, dict) and account["accountId"] == own
    # The schema's upper case is the default spelling; the examples' camel case is the other answer.
    with pytest.raises(SimulatorApiError, match="Invalid query property"):
        _accounts(api, _where("IS_NOT_NULL", "accountId"))
    camel = ApiRouter(
        api.state, CursorStore(), "empty", FilterDialect(account_property_case="camel"), api.governance
    )
    assert _accounts(camel, _where("EQUALS", "status", "trial")) == [f"{own}-sub2"]
    with pytest.raises(SimulatorApiError, match="Invalid query property"):
        _accounts(camel, every)


@pytest.mark.parametrize(
    ("profile", "mode", "listed"),
    [
        ("demo", "listed", ["sub1", "sub2", "sub3"]),
        ("demo", "with_self", ["", "sub1", "sub2", "sub3"]),
        ("demo", "self_only", [""]),
        ("demo", "empty", []),
        ("non_primary", "listed", []),
        ("non_primary", "with_self", [""]),
        ("non_primary", "self_only", [""]),
    ],
)
def test_the_sub_accounts_mode_decides_the_answer(profile: str, mode: str, listed: list[str]) -> None:
    api = router(profile, sub_accounts_mode=mode)
    own = api.state.account_id
    assert _accounts(api, _where("IS_NOT_NULL", "ACCOUNTID")) == [f"{own}-{s}" if s else own for s in listed]


def test_sub_accounts_are_refused_paged_and_validated() -> None:
    with pytest.raises(SimulatorApiError) as refused:
        _accounts(router("non_primary", sub_accounts_mode="forbidden"))
    assert refused.value.status == 403
    api = router(sub_accounts=120)
    page = call(api, "POST", "Account/query")
    assert isinstance(page, dict) and page["numberOfResults"] == 100 and "queryToken" in page
    rest = call(api, "POST", "Account/queryMore", page["queryToken"])
    assert isinstance(rest, dict) and rest["numberOfResults"] == 20 and "queryToken" not in rest
    ids = [a["accountId"] for a in page["result"] + rest["result"]]
    assert len(set(ids)) == 120 and rest["result"][-1]["name"].endswith("Retired Customer 120")
    with pytest.raises(ValueError, match="sub_accounts_mode"):
        GovernanceSettings(sub_accounts_mode="sometimes")
    with pytest.raises(ValueError, match="sub_accounts must be a whole number"):
        SimulatorConfig(sub_accounts=-1)
    with pytest.raises(ValueError, match="account_property_case"):
        SimulatorConfig(account_property_case="lower")
