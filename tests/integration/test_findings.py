"""Findings against the simulator: every finding exact, from the raw simulator state.

The scenario (``build_scenario``) changes the demo account through the simulator's own state
(conflicting roles granted directly and through groups), syncs it over HTTP, and derives a
people table, logins, federation ids and earlier revocations from the simulator's users: some
ended, some dropped (orphans), a service account with and one without an owner, duplicates and
federation ids that make identities ambiguous. ``expected_findings`` then computes what every
rule must find from the simulator's raw rows, without the package's code, and the tests compare
the findings table, the identities, the review campaign's grants and the operator's result.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_boomi.access.sync import sync_account
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.findings import (
    FindingsResult,
    SnapshotTables,
    compute_findings,
    flags_by_grant,
    load_people,
    load_sod_policy,
    managers_by_user,
    people_from_sql,
    read_findings,
    write_findings,
)
from airflow_provider_boomi.review import build_campaign
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.conftest import load_dag
from tests.helpers import make_client

POSTGRES_URL = os.environ.get("BOOMI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DORMANT_DAYS = 90
COLUMNS = [
    "email",
    "employee_id",
    "status",
    "end_date",
    "manager_email",
    "department",
    "federation_id",
    "kind",
    "owner_email",
]
BOSS = "boss@acme.example"
OTHER_MANAGER = "manager.two@acme.example"
POLICY = """
version = 1

[[rules]]
name = "release-and-audit"
description = "Whoever ships must not sign off the audit trail."
roles = ["{release}", "auditor"]
severity = "critical"

[[rules]]
name = "build-and-run-in-one-group"
roles = ["Developer", "Operator"]
scope = "group"
"""

# -------------------------------------------------------------------------------------- scenario


@dataclass
class Scenario:
    """Everything a test needs: the store, the inputs, the result and what it must contain."""

    store_root: Path
    findings_root: Path
    account_id: str
    sync_id: str
    synced_at: datetime
    people_csv: Path
    people_rows: list[dict[str, str]]
    policy_path: Path
    logins: pa.Table
    federation: pa.Table
    revocations: pa.Table
    result: FindingsResult
    expected: dict[tuple[str, str, str], tuple[str, frozenset[str]]]
    expected_managers: dict[str, str | None]
    picks: dict[str, str]
    raw: dict[str, Any]


def _role_id(state: Any, name: str) -> str:
    role = state.role_by_name(name)
    assert role is not None, name
    return str(role["id"])


def _group_id(state: Any, name: str) -> str:
    return next(g["id"] for g in state.account_groups() if g["name"] == name)


def _raw(state: Any) -> dict[str, Any]:
    """The simulator's rows as the test reads them: grants per user with their ids."""
    grants: dict[str, dict[str, tuple[str, str | None]]] = {}  # user -> grant id -> (role, group)
    for row in state.user_roles():
        grants.setdefault(row["userId"], {})[f"role:{row['roleId']}:assigned:user:{row['userId']}"] = (
            row["roleId"],
            None,
        )
    for row in state.group_roles():
        gid = f"account_group:{row['accountGroupId']}:{row['roleId']}:user:{row['userId']}"
        grants.setdefault(row["userId"], {})[gid] = (row["roleId"], row["accountGroupId"])
    roles = {r["id"]: r for r in state.roles()}
    return {
        "grants": grants,
        "roles": roles,
        "logged_in": {u["userId"]: u["hasLoggedIn"] for u in state.users()},
    }


def _privileged_roles(roles: dict[str, dict[str, Any]]) -> set[str]:
    """The default preset, applied to the simulator's roles: Administrator by name, or
    ACCOUNT_ADMIN / API among the privileges of the role and its custom parents (a built-in role
    ends the chain, keeping its own privileges)."""
    result = set()
    for role_id, role in roles.items():
        privileges: set[str] = set()
        current: str | None = role_id
        seen: set[str] = set()
        while current is not None and current not in seen and current in roles:
            seen.add(current)
            node = roles[current]
            privileges |= {p["name"] for p in node.get("Privileges", {}).get("Privilege", [])}
            if node.get("accountId") == "1":
                break
            current = node.get("parentId")
        if role["name"] == "Administrator" or privileges & {"ACCOUNT_ADMIN", "API"}:
            result.add(role_id)
    return result


def _make_conflicts(state: Any, candidates: list[str]) -> dict[str, str]:
    """Grant conflicting roles to four users who held none of them: directly, through a group, in
    one group, and across two groups (which the group-scoped rule must not flag)."""
    release, auditor = _role_id(state, "Release Manager"), _role_id(state, "Auditor")
    developer, operator = _role_id(state, "Developer"), _role_id(state, "Operator")
    sandbox, emea = _group_id(state, "Sandbox"), _group_id(state, "EMEA Customers")
    raw = _raw(state)
    free = [
        u
        for u in candidates
        if raw["logged_in"].get(u)
        and not {release, auditor, developer, operator} & {r for r, _g in raw["grants"][u].values()}
    ]
    direct, mixed, one_group, two_groups = free[:4]
    state.grant_role(direct, release)
    state.grant_role(direct, auditor)
    state.grant_role(mixed, release)
    state.add_group_role(emea, mixed, auditor)
    state.add_group_role(sandbox, one_group, developer)
    state.add_group_role(sandbox, one_group, operator)
    state.add_group_role(sandbox, two_groups, developer)
    state.add_group_role(emea, two_groups, operator)
    return {
        "sod_direct": direct,
        "sod_mixed": mixed,
        "sod_one_group": one_group,
        "sod_two_groups": two_groups,
    }


def _people(
    users: list[str], api_user: str, as_of: date, logged_in: dict[str, bool]
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The people table: most users active, some ended, some dropped, services and ambiguities."""
    specials = {api_user, "legacy.partner@acme.example", "Mixed.Case@Example.COM"}
    regular = [u for u in users if u not in specials]
    picks = {
        "terminated": regular[0],
        "end_date_past": regular[1],
        "end_date_future": regular[2],
        "end_date_today": regular[3],
        "on_leave": regular[4],
        "orphan_1": regular[5],
        "orphan_2": regular[6],
        "orphan_3": regular[7],
        "duplicate": regular[8],
        "fed_conflict": regular[9],
        "fed_only": regular[10],
        "no_login_row": regular[11],
        "regranted": regular[12],
    }
    # Whose last login is set by the test must have logged in (the others have no login at all).
    active = [u for u in regular[13:] if logged_in[u]]
    picks |= {
        "stale_1": active[0],
        "stale_2": active[1],
        "stale_exact": active[2],
        "recent_enough": active[3],
    }
    orphans = {picks["orphan_1"], picks["orphan_2"], picks["orphan_3"]}

    def row(email: str, **values: str) -> dict[str, str]:
        return {column: values.get(column, "") for column in COLUMNS} | {"email": email}

    rows = [row(BOSS, status="active", employee_id="E0001"), row(OTHER_MANAGER, status="Active")]
    for i, user in enumerate(regular):
        if user in orphans:
            continue
        manager = BOSS if i % 2 else OTHER_MANAGER
        values = {
            "status": "active",
            "employee_id": f"E{i + 100}",
            "manager_email": manager,
            "department": "Eng",
        }
        if user == picks["terminated"]:
            values["status"] = "terminated"
        elif user == picks["end_date_past"]:
            values["end_date"] = (as_of - timedelta(days=10)).isoformat()
        elif user == picks["end_date_future"]:
            values["end_date"] = (as_of + timedelta(days=30)).isoformat()
        elif user == picks["end_date_today"]:
            values["end_date"] = as_of.isoformat()
        elif user == picks["on_leave"]:
            values["status"] = "On Leave"
        elif user == picks["fed_only"]:
            rows.append(row(f"alias.{i}@corp.example", federation_id="SSO-10", **values))
            continue
        rows.append(row(user, **values))
        if user == picks["duplicate"]:
            rows.append(row(user.upper(), status="active", employee_id=f"E{i + 100}-2"))
        if user == picks["fed_conflict"]:
            rows.append(
                row("other.person@acme.example", status="active", federation_id=f"FED-{user.upper()}")
            )
    rows.append(row(api_user, status="active", kind="service", owner_email=BOSS))
    rows.append(row("legacy.partner@acme.example", status="active", kind="Service Account"))
    rows.append(row("  MIXED.case@example.com ", status="ENDED", manager_email=BOSS))
    return rows, picks


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def build_scenario(sim: BoomiSimulator, tmp_path: Path) -> Scenario:
    """Change the simulator, sync it, build the inputs, compute, and compute the expectation."""
    state = sim.state
    users = sorted(_raw(state)["grants"])
    picks = _make_conflicts(state, users[40:])
    store_root = tmp_path / "snapshots"
    with make_client(sim) as client:
        sync = sync_account(client, store_root)
    synced_at = SnapshotStore(store_root).info(sim.account_id, sync.sync_id).synced_at
    as_of = synced_at
    raw = _raw(state)
    users = sorted(raw["grants"])
    rows, identity_picks = _people(users, sim.email, as_of.date(), raw["logged_in"])
    picks |= identity_picks
    people_csv = tmp_path / "people.csv"
    _write_csv(people_csv, rows)
    release = _role_id(state, "Release Manager")
    policy_path = tmp_path / "sod.toml"
    policy_path.write_text(POLICY.format(release=release), encoding="utf-8")

    window_start = as_of - timedelta(days=180)
    login_days = {"stale_1": 120, "stale_2": 200 - 80, "stale_exact": 90, "recent_enough": 89}
    by_user_days = {picks[k]: days for k, days in login_days.items()}
    logins = pa.Table.from_pylist(
        [
            {
                "user_id": u,
                "last_login_at": (as_of - timedelta(days=by_user_days.get(u, 3)))
                if raw["logged_in"].get(u)
                else None,
                "window_start": window_start,
            }
            for u in users
            if u != picks["no_login_row"]
        ]
    )
    fed_ids = {u: f"fed-{u}" for i, u in enumerate(users) if i % 2}
    fed_ids[picks["fed_conflict"]] = f"fed-{picks['fed_conflict']}"
    fed_ids[picks["fed_only"]] = "sso-10"
    federation = pa.Table.from_pylist(
        [{"user_id": u, "federation_id": f} for u, f in sorted(fed_ids.items())]
    )

    regranted_user = picks["regranted"]
    global_grant = next(g for g, (_r, grp) in sorted(raw["grants"][regranted_user].items()) if grp is None)
    group_user = next(
        u for u in users if any(grp for _r, grp in raw["grants"][u].values()) and u not in picks.values()
    )
    group_grant = next(g for g, (_r, grp) in sorted(raw["grants"][group_user].items()) if grp is not None)
    picks["regranted_group_user"] = group_user
    held_roles = {r for r, _g in raw["grants"][regranted_user].values()}
    not_held = next(r for r in sorted(raw["roles"]) if r not in held_roles)
    later_user = next(u for u in users if u not in picks.values() and u != group_user)
    later_grant = next(iter(sorted(raw["grants"][later_user])))

    def revocation(grant: str, user: str, at: datetime, where: str) -> dict[str, Any]:
        role, group = raw["grants"][user].get(grant, (not_held, None))
        return {
            "user_id": user,
            "role_id": role,
            "account_group_id": group,
            "revoked_at": at,
            "revoked_in": where,
        }

    revocations = pa.Table.from_pylist(
        [
            revocation(global_grant, regranted_user, synced_at - timedelta(days=30), "uar-q1"),
            revocation(global_grant, regranted_user, synced_at - timedelta(days=60), "uar-q4"),
            revocation(group_grant, group_user, synced_at - timedelta(days=30), "uar-q1"),
            revocation(later_grant, later_user, synced_at + timedelta(hours=1), "uar-later"),
            revocation("absent", regranted_user, synced_at - timedelta(days=30), "uar-q1"),
        ]
    )
    result = compute_findings(
        SnapshotTables.read(store_root, sim.account_id, sync.sync_id),
        load_people(people_csv),
        as_of=as_of,
        sod_rules=load_sod_policy(policy_path),
        logins=logins,
        federation=federation,
        sso_enabled=True,
        dormant_days=DORMANT_DAYS,
        previous_revocations=revocations,
    )
    expected, managers = expected_findings(
        raw, rows, picks, as_of, synced_at, logins, fed_ids, revocations, state, sim.email
    )
    return Scenario(
        store_root,
        tmp_path / "findings",
        sim.account_id,
        sync.sync_id,
        synced_at,
        people_csv,
        rows,
        policy_path,
        logins,
        federation,
        revocations,
        result,
        expected,
        managers,
        picks,
        raw,
    )


# -------------------------------------------------------------------------- the expectation


def expected_findings(
    raw: dict[str, Any],
    people_rows: list[dict[str, str]],
    picks: dict[str, str],
    as_of: datetime,
    synced_at: datetime,
    logins: pa.Table,
    fed_ids: dict[str, str],
    revocations: pa.Table,
    state: Any,
    api_user: str,
) -> tuple[dict[tuple[str, str, str], tuple[str, frozenset[str]]], dict[str, str | None]]:
    """(kind, user, subject) -> (severity, grant ids), and each matched user's manager."""
    privileged = _privileged_roles(raw["roles"])
    ended_words = {"terminated", "ended"}
    expected: dict[tuple[str, str, str], tuple[str, frozenset[str]]] = {}
    managers: dict[str, str | None] = {}
    login_rows = {r["user_id"]: r for r in logins.to_pylist()}
    by_email: dict[str, list[dict[str, str]]] = {}
    by_fed: dict[str, list[dict[str, str]]] = {}
    for i, row in enumerate(people_rows):
        row = row | {"_i": str(i)}
        by_email.setdefault(row["email"].strip().lower(), []).append(row)
        if row["federation_id"]:
            by_fed.setdefault(row["federation_id"].lower(), []).append(row)

    def ended(row: dict[str, str]) -> bool:
        return row["status"].lower() in ended_words or (
            bool(row["end_date"]) and date.fromisoformat(row["end_date"]) <= as_of.date()
        )

    for user, grants in raw["grants"].items():
        all_ids = frozenset(grants)
        raised = any(role in privileged for role, _g in grants.values())
        candidates = {r["_i"]: r for r in by_email.get(user.lower(), [])}
        if user in fed_ids:
            candidates |= {r["_i"]: r for r in by_fed.get(fed_ids[user].lower(), [])}
        if not candidates:
            expected["orphan", user, ""] = ("critical" if raised else "high", all_ids)
        elif len(candidates) > 1:
            expected["ambiguous_identity", user, ""] = ("medium", all_ids)
        else:
            (person,) = candidates.values()
            managers[user] = person["manager_email"] or None
            if ended(person):
                expected["leaver", user, ""] = ("critical" if raised else "high", all_ids)
            if person["kind"]:
                owners = by_email.get(person["owner_email"].lower(), []) if person["owner_email"] else []
                if len(owners) != 1 or ended(owners[0]):
                    expected["service_account", user, ""] = ("high", all_ids)
        login = login_rows.get(user)
        if login is None:
            expected["dormant_unknown", user, ""] = ("info", all_ids)
        elif login["last_login_at"] is not None:
            if as_of - login["last_login_at"] >= timedelta(days=DORMANT_DAYS):
                expected["dormant", user, ""] = ("high" if raised else "medium", all_ids)
        elif as_of - login["window_start"] >= timedelta(days=DORMANT_DAYS):
            expected["dormant", user, ""] = ("high" if raised else "medium", all_ids)
        if user not in fed_ids:
            expected["no_sso", user, ""] = ("high" if raised else "medium", all_ids)
        for grant_id, (role, _group) in grants.items():
            if role in privileged:
                expected["privileged", user, grant_id] = ("low", frozenset({grant_id}))

    for revoked in revocations.to_pylist():
        if revoked["revoked_at"] >= synced_at:
            continue
        for grant_id, (role, group) in raw["grants"].get(revoked["user_id"], {}).items():
            if (role, group) == (revoked["role_id"], revoked["account_group_id"]):
                expected["regranted", revoked["user_id"], grant_id] = ("high", frozenset({grant_id}))

    release, auditor = _role_id(state, "Release Manager"), _role_id(state, "Auditor")
    developer, operator = _role_id(state, "Developer"), _role_id(state, "Operator")
    for user, grants in raw["grants"].items():
        rel = {g for g, (r, _grp) in grants.items() if r == release}
        aud = {g for g, (r, _grp) in grants.items() if r == auditor}
        if rel and aud:
            expected["sod_conflict", user, "sod:release-and-audit"] = ("critical", frozenset(rel | aud))
        for group in {grp for _r, grp in grants.values() if grp}:
            dev = {g for g, (r, grp) in grants.items() if r == developer and grp == group}
            op = {g for g, (r, grp) in grants.items() if r == operator and grp == group}
            if dev and op:
                key = ("sod_conflict", user, f"sod:build-and-run-in-one-group:group:{group}")
                expected[key] = ("high", frozenset(dev | op))
    return expected, managers


def _actual(table: pa.Table) -> dict[tuple[str, str, str], tuple[str, frozenset[str]]]:
    return {
        (r["kind"], r["user_id"], r["subject"]): (r["severity"], frozenset(r["grant_ids"]))
        for r in table.to_pylist()
    }


# -------------------------------------------------------------------------------------- tests


@pytest.fixture
def scenario(sim: BoomiSimulator, tmp_path: Path) -> Scenario:
    return build_scenario(sim, tmp_path)


def test_every_finding_is_exact(scenario: Scenario) -> None:
    picks, expected = scenario.picks, scenario.expected
    actual = _actual(scenario.result.findings)
    assert actual == expected

    # The scenario holds every case it was built for, so the comparison above means something.
    kinds = {kind for kind, _u, _s in expected}
    assert kinds == {
        "leaver",
        "orphan",
        "service_account",
        "ambiguous_identity",
        "dormant",
        "dormant_unknown",
        "no_sso",
        "regranted",
        "sod_conflict",
        "privileged",
    }
    leavers = {u for k, u, _s in expected if k == "leaver"}
    assert leavers == {
        picks["terminated"],
        picks["end_date_past"],
        picks["end_date_today"],
        "Mixed.Case@Example.COM",
    }
    assert {u for k, u, _s in expected if k == "orphan"} == {picks[f"orphan_{i}"] for i in (1, 2, 3)}
    assert {u for k, u, _s in expected if k == "ambiguous_identity"} == {
        picks["duplicate"],
        picks["fed_conflict"],
    }
    assert {u for k, u, _s in expected if k == "service_account"} == {"legacy.partner@acme.example"}
    never_logged_in = {
        u for u, ok in scenario.raw["logged_in"].items() if not ok and u in scenario.raw["grants"]
    }
    dormant = {u for k, u, _s in expected if k == "dormant"}
    assert never_logged_in and never_logged_in <= dormant
    assert {picks["stale_1"], picks["stale_2"], picks["stale_exact"]} <= dormant
    assert picks["recent_enough"] not in dormant
    assert {u for k, u, _s in expected if k == "dormant_unknown"} == {picks["no_login_row"]}
    sod = {(u, s) for k, u, s in expected if k == "sod_conflict"}
    assert (picks["sod_direct"], "sod:release-and-audit") in sod
    assert (picks["sod_mixed"], "sod:release-and-audit") in sod
    assert any(u == picks["sod_one_group"] and s.startswith("sod:build-and-run") for u, s in sod)
    assert not any(u == picks["sod_two_groups"] for u, _s in sod)
    assert len({u for k, u, _s in expected if k == "regranted"}) == 2


def test_findings_carry_their_evidence(scenario: Scenario) -> None:
    rows = scenario.result.findings.to_pylist()
    assert len({r["finding_id"] for r in rows}) == len(rows)
    people_lines = {
        row["email"].strip().casefold(): line for line, row in enumerate(scenario.people_rows, start=2)
    }
    by_key = {(r["kind"], r["user_id"], r["subject"]): r for r in rows}
    picks = scenario.picks

    leaver = by_key["leaver", picks["end_date_past"], ""]
    assert leaver["source_row"] == people_lines[picks["end_date_past"].casefold()]
    assert leaver["end_date"] == scenario.synced_at.date() - timedelta(days=10)
    assert leaver["identity_match"] == "matched" and leaver["matched_by"] == "email"
    mixed = by_key["leaver", "Mixed.Case@Example.COM", ""]
    assert mixed["person_status"] == "ended" and mixed["person_email"] == "MIXED.case@example.com"

    fed_only = [r for r in rows if r["user_id"] == picks["fed_only"]]
    assert fed_only and all(r["matched_by"] == "federation_id" for r in fed_only)
    ambiguous = json.loads(by_key["ambiguous_identity", picks["fed_conflict"], ""]["evidence"])
    assert sorted(c["matched_by"] for c in ambiguous["candidates"]) == ["email", "federation_id"]

    mixed_sod = by_key["sod_conflict", picks["sod_mixed"], "sod:release-and-audit"]
    paths = {g["path"].split(" (")[0] for g in json.loads(mixed_sod["evidence"])["grants"]}
    assert paths == {"direct", "through account group EMEA Customers"}
    assert "through account group EMEA Customers" in mixed_sod["detail"]

    regrant = next(r for r in rows if r["kind"] == "regranted" and r["user_id"] == picks["regranted"])
    assert regrant["revoked_in"] == "uar-q1"
    assert regrant["revoked_at"] == scenario.synced_at - timedelta(days=30)
    never = next(r for r in rows if r["kind"] == "dormant" and r["last_login_at"] is None)
    assert "no login since the start of the window read" in never["detail"]
    assert "never" not in never["detail"]
    assert all(r["detail"] and isinstance(json.loads(r["evidence"]), dict) for r in rows)


def test_identities_route_to_managers(scenario: Scenario) -> None:
    managers = managers_by_user(scenario.result.identities)
    assert {
        u: m for u, m in managers.items() if u in scenario.expected_managers
    } == scenario.expected_managers
    unmatched = set(managers) - set(scenario.expected_managers)
    assert unmatched and all(managers[u] is None for u in unmatched)
    assert scenario.result.summary["identity"] == {
        "matched": len(scenario.expected_managers),
        "unmatched": 3,
        "ambiguous": 2,
    }


def test_written_read_back_and_recomputed_the_same(scenario: Scenario) -> None:
    stored = write_findings(scenario.result, scenario.findings_root)
    back = read_findings(scenario.findings_root, scenario.account_id, scenario.sync_id)
    assert back.findings.equals(scenario.result.findings)
    assert back.summary["counts"] == scenario.result.summary["counts"]
    assert back.summary["files"]["findings"]["rows"] == len(scenario.expected)
    # The snapshot is untouched: nothing was written inside it.
    assert SnapshotStore(scenario.store_root).verify(scenario.account_id, scenario.sync_id) == []
    assert not list(scenario.store_root.rglob("findings.parquet"))
    assert stored.path.endswith(f"account_id={scenario.account_id}/sync_id={scenario.sync_id}")


def test_campaign_items_get_exact_flags(scenario: Scenario) -> None:
    campaign = build_campaign(scenario.store_root, scenario.account_id, scenario.sync_id)
    flags = flags_by_grant(scenario.result.findings)
    expected: dict[str, set[str]] = {}
    for (kind, _user, _subject), (_severity, grant_ids) in scenario.expected.items():
        for grant_id in grant_ids:
            expected.setdefault(grant_id, set()).add(kind)
    assert set(flags) == set(expected)
    items = {item.item_id for item in campaign.items}
    assert set(flags) <= items and len(items) == sum(len(g) for g in scenario.raw["grants"].values())
    for item in campaign.items:
        assert set(flags.get(item.item_id, ())) == expected.get(item.item_id, set()), item.item_id


# ------------------------------------------------------------------------ the SQL identity source


@pytest.fixture
def people_table(scenario: Scenario) -> Iterator[tuple[Any, str]]:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = sqlalchemy.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as con:
            con.exec_driver_sql("SELECT 1")
    except Exception as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL does not answer at {POSTGRES_URL} ({exc})")
    table = f"people_{secrets.token_hex(4)}"
    with engine.begin() as con:
        con.exec_driver_sql(
            f"CREATE TABLE {table} (line INTEGER, work_email TEXT, hr_status TEXT, end_date DATE, "
            "manager TEXT, federation_id TEXT, kind TEXT, owner_email TEXT, employee_id TEXT, dept TEXT)"
        )
        for line, row in enumerate(scenario.people_rows, start=2):
            con.exec_driver_sql(
                f"INSERT INTO {table} VALUES (%(line)s, %(email)s, %(status)s, %(end)s, %(manager)s, "
                "%(fed)s, %(kind)s, %(owner)s, %(employee)s, %(dept)s)",
                {
                    "line": line,
                    "email": row["email"],
                    "status": row["status"],
                    "end": date.fromisoformat(row["end_date"]) if row["end_date"] else None,
                    "manager": row["manager_email"] or None,
                    "fed": row["federation_id"] or None,
                    "kind": row["kind"] or None,
                    "owner": row["owner_email"] or None,
                    "employee": row["employee_id"] or None,
                    "dept": row["department"] or None,
                },
            )
    yield engine, table
    with engine.begin() as con:
        con.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    engine.dispose()


def _query(table: str) -> str:
    return (
        "SELECT work_email AS email, hr_status AS status, end_date, manager AS manager_email, "
        f"federation_id, kind, owner_email, employee_id, dept AS department FROM {table} ORDER BY line"
    )


def test_identity_source_from_postgresql_finds_the_same(
    scenario: Scenario, people_table: tuple[Any, str]
) -> None:
    engine, table = people_table
    tables = SnapshotTables.read(scenario.store_root, scenario.account_id, scenario.sync_id)
    raw = engine.raw_connection()
    try:
        through_dbapi = people_from_sql(raw.driver_connection, _query(table))
    finally:
        raw.close()
    through_engine = people_from_sql(engine, _query(table))
    assert through_dbapi.table.drop(["source_row"]).equals(through_engine.table.drop(["source_row"]))
    assert through_engine.table.drop(["source_row"]).equals(
        load_people(scenario.people_csv).table.drop(["source_row"])
    )
    result = compute_findings(
        tables,
        through_engine,
        as_of=scenario.synced_at,
        sod_rules=load_sod_policy(scenario.policy_path),
        logins=scenario.logins,
        federation=scenario.federation,
        sso_enabled=True,
        previous_revocations=scenario.revocations,
    )
    assert _actual(result.findings) == scenario.expected


# ------------------------------------------------------------------------------ the operator

OPERATOR_DAG = """
import pendulum
from airflow.sdk import dag
from airflow_provider_boomi.operators.findings import BoomiFindingsOperator
from airflow_provider_boomi.operators.sync import BoomiSyncOperator

@dag(dag_id="test_boomi_findings_operator", schedule=None, start_date=pendulum.datetime(2026, 1, 1),
     catchup=False, params={"out": "", "findings": "", "people": "", "policy": "", "sql": ""})
def test_boomi_findings_operator():
    sync = BoomiSyncOperator(task_id="sync", output_path="{{ params.out }}")
    BoomiFindingsOperator(
        task_id="from_csv", output_path="{{ params.out }}", findings_path="{{ params.findings }}/csv",
        snapshot=sync.output, people_path="{{ params.people }}", sod_policy_path="{{ params.policy }}",
        sso_enabled="no",
    )
    BoomiFindingsOperator(
        task_id="from_sql", output_path="{{ params.out }}", findings_path="{{ params.findings }}/sql",
        snapshot=sync.output, people_conn_id="people_db", people_sql="{{ params.sql }}",
        sod_policy_path="{{ params.policy }}", privileged_preset="sox",
    )

dag_object = test_boomi_findings_operator()
"""


def test_operator_in_dag_test(
    connected_sim: BoomiSimulator,
    scenario: Scenario,
    people_table: tuple[Any, str],
    dag_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, table = people_table
    url = engine.url
    monkeypatch.setenv(
        "AIRFLOW_CONN_PEOPLE_DB",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": url.host,
                "port": url.port,
                "login": url.username,
                "schema": url.database,
            }
        ),
    )
    dag_file = dag_folder / "test_boomi_findings_operator.py"
    dag_file.write_text(OPERATOR_DAG)
    out, findings = tmp_path / "op-snapshots", tmp_path / "op-findings"
    run = load_dag(dag_file, "test_boomi_findings_operator").test(
        run_conf={
            "out": str(out),
            "findings": str(findings),
            "people": str(scenario.people_csv),
            "policy": str(scenario.policy_path),
            "sql": _query(table),
        }
    )
    assert run.state == "success"
    sync_id = SnapshotStore(out).latest(connected_sim.account_id).sync_id  # type: ignore[union-attr]
    from_csv = read_findings(findings / "csv", connected_sim.account_id, sync_id)
    from_sql = read_findings(findings / "sql", connected_sim.account_id, sync_id)
    # Without logins or federation ids: identity, SoD and privilege findings only, and every user
    # dormant_unknown; SSO: none with sso_enabled false, unknown for everyone when not given.
    identity_kinds = {
        "leaver",
        "orphan",
        "service_account",
        "ambiguous_identity",
        "sod_conflict",
        "privileged",
    }
    expected = {
        key: value
        for key, value in scenario.expected.items()
        if key[0] in identity_kinds
        and (key[0] != "ambiguous_identity" or key[1] != scenario.picks["fed_conflict"])
    }
    # Without federation ids the federation-only match is an orphan, the federation conflict is not ambiguous.
    fed_only = scenario.picks["fed_only"]
    fed_user_grants = frozenset(scenario.raw["grants"][fed_only])
    privileged_user = any(key[0] == "privileged" and key[1] == fed_only for key in scenario.expected)
    expected["orphan", fed_only, ""] = ("critical" if privileged_user else "high", fed_user_grants)
    users = set(scenario.raw["grants"])
    csv_actual = _actual(from_csv.findings)
    assert {k: v for k, v in csv_actual.items() if k[0] in identity_kinds} == expected
    assert {u for k, u, _s in csv_actual if k == "dormant_unknown"} == users
    assert not any(k in ("no_sso", "sso_unknown") for k, _u, _s in csv_actual)
    sql_actual = _actual(from_sql.findings)
    assert {u for k, u, _s in sql_actual if k == "sso_unknown"} == users
    # Severities differ under sox (more users are privileged), the findings and their grants do not.
    assert {k: v[1] for k, v in sql_actual.items() if k[0] in identity_kinds - {"privileged"}} == {
        k: v[1] for k, v in expected.items() if k[0] != "privileged"
    }
    # The sox preset also makes Release Manager (DEPLOY...) privileged: more privileged grants.
    assert len([k for k in sql_actual if k[0] == "privileged"]) > len(
        [k for k in expected if k[0] == "privileged"]
    )
    assert from_sql.summary["inputs"]["privileged_policy"]["privileges"] == sorted(
        ["ACCOUNT_ADMIN", "API", "DEPLOY", "ENV_MANAGEMENT", "PACKAGE_MANAGEMENT"]
    )
