"""The optional inputs of the findings: logins, federation ids, earlier revocations.

Each is a plain typed frame with documented columns, so that whatever produces it later (the
sync reading Boomi's audit log and AccountUserFederation objects, the review reading its
decisions) only has to fill the columns. Each ``as_*`` function accepts an Arrow table, a pandas
frame, a list of dicts or a Parquet path, checks the columns and casts them to the exact schema;
anything that would make a finding wrong (a naive timestamp, a null where a value is needed, a
user listed twice) is refused with a message saying what to fix.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airflow_provider_boomi.dataset.paths import resolve_location
from airflow_provider_boomi.dataset.schemas import TIMESTAMP_UTC

__all__ = [
    "FEDERATION_SCHEMA",
    "LOGINS_SCHEMA",
    "REVOCATIONS_SCHEMA",
    "as_federation",
    "as_logins",
    "as_revocations",
]


def _f(name: str, type_: pa.DataType, nullable: bool, description: str) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


LOGINS_SCHEMA = pa.schema(
    [
        _f("user_id", pa.string(), False, "Boomi userId."),
        _f(
            "last_login_at",
            TIMESTAMP_UTC,
            True,
            "The user's latest login within the window read; null when the window holds none.",
        ),
        _f("window_start", TIMESTAMP_UTC, False, "Start of the window of the audit log that was read."),
    ]
)
"""Logins: one row per user whose logins were looked for. A user without a row is ``dormant_unknown``."""

FEDERATION_SCHEMA = pa.schema(
    [
        _f("user_id", pa.string(), False, "Boomi userId."),
        _f("federation_id", pa.string(), True, "The user's SSO federation id; null or absent: none."),
    ]
)
"""Federation ids (Boomi's AccountUserFederation): the complete list of the account's. A user
without a row, or with a null id, has no federation id."""

REVOCATIONS_SCHEMA = pa.schema(
    [
        _f("user_id", pa.string(), False, "Boomi userId whose grant was revoked."),
        _f("role_id", pa.string(), False, "Role revoked."),
        _f("account_group_id", pa.string(), True, "Account group of a group grant; null for a global role."),
        _f("revoked_at", TIMESTAMP_UTC, False, "When the revocation took effect."),
        _f(
            "revoked_in", pa.string(), True, "Where it was decided or recorded (a campaign id, a ledger run)."
        ),
    ]
)
"""Revocations of earlier reviews: a grant revoked before the snapshot and present in it is ``regranted``."""


def _as_table(data: Any, what: str) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, str | os.PathLike) or hasattr(data, "fs"):
        location = resolve_location(data)
        with location.fs.open(location.root, "rb") as handle:
            return pq.ParquetFile(handle).read()
    if isinstance(data, Iterable) and not isinstance(data, str | bytes):
        rows = list(data)
        if not rows:
            raise ValueError(f"{what}: an empty list has no columns; pass an empty table of the schema")
        return pa.Table.from_pylist(rows)
    raise TypeError(f"{what}: expected an Arrow table, a DataFrame, a list of dicts or a Parquet path")


def _cast(data: Any, schema: pa.Schema, what: str) -> pa.Table:
    table = _as_table(data, what)
    missing = [name for name in schema.names if name not in table.column_names]
    optional = {f.name for f in schema if f.nullable}
    required_missing = [name for name in missing if name not in optional]
    if required_missing:
        raise ValueError(f"{what}: missing column(s) {required_missing}; the columns are {schema.names}")
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table.column(field.name)
        if (
            pa.types.is_timestamp(field.type)
            and pa.types.is_timestamp(column.type)
            and column.type.tz is None
        ):
            raise ValueError(
                f"{what}: column {field.name!r} has timestamps without a time zone; give them in UTC "
                "(a naive time is ambiguous by hours, which decides dormancy and regrants)"
            )
        try:
            column = column.cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValueError(
                f"{what}: column {field.name!r} cannot be read as {field.type} ({exc})"
            ) from None
        if not field.nullable and column.null_count:
            raise ValueError(
                f"{what}: column {field.name!r} has {column.null_count} empty value(s); fill them"
            )
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _unique_users(table: pa.Table, what: str) -> pa.Table:
    counts = pc.value_counts(table.column("user_id")).to_pylist()
    repeated = sorted(c["values"] for c in counts if c["counts"] > 1)
    if repeated:
        raise ValueError(f"{what}: user(s) listed more than once: {repeated[:5]}; give one row per user")
    return table


def as_logins(data: Any) -> pa.Table:
    """Check and cast a logins frame to :data:`LOGINS_SCHEMA` (one row per user).

    :raises ValueError: a column is missing or of another type, a timestamp is naive, a user
        repeats, or a login lies before its own window.
    """
    table = _unique_users(_cast(data, LOGINS_SCHEMA, "logins"), "logins")
    before = pc.sum(pc.less(table.column("last_login_at"), table.column("window_start"))).as_py()
    if before:
        raise ValueError(f"logins: {before} row(s) have last_login_at before their window_start")
    return table


def as_federation(data: Any) -> pa.Table:
    """Check and cast a federation frame to :data:`FEDERATION_SCHEMA` (one row per user)."""
    return _unique_users(_cast(data, FEDERATION_SCHEMA, "federation"), "federation")


def as_revocations(data: Any) -> pa.Table:
    """Check and cast earlier revocations to :data:`REVOCATIONS_SCHEMA` (a grant may repeat)."""
    return _cast(data, REVOCATIONS_SCHEMA, "previous_revocations")
