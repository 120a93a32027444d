"""The manifest's chain field, failure records and gaps: real files on local disk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_boomi.dataset import Manifest, ManifestLink, SnapshotStore, SnapshotWriter
from airflow_provider_boomi.dataset.failures import MAX_ERROR_MESSAGE_CHARS, write_failure_record

ACCOUNT = "acme-Q7R2ZK"
STD = "22222222-2222-2222-2222-222222222222"
DAY = timedelta(days=1)
T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def commit_at(root: Path, synced_at: datetime) -> str:
    with SnapshotWriter(root, ACCOUNT, synced_at=synced_at) as writer:
        writer.write_table(
            "roles",
            [{"role_id": STD, "name": "Standard User", "is_privileged": False, "is_assignable": True}],
        )
        writer.commit(api_stats={}, warnings=[], account_groups_available=True, resources=["roles"])
    return writer.sync_id


def fail_at(root: Path, failed_at: datetime, message: str = "Boomi answered 500") -> None:
    write_failure_record(
        root,
        ACCOUNT,
        error=RuntimeError(message),
        error_message=message,
        started_at=failed_at - timedelta(minutes=5),
        failed_at=failed_at,
        dag_id="boomi_access_sync",
        run_id="scheduled__x",
        task_id="sync",
        try_number=1,
    )


def test_an_unchained_manifest_keeps_its_bytes_when_read_and_written_again(tmp_path: Path) -> None:
    sync_id = commit_at(tmp_path, T0)
    path = tmp_path / f"account_id={ACCOUNT}" / f"sync_id={sync_id}" / "manifest.json"
    data = json.loads(path.read_text())
    assert data["previous"] is None  # chained, first of its account
    del data["previous"]
    manifest = Manifest.from_dict(data)
    assert not manifest.chained and "previous" not in manifest.to_dict()
    assert Manifest.from_dict(json.loads(manifest.to_json())) == manifest


@pytest.mark.parametrize(
    ("previous", "message"),
    [
        ("abc", "previous must be null or an object"),
        ({"sync_id": "../x", "manifest_sha256": "0" * 64}, "sync id"),
        ({"sync_id": "s1", "manifest_sha256": "ABC"}, "64 lowercase hex digits"),
        ({"sync_id": "s1"}, "64 lowercase hex digits"),
    ],
)
def test_a_malformed_previous_link_is_refused_by_name(previous: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ManifestLink.from_dict(previous)


def test_a_link_needs_a_chained_manifest(tmp_path: Path) -> None:
    sync_id = commit_at(tmp_path, T0)
    manifest = SnapshotStore(tmp_path).load_manifest(ACCOUNT, sync_id)
    data = manifest.__dict__ | {"chained": False, "previous": ManifestLink("s1", "0" * 64)}
    with pytest.raises(ValueError, match="chained=True"):
        Manifest(**data)


def test_gaps_hold_the_failures_that_explain_them(tmp_path: Path) -> None:
    ids = [commit_at(tmp_path, T0), commit_at(tmp_path, T0 + DAY), commit_at(tmp_path, T0 + 4 * DAY)]
    fail_at(tmp_path, T0 + 2 * DAY)
    fail_at(tmp_path, T0 + 3 * DAY, "connection refused")
    store = SnapshotStore(tmp_path)
    failures = store.failures(ACCOUNT)
    assert [f.error_message for f in failures] == ["Boomi answered 500", "connection refused"]
    assert failures[0].error_type == "builtins.RuntimeError" and failures[0].task_id == "sync"

    gaps = store.gaps(ACCOUNT, timedelta(hours=26), since=T0 - timedelta(hours=1), now=T0 + 6 * DAY)
    assert [(g.start, g.end, g.previous_sync_id, g.next_sync_id) for g in gaps] == [
        (T0 + DAY, T0 + 4 * DAY, ids[1], ids[2]),
        (T0 + 4 * DAY, T0 + 6 * DAY, ids[2], None),  # still open: nothing since
    ]
    assert gaps[0].failures == tuple(failures) and gaps[1].failures == ()
    assert gaps[0].length == 3 * DAY
    # Snapshots often enough: no gap.
    assert store.gaps(ACCOUNT, timedelta(hours=26), since=T0, now=T0 + DAY + timedelta(hours=2)) == []


def test_gaps_check_their_arguments(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    with pytest.raises(ValueError, match="expected_every must be positive"):
        store.gaps(ACCOUNT, timedelta(0), since=T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.gaps(ACCOUNT, DAY, since=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="before since"):
        store.gaps(ACCOUNT, DAY, since=T0, now=T0 - DAY)
    # No snapshot and no record at all: the whole window is one gap, unexplained.
    (gap,) = store.gaps(ACCOUNT, DAY, since=T0, now=T0 + 3 * DAY)
    assert (gap.previous_sync_id, gap.next_sync_id, gap.failures) == (None, None, ())


def test_failure_records_are_never_replaced_and_long_messages_are_cut(tmp_path: Path) -> None:
    kwargs = {
        "error": RuntimeError("x"),
        "error_message": "y" * (MAX_ERROR_MESSAGE_CHARS + 10),
        "started_at": T0,
        "sync_id": "s1",
    }
    record = write_failure_record(tmp_path, ACCOUNT, **kwargs)  # type: ignore[arg-type]
    assert record.error_message.endswith("[... 10 characters cut]")
    with pytest.raises(FileExistsError, match="never replaced"):
        write_failure_record(tmp_path, ACCOUNT, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="account"):
        write_failure_record(tmp_path, "../other", **kwargs)  # type: ignore[arg-type]


def test_an_unreadable_failure_record_is_skipped_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fail_at(tmp_path, T0)
    (tmp_path / f"account_id={ACCOUNT}" / "failures" / "broken.json").write_text("{")
    with caplog.at_level("WARNING"):
        assert len(SnapshotStore(tmp_path).failures(ACCOUNT)) == 1
    assert "Ignoring unreadable failure record" in caplog.text and "broken.json" in caplog.text
