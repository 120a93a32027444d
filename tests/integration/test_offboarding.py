"""Offboarding a leaver against the simulator over loopback HTTP: complete removal verified by a
fresh snapshot, the refusals, the dry run, the ledger, partial failures, the review decision
``remove_user`` end to end, the leaver proposal of the findings, and a race with a revoke run in
another process."""

from __future__ import annotations

import csv
import importlib.util
import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.access.changes import (
    ALREADY_SATISFIED,
    APPLIED,
    FAILED,
    OFFBOARD_USER,
    PLANNED,
    REFUSED,
    REMOVE_GROUP_ROLE,
    REVOKE_ROLE,
    USER_NOT_FOUND,
    AccessChange,
    changes_from_records,
    load_changes,
)
from airflow_provider_boomi.access.ledger import LedgerWriter, RunContext, read_ledger
from airflow_provider_boomi.access.provisioning import Provisioner, ProvisioningOptions
from airflow_provider_boomi.access.sync import sync_account
from airflow_provider_boomi.client import BoomiClient, ClientConfig
from airflow_provider_boomi.dataset import GRANT_TABLES, SnapshotStore
from airflow_provider_boomi.findings import (
    SnapshotTables,
    StaleProposalError,
    compute_findings,
    load_people,
    read_offboarding_proposal,
    write_findings,
    write_offboarding_proposal,
)
from airflow_provider_boomi.review import (
    COLUMNS,
    VerificationError,
    build_campaign,
    decisions_to_changes,
    read_decisions,
    verify_changes,
    write_campaign,
)
from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule
from tests.helpers import make_client, race_in_processes

REMOVAL = ProvisioningOptions(provisioning_enabled=True, allow_user_removal=True)
WRITES = ("create", "delete")


def _role_id(sim: BoomiSimulator, name: str) -> str:
    role = sim.state.role_by_name(name)
    assert role is not None
    return str(role["id"])


def _global_rows(sim: BoomiSimulator, user: str) -> list[dict[str, Any]]:
    return [r for r in sim.state.user_roles() if r["userId"].lower() == user.lower()]


def _group_rows(sim: BoomiSimulator, user: str) -> list[dict[str, Any]]:
    return [r for r in sim.state.group_roles() if r["userId"].lower() == user.lower()]


def _writes(sim: BoomiSimulator) -> list[str]:
    return [r.operation for r in sim.requests if r.operation in WRITES]


def _leaver(sim: BoomiSimulator, *, with_standard_user: bool = True, index: int = 0) -> str:
    """A user of the demo account with global and group roles, not an administrator; holding
    Standard User or not, as asked (the state is changed to make it so)."""
    admin = {_role_id(sim, "Administrator"), _role_id(sim, "Account Admin Delegate")}
    standard = _role_id(sim, "Standard User")
    grouped = {r["userId"] for r in sim.state.group_roles()}
    candidates = sorted(
        user
        for user in grouped
        if user.lower() != sim.email.lower()
        and len({r["roleId"] for r in _global_rows(sim, user)} - {standard}) >= 1
        and not {r["roleId"] for r in _global_rows(sim, user)} & admin
    )
    user = candidates[index]
    holds = standard in {r["roleId"] for r in _global_rows(sim, user)}
    if with_standard_user and not holds:
        sim.state.grant_role(user, standard)
    if not with_standard_user and holds:
        sim.state.revoke_role(user, standard)
    return user


def _snapshot_users(client: BoomiClient, root: Path) -> tuple[set[str], set[str]]:
    """A fresh sync into ``root``: the users of the snapshot, and the users of its grants."""
    result = sync_account(client, str(root))
    store = SnapshotStore(str(root))
    users = store.read_table(result.account_id, result.sync_id, "users", columns=["user_id"])
    granted: set[str] = set()
    for table in GRANT_TABLES:
        rows = store.read_table(result.account_id, result.sync_id, table, columns=["user_id"])
        granted.update(u.lower() for u in rows.column("user_id").to_pylist())
    return {u.lower() for u in users.column("user_id").to_pylist()}, granted


# --- a complete removal ---------------------------------------------------------------------------


@pytest.mark.parametrize("group_roles_on_removal", ["kept", "removed"])
def test_offboarding_removes_a_leaver_completely_verified_by_a_fresh_snapshot(
    sim: BoomiSimulator, tmp_path: Path, group_roles_on_removal: str
) -> None:
    sim.state.group_roles_on_removal = group_roles_on_removal
    user = _leaver(sim)
    global_before, group_before = _global_rows(sim, user), _group_rows(sim, user)
    assert len(global_before) >= 2 and group_before
    with make_client(sim) as client:
        users, granted = _snapshot_users(client, tmp_path / "before")
        assert user.lower() in users and user.lower() in granted
        with LedgerWriter(str(tmp_path / "ledger"), context=RunContext(account_id=sim.account_id)) as ledger:
            result = Provisioner(client, REMOVAL, ledger=ledger).apply(
                # Typed in another case than Boomi's: resolved to Boomi's spelling.
                AccessChange(OFFBOARD_USER, user.upper(), reason="HR-7 leaver")
            )
        users, granted = _snapshot_users(client, tmp_path / "after")

    assert result.outcome == APPLIED, result
    assert result.verification is not None and "no global role and no group role" in result.verification
    assert _global_rows(sim, user) == [] and _group_rows(sim, user) == []
    assert user.lower() not in users and user.lower() not in granted
    assert not next(u for u in sim.state.users() if u["userId"] == user)["inAccount"]
    # Every row removed, Standard User last, each a result of its own.
    assert [g.outcome for g in result.grants] == [APPLIED] * (len(global_before) + len(group_before))
    assert {g.boomi_id for g in result.grants} == {r["id"] for r in global_before + group_before}
    assert result.grants[-1].role_name == "Standard User"
    assert sum(g.action == REMOVE_GROUP_ROLE for g in result.grants) == len(group_before)
    # Sub-accounts reached through the groups are reported (the demo groups cover two).
    assert result.sub_accounts and all(a.startswith(f"{sim.account_id}-sub") for a in result.sub_accounts)
    assert any("sub-account" in effect for effect in result.side_effects)

    ledger_rows = read_ledger(str(tmp_path / "ledger"))
    assert list(ledger_rows["action"])[-1] == OFFBOARD_USER  # the summary after its deletes
    assert len(ledger_rows) == len(result.grants) + 1
    assert set(ledger_rows["reason"]) == {"HR-7 leaver"}
    assert set(ledger_rows["action"][:-1]) <= {REVOKE_ROLE, REMOVE_GROUP_ROLE}
    assert set(ledger_rows["outcome"]) == {APPLIED}
    summary_row = ledger_rows.iloc[-1]
    assert all(
        f"part of offboard_user {summary_row['action_id']}" in list(s)
        for s in ledger_rows["side_effects"][:-1]
    )
    summary = result.summary()
    assert summary["sub_accounts"] == list(result.sub_accounts) and len(summary["grants"]) == len(
        result.grants
    )


def test_a_user_without_standard_user_gets_it_first_and_loses_it_last(sim: BoomiSimulator) -> None:
    user = _leaver(sim, with_standard_user=False)
    sim.clear_requests()
    with make_client(sim) as client:
        result = Provisioner(client, REMOVAL).apply(AccessChange(OFFBOARD_USER, user))
    assert result.outcome == APPLIED, result
    assert _global_rows(sim, user) == [] and _group_rows(sim, user) == []
    writes = [(r.operation, r.object_type) for r in sim.requests if r.operation in WRITES]
    assert writes[0] == ("create", "AccountUserRole")  # Standard User, first
    assert writes[-1] == ("delete", "AccountUserRole") and result.grants[-1].role_name == "Standard User"
    assert any("assigned Standard User" in e for e in result.side_effects)


# --- refusals -------------------------------------------------------------------------------------


def test_refused_without_the_explicit_allowance_in_a_dry_run_too(sim: BoomiSimulator, tmp_path: Path) -> None:
    user = _leaver(sim)
    before = _global_rows(sim, user) + _group_rows(sim, user)
    with make_client(sim) as client, LedgerWriter(str(tmp_path / "ledger")) as ledger:
        for dry_run in (False, True):
            options = ProvisioningOptions(provisioning_enabled=True, dry_run=dry_run)
            result = Provisioner(client, options, ledger=ledger).apply(AccessChange(OFFBOARD_USER, user))
            assert result.outcome == REFUSED
            assert "allow_user_removal=True" in (result.error or "")
    assert _writes(sim) == []
    assert _global_rows(sim, user) + _group_rows(sim, user) == before
    assert list(read_ledger(str(tmp_path / "ledger"))["outcome"]) == [REFUSED, REFUSED]


def test_refused_when_the_accounts_groups_cannot_be_read_unless_told_there_are_none(
    make_simulator: Callable[..., BoomiSimulator],
) -> None:
    # A 403 on AccountGroup/query (§g.6) hides the user's group roles: never "removed" on a guess.
    sim = make_simulator(profile="non_primary", groups_mode="forbidden")
    admin = {_role_id(sim, "Administrator"), _role_id(sim, "Account Admin Delegate")}
    user = next(
        u["userId"]
        for u in sim.state.users()
        if u["userId"].lower() != sim.email.lower()
        and _global_rows(sim, u["userId"])
        and not {r["roleId"] for r in _global_rows(sim, u["userId"])} & admin
    )
    with make_client(sim) as client:
        refused = Provisioner(client, REMOVAL).apply(AccessChange(OFFBOARD_USER, user))
    assert refused.outcome == REFUSED and "offboard_without_groups=True" in (refused.error or "")
    assert "BoomiPermissionError" in (refused.error or "") and _writes(sim) == []
    told = ProvisioningOptions(
        provisioning_enabled=True, allow_user_removal=True, offboard_without_groups=True
    )
    with make_client(sim) as client:
        result = Provisioner(client, told).apply(AccessChange(OFFBOARD_USER, user))
    assert result.outcome == APPLIED and _global_rows(sim, user) == []
    assert any("group roles not checked" in effect for effect in result.side_effects)


def test_refused_for_the_connections_own_user_even_with_allow_own_user(sim: BoomiSimulator) -> None:
    before = _global_rows(sim, sim.email)
    with make_client(sim) as client:
        options = ProvisioningOptions(provisioning_enabled=True, allow_user_removal=True, allow_own_user=True)
        result = Provisioner(client, options).apply(AccessChange(OFFBOARD_USER, sim.email.upper()))
    assert result.outcome == REFUSED
    assert "own user" in (result.error or "") and "even with allow_own_user" in (result.error or "")
    assert _writes(sim) == [] and _global_rows(sim, sim.email) == before


def test_refused_for_the_last_administrator(sim: BoomiSimulator) -> None:
    admin, delegate = _role_id(sim, "Administrator"), _role_id(sim, "Account Admin Delegate")
    user = _leaver(sim)
    sim.state.grant_role(user, admin)
    # Every other administrator, the connection's own user included, loses the role: the user is
    # the only one left (the simulator serves the API user whatever its roles).
    for row in sim.state.user_roles():
        if row["roleId"] in (admin, delegate) and row["userId"] != user:
            sim.state.revoke_role(row["userId"], row["roleId"])
    before = _global_rows(sim, user) + _group_rows(sim, user)
    sim.clear_requests()
    with make_client(sim) as client:
        result = Provisioner(client, REMOVAL).apply(AccessChange(OFFBOARD_USER, user))
    assert result.outcome == REFUSED and "last administrator" in (result.error or ""), result
    assert _writes(sim) == []
    assert _global_rows(sim, user) + _group_rows(sim, user) == before


def test_another_administrator_lets_an_administrator_go(sim: BoomiSimulator) -> None:
    user = _leaver(sim)
    sim.state.grant_role(user, _role_id(sim, "Administrator"))
    with make_client(sim) as client:
        result = Provisioner(client, REMOVAL).apply(AccessChange(OFFBOARD_USER, user))
    assert result.outcome == APPLIED, result
    assert _global_rows(sim, user) == []


def test_an_unknown_user_is_not_found_and_nothing_is_sent(sim: BoomiSimulator) -> None:
    with make_client(sim) as client:
        result = Provisioner(client, REMOVAL).apply(
            AccessChange(OFFBOARD_USER, f"nobody.here@{sim.email.split('@')[1]}")
        )
    assert result.outcome == USER_NOT_FOUND and not result.ok
    assert _writes(sim) == []


# --- dry run --------------------------------------------------------------------------------------


def test_dry_run_plans_every_delete_and_changes_nothing(sim: BoomiSimulator, tmp_path: Path) -> None:
    user = _leaver(sim, with_standard_user=False)
    before = _global_rows(sim, user) + _group_rows(sim, user)
    sim.clear_requests()
    with make_client(sim) as client, LedgerWriter(str(tmp_path / "ledger")) as ledger:
        options = ProvisioningOptions(dry_run=True, allow_user_removal=True)  # disabled: a dry run works
        result = Provisioner(client, options, ledger=ledger).apply(
            AccessChange(OFFBOARD_USER, user, reason="plan")
        )
    assert result.outcome == PLANNED
    assert {g.boomi_id for g in result.grants} == {r["id"] for r in before}
    assert {g.outcome for g in result.grants} == {PLANNED}
    assert any("would assign Standard User" in e for e in result.side_effects)
    assert _writes(sim) == []
    assert _global_rows(sim, user) + _group_rows(sim, user) == before
    rows = read_ledger(str(tmp_path / "ledger"))
    assert len(rows) == len(before) + 1 and set(rows["outcome"]) == {PLANNED} and all(rows["dry_run"])


# --- partial failures and unknown outcomes --------------------------------------------------------


def test_a_delete_that_fails_stops_before_standard_user_and_names_what_is_left(
    sim: BoomiSimulator, tmp_path: Path
) -> None:
    user = _leaver(sim)
    standard = _role_id(sim, "Standard User")
    sim.set_faults([FaultRule("500", object_type="AccountUserRole", operation="delete", count=1)])
    with make_client(sim, max_retries=0) as client, LedgerWriter(str(tmp_path / "ledger")) as ledger:
        result = Provisioner(client, REMOVAL, ledger=ledger).apply(AccessChange(OFFBOARD_USER, user))
    assert result.outcome == FAILED and not result.ok
    assert "did not take effect" in (result.error or "") and "left:" in (result.error or "")
    assert (result.verification or "").startswith("unsettled")  # the 500 may still land
    left = {r["roleId"] for r in _global_rows(sim, user)}
    assert standard in left and len(left) == 2  # the row whose delete failed, and the floor
    assert _group_rows(sim, user) == []
    failed = [g for g in result.grants if g.outcome == FAILED]
    assert len(failed) == 1 and failed[0].role_id in left
    assert failed[0].role_name is not None and failed[0].role_name in (result.error or "")
    assert set(read_ledger(str(tmp_path / "ledger"))["outcome"]) == {APPLIED, FAILED}


def test_a_delete_whose_answer_is_lost_is_decided_by_reading_back(sim: BoomiSimulator) -> None:
    user = _leaver(sim)
    sim.set_faults(
        [FaultRule("timeout_after_answer", object_type="AccountGroupUserRole", operation="delete", count=1)]
    )
    with make_client(sim, max_retries=0, timeout=2.0) as client:
        result = Provisioner(client, REMOVAL).apply(AccessChange(OFFBOARD_USER, user))
    assert result.outcome == APPLIED, result
    assert any("outcome unknown" in (g.verification or "") for g in result.grants)
    assert _global_rows(sim, user) == [] and _group_rows(sim, user) == []


# --- the review decision remove_user, end to end ---------------------------------------------------


def test_remove_user_decision_becomes_one_offboarding_that_removes_the_user(
    sim: BoomiSimulator, tmp_path: Path
) -> None:
    user = _leaver(sim)
    other = _leaver(sim, index=1)
    store = tmp_path / "store"
    with make_client(sim) as client:
        sync_account(client, str(store))
    campaign = build_campaign(SnapshotStore(str(store)), sim.account_id, campaign_id="uar-offboard")
    files = write_campaign(campaign, tmp_path / "campaign")
    items = {item.item_id: item for item in campaign.items}
    mine = [i for i, item in items.items() if item.user_id.lower() == user.lower()]
    theirs = [
        i
        for i, item in items.items()
        if item.user_id.lower() == other.lower() and item.role_id != _role_id(sim, "Standard User")
    ]
    assert len(mine) >= 3 and theirs
    decided = {mine[0]: ("keep", "still needed?"), mine[1]: ("remove_user", "left in March")}
    decided.update({i: ("revoke", "") for i in mine[2:]})
    decided[mine[-1]] = ("REMOVE_USER", "left in March")  # case-insensitive, and a second item
    decided[theirs[0]] = ("revoke", "not needed")
    rows = list(csv.DictReader(files.workbook_csv.open(encoding="utf-8-sig")))
    for row in rows:
        row["decision"], row["comment"] = decided.get(row["item_id"], ("keep", ""))
    with files.workbook_csv.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)

    decisions = read_decisions(files.campaign_json.parent, files.workbook_csv, require_attestation=False)
    changes = decisions_to_changes(decisions)

    offboards = [c for c in changes if c["action"] == OFFBOARD_USER]
    assert len(offboards) == 1 and offboards[0]["user_id"].lower() == user.lower()
    assert not [c for c in changes if c["action"] != OFFBOARD_USER and c["user_id"].lower() == user.lower()]
    reason = offboards[0]["reason"]
    assert reason.startswith("access review uar-offboard: remove user (decided on 2 item(s)): left in March")
    assert f"keep on {mine[0]}" in reason and "supersedes" in reason
    assert {d.item.item_id for d in decisions.superseded} == set(mine) - {mine[1], mine[-1]}
    assert [c["user_id"].lower() for c in changes if c["action"] != OFFBOARD_USER] == [other.lower()]

    with make_client(sim) as client:
        results = Provisioner(client, REMOVAL).apply_all(changes_from_records(changes))
        users, granted = _snapshot_users(client, tmp_path / "after")
    assert [r.outcome for r in results] == [APPLIED] * len(changes), results
    assert user.lower() not in users and user.lower() not in granted
    assert other.lower() in users

    # Verification (as boomi_apply_review_decisions runs it): the fresh snapshot shows the user
    # holding nothing; the snapshot taken before the changes contradicts the offboarding.
    outcomes = [r.summary() for r in results]
    after = SnapshotStore(str(tmp_path / "after")).latest(sim.account_id)
    before = SnapshotStore(str(store)).latest(sim.account_id)
    assert after is not None and before is not None
    checked = verify_changes(after.path, changes, outcomes)
    (offboarded,) = [c for c in checked.checks if c["action"] == OFFBOARD_USER]
    assert (offboarded["expected"], offboarded["holds"]) == ("no grants", True)
    with pytest.raises(VerificationError, match="offboard_user user:"):
        verify_changes(before.path, changes, outcomes)


# --- the leavers of the findings, proposed ----------------------------------------------------------


def test_leaver_findings_become_a_proposal_that_is_never_applied(sim: BoomiSimulator, tmp_path: Path) -> None:
    leaver = _leaver(sim)
    store, findings_root = tmp_path / "store", tmp_path / "findings"
    with make_client(sim) as client:
        sync_account(client, str(store))
    tables = SnapshotTables.read(str(store), sim.account_id)
    people = tmp_path / "people.csv"
    with people.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "status", "end_date"])
        for user in sorted({u["userId"] for u in sim.state.users() if u["inAccount"]}):
            writer.writerow([user, "ended" if user == leaver else "active", ""])
    result = compute_findings(tables, load_people(str(people)), as_of=tables.synced_at)
    stored = write_findings(result, str(findings_root))
    before = _global_rows(sim, leaver) + _group_rows(sim, leaver)

    path = write_offboarding_proposal(stored, str(findings_root))

    assert path.endswith(f"sync_id={stored.sync_id}/offboarding-proposal.json")
    changes = load_changes(path)
    leaver_findings = [r for r in result.findings.to_pylist() if r["kind"] == "leaver"]
    assert [c.user_id for c in changes] == [leaver] and len(leaver_findings) == 1
    assert changes[0].action == OFFBOARD_USER and changes[0].role == ""
    assert changes[0].reason is not None
    assert changes[0].reason.startswith(f"leaver finding {leaver_findings[0]['finding_id']} of snapshot")
    document = read_offboarding_proposal(str(findings_root), sim.account_id, stored.sync_id)
    assert document["status"].startswith("proposed, not applied")
    assert _global_rows(sim, leaver) + _group_rows(sim, leaver) == before  # nothing applied

    # Findings computed again (another time, other rows): the old proposal is refused as stale.
    later = compute_findings(tables, load_people(str(people)), as_of=tables.synced_at + timedelta(days=1))
    write_findings(later, str(findings_root))
    with pytest.raises(StaleProposalError, match="computed again"):
        read_offboarding_proposal(str(findings_root), sim.account_id, stored.sync_id)

    # Applying it is the apply path's: refused without the allowance, done with it.
    with make_client(sim) as client:
        refused = Provisioner(client, ProvisioningOptions(provisioning_enabled=True)).apply_all(changes)
        applied = Provisioner(client, REMOVAL).apply_all(changes)
    assert [r.outcome for r in refused] == [REFUSED] and [r.outcome for r in applied] == [APPLIED]
    assert _global_rows(sim, leaver) + _group_rows(sim, leaver) == []


# --- a race with a revoke in another process --------------------------------------------------------


def _run_in_child(connection: dict[str, Any], record: dict[str, Any], start_at: float, out: Any) -> None:
    """One provisioning run of one change: wait for the common start, apply, report."""
    config = ClientConfig(requests_per_second=1000.0, max_retries=2, timeout=10.0, **connection)
    with BoomiClient(config) as client:
        options = ProvisioningOptions(provisioning_enabled=True, allow_user_removal=True)
        provisioner = Provisioner(client, options)
        provisioner.resolve_role("Standard User")  # the catalog and the matching, before the race
        provisioner.user_id_matching()
        time.sleep(max(0.0, start_at - time.time()))
        result = provisioner.apply(changes_from_records([record])[0])
    out.put((result.action, result.outcome, result.error, [g.outcome for g in result.grants]))


@pytest.mark.parametrize("with_standard_user", [True, False], ids=["holds-standard-user", "lacks-it"])
@pytest.mark.parametrize("latency", [0.0, 0.05, 0.2])
def test_offboarding_while_another_process_revokes_a_role_never_reports_a_half_removal(
    sim: BoomiSimulator, latency: float, with_standard_user: bool
) -> None:
    user = _leaver(sim, with_standard_user=with_standard_user)
    standard = _role_id(sim, "Standard User")
    other_role = next(r["roleId"] for r in _global_rows(sim, user) if r["roleId"] != standard)
    role_name = next(r["name"] for r in sim.state.roles() if r["id"] == other_role)
    sim.set_latency(latency)
    records = [
        {"action": OFFBOARD_USER, "user_id": user, "reason": "race"},
        {"action": REVOKE_ROLE, "user_id": user, "role": role_name},
    ]
    results = {
        action: (outcome, error, grants)
        for action, outcome, error, grants in race_in_processes(sim, _run_in_child, records, timeout=90)
    }
    time.sleep(max(0.5, latency * 4))  # nothing still in flight

    outcome, error, _grants = results[OFFBOARD_USER]
    left = _global_rows(sim, user) + _group_rows(sim, user)
    if outcome == APPLIED:
        assert left == [], (results, left)
    else:
        assert outcome == FAILED and "left:" in (error or ""), results
        assert standard in {r["roleId"] for r in _global_rows(sim, user)}, (
            "failed, yet not visibly in the account"
        )
    # The revoke either ran first, found its role gone, or failed loudly: it never re-added the user.
    assert results[REVOKE_ROLE][0] in (APPLIED, ALREADY_SATISFIED, FAILED, USER_NOT_FOUND), results


def test_offboarding_without_roles_in_groups_on_an_account_without_groups(make_simulator: Any) -> None:
    sim = make_simulator(primary=False)
    user = next(
        u["userId"] for u in sim.state.users() if u["inAccount"] and u["userId"].lower() != sim.email.lower()
    )
    with make_client(sim) as client:
        result = Provisioner(client, REMOVAL).apply(AccessChange(OFFBOARD_USER, user))
    assert result.outcome == APPLIED, result
    assert result.sub_accounts == () and _global_rows(sim, user) == []


# --- the operators, in a real DAG run ---------------------------------------------------------------

OPERATORS_DAG = """
import json
import os

from airflow.sdk import DAG

from airflow_provider_boomi.operators.findings import BoomiFindingsOperator
from airflow_provider_boomi.operators.provisioning import (
    BoomiApplyAccessChangesOperator,
    BoomiOffboardUserOperator,
)

P = json.loads(os.environ["BOOMI_TEST_PARAMS"])

with DAG(dag_id="{dag_id}", schedule=None, catchup=False) as dag:
    refused = BoomiOffboardUserOperator(task_id="refused", user_id=P["first"], ledger_path=P["ledger"])
    offboard = BoomiOffboardUserOperator(
        task_id="offboard", user_id=P["first"], allow_user_removal="{{{{ 'true' }}}}",
        ledger_path=P["ledger"], reason="HR-9",
    )
    batch_refused = BoomiApplyAccessChangesOperator(
        task_id="batch_refused", changes=[{{"action": "offboard_user", "user_id": P["second"]}}],
        ledger_path=P["ledger"],
    )
    findings = BoomiFindingsOperator(
        task_id="findings", output_path=P["store"], findings_path=P["findings"], account_id=P["account"],
        people_path=P["people"],
    )
    batch = BoomiApplyAccessChangesOperator(
        task_id="batch", changes_path="{{{{ ti.xcom_pull(task_ids='findings')['offboarding_proposal'] }}}}",
        allow_user_removal=True, ledger_path=P["ledger"],
    )
    findings >> batch
"""


def test_the_operators_refuse_without_the_allowance_and_offboard_with_it(
    connected_sim: BoomiSimulator, dag_folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sim = connected_sim
    first, second = _leaver(sim), _leaver(sim, index=1)
    store = tmp_path / "store"
    with make_client(sim) as client:
        sync_account(client, str(store))
    people = tmp_path / "people.csv"
    with people.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "status"])
        for user in sorted({u["userId"] for u in sim.state.users() if u["inAccount"]}):
            writer.writerow([user, "ended" if user == second else "active"])
    params = {
        "first": first,
        "second": second,
        "ledger": str(tmp_path / "ledger"),
        "store": str(store),
        "findings": str(tmp_path / "findings"),
        "account": sim.account_id,
        "people": str(people),
    }
    dag_id = f"boomi_offboarding_{uuid.uuid4().hex[:8]}"
    path = dag_folder / f"{dag_id}.py"
    path.write_text(OPERATORS_DAG.format(dag_id=dag_id))
    monkeypatch.setenv("BOOMI_TEST_PARAMS", json.dumps(params))
    spec = importlib.util.spec_from_file_location(dag_id, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    run = module.dag.test()

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {
        "refused": "failed",
        "offboard": "success",
        "batch_refused": "failed",
        "findings": "success",
        "batch": "success",
    }, states
    assert _global_rows(sim, first) + _group_rows(sim, first) == []
    assert _global_rows(sim, second) + _group_rows(sim, second) == []  # through the findings' proposal
    ledger = read_ledger(params["ledger"])
    summaries = ledger[ledger["action"] == OFFBOARD_USER].set_index("task_id")
    assert (
        summaries.loc["refused", "outcome"] == REFUSED
        and summaries.loc["batch_refused", "outcome"] == REFUSED
    )
    assert summaries.loc["offboard", "outcome"] == APPLIED and summaries.loc["batch", "outcome"] == APPLIED
    assert set(ledger[ledger["task_id"] == "offboard"]["reason"]) == {"HR-9"}
    assert summaries.loc["batch", "reason"].startswith("leaver finding ")
