"""The retention policy on real stores: snapshots synced from the simulator, campaigns, findings
and evidence bundles written by the package, on local disk and on moto's S3 server.

Ages come from a ``now`` moved into the future (500 days, then eight years), so the stores are
real and only the clock is chosen. The dry run must list exactly what the real run deletes; the
snapshot chain must still verify after pruning, and still catch tampering.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.access.sync import sync_account
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.dataset.chain import verify_manifest_chain
from airflow_provider_boomi.findings import SnapshotTables, compute_findings, load_people, write_findings
from airflow_provider_boomi.retention import RetentionPolicy, apply_retention
from airflow_provider_boomi.review import build_campaign, write_campaign, write_evidence_bundle
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from airflow_provider_boomi.verify_chain import run as verify_command
from tests.conftest import load_dag
from tests.helpers import make_client
from tests.integration.test_findings import COLUMNS as PEOPLE_COLUMNS
from tests.integration.test_tamper_evidence import BUCKET, s3  # noqa: F401  (the moto S3 fixture)

POLICY = RetentionPolicy(
    snapshots_days=400,
    campaigns_days=1095,
    workbooks_days=180,
    findings_days=400,
    keep_latest_snapshots=2,
    open_campaign_grace_days=30,
)
LATER = timedelta(days=500)


def _verify(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = verify_command(list(args), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def _people(sim: BoomiSimulator, path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=PEOPLE_COLUMNS)
        writer.writeheader()
        for user in sim.state.users():
            writer.writerow({c: "" for c in PEOPLE_COLUMNS} | {"email": user["userId"], "status": "active"})
    return path


@dataclass
class Stores:
    root: Path
    snapshots: Path
    reviews: Path
    findings: Path
    evidence: Path
    account_id: str
    sync_ids: list[str]
    campaigns: dict[str, Any]
    now: datetime


@pytest.fixture
def stores(sim: BoomiSimulator, tmp_path: Path) -> Stores:
    """Five snapshots; an open campaign on the oldest, a closed one on the second, an old one on
    the third; findings of the first two; an evidence bundle and a crashed bundle folder."""
    snapshots, reviews = tmp_path / "snapshots", tmp_path / "reviews"
    findings, evidence = tmp_path / "findings", tmp_path / "evidence"
    with make_client(sim) as client:
        sync_ids = [sync_account(client, snapshots).sync_id for _ in range(5)]
    real_now = datetime.now(UTC)
    account = sim.account_id
    open_campaign = build_campaign(
        snapshots,
        account,
        sync_ids[0],
        definition={"name": "open", "default_reviewer": "it@acme.example", "due_in_days": 600},
    )
    closed = build_campaign(
        snapshots,
        account,
        sync_ids[1],
        default_reviewer="it@acme.example",
        created_at=real_now - timedelta(days=10),
    )
    old = build_campaign(
        snapshots,
        account,
        sync_ids[2],
        default_reviewer="it@acme.example",
        created_at=real_now - timedelta(days=1200),
    )
    for campaign in (open_campaign, closed, old):
        write_campaign(campaign, reviews / campaign.campaign_id)
    people = load_people(_people(sim, tmp_path / "people.csv"))
    for sync_id in sync_ids[:2]:
        tables = SnapshotTables.read(snapshots, account, sync_id)
        write_findings(compute_findings(tables, people, as_of=tables.synced_at), findings)
    closed_dir = reviews / closed.campaign_id
    write_evidence_bundle(
        evidence,
        campaign_dir=closed_dir,
        workbook_path=next(closed_dir.glob("*-review.csv")),
        changes=[],
        verification=None,
        ledger_path=None,
        run_id="manual__2026-01-01T00:00:00+00:00",
        snapshot_root=snapshots,
    )
    crashed = evidence / closed.campaign_id / "crashed_run"
    crashed.mkdir()
    (crashed / "campaign.json").write_text("{}")
    return Stores(
        tmp_path,
        snapshots,
        reviews,
        findings,
        evidence,
        account,
        sync_ids,
        {"open": open_campaign, "closed": closed, "old": old},
        real_now + LATER,
    )


def _apply(stores: Stores, *, dry_run: bool, now: datetime | None = None) -> Any:
    return apply_retention(
        POLICY,
        now or stores.now,
        store=stores.snapshots,
        reviews_path=stores.reviews,
        findings_root=stores.findings,
        evidence_root=stores.evidence,
        dry_run=dry_run,
    )


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_dry_run_lists_and_the_real_run_deletes_exactly_that(stores: Stores) -> None:
    ids, c = stores.sync_ids, stores.campaigns
    expected = {
        ("snapshot", ids[1]),
        ("snapshot", ids[2]),
        ("findings", ids[1]),
        ("workbooks", c["closed"].campaign_id),
        ("campaign", c["old"].campaign_id),
    }
    before = _files(stores.root)
    dry = _apply(stores, dry_run=True)
    assert {(i.kind, i.subject) for i in dry.to_delete} == expected
    assert _files(stores.root) == before and dry.deleted == () and dry.failed == ()
    kept = {(i.kind, i.subject): i.reason for i in dry.kept}
    assert kept["snapshot", ids[0]] == f"reviewed by open campaign {c['open'].campaign_id}"
    assert kept["snapshot", ids[4]].startswith("one of the latest 2")
    assert kept["findings", ids[0]] == f"used by open campaign {c['open'].campaign_id}"
    assert kept["campaign", c["open"].campaign_id].startswith("open until")
    assert kept["evidence", f"{c['closed'].campaign_id}/crashed_run"].startswith("incomplete bundle")
    (bundle,) = [k for k in kept if k[0] == "evidence" and not k[1].endswith("crashed_run")]
    assert kept[bundle].startswith("audit period: kept until")

    real = _apply(stores, dry_run=False)
    assert [(i.kind, i.target) for i in real.to_delete] == [(i.kind, i.target) for i in dry.to_delete]
    assert real.deleted == real.to_delete and real.failed == () and real.problems == ()
    gone = before - _files(stores.root)
    snapshot_gone = {p for p in gone if p.startswith("snapshots/")}
    assert snapshot_gone and all(
        f"sync_id={ids[1]}/" in p or f"sync_id={ids[2]}/" in p for p in snapshot_gone
    )
    assert not any(p.endswith("manifest.json") for p in gone)  # the chain keeps its links
    assert {p for p in gone if p.startswith("findings/")} == {
        f"findings/account_id={stores.account_id}/sync_id={ids[1]}/{name}"
        for name in ("findings.parquet", "identities.parquet", "summary.json")
    }
    closed, old = c["closed"].campaign_id, c["old"].campaign_id
    assert {p for p in gone if p.startswith(f"reviews/{closed}/")} == {
        f"reviews/{closed}/{closed}-review.csv",
        f"reviews/{closed}/{closed}-review.xlsx",
        *(
            f"reviews/{closed}/{p}"
            for p in _files(stores.reviews / c["open"].campaign_id)
            if "reviewers/" in p
        ),
    }
    assert (stores.reviews / closed / "campaign.json").is_file()
    assert not (stores.reviews / old).exists()
    assert not any(p.startswith("evidence/") for p in gone)
    pruning = [p for p in _files(stores.snapshots) if "/pruned/" in p]
    assert sorted(pruning) == sorted(f"account_id={stores.account_id}/pruned/{s}.json" for s in ids[1:3])

    store = SnapshotStore(stores.snapshots)
    assert [s.sync_id for s in store.snapshots(stores.account_id)] == [ids[0], ids[3], ids[4]]
    with pytest.raises(LookupError, match="was pruned at"):
        store.read_table(stores.account_id, ids[1], "users")
    result = verify_manifest_chain(store, stores.account_id)
    assert result.intact and result.pruned == (ids[1], ids[2]) and result.links_checked == 4
    code, out = _verify("--snapshots", str(stores.snapshots))
    assert code == 0, out
    assert "pruned by the retention policy: 2 snapshot(s)" in out and "INTACT" in out

    # Applying again deletes nothing more.
    assert _apply(stores, dry_run=True).to_delete == ()


def test_pruning_does_not_hide_tampering(stores: Stores) -> None:
    _apply(stores, dry_run=False)
    ids, account = stores.sync_ids, stores.account_id
    kept_file = next(
        (stores.snapshots / f"account_id={account}" / f"sync_id={ids[3]}").glob("users*.parquet")
    )
    kept_file.unlink()  # a kept snapshot loses a file: no pruning record covers it
    record = stores.snapshots / f"account_id={account}" / "pruned" / f"{ids[1]}.json"
    data = json.loads(record.read_text())
    data["manifest_sha256"] = "0" * 64  # a record that names another manifest covers nothing
    record.write_text(json.dumps(data))
    result = verify_manifest_chain(SnapshotStore(stores.snapshots), account)
    kinds = sorted(b.kind for b in result.breaks)
    assert kinds[0] == "data_changed" and "pruned_mismatch" in kinds
    assert any(b.kind == "data_changed" and ids[1] in b.message for b in result.breaks)
    code, out = _verify("--snapshots", str(stores.snapshots))
    assert code == 1 and "BREAK [pruned_mismatch]" in out


def test_evidence_goes_only_after_the_audit_period(stores: Stores) -> None:
    eight_years = datetime.now(UTC) + timedelta(days=8 * 365)
    report = _apply(stores, dry_run=False, now=eight_years)
    deleted = {(i.kind, i.subject) for i in report.deleted}
    closed = stores.campaigns["closed"].campaign_id
    assert ("evidence", f"{closed}/manual__2026-01-01T00_00_00_00_00") in deleted
    # The crashed bundle folder is never deleted by the policy, only reported.
    assert (stores.evidence / closed / "crashed_run" / "campaign.json").is_file()
    # Eight years on, the open campaign is long closed: its snapshot is pruned, its folder deleted.
    assert ("snapshot", stores.sync_ids[0]) in deleted and (
        "campaign",
        stores.campaigns["open"].campaign_id,
    ) in deleted


def test_an_unreadable_campaign_stops_all_pruning(stores: Stores) -> None:
    (stores.reviews / stores.campaigns["closed"].campaign_id / "campaign.json").write_text("{not json")
    report = _apply(stores, dry_run=True)
    assert not [i for i in report.to_delete if i.kind in ("snapshot", "findings")]
    assert any("cannot be read" in p for p in report.problems)


def test_the_policy_refuses_what_it_cannot_mean() -> None:
    with pytest.raises(ValueError, match=r"workbooks_days \(200\) exceeds campaigns_days \(100\)"):
        RetentionPolicy(workbooks_days=200, campaigns_days=100)
    with pytest.raises(ValueError, match="keep_latest_snapshots must be a whole number, at least 1, got 0"):
        RetentionPolicy(keep_latest_snapshots=0)
    with pytest.raises(ValueError, match=r"unknown key\(s\) snapshot_days"):
        RetentionPolicy.from_mapping({"snapshot_days": 30})
    assert RetentionPolicy.from_mapping({"snapshots_days": "30"}).snapshots_days == 30
    with pytest.raises(ValueError, match="needs reviews_path"):
        apply_retention(POLICY, datetime.now(UTC), store="/nowhere")


def test_the_example_dag_is_a_dry_run_by_default(
    stores: Stores, dag_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report_dir = stores.root / "retention"
    conf = {
        "output_path": str(stores.snapshots),
        "reviews_path": str(stores.reviews),
        "findings_path": str(stores.findings),
        "evidence_path": str(stores.evidence),
        "report_dir": str(report_dir),
    }
    before = _files(stores.snapshots)
    dag = load_dag(dag_folder / "boomi_retention.py", "boomi_retention")
    assert dag.timetable.expression == "0 3 * * 0" and dag.params["dry_run"] is True
    assert dag.test(run_conf=conf).state == "success"
    assert _files(stores.snapshots) == before
    (report_file,) = report_dir.glob("report-*.json")
    report = json.loads(report_file.read_text())
    # Today only the campaign created 1200 days ago is old enough; every snapshot is kept.
    assert report["dry_run"] is True
    assert [(i["kind"], i["subject"]) for i in report["to_delete"]] == [
        ("campaign", stores.campaigns["old"].campaign_id)
    ]
    assert (stores.reviews / stores.campaigns["old"].campaign_id / "campaign.json").is_file()
    assert {i["subject"] for i in report["kept"] if i["kind"] == "snapshot"} == set(stores.sync_ids)


# -------------------------------------------------------------------------------------------- S3


@pytest.mark.slow
def test_retention_on_s3(sim: BoomiSimulator, s3: Any, tmp_path: Path) -> None:  # noqa: F811
    snapshots, findings = f"s3://{BUCKET}/boomi/snapshots", f"s3://{BUCKET}/boomi/findings"
    reviews, evidence = f"s3://{BUCKET}/boomi/reviews", f"s3://{BUCKET}/boomi/evidence"
    with make_client(sim) as client:
        ids = [sync_account(client, snapshots).sync_id for _ in range(3)]
    people = load_people(_people(sim, tmp_path / "people.csv"))
    tables = SnapshotTables.read(snapshots, sim.account_id, ids[0])
    write_findings(compute_findings(tables, people, as_of=tables.synced_at), findings)
    policy = RetentionPolicy(keep_latest_snapshots=1)
    now = datetime.now(UTC) + LATER
    dry = apply_retention(
        policy, now, store=snapshots, reviews_path=reviews, findings_root=findings, evidence_root=evidence
    )
    expected = {("snapshot", ids[0]), ("snapshot", ids[1]), ("findings", ids[0])}
    assert {(i.kind, i.subject) for i in dry.to_delete} == expected
    real = apply_retention(
        policy,
        now,
        store=snapshots,
        reviews_path=reviews,
        findings_root=findings,
        evidence_root=evidence,
        dry_run=False,
    )
    assert {(i.kind, i.subject) for i in real.deleted} == expected and real.failed == ()
    s3.invalidate_cache()
    left = s3.find(f"{BUCKET}/boomi")
    assert not any("/findings/" in p for p in left)
    for sync_id in ids[:2]:
        folder = [p for p in left if f"sync_id={sync_id}/" in p]
        assert [p.rsplit("/", 1)[-1] for p in folder] == ["manifest.json"]
    assert [s.sync_id for s in SnapshotStore(snapshots).snapshots(sim.account_id)] == [ids[2]]
    code, out = _verify("--snapshots", snapshots)
    assert code == 0, out
    assert "pruned by the retention policy: 2 snapshot(s)" in out
