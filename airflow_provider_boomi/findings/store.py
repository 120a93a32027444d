"""Writing and reading the findings of a snapshot, beside (never inside) the snapshot store.

Layout, under a findings root of its own (a local folder or any fsspec URL)::

    {findings_root}/account_id={account_id}/sync_id={sync_id}/
        findings.parquet
        identities.parquet
        summary.json        <- written last, with each file's rows and SHA-256

Snapshot folders are immutable and their manifests pin every file, so findings (which depend
on inputs beyond the snapshot: the identity source, the policy) live in their own tree with the
same partitioning. Computing the findings of a snapshot again replaces them: the old summary is
removed first, so a run that fails halfway leaves findings that do not exist rather than a mix.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_boomi.dataset import validate_account_id, validate_sync_id
from airflow_provider_boomi.dataset.manifest import file_sha256
from airflow_provider_boomi.dataset.paths import resolve_location

from .compute import FindingsResult
from .schema import FINDINGS_SCHEMA, FINDINGS_SCHEMA_VERSION, IDENTITIES_SCHEMA

__all__ = [
    "FINDINGS_FILE",
    "IDENTITIES_FILE",
    "SUMMARY_FILE",
    "FindingsNotFoundError",
    "StoredFindings",
    "findings_dir",
    "list_findings",
    "read_findings",
    "write_findings",
]

FINDINGS_FILE = "findings.parquet"
IDENTITIES_FILE = "identities.parquet"
SUMMARY_FILE = "summary.json"

_FILES = {"findings": (FINDINGS_FILE, FINDINGS_SCHEMA), "identities": (IDENTITIES_FILE, IDENTITIES_SCHEMA)}


class FindingsNotFoundError(FileNotFoundError):
    """No complete findings for that snapshot (no summary, an unreadable one, or altered files)."""


@dataclass(frozen=True)
class StoredFindings:
    """The findings of one snapshot as written.

    :param path: the findings folder (URL form of the root).
    :param summary: ``summary.json``: counts, inputs, and the files with rows and SHA-256.
    """

    account_id: str
    sync_id: str
    path: str
    findings: pa.Table
    identities: pa.Table
    summary: Mapping[str, Any] = field(hash=False)

    @property
    def synced_at(self) -> datetime:
        """When the snapshot was taken."""
        return datetime.fromisoformat(self.summary["synced_at"])

    @property
    def as_of(self) -> datetime:
        """The time the rules were evaluated at."""
        return datetime.fromisoformat(self.summary["as_of"])

    @property
    def computed_at(self) -> datetime:
        """When the findings were computed."""
        return datetime.fromisoformat(self.summary["computed_at"])


def _parts(account_id: str, sync_id: str) -> tuple[str, str]:
    return f"account_id={validate_account_id(account_id)}", f"sync_id={validate_sync_id(sync_id)}"


def findings_dir(root: Any, account_id: str, sync_id: str) -> str:
    """The findings folder of a snapshot under ``root`` (URL form)."""
    return resolve_location(root).url_path(*_parts(account_id, sync_id))


def write_findings(
    result: FindingsResult, root: Any, *, storage_options: dict[str, Any] | None = None
) -> StoredFindings:
    """Write ``result`` under ``root``; replaces earlier findings of the same snapshot.

    :param result: :func:`~.compute.compute_findings`' result.
    :param root: the findings root: a local folder, an fsspec URL or an ``ObjectStoragePath``.
        Keep it apart from the snapshot store (the snapshot folders are not touched).
    :param storage_options: fsspec options for a URL.
    :returns: what was written, with its summary.
    """
    location = resolve_location(root, storage_options)
    parts = _parts(result.account_id, result.sync_id)
    base = location.fs_path(*parts)
    fs = location.fs
    summary_path = f"{base}/{SUMMARY_FILE}"
    if fs.exists(summary_path):
        fs.rm(summary_path)  # the findings do not exist while they are being replaced
    fs.makedirs(base, exist_ok=True)
    files: dict[str, Any] = {}
    tables = {"findings": result.findings, "identities": result.identities}
    for name, (file, schema) in _FILES.items():
        table = tables[name]
        if not table.schema.equals(schema):
            raise ValueError(
                f"{name} table does not have the findings schema; compute it with compute_findings"
            )
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        fs.pipe_file(f"{base}/{file}", buffer.getvalue())
        sha256, size = file_sha256(fs, f"{base}/{file}")
        files[name] = {"file": file, "rows": table.num_rows, "sha256": sha256, "bytes": size}
    summary = {**result.summary, "findings_schema_version": FINDINGS_SCHEMA_VERSION, "files": files}
    fs.pipe_file(summary_path, json.dumps(summary, indent=2, sort_keys=True, default=str).encode("utf-8"))
    return StoredFindings(
        result.account_id,
        result.sync_id,
        location.url_path(*parts),
        result.findings,
        result.identities,
        summary,
    )


def read_findings(
    root: Any, account_id: str, sync_id: str, *, storage_options: dict[str, Any] | None = None
) -> StoredFindings:
    """Read the findings of one snapshot, checking each file against the summary's SHA-256.

    :raises FindingsNotFoundError: no summary, an unreadable one, a newer schema version, or a
        file that is missing or differs from what the summary recorded.
    """
    location = resolve_location(root, storage_options)
    parts = _parts(account_id, sync_id)
    base = location.fs_path(*parts)
    where = location.url_path(*parts)
    try:
        with location.fs.open(f"{base}/{SUMMARY_FILE}", "rb") as handle:
            summary = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        raise FindingsNotFoundError(
            f"no findings for snapshot {sync_id} of account {account_id} at {where}"
        ) from None
    except ValueError as exc:
        raise FindingsNotFoundError(f"{where}/{SUMMARY_FILE} is not readable JSON ({exc})") from None
    if (
        not isinstance(summary, dict)
        or summary.get("account_id") != account_id
        or summary.get("sync_id") != sync_id
    ):
        raise FindingsNotFoundError(f"{where}/{SUMMARY_FILE} is not the summary of snapshot {sync_id}")
    if int(summary.get("findings_schema_version", 0)) > FINDINGS_SCHEMA_VERSION:
        raise FindingsNotFoundError(f"{where}: findings schema version is newer than this package reads")
    tables: dict[str, pa.Table] = {}
    for name, (file, schema) in _FILES.items():
        entry = (summary.get("files") or {}).get(name)
        path = f"{base}/{file}"
        if not isinstance(entry, dict) or not location.fs.exists(path):
            raise FindingsNotFoundError(f"{where}: {file} is missing")
        sha256, _size = file_sha256(location.fs, path)
        if sha256 != entry.get("sha256"):
            raise FindingsNotFoundError(
                f"{where}: {file} has sha256 {sha256}, but the summary recorded {entry.get('sha256')}; "
                "it was altered after it was written: compute the findings again"
            )
        with location.fs.open(path, "rb") as handle:
            tables[name] = pq.ParquetFile(handle).read().cast(schema)
    return StoredFindings(account_id, sync_id, where, tables["findings"], tables["identities"], summary)


def list_findings(root: Any, account_id: str, *, storage_options: dict[str, Any] | None = None) -> list[str]:
    """Sync ids of the snapshots of ``account_id`` with findings under ``root``, oldest first."""
    location = resolve_location(root, storage_options)
    base = location.fs_path(f"account_id={validate_account_id(account_id)}")
    try:
        found = location.fs.find(base, maxdepth=2)
    except FileNotFoundError:
        return []
    sync_ids = []
    for path in found:
        folder, _, name = path.rstrip("/").rpartition("/")
        leaf = folder.rpartition("/")[2]
        if name == SUMMARY_FILE and leaf.startswith("sync_id="):
            sync_ids.append(leaf[len("sync_id=") :])
    return sorted(sync_ids)
