"""The provisioning ledger: an append-only Parquet record of every access change.

Layout: a directory of part files ``part-<UTC timestamp>-<random>.parquet`` at the path the
user chooses (local or any fsspec URL). Appending writes a new part file and never rewrites an
old one, so concurrent tasks cannot clobber each other and object stores (which cannot append
to a file) work the same as a local disk. Rows are buffered and written at least every
``flush_every`` changes and when the writer closes, so a run that fails halfway still leaves the
changes it made on record; the provisioner also flushes after every change that may have
written to Boomi, so that holds for a process killed outright too.

Chain: each part records, in its Parquet key-value metadata, the name and SHA-256 of the part
the writer saw as the latest when it wrote (its predecessor; empty for the first part) and its
own row count. :func:`verify_ledger_chain` checks the links, so a deleted or changed part is
named. Two writers flushing at the same moment can name the same predecessor: a fork, reported
as legitimate concurrency, not as a break. Parts written before chaining began read as before.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_boomi.access.changes import ChangeResult
from airflow_provider_boomi.dataset.chain import ChainBreak, ChainNode, ChainResult, check_links
from airflow_provider_boomi.dataset.manifest import file_sha256, validate_sha256

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHAIN_PREVIOUS_PART",
    "CHAIN_PREVIOUS_SHA256",
    "CHAIN_ROWS",
    "DEFAULT_FLUSH_EVERY",
    "LEDGER_SCHEMA",
    "LedgerWriter",
    "RunContext",
    "new_action_id",
    "read_ledger",
    "verify_ledger_chain",
]

log = logging.getLogger(__name__)

DEFAULT_FLUSH_EVERY = 50
"""Rows buffered before a part file is written."""

LEDGER_SCHEMA = pa.schema(
    [
        pa.field("action_id", pa.string(), nullable=False),
        pa.field("recorded_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("dag_id", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("task_id", pa.string()),
        pa.field("try_number", pa.int64()),
        pa.field("account_id", pa.string()),
        pa.field("action", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("role_id", pa.string()),
        pa.field("role_name", pa.string()),
        pa.field("account_group_id", pa.string()),
        pa.field("account_group_name", pa.string()),
        pa.field("dry_run", pa.bool_(), nullable=False),
        pa.field("state_before", pa.string()),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("side_effects", pa.list_(pa.string()), nullable=False),
        pa.field("boomi_id", pa.string()),
        pa.field("error", pa.string()),
        pa.field("verification", pa.string()),
        pa.field("reason", pa.string()),
        # Schema version 2: who approved the run's changes in Airflow (human-in-the-loop), and when.
        pa.field("approved_by", pa.string()),
        pa.field("approved_at", pa.timestamp("us", tz="UTC")),
    ],
    metadata={"airflow_provider_boomi.table": "provisioning_ledger", "schema_version": "2"},
)
"""The ledger's Arrow schema. Defined once; every part file is written with it.

Parts written before a column existed read with that column null (see :func:`read_ledger`)."""

_PART_PREFIX = "part-"
_PART_SUFFIX = ".parquet"

CHAIN_PREVIOUS_PART = "airflow_provider_boomi.chain.previous_part"
"""Parquet metadata key: the file name of the predecessor part (empty for the first part)."""
CHAIN_PREVIOUS_SHA256 = "airflow_provider_boomi.chain.previous_sha256"
"""Parquet metadata key: the predecessor's hex SHA-256 (empty for the first part)."""
CHAIN_ROWS = "airflow_provider_boomi.chain.rows"
"""Parquet metadata key: the part's own row count."""
_CHAIN_KEYS = (CHAIN_PREVIOUS_PART, CHAIN_PREVIOUS_SHA256, CHAIN_ROWS)


def _part_paths(fs: Any, root: str) -> list[str]:
    """The ledger's part files under ``root``, oldest first (their names start with a UTC stamp).

    Listed afresh (past fsspec's directory cache): another process may have just written one.
    """
    fs.invalidate_cache(root)
    if not fs.exists(root):
        return []
    return sorted(
        p
        for p in fs.ls(root, detail=False)
        if p.rsplit("/", 1)[-1].startswith(_PART_PREFIX) and p.endswith(_PART_SUFFIX)
    )


def new_action_id() -> str:
    """A fresh id for one change (a UUID4 string)."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class RunContext:
    """Where a change was made from: the Airflow run (when there is one) and the Boomi account."""

    account_id: str | None = None
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    try_number: int | None = None
    approved_by: str | None = None
    """Who approved the changes of this run (the Airflow user answering an approval), if anyone."""
    approved_at: datetime | None = None
    """When that approval was given (timezone-aware)."""

    def __post_init__(self) -> None:
        if self.approved_at is not None and self.approved_at.tzinfo is None:
            raise ValueError("RunContext.approved_at must be timezone-aware (UTC)")
        if (self.approved_by is None) != (self.approved_at is None):
            raise ValueError("RunContext: give approved_by and approved_at together, or neither")


def _row(result: ChangeResult, context: RunContext, recorded_at: datetime) -> dict[str, Any]:
    return {
        "action_id": result.action_id,
        "recorded_at": recorded_at,
        "dag_id": context.dag_id,
        "run_id": context.run_id,
        "task_id": context.task_id,
        "try_number": context.try_number,
        "account_id": context.account_id,
        "action": result.action,
        "user_id": result.user_id,
        "role_id": result.role_id,
        "role_name": result.role_name,
        "account_group_id": result.account_group_id,
        "account_group_name": result.account_group_name,
        "dry_run": result.dry_run,
        "state_before": result.state_before,
        "outcome": result.outcome,
        "side_effects": list(result.side_effects),
        "boomi_id": result.boomi_id,
        "error": result.error,
        "verification": result.verification,
        "reason": result.reason,
        "approved_by": context.approved_by,
        "approved_at": context.approved_at,
    }


def _filesystem(path: str) -> tuple[Any, str]:
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(path)
    return fs, root.rstrip("/") or root


class LedgerWriter:
    """Appends change results to the ledger at ``path``.

    Use it as a context manager (or call :meth:`close`) so the last rows are always written::

        with LedgerWriter("s3://audit/boomi-ledger", context=RunContext(account_id="acme-Q7R2ZK")) as ledger:
            ledger.record(result)

    :param path: a directory: local path or fsspec URL; created when missing.
    :param context: run and account fields stamped on every row.
    :param flush_every: rows buffered before a part file is written.
    """

    def __init__(
        self, path: str, *, context: RunContext | None = None, flush_every: int = DEFAULT_FLUSH_EVERY
    ):
        if not path or not str(path).strip():
            raise ValueError("ledger path is empty: give a directory path or fsspec URL")
        if flush_every < 1:
            raise ValueError(f"flush_every must be >= 1, got {flush_every}")
        self.path = str(path)
        self.context = context or RunContext()
        self.flush_every = flush_every
        self._rows: list[dict[str, Any]] = []
        self._fs, self._root = _filesystem(self.path)
        self.parts_written: list[str] = []
        self.rows_written = 0

    def record(self, result: ChangeResult) -> None:
        """Buffer one row; write a part file when the buffer is full."""
        self._rows.append(_row(result, self.context, datetime.now(UTC)))
        if len(self._rows) >= self.flush_every:
            self.flush()

    def flush(self) -> str | None:
        """Write the buffered rows as one new part file; return its path (``None`` if empty)."""
        if not self._rows:
            return None
        table = pa.Table.from_pylist(self._rows, schema=LEDGER_SCHEMA)
        self._fs.makedirs(self._root, exist_ok=True)
        table = table.replace_schema_metadata(
            {**(LEDGER_SCHEMA.metadata or {}), **self._chain_metadata(table)}
        )
        # Named after the predecessor was read, so a part's name sorts after the one it links to.
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        part = f"{self._root}/{_PART_PREFIX}{stamp}-{secrets.token_hex(4)}{_PART_SUFFIX}"
        with self._fs.open(part, "wb") as handle:
            pq.write_table(table, handle)
        self.rows_written += len(self._rows)
        self._rows = []
        self.parts_written.append(part)
        log.info("Ledger: wrote %d row(s) to %s", table.num_rows, part)
        return part

    def _chain_metadata(self, table: pa.Table) -> dict[bytes, bytes]:
        """The chain keys of the next part: the latest part seen now, its hash, and the rows."""
        parts = _part_paths(self._fs, self._root)
        previous_name = previous_sha256 = ""
        if parts:
            previous_name = parts[-1].rsplit("/", 1)[-1]
            previous_sha256, _ = file_sha256(self._fs, parts[-1])
        return {
            CHAIN_PREVIOUS_PART.encode(): previous_name.encode(),
            CHAIN_PREVIOUS_SHA256.encode(): previous_sha256.encode(),
            CHAIN_ROWS.encode(): str(table.num_rows).encode(),
        }

    @property
    def pending(self) -> int:
        """Rows buffered and not yet written."""
        return len(self._rows)

    def close(self) -> None:
        """Write what is buffered."""
        self.flush()

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _conform(table: pa.Table) -> pa.Table:
    """Give a part file exactly the ledger's columns and types.

    Columns added since the part was written (schema version 1 had no ``approved_by`` and
    ``approved_at``) are filled with nulls; a column the schema does not know is a part
    written by something else, and fails loudly rather than being dropped.
    """
    unknown = [name for name in table.column_names if LEDGER_SCHEMA.get_field_index(name) < 0]
    if unknown:
        raise ValueError(f"ledger part has columns the ledger schema does not know: {unknown}")
    columns = [
        table.column(field.name) if field.name in table.column_names else pa.nulls(table.num_rows, field.type)
        for field in LEDGER_SCHEMA
    ]
    return pa.Table.from_arrays(columns, schema=LEDGER_SCHEMA.remove_metadata()).cast(LEDGER_SCHEMA)


def read_ledger(path: str, *, storage_options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Read every part file of the ledger at ``path`` into one DataFrame, oldest first.

    A missing or empty ledger gives an empty DataFrame with the ledger's columns.
    """
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(path, **dict(storage_options or {}))
    root = root.rstrip("/") or root
    tables = []
    for part in _part_paths(fs, root):
        with fs.open(part, "rb") as handle:
            tables.append(_conform(pq.read_table(handle)))
    table = pa.concat_tables(tables) if tables else LEDGER_SCHEMA.empty_table()
    frame = table.to_pandas()
    if len(frame):
        frame = frame.sort_values(["recorded_at", "action_id"], kind="stable").reset_index(drop=True)
    return frame


def _chain_fields(
    metadata: Mapping[bytes, bytes] | None, name: str
) -> tuple[bool, str | None, str | None, int | None]:
    """``(chained, previous part, previous sha256, rows)`` from a part's key-value metadata.

    :raises ValueError: the chain metadata is there but incomplete or malformed.
    """
    raw = metadata or {}
    present = {key: raw[key.encode()].decode("utf-8") for key in _CHAIN_KEYS if key.encode() in raw}
    if not present:
        return False, None, None, None
    if len(present) != len(_CHAIN_KEYS):
        missing = sorted(set(_CHAIN_KEYS) - set(present))
        raise ValueError(f"part {name} has incomplete chain metadata (missing {missing})")
    previous = present[CHAIN_PREVIOUS_PART]
    previous_sha = present[CHAIN_PREVIOUS_SHA256]
    rows_text = present[CHAIN_ROWS]
    if not rows_text.isdigit():
        raise ValueError(f"part {name}: chain row count {rows_text!r} is not a number")
    if not previous:
        if previous_sha:
            raise ValueError(f"part {name} records a predecessor hash but no predecessor name")
        return True, None, None, int(rows_text)
    if "/" in previous or not (previous.startswith(_PART_PREFIX) and previous.endswith(_PART_SUFFIX)):
        raise ValueError(f"part {name}: predecessor {previous!r} is not a ledger part name")
    return True, previous, validate_sha256(previous_sha, f"part {name}'s predecessor hash"), int(rows_text)


def verify_ledger_chain(path: str, *, storage_options: Mapping[str, Any] | None = None) -> ChainResult:
    """Verify the hash chain of the ledger at ``path``.

    Reads every part's footer and hashes every part's bytes. Breaks: a part naming a predecessor
    that is missing (deleted), a predecessor whose SHA-256 differs from the recorded one
    (changed or replaced), a part without chain metadata written after chaining began, a part
    whose row count differs from the one it recorded, a part that is not readable Parquet. Forks
    (two parts naming one predecessor: writers flushing at the same moment) are reported as
    forks. Parts from before chaining began are listed, not faulted.

    :param path: the ledger directory (local path or fsspec URL), as given to :class:`LedgerWriter`.
    :param storage_options: fsspec options (credentials, endpoint).
    :raises FileNotFoundError: ``path`` does not exist (a wrong path must not verify as empty).
    """
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(path, **dict(storage_options or {}))
    root = root.rstrip("/") or root
    fs.invalidate_cache(root)
    if not fs.exists(root):
        raise FileNotFoundError(f"no ledger at {path}: the directory does not exist (check the path)")
    base = str(path).rstrip("/")
    nodes: list[ChainNode] = []
    breaks: list[ChainBreak] = []
    total_rows = 0
    for part in _part_paths(fs, root):
        name = part.rsplit("/", 1)[-1]
        url = f"{base}/{name}"
        sha256, _ = file_sha256(fs, part)
        try:
            with fs.open(part, "rb") as handle:
                footer = pq.ParquetFile(handle).metadata
            chained, previous, previous_sha, recorded_rows = _chain_fields(footer.metadata, name)
        except (OSError, ValueError, pa.ArrowException) as exc:
            breaks.append(ChainBreak("unreadable", url, f"part {name}: {exc}"))
            nodes.append(ChainNode(name, url, sha256, (name,), readable=False))
            continue
        total_rows += footer.num_rows
        if recorded_rows is not None and recorded_rows != footer.num_rows:
            breaks.append(
                ChainBreak(
                    "rows_mismatch",
                    url,
                    f"part {name} holds {footer.num_rows} rows but recorded {recorded_rows}",
                    expected=str(recorded_rows),
                    found=str(footer.num_rows),
                )
            )
        nodes.append(ChainNode(name, url, sha256, (name,), True, chained, previous, previous_sha))
    links = check_links(nodes, "part")
    return ChainResult(
        chain="ledger",
        location=str(path),
        account_id=None,
        files=len(nodes),
        chained=links.chained,
        unchained_before_start=links.unchained_before_start,
        links_checked=links.links_checked,
        data_files_checked=0,
        rows=total_rows,
        breaks=(*breaks, *links.breaks),
        forks=links.forks,
        heads=links.heads,
        hashes=frozenset(node.sha256 for node in nodes),
    )
