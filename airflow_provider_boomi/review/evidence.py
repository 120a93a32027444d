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
- On an object store (``evidence_root`` an fsspec URL such as ``s3://bucket/boomi/evidence``,
  or an ``ObjectStoragePath``) there is no rename: the files are written straight into the
  bundle's prefix, each one PUT (atomic per object), ``index.json`` last. The key of every
  object is the root's prefix plus the validated campaign id, run folder and file name, so
  nothing is written outside the root. A complete bundle (one with ``index.json``) is never
  overwritten. An incomplete prefix (no ``index.json``: a crash) is left where it is, never
  deleted, and the next write of the same run writes over it; objects of the crashed attempt
  that the new one does not write stay there, outside the index, which alone says what the
  bundle holds. Readers treat a prefix without ``index.json`` as no bundle.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import re
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_provider_boomi.access.ledger import read_ledger
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.dataset.paths import local_path_inside, validate_path_component
from airflow_provider_boomi.review._storage import Folder, folder
from airflow_provider_boomi.review.campaign import CAMPAIGN_FILE, DECISIONS_FILE, load_campaign
from airflow_provider_boomi.review.cells import neutralise_csv_cell
from airflow_provider_boomi.review.reviewers import DECISIONS_DIR

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


def _bundle_folder(evidence_root: Any, campaign_id: str, run_id: str) -> Folder:
    """The bundle's folder, every component checked; on a local disk resolved and contained."""
    campaign_folder = validate_path_component(campaign_id, "campaign id", where=_WHERE)
    run_folder = _run_folder(run_id)
    root = folder(evidence_root)
    if root.is_local:
        path = local_path_inside(root.local, campaign_folder, run_folder)
        return Folder(fs=root.fs, path=str(path), url=str(path))
    # Object store: the key is the root's prefix and two validated components, nothing else,
    # so it cannot name an object outside the root (no '/', '..' or empty component).
    return root.child(campaign_folder, run_folder, what="evidence bundle path component")


def bundle_dir(evidence_root: Any, campaign_id: str, run_id: str) -> Any:
    """The folder of the bundle of ``run_id`` for ``campaign_id``, resolved and checked.

    Call it before changing anything to fail early on ids that cannot name a bundle. A local
    ``evidence_root`` gives a resolved :class:`~pathlib.Path`; an fsspec URL or an
    ``ObjectStoragePath`` gives the bundle's URL (a string).

    :raises ValueError: an id is not a safe path component (see
        :func:`~airflow_provider_boomi.dataset.paths.validate_path_component`), or the
        folder resolves outside ``evidence_root`` (a symlink).
    """
    target = _bundle_folder(evidence_root, campaign_id, run_id)
    return target.local if target.is_local else target.url


def is_complete_bundle(path: Any) -> bool:
    """Whether ``path`` (a local folder, an fsspec URL or an ``ObjectStoragePath``) holds a
    complete bundle: its completion marker ``index.json`` exists."""
    return folder(path).has_file(INDEX_JSON)


def _report_name(campaign_path: Folder) -> str | None:
    """The report's file name recorded in ``campaign.json``, validated (it becomes a path)."""
    data = json.loads(_source(campaign_path, CAMPAIGN_FILE).decode("utf-8"))
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


def _source(where: Folder, name: str) -> bytes:
    """The bytes of file ``name`` of a source folder: a local name is checked to resolve inside
    the folder (no symlink out), a key on an object store is built from the validated name."""
    if where.is_local:
        return local_path_inside(where.local, name).read_bytes()
    return where.read_bytes(name)


def _has_source(where: Folder, name: str) -> bool:
    if where.is_local:
        return local_path_inside(where.local, name).is_file()
    return where.has_file(name)


def _read_file(path: Any) -> bytes:
    """The bytes of one file given as a local path, an fsspec URL or an ``ObjectStoragePath``."""
    where = folder(path)
    if where.is_local:
        return where.local.read_bytes()
    return bytes(where.fs.cat_file(where.path))


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, indent=2, default=str).encode("utf-8")


def _csv_bytes(frame: Any) -> bytes:
    """A CSV an auditor can open in any spreadsheet: every cell neutralised (reasons and errors
    hold text from reviewers and from Boomi), one line per row."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([neutralise_csv_cell(str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False):
        writer.writerow(["" if _missing(v) else neutralise_csv_cell(_text(v)) for v in row])
    return buffer.getvalue().encode("utf-8")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str:
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        return json.dumps(list(value.tolist() if hasattr(value, "tolist") else value), ensure_ascii=False)
    return str(value)


def write_evidence_bundle(
    evidence_root: Any,
    *,
    campaign_dir: Any,
    workbook_path: Any,
    changes: Sequence[Mapping[str, Any]],
    verification: Mapping[str, Any] | None,
    ledger_path: str | None,
    run_id: str,
    snapshot_root: Any,
    resync_manifest_path: str | None = None,
) -> dict[str, Any]:
    """Write the bundle to ``{evidence_root}/{campaign_id}/{run_id}/`` and return where it is.

    On a local disk the bundle is written into a hidden temporary folder next to its final
    place and renamed into place once ``index.json`` (written last) is there; on an object
    store it is written into its final prefix, ``index.json`` last. See the module docstring.

    :param evidence_root: folder of all bundles: a local path, an fsspec URL
        (``s3://bucket/boomi/evidence``) or an ``ObjectStoragePath``.
    :param campaign_dir: the campaign folder (``campaign.json``, report, ``decisions.json``);
        local, URL or ``ObjectStoragePath``.
    :param workbook_path: the filled workbook the decisions came from (local, URL or
        ``ObjectStoragePath``).
    :param changes: the change set that was applied (empty when every decision was keep).
    :param verification: the verification result, or ``None`` when nothing was applied.
    :param ledger_path: the provisioning ledger; only this run's rows are copied.
    :param run_id: the Airflow run that applied the decisions (``:`` and ``+`` become ``_`` in
        the folder name).
    :param snapshot_root: the snapshot store, for the reviewed snapshot's manifest.
    :param resync_manifest_path: the fresh snapshot's manifest, if one was taken.
    :returns: ``{"bundle_dir", "index", "files", "campaign_id"}``: pointers and a count, for XCom.
    :raises ValueError: the campaign id, the run id or a file name in ``campaign.json`` cannot be a
        path component, or a path resolves outside its folder; nothing was written.
    :raises FileExistsError: this run already has a complete bundle; it is kept as it is.
    """
    campaign_path = folder(campaign_dir)
    campaign = load_campaign(campaign_path)
    # Every id and name that becomes a path is checked here, where it is read, before any write.
    target = _bundle_folder(evidence_root, campaign.campaign_id, run_id)
    report_name = _report_name(campaign_path)
    workbook_name = validate_path_component(
        f"filled-workbook{Path(_workbook_name(workbook_path)).suffix}", "workbook file name", where=_WHERE
    )
    if target.has_file(INDEX_JSON):
        raise _already_written(target)
    writer: _BundleWriter = _LocalBundle(target.local) if target.is_local else _StoreBundle(target)
    described: dict[str, str] = {}
    digests: dict[str, tuple[str, int]] = {}

    def put(name: str, description: str, data: bytes) -> None:
        """Write bundle file ``name`` and register it for the index (and the cleanup)."""
        described[name] = description
        writer.put(name, data)
        digests[name] = (hashlib.sha256(data).hexdigest(), len(data))

    try:
        for name, description in (
            (CAMPAIGN_FILE, "the campaign: every review item with its flags and reviewer"),
            (DECISIONS_FILE, "the validated decisions, one per review item"),
            (report_name, "the report reviewers saw"),
        ):
            if name is None:
                continue
            if _has_source(campaign_path, name):
                put(name, description, _source(campaign_path, name))
        # Each reviewer's decisions, with who decided, how it was proven, and when.
        records = campaign_path.child(DECISIONS_DIR)
        for name in records.files():
            if name.startswith(".") or not name.endswith(".json"):
                continue  # a temporary file of a write in progress
            validate_path_component(name, "decision record file name", where=_WHERE)
            put(f"{DECISIONS_DIR}/{name}", "one reviewer's validated decisions", _source(records, name))
        put(workbook_name, "the filled workbook", _read_file(workbook_path))
        put("changes.json", "the change set derived from the decisions", _json_bytes(list(changes)))
        put(
            "verification.json",
            "each revocation checked against a fresh snapshot",
            _json_bytes(verification or {"skipped": "no revocations to verify"}),
        )
        if ledger_path:
            ledger = read_ledger(ledger_path)
            ledger = ledger[ledger["run_id"] == run_id]
            put("ledger.csv", f"provisioning ledger rows of this run ({len(ledger)})", _csv_bytes(ledger))
        store = SnapshotStore(snapshot_root)
        put(
            "manifests/reviewed_snapshot.json",
            "manifest of the reviewed snapshot",
            _json_bytes(store.manifest(campaign.account_id, campaign.sync_id)),
        )
        if resync_manifest_path:
            put(
                "manifests/resync_snapshot.json",
                "manifest of the snapshot taken after the changes",
                _read_file(resync_manifest_path),
            )
        index = _index(campaign, run_id, changes, verification, digests, described)
        writer.put(INDEX_MD, _index_markdown(index, campaign.account_id).encode("utf-8"))
        writer.put(INDEX_JSON, _json_bytes(index))  # last: the completion marker
        writer.publish()
    except BaseException:
        writer.discard([*described, INDEX_MD, INDEX_JSON])
        raise
    return {
        "bundle_dir": str(target),
        "index": target.url_of(INDEX_JSON),
        "files": len(index["files"]),
        "campaign_id": campaign.campaign_id,
    }


def _workbook_name(workbook_path: Any) -> str:
    where = folder(workbook_path)
    return where.local.name if where.is_local else where.url.rstrip("/").rsplit("/", 1)[-1]


class _BundleWriter:
    """Where the files of one bundle go while it is written."""

    def put(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def publish(self) -> None:
        """Make the finished bundle visible at its place."""

    def discard(self, names: Sequence[str]) -> None:
        """Clean up after a failure (never anything this write did not create)."""


class _LocalBundle(_BundleWriter):
    """Local disk: a fresh hidden sibling folder, renamed into place when complete."""

    def __init__(self, final: Path) -> None:
        self.final = final
        final.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))

    def put(self, name: str, data: bytes) -> None:
        # Names are the bundle's own (fixed, or validated components), at most one folder deep.
        path = self.staging / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)

    def publish(self) -> None:
        _publish(self.staging, self.final)

    def discard(self, names: Sequence[str]) -> None:
        _discard(self.staging, names)


class _StoreBundle(_BundleWriter):
    """Object store: no rename exists, so files go straight to the bundle's final prefix, each one
    PUT, and ``index.json`` last. A prefix without it is incomplete: readers ignore it, and a
    later write of the same run writes over it (it has no marker, so it is nobody's evidence).
    Nothing is ever deleted, so a failure leaves the objects written so far, without a marker.
    """

    def __init__(self, final: Folder) -> None:
        self.final = final

    def put(self, name: str, data: bytes) -> None:
        parts = name.split("/")
        where = self.final.child(*parts[:-1], what="evidence bundle folder") if len(parts) > 1 else self.final
        where.write_bytes(parts[-1], data)


def _index(
    campaign: Any,
    run_id: str,
    changes: Sequence[Mapping[str, Any]],
    verification: Mapping[str, Any] | None,
    digests: Mapping[str, tuple[str, int]],
    described: Mapping[str, str],
) -> dict[str, Any]:
    files = [
        {"path": rel, "sha256": digests[rel][0], "bytes": digests[rel][1], "description": text}
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


def _already_written(final: Any) -> FileExistsError:
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
    for directory in (staging / "manifests", staging / DECISIONS_DIR, staging):
        with contextlib.suppress(OSError):
            directory.rmdir()
