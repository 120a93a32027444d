"""The evidence bundle of an applied access review: what auditors ask for, in one folder.

A bundle holds the campaign (what was reviewed), the filled workbook (what reviewers decided),
the validated decisions and the change set derived from them, the provisioning ledger rows of
the run (what was changed, with outcomes and side effects), the verification against a fresh
snapshot (that every revocation took effect), the manifests of the reviewed and the fresh
snapshot, and an index with the sha256 of every file so the bundle can be checked later.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_provider_boomi.access.ledger import read_ledger
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.review.campaign import load_campaign
from airflow_provider_boomi.review.output import file_sha256

INDEX_JSON = "index.json"
INDEX_MD = "index.md"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return path


def write_evidence_bundle(
    evidence_root: str | Path,
    *,
    campaign_dir: str | Path,
    workbook_path: str | Path,
    changes: Sequence[Mapping[str, Any]],
    verification: Mapping[str, Any] | None,
    ledger_path: str | None,
    run_id: str,
    snapshot_root: str | Path,
    resync_manifest_path: str | None = None,
) -> dict[str, Any]:
    """Write the bundle to ``{evidence_root}/{campaign_id}/{run_id}/`` and return where it is.

    Args:
        evidence_root: folder of all bundles (local path).
        campaign_dir: the campaign folder (``campaign.json``, report, ``decisions.json``).
        workbook_path: the filled workbook the decisions came from.
        changes: the change set that was applied (empty when every decision was keep).
        verification: the verification result, or ``None`` when nothing was applied.
        ledger_path: the provisioning ledger; only this run's rows are copied.
        run_id: the Airflow run that applied the decisions.
        snapshot_root: the snapshot store, for the reviewed snapshot's manifest.
        resync_manifest_path: the fresh snapshot's manifest, if one was taken.

    Returns:
        ``{"bundle_dir", "index", "files", "campaign_id"}``: pointers and a count, for XCom.
    """
    campaign_path = Path(campaign_dir)
    campaign = load_campaign(campaign_path)
    bundle = Path(evidence_root) / campaign.campaign_id / _UNSAFE.sub("_", run_id)
    if bundle.exists():  # a retried task rewrites its own bundle from scratch
        shutil.rmtree(bundle)
    (bundle / "manifests").mkdir(parents=True)
    described: dict[str, str] = {}

    def add(path: Path, description: str) -> None:
        described[str(path.relative_to(bundle))] = description

    report_name = json.loads((campaign_path / "campaign.json").read_text(encoding="utf-8"))["files"][
        "report_html"
    ]
    for name, description in (
        ("campaign.json", "the campaign: every review item with its flags and reviewer"),
        ("decisions.json", "the validated decisions, one per review item"),
        (report_name["name"], "the report reviewers saw"),
    ):
        source = campaign_path / name
        if source.exists():
            add(Path(shutil.copy2(source, bundle / name)), description)
    workbook = Path(workbook_path)
    add(Path(shutil.copy2(workbook, bundle / f"filled-workbook{workbook.suffix}")), "the filled workbook")
    add(_write_json(bundle / "changes.json", list(changes)), "the change set derived from the decisions")
    add(
        _write_json(bundle / "verification.json", verification or {"skipped": "no revocations to verify"}),
        "each revocation checked against a fresh snapshot",
    )
    if ledger_path:
        ledger = read_ledger(ledger_path)
        ledger = ledger[ledger["run_id"] == run_id]
        csv_path = bundle / "ledger.csv"
        ledger.to_csv(csv_path, index=False)
        add(csv_path, f"provisioning ledger rows of this run ({len(ledger)})")
    store = SnapshotStore(snapshot_root)
    add(
        _write_json(
            bundle / "manifests" / "reviewed_snapshot.json",
            store.manifest(campaign.account_id, campaign.sync_id),
        ),
        "manifest of the reviewed snapshot",
    )
    if resync_manifest_path:
        target = bundle / "manifests" / "resync_snapshot.json"
        target.write_text(Path(resync_manifest_path).read_text(encoding="utf-8"), encoding="utf-8")
        add(target, "manifest of the snapshot taken after the changes")

    files = [
        {
            "path": rel,
            "sha256": file_sha256(bundle / rel),
            "bytes": (bundle / rel).stat().st_size,
            "description": text,
        }
        for rel, text in sorted(described.items())
    ]
    index = {
        "campaign_id": campaign.campaign_id,
        "account_id": campaign.account_id,
        "reviewed_sync_id": campaign.sync_id,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(),
        "revocations": len(changes),
        "verified": (verification or {}).get("verified", 0),
        "files": files,
    }
    _write_json(bundle / INDEX_JSON, index)
    lines = [
        f"# Evidence: access review {campaign.campaign_id}",
        "",
        f"Account `{campaign.account_id}`, reviewed snapshot `{campaign.sync_id}`, "
        f"applied by run `{run_id}`.",
        f"Revocations: {len(changes)}; verified absent after the resync: {index['verified']}.",
        "",
        "| file | what it is | sha256 |",
        "|---|---|---|",
        *(f"| `{f['path']}` | {f['description']} | `{f['sha256']}` |" for f in files),
        "",
    ]
    (bundle / INDEX_MD).write_text("\n".join(lines), encoding="utf-8")
    return {
        "bundle_dir": str(bundle),
        "index": str(bundle / INDEX_JSON),
        "files": len(files),
        "campaign_id": campaign.campaign_id,
    }
