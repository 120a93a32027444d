"""Arrow columns from plain Python values, built from buffers.

Why not ``pa.array``: every call of it from Python values (a list) asks pyarrow's pandas shim
whether the list is pandas data, and that question imports pandas, 35 MB of a sync's resident
memory that the sync never uses (measured on the ``large`` profile, issue 15). The snapshot's
column types are few (string, bool, int32, UTC microsecond timestamps, lists of strings), so
their columns are built here from validity bitmaps, offsets and data buffers with
``pa.Array.from_buffers``, which imports nothing.

Only values of exactly the plain type take this path (``str``, ``bool``, ``int`` within range,
``datetime``, ``list``/``tuple`` of ``str``, and ``None``). :func:`column` falls back to
``pa.array`` for anything else, whose conversion rules and errors then apply as before; so this
module changes how a column is built, never what it holds (a test compares the two).
"""

from __future__ import annotations

import array
import itertools
import operator
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["column", "plain_column", "repeated"]

_INT32 = (-(2**31), 2**31 - 1)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _bitmap(flags: Sequence[bool]) -> pa.Buffer:
    """Arrow's bit-packed bitmap (least significant bit first) of ``flags``."""
    bits = np.fromiter(flags, dtype=np.bool_, count=len(flags))
    return pa.py_buffer(np.packbits(bits, bitorder="little"))


def _has_nulls(values: Sequence[Any]) -> bool:
    return any(map(operator.is_, values, itertools.repeat(None)))


def _validity(values: Sequence[Any]) -> pa.Buffer | None:
    """The validity bitmap, or ``None`` when no value is null (Arrow's cheaper form)."""
    if not _has_nulls(values):
        return None
    return _bitmap(list(map(operator.is_not, values, itertools.repeat(None))))


def _strings(values: Sequence[str | None]) -> pa.Array:
    if _has_nulls(values):
        encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    else:
        encoded = list(map(str.encode, values))  # type: ignore[arg-type]
    offsets = array.array("i", [0])
    offsets.extend(itertools.accumulate(map(len, encoded)))
    if offsets[-1] > _INT32[1]:  # pragma: no cover - 2 GB of text in one batch
        raise OverflowError("more than 2 GB of text in one column batch")
    return pa.Array.from_buffers(
        pa.string(),
        len(values),
        [_validity(values), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
    )


_NONE = type(None)


def _all_plain(values: Sequence[Any], type_: pa.DataType) -> bool:
    """Whether every value is ``None`` or of exactly the plain Python type of ``type_``.

    ``type(...) is`` on purpose: subclasses (numpy scalars, pandas timestamps, ``bool`` for an
    int) keep Arrow's own conversion rules by falling back. The types are collected with
    ``map`` and ``set`` (no Python loop per value): this runs on every batch a sync writes.
    """
    kinds = set(map(type, values))
    if pa.types.is_string(type_):
        return kinds <= {str, _NONE}
    if pa.types.is_boolean(type_):
        return kinds <= {bool, _NONE}
    if pa.types.is_int32(type_):
        if not kinds <= {int, _NONE}:
            return False
        numbers = [v for v in values if v is not None]
        return not numbers or (_INT32[0] <= min(numbers) and max(numbers) <= _INT32[1])
    if pa.types.is_timestamp(type_):
        return type_.unit == "us" and kinds <= {datetime, _NONE}
    if pa.types.is_list(type_) and pa.types.is_string(type_.value_type):
        return kinds <= {list, tuple, _NONE} and {
            type(item) for v in values if v is not None for item in v
        } <= {str}
    return False


def _microseconds(value: datetime) -> int:
    # Arrow's rule: an aware time is converted to UTC; a naive one is taken as UTC already.
    epoch = _EPOCH_NAIVE if value.tzinfo is None else _EPOCH_UTC
    return (value - epoch) // _MICROSECOND


def plain_column(values: Sequence[Any], type_: pa.DataType) -> pa.Array | None:
    """``values`` as an Arrow array of ``type_``, or ``None`` when they are not all plain.

    Equal to ``pa.array(values, type=type_)`` for the plain values listed in the module's
    docstring, without importing pandas. ``None`` means "use ``pa.array``": a value of another
    Python type, an int out of range, or a column type this module does not build.
    """
    if not _all_plain(values, type_):
        return None
    n = len(values)
    if pa.types.is_string(type_):
        return _strings(values)
    if pa.types.is_boolean(type_):
        truths = list(map(operator.is_, values, itertools.repeat(True)))
        return pa.Array.from_buffers(type_, n, [_validity(values), _bitmap(truths)])
    if pa.types.is_int32(type_):
        data = array.array("i", (0 if v is None else v for v in values))
        return pa.Array.from_buffers(type_, n, [_validity(values), pa.py_buffer(data)])
    if pa.types.is_timestamp(type_):
        data = array.array("q", (0 if v is None else _microseconds(v) for v in values))
        return pa.Array.from_buffers(type_, n, [_validity(values), pa.py_buffer(data)])
    # A list of strings: offsets into one flat string column.
    items = [item for v in values if v is not None for item in v]
    offsets = array.array("i", [0])
    offsets.extend(itertools.accumulate(0 if v is None else len(v) for v in values))
    flat = _strings(items)
    return pa.Array.from_buffers(type_, n, [_validity(values), pa.py_buffer(offsets)], children=[flat])


def column(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    """``pa.array(values, type=type_)``, built without pandas when the values are plain.

    :raises pa.ArrowException: (or ``TypeError``, ``ValueError``, ``OverflowError``) as
        ``pa.array`` does, for values that do not fit ``type_``.
    """
    built = plain_column(values, type_)
    return built if built is not None else pa.array(values, type=type_)


def repeated(value: Any, type_: pa.DataType, n: int) -> pa.Array:
    """``n`` times ``value`` as an array of ``type_`` (a column every row of which is the same)."""
    if n == 0:  # Arrow cannot repeat an empty list value zero times
        return column([], type_)
    return pa.repeat(column([value], type_)[0], n)
