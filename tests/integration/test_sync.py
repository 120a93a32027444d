"""The sync against the simulator over loopback HTTP: golden rows, diffs, failures, edge cases."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fsspec
import pytest

from airflow_provider_boomi.access.sync import SyncOptions, sync_account
from airflow_provider_boomi.client import BoomiPermissionError
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.dataset.schemas import CORE_TABLES, TABLES
from airflow_provider_boomi.testing.simulator import FaultRule
from tests.helpers import make_client

if TYPE_CHECKING:
    from airflow_provider_boomi.access.sync import SyncResult
    from airflow_provider_boomi.testing.simulator import BoomiSimulator

STANDARD_USER = "fcb6e2d0-0ca8-11e2-a477-1231381987a5"


def run_sync(sim: BoomiSimulator, out: Any, **options: Any) -> SyncResult:
    with make_client(sim) as client:
        return sync_account(client, out, options=SyncOptions(**options))


def read(out: Any, result: SyncResult, table: str) -> Any:
    store = SnapshotStore(out)
    return store.read_table(result.account_id, result.sync_id, table, as_="pandas")


def test_demo_snapshot_equals_simulator_state(sim: BoomiSimulator, tmp_path: Path) -> None:
    result = run_sync(sim, tmp_path)
    store = SnapshotStore(tmp_path)
    info = store.latest(sim.account_id)
    assert info is not None and info.sync_id == result.sync_id

    # A default sync writes the core tables and the diff; the governance tables are opt-in.
    for table in [*CORE_TABLES, "grant_changes"]:
        schema = TABLES[table]
        arrow = store.read_table(sim.account_id, result.sync_id, table, as_="arrow")
        assert arrow.schema.equals(schema, check_metadata=False), table
        assert set(arrow.column("account_id").to_pylist()) <= {sim.account_id}

    roles = read(tmp_path, result, "roles")
    sim_roles = {r["id"]: r for r in sim.state.roles()}
    assert set(roles.role_id) == set(sim_roles)
    for row in roles.itertuples():
        raw = sim_roles[row.role_id]
        assert row.name == raw["name"]
        assert sorted(row.privileges) == sorted(p["name"] for p in raw["Privileges"]["Privilege"])
        assert row.is_builtin == (raw["accountId"] == "1")
    admin = roles[roles.name == "Administrator"].iloc[0]
    assert admin.is_privileged and {"API", "ACCOUNT_ADMIN"} <= set(admin.effective_privileges)

    grants = read(tmp_path, result, "user_role_grants")
    expected = {(r["id"], r["userId"], r["roleId"]) for r in sim.state.user_roles()}
    assert set(zip(grants.boomi_id, grants.user_id, grants.role_id, strict=True)) == expected
    assert len(grants) == len(expected)
    assert all(g.startswith("role:") and ":assigned:user:" in g for g in grants.grant_id)

    group_grants = read(tmp_path, result, "group_role_grants")
    expected_group = {
        (r["id"], r["userId"], r["accountGroupId"], r["roleId"]) for r in sim.state.group_roles()
    }
    actual_group = set(
        zip(
            group_grants.boomi_id,
            group_grants.user_id,
            group_grants.account_group_id,
            group_grants.role_id,
            strict=True,
        )
    )
    assert actual_group == expected_group and len(group_grants) == len(expected_group)

    groups = read(tmp_path, result, "account_groups")
    assert set(zip(groups.account_group_id, groups.name, strict=True)) == {
        (g["id"], g["name"]) for g in sim.state.account_groups()
    }

    users = read(tmp_path, result, "users")
    sim_user_ids = {r["userId"] for r in sim.state.user_roles()} | {
        r["userId"] for r in sim.state.group_roles()
    }
    assert set(users.user_id) == sim_user_ids
    global_counts = Counter(r["userId"] for r in sim.state.user_roles())
    for row in users.itertuples():
        assert row.global_role_count == global_counts.get(row.user_id, 0)
        assert row.is_account_member == (row.user_id in global_counts)
        assert row.email == row.user_id.lower()

    changes = read(tmp_path, result, "grant_changes")
    assert set(changes.change_type) == {"added"}
    assert len(changes) == len(grants) + len(group_grants)

    manifest = json.loads(Path(result.manifest_path).read_text())
    assert manifest["status"] == "complete"
    assert manifest["account_groups_available"] is True
    assert manifest["api_stats"]["calls"] >= 4
    assert store.verify(sim.account_id, result.sync_id) == []


def test_second_sync_shows_exactly_the_two_changes(sim: BoomiSimulator, tmp_path: Path) -> None:
    first = run_sync(sim, tmp_path)
    counts = Counter(r["userId"] for r in sim.state.user_roles())
    revoked = next(r for r in sim.state.user_roles() if counts[r["userId"]] >= 2)
    sim.state.revoke_role(revoked["userId"], revoked["roleId"])
    group = sim.state.account_groups()[0]
    held = {(r["userId"], r["roleId"]) for r in sim.state.group_roles() if r["accountGroupId"] == group["id"]}
    user = next(
        u["userId"]
        for u in sim.state.users()
        if u["hasLoggedIn"] and u["inAccount"] and (u["userId"], STANDARD_USER) not in held
    )
    sim.state.add_group_role(group["id"], user, STANDARD_USER)

    second = run_sync(sim, tmp_path)
    changes = read(tmp_path, second, "grant_changes")
    assert len(changes) == 2
    by_type = {row.change_type: row for row in changes.itertuples()}
    removed, added = by_type["removed"], by_type["added"]
    assert (removed.grant_kind, removed.user_id, removed.role_id) == (
        "global_role",
        revoked["userId"],
        revoked["roleId"],
    )
    assert (added.grant_kind, added.user_id, added.role_id, added.account_group_id) == (
        "group_role",
        user,
        STANDARD_USER,
        group["id"],
    )
    assert set(changes.previous_sync_id) == {first.sync_id}


def test_failed_sync_leaves_no_snapshot(
    make_simulator: Callable[..., BoomiSimulator], tmp_path: Path
) -> None:
    fault = FaultRule(kind="500", object_type="AccountGroupUserRole", after=2, count=None)
    sim = make_simulator(faults=[fault])
    with make_client(sim, max_retries=2, max_retry_time=5.0) as client, pytest.raises(Exception) as err:
        sync_account(client, tmp_path)
    assert "500" in str(err.value) or "server" in str(err.value).lower()
    assert SnapshotStore(tmp_path).snapshots(sim.account_id) == []
    assert not list(tmp_path.rglob("manifest.json"))
    assert not list(tmp_path.rglob("*.parquet"))


def test_edge_cases_of_the_profile(sim: BoomiSimulator, tmp_path: Path) -> None:
    result = run_sync(sim, tmp_path)
    users = read(tmp_path, result, "users")
    assert any(any(ord(ch) > 127 for ch in f"{u.first_name}{u.last_name}") for u in users.itertuples())
    mixed = [u for u in users.itertuples() if u.user_id != u.user_id.lower()]
    assert mixed and all(u.email == u.user_id.lower() for u in mixed)
    assert any("+" in u for u in users.user_id)
    assert (~users.is_account_member).any(), "a user seen only in group rows is kept and flagged"

    roles = read(tmp_path, result, "roles")
    non_canonical = roles[~roles.is_assignable]
    assert len(non_canonical) >= 1
    assert all(len(r.split("-")[-1]) != 12 or len(r.split("-")) != 5 for r in non_canonical.role_id)

    group_grants = read(tmp_path, result, "group_role_grants")
    sizes = set(group_grants.groupby("account_group_id").size())
    assert {100, 101} <= sizes


@pytest.mark.parametrize("groups_mode", ["empty", "forbidden"])
def test_non_primary_account_gives_empty_group_tables(
    groups_mode: str, make_simulator: Callable[..., BoomiSimulator], tmp_path: Path
) -> None:
    result = run_sync(make_simulator("non_primary", groups_mode=groups_mode), tmp_path)
    assert result.row_counts["account_groups"] == 0
    assert result.row_counts["group_role_grants"] == 0
    assert result.row_counts["user_role_grants"] > 0
    manifest = json.loads(Path(result.manifest_path).read_text())
    assert manifest["account_groups_available"] is False
    if groups_mode == "forbidden":
        assert any("403" in w for w in manifest["warnings"])


def test_forbidden_account_groups_can_fail_the_sync(
    make_simulator: Callable[..., BoomiSimulator], tmp_path: Path
) -> None:
    sim = make_simulator("non_primary", groups_mode="forbidden")
    with pytest.raises(BoomiPermissionError, match="403"):
        run_sync(sim, tmp_path, account_groups_unavailable="fail")
    assert not list(tmp_path.rglob("manifest.json"))


def test_resources_subset(sim: BoomiSimulator, tmp_path: Path) -> None:
    result = run_sync(sim, tmp_path, resources=("roles",))
    assert set(result.row_counts) == {"roles"}
    calls = {r.object_type for r in sim.requests}
    assert calls == {"Role"}
    result = run_sync(sim, tmp_path, resources=("group_role_grants",))
    assert set(result.row_counts) == {"group_role_grants"}


def test_split_by_role_reads_the_same_rows(sim: BoomiSimulator, tmp_path: Path) -> None:
    single = run_sync(sim, tmp_path / "single")
    split = run_sync(sim, tmp_path / "split", split_user_roles="by_role")
    a = read(tmp_path / "single", single, "user_role_grants")
    b = read(tmp_path / "split", split, "user_role_grants")
    assert sorted(a.grant_id) == sorted(b.grant_id)


def test_memory_filesystem_destination(sim: BoomiSimulator) -> None:
    out = "memory://boomi-sync-test"
    result = run_sync(sim, out)
    fs = fsspec.filesystem("memory")
    assert fs.exists(f"{result.snapshot_path}/manifest.json")
    store = SnapshotStore(out)
    assert [s.sync_id for s in store.snapshots(sim.account_id)] == [result.sync_id]
    assert (
        len(store.read_table(sim.account_id, result.sync_id, "users", as_="arrow"))
        == result.row_counts["users"]
    )
    fs.rm("/boomi-sync-test", recursive=True)


def test_object_storage_path_destination(sim: BoomiSimulator, tmp_path: Path) -> None:
    from airflow.sdk import ObjectStoragePath

    out = ObjectStoragePath(f"file://{tmp_path}/snapshots")
    result = run_sync(sim, out)
    store = SnapshotStore(out)
    assert [s.sync_id for s in store.snapshots(sim.account_id)] == [result.sync_id]
    assert store.verify(sim.account_id, result.sync_id) == []
    assert (tmp_path / "snapshots" / f"account_id={sim.account_id}").is_dir()
