"""Old data stays readable: a snapshot written at schema version 2 (``tests/data/snapshot_schema_v2``,
written by the writer of that version and never regenerated) reads, verifies, loads into a
warehouse, feeds the findings and is diffed against by a new sync, with the current code.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.access.sync import ALL_RESOURCES, SyncOptions, sync_account
from airflow_provider_boomi.dataset import CORE_TABLES, SCHEMA_VERSION, SnapshotStore, diff_snapshots
from airflow_provider_boomi.findings import SnapshotTables, compute_findings, load_people
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from airflow_provider_boomi.warehouse import DuckDBTarget, load_snapshot
from airflow_provider_boomi.warehouse.tables import SNAPSHOTS_TABLE, snapshots_columns
from tests.helpers import make_client

STORED = Path(__file__).resolve().parent.parent / "data" / "snapshot_schema_v2"
ACCOUNT = "acme-V2SNAP"
SYNC_ID = "20250101T000000000000Z-0123456789ab"


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    """A copy of the stored snapshot (the tests write beside it; the original stays as written)."""
    root = tmp_path / "store"
    shutil.copytree(STORED, root)
    return SnapshotStore(root)


def test_the_stored_snapshot_is_of_the_old_version() -> None:
    assert SCHEMA_VERSION == 3
    manifest = SnapshotStore(STORED).load_manifest(ACCOUNT, SYNC_ID)
    assert manifest.schema_version == 2
    assert set(manifest.resources) == set(CORE_TABLES)
    total = sum(f.stat().st_size for f in STORED.rglob("*") if f.is_file())
    assert total < 200_000


def test_it_reads_and_verifies(store: SnapshotStore) -> None:
    assert [i.sync_id for i in store.snapshots(ACCOUNT)] == [SYNC_ID]
    assert store.verify(ACCOUNT, SYNC_ID) == []
    users = store.read_table(ACCOUNT, SYNC_ID, "users")
    assert users.num_rows == 115
    assert users.schema.names == [
        "account_id",
        "sync_id",
        "synced_at",
        "user_id",
        "email",
        "first_name",
        "last_name",
        "global_role_count",
        "group_role_count",
        "is_privileged",
        "is_account_member",
    ]


def test_it_loads_into_duckdb_including_a_warehouse_of_the_old_version(
    store: SnapshotStore, tmp_path: Path
) -> None:
    target = DuckDBTarget(tmp_path / "warehouse.duckdb")
    # A warehouse created before version 3: boomi_snapshots without the new tables' row counts.
    old_columns = [c for c in snapshots_columns("duckdb") if not c[0].startswith(_new_tables())]
    with target.transaction() as session:
        body = ", ".join(
            f"{name} {type_}{'' if nullable else ' NOT NULL'}" for name, type_, nullable in old_columns
        )
        session.execute(f"CREATE TABLE {SNAPSHOTS_TABLE} ({body}, PRIMARY KEY (account_id, sync_id))")
    result = load_snapshot(target, store, ACCOUNT, SYNC_ID)
    assert result.rows["user_role_grants"] == 151
    assert "user_federation" not in result.rows
    ((version, federation_rows, grant_rows),) = target.query(
        f"SELECT schema_version, user_federation_rows, user_role_grants_rows FROM {SNAPSHOTS_TABLE}"
    )
    assert (version, federation_rows, grant_rows) == (2, None, 151)
    assert target.query("SELECT COUNT(*) FROM boomi_user_federation") == [(0,)]
    assert target.query("SELECT COUNT(*) FROM boomi_current_access")[0][0] == 151 + 222


def _new_tables() -> tuple[str, ...]:
    """The tables schema version 2 did not have: every governance table (one list, in dataset)."""
    from airflow_provider_boomi.dataset.schemas import GOVERNANCE_TABLES

    return tuple(f"{table}_rows" for table in GOVERNANCE_TABLES)


def test_a_new_sync_diffs_against_it_and_findings_read_it(store: SnapshotStore, tmp_path: Path) -> None:
    with BoomiSimulator("demo", seed=0, account_id=ACCOUNT, rate_limit=None) as sim:
        sim.state.revoke_role(
            next(u["userId"] for u in sim.state.users() if u["userId"].startswith("only.standard")),
            "fcb6e2d0-0ca8-11e2-a477-1231381987a5",
        )
        with make_client(sim) as client:
            result = sync_account(client, store.path, options=SyncOptions(resources=ALL_RESOURCES))
    manifest = store.load_manifest(ACCOUNT, result.sync_id)
    assert manifest.schema_version == 3 and manifest.previous_sync_id == SYNC_ID
    changes = store.read_table(ACCOUNT, result.sync_id, "grant_changes").to_pylist()
    assert [(c["change_type"], c["user_id"].split("@")[0]) for c in changes] == [("removed", "only.standard")]
    again = diff_snapshots(store, ACCOUNT, SYNC_ID, result.sync_id)
    assert again.num_rows == 1

    people = tmp_path / "people.csv"
    emails = store.read_table(ACCOUNT, SYNC_ID, "users").column("user_id").to_pylist()
    people.write_text("email,status\n" + "".join(f"{e},active\n" for e in emails), encoding="utf-8")
    old = SnapshotTables.read(store, ACCOUNT, SYNC_ID)
    assert old.logins is None and old.federation is None and old.sso_enabled is None
    findings = compute_findings(old, load_people(people), as_of=old.synced_at).findings.to_pylist()
    unknown: dict[str, Any] = {f["user_id"]: f for f in findings if f["kind"] == "dormant_unknown"}
    assert unknown and "taken without the audit_log resource" in next(iter(unknown.values()))["detail"]
    assert not [f for f in findings if f["kind"] in ("dormant", "no_sso")]
