"""Reading snapshots back: listing complete snapshots, manifests, tables, and verification.

Only complete snapshots exist for the reader: a ``sync_id=`` folder counts when it holds a
``manifest.json`` that parses, has ``status: complete`` and names the account and sync id of
its folder. Anything else (a crashed or running sync, a stray folder) is invisible, except to
:meth:`SnapshotStore.manifest_files`, which the chain verifier uses to name every manifest file
that is not a valid one. Failure records and the gaps between snapshots are read here too.

A snapshot can be *pruned* by a retention policy (:meth:`SnapshotStore.prune`): its table files
are deleted, its ``manifest.json`` is kept (the hash chain runs through it), and a pruning
record ``account_id=<id>/pruned/<sync_id>.json`` says when and why, naming the manifest by its
SHA-256. A pruned snapshot is no longer listed (:meth:`SnapshotStore.snapshots`), and the chain
verifier accepts its missing files (``dataset.chain``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, overload

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import SnapshotNotFoundError, TableNotInSnapshotError
from .failures import FAILURES_DIR, FailureRecord
from .manifest import MANIFEST_FILE, STATUS_COMPLETE, Manifest, file_sha256, format_time, parse_time
from .paths import resolve_location, snapshot_dir, validate_account_id, validate_sync_id
from .schemas import SCHEMA_VERSION, TABLES, schema_for
from .storage import is_local, write_whole

if TYPE_CHECKING:
    # Imported only for annotations: pandas costs ~45 MB and a sync never needs it
    # (pyarrow's to_pandas() imports it when a caller asks for a DataFrame).
    import pandas as pd

__all__ = ["PRUNED_DIR", "FileProblem", "Gap", "ManifestFile", "PruneRecord", "SnapshotInfo", "SnapshotStore"]

log = logging.getLogger(__name__)

_ACCOUNT_PREFIX = "account_id="
_SYNC_PREFIX = "sync_id="
PRUNED_DIR = "pruned"
"""The folder under ``account_id=<id>/`` that holds pruning records."""


@dataclass(frozen=True)
class SnapshotInfo:
    """A complete snapshot, as listed by :class:`SnapshotStore`.

    :ivar account_id: Boomi account id.
    :ivar sync_id: snapshot id.
    :ivar path: the snapshot directory (URL form of the store root).
    :ivar manifest_path: its manifest.json.
    :ivar synced_at: the snapshot time stamped into every row.
    :ivar row_counts: rows per table included in the snapshot.
    """

    account_id: str
    sync_id: str
    path: str
    manifest_path: str
    synced_at: datetime
    row_counts: Mapping[str, int] = field(hash=False)


@dataclass(frozen=True)
class ManifestFile:
    """One ``manifest.json`` found under an account, valid or not (see :meth:`SnapshotStore.manifest_files`).

    :ivar account_id: the account of its folder.
    :ivar sync_id: the sync id of its folder.
    :ivar path: the file, in the URL form of the store root.
    :ivar sha256: hex SHA-256 of its bytes; ``None`` when it could not be read.
    :ivar manifest: the parsed manifest when it is a valid, complete one for its folder, else ``None``.
    :ivar problem: why it is not a valid manifest, or ``None``.
    """

    account_id: str
    sync_id: str
    path: str
    sha256: str | None
    manifest: Manifest | None
    problem: str | None


@dataclass(frozen=True)
class FileProblem:
    """A table file that does not match its manifest (see :meth:`SnapshotStore.verify_files`).

    :ivar table: the table.
    :ivar file: the file, in the URL form of the store root.
    :ivar message: one sentence naming the problem.
    :ivar expected: what the manifest records (a hash, size or row count), if the problem is a mismatch.
    :ivar found: what the file has instead.
    :ivar missing: the file is not there at all.
    """

    table: str
    file: str
    message: str
    expected: str | None = None
    found: str | None = None
    missing: bool = False


@dataclass(frozen=True)
class PruneRecord:
    """A snapshot whose table files a retention policy deleted, keeping its manifest.

    :ivar account_id: Boomi account id.
    :ivar sync_id: the pruned snapshot.
    :ivar manifest_sha256: SHA-256 of its ``manifest.json`` when it was pruned (the manifest the
        record is about; a changed manifest no longer matches it).
    :ivar pruned_at: when the files were deleted (UTC).
    :ivar reason: why (the rule of the policy that applied).
    :ivar files: the table files deleted, as the manifest names them.
    :ivar path: the record itself (URL form); empty until read from or written to a store.
    """

    account_id: str
    sync_id: str
    manifest_sha256: str
    pruned_at: datetime
    reason: str
    files: tuple[str, ...]
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the record file."""
        return {
            "account_id": self.account_id,
            "sync_id": self.sync_id,
            "manifest_sha256": self.manifest_sha256,
            "pruned_at": format_time(self.pruned_at),
            "reason": self.reason,
            "files": list(self.files),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = "") -> PruneRecord:
        """Rebuild from :meth:`to_dict` (``KeyError``/``ValueError`` when malformed)."""
        return cls(
            account_id=str(data["account_id"]),
            sync_id=validate_sync_id(str(data["sync_id"])),
            manifest_sha256=str(data["manifest_sha256"]),
            pruned_at=parse_time(str(data["pruned_at"])),
            reason=str(data["reason"]),
            files=tuple(str(f) for f in data["files"]),
            path=path,
        )


@dataclass(frozen=True)
class Gap:
    """A stretch of time longer than expected with no complete snapshot (see :meth:`SnapshotStore.gaps`).

    :ivar start: the last snapshot before the gap (its ``synced_at``), or ``since``.
    :ivar end: the next snapshot after it, or ``now`` when the gap is still open.
    :ivar previous_sync_id: the snapshot at ``start``, if any.
    :ivar next_sync_id: the snapshot at ``end``, if any (``None``: no snapshot since).
    :ivar failures: failure records written inside the gap, oldest first. Empty: nothing reported
        why (the sync did not run at all, or failed before it could write a record).
    """

    start: datetime
    end: datetime
    previous_sync_id: str | None
    next_sync_id: str | None
    failures: tuple[FailureRecord, ...]

    @property
    def length(self) -> timedelta:
        """How long the store went without a snapshot."""
        return self.end - self.start


class SnapshotStore:
    """Read access to a snapshot store written by :class:`~.writer.SnapshotWriter`.

    :param output_path: store root: local path, fsspec URL, ``os.PathLike`` or ``ObjectStoragePath``.
    :param storage_options: fsspec options for ``output_path``.
    """

    def __init__(self, output_path: Any, storage_options: dict[str, Any] | None = None) -> None:
        self._location = resolve_location(output_path, storage_options)
        self._fs = self._location.fs

    @property
    def path(self) -> str:
        """The store root as given."""
        return self._location.url

    def _snapshot_fs_dir(self, account_id: str, sync_id: str) -> str:
        return self._location.fs_path(f"{_ACCOUNT_PREFIX}{account_id}", f"{_SYNC_PREFIX}{sync_id}")

    def _manifest_files(self, base: str, maxdepth: int) -> list[tuple[str, str, str]]:
        """(account_id, sync_id, fs path) for every manifest.json under ``base``."""
        try:
            found = self._fs.find(base, maxdepth=maxdepth)
        except FileNotFoundError:
            return []
        result = []
        for path in found:
            parts = path.rstrip("/").split("/")
            if (
                len(parts) >= 3
                and parts[-1] == MANIFEST_FILE
                and parts[-2].startswith(_SYNC_PREFIX)
                and parts[-3].startswith(_ACCOUNT_PREFIX)
            ):
                result.append((parts[-3][len(_ACCOUNT_PREFIX) :], parts[-2][len(_SYNC_PREFIX) :], path))
        return result

    @staticmethod
    def _parse_manifest(raw: bytes) -> tuple[Manifest | None, str | None]:
        """``(manifest, None)`` for a complete manifest this package can read, else ``(None, why)``."""
        try:
            manifest = Manifest.from_dict(json.loads(raw.decode("utf-8")))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return None, f"unreadable manifest: {exc}"
        if manifest.status != STATUS_COMPLETE:
            return None, f"status is {manifest.status!r}, not {STATUS_COMPLETE!r}"
        if manifest.schema_version > SCHEMA_VERSION:
            return None, (
                f"schema version {manifest.schema_version} is newer than this package knows "
                f"({SCHEMA_VERSION}); upgrade airflow-provider-boomi"
            )
        return manifest, None

    def _read_manifest_file(self, path: str) -> Manifest | None:
        """Parse a manifest; ``None`` when absent, unreadable, malformed or not complete."""
        try:
            with self._fs.open(path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("Ignoring unreadable manifest %s: %s", path, exc)
            return None
        manifest, problem = self._parse_manifest(raw)
        if problem is not None:
            log.warning("Ignoring snapshot manifest %s: %s", path, problem)
        return manifest

    def manifest_files(self, account_id: str) -> list[ManifestFile]:
        """Every ``manifest.json`` under the account, each read once and hashed, sorted by sync id.

        Unlike :meth:`snapshots`, nothing is skipped: a manifest that does not parse, is not
        complete, or names another account or snapshot than its folder is returned with its
        ``problem``. The listing bypasses fsspec's directory cache, so it sees what other
        processes wrote a moment ago (the chain needs the current head).
        """
        validate_account_id(account_id)
        base = self._location.fs_path(f"{_ACCOUNT_PREFIX}{account_id}")
        self._fs.invalidate_cache(base)
        files = []
        for account, sync_id, path in self._manifest_files(base, 2):
            url = f"{snapshot_dir(self._location.url, account, sync_id)}/{MANIFEST_FILE}"
            try:
                with self._fs.open(path, "rb") as handle:
                    raw = handle.read()
            except OSError as exc:
                files.append(ManifestFile(account, sync_id, url, None, None, f"cannot be read: {exc}"))
                continue
            manifest, problem = self._parse_manifest(raw)
            if manifest is not None and (manifest.account_id, manifest.sync_id) != (account, sync_id):
                problem = (
                    f"names account {manifest.account_id} snapshot {manifest.sync_id} but lies in the "
                    f"folder of account {account} snapshot {sync_id} (copied or moved?)"
                )
                manifest = None
            digest = hashlib.sha256(raw).hexdigest()
            files.append(ManifestFile(account, sync_id, url, digest, manifest, problem))
        return sorted(files, key=lambda f: f.sync_id)

    def _info(self, manifest: Manifest) -> SnapshotInfo:
        path = snapshot_dir(self._location.url, manifest.account_id, manifest.sync_id)
        return SnapshotInfo(
            account_id=manifest.account_id,
            sync_id=manifest.sync_id,
            path=path,
            manifest_path=f"{path}/{MANIFEST_FILE}",
            synced_at=manifest.synced_at,
            row_counts=MappingProxyType(manifest.row_counts),
        )

    def accounts(self) -> list[str]:
        """Account ids with at least one snapshot manifest, sorted."""
        return sorted({account for account, _, _ in self._manifest_files(self._location.fs_path(), 3)})

    def snapshots(self, account_id: str) -> list[SnapshotInfo]:
        """Complete snapshots of ``account_id``, oldest first (sorted by sync id); pruned ones
        (see :meth:`prune`) are not listed."""
        validate_account_id(account_id)
        base = self._location.fs_path(f"{_ACCOUNT_PREFIX}{account_id}")
        infos = []
        pruned = self.pruned(account_id)
        for account, sync_id, path in self._manifest_files(base, 2):
            if sync_id in pruned:
                continue  # its data files were deleted on purpose: nothing left to read
            manifest = self._read_manifest_file(path)
            # A manifest copied into the wrong folder would attribute data to the wrong snapshot.
            if manifest is not None and manifest.account_id == account and manifest.sync_id == sync_id:
                infos.append(self._info(manifest))
        return sorted(infos, key=lambda info: info.sync_id)

    def latest(self, account_id: str) -> SnapshotInfo | None:
        """The newest complete snapshot of ``account_id``, or ``None``."""
        snapshots = self.snapshots(account_id)
        return snapshots[-1] if snapshots else None

    def load_manifest(self, account_id: str, sync_id: str) -> Manifest:
        """The typed manifest of a complete snapshot.

        :raises SnapshotNotFoundError: no complete snapshot with that id.
        """
        validate_account_id(account_id)
        validate_sync_id(sync_id)
        path = f"{self._snapshot_fs_dir(account_id, sync_id)}/{MANIFEST_FILE}"
        manifest = self._read_manifest_file(path)
        if manifest is None or manifest.account_id != account_id or manifest.sync_id != sync_id:
            raise SnapshotNotFoundError(
                f"no complete snapshot {sync_id} for account {account_id} in {self.path} "
                "(missing, unreadable or incomplete manifest.json)"
            )
        return manifest

    def manifest(self, account_id: str, sync_id: str) -> dict[str, Any]:
        """The manifest of a complete snapshot as a JSON dict (see :meth:`load_manifest`)."""
        return self.load_manifest(account_id, sync_id).to_dict()

    def info(self, account_id: str, sync_id: str) -> SnapshotInfo:
        """The :class:`SnapshotInfo` of one complete snapshot."""
        return self._info(self.load_manifest(account_id, sync_id))

    @overload
    def read_table(
        self,
        account_id: str,
        sync_id: str,
        table: str,
        as_: Literal["arrow"] = "arrow",
        *,
        columns: list[str] | None = None,
    ) -> pa.Table: ...

    @overload
    def read_table(
        self,
        account_id: str,
        sync_id: str,
        table: str,
        as_: Literal["pandas"],
        *,
        columns: list[str] | None = None,
    ) -> pd.DataFrame: ...

    def read_table(
        self,
        account_id: str,
        sync_id: str,
        table: str,
        as_: Literal["arrow", "pandas"] = "arrow",
        *,
        columns: list[str] | None = None,
    ) -> pa.Table | pd.DataFrame:
        """Read one table of a complete snapshot.

        :param account_id: Boomi account id.
        :param sync_id: snapshot id.
        :param table: table name (see ``TABLES``).
        :param as_: ``"arrow"`` for a ``pyarrow.Table`` with the exact schema, ``"pandas"`` for a
            DataFrame.
        :param columns: read only these columns.
        :raises SnapshotNotFoundError: the snapshot is missing or incomplete.
        :raises TableNotInSnapshotError: the snapshot was taken without this table.
        """
        if as_ not in ("arrow", "pandas"):
            raise ValueError(f"as_ must be 'arrow' or 'pandas', got {as_!r}")
        schema_for(table)
        manifest = self.load_manifest(account_id, sync_id)
        entry = manifest.tables.get(table)
        if entry is None:
            raise TableNotInSnapshotError(
                f"snapshot {sync_id} of account {account_id} does not include {table!r} "
                f"(it includes {', '.join(manifest.tables) or 'no tables'})"
            )
        path = f"{self._snapshot_fs_dir(account_id, sync_id)}/{entry.file}"
        try:
            with self._fs.open(path, "rb") as handle:
                # ParquetFile, not pq.read_table: the dataset code path behind read_table reads a
                # Python file object from Arrow's thread pool, which with pyarrow 26 can abort the
                # interpreter at exit ("terminate called without an active exception").
                result = pq.ParquetFile(handle).read(columns=columns)
        except FileNotFoundError:
            record = self.pruned(account_id).get(sync_id)
            if record is None:
                raise
            raise SnapshotNotFoundError(
                f"snapshot {sync_id} of account {account_id} was pruned at "
                f"{format_time(record.pruned_at)} ({record.reason}): its tables were deleted, "
                "only its manifest is kept"
            ) from None
        return result.to_pandas() if as_ == "pandas" else result

    def verify(self, account_id: str, sync_id: str) -> list[str]:
        """Check a snapshot's files against its manifest.

        Recomputes each table file's SHA-256 and size, and reads its row count and schema from
        the Parquet footer.

        :returns: Problems found, one sentence each; empty when the snapshot is intact.
        :raises SnapshotNotFoundError: the snapshot is missing or incomplete.
        """
        return [problem.message for problem in self.verify_files(self.load_manifest(account_id, sync_id))]

    def verify_files(self, manifest: Manifest) -> list[FileProblem]:
        """Check the table files of ``manifest``'s snapshot against it, as :meth:`verify` does.

        :param manifest: a manifest of this store (from :meth:`load_manifest` or
            :meth:`manifest_files`).
        :returns: one :class:`FileProblem` per mismatch, with the expected and found values.
        """
        account_id, sync_id = manifest.account_id, manifest.sync_id
        base = self._snapshot_fs_dir(account_id, sync_id)
        url = snapshot_dir(self._location.url, account_id, sync_id)
        problems: list[FileProblem] = []
        for name, entry in manifest.tables.items():
            path = f"{base}/{entry.file}"
            where = f"{url}/{entry.file}"
            if not self._fs.exists(path):
                problems.append(
                    FileProblem(
                        name, where, f"{name}: file {entry.file} is missing", entry.sha256, missing=True
                    )
                )
                continue
            sha256, size = file_sha256(self._fs, path)
            if sha256 != entry.sha256:
                problems.append(
                    FileProblem(
                        name,
                        where,
                        f"{name}: sha256 {sha256} does not match the manifest's {entry.sha256}",
                        entry.sha256,
                        sha256,
                    )
                )
            if size != entry.bytes:
                problems.append(
                    FileProblem(
                        name,
                        where,
                        f"{name}: size {size} bytes does not match the manifest's {entry.bytes}",
                        str(entry.bytes),
                        str(size),
                    )
                )
            try:
                with self._fs.open(path, "rb") as handle:
                    parquet = pq.ParquetFile(handle)
                    rows = parquet.metadata.num_rows
                    schema = parquet.schema_arrow
            except (OSError, pa.ArrowException) as exc:
                problems.append(FileProblem(name, where, f"{name}: not a readable Parquet file ({exc})"))
                continue
            if rows != entry.rows:
                problems.append(
                    FileProblem(
                        name,
                        where,
                        f"{name}: {rows} rows but the manifest says {entry.rows}",
                        str(entry.rows),
                        str(rows),
                    )
                )
            if (
                manifest.schema_version == SCHEMA_VERSION
                and name in TABLES
                and not schema.equals(TABLES[name])
            ):
                problems.append(
                    FileProblem(name, where, f"{name}: schema differs from schema version {SCHEMA_VERSION}")
                )
        return problems

    # -- pruning ------------------------------------------------------------------------------

    def pruned(self, account_id: str) -> dict[str, PruneRecord]:
        """Sync id -> the pruning record of each pruned snapshot of ``account_id``.

        A record that cannot be read is logged and skipped: its snapshot then counts as not
        pruned, so its missing files show as breaks in the chain verification, never as a
        deletion made on purpose.
        """
        validate_account_id(account_id)
        folder = self._location.fs_path(f"{_ACCOUNT_PREFIX}{account_id}", PRUNED_DIR)
        self._fs.invalidate_cache(folder)
        try:
            paths = self._fs.ls(folder, detail=False)
        except FileNotFoundError:
            return {}
        records: dict[str, PruneRecord] = {}
        for path in sorted(paths):
            name = path.rstrip("/").rsplit("/", 1)[-1]
            if not name.endswith(".json") or name.startswith("."):
                continue
            url = self._location.url_path(f"{_ACCOUNT_PREFIX}{account_id}", PRUNED_DIR, name)
            try:
                with self._fs.open(path, "rb") as handle:
                    record = PruneRecord.from_dict(json.loads(handle.read().decode("utf-8")), path=url)
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("Ignoring unreadable pruning record %s: %s", url, exc)
                continue
            if record.account_id != account_id or f"{record.sync_id}.json" != name:
                log.warning("Ignoring pruning record %s: it names snapshot %s", url, record.sync_id)
                continue
            records[record.sync_id] = record
        return records

    def prune(self, account_id: str, sync_id: str, *, pruned_at: datetime, reason: str) -> PruneRecord:
        """Delete the table files of a complete snapshot, keeping its manifest, and record it.

        The pruning record (``account_id=<id>/pruned/<sync_id>.json``) is written first, naming
        the manifest by its SHA-256; then each table file the manifest lists is deleted. The
        manifest stays byte for byte, so the hash chain through it still verifies, and the
        verifier accepts the missing files of a snapshot whose record names its manifest.
        Pruning again (after a crash halfway) deletes what is left and keeps the first record.

        :param account_id: Boomi account id.
        :param sync_id: the snapshot.
        :param pruned_at: when (timezone-aware; recorded).
        :param reason: why (recorded).
        :returns: the record.
        :raises SnapshotNotFoundError: no such snapshot (no manifest, or not a complete one).
        """
        if pruned_at.tzinfo is None or pruned_at.utcoffset() is None:
            raise ValueError(f"pruned_at must be timezone-aware, got {pruned_at!r}")
        base = self._snapshot_fs_dir(validate_account_id(account_id), validate_sync_id(sync_id))
        try:
            with self._fs.open(f"{base}/{MANIFEST_FILE}", "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            raise SnapshotNotFoundError(
                f"no snapshot {sync_id} of account {account_id} in {self.path}"
            ) from None
        manifest, problem = self._parse_manifest(raw)
        if manifest is None or (manifest.account_id, manifest.sync_id) != (account_id, sync_id):
            raise SnapshotNotFoundError(
                f"snapshot {sync_id} of account {account_id} has no valid manifest "
                f"({problem or 'it names another snapshot'}); it is not pruned: check it by hand"
            )
        record = self.pruned(account_id).get(sync_id)
        if record is None:
            folder = self._location.fs_path(f"{_ACCOUNT_PREFIX}{account_id}", PRUNED_DIR)
            if is_local(self._fs):
                self._fs.makedirs(folder, exist_ok=True)
            record = PruneRecord(
                account_id,
                sync_id,
                hashlib.sha256(raw).hexdigest(),
                pruned_at.astimezone(UTC),
                reason,
                tuple(entry.file for entry in manifest.tables.values()),
                self._location.url_path(f"{_ACCOUNT_PREFIX}{account_id}", PRUNED_DIR, f"{sync_id}.json"),
            )
            write_whole(self._fs, f"{folder}/{sync_id}.json", json.dumps(record.to_dict(), indent=2).encode())
        for entry in manifest.tables.values():
            path = f"{base}/{entry.file}"
            if self._fs.exists(path):
                self._fs.rm(path)
        self._fs.invalidate_cache(base)
        return record

    # -- failures and gaps --------------------------------------------------------------------

    def failures(self, account_id: str) -> list[FailureRecord]:
        """The failure records of ``account_id`` (see ``dataset.failures``), oldest failure first.

        A record that cannot be read is logged and skipped: it names no time to place it at.
        """
        validate_account_id(account_id)
        folder = self._location.fs_path(f"{_ACCOUNT_PREFIX}{account_id}", FAILURES_DIR)
        self._fs.invalidate_cache(folder)
        try:
            paths = self._fs.ls(folder, detail=False)
        except FileNotFoundError:
            return []
        records = []
        for path in sorted(paths):
            name = path.rstrip("/").rsplit("/", 1)[-1]
            if not name.endswith(".json"):
                continue
            url = self._location.url_path(f"{_ACCOUNT_PREFIX}{account_id}", FAILURES_DIR, name)
            try:
                with self._fs.open(path, "rb") as handle:
                    record = FailureRecord.from_dict(json.loads(handle.read().decode("utf-8")), path=url)
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("Ignoring unreadable failure record %s: %s", url, exc)
                continue
            if record.account_id != account_id:
                log.warning("Ignoring failure record %s: it names account %s", url, record.account_id)
                continue
            records.append(record)
        return sorted(records, key=lambda r: (r.failed_at, r.sync_id))

    def gaps(
        self,
        account_id: str,
        expected_every: timedelta,
        since: datetime,
        now: datetime | None = None,
    ) -> list[Gap]:
        """Stretches between ``since`` and ``now`` longer than ``expected_every`` without a snapshot.

        Snapshots are placed at their ``synced_at``. The edges count: from ``since`` to the first
        snapshot, and from the last snapshot to ``now`` (an open gap: the sync has not succeeded
        since). Each gap carries the failure records whose ``failed_at`` lies inside it, so a
        reader sees whether the hole was reported and why.

        :param account_id: the Boomi account.
        :param expected_every: the longest acceptable time between two snapshots. Allow for run
            time: for a daily sync, 26 hours rather than 24, or every run would be a gap.
        :param since: where to start looking (timezone-aware).
        :param now: where to stop (timezone-aware); default the current time.
        :returns: the gaps, oldest first; empty when snapshots came often enough.
        """
        if expected_every <= timedelta(0):
            raise ValueError(f"expected_every must be positive, got {expected_every}")
        end = datetime.now(UTC) if now is None else now
        for name, value in (("since", since), ("now", end)):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC)), got {value!r}")
        if end < since:
            raise ValueError(f"now ({end.isoformat()}) is before since ({since.isoformat()})")
        moments = [
            (info.synced_at, info.sync_id)
            for info in self.snapshots(account_id)
            if since <= info.synced_at <= end
        ]
        failures = self.failures(account_id)
        edges: list[tuple[datetime, str | None]] = [(since, None), *moments, (end, None)]
        gaps = []
        for (start, before), (stop, after) in pairwise(edges):
            if stop - start > expected_every:
                inside = tuple(f for f in failures if start <= f.failed_at <= stop)
                gaps.append(Gap(start, stop, before, after, inside))
        return gaps
