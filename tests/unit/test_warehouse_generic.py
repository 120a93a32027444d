"""The generic DB-API path (batched executemany, JSON text lists), exercised on SQLite.

SQLite is not a supported warehouse; it is here because it is in the standard library and
runs the code path every non-PostgreSQL, non-DuckDB common-sql database takes.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_boomi.warehouse import DbApiTarget, load_snapshot, sql_type
from airflow_provider_boomi.warehouse.targets import _convert_placeholders
from tests.unit import test_warehouse_snapshots as fx


def test_sqlite_load_views_and_json_lists(tmp_path: Path) -> None:
    store = fx.build_store(tmp_path / "store")
    database = tmp_path / "w.sqlite"
    target = DbApiTarget(lambda: sqlite3.connect(database))
    for sync_id in fx.SYNC_IDS:
        load_snapshot(target, store, fx.ACCOUNT, sync_id)
    load_snapshot(target, store, fx.ACCOUNT, fx.SYNC_IDS[0])
    assert target.dialect == "sqlite"
    assert target.query("SELECT count(*) FROM boomi_users") == [(13,)]
    (privileges,) = target.query("SELECT privileges FROM boomi_roles WHERE name = 'Administrator' LIMIT 1")[0]
    assert json.loads(privileges) == ["API", "USER_MANAGEMENT"]
    assert target.query("SELECT count(*) FROM boomi_current_access") == [(6,)]
    assert target.query("SELECT user_id FROM boomi_group_only_users") == [("carol@x.com",)]


@pytest.mark.parametrize(
    ("style", "sql", "params"),
    [
        ("qmark", "a = ? AND b = ?", (1, 2)),
        ("%s", "a = %s AND b = %s", (1, 2)),
        ("numeric", "a = :1 AND b = :2", (1, 2)),
        ("named", "a = :p1 AND b = :p2", {"p1": 1, "p2": 2}),
    ],
)
def test_placeholders_follow_the_driver_paramstyle(style: str, sql: str, params: object) -> None:
    assert _convert_placeholders("a = ? AND b = ?", style, (1, 2)) == (sql, params)


def test_list_columns_are_json_text_outside_duckdb_and_postgres() -> None:
    import pyarrow as pa

    strings = pa.list_(pa.string())
    assert (sql_type(strings, "duckdb"), sql_type(strings, "postgresql"), sql_type(strings, "mysql")) == (
        "VARCHAR[]",
        "TEXT[]",
        "TEXT",
    )
