"""Warehouse table names and DDL, derived from the snapshot Arrow schemas.

The Arrow schemas in :mod:`airflow_provider_boomi.dataset.schemas` are the single source of the
columns; this module only maps their types to SQL per dialect, so a column added to a snapshot
table appears in the warehouse without a second definition to keep in sync.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

import pyarrow as pa

from airflow_provider_boomi.dataset import TABLES

__all__ = [
    "SNAPSHOTS_TABLE",
    "WAREHOUSE_TABLES",
    "create_table_sql",
    "index_sql",
    "snapshots_columns",
    "sql_type",
    "uses_native_lists",
    "validate_schema_name",
]

#: Snapshot table name -> warehouse table name.
WAREHOUSE_TABLES: Mapping[str, str] = MappingProxyType({name: f"boomi_{name}" for name in TABLES})

#: One row per loaded snapshot.
SNAPSHOTS_TABLE = "boomi_snapshots"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def validate_schema_name(schema: str | None) -> str | None:
    """Return ``schema`` if it is a plain SQL identifier (or ``None``), else raise ``ValueError``.

    Names are used unquoted so that the same SQL works on every dialect; that rules out
    anything needing quotes (spaces, dots, dashes), which also keeps injection impossible.
    """
    if schema is None:
        return None
    if not isinstance(schema, str) or not _IDENTIFIER.match(schema):
        raise ValueError(
            f"schema {schema!r} is not a plain SQL identifier; use letters, digits and '_' "
            "(starting with a letter or '_'), at most 63 characters"
        )
    return schema


def uses_native_lists(dialect: str) -> bool:
    """Whether list<string> columns are stored as native arrays (else as JSON text)."""
    return dialect in ("duckdb", "postgresql")


def sql_type(type_: pa.DataType, dialect: str) -> str:
    """The SQL type storing Arrow type ``type_`` in ``dialect``.

    ``duckdb`` and ``postgresql`` get exact types (``TIMESTAMP WITH TIME ZONE``, arrays);
    any other dialect gets the portable subset, with list<string> as JSON text.
    """
    native = dialect in ("duckdb", "postgresql")
    text = "VARCHAR" if dialect == "duckdb" else "TEXT"
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return text
    if pa.types.is_boolean(type_):
        return "BOOLEAN"
    if pa.types.is_int8(type_) or pa.types.is_int16(type_) or pa.types.is_int32(type_):
        return "INTEGER"
    if pa.types.is_integer(type_):
        return "BIGINT"
    if pa.types.is_floating(type_):
        return "DOUBLE PRECISION"
    if pa.types.is_timestamp(type_):
        if type_.tz is not None and native:
            return "TIMESTAMP WITH TIME ZONE"
        return "TIMESTAMP"
    if pa.types.is_list(type_) and pa.types.is_string(type_.value_type):
        return f"{text}[]" if native else "TEXT"
    raise TypeError(f"no SQL type for Arrow type {type_} (dialect {dialect})")


def snapshots_columns(dialect: str) -> list[tuple[str, str, bool]]:
    """(name, SQL type, nullable) of ``boomi_snapshots``."""
    text = sql_type(pa.string(), dialect)
    ts = sql_type(pa.timestamp("us", tz="UTC"), dialect)
    columns = [
        ("account_id", text, False),
        ("sync_id", text, False),
        ("synced_at", ts, False),
        ("loaded_at", ts, False),
        ("schema_version", "INTEGER", False),
        ("previous_sync_id", text, True),
        ("account_groups_available", "BOOLEAN", True),
    ]
    # A null count means "table not in this snapshot" (a resources subset), which views
    # must tell apart from "zero rows".
    columns += [(f"{name}_rows", "BIGINT", True) for name in TABLES]
    return columns


def _qualified(name: str, schema: str | None) -> str:
    return f"{schema}.{name}" if schema else name


def create_table_sql(table: str, dialect: str, schema: str | None) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a snapshot table name or ``boomi_snapshots``."""
    if table == SNAPSHOTS_TABLE:
        columns = snapshots_columns(dialect)
        extra = ", PRIMARY KEY (account_id, sync_id)"
        name = SNAPSHOTS_TABLE
    else:
        arrow = TABLES[table]
        columns = [(f.name, sql_type(f.type, dialect), f.nullable) for f in arrow]
        extra = ""
        name = WAREHOUSE_TABLES[table]
    body = ",\n    ".join(
        f"{col} {type_}{'' if nullable else ' NOT NULL'}" for col, type_, nullable in columns
    )
    return f"CREATE TABLE IF NOT EXISTS {_qualified(name, schema)} (\n    {body}{extra}\n)"


def index_sql(table: str, dialect: str, schema: str | None) -> str | None:
    """An index on (account_id, sync_id) where it pays off, else ``None``.

    PostgreSQL needs it so the delete of a reloaded snapshot and the per-snapshot joins of the
    views do not scan every snapshot ever loaded. DuckDB's zone maps already prune by these
    sorted columns, and its ART indexes would only slow bulk inserts down.
    """
    if dialect != "postgresql":
        return None
    name = WAREHOUSE_TABLES[table]
    return (
        f"CREATE INDEX IF NOT EXISTS {name}_snapshot_idx ON {_qualified(name, schema)} (account_id, sync_id)"
    )
