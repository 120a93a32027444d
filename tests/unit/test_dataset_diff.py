"""grant_changes: computed at commit and between any two snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_boomi.dataset import (
    TABLES,
    SnapshotStore,
    SnapshotWriter,
    TableNotInSnapshotError,
    diff_snapshots,
    grant_changes,
    grant_id,
    group_entitlement_id,
    role_entitlement_id,
)

ACCOUNT = "acme-Q7R2ZK"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def user_grant(user: str, role: str) -> dict[str, Any]:
    return {
        "grant_id": grant_id(role_entitlement_id(role), user),
        "boomi_id": f"aur-{user}-{role}",
        "user_id": user,
        "role_id": role,
        "role_name": role.upper(),
    }


def group_grant(user: str, group: str, role: str) -> dict[str, Any]:
    return {
        "grant_id": grant_id(group_entitlement_id(group, role), user),
        "boomi_id": f"agur-{user}-{group}-{role}",
        "user_id": user,
        "account_group_id": group,
        "account_group_name": group.upper(),
        "role_id": role,
        "role_name": role.upper(),
    }


BASE_USER = [user_grant("a@x", "admin"), user_grant("a@x", "std"), user_grant("b@x", "std")]
BASE_GROUP = [group_grant("a@x", "emea", "std")]


def snapshot(
    root: Path,
    n: int,
    user_rows: list[dict[str, Any]] | None,
    group_rows: list[dict[str, Any]] | None,
    *,
    extra_tables: bool = False,
) -> tuple[str, Any]:
    """Commit a snapshot n hours after T0 with the given grant tables (None = not included)."""
    resources = []
    with SnapshotWriter(root, ACCOUNT, synced_at=T0 + timedelta(hours=n)) as writer:
        if user_rows is not None:
            writer.write_table("user_role_grants", user_rows)
            resources.append("user_role_grants")
        if group_rows is not None:
            writer.write_table("group_role_grants", group_rows)
            resources.append("group_role_grants")
        if extra_tables or not resources:
            writer.write_table("account_groups", [])
            resources.append("account_groups")
        manifest = writer.commit(
            api_stats={}, warnings=[], account_groups_available=True, resources=resources
        )
    return writer.sync_id, manifest


def changes(root: Path, sync_id: str) -> list[tuple[str, str, str, str, str | None, str | None]]:
    table = SnapshotStore(root).read_table(ACCOUNT, sync_id, "grant_changes")
    return [
        (
            r["change_type"],
            r["grant_kind"],
            r["user_id"],
            r["role_id"],
            r["account_group_id"],
            r["previous_sync_id"],
        )
        for r in table.to_pylist()
    ]


def test_first_snapshot_is_all_added(tmp_path: Path) -> None:
    sync_id, manifest = snapshot(tmp_path, 0, BASE_USER, BASE_GROUP)
    assert manifest.previous_sync_id is None
    assert sorted(changes(tmp_path, sync_id)) == sorted(
        [
            ("added", "global_role", "a@x", "admin", None, None),
            ("added", "global_role", "a@x", "std", None, None),
            ("added", "global_role", "b@x", "std", None, None),
            ("added", "group_role", "a@x", "std", "emea", None),
        ]
    )
    table = SnapshotStore(tmp_path).read_table(ACCOUNT, sync_id, "grant_changes")
    assert table.schema.equals(TABLES["grant_changes"], check_metadata=True)
    assert set(table.column("sync_id").to_pylist()) == {sync_id}


def test_revoked_global_and_added_group_grant_give_exactly_two_rows(tmp_path: Path) -> None:
    first, _ = snapshot(tmp_path, 0, BASE_USER, BASE_GROUP)
    second_user = [g for g in BASE_USER if g["grant_id"] != user_grant("a@x", "admin")["grant_id"]]
    second_group = [*BASE_GROUP, group_grant("b@x", "emea", "std")]
    # Names and Boomi ids changing is not an access change.
    second_user[0] = {**second_user[0], "role_name": "Renamed", "boomi_id": "new-opaque-id"}
    second, manifest = snapshot(tmp_path, 1, second_user, second_group)
    assert manifest.previous_sync_id == first
    assert SnapshotStore(tmp_path).manifest(ACCOUNT, second)["previous_sync_id"] == first
    rows = SnapshotStore(tmp_path).read_table(ACCOUNT, second, "grant_changes").to_pylist()
    assert [(r["change_type"], r["grant_kind"], r["grant_id"], r["previous_sync_id"]) for r in rows] == [
        ("added", "group_role", "account_group:emea:std:user:b@x", first),
        ("removed", "global_role", "role:admin:assigned:user:a@x", first),
    ]
    assert rows[0]["account_group_id"] == "emea"
    assert rows[1]["account_group_id"] is None
    assert rows[1]["user_id"] == "a@x" and rows[1]["role_id"] == "admin"


def test_no_change_gives_empty_table(tmp_path: Path) -> None:
    snapshot(tmp_path, 0, BASE_USER, BASE_GROUP)
    second, manifest = snapshot(tmp_path, 1, BASE_USER, BASE_GROUP)
    assert manifest.row_counts["grant_changes"] == 0
    assert changes(tmp_path, second) == []


def test_diff_base_skips_snapshots_without_grants(tmp_path: Path) -> None:
    first, _ = snapshot(tmp_path, 0, BASE_USER, BASE_GROUP)
    snapshot(tmp_path, 1, None, None)  # roles-only style partial sync
    partial, manifest = snapshot(tmp_path, 2, BASE_USER[:1], None)  # one grant table only
    assert "grant_changes" not in manifest.tables
    assert manifest.previous_sync_id is None
    third, manifest = snapshot(tmp_path, 3, BASE_USER[:2], BASE_GROUP)
    assert manifest.previous_sync_id == first
    assert changes(tmp_path, third) == [("removed", "global_role", "b@x", "std", None, first)]
    with pytest.raises(TableNotInSnapshotError, match="group_role_grants"):
        diff_snapshots(SnapshotStore(tmp_path), ACCOUNT, first, partial)


def test_diff_snapshots_between_arbitrary_snapshots(tmp_path: Path) -> None:
    s1, _ = snapshot(tmp_path, 0, BASE_USER, BASE_GROUP)
    s2, _ = snapshot(tmp_path, 1, [*BASE_USER, user_grant("c@x", "std")], BASE_GROUP)
    s3, _ = snapshot(tmp_path, 2, [*BASE_USER[1:], user_grant("c@x", "std")], [])
    store = SnapshotStore(tmp_path)

    def summary(table: pa.Table) -> list[tuple[str, str, str]]:
        return [(r["change_type"], r["grant_kind"], r["grant_id"]) for r in table.to_pylist()]

    forward = diff_snapshots(store, ACCOUNT, s1, s3)
    assert forward.schema.equals(TABLES["grant_changes"], check_metadata=True)
    assert summary(forward) == [
        ("added", "global_role", "role:std:assigned:user:c@x"),
        ("removed", "global_role", "role:admin:assigned:user:a@x"),
        ("removed", "group_role", "account_group:emea:std:user:a@x"),
    ]
    assert set(forward.column("previous_sync_id").to_pylist()) == {s1}
    assert set(forward.column("sync_id").to_pylist()) == {s3}
    assert set(forward.column("synced_at").to_pylist()) == {T0 + timedelta(hours=2)}
    backward = diff_snapshots(store, ACCOUNT, s3, s1)
    assert summary(backward) == [
        ("added", "global_role", "role:admin:assigned:user:a@x"),
        ("added", "group_role", "account_group:emea:std:user:a@x"),
        ("removed", "global_role", "role:std:assigned:user:c@x"),
    ]
    # The diff stored at commit equals diff_snapshots against the same base.
    assert diff_snapshots(store, ACCOUNT, s2, s3).equals(store.read_table(ACCOUNT, s3, "grant_changes"))
    assert diff_snapshots(store, ACCOUNT, s2, s2).num_rows == 0


def test_grant_changes_function_directly() -> None:
    cur_user = pa.Table.from_pylist(BASE_USER)
    cur_group = pa.Table.from_pylist(BASE_GROUP)
    empty_group = TABLES["group_role_grants"].empty_table()
    result = grant_changes(
        pa.Table.from_pylist(BASE_USER[:1]),
        empty_group,
        cur_user,
        cur_group,
        "prev-1",
        account_id=ACCOUNT,
        sync_id="cur-1",
        synced_at=T0,
    )
    assert result.schema.equals(TABLES["grant_changes"], check_metadata=True)
    assert result.column("change_type").to_pylist() == ["added"] * 3
    assert result.column("grant_kind").to_pylist() == ["global_role", "global_role", "group_role"]
    with pytest.raises(ValueError, match="both previous grant tables or neither"):
        grant_changes(
            None, empty_group, cur_user, cur_group, None, account_id=ACCOUNT, sync_id="x", synced_at=T0
        )
    with pytest.raises(ValueError, match="lacks column"):
        grant_changes(
            None,
            None,
            cur_user.drop_columns(["role_id"]),
            cur_group,
            None,
            account_id=ACCOUNT,
            sync_id="x",
            synced_at=T0,
        )


def test_diff_scales_without_python_loops_over_rows() -> None:
    n = 65_000
    users = [f"u{i}@x" for i in range(n)]
    prev = pa.table(
        {"grant_id": [f"role:r:assigned:user:{u}" for u in users], "user_id": users, "role_id": ["r"] * n}
    )
    cur = prev.slice(1)  # one removed
    group = pa.table(
        {"grant_id": [], "user_id": [], "role_id": [], "account_group_id": []},
        schema=pa.schema([(c, pa.string()) for c in ("grant_id", "user_id", "role_id", "account_group_id")]),
    )
    result = grant_changes(prev, group, cur, group, "p", account_id=ACCOUNT, sync_id="c", synced_at=T0)
    assert result.num_rows == 1
    assert result.column("user_id").to_pylist() == ["u0@x"]


def test_a_removed_grant_is_described_from_its_id_and_must_be_of_its_tables_kind() -> None:
    group_grant = "account_group:g1:r1:user:dana@x"
    ids = pa.schema([("grant_id", pa.string())])

    def removed(prev_user: list[str], prev_group: list[str]) -> pa.Table:
        return grant_changes(
            pa.table({"grant_id": prev_user}, schema=ids),
            pa.table({"grant_id": prev_group}, schema=ids),
            TABLES["user_role_grants"].empty_table(),
            TABLES["group_role_grants"].empty_table(),
            "p",
            account_id=ACCOUNT,
            sync_id="c",
            synced_at=T0,
        )

    described = removed([], [group_grant]).select(
        ["change_type", "grant_kind", "user_id", "role_id", "account_group_id"]
    )
    assert described.to_pylist() == [
        {
            "change_type": "removed",
            "grant_kind": "group_role",
            "user_id": "dana@x",
            "role_id": "r1",
            "account_group_id": "g1",
        }
    ]
    with pytest.raises(ValueError, match="is a group_role grant in the global_role table"):
        removed([group_grant], [])
