"""Exceptions of the snapshot store."""

from __future__ import annotations

__all__ = [
    "SchemaMismatchError",
    "SnapshotError",
    "SnapshotNotFoundError",
    "SnapshotStateError",
    "TableNotInSnapshotError",
]


class SnapshotError(Exception):
    """Base class of every error raised by ``airflow_provider_boomi.dataset``."""


class SnapshotNotFoundError(SnapshotError, LookupError):
    """The snapshot does not exist: no manifest.json, an unreadable one, or one not ``complete``."""


class TableNotInSnapshotError(SnapshotError, LookupError):
    """The snapshot exists but was taken without this table (a partial sync)."""


class SnapshotStateError(SnapshotError, RuntimeError):
    """The writer was used out of order (write after commit, a table opened twice, ...)."""


class SchemaMismatchError(SnapshotError, ValueError):
    """Rows do not fit a table's schema.

    :ivar table: the snapshot table being written.
    :ivar column: the offending column, or ``None`` when the problem is not one column's.
    """

    def __init__(self, table: str, column: str | None, message: str) -> None:
        self.table = table
        self.column = column
        where = f"table {table!r}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {message}")
