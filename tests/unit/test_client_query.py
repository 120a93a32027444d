"""QueryFilter: request bodies, argument coercion and arity checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from airflow_provider_boomi.client import OPERATOR_ARITY, QueryFilter


def test_equals_body() -> None:
    assert QueryFilter.equals("name", "Standard User").to_body() == {
        "QueryFilter": {
            "expression": {"operator": "EQUALS", "property": "name", "argument": ["Standard User"]}
        }
    }


@pytest.mark.parametrize(
    ("built", "operator", "args"),
    [
        (QueryFilter.not_equals("userId", "a@b.c"), "NOT_EQUALS", ["a@b.c"]),
        (QueryFilter.like("name", "Dum%"), "LIKE", ["Dum%"]),
        (QueryFilter.contains("name", "x"), "CONTAINS", ["x"]),
        (QueryFilter.not_contains("name", "x"), "NOT_CONTAINS", ["x"]),
        (QueryFilter.is_null("parentId"), "IS_NULL", []),
        (QueryFilter.is_not_null("parentId"), "IS_NOT_NULL", []),
        (QueryFilter.between("name", "a", "m"), "BETWEEN", ["a", "m"]),
        (QueryFilter.greater_than("n", 5), "GREATER_THAN", ["5"]),
        (QueryFilter.greater_than_or_equal("n", 5), "GREATER_THAN_OR_EQUAL", ["5"]),
        (QueryFilter.less_than("n", 1.5), "LESS_THAN", ["1.5"]),
        (QueryFilter.less_than_or_equal("n", 0), "LESS_THAN_OR_EQUAL", ["0"]),
    ],
)
def test_simple_operators(built: QueryFilter, operator: str, args: list[str]) -> None:
    expression = built.to_body()["QueryFilter"]["expression"]
    assert expression["operator"] == operator
    assert expression["argument"] == args
    assert len(args) == OPERATOR_ARITY[operator]


def test_booleans_and_dates_become_strings() -> None:
    assert QueryFilter.equals("defaultGroup", True).arguments == ("true",)
    assert QueryFilter.equals("defaultGroup", False).arguments == ("false",)
    paris = timezone(timedelta(hours=2))
    when = datetime(2024, 5, 1, 12, 0, 0, tzinfo=paris)
    assert QueryFilter.greater_than("dateCreated", when).arguments == ("2024-05-01T10:00:00Z",)
    assert QueryFilter.equals("d", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)).arguments == (
        "2024-01-02T03:04:05Z",
    )


def test_grouping_nests_lower_case() -> None:
    body = QueryFilter.all_of(
        QueryFilter.equals("accountGroupId", "g-1"),
        QueryFilter.any_of(QueryFilter.equals("roleId", "r-1"), QueryFilter.equals("roleId", "r-2")),
    ).to_body()
    expression = body["QueryFilter"]["expression"]
    assert expression["operator"] == "and"
    assert expression["nestedExpression"][0]["property"] == "accountGroupId"
    inner = expression["nestedExpression"][1]
    assert inner["operator"] == "or"
    assert [e["argument"] for e in inner["nestedExpression"]] == [["r-1"], ["r-2"]]


def test_immutable_and_hashable() -> None:
    f = QueryFilter.equals("userId", "a@b.c")
    with pytest.raises(AttributeError):
        f.operator = "LIKE"  # type: ignore[misc]
    assert f == QueryFilter.equals("userId", "a@b.c")
    assert hash(f) == hash(QueryFilter.equals("userId", "a@b.c"))


@pytest.mark.parametrize(
    "build",
    [
        lambda: QueryFilter.expression("EQUALS", "name"),
        lambda: QueryFilter.expression("EQUALS", "name", "a", "b"),
        lambda: QueryFilter.expression("BETWEEN", "name", "a"),
        lambda: QueryFilter.expression("IS_NULL", "name", "a"),
        lambda: QueryFilter.expression("STARTS_WITH", "name", "a"),
        lambda: QueryFilter.expression("equals", "name", "a"),
        lambda: QueryFilter.equals("", "a"),
        lambda: QueryFilter.equals("bad property", "a"),
        lambda: QueryFilter.all_of(),
        lambda: QueryFilter.any_of(),
        lambda: QueryFilter(operator="EQUALS", property="name", arguments=(1,)),  # type: ignore[arg-type]
        lambda: QueryFilter(operator="and", property="name", nested=(QueryFilter.is_null("x"),)),
    ],
)
def test_invalid_filters_fail_client_side(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_unsupported_argument_type() -> None:
    with pytest.raises(TypeError):
        QueryFilter.equals("name", object())
    with pytest.raises(TypeError):
        QueryFilter.equals("name", None)
