"""The review campaign with findings, against the simulator: flags, report section, manager
routing, a mismatch refused, and grants revoked in a review and held again (``regranted``).

The findings come from the scenario of ``test_findings.py`` (a simulator snapshot, a people
table, logins, federation ids, an SoD policy); what each item must carry is derived from that
scenario's expectation, computed from the simulator's raw rows without the package's code.
"""

from __future__ import annotations

import csv
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.access.changes import AccessChange
from airflow_provider_boomi.access.provisioning import Provisioner, ProvisioningOptions
from airflow_provider_boomi.access.sync import sync_account
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.findings import (
    KINDS,
    UNKNOWN_KINDS,
    SnapshotTables,
    compute_findings,
    load_people,
    load_sod_policy,
    read_findings,
    write_findings,
)
from airflow_provider_boomi.review import (
    FindingsMismatchError,
    build_campaign,
    read_decisions,
    record_decisions,
    revocations_from_campaigns,
    write_campaign,
)
from airflow_provider_boomi.review.workbook import REVIEWER_COLUMNS
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.conftest import load_dag
from tests.helpers import make_client
from tests.integration.test_findings import COLUMNS as PEOPLE_COLUMNS
from tests.integration.test_findings import DORMANT_DAYS, Scenario, build_scenario

DEFAULT = "it-security@acme.example"
FALLBACK = "ciso@acme.example"


@pytest.fixture
def scenario(sim: BoomiSimulator, tmp_path: Path) -> Scenario:
    return build_scenario(sim, tmp_path)


def _label(kind: str, subject: str) -> str:
    # An SoD finding's subject is "sod:<rule>" or "sod:<rule>:group:<id>"; the label names the rule.
    return f"{kind}: {subject.split(':')[1]}" if kind == "sod_conflict" else kind


def expected_labels(scenario: Scenario) -> dict[str, tuple[str, ...]]:
    """Grant id -> labels, from the scenario's expectation (unknown kinds are no flag)."""
    order = {kind: i for i, kind in enumerate(KINDS)}
    found: dict[str, set[tuple[int, str]]] = {}
    for (kind, _user, subject), (_severity, grant_ids) in scenario.expected.items():
        if kind in UNKNOWN_KINDS:
            continue
        for grant_id in grant_ids:
            found.setdefault(grant_id, set()).add((order[kind], _label(kind, subject)))
    return {grant_id: tuple(label for _, label in sorted(labels)) for grant_id, labels in found.items()}


def test_items_carry_exact_flags_and_the_report_a_findings_section(
    scenario: Scenario, tmp_path: Path
) -> None:
    write_findings(scenario.result, scenario.findings_root)
    campaign = build_campaign(
        scenario.store_root,
        scenario.account_id,
        scenario.sync_id,
        default_reviewer=DEFAULT,
        findings=scenario.findings_root,
    )
    expected = expected_labels(scenario)
    assert {i.item_id: i.findings for i in campaign.items} == {
        i.item_id: expected.get(i.item_id, ()) for i in campaign.items
    }
    assert set(expected) <= {i.item_id for i in campaign.items}
    assert any(len(labels) > 1 for labels in expected.values())  # several findings on one grant

    per_kind = {kind: 0 for kind in KINDS if kind not in UNKNOWN_KINDS}
    for labels in expected.values():
        for kind in dict.fromkeys(label.split(":")[0] for label in labels):
            per_kind[kind] += 1
    summary = campaign.summary()
    assert {k[len("finding_") :]: v for k, v in summary.items() if k.startswith("finding_")} == per_kind
    assert summary["with_findings"] == len(expected)
    assert campaign.findings is not None and campaign.findings["sync_id"] == scenario.sync_id
    assert campaign.findings["unknown_users"] == {"dormant_unknown": 1, "sso_unknown": 0}

    files = write_campaign(campaign, tmp_path / "campaign")
    with Path(files.workbook_csv).open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["item_id"]: r["findings"] for r in rows} == {
        i.item_id: "; ".join(expected.get(i.item_id, ())) for i in campaign.items
    }
    from openpyxl import load_workbook

    reviewer_book = load_workbook(files.reviewer_workbooks[DEFAULT], read_only=True)
    header = [c.value for c in next(reviewer_book["Review"].iter_rows(max_row=1))]
    assert header == list(REVIEWER_COLUMNS) and header.index("findings") == header.index("comment") + 1

    report = Path(files.report_html).read_text(encoding="utf-8")
    section = report.split('<h2 id="findings">Findings</h2>', 1)[1].split("<h2 ", 1)[0]
    listed = re.findall(r'<h3 id="finding-([a-z_]+)">[a-z_]+ \((\d+)\)</h3>', section)
    assert [kind for kind, _ in listed][:2] == ["leaver", "sod_conflict"]
    assert {kind: int(n) for kind, n in listed} == {k: n for k, n in per_kind.items() if n}
    assert "dormant_unknown for 1 user(s)" in section
    sod_rows = section.split('id="finding-sod_conflict"', 1)[1].split("<h3", 1)[0]
    assert sod_rows.count("sod_conflict: release-and-audit") == per_kind_label(expected, "release-and-audit")


def per_kind_label(expected: dict[str, tuple[str, ...]], rule: str) -> int:
    return sum(f"sod_conflict: {rule}" in labels for labels in expected.values())


def test_items_route_to_managers_and_a_self_manager_to_the_fallback(
    scenario: Scenario, tmp_path: Path
) -> None:
    # One person is listed as their own manager: their items must not come back to them.
    self_managed = scenario.picks["stale_1"]
    rows = [
        row | {"manager_email": row["email"]} if row["email"] == self_managed else row
        for row in scenario.people_rows
    ]
    people = tmp_path / "people-self.csv"
    with people.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=PEOPLE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    result = compute_findings(
        SnapshotTables.read(scenario.store_root, scenario.account_id, scenario.sync_id),
        load_people(people),
        as_of=scenario.synced_at,
        sod_rules=load_sod_policy(scenario.policy_path),
        logins=scenario.logins,
        federation=scenario.federation,
        sso_enabled=True,
        dormant_days=DORMANT_DAYS,
        previous_revocations=scenario.revocations,
    )
    stored = write_findings(result, tmp_path / "findings-self")
    campaign = build_campaign(
        scenario.store_root,
        scenario.account_id,
        scenario.sync_id,
        definition={
            "name": "uar",
            "default_reviewer": DEFAULT,
            "fallback_reviewer": FALLBACK,
            "findings_path": str(tmp_path / "findings-self"),
            "route_to_manager": True,
            "max_snapshot_age_hours": 10_000,
        },
    )
    managers = dict(scenario.expected_managers) | {self_managed: self_managed}
    for item in campaign.items:
        manager = managers.get(item.user_id)
        if item.user_id == self_managed:
            expected = (FALLBACK, self_managed, True)
        elif manager:
            expected = (manager, None, True)
        else:  # unmatched, ambiguous or without a manager: the owners (here the default reviewer)
            expected = (DEFAULT, None, False)
        assert (item.reviewer, item.routed_from, item.via_manager) == expected, item.item_id
    assert {i.reviewer for i in campaign.items} >= {"boss@acme.example", "manager.two@acme.example"}
    assert campaign.summary()["via_manager"] == sum(1 for i in campaign.items if managers.get(i.user_id))
    assert campaign.findings is not None and campaign.findings["route_to_manager"] is True
    assert stored.sync_id == campaign.sync_id


def test_findings_of_another_snapshot_are_refused(sim: BoomiSimulator, scenario: Scenario) -> None:
    stored = write_findings(scenario.result, scenario.findings_root)
    with make_client(sim) as client:
        newer = sync_account(client, scenario.store_root).sync_id
    with pytest.raises(FindingsMismatchError) as raised:
        build_campaign(scenario.store_root, scenario.account_id, newer, findings=scenario.findings_root)
    assert newer in str(raised.value) and scenario.sync_id in str(raised.value)
    with pytest.raises(FindingsMismatchError) as raised:
        build_campaign(scenario.store_root, scenario.account_id, newer, findings=stored)
    assert newer in str(raised.value) and scenario.sync_id in str(raised.value)
    # Findings claiming the right snapshot but holding rows of another are refused too.
    forged = replace(stored, sync_id=newer)
    with pytest.raises(FindingsMismatchError, match=scenario.sync_id):
        build_campaign(scenario.store_root, scenario.account_id, newer, findings=forged)
    with pytest.raises(ValueError, match="route_to_manager needs"):
        build_campaign(scenario.store_root, scenario.account_id, newer, route_to_manager=True)


# ---------------------------------------------------------------------------------- regranted


def _decide(campaign_dir: Path, campaign: Any, revoke: set[str], tmp_path: Path, name: str) -> None:
    """Fill the all-items workbook: revoke ``revoke``, keep the rest; record the decisions."""
    source = next(campaign_dir.glob("*-review.csv"))
    with source.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["decision"] = "revoke" if row["item_id"] in revoke else "keep"
    filled = tmp_path / f"{name}.csv"
    with filled.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    record_decisions(read_decisions(campaign_dir, filled, require_attestation=False), campaign_dir)


FINDINGS_DAG = """
import pendulum
from airflow.sdk import dag
from airflow_provider_boomi.operators.findings import BoomiFindingsOperator

@dag(dag_id="test_boomi_findings_regranted", schedule=None, start_date=pendulum.datetime(2026, 1, 1),
     catchup=False,
     params={"out": "", "findings": "", "people": "", "reviews": "", "account": "", "sync": ""})
def test_boomi_findings_regranted():
    BoomiFindingsOperator(
        task_id="findings", output_path="{{ params.out }}", findings_path="{{ params.findings }}",
        account_id="{{ params.account }}", sync_id="{{ params.sync }}", people_path="{{ params.people }}",
        reviews_path="{{ params.reviews }}",
    )

dag_object = test_boomi_findings_regranted()
"""


def test_a_revoked_grant_held_again_is_regranted_and_flagged_next_time(
    sim: BoomiSimulator, dag_folder: Path, tmp_path: Path
) -> None:
    store_root, reviews, people = tmp_path / "snapshots", tmp_path / "reviews", tmp_path / "people.csv"
    with people.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=PEOPLE_COLUMNS)
        writer.writeheader()
        writer.writerows(
            [
                {c: "" for c in PEOPLE_COLUMNS} | {"email": u["userId"], "status": "active"}
                for u in sim.state.users()
            ]
        )
    with make_client(sim) as client:
        first = sync_account(client, store_root).sync_id
    campaign = build_campaign(store_root, sim.account_id, first, default_reviewer=DEFAULT)
    # Two global grants of users holding several global roles (no Standard User safeguard at
    # play): one revoked and applied, one revoked but never applied.
    counts: dict[str, int] = {}
    for item in campaign.items:
        if item.grant_kind == "global_role":
            counts[item.user_id] = counts.get(item.user_id, 0) + 1
    candidates = [
        i
        for i in campaign.items
        if i.grant_kind == "global_role" and counts[i.user_id] > 1 and i.role_name != "Standard User"
    ]
    applied, not_applied = candidates[0], next(i for i in candidates if i.user_id != candidates[0].user_id)
    campaign_dir = reviews / campaign.campaign_id
    write_campaign(campaign, campaign_dir)
    _decide(campaign_dir, campaign, {applied.item_id, not_applied.item_id}, tmp_path, "q1")

    with make_client(sim) as client:
        provisioner = Provisioner(client, ProvisioningOptions(provisioning_enabled=True))
        (result,) = provisioner.apply_all(
            [
                AccessChange(
                    action="revoke_role", user_id=applied.user_id, role=applied.role_id, role_is_id=True
                )
            ]
        )
        assert result.outcome == "applied", result
        after = sync_account(client, store_root).sync_id  # the revocation, seen
    store = SnapshotStore(store_root)
    revocations = revocations_from_campaigns(reviews, store_root, sim.account_id)
    assert revocations.to_pylist() == [
        {
            "user_id": applied.user_id,
            "role_id": applied.role_id,
            "account_group_id": None,
            "revoked_at": store.info(sim.account_id, after).synced_at,
            "revoked_in": campaign.campaign_id,
        }
    ]

    sim.state.grant_role(applied.user_id, applied.role_id)  # someone gives it back
    with make_client(sim) as client:
        again = sync_account(client, store_root).sync_id
    # The findings operator reads the revocations from the campaign folders itself.
    dag_file = dag_folder / "test_boomi_findings_regranted.py"
    dag_file.write_text(FINDINGS_DAG)
    run = load_dag(dag_file, "test_boomi_findings_regranted").test(
        run_conf={
            "out": str(store_root),
            "findings": str(tmp_path / "findings"),
            "people": str(people),
            "reviews": str(reviews),
            "account": sim.account_id,
            "sync": again,
        }
    )
    assert run.state == "success"
    stored = read_findings(tmp_path / "findings", sim.account_id, again)
    regranted = [r for r in stored.findings.to_pylist() if r["kind"] == "regranted"]
    assert [(r["user_id"], r["grant_ids"], r["revoked_in"], r["revoked_at"]) for r in regranted] == [
        (
            applied.user_id,
            [applied.item_id],
            campaign.campaign_id,
            store.info(sim.account_id, after).synced_at,
        )
    ]
    assert stored.summary["inputs"]["previous_revocations"] == {"rows": 1}
    next_campaign = build_campaign(
        store_root,
        sim.account_id,
        again,
        default_reviewer=DEFAULT,
        previous_campaign_dir=reviews,
        findings=tmp_path / "findings",
    )
    flagged = {i.item_id for i in next_campaign.items if "regranted" in i.findings}
    assert flagged == {applied.item_id}
    assert not_applied.item_id in {i.item_id for i in next_campaign.items}  # still held, no regrant
