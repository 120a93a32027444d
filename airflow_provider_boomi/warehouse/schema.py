"""Creating the warehouse's schema and tables, and checking existing ones against this version.

Its own module because both the loader and the views need the tables to exist first; neither
imports the other.
"""

from __future__ import annotations

from airflow_provider_boomi.dataset import TABLES, SnapshotError

from .tables import SNAPSHOTS_TABLE, WAREHOUSE_TABLES, create_table_sql, index_sql, snapshots_columns
from .targets import Session, WarehouseTarget

__all__ = ["ensure_tables"]


def _create_schema(session: Session, target: WarehouseTarget) -> None:
    if target.schema:
        session.execute(f"CREATE SCHEMA IF NOT EXISTS {target.schema}")


def _check_columns(session: Session, table: str, expected: list[str]) -> None:
    actual = session.columns(table)
    if [c.lower() for c in actual] != expected:
        raise SnapshotError(
            f"warehouse table {table} has columns {actual}, but this version of the package "
            f"writes {expected}. Migrate the table (or load into a new schema) before loading."
        )


def _add_new_snapshot_columns(session: Session, table: str, dialect: str) -> None:
    """Add the row-count columns of tables newer than the warehouse's ``boomi_snapshots``.

    Schema version 3 added tables, and so ``<table>_rows`` columns at the end of
    ``boomi_snapshots``. A warehouse created before has every earlier column in order; the new
    ones are nullable (null: "table not in this snapshot", which is true of every snapshot loaded
    before), so adding them keeps every loaded row correct. Anything else is left to
    ``_check_columns`` to refuse.
    """
    expected = snapshots_columns(dialect)
    actual = [c.lower() for c in session.columns(table)]
    names = [name for name, _, _ in expected]
    if len(actual) >= len(names) or names[: len(actual)] != actual:
        return
    missing = expected[len(actual) :]
    if any(not nullable for _, _, nullable in missing):
        return
    for name, type_, _ in missing:
        session.execute(f"ALTER TABLE {table} ADD COLUMN {name} {type_}")


def ensure_tables(target: WarehouseTarget, session: Session | None = None) -> None:
    """Create the schema, the snapshot tables and ``boomi_snapshots`` if missing.

    Existing tables are checked against the expected columns so that a table from an older
    schema version fails loudly instead of receiving misaligned rows; the one change made in
    place is adding the nullable row-count columns of newer tables to ``boomi_snapshots``.
    """
    if session is None:
        with target.transaction() as own:
            ensure_tables(target, own)
        return
    dialect = session.dialect
    _create_schema(session, target)
    session.execute(create_table_sql(SNAPSHOTS_TABLE, dialect, target.schema))
    _add_new_snapshot_columns(session, target.qualified(SNAPSHOTS_TABLE), dialect)
    _check_columns(session, target.qualified(SNAPSHOTS_TABLE), [c for c, _, _ in snapshots_columns(dialect)])
    for name, schema in TABLES.items():
        session.execute(create_table_sql(name, dialect, target.schema))
        index = index_sql(name, dialect, target.schema)
        if index:
            session.execute(index)
        _check_columns(session, target.qualified(WAREHOUSE_TABLES[name]), list(schema.names))
