"""Loading snapshots into DuckDB, idempotent reloads, and the analytics views."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.dataset import SnapshotError, SnapshotStore
from airflow_provider_boomi.warehouse import (
    VIEWS,
    DbApiTarget,
    DuckDBTarget,
    WarehouseTarget,
    create_views,
    load_snapshot,
    loaded_snapshots,
)
from tests.unit import test_warehouse_snapshots as fx

S1, S2, S3 = fx.SYNC_IDS
T1, T2, T3 = fx.TIMES


def rows(target: WarehouseTarget, sql: str) -> list[dict[str, Any]]:
    """Rows of a query as dicts (column names from a zero-row probe of the same query)."""
    with target.transaction() as session:
        result = session.fetchall(sql)
        names = session.columns(f"({sql}) q")
    return [dict(zip(names, row, strict=True)) for row in result]


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return fx.build_store(tmp_path / "store")


@pytest.fixture
def loaded(tmp_path: Path, store: SnapshotStore) -> DuckDBTarget:
    target = DuckDBTarget(tmp_path / "wh.duckdb", schema="boomi")
    for sync_id in fx.SYNC_IDS:
        load_snapshot(target, store, fx.ACCOUNT, sync_id)
    return target


def test_tables_get_types_mapped_from_the_arrow_schemas(loaded: DuckDBTarget) -> None:
    types = dict(
        loaded.query(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'boomi'"
        )
    )
    assert types["boomi_roles.privileges"] == "VARCHAR[]"
    assert types["boomi_roles.is_privileged"] == "BOOLEAN"
    assert types["boomi_users.global_role_count"] == "INTEGER"
    assert types["boomi_users.synced_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["boomi_snapshots.users_rows"] == "BIGINT"
    nullable = dict(
        loaded.query(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'boomi' AND table_name = 'boomi_roles'"
        )
    )
    assert nullable["role_id"] == "NO" and nullable["description"] == "YES"
    assert loaded.query("SELECT privileges FROM boomi.boomi_roles WHERE name = 'Administrator' LIMIT 1") == [
        (["API", "USER_MANAGEMENT"],)
    ]


def test_row_counts_match_the_snapshots(loaded: DuckDBTarget, store: SnapshotStore) -> None:
    for info in store.snapshots(fx.ACCOUNT):
        for table, count in info.row_counts.items():
            got = loaded.query(f"SELECT count(*) FROM boomi.boomi_{table} WHERE sync_id = ?", [info.sync_id])
            assert got == [(count,)], (table, info.sync_id)
    snapshots = loaded.query(
        "SELECT sync_id, synced_at, users_rows, user_role_grants_rows, grant_changes_rows "
        "FROM boomi.boomi_snapshots ORDER BY sync_id"
    )
    assert [(s, t, u, g, c) for s, t, u, g, c in snapshots] == [
        (S1, T1, 4, 4, 6),
        (S2, T2, 4, 4, 2),
        (S3, T3, 5, 4, 2),
    ]


def test_reloading_a_sync_id_replaces_it(loaded: DuckDBTarget, store: SnapshotStore) -> None:
    def counts() -> list[tuple[Any, ...]]:
        return loaded.query(
            "SELECT (SELECT count(*) FROM boomi.boomi_users), (SELECT count(*) FROM boomi.boomi_grants), "
            "(SELECT count(*) FROM boomi.boomi_grant_changes), (SELECT count(*) FROM boomi.boomi_snapshots)"
        )

    before = counts()
    first_loaded_at = loaded.query("SELECT loaded_at FROM boomi.boomi_snapshots WHERE sync_id = ?", [S2])
    result = load_snapshot(loaded, store, fx.ACCOUNT, S2)
    assert result.replaced is True
    assert dict(result.rows) == {
        "users": 4,
        "roles": 3,
        "account_groups": 1,
        "user_role_grants": 4,
        "group_role_grants": 2,
        "grant_changes": 2,
    }
    assert counts() == before == [(13, 18, 10, 3)]
    assert (
        loaded.query("SELECT loaded_at FROM boomi.boomi_snapshots WHERE sync_id = ?", [S2]) != first_loaded_at
    )
    assert loaded_snapshots(loaded, fx.ACCOUNT) == [(fx.ACCOUNT, s) for s in fx.SYNC_IDS]


def test_load_from_a_snapshot_directory_and_latest_by_default(tmp_path: Path, store: SnapshotStore) -> None:
    target = DuckDBTarget(tmp_path / "dir.duckdb")
    info = store.snapshots(fx.ACCOUNT)[0]
    assert load_snapshot(target, info.path).sync_id == S1
    assert load_snapshot(target, store, fx.ACCOUNT).sync_id == S3
    assert target.query("SELECT count(*) FROM boomi_snapshots") == [(2,)]
    with pytest.raises(ValueError, match="not a snapshot directory"):
        load_snapshot(target, tmp_path)
    with pytest.raises(SnapshotError, match="no complete snapshot"):
        load_snapshot(target, store, "other-account")


def test_a_failed_load_changes_nothing(loaded: DuckDBTarget, store: SnapshotStore, tmp_path: Path) -> None:
    before = loaded.query("SELECT count(*) FROM boomi.boomi_users")
    # A table of an incompatible shape makes the load fail after the deletes already ran.
    with loaded.transaction() as session:
        session.execute("ALTER TABLE boomi.boomi_roles ADD COLUMN extra VARCHAR")
    with pytest.raises(SnapshotError, match="Migrate the table"):
        load_snapshot(loaded, store, fx.ACCOUNT, S3)
    assert loaded.query("SELECT count(*) FROM boomi.boomi_users") == before


def test_current_access_is_the_latest_snapshot(loaded: DuckDBTarget) -> None:
    got = rows(loaded, "SELECT * FROM boomi.boomi_current_access ORDER BY grant_id")
    assert {r["sync_id"] for r in got} == {S3}
    assert len(got) == 6
    dave_group = next(r for r in got if r["grant_id"] == fx.group_grant_id("dave@x.com", fx.G1, fx.ADMIN))
    assert dave_group["grant_kind"] == "group_role"
    assert dave_group["account_group_name"] == "EU Accounts"
    assert dave_group["role_name"] == "Administrator"
    assert dave_group["is_privileged"] is True
    assert dave_group["email"] == "dave@x.com" and dave_group["first_name"] == "Dave"
    bob = next(r for r in got if r["user_id"] == "bob@x.com")
    assert bob["is_privileged"] is False and bob["account_group_id"] is None


def test_grant_history_has_one_row_per_interval(loaded: DuckDBTarget) -> None:
    history = rows(loaded, "SELECT * FROM boomi.boomi_grant_history ORDER BY grant_id, interval_no")
    by_grant: dict[str, list[dict[str, Any]]] = {}
    for row in history:
        by_grant.setdefault(row["grant_id"], []).append(row)

    bob = by_grant[fx.global_grant_id("bob@x.com", fx.DEV)]
    assert [(r["held_from_sync_id"], r["last_held_sync_id"], r["held_until_sync_id"]) for r in bob] == [
        (S1, S1, S2),
        (S3, S3, None),
    ]
    assert [(r["held_from"], r["held_until"], r["is_current"]) for r in bob] == [
        (T1, T2, False),
        (T3, None, True),
    ]
    assert {(r["first_seen_sync_id"], r["last_seen_sync_id"]) for r in bob} == {(S1, S3)}

    alice_dev = by_grant[fx.global_grant_id("alice@x.com", fx.DEV)]
    assert [(r["held_from"], r["last_held_at"], r["held_until"], r["snapshots_held"]) for r in alice_dev] == [
        (T1, T2, T3, 2)
    ]
    erin = by_grant[fx.global_grant_id("erin@x.com", fx.ADMIN)]
    assert [(r["held_from_sync_id"], r["held_until"], r["is_current"]) for r in erin] == [(S2, None, True)]
    carol = by_grant[fx.group_grant_id("carol@x.com", fx.G1, fx.DEV)]
    assert [(r["snapshots_held"], r["grant_kind"], r["account_group_id"]) for r in carol] == [
        (3, "group_role", fx.G1)
    ]
    assert len(history) == 8


def test_access_changes_between_consecutive_snapshots(loaded: DuckDBTarget) -> None:
    got = loaded.query(
        "SELECT sync_id, previous_sync_id, previous_synced_at, change_type, user_id, role_name, "
        "is_privileged FROM boomi.boomi_access_changes ORDER BY sync_id, change_type"
    )
    assert got == [
        (S2, S1, T1, "added", "erin@x.com", "Administrator", True),
        (S2, S1, T1, "removed", "bob@x.com", "Developer", False),
        (S3, S2, T2, "added", "bob@x.com", "Developer", False),
        (S3, S2, T2, "removed", "alice@x.com", "Developer", False),
    ]


def test_privileged_and_group_only_users(loaded: DuckDBTarget) -> None:
    privileged = loaded.query(
        "SELECT user_id, privileged_grant_count, global_privileged_grants, group_privileged_grants, "
        "privileged_roles FROM boomi.boomi_privileged_users ORDER BY user_id"
    )
    assert privileged == [
        ("alice@x.com", 1, 1, 0, "Administrator"),
        ("dave@x.com", 1, 0, 1, "EU Accounts: Administrator"),
        ("erin@x.com", 1, 1, 0, "Administrator"),
    ]
    group_only = loaded.query(
        "SELECT user_id, sync_id, group_grant_count, account_groups, group_roles "
        "FROM boomi.boomi_group_only_users"
    )
    assert group_only == [("carol@x.com", S3, 1, "EU Accounts", "EU Accounts: Developer")]


def test_partial_snapshot_without_grants_does_not_become_current(
    tmp_path: Path, loaded: DuckDBTarget, store: SnapshotStore
) -> None:
    from airflow_provider_boomi.dataset import SnapshotWriter

    writer = SnapshotWriter(
        store.path, fx.ACCOUNT, sync_id="20260108T020000Z-aaaaa4", synced_at=datetime.now().astimezone()
    )
    writer.write_table("roles", fx.ROLES)
    writer.commit(api_stats={}, warnings=[], account_groups_available=True, resources=["roles"])
    result = load_snapshot(loaded, store, fx.ACCOUNT, "20260108T020000Z-aaaaa4")
    assert dict(result.rows) == {"roles": 3}
    assert loaded.query(
        "SELECT users_rows, roles_rows FROM boomi.boomi_snapshots WHERE sync_id LIKE '%aaaaa4'"
    ) == [(None, 3)]
    assert loaded.query("SELECT DISTINCT sync_id FROM boomi.boomi_current_access") == [(S3,)]


def test_views_can_be_created_on_an_empty_warehouse(tmp_path: Path) -> None:
    target = DuckDBTarget(":memory:")
    assert create_views(target) == list(VIEWS)
    for view in VIEWS:
        assert target.query(f"SELECT count(*) FROM {view}") == [(0,)]


def test_dbapi_target_over_a_duckdb_connection(tmp_path: Path, store: SnapshotStore) -> None:
    import duckdb

    con = duckdb.connect(str(tmp_path / "dbapi.duckdb"))
    target = DbApiTarget(con)
    result = load_snapshot(target, store, fx.ACCOUNT, S3)
    assert result.rows["users"] == 5
    assert target.dialect == "duckdb"
    assert target.query("SELECT count(*) FROM boomi_current_access") == [(6,)]


def test_schema_names_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plain SQL identifier"):
        DuckDBTarget(tmp_path / "x.duckdb", schema="boomi; DROP TABLE x")


def test_view_counts_are_integers_in_pandas(tmp_path: Path) -> None:
    """DuckDB's SUM of integers is a HUGEINT, which pandas reads as a float; the views cast."""
    target = DuckDBTarget(tmp_path / "w.duckdb")
    load_snapshot(target, fx.build_store(tmp_path / "store"), fx.ACCOUNT)
    with target.connect() as con:
        frame = con.execute("SELECT * FROM boomi_privileged_users").df()
        history = con.execute("SELECT snapshots_held FROM boomi_grant_history").df()
    counts = ["privileged_grant_count", "global_privileged_grants", "group_privileged_grants"]
    assert len(frame) and all(str(frame[c].dtype) == "int64" for c in counts), frame.dtypes
    assert str(history["snapshots_held"].dtype) == "int64"
