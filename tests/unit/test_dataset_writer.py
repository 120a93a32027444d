"""SnapshotWriter and SnapshotStore: real Parquet files on local disk and memory://."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_boomi.dataset import (
    GOVERNANCE_TABLES,
    ROW_GROUP_ROWS,
    TABLES,
    SchemaMismatchError,
    SnapshotNotFoundError,
    SnapshotStateError,
    SnapshotStore,
    SnapshotWriter,
    TableNotInSnapshotError,
    grant_id,
    group_entitlement_id,
    role_entitlement_id,
)

ACCOUNT = "acme-Q7R2ZK"
SYNCED_AT = datetime(2026, 11, 27, 16, 35, 12, 123456, tzinfo=UTC)
ADMIN = "11111111-1111-1111-1111-111111111111"
STD = "22222222-2222-2222-2222-222222222222"
GROUP = "33333333-3333-3333-3333-333333333333"
ALL_RESOURCES = ["users", "roles", "account_groups", "user_role_grants", "group_role_grants"]
WRITTEN = [*ALL_RESOURCES, "grant_changes"]  # what write_full writes: no governance table


def rows() -> dict[str, list[dict[str, Any]]]:
    """A tiny but complete account."""
    return {
        "users": [
            {
                "user_id": "Dana.Lee@acme.example",
                "email": "dana.lee@acme.example",
                "first_name": "Dana",
                "last_name": None,
                "global_role_count": 2,
                "group_role_count": 1,
                "is_privileged": True,
                "is_account_member": True,
            },
            {
                "user_id": "ext@partner.example",
                "email": "ext@partner.example",
                "global_role_count": 0,
                "group_role_count": 1,
                "is_privileged": False,
                "is_account_member": False,
            },
        ],
        "roles": [
            {
                "role_id": ADMIN,
                "name": "Administrator",
                "description": None,
                "parent_role_id": STD,
                "owner_account_id": "1",
                "is_builtin": True,
                "privileges": ["ACCOUNT_ADMIN"],
                "effective_privileges": ["ACCOUNT_ADMIN", "BUILD"],
                "is_privileged": True,
                "is_assignable": True,
            },
            {
                "role_id": STD,
                "name": "Standard User",
                "is_builtin": True,
                "privileges": ["BUILD"],
                "effective_privileges": ["BUILD"],
                "is_privileged": False,
                "is_assignable": True,
            },
        ],
        "account_groups": [
            {
                "account_group_id": GROUP,
                "name": "EMEA",
                "default_group": False,
                "auto_subscribe_alert_level": "error",
            }
        ],
        "user_role_grants": [
            {
                "grant_id": grant_id(role_entitlement_id(rid), "Dana.Lee@acme.example"),
                "boomi_id": f"b-{rid[:4]}",
                "user_id": "Dana.Lee@acme.example",
                "role_id": rid,
                "role_name": name,
            }
            for rid, name in ((ADMIN, "Administrator"), (STD, "Standard User"))
        ],
        "group_role_grants": [
            {
                "grant_id": grant_id(group_entitlement_id(GROUP, STD), user),
                "boomi_id": f"g-{user}",
                "user_id": user,
                "account_group_id": GROUP,
                "account_group_name": "EMEA",
                "role_id": STD,
                "role_name": "Standard User",
            }
            for user in ("Dana.Lee@acme.example", "ext@partner.example")
        ],
    }


def commit_args(resources: list[str] | None = None) -> dict[str, Any]:
    return {
        "api_stats": {"calls": 7, "retries": 1, "http_503": 0, "seconds_waited": 0.25},
        "warnings": ["grant x names unknown role y"],
        "account_groups_available": True,
        "resources": ALL_RESOURCES if resources is None else resources,
    }


@pytest.fixture(params=["local", "memory"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "local":
        yield str(tmp_path / "store")
    else:
        url = f"memory://dataset-tests-{uuid.uuid4().hex}"
        yield url
        fs, path = fsspec.core.url_to_fs(url)
        if fs.exists(path):
            fs.rm(path, recursive=True)


def write_full(root: str, sync_id: str | None = None) -> SnapshotWriter:
    with SnapshotWriter(root, ACCOUNT, sync_id, SYNCED_AT) as writer:
        for name, table_rows in rows().items():
            writer.write_table(name, table_rows)
        writer.commit(**commit_args())
    return writer


def listing(root: str, writer: SnapshotWriter) -> list[str]:
    fs, path = fsspec.core.url_to_fs(writer.path)
    return sorted(p.rsplit("/", 1)[-1] for p in fs.find(path)) if fs.exists(path) else []


def test_round_trip_exact_types_and_values(root: str) -> None:
    writer = write_full(root)
    store = SnapshotStore(root)
    for name in WRITTEN:
        table = store.read_table(ACCOUNT, writer.sync_id, name)
        assert table.schema.equals(TABLES[name], check_metadata=True), name
        assert set(table.column("account_id").to_pylist()) <= {ACCOUNT}
        assert set(table.column("sync_id").to_pylist()) <= {writer.sync_id}
        assert set(table.column("synced_at").to_pylist()) <= {SYNCED_AT}
    users = store.read_table(ACCOUNT, writer.sync_id, "users").to_pylist()
    assert users[0]["user_id"] == "Dana.Lee@acme.example"
    assert users[0]["last_name"] is None
    assert users[1]["first_name"] is None  # omitted key -> typed null
    roles = store.read_table(ACCOUNT, writer.sync_id, "roles")
    assert roles.column("effective_privileges").to_pylist()[0] == ["ACCOUNT_ADMIN", "BUILD"]
    df = store.read_table(ACCOUNT, writer.sync_id, "users", as_="pandas")
    assert list(df.columns) == TABLES["users"].names
    assert str(df["synced_at"].dtype) == "datetime64[us, UTC]"
    assert df["global_role_count"].dtype == "int32"
    assert listing(root, writer) == sorted([*(f"{n}.parquet" for n in WRITTEN), "manifest.json"])


def test_manifest_contents(root: str) -> None:
    writer = write_full(root)
    store = SnapshotStore(root)
    manifest = store.manifest(ACCOUNT, writer.sync_id)
    assert manifest["schema_version"] == 3
    assert manifest["status"] == "complete"
    assert manifest["account_id"] == ACCOUNT
    assert manifest["sync_id"] == writer.sync_id
    assert manifest["synced_at"] == "2026-11-27T16:35:12.123456Z"
    for key in ("started_at", "finished_at"):
        assert datetime.fromisoformat(manifest[key]).tzinfo is not None
    assert manifest["resources"] == ALL_RESOURCES
    assert manifest["tables_not_included"] == [t for t in TABLES if t not in WRITTEN]
    assert manifest["previous_sync_id"] is None
    assert manifest["account_groups_available"] is True
    assert manifest["api_stats"]["calls"] == 7
    assert manifest["warnings"] == ["grant x names unknown role y"]
    assert manifest["producer"]["package"] == "airflow-provider-boomi"
    assert {n: t["rows"] for n, t in manifest["tables"].items()} == {
        "users": 2,
        "roles": 2,
        "account_groups": 1,
        "user_role_grants": 2,
        "group_role_grants": 2,
        "grant_changes": 4,
    }
    for entry in manifest["tables"].values():
        assert len(entry["sha256"]) == 64 and entry["bytes"] > 0
    info = store.latest(ACCOUNT)
    assert info is not None
    assert info.sync_id == writer.sync_id
    assert info.path == writer.path
    assert info.manifest_path == writer.manifest_path
    assert info.synced_at == SYNCED_AT
    assert dict(info.row_counts)["users"] == 2


def test_manifest_is_written_last(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    original = SnapshotWriter._write_manifest

    def spy(self: SnapshotWriter, manifest: Any) -> None:
        seen.append(listing(root, self))
        original(self, manifest)

    monkeypatch.setattr(SnapshotWriter, "_write_manifest", spy)
    write_full(root)
    assert seen == [sorted(f"{n}.parquet" for n in WRITTEN)]


def test_local_manifest_leaves_no_temp_file(tmp_path: Path) -> None:
    writer = write_full(str(tmp_path))
    assert not [p for p in Path(writer.path).iterdir() if p.name.startswith(".")]


def test_verify_confirms_sha256_and_detects_tampering(root: str) -> None:
    writer = write_full(root)
    store = SnapshotStore(root)
    assert store.verify(ACCOUNT, writer.sync_id) == []
    fs, path = fsspec.core.url_to_fs(writer.path)
    data = fs.cat_file(f"{path}/roles.parquet")
    fs.pipe_file(f"{path}/roles.parquet", data + b"\0")
    fs.rm_file(f"{path}/users.parquet")
    problems = store.verify(ACCOUNT, writer.sync_id)
    assert any(p.startswith("roles: sha256") for p in problems)
    assert any(p.startswith("roles: size") for p in problems)
    assert "users: file users.parquet is missing" in problems


def test_exception_in_with_block_leaves_nothing(root: str) -> None:
    with pytest.raises(RuntimeError, match="boom"), SnapshotWriter(root, ACCOUNT) as writer:
        writer.write_table("roles", rows()["roles"])
        with writer.open_table("users") as users:
            users.write_batch(rows()["users"])
            raise RuntimeError("boom")
    assert listing(root, writer) == []
    store = SnapshotStore(root)
    assert store.snapshots(ACCOUNT) == []
    assert store.accounts() == []
    with pytest.raises(SnapshotNotFoundError):
        store.read_table(ACCOUNT, writer.sync_id, "roles")


def test_explicit_abort_and_leaving_without_commit(root: str) -> None:
    writer = SnapshotWriter(root, ACCOUNT)
    writer.write_table("roles", rows()["roles"])
    writer.abort()
    writer.abort()  # idempotent
    assert listing(root, writer) == []
    with pytest.raises(SnapshotStateError):
        writer.write_table("users", rows()["users"])
    with SnapshotWriter(root, ACCOUNT) as second:
        second.write_table("roles", rows()["roles"])
    assert listing(root, second) == []
    assert SnapshotStore(root).latest(ACCOUNT) is None


def test_failed_commit_aborts(root: str) -> None:
    writer = SnapshotWriter(root, ACCOUNT)
    writer.write_table("roles", rows()["roles"])
    with pytest.raises(SnapshotStateError, match=r"resources lists \['users'\]"):
        writer.commit(**commit_args(["roles", "users"]))
    assert listing(root, writer) == []
    writer2 = SnapshotWriter(root, ACCOUNT)
    writer2.write_table("roles", rows()["roles"])
    writer2.write_table("users", rows()["users"])
    with pytest.raises(SnapshotStateError, match="not listed in resources"):
        writer2.commit(**commit_args(["roles"]))
    writer3 = SnapshotWriter(root, ACCOUNT)
    writer3.write_table("roles", rows()["roles"])
    with pytest.raises(TypeError, match="api_stats must be JSON"):
        writer3.commit(**{**commit_args(["roles"]), "api_stats": {"t": object()}})
    assert SnapshotStore(root).snapshots(ACCOUNT) == []


def test_crashed_and_bogus_snapshots_are_invisible(root: str) -> None:
    good = write_full(root)
    crashed = SnapshotWriter(root, ACCOUNT)
    crashed.write_table("roles", rows()["roles"])  # never committed nor aborted: a killed worker
    fs, base = fsspec.core.url_to_fs(root)
    for folder in ("bad-json", "running-1"):
        fs.makedirs(f"{base}/account_id={ACCOUNT}/sync_id={folder}", exist_ok=True)
    fs.pipe_file(f"{base}/account_id={ACCOUNT}/sync_id=bad-json/manifest.json", b"{not json")
    running = json.loads(fs.cat_file(f"{base}/account_id={ACCOUNT}/sync_id={good.sync_id}/manifest.json"))
    running.update(status="running", sync_id="running-1")
    fs.pipe_file(f"{base}/account_id={ACCOUNT}/sync_id=running-1/manifest.json", json.dumps(running).encode())
    store = SnapshotStore(root)
    assert [s.sync_id for s in store.snapshots(ACCOUNT)] == [good.sync_id]
    for sync_id in (crashed.sync_id, "bad-json", "running-1"):
        with pytest.raises(SnapshotNotFoundError, match="no complete snapshot"):
            store.read_table(ACCOUNT, sync_id, "roles")


def test_partial_resources(root: str) -> None:
    with SnapshotWriter(root, ACCOUNT, synced_at=SYNCED_AT) as writer:
        writer.write_table("roles", rows()["roles"])
        writer.write_table("user_role_grants", rows()["user_role_grants"])
        manifest = writer.commit(**commit_args(["user_role_grants", "roles"]))
    assert manifest.resources == ("roles", "user_role_grants")
    assert set(manifest.tables) == {"roles", "user_role_grants"}
    assert manifest.tables_not_included == (
        "users",
        "account_groups",
        "group_role_grants",
        "grant_changes",
        *GOVERNANCE_TABLES,
    )
    assert listing(root, writer) == ["manifest.json", "roles.parquet", "user_role_grants.parquet"]
    store = SnapshotStore(root)
    with pytest.raises(TableNotInSnapshotError, match="does not include 'users'"):
        store.read_table(ACCOUNT, writer.sync_id, "users")
    with pytest.raises(TableNotInSnapshotError):
        store.read_table(ACCOUNT, writer.sync_id, "grant_changes")
    assert store.verify(ACCOUNT, writer.sync_id) == []
    assert dict(store.snapshots(ACCOUNT)[0].row_counts) == {"roles": 2, "user_role_grants": 2}


def test_streaming_writes_full_row_groups(tmp_path: Path) -> None:
    total = ROW_GROUP_ROWS + 4464
    with SnapshotWriter(tmp_path, ACCOUNT, synced_at=SYNCED_AT) as writer:
        with writer.open_table("user_role_grants") as table:
            for start in range(0, total, 10_000):
                n = min(10_000, total - start)
                users = [f"u{i}@x" for i in range(start, start + n)]
                batch = pa.record_batch(
                    {
                        "grant_id": [f"role:{ADMIN}:assigned:user:{u}" for u in users],
                        "boomi_id": users,
                        "user_id": users,
                        "role_id": pa.array([ADMIN] * n),
                        "role_name": pa.nulls(n, pa.string()),
                    }
                )
                table.write_batch(batch)
        writer.commit(**commit_args(["user_role_grants"]))
    parquet = pq.ParquetFile(f"{writer.path}/user_role_grants.parquet")
    assert parquet.metadata.num_rows == total
    assert [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)] == [
        ROW_GROUP_ROWS,
        4464,
    ]
    assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"


def test_zero_row_tables_are_written_with_schema(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path, ACCOUNT) as writer:
        writer.open_table("account_groups").close()
        writer.commit(**{**commit_args(["account_groups"]), "account_groups_available": False})
    table = SnapshotStore(tmp_path).read_table(ACCOUNT, writer.sync_id, "account_groups")
    assert table.num_rows == 0
    assert table.schema.equals(TABLES["account_groups"])
    assert SnapshotStore(tmp_path).manifest(ACCOUNT, writer.sync_id)["account_groups_available"] is False


@pytest.mark.parametrize(
    ("table", "row", "column", "message"),
    [
        ("users", {"global_role_count": "two"}, "global_role_count", "row 1 has 'two'"),
        ("users", {"global_role_count": 1.5}, "global_role_count", "expected an integer"),
        ("users", {"global_role_count": 2**40}, "global_role_count", "cannot be stored as int32"),
        ("users", {"is_privileged": "yes"}, "is_privileged", "cannot be stored as bool"),
        ("users", {"user_id": None}, "user_id", "required"),
        ("users", {"nickname": "d"}, "nickname", "does not have"),
        ("users", {"account_id": "other-account"}, "account_id", "omit the column"),
        ("roles", {"privileges": "API"}, "privileges", "list of strings"),
    ],
)
def test_bad_row_names_table_and_column(table: str, row: dict[str, Any], column: str, message: str) -> None:
    base = rows()[table][0]
    with SnapshotWriter("memory://unused-bad-rows", ACCOUNT) as writer:
        with pytest.raises(SchemaMismatchError, match=message) as info:
            writer.write_table(
                table, [base, {**base, **row}] if column != "account_id" else [{**base, **row}]
            )
        assert info.value.table == table
        assert info.value.column == column
        assert f"table {table!r}, column {column!r}" in str(info.value)


def test_arrow_input_is_cast_and_checked() -> None:
    writer = SnapshotWriter("memory://unused-arrow", ACCOUNT, synced_at=SYNCED_AT)
    with writer, writer.open_table("account_groups") as groups:
        # Column order does not matter; an all-null column of null type is cast.
        groups.write_batch(
            pa.table(
                {
                    "name": ["A"],
                    "account_group_id": ["g1"],
                    "default_group": pa.nulls(1),
                    "auto_subscribe_alert_level": ["none"],
                }
            )
        )
        with pytest.raises(SchemaMismatchError, match=r"column 'name'.*missing"):
            groups.write_batch(pa.table({"account_group_id": ["g"]}))
        with pytest.raises(SchemaMismatchError, match="column 'default_group'"):
            groups.write_batch(
                pa.table(
                    {
                        "account_group_id": ["g"],
                        "name": ["n"],
                        "default_group": [[1]],
                        "auto_subscribe_alert_level": [None],
                    }
                )
            )
        with pytest.raises(SchemaMismatchError, match="column 'sync_id'"):
            groups.write_batch(
                pa.table(
                    {
                        "sync_id": ["other"],
                        "account_group_id": ["g"],
                        "name": ["n"],
                        "default_group": [True],
                        "auto_subscribe_alert_level": [None],
                    }
                )
            )
        assert groups.rows == 1


def test_writer_misuse_is_refused(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path, ACCOUNT) as writer:
        writer.write_table("roles", rows()["roles"])
        with pytest.raises(SnapshotStateError, match="already opened"):
            writer.open_table("roles")
        with pytest.raises(SnapshotStateError, match="computed by commit"):
            writer.open_table("grant_changes")
        with pytest.raises(KeyError, match="unknown snapshot table"):
            writer.open_table("groups")
        still_open = writer.open_table("users")
        with pytest.raises(SnapshotStateError, match="still open"):
            writer.commit(**commit_args(["roles", "users"]))
        assert still_open.rows == 0
    first = write_full(str(tmp_path / "b"))
    with pytest.raises(SnapshotStateError, match="already exists"):
        SnapshotWriter(str(tmp_path / "b"), ACCOUNT, first.sync_id)
    with pytest.raises(ValueError, match="timezone-aware"):
        SnapshotWriter(tmp_path, ACCOUNT, synced_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="'/'"):
        SnapshotWriter(tmp_path, "../x")
    with pytest.raises(ValueError, match="'/'"):
        SnapshotStore(tmp_path).snapshots("a/b")


def test_store_lists_accounts_and_snapshots_in_order(tmp_path: Path) -> None:
    ids = ["20260101T000000Z-aaaaaa", "20260102T000000Z-000000", "20260101T120000Z-ffffff"]
    for sync_id in ids:
        write_full(str(tmp_path), sync_id)
    with SnapshotWriter(tmp_path, "other-acct") as writer:
        writer.write_table("roles", rows()["roles"])
        writer.commit(**commit_args(["roles"]))
    store = SnapshotStore(tmp_path)
    assert store.accounts() == [ACCOUNT, "other-acct"]
    assert [s.sync_id for s in store.snapshots(ACCOUNT)] == sorted(ids)
    latest = store.latest(ACCOUNT)
    assert latest is not None and latest.sync_id == "20260102T000000Z-000000"
    assert store.latest("nobody") is None
