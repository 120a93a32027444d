"""Sync ids, path validation and snapshot locations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_boomi.dataset import new_sync_id, snapshot_dir, validate_account_id, validate_sync_id
from airflow_provider_boomi.dataset.paths import resolve_location


def test_sync_id_shape() -> None:
    sync_id = new_sync_id(datetime(2026, 11, 27, 16, 35, 12, tzinfo=UTC))
    assert re.fullmatch(r"20261127T163512\.\d{6}Z-[0-9a-f]{12}", sync_id)


def test_sync_id_converts_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    assert new_sync_id(datetime(2026, 1, 1, 1, 0, 0, tzinfo=cet)).startswith("20260101T000000.000000Z-")


def test_sync_id_rejects_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        new_sync_id(datetime(2026, 1, 1))


def test_sync_ids_sort_by_time_and_are_unique() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = [start + timedelta(seconds=s) for s in (0, 1, 59, 3600, 86400 * 40)]
    ids = [new_sync_id(t) for t in times]
    assert sorted(ids) == ids
    same_second = {new_sync_id(start) for _ in range(500)}
    assert len(same_second) == 500
    assert len({new_sync_id() for _ in range(200)}) == 200


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("../x", "'/'"),
        ("..", "'..'"),
        ("a/b", "'/'"),
        ("a\\b", "'\\\\'"),
        ("", "empty"),
        ("a b", "whitespace"),
        ("acme\n", "whitespace"),
        ("k=v", "'='"),
        ("a*", "'\\*'"),
    ],
)
def test_account_id_path_escape_rejected(bad: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_account_id(bad)
    with pytest.raises(ValueError):
        snapshot_dir("/tmp/x", bad, "20260101T000000Z-abcdef")


def test_account_id_error_says_what_to_fix() -> None:
    with pytest.raises(ValueError, match=r"account id '\.\./x' cannot be used in a snapshot path.*Use the"):
        validate_account_id("../x")


def test_valid_ids_pass() -> None:
    assert validate_account_id("acme-Q7R2ZK") == "acme-Q7R2ZK"
    generated = new_sync_id(datetime(2026, 11, 27, 16, 35, 12, 48113, tzinfo=UTC))
    assert validate_sync_id(generated) == generated
    with pytest.raises(ValueError):
        validate_sync_id("x/../../y")


def test_snapshot_dir_layout(tmp_path: Path) -> None:
    sync_id = "20261127T163512Z-3fa9c1"
    assert snapshot_dir("s3://bucket/boomi/", "acme", sync_id) == (
        "s3://bucket/boomi/account_id=acme/sync_id=20261127T163512Z-3fa9c1"
    )
    assert snapshot_dir(tmp_path, "acme", sync_id) == f"{tmp_path}/account_id=acme/sync_id={sync_id}"
    assert snapshot_dir("memory://snap", "acme", sync_id).startswith("memory://snap/account_id=acme/")


def test_resolve_location_accepts_urls_pathlike_and_object_storage_path(tmp_path: Path) -> None:
    local = resolve_location(tmp_path)
    assert "file" in local.fs.protocol
    assert local.fs_path("a") == f"{tmp_path}/a"
    file_url = resolve_location(f"file://{tmp_path}")
    assert file_url.fs_path("a") == f"{tmp_path}/a"
    memory = resolve_location("memory://snap")
    assert "memory" in (
        memory.fs.protocol if isinstance(memory.fs.protocol, tuple) else (memory.fs.protocol,)
    )
    assert memory.url_path("a") == "memory://snap/a"

    class FakeObjectStoragePath:
        """Duck-types airflow.sdk.ObjectStoragePath: a configured fs plus a path."""

        def __init__(self) -> None:
            self.fs = memory.fs
            self.path = "/fake/root"

        def __str__(self) -> str:
            return "memory://fake/root"

    duck = resolve_location(FakeObjectStoragePath())
    assert duck.fs is memory.fs
    assert duck.fs_path("x") == "/fake/root/x"
    assert duck.url == "memory://fake/root"
