"""Account state semantics, profiles, fault rules and the rate limiter of the simulator (no HTTP)."""

from __future__ import annotations

import time

import pytest

from airflow_provider_boomi.testing.simulator import FaultRule, SimulatorApiError, SimulatorConfig
from airflow_provider_boomi.testing.simulator.faults import FaultInjector
from airflow_provider_boomi.testing.simulator.filters import compile_query
from airflow_provider_boomi.testing.simulator.profiles import NON_CANONICAL_ROLE_ID, build_state, generate
from airflow_provider_boomi.testing.simulator.ratelimit import TokenBucket
from airflow_provider_boomi.testing.simulator.state import (
    ADMINISTRATOR_ID,
    CANONICAL_ID,
    STANDARD_USER_ID,
    SimulatorState,
    conceptual_id,
)

BUILTIN_IDS = {
    "Administrator": "fcb6dd44-0ca8-11e2-a477-1231381987a5",
    "Standard User": "fcb6e2d0-0ca8-11e2-a477-1231381987a5",
    "Production Support": "fcb6e3b6-0ca8-11e2-a477-1231381987a5",
    "Support": "fcb6e474-0ca8-11e2-a477-1231381987a5",
}


@pytest.fixture
def state() -> SimulatorState:
    return build_state("demo", 0)


def _in_account(state: SimulatorState, user_id: str) -> bool:
    return next(u for u in state.users() if u["userId"].lower() == user_id.lower())["inAccount"]


# ------------------------------------------------------------------ profiles


@pytest.mark.parametrize("profile", ["demo", "large", "non_primary"])
def test_every_profile_carries_the_edge_cases(profile: str) -> None:
    state = build_state(profile, 3)
    users = {u["userId"]: u for u in state.users()}
    rows = state.user_roles()
    roles_of: dict[str, set[str]] = {}
    for r in rows:
        roles_of.setdefault(r["userId"], set()).add(r["roleId"])
    names = {(u["firstName"], u["lastName"]) for u in users.values()}
    assert {("Zoë", "Ångström"), ("李", "雷"), ("José", "Niño")} <= names
    assert any("+" in u for u in users if users[u]["inAccount"])
    assert "Mixed.Case@Example.COM" in users and users["Mixed.Case@Example.COM"]["inAccount"]
    assert max(len(v) for v in roles_of.values()) >= 8
    assert any(NON_CANONICAL_ROLE_ID in v for v in roles_of.values())
    assert state.role_by_name("Legacy Partner Role")["id"] == NON_CANONICAL_ROLE_ID  # type: ignore[index]
    assert not CANONICAL_ID.match(NON_CANONICAL_ROLE_ID)
    assert any(u["inAccount"] and not u["hasLoggedIn"] for u in users.values())
    assert any(v == {STANDARD_USER_ID} for v in roles_of.values())
    # Custom roles that parent another custom role: effective privileges need recursion.
    roles = {r["id"]: r for r in state.roles()}
    custom = {i for i, r in roles.items() if r["accountId"] == state.account_id}
    assert any(r.get("parentId") in custom for r in roles.values())
    for name, role_id in BUILTIN_IDS.items():
        assert roles[role_id]["name"] == name and roles[role_id]["accountId"] == "1"
    admin_privs = {p["name"] for p in roles[ADMINISTRATOR_ID]["Privileges"]["Privilege"]}
    assert {"API", "ACCOUNT_ADMIN"} <= admin_privs
    if profile != "non_primary":
        members: dict[str, int] = {}
        for g in state.group_roles():
            members[g["accountGroupId"]] = members.get(g["accountGroupId"], 0) + 1
        assert 100 in members.values() and 101 in members.values()
        group_users = {g["userId"] for g in state.group_roles()}
        assert any(not users[u]["inAccount"] for u in group_users)
        assert sum(g["defaultGroup"] for g in state.account_groups()) == 1
        assert any(g["name"] == "All Accounts" and g["defaultGroup"] for g in state.account_groups())
    else:
        assert state.account_groups() == [] and not state.primary


def test_demo_sizes_and_account_id() -> None:
    state = build_state("demo", 0)
    users = state.users()
    assert 12 <= len(state.roles()) <= 15
    assert 40 <= len(users) < 300
    assert 100 <= len(state.user_roles()) <= 300
    assert len(state.account_groups()) == 4
    assert state.account_id.startswith("acme-") and len(state.account_id) == 11
    assert state.account_id[5:].isupper() or state.account_id[5:].isalnum()


def test_seed_changes_names_not_sizes() -> None:
    a, b = generate("demo", 1), generate("demo", 2)
    assert len(a.users) == len(b.users) and len(a.user_roles) == len(b.user_roles)
    assert len(a.group_roles) == len(b.group_roles)
    assert [u[0] for u in a.users] != [u[0] for u in b.users]
    assert generate("demo", 1).users == a.users  # deterministic


def test_large_profile_is_big_and_fast() -> None:
    started = time.perf_counter()
    state = build_state("large", 0)
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0
    assert sum(u["inAccount"] for u in state.users()) == 10_000
    assert 55 <= len(state.roles()) <= 65
    assert len(state.account_groups()) == 200
    assert 24_000 <= len(state.user_roles()) <= 26_000
    assert 39_000 <= len(state.group_roles()) <= 41_000


def test_empty_profile() -> None:
    state = build_state("empty", 0, api_email="me@corp.example")
    assert {r["name"] for r in state.roles()} == set(BUILTIN_IDS)
    assert [u["userId"] for u in state.users()] == ["me@corp.example"]
    assert [r["roleId"] for r in state.user_roles()] == [ADMINISTRATOR_ID]


def test_ids_are_opaque_deterministic_and_alphanumeric(state: SimulatorState) -> None:
    row = state.user_roles()[0]
    assert len(row["id"]) == 70 and row["id"].isalnum()
    assert row["id"] == conceptual_id(state.account_id, row["userId"].lower(), row["roleId"])
    assert build_state("demo", 0).user_roles()[0]["id"] == row["id"]


# ------------------------------------------------------------------ grant semantics


def test_grant_invites_an_unknown_user_with_default_names(state: SimulatorState) -> None:
    row = state.grant_role("dana.lee+x@new.example", STANDARD_USER_ID)
    assert (row["firstName"], row["lastName"]) == ("Dana", "Lee")
    user = next(u for u in state.users() if u["userId"] == "dana.lee+x@new.example")
    assert user["inAccount"] and not user["hasLoggedIn"]
    named = state.grant_role("kim@new.example", STANDARD_USER_ID, first_name="Kim", last_name="Ng")
    assert (named["firstName"], named["lastName"]) == ("Kim", "Ng")


def test_grant_to_existing_user_ignores_names(state: SimulatorState) -> None:
    auditor = state.role_by_name("Auditor")["id"]  # type: ignore[index]
    row = state.grant_role("only.standard@acme.example", auditor, first_name="X", last_name="Y")
    assert (row["firstName"], row["lastName"]) == ("Olga", "Standard")


def test_grant_matches_existing_user_case_insensitively(state: SimulatorState) -> None:
    row = state.grant_role("mixed.case@example.com", STANDARD_USER_ID)
    assert row["userId"] == "Mixed.Case@Example.COM"
    with pytest.raises(SimulatorApiError, match="already has role"):
        state.grant_role("MIXED.CASE@EXAMPLE.COM", STANDARD_USER_ID)


@pytest.mark.parametrize(
    ("user", "role", "message"),
    [
        ("not-an-email", STANDARD_USER_ID, "valid email"),
        ("x@y.example", "01234567-89ab-cdef-0123-456789abcdef", "does not exist"),
        ("x@y.example", NON_CANONICAL_ROLE_ID, "cannot be assigned through the API"),
        ("only.standard@acme.example", STANDARD_USER_ID, "already has role"),
    ],
)
def test_grant_refusals_are_400(state: SimulatorState, user: str, role: str, message: str) -> None:
    with pytest.raises(SimulatorApiError) as err:
        state.grant_role(user, role)
    assert err.value.status == 400 and message in err.value.message


def test_revoking_last_role_removes_user_but_keeps_group_rows(state: SimulatorState) -> None:
    group_member = next(g["userId"] for g in state.group_roles() if _in_account(state, g["userId"]))
    held = [r["roleId"] for r in state.user_roles() if r["userId"] == group_member]
    before = [g for g in state.group_roles() if g["userId"] == group_member]
    for role_id in held:
        assert _in_account(state, group_member)
        state.revoke_role(group_member, role_id)
    assert not _in_account(state, group_member)
    assert [g for g in state.group_roles() if g["userId"] == group_member] == before
    with pytest.raises(SimulatorApiError, match="No such AccountUserRole"):
        state.revoke_role(group_member, held[0])


def test_group_roles_need_a_logged_in_user(state: SimulatorState) -> None:
    group_id = state.account_groups()[3]["id"]
    with pytest.raises(SimulatorApiError, match="must log in to the platform"):
        state.add_group_role(group_id, "new.hire@acme.example", STANDARD_USER_ID)
    with pytest.raises(SimulatorApiError, match="must log in to the platform"):
        state.add_group_role(group_id, "nobody@acme.example", STANDARD_USER_ID)
    state.set_logged_in("new.hire@acme.example", True)
    row = state.add_group_role(group_id, "new.hire@acme.example", STANDARD_USER_ID)
    assert set(row) == {"@type", "id", "accountGroupId", "userId", "roleId", "firstName", "lastName"}
    with pytest.raises(SimulatorApiError, match="already has role"):
        state.add_group_role(group_id, "NEW.HIRE@acme.example", STANDARD_USER_ID)
    with pytest.raises(SimulatorApiError, match="does not exist"):
        state.add_group_role("no-such-group", "new.hire@acme.example", STANDARD_USER_ID)
    state.remove_group_role(group_id, "new.hire@acme.example", STANDARD_USER_ID)
    with pytest.raises(SimulatorApiError, match="No such AccountGroupUserRole"):
        state.remove_group_role(group_id, "new.hire@acme.example", STANDARD_USER_ID)


def test_directory_user_and_custom_role(state: SimulatorState) -> None:
    state.add_user("outsider@else.example", "Out", "Sider", logged_in=True)
    assert not _in_account(state, "outsider@else.example")
    role = state.add_role("Temp", ["DEPLOY"], parent_id=STANDARD_USER_ID)
    assert CANONICAL_ID.match(role["id"]) and role["accountId"] == state.account_id
    state.grant_role("outsider@else.example", role["id"])
    assert _in_account(state, "outsider@else.example")
    assert state.add_role("NoParent", [])["Privileges"] == {"@type": "Privileges", "Privilege": []}
    assert "parentId" not in state.add_role("NoParent2", [])


def test_indexed_and_scanned_queries_agree(state: SimulatorState) -> None:
    group_id = state.account_groups()[1]["id"]
    expr = {"operator": "EQUALS", "property": "accountGroupId", "argument": [group_id]}
    indexed = state.query(
        "AccountGroupUserRole", compile_query({"QueryFilter": {"expression": expr}}, "AccountGroupUserRole")
    )
    wrapped = {"operator": "or", "nestedExpression": [expr]}  # no index hint: full scan
    scanned = state.query(
        "AccountGroupUserRole",
        compile_query({"QueryFilter": {"expression": wrapped}}, "AccountGroupUserRole"),
    )
    assert indexed == scanned and len(indexed) == 100


def test_a_none_of_these_roles_query_served_by_the_index_selects_what_a_scan_selects(
    state: SimulatorState,
) -> None:
    # The client's "none of the known roles" chain: accountId EQUALS and one NOT_EQUALS per role.
    rows = state.user_roles()
    role_ids = sorted({row["roleId"] for row in rows})
    terms = [{"operator": "EQUALS", "property": "accountId", "argument": [state.account_id]}]
    terms += [{"operator": "NOT_EQUALS", "property": "roleId", "argument": [r]} for r in role_ids[:-1]]
    compiled = compile_query(
        {"QueryFilter": {"expression": {"operator": "and", "nestedExpression": terms}}}, "AccountUserRole"
    )
    assert compiled.index_none == (("roleId", frozenset(role_ids[:-1])),)
    served = state.query("AccountUserRole", compiled)
    assert served == [row for row in rows if compiled.predicate(row)]
    assert served and {row["roleId"] for row in served} == {role_ids[-1]}


def test_accessors_return_copies(state: SimulatorState) -> None:
    state.roles()[0]["name"] = "changed"
    state.user_roles()[0]["userId"] = "changed"
    assert state.roles()[0]["name"] != "changed" and state.user_roles()[0]["userId"] != "changed"


def test_without_advanced_user_security_only_builtin_roles_show() -> None:
    state = build_state("demo", 0, advanced_user_security=False)
    from airflow_provider_boomi.testing.simulator.filters import MATCH_ALL

    assert {r["accountId"] for r in state.query("Role", MATCH_ALL)} == {"1"}


# ------------------------------------------------------------------ faults, rate limit, config


def test_fault_rule_parse() -> None:
    rule = FaultRule.parse("503:count=5,object=Role,op=query,after=2,p=0.5,retry_after=1,delay=3")
    assert rule == FaultRule("503", "Role", "query", 2, 5, 0.5, 1.0, 3.0)
    assert FaultRule.parse("drop") == FaultRule("drop")
    for bad in ("418", "503:bogus=1", "503:count"):
        with pytest.raises(ValueError):
            FaultRule.parse(bad)


def test_fault_injector_after_count_and_targeting() -> None:
    injector = FaultInjector([FaultRule("503", object_type="Role", after=2, count=3)])
    picks = [injector.pick("Role", "query") for _ in range(8)]
    assert [p is not None for p in picks] == [False, False, True, True, True, False, False, False]
    assert injector.pick("AccountUserRole", "query") is None


def test_fault_probability_is_seeded() -> None:
    def run(seed: int) -> list[bool]:
        injector = FaultInjector([FaultRule("500", probability=0.5)], seed=seed)
        return [injector.pick("Role", "query") is not None for _ in range(200)]

    assert run(7) == run(7)
    assert 50 < sum(run(7)) < 150


def test_token_bucket() -> None:
    bucket = TokenBucket(5)
    assert sum(bucket.try_acquire() for _ in range(20)) in range(5, 8)
    assert all(TokenBucket(None).try_acquire() for _ in range(1000))
    assert all(TokenBucket(0).try_acquire() for _ in range(1000))
    slow = TokenBucket(0.5)
    assert sum(slow.try_acquire() for _ in range(5)) == 1  # capacity never below one


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        SimulatorConfig(groups_mode="hidden")
    with pytest.raises(ValueError):
        SimulatorConfig(rate_limit_status=500)
