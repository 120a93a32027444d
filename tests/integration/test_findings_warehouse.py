"""The findings in a warehouse: real DuckDB and real PostgreSQL, every view exact.

The findings come from the simulator scenario of ``test_findings`` (synced over HTTP, a people
table derived from the simulator's users); the views are compared with what that scenario
expects from the simulator's raw rows, then a second snapshot's findings (everyone active) must
replace them in the "latest" views while the summary keeps both. PostgreSQL tests skip only when
no server answers at ``BOOMI_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from airflow_provider_boomi.access.sync import sync_account
from airflow_provider_boomi.findings import (
    UNKNOWN_KINDS,
    SnapshotTables,
    compute_findings,
    load_people,
    load_sod_policy,
    write_findings,
)
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from airflow_provider_boomi.warehouse import DbApiTarget, DuckDBTarget, SqlAlchemyTarget, WarehouseTarget
from airflow_provider_boomi.warehouse.findings import FINDINGS_VIEWS, load_findings
from tests.helpers import make_client
from tests.integration.test_findings import Scenario, build_scenario


@pytest.fixture
def scenario(sim: BoomiSimulator, tmp_path: Path) -> Scenario:
    return build_scenario(sim, tmp_path)


def _check_views(target: WarehouseTarget, scenario: Scenario) -> None:
    s = f"{target.schema}." if target.schema else ""
    expected = scenario.expected
    open_rows = target.query(
        f"SELECT kind, user_id, subject, severity, grant_ids FROM {s}boomi_findings_open"
    )
    assert {(k, u, sub): (sev, frozenset(g)) for k, u, sub, sev, g in open_rows} == {
        key: value for key, value in expected.items() if key[0] not in UNKNOWN_KINDS
    }
    unknown = target.query(f"SELECT kind, user_id FROM {s}boomi_findings_unknown")
    assert set(unknown) == {(k, u) for k, u, _s in expected if k in UNKNOWN_KINDS}
    leavers = target.query(
        f"SELECT user_id, grant_ids, source_row, end_date FROM {s}boomi_leavers_with_access"
    )
    assert {u: frozenset(g) for u, g, _row, _end in leavers} == {
        u: grants for (k, u, _s), (_sev, grants) in expected.items() if k == "leaver"
    }
    assert all(row is not None for _u, _g, row, _end in leavers)
    assert {end for _u, _g, _row, end in leavers} >= {scenario.synced_at.date()}
    sod = target.query(f"SELECT user_id, sod_rule, account_group_id FROM {s}boomi_sod_conflicts")
    assert {(u, f"sod:{rule}" + (f":group:{group}" if group else "")) for u, rule, group in sod} == {
        (u, sub) for k, u, sub in expected if k == "sod_conflict"
    }
    summary = target.query(
        f"SELECT kind, SUM(findings) FROM {s}boomi_findings_summary WHERE sync_id = ? GROUP BY kind",
        [scenario.sync_id],
    )
    counts: dict[str, int] = {}
    for kind, _u, _s in expected:
        counts[kind] = counts.get(kind, 0) + 1
    assert {k: int(n) for k, n in summary} == counts


def _second_snapshot(sim: BoomiSimulator, scenario: Scenario, tmp_path: Path) -> Any:
    """A later snapshot whose people table marks everyone active: no leavers in the latest views."""
    with make_client(sim) as client:
        later = sync_account(client, scenario.store_root)
    everyone_active = [dict(row, status="active", end_date="") for row in scenario.people_rows]
    tables = SnapshotTables.read(scenario.store_root, scenario.account_id, later.sync_id)
    result = compute_findings(
        tables,
        load_people(pd.DataFrame(everyone_active)),
        as_of=tables.synced_at,
        sod_rules=load_sod_policy(scenario.policy_path),
    )
    return write_findings(result, scenario.findings_root), result


def _exercise(target: WarehouseTarget, sim: BoomiSimulator, scenario: Scenario, tmp_path: Path) -> None:
    stored = write_findings(scenario.result, scenario.findings_root)
    first = load_findings(target, stored)
    assert not first.replaced
    assert first.rows == {
        "boomi_findings": len(scenario.expected),
        "boomi_identities": len(scenario.raw["grants"]),
    }
    _check_views(target, scenario)
    again = load_findings(target, scenario.findings_root, scenario.account_id, scenario.sync_id)
    assert again.replaced and again.rows == first.rows
    _check_views(target, scenario)

    later, result = _second_snapshot(sim, scenario, tmp_path)
    load_findings(target, later)
    s = f"{target.schema}." if target.schema else ""
    assert target.query(f"SELECT COUNT(*) FROM {s}boomi_leavers_with_access") == [(0,)]
    latest = target.query(f"SELECT DISTINCT sync_id FROM {s}boomi_findings_open")
    assert latest == [(later.sync_id,)]
    open_count = target.query(f"SELECT COUNT(*) FROM {s}boomi_findings_open")[0][0]
    assert open_count == sum(1 for k in result.findings.column("kind").to_pylist() if k not in UNKNOWN_KINDS)
    synced = target.query(f"SELECT DISTINCT sync_id FROM {s}boomi_findings_summary ORDER BY sync_id")
    assert synced == [(scenario.sync_id,), (later.sync_id,)]


def test_duckdb(sim: BoomiSimulator, scenario: Scenario, tmp_path: Path) -> None:
    target = DuckDBTarget(tmp_path / "warehouse.duckdb", schema="governance")
    _exercise(target, sim, scenario, tmp_path)
    names = {
        r[0] for r in target.query("SELECT view_name FROM duckdb_views() WHERE schema_name = 'governance'")
    }
    assert set(FINDINGS_VIEWS) <= names


def test_tables_of_another_shape_are_refused(scenario: Scenario, tmp_path: Path) -> None:
    target = DuckDBTarget(tmp_path / "old.duckdb")
    target.query("CREATE TABLE boomi_findings (account_id VARCHAR, sync_id VARCHAR)")
    stored = write_findings(scenario.result, scenario.findings_root)
    with pytest.raises(Exception, match="Migrate the table"):
        load_findings(target, stored)


# --------------------------------------------------------------------------------- PostgreSQL


def test_postgresql_with_copy(
    pg_engine: Any, pg_schema: str, sim: BoomiSimulator, scenario: Scenario, tmp_path: Path
) -> None:
    target = SqlAlchemyTarget(pg_engine, schema=pg_schema)
    _exercise(target, sim, scenario, tmp_path)
    types = dict(
        target.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = 'boomi_findings'",
            [pg_schema],
        )
    )
    assert types["end_date"] == "date"
    assert types["grant_ids"] == "ARRAY"
    assert types["as_of"] == "timestamp with time zone"


def test_postgresql_with_executemany(
    pg_engine: Any, pg_schema: str, sim: BoomiSimulator, scenario: Scenario, tmp_path: Path
) -> None:
    raw = pg_engine.raw_connection()
    try:
        target = DbApiTarget(raw.driver_connection, schema=pg_schema, use_copy=False)
        _exercise(target, sim, scenario, tmp_path)
    finally:
        raw.close()
