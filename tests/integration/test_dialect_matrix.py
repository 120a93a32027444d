"""The dialect matrix: the sync and a provisioning batch under every plausible answer of §g.

Each row sets the simulator's switches to one way Boomi may answer an open question of the API
reference (§g), runs ``BoomiSyncOperator`` and (on a primary account) a provisioning batch
through ``BoomiApplyAccessChangesOperator`` with user ids typed in another case than Boomi
stores them, and asserts one of two things:

* **exact**: every snapshot table equals the simulator's state (no duplicate grant or Boomi id,
  every role with its privileges, privileged flags right), and after the batch Boomi's state is
  what the batch asked for, with every change ``applied`` in the ledger and no user invited;
* **loud**: the task fails, no manifest is written, and the message names the question and the
  setting to change.

The rows are also the table of ``docs/dialect-matrix.md``: ``test_docs_table_is_current`` fails
when the page is stale, and ``BOOMI_WRITE_DOCS=1`` rewrites it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_boomi.access.ledger import read_ledger
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.operators.provisioning import BoomiApplyAccessChangesOperator
from airflow_provider_boomi.operators.sync import BoomiSyncOperator
from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule

REPO = Path(__file__).resolve().parents[2]
DOCS_PAGE = REPO / "docs" / "dialect-matrix.md"
PRIVILEGED = {"API", "ACCOUNT_ADMIN"}


@dataclass(frozen=True)
class Row:
    """One way Boomi may answer, and what the provider must do about it."""

    id: str
    question: str
    boomi: str  # how the simulated Boomi answers
    provider: str  # what the provider does (the docs table)
    settings: Mapping[str, Any] = field(default_factory=dict)
    profile: str = "demo"
    sync: Mapping[str, Any] = field(default_factory=dict)  # BoomiSyncOperator arguments
    loud: tuple[str, ...] = ()  # fragments of the failure message; empty: the row is exact
    prior_profile: str | None = None  # an earlier snapshot of the same account, from this profile
    requests_per_second: float = 1000.0

    @property
    def provisions(self) -> bool:
        return self.profile == "demo" and not self.loud


_LOST_ANSWER = FaultRule(
    "timeout_after_answer", object_type="AccountUserRole", operation="queryMore", count=1
)

ROWS: tuple[Row, ...] = (
    Row("documented", "-", "every answer as the REST reference reads", "exact; no warning"),
    Row(
        "roleid-honoured-split",
        "g.1",
        "roleId filter honoured, sync split by role",
        "exact; each row checked against its chain's filter",
        sync={"split_user_roles": "by_role"},
    ),
    Row(
        "roleid-ignored",
        "g.1",
        "roleId terms ignored (every split chain returns every row)",
        "detects rows outside the chain's filter, stops the split, reads one chain; exact, warned",
        settings={"role_id_filter": "ignored"},
        sync={"split_user_roles": "by_role"},
    ),
    Row(
        "roleid-ignored-fail",
        "g.1",
        "roleId terms ignored, on_ignored_filter='fail'",
        "fails with no snapshot, naming §g.1 and the setting",
        settings={"role_id_filter": "ignored"},
        sync={"split_user_roles": "by_role", "on_ignored_filter": "fail"},
        loud=("§g.1", "on_ignored_filter"),
    ),
    Row(
        "roleid-refused",
        "g.1",
        "roleId terms refused with HTTP 400",
        "falls back to one chain; exact, warned",
        settings={"role_id_filter": "refused"},
        sync={"split_user_roles": "by_role"},
    ),
    Row(
        "roleid-ignored-large",
        "g.1",
        "roleId ignored on a 10,000-user account (the split starts by itself)",
        "falls back after the first split pages; exact",
        settings={"role_id_filter": "ignored"},
        profile="large",
    ),
    Row(
        "roleid-ignored-skewed",
        "g.1",
        "roleId ignored on a 5,000-user skewed account",
        "falls back; exact",
        settings={"role_id_filter": "ignored"},
        profile="skewed",
    ),
    Row(
        "builtins-by-id-only",
        "g.2",
        "Role/query lists only custom roles",
        "reads built-ins from getAssignableRoles + GET Role/{id}; exact privileges; the Standard User "
        "safeguard still finds Standard User",
        settings={"builtin_roles": "by_id_only"},
    ),
    Row(
        "builtin-parent-none",
        "g.3",
        "built-in roles carry no parentId",
        "exact (built-ins keep their listed privileges either way)",
        settings={"builtin_parent": "none"},
    ),
    Row(
        "userid-case-sensitive",
        "g.4",
        "userId matched case-sensitively; a new spelling would invite a twin",
        "detects it (two reads), resolves spellings by one scan; batch typed in another case is "
        "applied to Boomi's spelling, nobody invited",
        settings={"user_id_case": "sensitive"},
    ),
    Row(
        "cross-account-rows",
        "g.5",
        "userId queries also return rows of other accounts",
        "reads scoped by accountId, foreign rows dropped; last-role test counts this account only",
        settings={"cross_account_rows": True},
    ),
    *(
        Row(
            f"groups-{mode}",
            "g.6",
            f"AccountGroup on a non-primary account: {what}",
            outcome,
            settings={"groups_mode": mode},
            profile="non_primary",
        )
        for mode, what, outcome in (
            ("empty", "empty", "empty group tables, flagged in the manifest"),
            ("forbidden", "403", "empty group tables, warned"),
            ("bad_request", "400", "empty group tables, warned"),
            ("not_found", "404", "empty group tables, warned"),
            ("default_group", "one 'All Accounts' group, no rows", "exact (one group, no rows)"),
        )
    ),
    Row(
        "groups-vanish",
        "g.6",
        "AccountGroup answers 403 for an account whose previous snapshot had groups",
        "fails with no snapshot rather than losing the groups",
        settings={"groups_mode": "forbidden"},
        profile="non_primary",
        prior_profile="demo",
        loud=("§g.6", "previous snapshot"),
    ),
    Row(
        "tokens-reusable",
        "g.7",
        "queryToken reusable",
        "exact",
        settings={"query_tokens": "reusable"},
    ),
    Row(
        "tokens-expiring",
        "g.7",
        "queryToken single use, expiring after 5 s",
        "exact",
        settings={"query_tokens": "expiring", "query_token_ttl": 5.0},
    ),
    Row(
        "token-used-by-lost-answer",
        "g.7",
        "a queryMore answer is lost after Boomi used the token; the retry gets 400",
        "restarts the chain, de-duplicates by Boomi id; exact, warned",
        settings={"faults": [_LOST_ANSWER]},
        sync={"split_user_roles": "never"},
    ),
    Row(
        "tokens-expire-before-use",
        "g.7",
        "queryToken expires before the next call can arrive (50 ms life, 100 ms latency)",
        "restarts the chain up to max_chain_restarts, then fails with no snapshot, naming §g.7",
        settings={"query_tokens": "expiring", "query_token_ttl": 0.05, "latency": 0.1},
        sync={"split_user_roles": "never"},
        loud=("§g.7", "max_chain_restarts"),
    ),
    Row(
        "sliding-window",
        "g.8",
        "10 requests/s counted in a strict sliding one-second window",
        "503s are retried with backoff; exact",
        settings={"rate_limiter": "sliding_window", "rate_limit": 10.0},
        requests_per_second=10.0,
    ),
    Row(
        "operators-schema",
        "g.9",
        "each object accepts only its schema's operators",
        "exact (the client sends EQUALS, NOT_EQUALS, and, or)",
        settings={"filter_operators": "schema"},
        sync={"split_user_roles": "by_role"},
    ),
    Row(
        "operators-role-equals-only",
        "g.9",
        "as the schema, Role with EQUALS only",
        "exact (Role is read unfiltered)",
        settings={"filter_operators": "role_equals_only"},
    ),
    Row(
        "userid-or-ignored",
        "or-userId",
        "userId terms grouped with 'or' ignored (a batched read answers every row of the account, or "
        "of the account group)",
        "provisioning sees rows outside its read's filter (global roles and group roles alike), discards "
        "the read and reads each user alone; exact, warned",
        settings={"user_id_or_filter": "ignored"},
    ),
    Row(
        "userid-or-refused",
        "or-userId",
        "userId terms grouped with 'or' refused with HTTP 400 (AccountUserRole and AccountGroupUserRole)",
        "provisioning reads each user alone (global roles and group roles alike); exact, warned",
        settings={"user_id_or_filter": "refused"},
    ),
    Row(
        "userid-or-ignored-sensitive",
        "or-userId+g.4",
        "'or' of userId terms ignored, userId matched case-sensitively",
        "the same fallback, each user read under Boomi's spelling; exact, warned",
        settings={"user_id_or_filter": "ignored", "user_id_case": "sensitive"},
    ),
    Row(
        "soap-pages-large",
        "g.1+g.2+g.9",
        "preset soap_pages (roleId ignored, custom roles only, Role EQUALS only), 10,000 users",
        "exact",
        settings={"dialect": "soap_pages"},
        profile="large",
    ),
    Row(
        "soap-pages",
        "g.1+g.2+g.9",
        "preset soap_pages, with a last-role revoke",
        "exact; the safeguard assigns the built-in Standard User read by id",
        settings={"dialect": "soap_pages"},
        sync={"split_user_roles": "by_role"},
    ),
    Row(
        "strict",
        "g.4+g.5+g.7+g.8+g.9",
        "preset strict (case-sensitive, cross-account rows, expiring tokens, sliding window, schema)",
        "exact",
        settings={"dialect": "strict", "rate_limit": 10.0},
        requests_per_second=10.0,
    ),
)


# --- what Boomi holds --------------------------------------------------------------------------


def _expected_roles(sim: BoomiSimulator) -> dict[str, tuple[str, list[str], bool]]:
    """role id -> (name, own privileges, privileged), read from the simulator's state directly.

    Effective privileges: a role's own plus its custom parents', stopping at a built-in role,
    whose listed privileges count as they are (reference §g.3).
    """
    roles = {r["id"]: r for r in sim.state.roles()}

    def own(role: Mapping[str, Any]) -> list[str]:
        return sorted(p["name"] for p in role["Privileges"]["Privilege"])

    expected = {}
    for role_id, role in roles.items():
        effective: set[str] = set()
        current: Mapping[str, Any] | None = role
        seen: set[str] = set()
        while current is not None and current["id"] not in seen:
            seen.add(current["id"])
            effective.update(own(current))
            if current["accountId"] == "1":
                break
            current = roles.get(current.get("parentId") or "")
        privileged = role["name"] == "Administrator" or bool(PRIVILEGED & effective)
        expected[role_id] = (role["name"], own(role), privileged)
    return expected


def assert_snapshot_exact(sim: BoomiSimulator, out: Path, account_id: str, sync_id: str) -> None:
    """Every table of the snapshot equals the simulator's state."""
    store = SnapshotStore(out)
    assert store.verify(account_id, sync_id) == []

    def table(name: str) -> Any:
        return store.read_table(account_id, sync_id, name, as_="pandas")

    roles = table("roles")
    expected_roles = _expected_roles(sim)
    assert sorted(roles.role_id) == sorted(expected_roles), "roles differ"
    for row in roles.itertuples():
        name, privileges, privileged = expected_roles[row.role_id]
        assert (row.name, sorted(row.privileges), bool(row.is_privileged)) == (name, privileges, privileged)
        assert row.is_privileged is not None and row.is_privileged == privileged, row.role_id

    grants = table("user_role_grants")
    expected = {(r["id"], r["userId"], r["roleId"]) for r in sim.state.user_roles()}
    assert len(grants) == len(expected) == grants.grant_id.nunique() == grants.boomi_id.nunique()
    assert set(zip(grants.boomi_id, grants.user_id, grants.role_id, strict=True)) == expected
    names = {role_id: facts[0] for role_id, facts in expected_roles.items()}
    assert all(grants.role_name == grants.role_id.map(names))

    group_grants = table("group_role_grants")
    expected_group = {
        (r["id"], r["userId"], r["accountGroupId"], r["roleId"]) for r in sim.state.group_roles()
    }
    assert len(group_grants) == len(expected_group) == group_grants.grant_id.nunique()
    actual_group = zip(
        group_grants.boomi_id,
        group_grants.user_id,
        group_grants.account_group_id,
        group_grants.role_id,
        strict=True,
    )
    assert set(actual_group) == expected_group

    groups = table("account_groups")
    assert sorted(groups.account_group_id) == sorted(g["id"] for g in _visible_groups(sim))

    users = table("users")
    holders = Counter(r["userId"] for r in sim.state.user_roles())
    group_holders = {r["userId"] for r in sim.state.group_roles()}
    assert sorted(users.user_id) == sorted(set(holders) | group_holders)
    privileged_roles = {role_id for role_id, facts in expected_roles.items() if facts[2]}
    privileged_users = {r["userId"] for r in sim.state.user_roles() if r["roleId"] in privileged_roles} | {
        r["userId"] for r in sim.state.group_roles() if r["roleId"] in privileged_roles
    }
    for row in users.itertuples():
        assert row.global_role_count == holders.get(row.user_id, 0)
        assert row.is_privileged == (row.user_id in privileged_users), row.user_id


def _visible_groups(sim: BoomiSimulator) -> list[dict[str, Any]]:
    if sim.state.primary:
        return sim.state.account_groups()
    if sim.config.groups_mode == "default_group":
        return [{"id": g} for g in _default_group_ids(sim)]
    return []


def _default_group_ids(sim: BoomiSimulator) -> list[str]:
    # The non-primary account's single "All Accounts" group exists only in the API's answers.
    import requests

    response = requests.post(
        f"{sim.base_url}/{sim.account_id}/AccountGroup/query",
        auth=(f"BOOMI_TOKEN.{sim.email}", sim.token),
        headers={"Accept": "application/json"},
        timeout=10,
    )
    response.raise_for_status()
    return [g["id"] for g in response.json().get("result", [])]


# --- running the operators ---------------------------------------------------------------------


def _connect(sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch, rate: float) -> None:
    conn = json.loads(sim.connection_json(provisioning_enabled=True))
    conn["extra"].update(requests_per_second=rate, max_retries=8)
    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(conn))


def _simulator(row: Row, **extra: Any) -> BoomiSimulator:
    settings = {"rate_limit": None, **row.settings, **extra}
    return BoomiSimulator(row.profile, **settings)


def _sync(out: Path, row: Row) -> dict[str, Any]:
    operator = BoomiSyncOperator(task_id="sync", output_path=str(out), **row.sync)
    return operator.execute({})  # type: ignore[arg-type]


def _email(sim: BoomiSimulator, local: str) -> str:
    return f"{local}@{sim.email.split('@')[1]}"


def _role(sim: BoomiSimulator, name: str) -> str:
    role = sim.state.role_by_name(name)
    assert role is not None
    return str(role["id"])


def _batch(sim: BoomiSimulator) -> tuple[list[dict[str, Any]], Any]:
    """Eight changes with user ids typed in another case, and the state they must lead to."""
    standard = _role(sim, "Standard User")
    mixed = next(u["userId"] for u in sim.state.users() if u["userId"].lower() == "mixed.case@example.com")
    group_row = next(
        r
        for r in sim.state.group_roles()
        if r["userId"].split("@")[0]
        not in ("zoe.angstrom", "li.lei", "jose.nino", "only.standard", "group.only")
        and r["userId"] != mixed
    )
    group_name = next(g["name"] for g in sim.state.account_groups() if g["id"] == group_row["accountGroupId"])
    removed_role = next(r["name"] for r in sim.state.roles() if r["id"] == group_row["roleId"])
    changes = [
        {"action": "assign_role", "user_id": _email(sim, "zoe.angstrom").swapcase(), "role": "Auditor"},
        {"action": "revoke_role", "user_id": _email(sim, "li.lei").swapcase(), "role": "Dashboard Viewer"},
        {"action": "revoke_role", "user_id": _email(sim, "jose.nino").upper(), "role": "Developer"},
        {"action": "revoke_role", "user_id": mixed.lower(), "role": "Auditor"},
        {
            "action": "add_group_role",
            "user_id": _email(sim, "only.standard").swapcase(),
            "role": "Developer",
            "account_group": "Sandbox",
        },
        {
            "action": "remove_group_role",
            "user_id": group_row["userId"].swapcase(),
            "role": removed_role,
            "account_group": group_name,
        },
        # A second change in the same group, in the same round: the group's rows of both users
        # are read in one query (an 'or' of userId terms under the accountGroupId term).
        {
            "action": "add_group_role",
            "user_id": _email(sim, "power.user").swapcase(),
            "role": "Auditor",
            "account_group": group_name,
        },
        # A user who holds only group roles exists: the assignment must not invite a twin.
        {
            "action": "assign_role",
            "user_id": _email(sim, "group.only").swapcase(),
            "role": "Dashboard Viewer",
        },
    ]
    global_roles: dict[str, set[str]] = {}
    for r in sim.state.user_roles():
        global_roles.setdefault(r["userId"], set()).add(r["roleId"])
    global_roles[_email(sim, "zoe.angstrom")].add(_role(sim, "Auditor"))
    global_roles[_email(sim, "li.lei")].discard(_role(sim, "Dashboard Viewer"))
    global_roles[_email(sim, "jose.nino")] = {standard}
    global_roles[mixed] = {standard}
    global_roles[_email(sim, "group.only")] = {_role(sim, "Dashboard Viewer")}
    sandbox = next(g["id"] for g in sim.state.account_groups() if g["name"] == "Sandbox")
    group_roles = {(r["userId"], r["accountGroupId"], r["roleId"]) for r in sim.state.group_roles()}
    group_roles.add((_email(sim, "only.standard"), sandbox, _role(sim, "Developer")))
    group_roles.discard((group_row["userId"], group_row["accountGroupId"], group_row["roleId"]))
    group_roles.add((_email(sim, "power.user"), group_row["accountGroupId"], _role(sim, "Auditor")))
    return changes, (global_roles, group_roles)


_BATCHING_STOPPED = "with userId terms grouped by 'or' is not served as a filter"


def _provision(sim: BoomiSimulator, ledger: Path, caplog: pytest.LogCaptureFixture) -> None:
    users_before = sorted(u["userId"] for u in sim.state.users())
    foreign_before = sim.state.foreign_user_roles()
    changes, (global_roles, group_roles) = _batch(sim)
    operator = BoomiApplyAccessChangesOperator(task_id="batch", changes=changes, ledger_path=str(ledger))
    caplog.clear()
    summary = operator.execute({})  # type: ignore[arg-type]
    assert [o["outcome"] for o in summary["outcomes"]] == ["applied"] * len(changes), summary
    # The users' grants were read in one batched query, unless Boomi did not serve it: then the
    # provider said so and read each user alone.
    for object_type in ("AccountUserRole", "AccountGroupUserRole"):
        batched = [
            r
            for r in sim.requests
            if r.object_type == object_type
            and r.operation == "query"
            and '"or"' in json.dumps(r.request_body)
            and '"userId"' in json.dumps(r.request_body)
        ]
        assert batched, f"no batched read of {object_type} was sent"
        served = sim.config.user_id_or_filter == "honoured"
        assert (f"{object_type}/query {_BATCHING_STOPPED}" not in caplog.text) == served, caplog.text

    actual: dict[str, set[str]] = {}
    for r in sim.state.user_roles():
        actual.setdefault(r["userId"], set()).add(r["roleId"])
    assert actual == global_roles
    assert {(r["userId"], r["accountGroupId"], r["roleId"]) for r in sim.state.group_roles()} == group_roles
    assert sorted(u["userId"] for u in sim.state.users()) == users_before, "a user was invited"
    assert sim.state.foreign_user_roles() == foreign_before

    ledger_rows = read_ledger(str(ledger))
    assert list(ledger_rows.outcome) == ["applied"] * len(changes)
    # What the ledger says Boomi holds now is what Boomi holds: the rows it removed are gone.
    removed = set(ledger_rows[ledger_rows.action.isin(["revoke_role", "remove_group_role"])].boomi_id)
    present = {r["id"] for r in sim.state.user_roles()} | {r["id"] for r in sim.state.group_roles()}
    assert removed and not removed & present


def _snapshot_files(out: Path) -> list[Path]:
    """Every file under ``out`` but the records of failed syncs (``account_id=.../failures/``),
    which a failed sync writes on purpose: they are not part of any snapshot."""
    return sorted(p for p in out.rglob("*") if p.is_file() and p.parent.name != "failures")


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_dialect(
    row: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "snapshots"
    account_id = None
    if row.prior_profile is not None:
        with BoomiSimulator(row.prior_profile, rate_limit=None) as prior:
            _connect(prior, monkeypatch, row.requests_per_second)
            _sync(out, row)
            account_id = prior.account_id
    with _simulator(row, **({"account_id": account_id} if account_id else {})) as sim:
        _connect(sim, monkeypatch, row.requests_per_second)
        if row.loud:
            files_before = _snapshot_files(out)
            with pytest.raises(Exception) as failure:
                _sync(out, row)
            message = str(failure.value)
            for fragment in row.loud:
                assert fragment in message, message
            # No manifest, no table: the failed sync left nothing behind.
            assert _snapshot_files(out) == files_before
            return
        result = _sync(out, row)
        assert_snapshot_exact(sim, out, result["account_id"], result["sync_id"])
        if row.provisions:
            sim.clear_requests()
            _provision(sim, tmp_path / "ledger", caplog)
            # The sync after the batch is exact too, and shows what the batch did.
            again = _sync(out, row)
            assert_snapshot_exact(sim, out, again["account_id"], again["sync_id"])


@pytest.mark.parametrize("groups_mode", ["forbidden", "bad_request", "not_found", "default_group"])
def test_provisioning_on_an_account_without_groups(
    groups_mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invite and a revoke for an unknown user do not depend on account groups (§g.6)."""
    with BoomiSimulator("non_primary", rate_limit=None, groups_mode=groups_mode) as sim:
        _connect(sim, monkeypatch, 1000.0)
        new_user = _email(sim, "brand.new")
        invite = BoomiApplyAccessChangesOperator(
            task_id="invite",
            changes=[{"action": "assign_role", "user_id": new_user, "role": "Auditor"}],
            ledger_path=str(tmp_path / "ledger"),
        )
        assert [o["outcome"] for o in invite.execute({})["outcomes"]] == ["applied"]  # type: ignore[arg-type]
        assert _role(sim, "Auditor") in {
            r["roleId"] for r in sim.state.user_roles() if r["userId"] == new_user
        }

        unknown = BoomiApplyAccessChangesOperator(
            task_id="unknown",
            changes=[{"action": "revoke_role", "user_id": _email(sim, "nobody.here"), "role": "Auditor"}],
            ledger_path=str(tmp_path / "ledger"),
        )
        with pytest.raises(AirflowFailException, match="user_not_found"):
            unknown.execute({})  # type: ignore[arg-type]
    assert list(read_ledger(str(tmp_path / "ledger")).outcome) == ["applied", "user_not_found"]


SWITCHES: tuple[tuple[str, Any], ...] = (
    ("role_id_filter", "ignored"),
    ("role_id_filter", "refused"),
    ("builtin_roles", "by_id_only"),
    ("builtin_parent", "none"),
    ("user_id_case", "sensitive"),
    ("cross_account_rows", True),
    ("query_tokens", "reusable"),
    ("query_tokens", "expiring"),
    ("rate_limiter", "sliding_window"),
    ("filter_operators", "schema"),
    ("filter_operators", "role_equals_only"),
)
"""Every non-default answer of a §g switch that applies to a primary account (g.6 is the
non-primary rows above)."""


@pytest.mark.parametrize("profile", ["large", "skewed"])
@pytest.mark.parametrize(("switch", "value"), SWITCHES, ids=[f"{k}={v}" for k, v in SWITCHES])
def test_large_account_under_every_switch(
    switch: str, value: Any, profile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sliding window gets a limit to count against; the client paces at the same rate.
    limited = switch == "rate_limiter"
    row = Row(
        f"{switch}={value}",
        "",
        "",
        "",
        settings={switch: value, **({"rate_limit": 200.0} if limited else {})},
        profile=profile,
        requests_per_second=200.0 if limited else 1000.0,
    )
    with _simulator(row) as sim:
        _connect(sim, monkeypatch, row.requests_per_second)
        result = _sync(tmp_path, row)
        assert_snapshot_exact(sim, tmp_path, result["account_id"], result["sync_id"])


# --- the docs page -----------------------------------------------------------------------------


def render_docs() -> str:
    """The dialect matrix page, from ``ROWS``."""
    lines = [
        "# Dialect matrix",
        "",
        "Generated from `tests/integration/test_dialect_matrix.py` (`BOOMI_WRITE_DOCS=1` rewrites it); every",
        "row runs in `make test`. Each row sets the simulator's switches to one way Boomi may answer an",
        "open question ([Boomi's open questions](open-questions.md)), runs `BoomiSyncOperator` and, on",
        "the demo account, a provisioning batch of eight changes whose user ids are typed in another case",
        "than Boomi stores them (assign, revoke, two last-role revokes, group add, a group remove and a",
        "group add in one group, read together, and a global role for a user who holds only group",
        "roles).",
        "",
        "*exact*: every snapshot table equals the simulator's state, no grant or Boomi id twice; after",
        "the batch Boomi holds what it asked for, every ledger row says `applied`, nobody was invited,",
        "and the next snapshot is exact too. *loud*: the task fails, no snapshot is written, and the",
        "message names the question and the setting to change.",
        "",
        "| row | § | Boomi answers | account | result | what the provider does |",
        "|---|---|---|---|---|---|",
    ]
    for row in ROWS:
        result = "loud" if row.loud else ("exact + batch" if row.provisions else "exact")
        lines.append(
            f"| `{row.id}` | {row.question} | {row.boomi} | {row.profile} | {result} | {row.provider} |"
        )
    return "\n".join(lines) + "\n"


def test_docs_table_is_current() -> None:
    page = render_docs()
    if os.environ.get("BOOMI_WRITE_DOCS") == "1":
        DOCS_PAGE.write_text(page, encoding="utf-8")
    assert DOCS_PAGE.read_text(encoding="utf-8") == page, (
        "docs/dialect-matrix.md is stale: run "
        "BOOMI_WRITE_DOCS=1 pytest tests/integration/test_dialect_matrix.py"
    )
