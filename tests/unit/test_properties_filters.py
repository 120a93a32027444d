"""Property: the client's QueryFilter and the simulator's filter engine mean the same thing.

The client builds request bodies (``QueryFilter.to_body()``); the simulator, written separately
from Boomi's documentation, compiles them into row predicates. Random filters over the demo
account's AccountUserRole rows are evaluated by the simulator's engine and by a small reference
evaluator written here from the documented semantics (userId compared without case; LIKE with
``%`` and ``_``, case-insensitive; other comparisons exact). Any disagreement means one of the
three misreads Boomi.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_boomi.client import QueryFilter
from airflow_provider_boomi.testing.simulator.filters import compile_query
from airflow_provider_boomi.testing.simulator.profiles import build_state

PROPERTIES = ("userId", "roleId")
OPERATORS = ("EQUALS", "NOT_EQUALS", "LIKE", "CONTAINS", "NOT_CONTAINS")


@cache
def _rows() -> tuple[dict[str, Any], ...]:
    return tuple(build_state("demo", 0).user_roles())


def _values(prop: str) -> list[str]:
    return sorted({str(row[prop]) for row in _rows()})


def _like_matches(value: str, pattern: str) -> bool:
    """SQL LIKE by dynamic programming (deliberately not a regex, unlike the simulator)."""
    value, pattern = value.lower(), pattern.lower()
    # reachable[j]: pattern[:i] can match value[:j]
    reachable = [True] + [False] * len(value)
    for ch in pattern:
        if ch == "%":
            seen = False
            for j in range(len(value) + 1):
                seen = seen or reachable[j]
                reachable[j] = seen
        else:
            reachable = [False] + [reachable[j] and (ch == "_" or ch == value[j]) for j in range(len(value))]
    return reachable[len(value)]


def _reference(expression: dict[str, Any], row: dict[str, Any]) -> bool:
    operator = expression["operator"]
    if operator == "and":
        return all(_reference(e, row) for e in expression["nestedExpression"])
    if operator == "or":
        return any(_reference(e, row) for e in expression["nestedExpression"])
    prop, (argument,) = expression["property"], expression["argument"]
    value = row.get(prop)
    if value is None:
        return operator in ("NOT_EQUALS", "NOT_CONTAINS")
    if prop == "userId":  # emails: Boomi ignores case
        value, argument = value.lower(), argument.lower()
    if operator == "EQUALS":
        return value == argument
    if operator == "NOT_EQUALS":
        return value != argument
    if operator == "CONTAINS":
        return argument in value
    if operator == "NOT_CONTAINS":
        return argument not in value
    assert operator == "LIKE"
    return _like_matches(value, argument)


@st.composite
def _argument(draw: st.DrawFn, prop: str, operator: str) -> str:
    """An argument likely to select something: a real value, a piece of one, or noise."""
    value = draw(st.sampled_from(_values(prop)))
    kind = draw(st.sampled_from(["whole", "piece", "case", "noise"]))
    if kind == "noise":
        return draw(st.text(alphabet="abcdeflmn.@-_%0123456789ABC", min_size=0, max_size=8))
    if kind == "case":
        value = value.upper() if draw(st.booleans()) else value.swapcase()
    if kind == "piece" or operator == "LIKE":
        start = draw(st.integers(0, len(value)))
        end = draw(st.integers(start, len(value)))
        value = value[start:end] if kind == "piece" else value
    if operator == "LIKE":
        # Replace random characters by single-character and run wildcards.
        chars = list(value)
        for index in draw(st.lists(st.integers(0, max(len(chars) - 1, 0)), max_size=4)):
            if chars:
                chars[index] = draw(st.sampled_from(["_", "%"]))
        pattern = "".join(chars)
        if draw(st.booleans()):
            pattern = "%" + pattern
        if draw(st.booleans()):
            pattern += "%"
        return pattern
    return value


@st.composite
def _simple(draw: st.DrawFn) -> QueryFilter:
    prop = draw(st.sampled_from(PROPERTIES))
    operator = draw(st.sampled_from(OPERATORS))
    return QueryFilter.expression(operator, prop, draw(_argument(prop, operator)))


_filters = st.recursive(
    _simple(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda fs: QueryFilter.all_of(*fs)),
        st.lists(children, min_size=1, max_size=3).map(lambda fs: QueryFilter.any_of(*fs)),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query_filter=_filters)
def test_simulator_engine_agrees_with_the_reference(query_filter: QueryFilter) -> None:
    body = query_filter.to_body()
    compiled = compile_query(body, "AccountUserRole")
    expression = body["QueryFilter"]["expression"]
    for row in _rows():
        assert compiled.matches(row) == _reference(expression, row), (expression, row)


@given(query_filter=_filters)
def test_bodies_are_plain_json_with_string_arguments(query_filter: QueryFilter) -> None:
    import json

    body = query_filter.to_body()
    assert json.loads(json.dumps(body)) == body

    def walk(expression: dict[str, Any]) -> None:
        if expression["operator"] in ("and", "or"):
            assert set(expression) == {"operator", "nestedExpression"}
            for nested in expression["nestedExpression"]:
                walk(nested)
        else:
            assert set(expression) == {"operator", "property", "argument"}
            assert all(isinstance(a, str) for a in expression["argument"])

    walk(body["QueryFilter"]["expression"])


@given(value=st.sampled_from(_values("userId")))
def test_equals_on_user_id_selects_exactly_that_users_rows(value: str) -> None:
    compiled = compile_query(QueryFilter.equals("userId", value.swapcase()).to_body(), "AccountUserRole")
    selected = [r for r in _rows() if compiled.matches(r)]
    assert selected == [r for r in _rows() if r["userId"].lower() == value.lower()]
    assert selected
