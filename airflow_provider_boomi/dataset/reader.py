"""Reading snapshots back: listing complete snapshots, manifests, tables, and verification.

Only complete snapshots exist for the reader: a ``sync_id=`` folder counts when it holds a
``manifest.json`` that parses, has ``status: complete`` and names the account and sync id of
its folder. Anything else (a crashed or running sync, a stray folder) is invisible.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, overload

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import SnapshotNotFoundError, TableNotInSnapshotError
from .manifest import MANIFEST_FILE, STATUS_COMPLETE, Manifest, file_sha256
from .paths import resolve_location, snapshot_dir, validate_account_id, validate_sync_id
from .schemas import SCHEMA_VERSION, TABLES, schema_for

if TYPE_CHECKING:
    # Imported only for annotations: pandas costs ~45 MB and a sync never needs it
    # (pyarrow's to_pandas() imports it when a caller asks for a DataFrame).
    import pandas as pd

__all__ = ["SnapshotInfo", "SnapshotStore"]

log = logging.getLogger(__name__)

_ACCOUNT_PREFIX = "account_id="
_SYNC_PREFIX = "sync_id="


@dataclass(frozen=True)
class SnapshotInfo:
    """A complete snapshot, as listed by :class:`SnapshotStore`.

    Attributes:
        account_id: Boomi account id.
        sync_id: snapshot id.
        path: the snapshot directory (URL form of the store root).
        manifest_path: its manifest.json.
        synced_at: the snapshot time stamped into every row.
        row_counts: rows per table included in the snapshot.
    """

    account_id: str
    sync_id: str
    path: str
    manifest_path: str
    synced_at: datetime
    row_counts: Mapping[str, int] = field(hash=False)


class SnapshotStore:
    """Read access to a snapshot store written by :class:`~.writer.SnapshotWriter`.

    Args:
        output_path: store root: local path, fsspec URL, ``os.PathLike`` or ``ObjectStoragePath``.
        storage_options: fsspec options for ``output_path``.
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

    def _read_manifest_file(self, path: str) -> Manifest | None:
        """Parse a manifest; ``None`` when absent, unreadable, malformed or not complete."""
        try:
            with self._fs.open(path, "rb") as handle:
                data = json.loads(handle.read().decode("utf-8"))
            manifest = Manifest.from_dict(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("Ignoring unreadable manifest %s: %s", path, exc)
            return None
        if manifest.status != STATUS_COMPLETE:
            return None
        if manifest.schema_version > SCHEMA_VERSION:
            log.warning(
                "Ignoring snapshot %s: schema version %s is newer than this package knows (%s)",
                path,
                manifest.schema_version,
                SCHEMA_VERSION,
            )
            return None
        return manifest

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
        """Complete snapshots of ``account_id``, oldest first (sorted by sync id)."""
        validate_account_id(account_id)
        base = self._location.fs_path(f"{_ACCOUNT_PREFIX}{account_id}")
        infos = []
        for account, sync_id, path in self._manifest_files(base, 2):
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

        Raises:
            SnapshotNotFoundError: no complete snapshot with that id.
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

        Args:
            account_id: Boomi account id.
            sync_id: snapshot id.
            table: table name (see ``TABLES``).
            as_: ``"arrow"`` for a ``pyarrow.Table`` with the exact schema, ``"pandas"`` for a
                DataFrame.
            columns: read only these columns.

        Raises:
            SnapshotNotFoundError: the snapshot is missing or incomplete.
            TableNotInSnapshotError: the snapshot was taken without this table.
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
        with self._fs.open(path, "rb") as handle:
            # ParquetFile, not pq.read_table: the dataset code path behind read_table reads a
            # Python file object from Arrow's thread pool, which with pyarrow 26 can abort the
            # interpreter at exit ("terminate called without an active exception").
            result = pq.ParquetFile(handle).read(columns=columns)
        return result.to_pandas() if as_ == "pandas" else result

    def verify(self, account_id: str, sync_id: str) -> list[str]:
        """Check a snapshot's files against its manifest.

        Recomputes each table file's SHA-256 and size, and reads its row count and schema from
        the Parquet footer.

        Returns:
            Problems found, one sentence each; empty when the snapshot is intact.

        Raises:
            SnapshotNotFoundError: the snapshot is missing or incomplete.
        """
        manifest = self.load_manifest(account_id, sync_id)
        base = self._snapshot_fs_dir(account_id, sync_id)
        problems: list[str] = []
        for name, entry in manifest.tables.items():
            path = f"{base}/{entry.file}"
            if not self._fs.exists(path):
                problems.append(f"{name}: file {entry.file} is missing")
                continue
            sha256, size = file_sha256(self._fs, path)
            if sha256 != entry.sha256:
                problems.append(f"{name}: sha256 {sha256} does not match the manifest's {entry.sha256}")
            if size != entry.bytes:
                problems.append(f"{name}: size {size} bytes does not match the manifest's {entry.bytes}")
            try:
                with self._fs.open(path, "rb") as handle:
                    parquet = pq.ParquetFile(handle)
                    rows = parquet.metadata.num_rows
                    schema = parquet.schema_arrow
            except (OSError, pa.ArrowException) as exc:
                problems.append(f"{name}: not a readable Parquet file ({exc})")
                continue
            if rows != entry.rows:
                problems.append(f"{name}: {rows} rows but the manifest says {entry.rows}")
            if (
                manifest.schema_version == SCHEMA_VERSION
                and name in TABLES
                and not schema.equals(TABLES[name])
            ):
                problems.append(f"{name}: schema differs from schema version {SCHEMA_VERSION}")
        return problems
