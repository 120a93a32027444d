"""Every answer to Boomi's open questions (§g.1-§g.9) the simulator can play, over real loopback HTTP
with plain ``requests`` (deliberately not the project client)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule
from airflow_provider_boomi.testing.simulator.ratelimit import SlidingWindow, TokenBucket

STANDARD_USER = "fcb6e2d0-0ca8-11e2-a477-1231381987a5"
SUPPORT = "fcb6e474-0ca8-11e2-a477-1231381987a5"
BUILTIN_IDS = {
    "fcb6dd44-0ca8-11e2-a477-1231381987a5",
    STANDARD_USER,
    "fcb6e3b6-0ca8-11e2-a477-1231381987a5",
    SUPPORT,
}
JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}
REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ helpers


def session(sim: BoomiSimulator) -> requests.Session:
    s = requests.Session()
    s.auth = (f"BOOMI_TOKEN.{sim.email}", sim.token)
    s.headers.update(JSON_HEADERS)
    return s


def url(sim: BoomiSimulator, tail: str) -> str:
    return f"{sim.base_url}/{sim.account_id}/{tail}"


def simple(op: str, prop: str, *args: str) -> dict[str, Any]:
    return {"operator": op, "property": prop, "argument": list(args)}


def body(expression: dict[str, Any]) -> dict[str, Any]:
    return {"QueryFilter": {"expression": expression}}


def both(*expressions: dict[str, Any]) -> dict[str, Any]:
    return {"operator": "and", "nestedExpression": list(expressions)}


def either(*expressions: dict[str, Any]) -> dict[str, Any]:
    return {"operator": "or", "nestedExpression": list(expressions)}


def query(sim: BoomiSimulator, obj: str, payload: Any = None) -> requests.Response:
    return session(sim).post(url(sim, f"{obj}/query"), data=None if payload is None else json.dumps(payload))


def query_more(sim: BoomiSimulator, obj: str, token: str) -> requests.Response:
    return session(sim).post(url(sim, f"{obj}/queryMore"), data=token, headers={"Content-Type": "text/plain"})


def query_all(sim: BoomiSimulator, obj: str, payload: Any = None) -> list[dict[str, Any]]:
    """Every row of a query, following queryTokens."""
    page = query(sim, obj, payload)
    assert page.status_code == 200, page.text
    data = page.json()
    rows = list(data["result"])
    while "queryToken" in data:
        more = query_more(sim, obj, data["queryToken"])
        assert more.status_code == 200, more.text
        data = more.json()
        rows += data["result"]
    return rows


def assert_error(response: requests.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    message = response.json()["message"]
    for fragment in fragments:
        assert fragment in message, message


def role_id(sim: BoomiSimulator, name: str) -> str:
    role = sim.state.role_by_name(name)
    assert role is not None
    return str(role["id"])


@pytest.fixture(scope="module")
def default_sim() -> Iterator[BoomiSimulator]:
    """A demo account with every switch at its default."""
    with BoomiSimulator(profile="demo", rate_limit=None) as sim:
        yield sim


# ------------------------------------------------------------------ g.1 roleId filter of AccountUserRole


def _chain_query(sim: BoomiSimulator, *roles: str) -> dict[str, Any]:
    """``accountId EQUALS X and (roleId EQUALS a or roleId EQUALS b ...)``: one chain of a split read."""
    return body(
        both(
            simple("EQUALS", "accountId", sim.account_id),
            either(*(simple("EQUALS", "roleId", r) for r in roles)),
        )
    )


def test_role_id_honoured_by_default(default_sim: BoomiSimulator) -> None:
    developer, auditor = role_id(default_sim, "Developer"), role_id(default_sim, "Auditor")
    rows = query_all(default_sim, "AccountUserRole", _chain_query(default_sim, developer, auditor))
    expected = [r for r in default_sim.state.user_roles() if r["roleId"] in (developer, auditor)]
    assert rows == expected and 0 < len(rows) < len(default_sim.state.user_roles())


def test_role_id_ignored_drops_every_role_id_term() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, role_id_filter="ignored") as sim:
        everything = sim.state.user_roles()
        developer, auditor = role_id(sim, "Developer"), role_id(sim, "Auditor")
        assert query_all(sim, "AccountUserRole", _chain_query(sim, developer, auditor)) == everything
        for op in ("EQUALS", "NOT_EQUALS", "LIKE", "CONTAINS"):
            assert query_all(sim, "AccountUserRole", body(simple(op, "roleId", developer))) == everything
        # An ignored term first in an "and" must not narrow the read through an index either.
        user = "only.standard@acme.example"
        rows = query_all(
            sim,
            "AccountUserRole",
            body(both(simple("EQUALS", "roleId", developer), simple("EQUALS", "userId", user))),
        )
        assert [r["roleId"] for r in rows] == [STANDARD_USER]
        # Other objects still honour roleId.
        group_rows = query_all(sim, "AccountGroupUserRole", body(simple("EQUALS", "roleId", SUPPORT)))
        assert group_rows and all(r["roleId"] == SUPPORT for r in group_rows)


def test_role_id_refused_is_a_400() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, role_id_filter="refused") as sim:
        developer = role_id(sim, "Developer")
        for payload in (_chain_query(sim, developer), body(simple("NOT_EQUALS", "roleId", developer))):
            assert_error(
                query(sim, "AccountUserRole", payload),
                400,
                "Invalid query filter: property roleId is not filterable for AccountUserRole.",
            )
        assert query(sim, "AccountUserRole", body(simple("EQUALS", "accountId", sim.account_id))).ok
        assert query(sim, "AccountGroupUserRole", body(simple("EQUALS", "roleId", SUPPORT))).ok


# ------------------------------------------------------------------ g.2 built-in roles in Role/query


def test_builtin_roles_listed_by_default(default_sim: BoomiSimulator) -> None:
    ids = {r["id"] for r in query_all(default_sim, "Role") if r["accountId"] == "1"}
    assert ids == BUILTIN_IDS


def test_builtin_roles_by_id_only() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, builtin_roles="by_id_only") as sim:
        roles = query_all(sim, "Role")
        assert roles and all(r["accountId"] == sim.account_id for r in roles)
        assert len(roles) == len([r for r in sim.state.roles() if r["accountId"] != "1"])
        assert query_all(sim, "Role", body(simple("EQUALS", "name", "Standard User"))) == []
        got = session(sim).get(url(sim, f"Role/{STANDARD_USER}"))
        assert got.status_code == 200 and got.json()["name"] == "Standard User"
        assignable = session(sim).get(url(sim, "getAssignableRoles")).json()["Role"]
        assert {r["id"] for r in assignable} >= BUILTIN_IDS


def test_builtin_roles_by_id_only_without_advanced_user_security() -> None:
    with BoomiSimulator(
        profile="demo", rate_limit=None, builtin_roles="by_id_only", advanced_user_security=False
    ) as sim:
        assert query_all(sim, "Role") == []
        assert session(sim).get(url(sim, f"Role/{STANDARD_USER}")).status_code == 200
        assignable = session(sim).get(url(sim, "getAssignableRoles")).json()["Role"]
        assert {r["id"] for r in assignable} == BUILTIN_IDS


# ------------------------------------------------------------------ g.3 parentId of built-in roles


def _privileges(role: dict[str, Any]) -> set[str]:
    return {p["name"] for p in role["Privileges"]["Privilege"]}


def test_builtin_parent_standard_user_by_default(default_sim: BoomiSimulator) -> None:
    builtins = [r for r in query_all(default_sim, "Role") if r["accountId"] == "1"]
    assert {r.get("parentId") for r in builtins} == {STANDARD_USER}


def test_builtin_parent_none() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, builtin_parent="none") as sim:
        roles = query_all(sim, "Role")
        builtins = [r for r in roles if r["accountId"] == "1"]
        assert len(builtins) == 4 and all("parentId" not in r for r in builtins)
        assert "parentId" not in session(sim).get(url(sim, f"Role/{STANDARD_USER}")).json()
        assignable = session(sim).get(url(sim, "getAssignableRoles")).json()["Role"]
        assert all("parentId" not in r for r in assignable if r["id"] in BUILTIN_IDS)
        # Custom roles still parent Standard User; the built-ins' privileges are as listed.
        assert any(r.get("parentId") == STANDARD_USER for r in roles if r["accountId"] == sim.account_id)
        by_id = {r["id"]: r for r in builtins}
        assert _privileges(by_id[SUPPORT]) == {"VIEW_RESULT", "DASHBOARD"}
        assert not _privileges(by_id[STANDARD_USER]) <= _privileges(by_id[SUPPORT])


# ------------------------------------------------------------------ g.4 userId case


def test_user_id_case_insensitive_by_default(default_sim: BoomiSimulator) -> None:
    rows = query_all(
        default_sim, "AccountUserRole", body(simple("EQUALS", "userId", "mixed.case@example.com"))
    )
    assert rows and {r["userId"] for r in rows} == {"Mixed.Case@Example.COM"}


@pytest.mark.parametrize(
    ("operator", "argument", "matches"),
    [
        ("EQUALS", "mixed.case@example.com", False),
        ("EQUALS", "Mixed.Case@Example.COM", True),
        ("LIKE", "mixed.case%", False),
        ("LIKE", "Mixed.Case%", True),
        ("CONTAINS", "case@example", False),
        ("CONTAINS", "Case@Example", True),
    ],
)
def test_user_id_case_sensitive_filters(operator: str, argument: str, matches: bool) -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, user_id_case="sensitive") as sim:
        rows = query_all(sim, "AccountUserRole", body(simple(operator, "userId", argument)))
        assert bool(rows) is matches
        assert all(r["userId"] == "Mixed.Case@Example.COM" for r in rows)
        not_equal = query_all(sim, "AccountUserRole", body(simple("NOT_EQUALS", "userId", argument.lower())))
        assert any(r["userId"] == "Mixed.Case@Example.COM" for r in not_equal)


def test_user_id_case_sensitive_directory_invites_a_twin() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, user_id_case="sensitive") as sim:
        auditor = role_id(sim, "Auditor")  # Mixed.Case@Example.COM holds Auditor already
        created = session(sim).post(
            url(sim, "AccountUserRole"), json={"userId": "mixed.case@example.com", "roleId": auditor}
        )
        assert created.status_code == 200, created.text
        assert created.json()["userId"] == "mixed.case@example.com"
        spellings = [
            u["userId"] for u in sim.state.users() if u["userId"].lower() == "mixed.case@example.com"
        ]
        assert sorted(spellings) == ["Mixed.Case@Example.COM", "mixed.case@example.com"]
        twin = next(u for u in sim.state.users() if u["userId"] == "mixed.case@example.com")
        assert twin["inAccount"] and not twin["hasLoggedIn"]
        # Group grants need the exact spelling of a logged-in user.
        group_id = sim.state.account_groups()[3]["id"]
        for spelling in ("MIXED.CASE@EXAMPLE.COM", "mixed.case@example.com"):
            refused = session(sim).post(
                url(sim, "AccountGroupUserRole"),
                json={"accountGroupId": group_id, "userId": spelling, "roleId": auditor},
            )
            assert_error(refused, 400, "User must log in")
        granted = session(sim).post(
            url(sim, "AccountGroupUserRole"),
            json={"accountGroupId": group_id, "userId": "Mixed.Case@Example.COM", "roleId": auditor},
        )
        assert granted.status_code == 200 and granted.json()["userId"] == "Mixed.Case@Example.COM"


def test_user_id_case_insensitive_directory_has_no_twins() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None) as sim:
        auditor = role_id(sim, "Auditor")
        again = session(sim).post(
            url(sim, "AccountUserRole"), json={"userId": "mixed.case@example.com", "roleId": auditor}
        )
        assert_error(again, 400, "already has role")


# ------------------------------------------------------------------ g.5 rows of other accounts


def test_no_cross_account_rows_by_default(default_sim: BoomiSimulator) -> None:
    assert default_sim.state.foreign_user_roles() == []
    assert {r["accountId"] for r in query_all(default_sim, "AccountUserRole")} == {default_sim.account_id}


def test_cross_account_rows() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, cross_account_rows=True) as sim:
        own, foreign = sim.state.user_roles(), sim.state.foreign_user_roles()
        assert foreign and all(r["accountId"] != sim.account_id for r in foreign)
        assert {r["accountId"] for r in foreign} == {f"{sim.account_id}-sub1", f"{sim.account_id}-sub2"}
        assert len({r["id"] for r in own + foreign}) == len(own) + len(foreign)
        assert all(r["accountId"] == sim.account_id for r in own)

        # No accountId term: every account's rows, each with its own accountId.
        assert len(query_all(sim, "AccountUserRole")) == len(own) + len(foreign)
        user = foreign[0]["userId"]
        rows = query_all(sim, "AccountUserRole", body(simple("EQUALS", "userId", user)))
        assert {r["accountId"] for r in rows} >= {sim.account_id, foreign[0]["accountId"]}
        assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in own + foreign if r["userId"] == user)
        # accountId EQUALS this account: only this account's rows.
        scoped = query_all(
            sim,
            "AccountUserRole",
            body(both(simple("EQUALS", "accountId", sim.account_id), simple("EQUALS", "userId", user))),
        )
        assert scoped == [r for r in own if r["userId"] == user]
        assert query_all(sim, "AccountUserRole", body(simple("EQUALS", "accountId", sim.account_id))) == own

        # A foreign row cannot be deleted here, and does not count as the user's role here.
        assert_error(
            session(sim).delete(url(sim, f"AccountUserRole/{foreign[0]['id']}")),
            400,
            "No such AccountUserRole",
        )
        held_here = {r["roleId"] for r in own if r["userId"] == user}
        elsewhere = next(
            (r["roleId"] for r in foreign if r["userId"] == user and r["roleId"] not in held_here), None
        )
        if elsewhere is None:  # the foreign role is also held here: pick another user's row
            row = next(
                r
                for r in foreign
                if r["roleId"] not in {o["roleId"] for o in own if o["userId"] == r["userId"]}
            )
            user, elsewhere = row["userId"], row["roleId"]
        created = session(sim).post(url(sim, "AccountUserRole"), json={"userId": user, "roleId": elsewhere})
        assert created.status_code == 200, created.text
        assert created.json()["accountId"] == sim.account_id
        assert len(sim.state.foreign_user_roles()) == len(foreign)


def test_cross_account_rows_with_sensitive_case() -> None:
    with BoomiSimulator(
        profile="demo", rate_limit=None, cross_account_rows=True, user_id_case="sensitive"
    ) as sim:
        foreign = sim.state.foreign_user_roles()
        user = foreign[0]["userId"]
        rows = query_all(sim, "AccountUserRole", body(simple("EQUALS", "userId", user)))
        assert any(r["accountId"] != sim.account_id for r in rows)
        if user != user.upper():
            assert query_all(sim, "AccountUserRole", body(simple("EQUALS", "userId", user.upper()))) == []


# ------------------------------------------------------------------ g.6 account groups, non-primary


@pytest.mark.parametrize(("mode", "status"), [("bad_request", 400), ("not_found", 404)])
def test_groups_unknown_object_type(mode: str, status: int) -> None:
    with BoomiSimulator(profile="non_primary", rate_limit=None, groups_mode=mode) as sim:
        for obj in ("AccountGroup", "AccountGroupUserRole"):
            assert_error(query(sim, obj), status, f"Unknown object type {obj} for this account.")
        assert_error(session(sim).get(url(sim, "AccountGroup/anything")), status, "Unknown object type")
        assert query(sim, "Role").status_code == 200
    with BoomiSimulator(profile="demo", rate_limit=None, groups_mode=mode) as sim:
        assert len(query_all(sim, "AccountGroup")) == 4  # primary accounts are unaffected


def test_groups_default_group() -> None:
    with BoomiSimulator(profile="non_primary", rate_limit=None, groups_mode="default_group") as sim:
        groups = query_all(sim, "AccountGroup")
        assert len(groups) == 1
        group = groups[0]
        assert group["name"] == "All Accounts" and group["defaultGroup"] is True
        assert group["accountId"] == sim.account_id and group["@type"] == "AccountGroup"
        assert query_all(sim, "AccountGroup", body(simple("EQUALS", "name", "Sandbox"))) == []
        assert query_all(sim, "AccountGroup", body(simple("EQUALS", "defaultGroup", "true"))) == [group]
        assert query_all(sim, "AccountGroupUserRole") == []
        assert (
            query_all(sim, "AccountGroupUserRole", body(simple("EQUALS", "accountGroupId", group["id"])))
            == []
        )
        got = session(sim).get(url(sim, f"AccountGroup/{group['id']}")).json()
        assert got["Resources"]["Resource"] == [] and got["name"] == "All Accounts"


def test_groups_modes_keep_the_historic_two() -> None:
    with BoomiSimulator(profile="non_primary", rate_limit=None) as sim:
        assert query_all(sim, "AccountGroup") == []
    with BoomiSimulator(profile="non_primary", rate_limit=None, groups_mode="forbidden") as sim:
        assert_error(query(sim, "AccountGroup"), 403)


# ------------------------------------------------------------------ g.7 query tokens


def _first_token(sim: BoomiSimulator) -> tuple[dict[str, Any], str]:
    page = query(sim, "AccountUserRole").json()
    return page, page["queryToken"]


def test_query_tokens_single_use_by_default(default_sim: BoomiSimulator) -> None:
    _page, token = _first_token(default_sim)
    assert query_more(default_sim, "AccountUserRole", token).status_code == 200
    assert_error(query_more(default_sim, "AccountUserRole", token), 400, "Invalid query token.")


def test_query_tokens_reusable() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, query_tokens="reusable") as sim:
        _first, token = _first_token(sim)
        again = [query_more(sim, "AccountUserRole", token) for _ in range(3)]
        assert all(r.status_code == 200 for r in again)
        assert again[0].json() == again[1].json() == again[2].json()
        assert again[0].json()["result"] == sim.state.user_roles()[100:200]
        # The whole chain still reads every row exactly once.
        assert query_all(sim, "AccountUserRole") == sim.state.user_roles()
        assert_error(query_more(sim, "Role", token), 400, "Invalid query token.")  # bound to its object


def test_query_tokens_expiring() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, query_tokens="expiring", query_token_ttl=0.2) as sim:
        _page, token = _first_token(sim)
        assert query_more(sim, "AccountUserRole", token).status_code == 200  # fresh: fine
        assert_error(query_more(sim, "AccountUserRole", token), 400, "Invalid query token.")  # single use
        _page, token = _first_token(sim)
        time.sleep(0.4)
        assert_error(query_more(sim, "AccountUserRole", token), 400, "Invalid query token.")  # expired


def test_timeout_after_answer_consumes_the_token_then_drops() -> None:
    rule = FaultRule("timeout_after_answer", object_type="AccountUserRole", operation="queryMore", count=1)
    with BoomiSimulator(profile="demo", rate_limit=None, faults=[rule]) as sim:
        _page, token = _first_token(sim)
        with pytest.raises(requests.ConnectionError):
            query_more(sim, "AccountUserRole", token)
        # The first attempt reached Boomi: the retry of the same token is refused.
        assert_error(query_more(sim, "AccountUserRole", token), 400, "Invalid query token.")
        more = [r for r in sim.requests if r.operation == "queryMore"]
        assert [(r.status, r.fault) for r in more] == [(0, "timeout_after_answer"), (400, None)]


def test_timeout_after_answer_with_reusable_tokens_retries_cleanly() -> None:
    rule = FaultRule("timeout_after_answer", object_type="AccountUserRole", operation="queryMore", count=1)
    with BoomiSimulator(profile="demo", rate_limit=None, faults=[rule], query_tokens="reusable") as sim:
        _page, token = _first_token(sim)
        with pytest.raises(requests.ConnectionError):
            query_more(sim, "AccountUserRole", token)
        retried = query_more(sim, "AccountUserRole", token)
        assert retried.status_code == 200 and retried.json()["result"] == sim.state.user_roles()[100:200]


def test_timeout_after_answer_applies_a_write() -> None:
    rule = FaultRule("timeout_after_answer", object_type="AccountUserRole", operation="create", count=1)
    with BoomiSimulator(profile="demo", rate_limit=None, faults=[rule]) as sim:
        grant = {"userId": "only.standard@acme.example", "roleId": role_id(sim, "Auditor")}
        with pytest.raises(requests.ConnectionError):
            session(sim).post(url(sim, "AccountUserRole"), json=grant)
        held = {r["roleId"] for r in sim.state.user_roles() if r["userId"] == grant["userId"]}
        assert grant["roleId"] in held
        assert_error(session(sim).post(url(sim, "AccountUserRole"), json=grant), 400, "already has role")


# ------------------------------------------------------------------ g.8 rate limiter


def _statuses(sim: BoomiSimulator, n: int) -> list[int]:
    s = session(sim)
    return [s.post(url(sim, "Role/query")).status_code for _ in range(n)]


def _max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most admissions any ``window``-second interval holds."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_token_bucket_by_default() -> None:
    with BoomiSimulator(profile="empty") as sim:
        assert isinstance(sim.rate_limiter, TokenBucket) and sim.rate_limiter.rate == 10.0


def test_sliding_window_admits_at_most_the_rate_in_any_second() -> None:
    with BoomiSimulator(profile="empty", rate_limit=5, rate_limiter="sliding_window") as sim:
        limiter = sim.rate_limiter
        assert isinstance(limiter, SlidingWindow)
        statuses = _statuses(sim, 25)
        admitted = limiter.admitted()
        assert statuses.count(200) == len(admitted) >= 5
        assert statuses.count(503) == len([r for r in sim.requests if r.fault == "rate_limited"]) > 0
        assert _max_in_any_window(admitted) <= 5
        assert all(later - earlier >= 1.0 for earlier, later in zip(admitted, admitted[5:], strict=False))


def test_sliding_window_rate_can_be_changed_and_disabled() -> None:
    with BoomiSimulator(profile="empty", rate_limit=1, rate_limiter="sliding_window") as sim:
        limiter = sim.rate_limiter
        assert isinstance(limiter, SlidingWindow)
        sim.set_rate_limit(None)
        assert _statuses(sim, 30) == [200] * 30
        sim.set_rate_limit(2)
        statuses = _statuses(sim, 10)
        assert statuses.count(200) == len(limiter.admitted()) >= 2
        assert _max_in_any_window(limiter.admitted()) <= 2 and 503 in statuses


# ------------------------------------------------------------------ g.9 filter operators


def test_lenient_operators_by_default(default_sim: BoomiSimulator) -> None:
    rows = query_all(default_sim, "Role", body(simple("STARTS_WITH", "name", "Standard")))
    assert [r["name"] for r in rows] == ["Standard User"]


def test_schema_operators() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, filter_operators="schema") as sim:
        assert_error(query(sim, "Role", body(simple("STARTS_WITH", "name", "S"))), 400, "STARTS_WITH", "Role")
        assert_error(
            query(sim, "AccountUserRole", body(simple("STARTS_WITH", "userId", "a"))), 400, "AccountUserRole"
        )
        assert_error(query(sim, "Role", body(simple("EQUALS", "id", STANDARD_USER))), 400, "'id'", "Role")
        for op, args in (
            ("EQUALS", ["Support"]),
            ("LIKE", ["sup%"]),
            ("CONTAINS", ["upp"]),
            ("IS_NOT_NULL", []),
        ):
            assert query(sim, "Role", body(simple(op, "name", *args))).status_code == 200
        nested = body(
            both(simple("EQUALS", "accountId", sim.account_id), simple("STARTS_WITH", "userId", "a"))
        )
        assert_error(query(sim, "AccountUserRole", nested), 400, "STARTS_WITH")


def test_role_equals_only_operators() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, filter_operators="role_equals_only") as sim:
        assert [r["name"] for r in query_all(sim, "Role", body(simple("EQUALS", "name", "Support")))] == [
            "Support"
        ]
        for op, args in (("LIKE", ["sup%"]), ("NOT_EQUALS", ["x"]), ("IS_NULL", []), ("STARTS_WITH", ["S"])):
            assert_error(query(sim, "Role", body(simple(op, "name", *args))), 400, op, "Role accepts: EQUALS")
        assert query(sim, "AccountUserRole", body(simple("LIKE", "userId", "a%"))).status_code == 200
        assert_error(
            query(sim, "AccountUserRole", body(simple("STARTS_WITH", "userId", "a"))), 400, "STARTS_WITH"
        )


# ------------------------------------------------------------------ userId terms grouped with "or"


def _users_query(sim: BoomiSimulator, *users: str, group_id: str | None = None) -> dict[str, Any]:
    """One batched read of provisioning: ``accountId`` (or ``accountGroupId``) and an ``or`` of
    ``userId EQUALS`` terms."""
    scope = (
        simple("EQUALS", "accountGroupId", group_id)
        if group_id
        else simple("EQUALS", "accountId", sim.account_id)
    )
    return body(both(scope, either(*(simple("EQUALS", "userId", u) for u in users))))


def _two_users(sim: BoomiSimulator) -> tuple[str, str]:
    users = sorted({r["userId"] for r in sim.state.user_roles()})
    return users[0], users[1]


def test_user_id_or_honoured_by_default(default_sim: BoomiSimulator) -> None:
    a, b = _two_users(default_sim)
    rows = query_all(default_sim, "AccountUserRole", _users_query(default_sim, a.upper(), b))
    # Case-insensitive userId (the default §g.4 answer) inside the grouping too.
    assert rows == [r for r in default_sim.state.user_roles() if r["userId"] in (a, b)] and rows
    group = next(r for r in default_sim.state.group_roles())
    group_rows = query_all(
        default_sim,
        "AccountGroupUserRole",
        _users_query(default_sim, group["userId"], a, group_id=group["accountGroupId"]),
    )
    assert group in group_rows
    assert all(
        r["accountGroupId"] == group["accountGroupId"] and r["userId"] in (group["userId"], a)
        for r in group_rows
    )


def test_user_id_or_ignored_drops_the_grouping(make_simulator: Any) -> None:
    sim = make_simulator(user_id_or_filter="ignored")
    a, b = _two_users(sim)
    # The grouping is dropped, the accountId term kept: every row of the account.
    assert query_all(sim, "AccountUserRole", _users_query(sim, a, b)) == sim.state.user_roles()
    group_id = sim.state.group_roles()[0]["accountGroupId"]
    assert query_all(sim, "AccountGroupUserRole", _users_query(sim, a, b, group_id=group_id)) == [
        r for r in sim.state.group_roles() if r["accountGroupId"] == group_id
    ]
    # A lone userId term, and an "or" of other properties, still filter.
    assert {r["userId"] for r in query_all(sim, "AccountUserRole", body(simple("EQUALS", "userId", a)))} == {
        a
    }
    developer, auditor = role_id(sim, "Developer"), role_id(sim, "Auditor")
    rows = query_all(sim, "AccountUserRole", _chain_query(sim, developer, auditor))
    assert rows and all(r["roleId"] in (developer, auditor) for r in rows)
    # Still validated: a malformed term inside the dropped grouping is a 400.
    bad = body(either(simple("EQUALS", "userId", a), simple("EQUALS", "userId")))
    assert_error(query(sim, "AccountUserRole", bad), 400, "EQUALS")


def test_user_id_or_refused_is_a_400(make_simulator: Any) -> None:
    sim = make_simulator(user_id_or_filter="refused")
    a, b = _two_users(sim)
    for obj, payload in (
        ("AccountUserRole", _users_query(sim, a, b)),
        (
            "AccountGroupUserRole",
            _users_query(sim, a, b, group_id=sim.state.group_roles()[0]["accountGroupId"]),
        ),
    ):
        assert_error(query(sim, obj, payload), 400, f"userId terms cannot be grouped with 'or' for {obj}")
    assert query(
        sim,
        "AccountUserRole",
        body(both(simple("EQUALS", "accountId", sim.account_id), simple("EQUALS", "userId", a))),
    ).ok
    assert query(
        sim, "AccountUserRole", _chain_query(sim, role_id(sim, "Developer"), role_id(sim, "Auditor"))
    ).ok


# ------------------------------------------------------------------ presets and settings plumbing


def test_dialect_presets_and_explicit_overrides() -> None:
    with BoomiSimulator(profile="demo", rate_limit=None, dialect="soap_pages") as sim:
        assert (sim.config.role_id_filter, sim.config.builtin_roles, sim.config.filter_operators) == (
            "ignored",
            "by_id_only",
            "role_equals_only",
        )
        assert all(r["accountId"] != "1" for r in query_all(sim, "Role"))
        assert query(sim, "Role", body(simple("LIKE", "name", "%"))).status_code == 400
    strict = BoomiSimulator(
        profile="empty", dialect="strict", filter_operators="lenient", query_token_ttl=60.0
    )
    assert strict.config.filter_operators == "lenient" and strict.config.query_token_ttl == 60.0
    assert strict.config.user_id_case == "sensitive" and strict.config.cross_account_rows is True
    assert isinstance(strict.rate_limiter, SlidingWindow) and strict.config.dialect == "strict"
    with pytest.raises(ValueError, match="dialect"):
        BoomiSimulator(profile="empty", dialect="nonsense")


def test_cli_serves_a_dialect(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_boomi.testing.simulator", "--profile", "non_primary",
         "--rate-limit", "0", "--groups-mode", "default_group", "--dialect", "soap_pages",
         "--role-id-filter", "refused", "--ready-file", str(ready)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the simulator did not become ready"
            time.sleep(0.05)
        facts = json.loads(ready.read_text())
        base = f"{facts['base_url']}/{facts['account_id']}"
        s = requests.Session()
        s.auth = (f"BOOMI_TOKEN.{facts['email']}", facts["token"])
        s.headers.update(JSON_HEADERS)
        groups = s.post(f"{base}/AccountGroup/query").json()["result"]
        assert [g["name"] for g in groups] == ["All Accounts"]
        roles = s.post(f"{base}/Role/query").json()["result"]
        assert roles and all(r["accountId"] != "1" for r in roles)  # from the preset
        refused = s.post(f"{base}/AccountUserRole/query", json=body(simple("EQUALS", "roleId", SUPPORT)))
        assert refused.status_code == 400  # the explicit flag beat the preset's "ignored"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0
