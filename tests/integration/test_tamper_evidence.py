"""Tamper evidence (issue 13, item 5): the hash chains of snapshot manifests and ledger parts,
and ``python -m airflow_provider_boomi.verify_chain``.

Snapshots are committed by the real ``SnapshotWriter`` and ledger parts by the real
``LedgerWriter``, on local disk, and on moto's S3 server on loopback for the object-storage
case. Tampering is done the way an attacker with write access would: deleting folders and
objects, flipping a byte, rewriting a manifest or a part. Races use real processes.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from airflow_provider_boomi.access.changes import APPLIED, ASSIGN_ROLE, ChangeResult
from airflow_provider_boomi.access.ledger import (
    CHAIN_PREVIOUS_PART,
    CHAIN_ROWS,
    LEDGER_SCHEMA,
    LedgerWriter,
    read_ledger,
    verify_ledger_chain,
)
from airflow_provider_boomi.dataset import SnapshotStore, SnapshotWriter, verify_manifest_chain
from airflow_provider_boomi.verify_chain import run
from tests.conftest import REPO

ACCOUNT = "acme-Q7R2ZK"
STD = "22222222-2222-2222-2222-222222222222"


# -- writing ---------------------------------------------------------------------------------------


def commit_snapshot(
    root: Any, name: str = "Standard User", storage_options: dict[str, Any] | None = None
) -> str:
    """Commit a one-table snapshot through the real writer; return its sync id."""
    with SnapshotWriter(root, ACCOUNT, storage_options=storage_options) as writer:
        writer.write_table(
            "roles",
            [
                {
                    "role_id": STD,
                    "name": name,
                    "is_builtin": True,
                    "is_privileged": False,
                    "is_assignable": True,
                }
            ],
        )
        writer.commit(api_stats={}, warnings=[], account_groups_available=True, resources=["roles"])
    return writer.sync_id


def manifest_path(root: Path, sync_id: str) -> Path:
    return root / f"account_id={ACCOUNT}" / f"sync_id={sync_id}" / "manifest.json"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def change(i: int) -> ChangeResult:
    return ChangeResult(
        action_id=f"action-{i}",
        action=ASSIGN_ROLE,
        user_id=f"user{i}@acme.example",
        role_id="de31d765-7039-4949-a3f4-5724dc800bbf",
        role_name="Auditor",
        account_group_id=None,
        account_group_name=None,
        dry_run=False,
        state_before="absent",
        outcome=APPLIED,
        side_effects=(),
        boomi_id=f"row{i}",
        verification="read back",
        reason="ticket-42",
    )


def write_parts(ledger: str, count: int, rows_each: int = 2, start: int = 0) -> list[str]:
    """``count`` part files, one LedgerWriter each (as separate tasks would); return their paths."""
    parts = []
    for n in range(count):
        with LedgerWriter(ledger) as writer:
            for i in range(rows_each):
                writer.record(change(start + n * rows_each + i))
        parts.extend(writer.parts_written)
    return parts


def unchain_manifest(path: Path) -> None:
    """Rewrite a manifest as a writer from before chaining wrote it: no ``previous`` field."""
    data = json.loads(path.read_text())
    del data["previous"]
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def rewrite_part(path: Path, *, keep_chain: bool, rows: list[dict[str, Any]] | None = None) -> None:
    """Rewrite a ledger part in place, optionally with other rows, with or without chain metadata."""
    table = pq.read_table(path)
    metadata = dict(table.schema.metadata or {})
    if rows is not None:
        table = pa.Table.from_pylist(rows, schema=table.schema)
    if not keep_chain:
        metadata = {k: v for k, v in metadata.items() if not k.startswith(b"airflow_provider_boomi.chain.")}
    pq.write_table(table.replace_schema_metadata(metadata), path)


def kinds(result: Any) -> list[str]:
    return [b.kind for b in result.breaks]


# -- the manifest chain ----------------------------------------------------------------------------


def test_each_manifest_links_to_the_previous_and_the_chain_verifies(tmp_path: Path) -> None:
    ids = [commit_snapshot(tmp_path) for _ in range(3)]
    store = SnapshotStore(tmp_path)
    first, second, third = (store.load_manifest(ACCOUNT, s) for s in ids)
    assert first.chained and first.previous is None
    assert second.previous is not None and second.previous.sync_id == ids[0]
    assert second.previous.manifest_sha256 == sha256_of(manifest_path(tmp_path, ids[0]))
    assert third.previous is not None and third.previous.sync_id == ids[1]

    result = verify_manifest_chain(store, ACCOUNT)
    assert result.intact, result.breaks
    assert (result.files, result.chained, result.links_checked) == (3, 3, 2)
    assert result.data_files_checked == 3 and result.forks == ()
    assert result.head is not None and result.head.name == ids[2]
    assert result.head.sha256 == sha256_of(manifest_path(tmp_path, ids[2]))


def test_snapshots_from_before_chaining_read_and_verify_as_unchained(tmp_path: Path) -> None:
    old = [commit_snapshot(tmp_path) for _ in range(2)]
    for sync_id in old:
        unchain_manifest(manifest_path(tmp_path, sync_id))
    new = [commit_snapshot(tmp_path) for _ in range(2)]
    store = SnapshotStore(tmp_path)
    assert [s.sync_id for s in store.snapshots(ACCOUNT)] == old + new
    assert not store.load_manifest(ACCOUNT, old[0]).chained
    genesis = store.load_manifest(ACCOUNT, new[0]).previous
    # The first chained manifest pins the last unchained one.
    assert genesis is not None and genesis.sync_id == old[1]

    result = verify_manifest_chain(store, ACCOUNT)
    assert result.intact, result.breaks
    assert result.unchained_before_start == tuple(old)
    assert (result.chained, result.links_checked) == (2, 2)


def test_deleting_a_middle_snapshot_breaks_the_chain(tmp_path: Path) -> None:
    ids = [commit_snapshot(tmp_path) for _ in range(3)]
    recorded = sha256_of(manifest_path(tmp_path, ids[1]))
    shutil.rmtree(manifest_path(tmp_path, ids[1]).parent)
    result = verify_manifest_chain(SnapshotStore(tmp_path), ACCOUNT)
    assert kinds(result) == ["missing_predecessor"]
    (item,) = result.breaks
    assert item.file.endswith(f"sync_id={ids[2]}/manifest.json")
    assert ids[1] in item.message and item.expected == recorded and item.found is None


def test_a_byte_edited_in_a_table_file_is_named(tmp_path: Path) -> None:
    ids = [commit_snapshot(tmp_path) for _ in range(3)]
    table_file = manifest_path(tmp_path, ids[1]).parent / "roles.parquet"
    recorded = sha256_of(table_file)
    data = bytearray(table_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    table_file.write_bytes(bytes(data))
    result = verify_manifest_chain(SnapshotStore(tmp_path), ACCOUNT)
    assert not result.intact
    hashes = [b for b in result.breaks if b.kind == "data_changed" and "sha256" in b.message]
    assert len(hashes) == 1
    assert hashes[0].file.endswith(f"sync_id={ids[1]}/roles.parquet")
    assert hashes[0].expected == recorded and hashes[0].found == sha256_of(table_file)


def test_a_replaced_manifest_is_named_with_both_hashes(tmp_path: Path) -> None:
    ids = [commit_snapshot(tmp_path) for _ in range(3)]
    path = manifest_path(tmp_path, ids[1])
    recorded = sha256_of(path)
    data = json.loads(path.read_text())
    data["warnings"] = ["nothing to see here"]  # a consistent, valid, different manifest
    path.write_text(json.dumps(data, indent=2) + "\n")
    result = verify_manifest_chain(SnapshotStore(tmp_path), ACCOUNT)
    assert kinds(result) == ["predecessor_changed"]
    (item,) = result.breaks
    assert item.file.endswith(f"sync_id={ids[1]}/manifest.json")
    assert (item.expected, item.found) == (recorded, sha256_of(path))


def test_a_manifest_stripped_of_its_chain_field_after_chaining_began_is_a_break(tmp_path: Path) -> None:
    ids = [commit_snapshot(tmp_path) for _ in range(3)]
    unchain_manifest(manifest_path(tmp_path, ids[2]))  # the head: no successor to catch it by hash
    result = verify_manifest_chain(SnapshotStore(tmp_path), ACCOUNT)
    assert kinds(result) == ["unchained_after_start"]
    assert result.breaks[0].file.endswith(f"sync_id={ids[2]}/manifest.json")


def test_an_unreadable_manifest_is_a_break_not_silence(tmp_path: Path) -> None:
    ids = [commit_snapshot(tmp_path) for _ in range(2)]
    manifest_path(tmp_path, ids[1]).write_text("{ not json")
    result = verify_manifest_chain(SnapshotStore(tmp_path), ACCOUNT)
    assert kinds(result) == ["unreadable"]
    assert result.breaks[0].file.endswith(f"sync_id={ids[1]}/manifest.json")


# -- racing writers (real processes) ---------------------------------------------------------------


class _HeldSnapshotWriter(SnapshotWriter):
    """Reads the chain head, then waits for the other process to have read it too: the race
    window (head read, manifest not yet written) made certain instead of likely."""

    barrier: Any = None

    def _chain_link(self) -> Any:
        link = super()._chain_link()
        self.barrier.wait(timeout=60)
        return link


def _commit_held(root: str, barrier: Any) -> None:
    _HeldSnapshotWriter.barrier = barrier
    with _HeldSnapshotWriter(root, ACCOUNT) as writer:
        writer.write_table(
            "roles",
            [{"role_id": STD, "name": "Standard User", "is_privileged": False, "is_assignable": True}],
        )
        writer.commit(api_stats={}, warnings=[], account_groups_available=True, resources=["roles"])


def _commit_at(root: str, barrier: Any) -> None:
    barrier.wait(timeout=60)
    commit_snapshot(root)


def _race(target: Any, root: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    processes = [context.Process(target=target, args=(root, barrier)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0]


def test_two_processes_committing_at_once_fork_and_the_verifier_says_so(tmp_path: Path) -> None:
    base = commit_snapshot(tmp_path)
    _race(_commit_held, str(tmp_path))
    store = SnapshotStore(tmp_path)
    racers = [s.sync_id for s in store.snapshots(ACCOUNT) if s.sync_id != base]
    assert len(racers) == 2
    result = verify_manifest_chain(store, ACCOUNT)
    assert result.intact, result.breaks  # a fork loses nothing: not a break
    assert [(f.predecessor, sorted(f.successors)) for f in result.forks] == [(base, sorted(racers))]
    assert len(result.heads) == 2
    # The next commit continues from the newest head; the fork stays on record.
    after = commit_snapshot(tmp_path)
    result = verify_manifest_chain(store, ACCOUNT)
    assert result.intact and len(result.forks) == 1
    assert result.head is not None and result.head.name == after
    assert store.load_manifest(ACCOUNT, after).previous.sync_id in racers  # type: ignore[union-attr]


def test_unsynchronised_racers_never_produce_a_break(tmp_path: Path) -> None:
    """Without holding anyone, the outcome is a line or a fork, whichever the timing gives."""
    commit_snapshot(tmp_path)
    _race(_commit_at, str(tmp_path))
    result = verify_manifest_chain(SnapshotStore(tmp_path), ACCOUNT)
    assert result.intact and result.files == 3
    assert result.links_checked == 2 and len(result.forks) <= 1


# -- the ledger chain ------------------------------------------------------------------------------


def test_ledger_parts_record_predecessor_hash_and_rows(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger")
    parts = write_parts(ledger, 3, rows_each=2)
    first, second = (pq.read_metadata(p).metadata for p in parts[:2])
    assert first[CHAIN_PREVIOUS_PART.encode()] == b""
    assert second[CHAIN_PREVIOUS_PART.encode()] == Path(parts[0]).name.encode()
    assert second[CHAIN_ROWS.encode()] == b"2"
    assert len(read_ledger(ledger)) == 6  # the metadata changes nothing for readers

    result = verify_ledger_chain(ledger)
    assert result.intact, result.breaks
    assert (result.files, result.chained, result.links_checked, result.rows) == (3, 3, 2, 6)
    assert result.head is not None and result.head.name == Path(parts[2]).name


def test_ledger_parts_from_before_chaining_read_as_before(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    old = ledger / "part-20260101T000000000000Z-00000000.parquet"
    pq.write_table(pa.Table.from_pylist([], schema=LEDGER_SCHEMA.remove_metadata()), old)
    write_parts(str(ledger), 2)
    result = verify_ledger_chain(str(ledger))
    assert result.intact, result.breaks
    assert result.unchained_before_start == (old.name,) and result.links_checked == 2


def test_a_deleted_ledger_part_is_a_break(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger")
    parts = write_parts(ledger, 3)
    Path(parts[1]).unlink()
    result = verify_ledger_chain(ledger)
    assert kinds(result) == ["missing_predecessor"]
    assert result.breaks[0].file.endswith(Path(parts[2]).name)
    assert Path(parts[1]).name in result.breaks[0].message


def test_a_changed_ledger_part_is_a_break_with_both_hashes(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger")
    parts = write_parts(ledger, 3)
    recorded = sha256_of(Path(parts[1]))
    rows = pq.read_table(parts[1]).to_pylist()
    rows[0]["outcome"] = "failed"  # rewrite history: same rows, same metadata, one value changed
    rewrite_part(Path(parts[1]), keep_chain=True, rows=rows)
    result = verify_ledger_chain(ledger)
    assert kinds(result) == ["predecessor_changed"]
    (item,) = result.breaks
    assert item.file.endswith(Path(parts[1]).name)
    assert (item.expected, item.found) == (recorded, sha256_of(Path(parts[1])))


def test_a_ledger_part_with_rows_removed_is_named(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger")
    parts = write_parts(ledger, 2, rows_each=3)
    rewrite_part(Path(parts[1]), keep_chain=True, rows=pq.read_table(parts[1]).to_pylist()[:1])
    result = verify_ledger_chain(ledger)
    assert kinds(result) == ["rows_mismatch"]
    assert (result.breaks[0].expected, result.breaks[0].found) == ("3", "1")


def test_a_ledger_part_stripped_of_chain_metadata_is_a_break(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger")
    parts = write_parts(ledger, 3)
    rewrite_part(Path(parts[2]), keep_chain=False)
    result = verify_ledger_chain(ledger)
    assert kinds(result) == ["unchained_after_start"]
    assert result.breaks[0].file.endswith(Path(parts[2]).name)


class _HeldLedgerWriter(LedgerWriter):
    """Reads the latest part, then waits for the other process to have read it too."""

    barrier: Any = None

    def _chain_metadata(self, table: pa.Table) -> dict[bytes, bytes]:
        metadata = super()._chain_metadata(table)
        self.barrier.wait(timeout=60)
        return metadata


def _flush_held(ledger: str, barrier: Any) -> None:
    _HeldLedgerWriter.barrier = barrier
    with _HeldLedgerWriter(ledger) as writer:
        writer.record(change(os.getpid()))


def test_concurrent_ledger_writers_fork_and_the_fork_is_not_a_break(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger")
    (base,) = write_parts(ledger, 1)
    _race(_flush_held, ledger)
    result = verify_ledger_chain(ledger)
    assert result.intact, result.breaks
    assert len(result.forks) == 1 and result.forks[0].predecessor == Path(base).name
    assert len(result.forks[0].successors) == 2 and len(result.heads) == 2
    assert len(read_ledger(ledger)) == 4


# -- the command -----------------------------------------------------------------------------------


def command(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_the_command_reports_an_intact_store_and_ledger(tmp_path: Path) -> None:
    ids = [commit_snapshot(tmp_path / "snapshots") for _ in range(2)]
    write_parts(str(tmp_path / "ledger"), 2)
    code, out, _ = command("--snapshots", str(tmp_path / "snapshots"), "--ledger", str(tmp_path / "ledger"))
    assert code == 0, out
    head = sha256_of(manifest_path(tmp_path / "snapshots", ids[1]))
    assert f"Snapshot chain of account {ACCOUNT}" in out and "Ledger chain in" in out
    assert f"head: {ids[1]}  sha256 {head}" in out
    assert "checked: 2 snapshots (2 chained, 0 unchained (before chaining began)), 1 links verified" in out
    assert out.rstrip().endswith("INTACT: every chain checked verifies.")


def test_the_command_exits_1_and_names_each_break(tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    ids = [commit_snapshot(root) for _ in range(3)]
    shutil.rmtree(manifest_path(root, ids[1]).parent)
    code, out, _ = command("--snapshots", str(root), "--account", ACCOUNT)
    assert code == 1
    assert "BREAK [missing_predecessor]" in out and f"sync_id={ids[2]}/manifest.json" in out
    assert "expected " in out and "found (missing)" in out

    code, text, _ = command("--snapshots", str(root), "--json")
    document = json.loads(text)
    assert code == 1 and document["intact"] is False
    (chain,) = document["chains"]
    assert [b["kind"] for b in chain["breaks"]] == ["missing_predecessor"]


def test_an_anchor_catches_the_deleted_newest_snapshot(tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    ids = [commit_snapshot(root) for _ in range(3)]
    code, text, _ = command("--snapshots", str(root), "--json")
    anchor = json.loads(text)["chains"][0]["head"]["sha256"]
    assert code == 0 and command("--snapshots", str(root), "--anchor", anchor)[0] == 0
    shutil.rmtree(manifest_path(root, ids[2]).parent)  # the one deletion the chain cannot see
    assert command("--snapshots", str(root))[0] == 0
    code, out, _ = command("--snapshots", str(root), "--anchor", anchor)
    assert code == 1 and f"BREAK [anchor_missing] the recorded head {anchor}" in out


def test_the_command_refuses_to_verify_nothing(tmp_path: Path) -> None:
    code, _, err = command("--snapshots", str(tmp_path / "nowhere"))
    assert code == 2 and "no snapshot manifests under" in err
    code, _, err = command("--ledger", str(tmp_path / "nowhere"))
    assert code == 2 and "no ledger at" in err
    code, _, err = command("--account", ACCOUNT)
    assert code == 2 and "--account needs --snapshots" in err
    code, _, err = command("--ledger", str(tmp_path), "--anchor", "abc")
    assert code == 2 and "64 lowercase hex digits" in err


def test_python_dash_m_runs_the_command(tmp_path: Path) -> None:
    commit_snapshot(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-m", "airflow_provider_boomi.verify_chain", "--snapshots", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "INTACT" in completed.stdout


# -- S3 (moto's server on loopback) ----------------------------------------------------------------

BUCKET = "boomi-audit"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's S3 server on 127.0.0.1 with the environment a user would set; yields the filesystem."""
    s3fs = pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        # moto keeps its buckets in the process, across servers: start from an empty state.
        requests.post(f"http://{host}:{port}/moto-api/reset", timeout=10).raise_for_status()
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        s3fs.S3FileSystem.clear_instance_cache()
        fs = s3fs.S3FileSystem()
        fs.mkdir(BUCKET)
        yield fs
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


@pytest.mark.slow
def test_chains_on_s3_verify_and_a_deleted_object_is_named(s3: Any) -> None:
    snapshots, ledger = f"s3://{BUCKET}/boomi/snapshots", f"s3://{BUCKET}/boomi/ledger"
    ids = [commit_snapshot(snapshots) for _ in range(3)]
    write_parts(ledger, 3)
    code, out, _ = command("--snapshots", snapshots, "--ledger", ledger)
    assert code == 0, out
    assert "3 snapshots (3 chained" in out and "3 parts (3 chained" in out

    s3.rm(f"{BUCKET}/boomi/snapshots/account_id={ACCOUNT}/sync_id={ids[1]}", recursive=True)
    (middle_part,) = [p for p in sorted(s3.ls(f"{BUCKET}/boomi/ledger", detail=False))][1:2]
    s3.rm(middle_part)
    code, text, _ = command("--snapshots", snapshots, "--ledger", ledger, "--json")
    assert code == 1
    chains = {c["chain"]: c for c in json.loads(text)["chains"]}
    assert [b["kind"] for b in chains["snapshots"]["breaks"]] == ["missing_predecessor"]
    assert chains["snapshots"]["breaks"][0]["file"].startswith(f"s3://{BUCKET}/boomi/snapshots/")
    assert [b["kind"] for b in chains["ledger"]["breaks"]] == ["missing_predecessor"]


@pytest.mark.slow
def test_the_write_pattern_fits_a_compliance_locked_bucket(s3: Any, tmp_path: Path) -> None:
    """What docs/tamper-evidence.md claims: syncs, ledger parts and failure records write new
    objects only; an aborted snapshot's cleanup adds delete markers (allowed); locked versions
    cannot be deleted."""
    import boto3
    from botocore.exceptions import ClientError

    from airflow_provider_boomi.dataset import write_failure_record

    locked = "boomi-locked"
    client = boto3.client("s3")
    client.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    client.put_object_lock_configuration(
        Bucket=locked,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    snapshots, ledger = f"s3://{locked}/boomi/snapshots", f"s3://{locked}/boomi/ledger"
    ids = [commit_snapshot(snapshots) for _ in range(2)]
    write_parts(ledger, 2)
    with pytest.raises(RuntimeError, match="sync failed"), SnapshotWriter(snapshots, ACCOUNT) as writer:
        writer.write_table(
            "roles", [{"role_id": STD, "name": "x", "is_privileged": False, "is_assignable": True}]
        )
        raise RuntimeError("sync failed")
    write_failure_record(
        snapshots, ACCOUNT, error=RuntimeError("x"), error_message="x", started_at=writer.started_at
    )
    assert command("--snapshots", snapshots, "--ledger", ledger)[0] == 0
    assert [s.sync_id for s in SnapshotStore(snapshots).snapshots(ACCOUNT)] == ids

    key = f"boomi/snapshots/account_id={ACCOUNT}/sync_id={ids[0]}/manifest.json"
    (version,) = client.list_object_versions(Bucket=locked, Prefix=key)["Versions"]
    assert version["IsLatest"]
    with pytest.raises(ClientError, match="AccessDenied"):
        client.delete_object(Bucket=locked, Key=key, VersionId=version["VersionId"])
    aborted = client.list_object_versions(
        Bucket=locked, Prefix=f"boomi/snapshots/account_id={ACCOUNT}/sync_id={writer.sync_id}/"
    )
    assert aborted.get("DeleteMarkers") and aborted.get("Versions")  # hidden, still retained
