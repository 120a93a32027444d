"""Loading the findings of a snapshot into a warehouse, and the views over them.

Tables (created when missing, in the target's schema):

- ``boomi_findings``: every column of :data:`~airflow_provider_boomi.findings.FINDINGS_SCHEMA`;
- ``boomi_identities``: every column of :data:`~airflow_provider_boomi.findings.IDENTITIES_SCHEMA`;
- ``boomi_findings_runs``: one row per loaded findings snapshot (when computed, as of when).

A load is one transaction that replaces the rows of its ``(account_id, sync_id)``, like
:func:`~.loader.load_snapshot`, so loading again (a retry, recomputed findings) never duplicates.

Views, over the latest loaded findings of each account (by ``synced_at``, then ``sync_id``):
``boomi_findings_open`` (the findings, without the ``*_unknown`` kinds),
``boomi_findings_unknown`` (the ``*_unknown`` kinds: what the inputs could not tell),
``boomi_leavers_with_access``, ``boomi_sod_conflicts``, and ``boomi_findings_summary`` (rows per
account, snapshot, kind and severity, for every loaded snapshot: the trend).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from airflow_provider_boomi.dataset import SnapshotError
from airflow_provider_boomi.findings import (
    FINDINGS_SCHEMA,
    IDENTITIES_SCHEMA,
    UNKNOWN_KINDS,
    StoredFindings,
    read_findings,
)

from .tables import sql_type
from .targets import Session, WarehouseTarget

__all__ = [
    "FINDINGS_TABLES",
    "FINDINGS_VIEWS",
    "RUNS_TABLE",
    "FindingsLoadResult",
    "create_findings_views",
    "findings_view_sql",
    "load_findings",
]

#: Findings table -> its Arrow schema.
FINDINGS_TABLES: Mapping[str, pa.Schema] = {
    "boomi_findings": FINDINGS_SCHEMA,
    "boomi_identities": IDENTITIES_SCHEMA,
}
#: One row per loaded findings snapshot.
RUNS_TABLE = "boomi_findings_runs"
#: View names, in creation order.
FINDINGS_VIEWS: tuple[str, ...] = (
    "boomi_findings_open",
    "boomi_findings_unknown",
    "boomi_leavers_with_access",
    "boomi_sod_conflicts",
    "boomi_findings_summary",
)


@dataclass(frozen=True)
class FindingsLoadResult:
    """What :func:`load_findings` loaded: rows per table, and whether it replaced a load."""

    account_id: str
    sync_id: str
    rows: Mapping[str, int]
    replaced: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (an operator's XCom)."""
        return {
            "account_id": self.account_id,
            "sync_id": self.sync_id,
            "rows": dict(self.rows),
            "replaced": self.replaced,
        }


def _column_type(type_: pa.DataType, dialect: str) -> str:
    # The snapshot tables have no date column, so warehouse.tables.sql_type knows none; end
    # dates are dates (a day, not a moment), stored as SQL DATE, which every dialect has.
    if pa.types.is_date32(type_):
        return "DATE"
    return sql_type(type_, dialect)


def _runs_columns(dialect: str) -> list[tuple[str, str, bool]]:
    text = sql_type(pa.string(), dialect)
    ts = sql_type(pa.timestamp("us", tz="UTC"), dialect)
    return [
        ("account_id", text, False),
        ("sync_id", text, False),
        ("synced_at", ts, False),
        ("as_of", ts, False),
        ("computed_at", ts, False),
        ("loaded_at", ts, False),
        ("findings_rows", "BIGINT", False),
        ("identities_rows", "BIGINT", False),
    ]


def _ensure_tables(target: WarehouseTarget, session: Session) -> None:
    if target.schema:
        session.execute(f"CREATE SCHEMA IF NOT EXISTS {target.schema}")
    wanted = {
        name: [(f.name, _column_type(f.type, session.dialect), f.nullable) for f in schema]
        for name, schema in FINDINGS_TABLES.items()
    }
    wanted[RUNS_TABLE] = _runs_columns(session.dialect)
    for name, columns in wanted.items():
        table = target.qualified(name)
        body = ",\n    ".join(f"{c} {t}{'' if nullable else ' NOT NULL'}" for c, t, nullable in columns)
        key = ",\n    PRIMARY KEY (account_id, sync_id)" if name == RUNS_TABLE else ""
        session.execute(f"CREATE TABLE IF NOT EXISTS {table} (\n    {body}{key}\n)")
        if session.dialect == "postgresql" and name != RUNS_TABLE:
            session.execute(
                f"CREATE INDEX IF NOT EXISTS {name}_snapshot_idx ON {table} (account_id, sync_id)"
            )
        actual = [c.lower() for c in session.columns(table)]
        if actual != [c for c, _, _ in columns]:
            raise SnapshotError(
                f"warehouse table {table} has columns {actual}, but this version of the package writes "
                f"{[c for c, _, _ in columns]}. Migrate the table (or load into a new schema) first."
            )


def _views(s: str) -> dict[str, str]:
    unknown = ", ".join(f"'{kind}'" for kind in sorted(UNKNOWN_KINDS))
    latest = f"""
    SELECT account_id, sync_id FROM (
        SELECT account_id, sync_id,
               ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY synced_at DESC, sync_id DESC) AS recency
        FROM {s}{RUNS_TABLE}) r
    WHERE recency = 1"""
    current = f"""
SELECT f.* FROM {s}boomi_findings f
JOIN ({latest}
) l ON l.account_id = f.account_id AND l.sync_id = f.sync_id"""
    return {
        "boomi_findings_open": f"{current}\nWHERE f.kind NOT IN ({unknown})",
        "boomi_findings_unknown": f"{current}\nWHERE f.kind IN ({unknown})",
        "boomi_leavers_with_access": f"""
SELECT account_id, sync_id, synced_at, as_of, finding_id, severity, user_id, email, person_email,
       employee_id, person_status, end_date, manager_email, department, source_row, grant_ids, detail
FROM {s}boomi_findings_open
WHERE kind = 'leaver'""",
        "boomi_sod_conflicts": f"""
SELECT account_id, sync_id, synced_at, finding_id, severity, sod_rule, user_id, email,
       account_group_id, account_group_name, manager_email, grant_ids, detail, evidence
FROM {s}boomi_findings_open
WHERE kind = 'sod_conflict'""",
        "boomi_findings_summary": f"""
SELECT account_id, sync_id, synced_at, kind, severity, CAST(COUNT(*) AS BIGINT) AS findings,
       CAST(COUNT(DISTINCT user_id) AS BIGINT) AS users
FROM {s}boomi_findings
GROUP BY account_id, sync_id, synced_at, kind, severity""",
    }


def findings_view_sql(name: str, schema: str | None = None) -> str:
    """The ``SELECT`` behind findings view ``name`` (the same for DuckDB and PostgreSQL)."""
    return _views(f"{schema}." if schema else "")[name].strip()


def create_findings_views(target: WarehouseTarget, session: Session | None = None) -> list[str]:
    """(Re)create the findings views (and their tables when missing); returns their names."""
    if session is None:
        with target.transaction() as own:
            return create_findings_views(target, own)
    _ensure_tables(target, session)
    for name in reversed(FINDINGS_VIEWS):
        session.execute(f"DROP VIEW IF EXISTS {target.qualified(name)}")
    for name in FINDINGS_VIEWS:
        session.execute(f"CREATE VIEW {target.qualified(name)} AS {findings_view_sql(name, target.schema)}")
    return list(FINDINGS_VIEWS)


def load_findings(
    target: WarehouseTarget,
    findings: StoredFindings | Any,
    account_id: str | None = None,
    sync_id: str | None = None,
    *,
    create_views: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> FindingsLoadResult:
    """Load the findings of one snapshot into ``target``; loading them again replaces them.

    :param target: a DuckDB, SQLAlchemy or DB-API target (:mod:`~.targets`).
    :param findings: :class:`~airflow_provider_boomi.findings.StoredFindings` (what
        ``write_findings`` returned), or the findings root to read them from (then
        ``account_id`` and ``sync_id`` are required).
    :param create_views: (re)create the findings views in the same transaction.
    :param storage_options: fsspec options for a findings root URL.
    :raises SnapshotError: the warehouse has findings tables of another shape; nothing changes.
    """
    if not isinstance(findings, StoredFindings):
        if account_id is None or sync_id is None:
            raise ValueError("account_id and sync_id are required when loading from a findings root")
        findings = read_findings(findings, account_id, sync_id, storage_options=storage_options)
    key = (findings.account_id, findings.sync_id)
    rows: dict[str, int] = {}
    with target.transaction() as session:
        _ensure_tables(target, session)
        runs = target.qualified(RUNS_TABLE)
        # The run row first: on PostgreSQL its key makes a concurrent load of the same findings wait.
        replaced = bool(session.fetchall(f"SELECT 1 FROM {runs} WHERE account_id = ? AND sync_id = ?", key))
        session.execute(f"DELETE FROM {runs} WHERE account_id = ? AND sync_id = ?", key)
        session.execute(
            f"INSERT INTO {runs} (account_id, sync_id, synced_at, as_of, computed_at, loaded_at, "
            "findings_rows, identities_rows) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                *key,
                findings.synced_at,
                findings.as_of,
                findings.computed_at,
                datetime.now(UTC),
                findings.findings.num_rows,
                findings.identities.num_rows,
            ],
        )
        for name, data in (("boomi_findings", findings.findings), ("boomi_identities", findings.identities)):
            table = target.qualified(name)
            session.execute(f"DELETE FROM {table} WHERE account_id = ? AND sync_id = ?", key)
            rows[name] = session.insert_arrow(table, data)
        if create_views:
            create_findings_views(target, session)
    return FindingsLoadResult(findings.account_id, findings.sync_id, rows, replaced)
