"""Review progress in the warehouse: a campaign's status per reviewer, and its remediation.

Two tables, next to the snapshot tables:

- ``boomi_review_status``: per campaign, day (``as_of``) and reviewer, how many items the
  reviewer has, how many are decided, pending and overdue, and the due date;
- ``boomi_review_remediation``: per campaign, day and revoke decision, where its removal
  stands (``pending``, ``applied``, ``verified``, ``contradicted`` or ``overdue``) against its
  deadline.

A load replaces the rows of one ``(campaign_id, as_of)`` in one transaction: a daily run that
is retried, or run twice, keeps one picture per day, and the days before stay as history.
Plain Python (no Airflow import, nothing from :mod:`~airflow_provider_boomi.review`): callers
hand in plain rows; the operators build them from the campaign.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from .schema import _check_columns
from .tables import sql_type
from .targets import WarehouseTarget

__all__ = [
    "REVIEW_REMEDIATION_SCHEMA",
    "REVIEW_REMEDIATION_TABLE",
    "REVIEW_STATUS_SCHEMA",
    "REVIEW_STATUS_TABLE",
    "load_review_remediation",
    "load_review_status",
]

REVIEW_STATUS_TABLE = "boomi_review_status"
REVIEW_REMEDIATION_TABLE = "boomi_review_remediation"

_KEY = [
    pa.field("campaign_id", pa.string(), nullable=False),
    pa.field("account_id", pa.string(), nullable=False),
    pa.field("as_of", pa.date32(), nullable=False),
]
_LOADED_AT = pa.field("loaded_at", pa.timestamp("us", tz="UTC"), nullable=False)

REVIEW_STATUS_SCHEMA = pa.schema(
    [
        *_KEY,
        # NULL: the items nobody was assigned to (the campaign's "unassigned" workbook).
        pa.field("reviewer", pa.string()),
        pa.field("items", pa.int64(), nullable=False),
        pa.field("decided", pa.int64(), nullable=False),
        pa.field("pending", pa.int64(), nullable=False),
        pa.field("overdue", pa.int64(), nullable=False),
        pa.field("due_date", pa.date32()),
        _LOADED_AT,
    ]
)
"""Columns of ``boomi_review_status``; one row per campaign, day and reviewer."""

REVIEW_REMEDIATION_SCHEMA = pa.schema(
    [
        *_KEY,
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("grant_kind", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("role_id", pa.string(), nullable=False),
        pa.field("account_group_id", pa.string()),
        pa.field("reviewer", pa.string()),
        pa.field("decided_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("deadline", pa.date32(), nullable=False),
        pa.field("state", pa.string(), nullable=False),
        pa.field("ledger_outcome", pa.string()),
        pa.field("applied_at", pa.timestamp("us", tz="UTC")),
        pa.field("verified_sync_id", pa.string()),
        pa.field("verified_at", pa.timestamp("us", tz="UTC")),
        pa.field("detail", pa.string()),
        _LOADED_AT,
    ]
)
"""Columns of ``boomi_review_remediation``; one row per campaign, day and revoke decision."""

_SCHEMAS = {REVIEW_STATUS_TABLE: REVIEW_STATUS_SCHEMA, REVIEW_REMEDIATION_TABLE: REVIEW_REMEDIATION_SCHEMA}


def _sql_type(field: pa.Field, dialect: str) -> str:
    # The snapshot tables have no DATE column, so the shared mapping has no date type.
    if pa.types.is_date32(field.type):
        return "DATE"
    return sql_type(field.type, dialect)


def _ensure_table(target: WarehouseTarget, session: Any, table: str) -> str:
    schema = _SCHEMAS[table]
    if target.schema:
        session.execute(f"CREATE SCHEMA IF NOT EXISTS {target.schema}")
    name = target.qualified(table)
    body = ",\n    ".join(
        f"{f.name} {_sql_type(f, session.dialect)}{'' if f.nullable else ' NOT NULL'}" for f in schema
    )
    session.execute(f"CREATE TABLE IF NOT EXISTS {name} (\n    {body}\n)")
    # A table of another version fails loudly rather than receiving misaligned rows.
    _check_columns(session, name, list(schema.names))
    return name


def _key(campaign_id: object, account_id: object, as_of: object) -> tuple[str, str, date]:
    if not isinstance(campaign_id, str) or not campaign_id:
        raise ValueError(f"campaign_id must be the campaign's id, got {campaign_id!r}")
    if not isinstance(account_id, str) or not account_id:
        raise ValueError(f"account_id must be the campaign's account id, got {account_id!r}")
    if not isinstance(as_of, date) or isinstance(as_of, datetime):
        raise ValueError(f"as_of must be a date (the day the status is for), got {as_of!r}")
    return campaign_id, account_id, as_of


def _replace(
    target: WarehouseTarget,
    table: str,
    key: tuple[str, str, date],
    rows: Sequence[Mapping[str, Any]],
) -> int:
    schema = _SCHEMAS[table]
    stamped = {"campaign_id": key[0], "account_id": key[1], "as_of": key[2], "loaded_at": datetime.now(UTC)}
    given = [name for name in schema.names if name not in stamped]
    records = []
    for number, row in enumerate(rows, start=1):
        unknown = sorted(set(row) - set(given))
        missing = [f.name for f in schema if f.name in given and not f.nullable and row.get(f.name) is None]
        if unknown or missing:
            raise ValueError(
                f"{table} row {number} has "
                + "; ".join(
                    part
                    for part in (
                        f"unknown columns {unknown}" if unknown else "",
                        f"no value for {missing}" if missing else "",
                    )
                    if part
                )
                + f"; the columns are {given}"
            )
        records.append({**{name: row.get(name) for name in given}, **stamped})
    data = pa.Table.from_pylist(records, schema=schema)
    with target.transaction() as session:
        name = _ensure_table(target, session, table)
        session.execute(f"DELETE FROM {name} WHERE campaign_id = ? AND as_of = ?", [key[0], key[2]])
        return session.insert_arrow(name, data)


def load_review_status(
    target: WarehouseTarget,
    rows: Sequence[Mapping[str, Any]],
    *,
    campaign_id: str,
    account_id: str,
    as_of: date,
) -> int:
    """Replace the status rows of ``campaign_id`` on day ``as_of`` with ``rows``; return their count.

    :param target: the warehouse (:class:`~.targets.DuckDBTarget`, :class:`~.targets.SqlAlchemyTarget`
        or :class:`~.targets.DbApiTarget`).
    :param rows: one mapping per reviewer with ``reviewer`` (``None`` for unassigned items),
        ``items``, ``decided``, ``pending``, ``overdue`` and ``due_date`` (a date or ``None``).
    :param campaign_id: the campaign.
    :param account_id: its Boomi account.
    :param as_of: the day the status describes.
    :raises ValueError: a row lacks a count or has a column the table does not know.
    """
    return _replace(target, REVIEW_STATUS_TABLE, _key(campaign_id, account_id, as_of), rows)


def load_review_remediation(
    target: WarehouseTarget,
    rows: Sequence[Mapping[str, Any]],
    *,
    campaign_id: str,
    account_id: str,
    as_of: date,
) -> int:
    """Replace the remediation rows of ``campaign_id`` on day ``as_of`` with ``rows``.

    :param target: the warehouse.
    :param rows: one mapping per revoke decision with the columns of
        :data:`REVIEW_REMEDIATION_SCHEMA` other than ``campaign_id``, ``account_id``, ``as_of``
        and ``loaded_at`` (what
        :meth:`~airflow_provider_boomi.review.remediation.RemediationItem.to_row` returns).
    :param campaign_id: the campaign.
    :param account_id: its Boomi account.
    :param as_of: the day the rows describe.
    :returns: the number of rows loaded.
    :raises ValueError: a row lacks a required value or has a column the table does not know.
    """
    return _replace(target, REVIEW_REMEDIATION_TABLE, _key(campaign_id, account_id, as_of), rows)
