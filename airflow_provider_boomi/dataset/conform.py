"""Casting incoming rows to a table's exact schema, with errors that name the column.

Kept apart from the writer because it is pure (no I/O) and is the one place where the rules
"what may go into a snapshot column" live.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from .columns import column, repeated
from .errors import SchemaMismatchError
from .schemas import COMMON_COLUMNS, schema_for

__all__ = ["Rows", "conform"]

#: What a table writer accepts: Arrow data or a list of row dicts.
Rows: TypeAlias = pa.Table | pa.RecordBatch | Sequence[Mapping[str, Any]]

_COMMON_NAMES = tuple(f.name for f in COMMON_COLUMNS)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _precheck_python_values(table: str, field: pa.Field, values: list[Any]) -> None:
    """Refuse Python values that Arrow would silently coerce into something else.

    Arrow truncates 1.5 to 1 for an int column and turns "abc" into ["a", "b", "c"] for a list
    column; both would be data corruption rather than an error, so they are refused here.
    """
    # The common case, plain values, is recognised without a Python loop per value.
    if pa.types.is_integer(field.type):
        if set(map(type, values)) <= {int, type(None)}:
            return
        for i, v in enumerate(values):
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
                raise SchemaMismatchError(
                    table, field.name, f"row {i} has {_short(v)}; expected an integer ({field.type})"
                )
    elif pa.types.is_list(field.type):
        if set(map(type, values)) <= {list, tuple, type(None)}:
            return
        for i, v in enumerate(values):
            if v is not None and (isinstance(v, str | bytes) or not isinstance(v, Sequence)):
                raise SchemaMismatchError(
                    table, field.name, f"row {i} has {_short(v)}; expected a list of strings"
                )


def _first_bad_index(values: list[Any], type_: pa.DataType) -> int | None:
    for i, v in enumerate(values):
        try:
            pa.array([v], type=type_)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            return i
    return None


def _check_nulls(table: str, field: pa.Field, array: pa.Array | pa.ChunkedArray) -> None:
    if not field.nullable and array.null_count:
        first = pc.index(pc.is_null(array), True).as_py()
        raise SchemaMismatchError(
            table, field.name, f"row {first} has no value, but the column is required (not null)"
        )
    if pa.types.is_list(field.type) and not field.type.value_field.nullable:
        flat = pc.list_flatten(array)
        if flat.null_count:
            raise SchemaMismatchError(table, field.name, "a list contains null; list items must be strings")


def _check_common(table: str, name: str, array: pa.Array | pa.ChunkedArray, expected: Any) -> None:
    """A row for another account or snapshot must not land in this snapshot's partition."""
    if len(array) == 0:
        return
    # A scalar taken from a one-value column: pa.scalar would import pandas (see .columns).
    matches = pc.equal(array, column([expected], array.type)[0])
    if array.null_count or not pc.all(matches).as_py():
        first = pc.index(pc.fill_null(matches, False), False).as_py()
        raise SchemaMismatchError(
            table,
            name,
            f"row {first} has {_short(array[first].as_py())}, but this snapshot's {name} is "
            f"{_short(expected)}; omit the column to have it filled in",
        )


def _values(rows: Sequence[Mapping[str, Any]], name: str) -> list[Any]:
    """The column ``name`` of ``rows`` (``None`` where a row lacks it)."""
    try:
        return list(map(operator.itemgetter(name), rows))  # every row has it: no loop in Python
    except KeyError:
        return [row.get(name) for row in rows]


def _from_rows(table: str, schema: pa.Schema, rows: Sequence[Any], common: Mapping[str, Any]) -> pa.Table:
    known = set(schema.names)
    common_given = False
    for i, row in enumerate(rows):
        if type(row) is not dict and not isinstance(row, Mapping):
            raise SchemaMismatchError(table, None, f"row {i} is a {type(row).__name__}, expected a dict")
        keys = row.keys()
        if not keys <= known:
            unknown = next(k for k in row if k not in known)
            raise SchemaMismatchError(
                table, str(unknown), f"row {i} has a column the table does not have: {unknown!r}"
            )
        common_given = common_given or not keys.isdisjoint(common)
    columns: list[pa.Array] = []
    n = len(rows)
    for field in schema:
        if field.name in common:
            expected = common[field.name]
            for i, row in enumerate(rows) if common_given else ():
                v = row.get(field.name)
                if v is not None and v != expected:
                    raise SchemaMismatchError(
                        table,
                        field.name,
                        f"row {i} has {_short(v)}, but this snapshot's {field.name} is {_short(expected)}; "
                        "omit the column to have it filled in",
                    )
            columns.append(repeated(expected, field.type, n))
            continue
        values = _values(rows, field.name)
        _precheck_python_values(table, field, values)
        try:
            array = column(values, field.type)
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            bad = _first_bad_index(values, field.type)
            where = f"row {bad} has {_short(values[bad])}" if bad is not None else "a value"
            raise SchemaMismatchError(
                table, field.name, f"{where} that cannot be stored as {field.type}: {exc}"
            ) from exc
        _check_nulls(table, field, array)
        columns.append(array)
    return pa.Table.from_arrays(columns, schema=schema)


def _from_arrow(table: str, schema: pa.Schema, data: pa.Table, common: Mapping[str, Any]) -> pa.Table:
    known = set(schema.names)
    unknown = [c for c in data.column_names if c not in known]
    if unknown:
        raise SchemaMismatchError(table, unknown[0], f"the table does not have a column {unknown[0]!r}")
    if len(set(data.column_names)) != len(data.column_names):
        raise SchemaMismatchError(table, None, "the data has duplicate column names")
    columns: list[pa.ChunkedArray | pa.Array] = []
    for field in schema:
        if field.name not in data.column_names:
            if field.name in common:
                columns.append(repeated(common[field.name], field.type, data.num_rows))
                continue
            raise SchemaMismatchError(
                table, field.name, "the column is missing (pass it, with nulls if Boomi had no value)"
            )
        values = data[field.name]
        try:
            values = values.cast(field.type, safe=True)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise SchemaMismatchError(
                table,
                field.name,
                f"a {data.schema.field(field.name).type} column cannot be stored as {field.type}: {exc}",
            ) from exc
        if field.name in common:
            _check_common(table, field.name, values, common[field.name])
        _check_nulls(table, field, values)
        columns.append(values)
    return pa.Table.from_arrays(columns, schema=schema)


def conform(table: str, data: Rows, *, account_id: str, sync_id: str, synced_at: datetime) -> pa.Table:
    """Return ``data`` as a table with exactly the schema of ``table``.

    ``account_id``, ``sync_id`` and ``synced_at`` are filled in when the data lacks them and
    checked when it has them. Column order in the input does not matter; unknown columns, values
    that do not fit the column type, and nulls in required columns raise
    :class:`SchemaMismatchError` naming the table and the column.
    """
    schema = schema_for(table)
    common = {"account_id": account_id, "sync_id": sync_id, "synced_at": synced_at}
    if isinstance(data, pa.RecordBatch):
        return _from_arrow(table, schema, pa.Table.from_batches([data]), common)
    if isinstance(data, pa.Table):
        return _from_arrow(table, schema, data, common)
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        return _from_rows(table, schema, data, common)
    raise SchemaMismatchError(
        table,
        None,
        f"cannot write a {type(data).__name__}; pass a pyarrow Table, RecordBatch or a list of dicts",
    )
