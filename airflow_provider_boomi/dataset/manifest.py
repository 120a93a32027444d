"""The manifest of a snapshot: what ``manifest.json`` holds, typed.

The manifest is written last; its presence with ``status: complete`` is what makes a snapshot
exist. It also pins every table file by row count and SHA-256 so audit evidence can be shown to
be unaltered later (``SnapshotStore.verify``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fsspec import AbstractFileSystem

__all__ = [
    "MANIFEST_FILE",
    "STATUS_COMPLETE",
    "Manifest",
    "TableEntry",
    "file_sha256",
    "format_time",
    "parse_time",
]

MANIFEST_FILE = "manifest.json"
STATUS_COMPLETE = "complete"
_HASH_CHUNK = 1 << 20


def file_sha256(fs: AbstractFileSystem, path: str) -> tuple[str, int]:
    """Return the hex SHA-256 and size of a file, read back through ``fs`` in 1 MiB chunks.

    The checksum a manifest pins for each table file: the writer records it, and
    ``SnapshotStore.verify`` recomputes it.
    """
    digest = hashlib.sha256()
    size = 0
    with fs.open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def format_time(value: datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with a ``Z`` suffix and microseconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime:
    """Parse a time written by :func:`format_time` (any ISO 8601 with an offset is accepted)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class TableEntry:
    """One table file of a snapshot.

    Attributes:
        file: file name relative to the snapshot directory.
        rows: number of rows.
        sha256: hex SHA-256 of the file's bytes.
        bytes: file size in bytes.
    """

    file: str
    rows: int
    sha256: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"file": self.file, "rows": self.rows, "sha256": self.sha256, "bytes": self.bytes}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableEntry:
        """Build from the JSON form."""
        return cls(
            file=str(data["file"]),
            rows=int(data["rows"]),
            sha256=str(data["sha256"]),
            bytes=int(data["bytes"]),
        )


@dataclass(frozen=True)
class Manifest:
    """The content of ``manifest.json``.

    Attributes:
        schema_version: ``SCHEMA_VERSION`` of the writer.
        account_id: Boomi account id.
        sync_id: snapshot id.
        status: always ``complete`` for a written manifest.
        started_at: when the writer was created.
        finished_at: when the manifest was written.
        synced_at: the time stamped into every row.
        resources: the synced tables this snapshot includes.
        tables: per included table (grant_changes too), file name, rows, sha256 and bytes.
        tables_not_included: tables absent from this snapshot.
        previous_sync_id: the snapshot grant_changes was computed against, or ``None``.
        account_groups_available: false when Boomi refused account groups (non-primary account).
        api_stats: API statistics of the sync (calls, retries, 503s, time waited, ...).
        warnings: human-readable warnings (e.g. grants naming an unknown role).
        producer: package name and version that wrote the snapshot.
        extra: free-form additional JSON data given to ``commit``.
    """

    schema_version: int
    account_id: str
    sync_id: str
    status: str
    started_at: datetime
    finished_at: datetime
    synced_at: datetime
    resources: tuple[str, ...]
    tables: Mapping[str, TableEntry]
    tables_not_included: tuple[str, ...]
    previous_sync_id: str | None
    account_groups_available: bool
    api_stats: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    producer: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def row_counts(self) -> dict[str, int]:
        """Rows per included table."""
        return {name: entry.rows for name, entry in self.tables.items()}

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (what ``manifest.json`` contains)."""
        return {
            "schema_version": self.schema_version,
            "account_id": self.account_id,
            "sync_id": self.sync_id,
            "status": self.status,
            "started_at": format_time(self.started_at),
            "finished_at": format_time(self.finished_at),
            "synced_at": format_time(self.synced_at),
            "resources": list(self.resources),
            "tables": {name: entry.to_dict() for name, entry in self.tables.items()},
            "tables_not_included": list(self.tables_not_included),
            "previous_sync_id": self.previous_sync_id,
            "account_groups_available": self.account_groups_available,
            "api_stats": dict(self.api_stats),
            "warnings": list(self.warnings),
            "producer": dict(self.producer),
            "extra": dict(self.extra),
        }

    def to_json(self) -> str:
        """Return ``manifest.json``'s text (sorted keys would hide the logical order; we keep it)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Build from the JSON form; raises ``KeyError``/``ValueError``/``TypeError`` on malformed input."""
        return cls(
            schema_version=int(data["schema_version"]),
            account_id=str(data["account_id"]),
            sync_id=str(data["sync_id"]),
            status=str(data["status"]),
            started_at=parse_time(data["started_at"]),
            finished_at=parse_time(data["finished_at"]),
            synced_at=parse_time(data["synced_at"]),
            resources=tuple(data["resources"]),
            tables={name: TableEntry.from_dict(entry) for name, entry in data["tables"].items()},
            tables_not_included=tuple(data.get("tables_not_included", ())),
            previous_sync_id=data.get("previous_sync_id"),
            account_groups_available=bool(data["account_groups_available"]),
            api_stats=dict(data.get("api_stats") or {}),
            warnings=tuple(data.get("warnings") or ()),
            producer=dict(data.get("producer") or {}),
            extra=dict(data.get("extra") or {}),
        )
