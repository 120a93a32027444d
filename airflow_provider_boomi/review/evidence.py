"""The evidence bundle of an applied access review: what auditors ask for, in one folder.

A bundle holds the campaign (what was reviewed), the filled workbook (what reviewers decided),
the validated decisions and the change set derived from them, the provisioning ledger rows of
the run (what was changed, with outcomes and side effects), the verification against a fresh
snapshot (that every revocation took effect), the manifests of the reviewed and the fresh
snapshot, and an index with the sha256 of every file so the bundle can be checked later.

Paths and completeness:

- The bundle of run ``R`` of campaign ``C`` is ``{evidence_root}/{C}/{R}/``. The campaign id
  (read from ``campaign.json``), the run id and every file name read from ``campaign.json`` are
  checked by :func:`~airflow_provider_boomi.dataset.paths.validate_path_component` when they are
  read here, and the bundle folder is checked again after resolving symlinks, so nothing is
  written, moved or deleted outside ``evidence_root``.
- ``index.json`` is the completion marker: it is written last, and a folder without it is an
  incomplete bundle (:func:`is_complete_bundle`). Nothing in this module trusts a folder without
  it, and the check works the same on object storage, where there is no atomic rename.
- On a local disk the bundle is written into a fresh hidden sibling folder
  (``.{R}.<random>.partial``, a name no valid id can take) and renamed into place, so the bundle
  folder is either complete or absent. A complete bundle is never overwritten or deleted: if the
  run already has one, writing again raises :class:`FileExistsError` (evidence is append-only;
  move the old bundle away on purpose to rewrite it). An incomplete folder left by a crash is
  renamed aside to ``.{R}.incomplete-<random>`` for inspection, never deleted.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_provider_boomi.access.ledger import read_ledger
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.dataset.paths import local_path_inside, validate_path_component
from airflow_provider_boomi.review.campaign import CAMPAIGN_FILE, DECISIONS_FILE, load_campaign
from airflow_provider_boomi.review.cells import neutralise_csv_cell
from airflow_provider_boomi.review.output import file_sha256

__all__ = ["INDEX_JSON", "INDEX_MD", "bundle_dir", "is_complete_bundle", "write_evidence_bundle"]

#: The index of the bundle, with the sha256 of every file; written last (the completion marker).
INDEX_JSON = "index.json"
#: The same index for people to read.
INDEX_MD = "index.md"

_WHERE = "an evidence bundle path"
# Airflow run ids hold ':' and '+' (``manual__2026-01-01T00:00:00+00:00``); they become '_' in
# the folder name. The result is still validated: '.' and '..' pass this substitution unchanged.
_RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _run_folder(run_id: object) -> str:
    if not isinstance(run_id, str):
        raise ValueError(f"run id must be a string, got {type(run_id).__name__}")
    return validate_path_component(_RUN_ID_UNSAFE.sub("_", run_id), "run id", where=_WHERE)


def bundle_dir(evidence_root: str | os.PathLike[str], campaign_id: str, run_id: str) -> Path:
    """The folder of the bundle of ``run_id`` for ``campaign_id``, resolved and checked.

    Call it before changing anything to fail early on ids that cannot name a bundle.

    Raises:
        ValueError: an id is not a safe path component (see
            :func:`~airflow_provider_boomi.dataset.paths.validate_path_component`), or the
            folder resolves outside ``evidence_root`` (a symlink).
    """
    campaign_folder = validate_path_component(campaign_id, "campaign id", where=_WHERE)
    return local_path_inside(evidence_root, campaign_folder, _run_folder(run_id))


def is_complete_bundle(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a complete bundle: its completion marker ``index.json`` exists."""
    return (Path(path) / INDEX_JSON).is_file()


def _report_name(campaign_path: Path) -> str | None:
    """The report's file name recorded in ``campaign.json``, validated (it becomes a path)."""
    data = json.loads(local_path_inside(campaign_path, CAMPAIGN_FILE).read_text(encoding="utf-8"))
    files = data.get("files") if isinstance(data, dict) else None
    report = files.get("report_html") if isinstance(files, dict) else None
    name = report.get("name") if isinstance(report, dict) else None
    if name is None:
        return None
    validate_path_component(name, "report file name in campaign.json", where=_WHERE)
    # Only an HTML file: it can then never take the place of a file the bundle writes itself.
    if not name.endswith(".html"):
        raise ValueError(f"report file name {name!r} in campaign.json is not an .html file")
    return str(name)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")


def _write_csv(path: Path, frame: Any) -> None:
    """A CSV an auditor can open in any spreadsheet: every cell neutralised (reasons and errors
    hold text from reviewers and from Boomi), one line per row."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([neutralise_csv_cell(str(c)) for c in frame.columns])
        for row in frame.itertuples(index=False):
            writer.writerow(["" if _missing(v) else neutralise_csv_cell(_text(v)) for v in row])


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str:
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        return json.dumps(list(value.tolist() if hasattr(value, "tolist") else value), ensure_ascii=False)
    return str(value)


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

    The bundle is written into a hidden temporary folder next to its final place and renamed
    into place once ``index.json`` (written last) is there; see the module docstring.

    Args:
        evidence_root: folder of all bundles (local path).
        campaign_dir: the campaign folder (``campaign.json``, report, ``decisions.json``).
        workbook_path: the filled workbook the decisions came from.
        changes: the change set that was applied (empty when every decision was keep).
        verification: the verification result, or ``None`` when nothing was applied.
        ledger_path: the provisioning ledger; only this run's rows are copied.
        run_id: the Airflow run that applied the decisions (``:`` and ``+`` become ``_`` in
            the folder name).
        snapshot_root: the snapshot store, for the reviewed snapshot's manifest.
        resync_manifest_path: the fresh snapshot's manifest, if one was taken.

    Returns:
        ``{"bundle_dir", "index", "files", "campaign_id"}``: pointers and a count, for XCom.

    Raises:
        ValueError: the campaign id, the run id or a file name in ``campaign.json`` cannot be a
            path component, or a path resolves outside its folder; nothing was written.
        FileExistsError: this run already has a complete bundle; it is kept as it is.
    """
    campaign_path = Path(campaign_dir)
    campaign = load_campaign(campaign_path)
    # Every id and name that becomes a path is checked here, where it is read, before any write.
    final = bundle_dir(evidence_root, campaign.campaign_id, run_id)
    report_name = _report_name(campaign_path)
    workbook = Path(workbook_path)
    workbook_name = validate_path_component(
        f"filled-workbook{workbook.suffix}", "workbook file name", where=_WHERE
    )
    if is_complete_bundle(final):
        raise _already_written(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    described: dict[str, str] = {}

    def place(name: str, description: str) -> Path:
        """The staging path of bundle file ``name``, registered for the index (and the cleanup)."""
        described[name] = description
        return staging / name

    try:
        (staging / "manifests").mkdir()
        for name, description in (
            (CAMPAIGN_FILE, "the campaign: every review item with its flags and reviewer"),
            (DECISIONS_FILE, "the validated decisions, one per review item"),
            (report_name, "the report reviewers saw"),
        ):
            if name is None:
                continue
            source = local_path_inside(campaign_path, name)
            if source.is_file():
                shutil.copy2(source, place(name, description))
        shutil.copy2(workbook, place(workbook_name, "the filled workbook"))
        _write_json(place("changes.json", "the change set derived from the decisions"), list(changes))
        _write_json(
            place("verification.json", "each revocation checked against a fresh snapshot"),
            verification or {"skipped": "no revocations to verify"},
        )
        if ledger_path:
            ledger = read_ledger(ledger_path)
            ledger = ledger[ledger["run_id"] == run_id]
            _write_csv(place("ledger.csv", f"provisioning ledger rows of this run ({len(ledger)})"), ledger)
        store = SnapshotStore(snapshot_root)
        _write_json(
            place("manifests/reviewed_snapshot.json", "manifest of the reviewed snapshot"),
            store.manifest(campaign.account_id, campaign.sync_id),
        )
        if resync_manifest_path:
            place(
                "manifests/resync_snapshot.json", "manifest of the snapshot taken after the changes"
            ).write_text(Path(resync_manifest_path).read_text(encoding="utf-8"), encoding="utf-8")
        index = _index(campaign, run_id, changes, verification, staging, described)
        (staging / INDEX_MD).write_text(_index_markdown(index, campaign.account_id), encoding="utf-8")
        _write_json(staging / INDEX_JSON, index)  # last: the completion marker
        _publish(staging, final)
    except BaseException:
        _discard(staging, [*described, INDEX_MD, INDEX_JSON])
        raise
    return {
        "bundle_dir": str(final),
        "index": str(final / INDEX_JSON),
        "files": len(index["files"]),
        "campaign_id": campaign.campaign_id,
    }


def _index(
    campaign: Any,
    run_id: str,
    changes: Sequence[Mapping[str, Any]],
    verification: Mapping[str, Any] | None,
    staging: Path,
    described: Mapping[str, str],
) -> dict[str, Any]:
    files = [
        {
            "path": rel,
            "sha256": file_sha256(staging / rel),
            "bytes": (staging / rel).stat().st_size,
            "description": text,
        }
        for rel, text in sorted(described.items())
    ]
    return {
        "campaign_id": campaign.campaign_id,
        "account_id": campaign.account_id,
        "reviewed_sync_id": campaign.sync_id,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(),
        "revocations": len(changes),
        "verified": (verification or {}).get("verified", 0),
        "files": files,
    }


def _index_markdown(index: Mapping[str, Any], account_id: str) -> str:
    lines = [
        f"# Evidence: access review {index['campaign_id']}",
        "",
        f"Account `{account_id}`, reviewed snapshot `{index['reviewed_sync_id']}`, "
        f"applied by run `{index['run_id']}`.",
        f"Revocations: {index['revocations']}; verified absent after the resync: {index['verified']}.",
        "",
        "| file | what it is | sha256 |",
        "|---|---|---|",
        *(f"| `{f['path']}` | {f['description']} | `{f['sha256']}` |" for f in index["files"]),
        "",
    ]
    return "\n".join(lines)


def _already_written(final: Path) -> FileExistsError:
    return FileExistsError(
        f"{final} already holds a complete evidence bundle of this run; evidence is never "
        "overwritten. Move that folder away on purpose to write it again."
    )


def _publish(staging: Path, final: Path) -> None:
    """Move the finished ``staging`` folder to ``final`` with one rename."""
    if final.exists() or final.is_symlink():
        if is_complete_bundle(final):  # another writer finished first
            raise _already_written(final)
        # A folder without the marker is a bundle a crash left half-written: kept for
        # inspection under a hidden name, never deleted.
        os.rename(final, final.with_name(f".{final.name}.incomplete-{secrets.token_hex(4)}"))
    os.rename(staging, final)


def _discard(staging: Path, names: Sequence[str]) -> None:
    """Remove what this call wrote into ``staging`` after a failure: its own files, by name.

    Only files this call registered are removed, then the folders if they are empty, so a
    failure never deletes anything it did not create. What remains (a file half-copied when
    the failure came) stays in the hidden ``.partial`` folder, which no reader takes for a bundle.
    """
    if not staging.is_dir():  # renamed into place: nothing to discard
        return
    for name in names:
        with contextlib.suppress(OSError):
            (staging / name).unlink(missing_ok=True)
    for folder in (staging / "manifests", staging):
        with contextlib.suppress(OSError):
            folder.rmdir()
