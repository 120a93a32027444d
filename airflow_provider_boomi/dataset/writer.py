"""The atomic snapshot writer.

A snapshot is complete or absent: tables stream into Parquet files in the snapshot directory,
and only ``commit()`` writes ``manifest.json``, last. Readers treat a directory without a
manifest as nonexistent, so a crash at any point before the manifest leaves nothing visible.

Manifest atomicity: see :func:`~airflow_provider_boomi.dataset.storage.write_whole` (a
temporary file renamed into place locally, one PUT on object stores).

Chain: the manifest records the account's previous manifest (its sync id and the SHA-256 of its
bytes), looked up just before the manifest is written. There is no lock across processes (object
stores offer none that fsspec exposes portably), so two syncs of one account committing at the
same moment can both link to the same predecessor: a fork, which ``dataset.chain`` reports as
such rather than as a break. The example DAGs run one sync per account at a time
(``max_active_runs=1``), which makes a fork rare in practice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem

from .chain import chain_predecessor
from .conform import Rows, conform
from .diff import DIFF_COLUMNS, PREVIOUS_COLUMNS, grant_changes
from .errors import SnapshotStateError
from .manifest import MANIFEST_FILE, STATUS_COMPLETE, Manifest, ManifestLink, TableEntry, file_sha256
from .paths import new_sync_id, resolve_location, snapshot_dir, validate_account_id, validate_sync_id
from .reader import SnapshotStore
from .schemas import GRANT_TABLES, SCHEMA_VERSION, SYNCED_TABLES, TABLES, schema_for
from .storage import write_whole

__all__ = ["ROW_GROUP_ROWS", "SnapshotWriter", "TableWriter"]

log = logging.getLogger(__name__)

#: Rows per Parquet row group. Small pages from Boomi (100 rows) are buffered up to this so
#: files do not end up with thousands of tiny row groups; it also bounds the writer's memory.
#: Not larger: a row group is encoded when it fills, and what has not filled by the last page
#: is encoded after it, on the sync's critical path (measured on `large`, whose grant tables fit
#: in one group of 65,536: 0.07 s more at the end, and 5 MB more peak memory).
ROW_GROUP_ROWS = 16_384

_PRODUCER_PACKAGE = "airflow-provider-boomi"


def _producer_version() -> str:
    try:
        return metadata.version(_PRODUCER_PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


class TableWriter:
    """Streams batches of one table into its Parquet file.

    Obtained from :meth:`SnapshotWriter.open_table`; use it as a context manager. Batches are
    cast to the table's exact schema (see :func:`~airflow_provider_boomi.dataset.conform.conform`)
    and buffered up to :data:`ROW_GROUP_ROWS` rows before they are written as one row group.
    """

    def __init__(self, owner: SnapshotWriter, name: str, fs: AbstractFileSystem, path: str) -> None:
        self._owner = owner
        self.name = name
        self.schema = schema_for(name)
        self._fs = fs
        self._path = path
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._rows = 0
        self._handle: Any = None
        self._writer: pq.ParquetWriter | None = None
        self._closed = False
        self._failed = False
        # A grant table keeps the columns the commit's diff compares (about a fifth of its data),
        # so that grant_changes need not read the file back: a Parquet read costs far more
        # resident memory than the columns themselves (Arrow's allocator; measured on `large`).
        self._diff_parts: list[pa.Table] | None = [] if name in DIFF_COLUMNS else None
        # The sync feeds different tables from different threads, and may feed one table from
        # several; a lock per table keeps buffer and Parquet writer consistent.
        self._lock = threading.RLock()

    @property
    def rows(self) -> int:
        """Rows accepted so far (written or buffered)."""
        return self._rows

    def write_batch(self, data: Rows) -> int:
        """Validate ``data``, cast it to the table schema and queue it for writing.

        :param data: a ``pa.RecordBatch``, ``pa.Table`` or list of row dicts. ``account_id``,
            ``sync_id`` and ``synced_at`` may be omitted; they are filled in.
        :returns: The number of rows accepted.
        :raises SchemaMismatchError: a row does not fit; the message names table and column. The
            batch is not written (earlier batches are kept).
        """
        self._owner._check_open()
        # Validation needs no lock: it is pure and the costliest step.
        table = conform(
            self.name,
            data,
            account_id=self._owner.account_id,
            sync_id=self._owner.sync_id,
            synced_at=self._owner.synced_at,
        )
        with self._lock:
            if self._closed:
                raise SnapshotStateError(f"table {self.name!r} is already closed")
            if table.num_rows:
                if self._diff_parts is not None:
                    self._diff_parts.append(table.select(list(DIFF_COLUMNS[self.name])))
                self._buffer.append(table)
                self._buffered += table.num_rows
                self._rows += table.num_rows
                if self._buffered >= ROW_GROUP_ROWS:
                    self._flush(final=False)
        return table.num_rows

    def diff_columns(self) -> pa.Table:
        """The rows written so far, in the columns a diff compares (grant tables only)."""
        if self._diff_parts is None:
            raise SnapshotStateError(f"table {self.name!r} is not a grant table")
        columns = list(DIFF_COLUMNS[self.name])
        if not self._diff_parts:
            return self.schema.empty_table().select(columns)
        return pa.concat_tables(self._diff_parts)

    def _ensure_writer(self) -> pq.ParquetWriter:
        if self._writer is None:
            self._handle = self._fs.open(self._path, "wb")
            self._writer = pq.ParquetWriter(self._handle, self.schema, compression="zstd")
        return self._writer

    def _flush(self, *, final: bool) -> None:
        writer = self._ensure_writer()
        if not self._buffer:
            return
        combined = pa.concat_tables(self._buffer)
        # Write whole row groups only, keeping the remainder buffered, so every row group but
        # the last has exactly ROW_GROUP_ROWS rows however the batches were sized.
        cut = combined.num_rows if final else (combined.num_rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
        if cut:
            writer.write_table(combined.slice(0, cut), row_group_size=ROW_GROUP_ROWS)
        rest = combined.slice(cut)
        self._buffer = [rest] if rest.num_rows else []
        self._buffered = rest.num_rows

    def close(self) -> None:
        """Write any buffered rows and the Parquet footer, then record the file in the snapshot."""
        with self._lock:
            if self._closed:
                return
            try:
                self._flush(final=True)
                assert self._writer is not None
                self._writer.close()
                self._handle.close()
            except BaseException:
                self._fail()
                raise
            self._closed = True
        self._owner._table_closed(self)

    def _fail(self) -> None:
        """Close file handles without recording the table; the snapshot can no longer commit."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._failed = True
            self._buffer = []
            self._diff_parts = None
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()
        with contextlib.suppress(Exception):
            if self._handle is not None:
                self._handle.close()
        self._owner._table_failed(self)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._fail()


class SnapshotWriter:
    """Writes one snapshot of one account, atomically.

    Usage::

        with SnapshotWriter("s3://bucket/boomi", "acme-Q7R2ZK") as snap:
            with snap.open_table("roles") as roles:
                for page in pages:
                    roles.write_batch(page)
            ...
            manifest = snap.commit(api_stats=stats, warnings=[], account_groups_available=True,
                                   resources=["roles", ...])

    Leaving the ``with`` block with an exception (or without having committed) calls
    :meth:`abort`: the files written so far are removed and no manifest is written.

    :param output_path: store root: local path, fsspec URL, ``os.PathLike`` or ``ObjectStoragePath``.
    :param account_id: Boomi account id (validated: it becomes a path component).
    :param sync_id: snapshot id; default :func:`~airflow_provider_boomi.dataset.paths.new_sync_id`.
    :param synced_at: time stamped into every row (timezone-aware); default now.
    :param storage_options: fsspec options for ``output_path`` (credentials, endpoint, ...).
    """

    def __init__(
        self,
        output_path: Any,
        account_id: str,
        sync_id: str | None = None,
        synced_at: datetime | None = None,
        *,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.account_id = validate_account_id(account_id)
        if synced_at is None:
            synced_at = datetime.now(UTC)
        elif synced_at.tzinfo is None or synced_at.utcoffset() is None:
            raise ValueError(f"synced_at must be timezone-aware (e.g. datetime.now(UTC)), got {synced_at!r}")
        # Arrow stores microseconds; truncate here so the manifest and the rows agree exactly.
        self.synced_at = synced_at.astimezone(UTC)
        self.sync_id = validate_sync_id(sync_id) if sync_id is not None else new_sync_id(self.synced_at)
        self.started_at = datetime.now(UTC)
        self._location = resolve_location(output_path, storage_options)
        self._fs = self._location.fs
        self._dir = self._location.fs_path(f"account_id={self.account_id}", f"sync_id={self.sync_id}")
        self.path = snapshot_dir(self._location.url, self.account_id, self.sync_id)
        self.manifest_path = f"{self.path}/{MANIFEST_FILE}"
        if self._fs.exists(self._file(MANIFEST_FILE)):
            raise SnapshotStateError(
                f"snapshot {self.path} already exists (it has a manifest); use a new sync_id"
            )
        self._state = "open"
        self._open: dict[str, TableWriter] = {}
        self._entries: dict[str, TableEntry] = {}
        self._diff_inputs: dict[str, pa.Table] = {}  # closed grant tables' diff columns
        self._failed: set[str] = set()
        self._written_files: list[str] = []
        self._dir_created = False
        self._lock = threading.RLock()

    # -- paths --------------------------------------------------------------------------------

    def _file(self, name: str) -> str:
        return f"{self._dir}/{name}"

    # -- state --------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state != "open":
            raise SnapshotStateError(f"snapshot {self.sync_id} is {self._state}; no more writes")

    def _table_closed(self, table: TableWriter) -> None:
        sha256, size = file_sha256(self._fs, table._path)
        with self._lock:
            self._open.pop(table.name, None)
            self._entries[table.name] = TableEntry(
                file=f"{table.name}.parquet", rows=table.rows, sha256=sha256, bytes=size
            )
            if table.name in GRANT_TABLES:
                self._diff_inputs[table.name] = table.diff_columns()

    def _table_failed(self, table: TableWriter) -> None:
        with self._lock:
            self._open.pop(table.name, None)
            self._failed.add(table.name)

    # -- writing ------------------------------------------------------------------------------

    def open_table(self, name: str) -> TableWriter:
        """Open table ``name`` for streaming writes; each table can be written once.

        ``grant_changes`` cannot be opened: :meth:`commit` computes it.
        """
        return self._open_table(name, internal=False)

    def _open_table(self, name: str, *, internal: bool) -> TableWriter:
        schema_for(name)  # unknown names fail with the list of valid ones
        if name == "grant_changes" and not internal:
            raise SnapshotStateError("grant_changes is computed by commit(); it cannot be written directly")
        with self._lock:
            self._check_open()
            if name in self._open or name in self._entries or name in self._failed:
                raise SnapshotStateError(f"table {name!r} was already opened in snapshot {self.sync_id}")
            if not self._dir_created:
                self._fs.makedirs(self._dir, exist_ok=True)
                self._dir_created = True
            path = self._file(f"{name}.parquet")
            self._written_files.append(path)
            writer = TableWriter(self, name, self._fs, path)
            self._open[name] = writer
            return writer

    def write_table(self, name: str, data: Rows) -> int:
        """Write a whole table in one call; returns its row count."""
        with self.open_table(name) as table:
            table.write_batch(data)
        return table.rows

    # -- commit / abort -----------------------------------------------------------------------

    def _validate_resources(self, resources: Sequence[str]) -> tuple[str, ...]:
        if isinstance(resources, str) or not isinstance(resources, Sequence):
            raise TypeError("resources must be a list of table names")
        unknown = [r for r in resources if r not in SYNCED_TABLES]
        if unknown:
            raise ValueError(f"unknown resource(s) {unknown}; expected names from {list(SYNCED_TABLES)}")
        if len(set(resources)) != len(resources):
            raise ValueError(f"resources has duplicates: {list(resources)}")
        written = {name for name in self._entries if name != "grant_changes"}
        not_written = [r for r in resources if r not in written]
        if not_written:
            raise SnapshotStateError(
                f"resources lists {not_written} but those tables were not written; a snapshot must "
                "include every table it claims"
            )
        unlisted = sorted(written - set(resources))
        if unlisted:
            raise SnapshotStateError(f"tables {unlisted} were written but are not listed in resources")
        return tuple(name for name in SYNCED_TABLES if name in resources)

    def _diff_base(self) -> Manifest | None:
        """The latest earlier complete snapshot that includes both grant tables."""
        store = SnapshotStore(self._location)
        candidates = [
            info
            for info in store.snapshots(self.account_id)
            if info.sync_id < self.sync_id and all(t in info.row_counts for t in GRANT_TABLES)
        ]
        if not candidates:
            return None
        return store.load_manifest(self.account_id, candidates[-1].sync_id)

    def _write_grant_changes(self) -> str | None:
        base = self._diff_base()
        prev_user = prev_group = None
        if base is not None:
            store = SnapshotStore(self._location)
            # Only the grant ids: the commit is the sync's peak of memory.
            prev_user, prev_group = (
                store.read_table(self.account_id, base.sync_id, name, columns=list(PREVIOUS_COLUMNS))
                for name in GRANT_TABLES
            )
            pa.default_memory_pool().release_unused()  # the decoders' scratch memory (see commit)
        # The rows just written, as the table writers kept them (no read back, see TableWriter).
        current = {name: self._diff_inputs.pop(name) for name in GRANT_TABLES}
        changes = grant_changes(
            prev_user,
            prev_group,
            current["user_role_grants"],
            current["group_role_grants"],
            base.sync_id if base is not None else None,
            account_id=self.account_id,
            sync_id=self.sync_id,
            synced_at=self.synced_at,
        )
        with self._open_table("grant_changes", internal=True) as table:
            table.write_batch(changes)
        return base.sync_id if base is not None else None

    def _chain_link(self) -> ManifestLink | None:
        """The link to the account's chain head, read now (just before the manifest is written)."""
        return chain_predecessor(SnapshotStore(self._location), self.account_id, exclude=self.sync_id)

    def _write_manifest(self, manifest: Manifest) -> None:
        write_whole(self._fs, self._file(MANIFEST_FILE), manifest.to_json().encode("utf-8"))

    def commit(
        self,
        *,
        api_stats: dict[str, Any],
        warnings: list[str],
        account_groups_available: bool,
        resources: list[str],
        extra: dict[str, Any] | None = None,
    ) -> Manifest:
        """Finish the snapshot: compute grant_changes, then write manifest.json last.

        grant_changes is written when both grant tables were written; it is computed against the
        latest earlier complete snapshot of the account that includes both grant tables (all
        grants are ``added`` when there is none).

        :param api_stats: JSON-serialisable API statistics (calls, retries, 503s, time waited, ...).
        :param warnings: warnings to record (e.g. grants naming an unknown role).
        :param account_groups_available: false when Boomi refused account groups for this account.
        :param resources: the synced tables included; must match the tables written exactly.
        :param extra: optional additional JSON data stored under ``extra``.
        :returns: The manifest as written.
        :raises SnapshotStateError: a table is still open or failed, or ``resources`` does not match
            the tables written. Any error aborts the snapshot (nothing stays behind).
        """
        self._check_open()
        try:
            if self._open:
                raise SnapshotStateError(f"tables {sorted(self._open)} are still open; close them first")
            if self._failed:
                raise SnapshotStateError(f"tables {sorted(self._failed)} failed; the snapshot cannot commit")
            included = self._validate_resources(resources)
            for what, value in (("api_stats", api_stats), ("extra", extra or {}), ("warnings", warnings)):
                try:
                    json.dumps(value)
                except (TypeError, ValueError) as exc:
                    raise TypeError(f"{what} must be JSON-serialisable: {exc}") from exc
            previous_sync_id = None
            if all(name in included for name in GRANT_TABLES):
                # The table writers' buffers are freed by now, but Arrow's allocator (mimalloc
                # or jemalloc) keeps freed memory for reuse; hand it back before the diff, the
                # sync's peak of memory (measured on `large`: 60 MB less resident when the diff
                # starts, a 14 MB lower peak). This returns memory only; it sets nothing
                # process-wide.
                pa.default_memory_pool().release_unused()
                previous_sync_id = self._write_grant_changes()
            tables = {name: self._entries[name] for name in TABLES if name in self._entries}
            manifest = Manifest(
                schema_version=SCHEMA_VERSION,
                account_id=self.account_id,
                sync_id=self.sync_id,
                status=STATUS_COMPLETE,
                started_at=self.started_at,
                finished_at=datetime.now(UTC),
                synced_at=self.synced_at,
                resources=included,
                tables=tables,
                tables_not_included=tuple(name for name in TABLES if name not in tables),
                previous_sync_id=previous_sync_id,
                account_groups_available=bool(account_groups_available),
                api_stats=dict(api_stats),
                warnings=tuple(str(w) for w in warnings),
                producer={"package": _PRODUCER_PACKAGE, "version": _producer_version()},
                extra=dict(extra or {}),
                chained=True,
                # Last, to keep the window in which another commit can take the same head short.
                previous=self._chain_link(),
            )
            self._write_manifest(manifest)
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        self._diff_inputs.clear()
        log.info("Committed snapshot %s (%s)", self.path, manifest.row_counts)
        return manifest

    def abort(self) -> None:
        """Discard the snapshot: close open tables, delete the files written, write no manifest.

        Safe to call more than once; does nothing after a successful commit.
        """
        with self._lock:
            if self._state != "open":
                return
            self._state = "aborted"
            self._diff_inputs.clear()
            open_tables = list(self._open.values())
        for table in open_tables:
            table._fail()
        for path in self._written_files:
            try:
                if self._fs.exists(path):
                    self._fs.rm_file(path)
            except FileNotFoundError:
                pass
            except Exception as exc:
                # Write-once storage (a GCS or Azure retention policy) refuses the delete. The
                # file has no manifest, so no reader counts it; the sync's own error must surface.
                log.warning("Could not remove %s of the aborted snapshot: %s", path, exc)
        if self._dir_created:
            # Object stores have no directories; locally, remove the now-empty folder.
            with contextlib.suppress(Exception):
                if not self._fs.ls(self._dir):
                    self._fs.rmdir(self._dir)
        log.warning("Aborted snapshot %s; nothing was kept", self.path)

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Without a commit the snapshot does not exist; remove its files either way.
        self.abort()
