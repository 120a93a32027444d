"""Campaign status and remediation in the warehouse: real DuckDB and a real PostgreSQL.

PostgreSQL runs at ``BOOMI_TEST_POSTGRES_URL`` (default the local server, database ``test``);
each test gets a schema of its own, dropped afterwards. The PostgreSQL tests skip only when no
server answers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.dataset import SnapshotError
from airflow_provider_boomi.warehouse import DuckDBTarget, SqlAlchemyTarget, WarehouseTarget
from airflow_provider_boomi.warehouse.review_status import (
    REVIEW_REMEDIATION_TABLE,
    REVIEW_STATUS_TABLE,
    load_review_remediation,
    load_review_status,
)

CAMPAIGN = "uar-acme-2026q1"
ACCOUNT = "acme-Q7R2ZK"
DUE = date(2026, 3, 31)
DAY1, DAY2 = date(2026, 3, 24), date(2026, 3, 25)


def status_rows(pending_ann: int) -> list[dict[str, Any]]:
    return [
        {
            "reviewer": "ann@acme.example",
            "items": 5,
            "decided": 5 - pending_ann,
            "pending": pending_ann,
            "overdue": 0,
            "due_date": DUE,
        },
        {"reviewer": None, "items": 2, "decided": 0, "pending": 2, "overdue": 0, "due_date": DUE},
    ]


REMEDIATION_ROW = {
    "item_id": "role:r1:assigned:user:bo@acme.example",
    "grant_kind": "global_role",
    "user_id": "bo@acme.example",
    "role_id": "r1",
    "account_group_id": None,
    "reviewer": "ann@acme.example",
    "decided_at": datetime(2026, 3, 20, 9, 30, tzinfo=UTC),
    "deadline": date(2026, 4, 3),
    "state": "applied",
    "ledger_outcome": "applied",
    "applied_at": datetime(2026, 3, 21, 10, 0, tzinfo=UTC),
    "verified_sync_id": None,
    "verified_at": None,
    "detail": "revoked (applied); no snapshot since to verify it: sync the account",
}


def check_idempotent_per_day(target: WarehouseTarget) -> None:
    assert (
        load_review_status(target, status_rows(3), campaign_id=CAMPAIGN, account_id=ACCOUNT, as_of=DAY1) == 2
    )
    # A rerun the same day replaces that day's rows; the next day adds its own.
    load_review_status(target, status_rows(2), campaign_id=CAMPAIGN, account_id=ACCOUNT, as_of=DAY1)
    load_review_status(target, status_rows(0), campaign_id=CAMPAIGN, account_id=ACCOUNT, as_of=DAY2)
    table = target.qualified(REVIEW_STATUS_TABLE)
    rows = target.query(
        f"SELECT as_of, reviewer, items, decided, pending, due_date FROM {table} "
        "WHERE campaign_id = ? ORDER BY as_of, reviewer NULLS LAST",
        [CAMPAIGN],
    )
    assert rows == [
        (DAY1, "ann@acme.example", 5, 3, 2, DUE),
        (DAY1, None, 2, 0, 2, DUE),
        (DAY2, "ann@acme.example", 5, 5, 0, DUE),
        (DAY2, None, 2, 0, 2, DUE),
    ]
    assert (
        load_review_remediation(
            target, [REMEDIATION_ROW], campaign_id=CAMPAIGN, account_id=ACCOUNT, as_of=DAY1
        )
        == 1
    )
    load_review_remediation(target, [REMEDIATION_ROW], campaign_id=CAMPAIGN, account_id=ACCOUNT, as_of=DAY1)
    remediation = target.qualified(REVIEW_REMEDIATION_TABLE)
    (row,) = target.query(f"SELECT account_id, state, decided_at, deadline, applied_at FROM {remediation}")
    assert row[0] == ACCOUNT and row[1] == "applied" and row[3] == date(2026, 4, 3)
    assert row[2] == REMEDIATION_ROW["decided_at"] and row[4] == REMEDIATION_ROW["applied_at"]


def check_bad_rows_change_nothing(target: WarehouseTarget) -> None:
    with pytest.raises(ValueError, match=r"row 1 has no value for \['pending'\]"):
        load_review_status(
            target,
            [
                {
                    "reviewer": "x@acme.example",
                    "items": 1,
                    "decided": 0,
                    "pending": None,
                    "overdue": 0,
                    "due_date": DUE,
                }
            ],
            campaign_id=CAMPAIGN,
            account_id=ACCOUNT,
            as_of=DAY1,
        )
    with pytest.raises(ValueError, match="unknown columns"):
        load_review_status(
            target, [{**status_rows(1)[0], "bonus": 1}], campaign_id=CAMPAIGN, account_id=ACCOUNT, as_of=DAY1
        )
    with pytest.raises(ValueError, match="as_of must be a date"):
        load_review_status(target, [], campaign_id=CAMPAIGN, account_id=ACCOUNT, as_of=datetime.now(UTC))  # type: ignore[arg-type]
    assert (
        len(target.query(f"SELECT 1 FROM {target.qualified(REVIEW_STATUS_TABLE)} WHERE as_of = ?", [DAY1]))
        == 2
    )


def test_duckdb(tmp_path: Path) -> None:
    target = DuckDBTarget(tmp_path / "warehouse.duckdb", schema="review")
    check_idempotent_per_day(target)
    check_bad_rows_change_nothing(target)


def test_duckdb_refuses_a_table_of_another_shape(tmp_path: Path) -> None:
    target = DuckDBTarget(tmp_path / "warehouse.duckdb")
    with target.transaction() as session:
        session.execute(f"CREATE TABLE {REVIEW_STATUS_TABLE} (campaign_id VARCHAR, as_of DATE)")
    with pytest.raises(SnapshotError, match="Migrate the table"):
        load_review_status(target, status_rows(1), campaign_id=CAMPAIGN, account_id=ACCOUNT, as_of=DAY1)


@pytest.mark.parametrize("use_copy", [True, False], ids=["copy", "executemany"])
def test_postgresql(pg_engine: Any, pg_schema: str, use_copy: bool) -> None:
    target = SqlAlchemyTarget(pg_engine, schema=pg_schema, use_copy=use_copy)
    check_idempotent_per_day(target)
    check_bad_rows_change_nothing(target)
    types = dict(
        target.query(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ?",
            [pg_schema],
        )
    )
    assert types[f"{REVIEW_STATUS_TABLE}.as_of"] == "date"
    assert types[f"{REVIEW_REMEDIATION_TABLE}.decided_at"] == "timestamp with time zone"
