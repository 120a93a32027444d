"""The warehouse against a real PostgreSQL: COPY and executemany loads, reloads, the views.

Each test run creates its own schema in database ``test`` and drops it afterwards. The tests
skip only when no PostgreSQL answers at ``BOOMI_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); CI runs one.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.warehouse import (
    VIEWS,
    DbApiTarget,
    SqlAlchemyTarget,
    WarehouseTarget,
    load_snapshot,
)
from tests.unit import test_warehouse_snapshots as fx

S1, S2, S3 = fx.SYNC_IDS
T1, T2, T3 = fx.TIMES


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    return fx.build_store(tmp_path_factory.mktemp("pg-store"))


def _load_all(target: WarehouseTarget, store: SnapshotStore) -> None:
    for sync_id in fx.SYNC_IDS:
        load_snapshot(target, store, fx.ACCOUNT, sync_id)


def test_types_counts_and_idempotent_reload(pg_engine: Any, pg_schema: str, store: SnapshotStore) -> None:
    target = SqlAlchemyTarget(pg_engine, schema=pg_schema)
    _load_all(target, store)
    types = dict(
        target.query(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ?",
            [pg_schema],
        )
    )
    assert types["boomi_roles.privileges"] == "ARRAY"
    assert types["boomi_users.synced_at"] == "timestamp with time zone"
    assert types["boomi_users.global_role_count"] == "integer"
    assert types["boomi_roles.is_privileged"] == "boolean"
    assert target.query(
        f"SELECT privileges FROM {pg_schema}.boomi_roles WHERE name = 'Administrator' LIMIT 1"
    ) == [(["API", "USER_MANAGEMENT"],)]

    def counts() -> list[tuple[Any, ...]]:
        return target.query(
            f"SELECT (SELECT count(*) FROM {pg_schema}.boomi_users), "
            f"(SELECT count(*) FROM {pg_schema}.boomi_grants), "
            f"(SELECT count(*) FROM {pg_schema}.boomi_grant_changes), "
            f"(SELECT count(*) FROM {pg_schema}.boomi_snapshots)"
        )

    assert counts() == [(13, 18, 10, 3)]
    again = load_snapshot(target, store, fx.ACCOUNT, S2)
    assert again.replaced is True and again.rows["user_role_grants"] == 4
    assert counts() == [(13, 18, 10, 3)]


def test_views_on_postgres(pg_engine: Any, pg_schema: str, store: SnapshotStore) -> None:
    target = SqlAlchemyTarget(pg_engine, schema=pg_schema)
    _load_all(target, store)
    for view in VIEWS:
        target.query(f"SELECT * FROM {pg_schema}.{view}")
    assert target.query(f"SELECT DISTINCT sync_id FROM {pg_schema}.boomi_current_access") == [(S3,)]
    assert target.query(f"SELECT count(*) FROM {pg_schema}.boomi_current_access") == [(6,)]
    bob = target.query(
        f"SELECT held_from, held_until, is_current FROM {pg_schema}.boomi_grant_history "
        "WHERE grant_id = ? ORDER BY interval_no",
        [fx.global_grant_id("bob@x.com", fx.DEV)],
    )
    assert bob == [(T1, T2, False), (T3, None, True)]
    changes = target.query(
        f"SELECT sync_id, change_type, user_id FROM {pg_schema}.boomi_access_changes "
        "ORDER BY sync_id, change_type"
    )
    assert changes == [
        (S2, "added", "erin@x.com"),
        (S2, "removed", "bob@x.com"),
        (S3, "added", "bob@x.com"),
        (S3, "removed", "alice@x.com"),
    ]
    privileged = target.query(
        f"SELECT user_id, privileged_roles FROM {pg_schema}.boomi_privileged_users ORDER BY user_id"
    )
    assert privileged == [
        ("alice@x.com", "Administrator"),
        ("dave@x.com", "EU Accounts: Administrator"),
        ("erin@x.com", "Administrator"),
    ]
    assert target.query(f"SELECT user_id, account_groups FROM {pg_schema}.boomi_group_only_users") == [
        ("carol@x.com", "EU Accounts")
    ]


def test_dbapi_connection_factory_with_executemany(
    pg_engine: Any, pg_schema: str, store: SnapshotStore
) -> None:
    psycopg = pytest.importorskip("psycopg")
    dsn = pg_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    target = DbApiTarget(lambda: psycopg.connect(dsn), schema=pg_schema, use_copy=False)
    _load_all(target, store)
    assert target.dialect == "postgresql"
    assert target.query(f"SELECT count(*) FROM {pg_schema}.boomi_current_access") == [(6,)]
    # Mixing loaders on one schema is fine: the same SQL, the same tables.
    load_snapshot(SqlAlchemyTarget(pg_engine, schema=pg_schema), store, fx.ACCOUNT, S3)
    assert target.query(f"SELECT count(*) FROM {pg_schema}.boomi_users WHERE sync_id = ?", [S3]) == [(5,)]
    with psycopg.connect(dsn, autocommit=True) as autocommit, pytest.raises(ValueError, match="autocommit"):
        load_snapshot(DbApiTarget(autocommit, schema=pg_schema), store, fx.ACCOUNT, S3)


def test_a_failed_load_rolls_back(pg_engine: Any, pg_schema: str, store: SnapshotStore) -> None:
    target = SqlAlchemyTarget(pg_engine, schema=pg_schema)
    _load_all(target, store)
    with pg_engine.begin() as con:
        # A constraint the data violates makes the insert fail after the delete already ran.
        con.exec_driver_sql(
            f"ALTER TABLE {pg_schema}.boomi_users "
            "ADD CONSTRAINT no_bob CHECK (user_id <> 'bob@x.com') NOT VALID"
        )
    with pytest.raises(Exception, match="no_bob"):
        load_snapshot(target, store, fx.ACCOUNT, S3)
    assert target.query(f"SELECT count(*) FROM {pg_schema}.boomi_users WHERE sync_id = ?", [S3]) == [(5,)]
    assert target.query(f"SELECT count(*) FROM {pg_schema}.boomi_snapshots") == [(3,)]
