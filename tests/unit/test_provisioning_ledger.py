"""The provisioning ledger: part files, schema, flushing and reading back."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_boomi.access.changes import APPLIED, ASSIGN_ROLE, ChangeResult
from airflow_provider_boomi.access.ledger import (
    LEDGER_SCHEMA,
    LedgerWriter,
    RunContext,
    new_action_id,
    read_ledger,
)

PART_RE = re.compile(r"^part-\d{8}T\d{12}Z-[0-9a-f]{8}\.parquet$")


def _result(i: int = 0, **overrides: object) -> ChangeResult:
    fields: dict[str, object] = {
        "action_id": new_action_id(),
        "action": ASSIGN_ROLE,
        "user_id": f"user{i}@acme.example",
        "role_id": "de31d765-7039-4949-a3f4-5724dc800bbf",
        "role_name": "Auditor",
        "account_group_id": None,
        "account_group_name": None,
        "dry_run": False,
        "state_before": "absent",
        "outcome": APPLIED,
        "side_effects": ("invited new user",),
        "boomi_id": f"row{i}",
        "verification": "read back: role row present",
        "reason": "ticket-42",
    }
    fields.update(overrides)
    return ChangeResult(**fields)  # type: ignore[arg-type]


def test_rows_are_written_as_part_files_with_the_explicit_schema(tmp_path: Path) -> None:
    context = RunContext(account_id="acme-Q7R2ZK", dag_id="dag", run_id="run", task_id="task", try_number=2)
    with LedgerWriter(str(tmp_path / "ledger"), context=context) as ledger:
        ledger.record(_result(1))
        ledger.record(_result(2, side_effects=(), error="boom", outcome="failed"))
        assert ledger.pending == 2
    parts = sorted((tmp_path / "ledger").iterdir())
    assert len(parts) == 1 and PART_RE.match(parts[0].name)
    table = pq.read_table(parts[0])
    assert table.schema.equals(LEDGER_SCHEMA, check_metadata=False)
    frame = read_ledger(str(tmp_path / "ledger"))
    assert list(frame.columns) == LEDGER_SCHEMA.names
    first = frame.iloc[0]
    assert (first["dag_id"], first["run_id"], first["task_id"], first["try_number"]) == (
        "dag",
        "run",
        "task",
        2,
    )
    assert first["account_id"] == "acme-Q7R2ZK"
    assert list(first["side_effects"]) == ["invited new user"]
    assert list(frame.iloc[1]["side_effects"]) == []
    assert str(frame["recorded_at"].dt.tz) == "UTC"


def test_flushes_every_n_rows_and_appends_never_rewrite(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger")
    ledger = LedgerWriter(path, flush_every=50)
    for i in range(120):
        ledger.record(_result(i))
    assert len(ledger.parts_written) == 2 and ledger.pending == 20
    first_parts = {p: Path(p).stat().st_mtime_ns for p in ledger.parts_written}
    ledger.close()
    assert ledger.rows_written == 120
    # A second writer (another task) adds its own part; earlier parts are untouched.
    with LedgerWriter(path) as other:
        other.record(_result(999))
    assert {p: Path(p).stat().st_mtime_ns for p in first_parts} == first_parts
    assert len(list(Path(path).glob("part-*.parquet"))) == 4
    assert len(read_ledger(path)) == 121


def test_a_failing_run_still_flushes_on_exit(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger")
    with pytest.raises(RuntimeError), LedgerWriter(path) as ledger:
        ledger.record(_result(1))
        raise RuntimeError("task died")
    assert len(read_ledger(path)) == 1


def test_missing_ledger_reads_as_empty_frame(tmp_path: Path) -> None:
    frame = read_ledger(str(tmp_path / "nowhere"))
    assert frame.empty and list(frame.columns) == LEDGER_SCHEMA.names


def test_fsspec_url_and_foreign_files_ignored() -> None:
    import fsspec

    path = "memory://audit/boomi-ledger"
    with LedgerWriter(path) as ledger:
        ledger.record(_result(1))
    fs = fsspec.filesystem("memory")
    fs.pipe("/audit/boomi-ledger/README.txt", b"not a part")
    assert list(read_ledger(path)["user_id"]) == ["user1@acme.example"]


def test_empty_path_and_bad_flush_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        LedgerWriter("")
    with pytest.raises(ValueError, match="flush_every"):
        LedgerWriter(str(tmp_path), flush_every=0)


def test_schema_has_the_documented_columns() -> None:
    assert LEDGER_SCHEMA.names == [
        "action_id",
        "recorded_at",
        "dag_id",
        "run_id",
        "task_id",
        "try_number",
        "account_id",
        "action",
        "user_id",
        "role_id",
        "role_name",
        "account_group_id",
        "account_group_name",
        "dry_run",
        "state_before",
        "outcome",
        "side_effects",
        "boomi_id",
        "error",
        "verification",
        "reason",
        "approved_by",
        "approved_at",
    ]
    assert LEDGER_SCHEMA.field("recorded_at").type == pa.timestamp("us", tz="UTC")
    assert LEDGER_SCHEMA.field("side_effects").type == pa.list_(pa.string())


def test_approver_is_recorded_and_version_1_parts_read_with_null_approver(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    ledger_dir = tmp_path / "ledger"
    ledger_dir.mkdir()
    # A part exactly as schema version 1 wrote it: no approver columns.
    v1_schema = pa.schema([f for f in LEDGER_SCHEMA if f.name not in ("approved_by", "approved_at")])
    old_row = {name: None for name in v1_schema.names} | {
        "action_id": "old",
        "recorded_at": datetime(2026, 1, 1, tzinfo=UTC),
        "action": ASSIGN_ROLE,
        "user_id": "old@acme.example",
        "dry_run": False,
        "outcome": APPLIED,
        "side_effects": [],
    }
    pq.write_table(
        pa.Table.from_pylist([old_row], schema=v1_schema),
        ledger_dir / "part-20260101T000000000000Z-00000000.parquet",
    )
    approved_at = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    context = RunContext(
        account_id="acme-Q7R2ZK", approved_by="approver@acme.example", approved_at=approved_at
    )
    with LedgerWriter(str(ledger_dir), context=context) as ledger:
        ledger.record(_result(1))
    frame = read_ledger(str(ledger_dir))
    assert list(frame["action_id"]) == ["old", frame.iloc[1]["action_id"]]
    old, new = frame.iloc[0], frame.iloc[1]
    assert pd_isna(old["approved_by"]) and pd_isna(old["approved_at"])
    assert new["approved_by"] == "approver@acme.example"
    assert new["approved_at"].to_pydatetime() == approved_at


def test_part_with_unknown_column_fails_loudly(tmp_path: Path) -> None:
    with LedgerWriter(str(tmp_path)) as ledger:
        ledger.record(_result(1))
    part = next(tmp_path.iterdir())
    table = pq.read_table(part)
    pq.write_table(table.append_column("smuggled", pa.array(["x"])), part)
    with pytest.raises(ValueError, match="smuggled"):
        read_ledger(str(tmp_path))


def test_approval_needs_both_fields_and_an_aware_time() -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match="together"):
        RunContext(approved_by="a@acme.example")
    with pytest.raises(ValueError, match="timezone-aware"):
        RunContext(approved_by="a@acme.example", approved_at=datetime(2026, 1, 1))


def pd_isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_malformed_chain_metadata_is_a_named_break_and_a_missing_ledger_an_error(tmp_path: Path) -> None:
    from airflow_provider_boomi.access.ledger import CHAIN_PREVIOUS_SHA256, verify_ledger_chain

    ledger_dir = tmp_path / "ledger"
    with LedgerWriter(str(ledger_dir)) as ledger:
        ledger.record(_result(1))
    with LedgerWriter(str(ledger_dir)) as ledger:
        ledger.record(_result(2))
    (part,) = ledger.parts_written
    table = pq.read_table(part)
    metadata = dict(table.schema.metadata or {}) | {CHAIN_PREVIOUS_SHA256.encode(): b"not-a-hash"}
    pq.write_table(table.replace_schema_metadata(metadata), part)
    result = verify_ledger_chain(str(ledger_dir))
    assert [b.kind for b in result.breaks] == ["unreadable"]
    assert "64 lowercase hex digits" in result.breaks[0].message
    with pytest.raises(FileNotFoundError, match="no ledger at"):
        verify_ledger_chain(str(tmp_path / "nowhere"))
