"""The manifest of a snapshot: what ``manifest.json`` holds, typed.

The manifest is written last; its presence with ``status: complete`` is what makes a snapshot
exist. It also pins every table file by row count and SHA-256 so audit evidence can be shown to
be unaltered later (``SnapshotStore.verify``), and, since chaining began, the SHA-256 of the
account's previous manifest (``previous``), so that a deleted or replaced snapshot breaks the
chain (``dataset.chain``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fsspec import AbstractFileSystem

from .paths import validate_sync_id

__all__ = [
    "MANIFEST_FILE",
    "STATUS_COMPLETE",
    "Manifest",
    "ManifestLink",
    "TableEntry",
    "file_sha256",
    "format_time",
    "parse_time",
    "validate_sha256",
]

MANIFEST_FILE = "manifest.json"
STATUS_COMPLETE = "complete"
_HASH_CHUNK = 1 << 20
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


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


def validate_sha256(value: object, what: str) -> str:
    """Return ``value`` if it is a lowercase hex SHA-256 (64 digits), else raise ``ValueError``.

    :param value: the recorded hash (read from a file someone may have edited).
    :param what: what the hash belongs to, for the message.
    """
    if not isinstance(value, str) or not _SHA256_HEX.fullmatch(value):
        raise ValueError(f"{what} must be a SHA-256 as 64 lowercase hex digits, got {value!r}")
    return value


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

    :ivar file: file name relative to the snapshot directory.
    :ivar rows: number of rows.
    :ivar sha256: hex SHA-256 of the file's bytes.
    :ivar bytes: file size in bytes.
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
class ManifestLink:
    """A link of the manifest chain: which manifest came before, and its exact bytes' hash.

    :ivar sync_id: the previous snapshot of the account (the chain's head when this one committed).
    :ivar manifest_sha256: hex SHA-256 of that snapshot's ``manifest.json`` bytes.
    """

    sync_id: str
    manifest_sha256: str

    def to_dict(self) -> dict[str, str]:
        """Return the JSON form."""
        return {"sync_id": self.sync_id, "manifest_sha256": self.manifest_sha256}

    @classmethod
    def from_dict(cls, data: Any) -> ManifestLink:
        """Build from the JSON form; raises ``ValueError`` naming what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError(
                f"previous must be null or an object with sync_id and manifest_sha256, got {data!r}"
            )
        return cls(
            # The verifier turns the id into a path: it must be a safe path component.
            sync_id=validate_sync_id(data.get("sync_id")),
            manifest_sha256=validate_sha256(data.get("manifest_sha256"), "previous.manifest_sha256"),
        )


@dataclass(frozen=True)
class Manifest:
    """The content of ``manifest.json``.

    :ivar schema_version: ``SCHEMA_VERSION`` of the writer.
    :ivar account_id: Boomi account id.
    :ivar sync_id: snapshot id.
    :ivar status: always ``complete`` for a written manifest.
    :ivar started_at: when the writer was created.
    :ivar finished_at: when the manifest was written.
    :ivar synced_at: the time stamped into every row.
    :ivar resources: the synced tables this snapshot includes.
    :ivar tables: per included table (grant_changes too), file name, rows, sha256 and bytes.
    :ivar tables_not_included: tables absent from this snapshot.
    :ivar previous_sync_id: the snapshot grant_changes was computed against, or ``None``.
    :ivar account_groups_available: false when Boomi refused account groups (non-primary account).
    :ivar api_stats: API statistics of the sync (calls, retries, 503s, time waited, ...).
    :ivar warnings: human-readable warnings (e.g. grants naming an unknown role).
    :ivar producer: package name and version that wrote the snapshot.
    :ivar extra: free-form additional JSON data given to ``commit``.
    :ivar chained: whether the manifest carries the chain field ``previous`` (every manifest written
        since chaining began does; older ones read as unchained).
    :ivar previous: the link to the account's previous manifest; ``None`` for the first snapshot
        of the account (or an unchained manifest). Not the diff base: that is
        ``previous_sync_id``.
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
    chained: bool = False
    previous: ManifestLink | None = None

    def __post_init__(self) -> None:
        if self.previous is not None and not self.chained:
            raise ValueError("a manifest with a previous link is chained: pass chained=True")

    @property
    def row_counts(self) -> dict[str, int]:
        """Rows per included table."""
        return {name: entry.rows for name, entry in self.tables.items()}

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (what ``manifest.json`` contains)."""
        data: dict[str, Any] = {
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
        # An unchained manifest keeps its original form: re-serialising one must not add the
        # field, or its bytes (and so its hash) would change.
        if self.chained:
            data["previous"] = self.previous.to_dict() if self.previous is not None else None
        return data

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
            chained="previous" in data,
            previous=ManifestLink.from_dict(data["previous"]) if data.get("previous") is not None else None,
        )
