"""Columns built from buffers hold exactly what ``pa.array`` would build, for every snapshot type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_boomi.dataset.columns import column, plain_column, repeated
from airflow_provider_boomi.dataset.schemas import TABLES, TIMESTAMP_UTC, schema_for

STRING_LIST = pa.list_(pa.field("element", pa.string(), nullable=False))
_zones = st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
_times = st.builds(
    lambda moment, zone: moment if zone is None else moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    _zones,
)
PLAIN: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "string": (pa.string(), st.text()),
    "bool": (pa.bool_(), st.booleans()),
    "int32": (pa.int32(), st.integers(min_value=-(2**31), max_value=2**31 - 1)),
    "timestamp": (TIMESTAMP_UTC, _times),
    "string list": (STRING_LIST, st.lists(st.text(), max_size=4) | st.tuples(st.text())),
}


def test_every_snapshot_column_type_is_covered() -> None:
    types = {field.type for name in TABLES for field in schema_for(name)}
    assert types <= {type_ for type_, _ in PLAIN.values()}, types


@pytest.mark.parametrize("kind", sorted(PLAIN))
@settings(deadline=None)  # the first pa.array of the process imports pandas
@given(data=st.data())
def test_plain_values_build_what_pa_array_builds(kind: str, data: st.DataObject) -> None:
    type_, values = PLAIN[kind]
    given_values = data.draw(st.lists(st.none() | values, max_size=40))
    built = plain_column(given_values, type_)
    assert built is not None
    built.validate(full=True)
    assert built.equals(pa.array(given_values, type=type_))


@pytest.mark.parametrize(
    ("values", "type_"),
    [
        ([b"bytes"], pa.string()),
        ([np.int32(3)], pa.int32()),
        ([2**31], pa.int32()),
        ([True], pa.int32()),
        ([1], pa.bool_()),
        (["2024-01-01"], TIMESTAMP_UTC),
        (["abc"], STRING_LIST),
        ([[1]], STRING_LIST),
        (["x"], pa.int64()),
    ],
)
def test_anything_else_is_left_to_pa_array(values: list[Any], type_: pa.DataType) -> None:
    assert plain_column(values, type_) is None
    try:
        expected = pa.array(values, type=type_)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        with pytest.raises(type(exc)):
            column(values, type_)
    else:
        assert column(values, type_).equals(expected)


@pytest.mark.parametrize("kind", sorted(PLAIN))
@settings(deadline=None)
@given(data=st.data())
def test_a_repeated_value_is_the_column_of_that_value(kind: str, data: st.DataObject) -> None:
    type_, values = PLAIN[kind]
    value = data.draw(st.none() | values)
    n = data.draw(st.integers(min_value=0, max_value=20))
    assert repeated(value, type_, n).equals(pa.array([value] * n, type=type_))
