"""The simulator's QueryFilter engine, without HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_boomi.testing.simulator.errors import SimulatorApiError
from airflow_provider_boomi.testing.simulator.filters import ARITY, QUERY_PROPERTIES, compile_query

ROWS: list[dict[str, Any]] = [
    {"id": "g1", "accountId": "acme-X", "name": "All Accounts", "defaultGroup": True,
     "autoSubscribeAlertLevel": "none"},
    {"id": "g2", "accountId": "acme-X", "name": "EMEA Customers", "defaultGroup": False,
     "autoSubscribeAlertLevel": "error"},
    {"id": "g3", "accountId": "acme-X", "name": "emea_partners", "defaultGroup": False,
     "autoSubscribeAlertLevel": "info"},
    {"id": "g4", "accountId": "acme-X", "name": "Sandbox", "defaultGroup": False},
]  # fmt: skip


def simple(op: str, prop: str, *args: str) -> dict[str, Any]:
    return {"operator": op, "property": prop, "argument": list(args)}


def ids(expression: Any, object_type: str = "AccountGroup", rows: list[dict[str, Any]] = ROWS) -> list[str]:
    compiled = compile_query({"QueryFilter": {"expression": expression}}, object_type)
    return [r["id"] for r in rows if compiled.matches(r)]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (simple("EQUALS", "name", "Sandbox"), ["g4"]),
        (simple("EQUALS", "name", "sandbox"), []),  # EQUALS is exact outside userId
        (simple("NOT_EQUALS", "name", "Sandbox"), ["g1", "g2", "g3"]),
        (simple("LIKE", "name", "emea%"), ["g2", "g3"]),  # case-insensitive
        (simple("LIKE", "name", "%l_acc%"), ["g1"]),
        (simple("LIKE", "name", "emea\\_%"), []),  # no escape character: \\ is literal
        (simple("LIKE", "name", "_andbox"), ["g4"]),
        (simple("CONTAINS", "name", "Customers"), ["g2"]),
        (simple("NOT_CONTAINS", "name", "a"), ["g1", "g2"]),  # case-sensitive
        (simple("NOT_CONTAINS", "name", "Acc"), ["g2", "g3", "g4"]),
        (simple("STARTS_WITH", "name", "EMEA"), ["g2"]),
        (simple("IS_NULL", "autoSubscribeAlertLevel"), ["g4"]),
        (simple("IS_NOT_NULL", "autoSubscribeAlertLevel"), ["g1", "g2", "g3"]),
        (simple("BETWEEN", "id", "g2", "g3"), ["g2", "g3"]),
        (simple("GREATER_THAN", "id", "g2"), ["g3", "g4"]),
        (simple("GREATER_THAN_OR_EQUAL", "id", "g2"), ["g2", "g3", "g4"]),
        (simple("LESS_THAN", "id", "g2"), ["g1"]),
        (simple("LESS_THAN_OR_EQUAL", "id", "g2"), ["g1", "g2"]),
        (simple("EQUALS", "defaultGroup", "true"), ["g1"]),  # booleans compare as strings
        (simple("EQUALS", "defaultGroup", "false"), ["g2", "g3", "g4"]),
    ],
)
def test_every_operator(expression: dict[str, Any], expected: list[str]) -> None:
    assert ids(expression) == expected


def test_every_operator_is_covered() -> None:
    assert set(ARITY) == {
        "EQUALS", "NOT_EQUALS", "LIKE", "CONTAINS", "NOT_CONTAINS", "IS_NULL", "IS_NOT_NULL", "BETWEEN",
        "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL", "STARTS_WITH",
    }  # fmt: skip


def test_nesting_to_any_depth() -> None:
    expression = {
        "operator": "or",
        "nestedExpression": [
            simple("EQUALS", "name", "Sandbox"),
            {
                "operator": "and",
                "nestedExpression": [
                    simple("LIKE", "name", "emea%"),
                    {
                        "operator": "or",
                        "nestedExpression": [simple("EQUALS", "autoSubscribeAlertLevel", "info")],
                    },
                ],
            },
        ],
    }
    assert ids(expression) == ["g3", "g4"]


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        {"QueryFilter": {}},
        {"QueryFilter": None},
        {"@type": "QueryConfig", "QueryFilter": {"@type": "QueryFilter"}},
        {"QueryFilter": {"expression": {"operator": "and", "nestedExpression": []}}},
        {"QueryFilter": {"expression": {"operator": "or", "nestedExpression": []}}},
    ],
)
def test_query_all_forms(body: Any) -> None:
    compiled = compile_query(body, "AccountGroup")
    assert all(compiled.matches(r) for r in ROWS)


def test_type_keys_are_ignored_everywhere() -> None:
    expression = {"@type": "GroupingExpression", "operator": "and", "nestedExpression": [
        {"@type": "SimpleExpression", **simple("EQUALS", "name", "Sandbox")}]}  # fmt: skip
    assert ids(expression) == ["g4"]


def test_user_id_is_case_insensitive() -> None:
    rows = [{"id": "r1", "userId": "Mixed.Case@Example.COM"}, {"id": "r2", "userId": "other@x.example"}]
    assert ids(simple("EQUALS", "userId", "mixed.case@example.com"), "AccountUserRole", rows) == ["r1"]
    assert ids(simple("LIKE", "userId", "MIXED%"), "AccountUserRole", rows) == ["r1"]
    assert ids(simple("CONTAINS", "userId", "EXAMPLE.COM"), "AccountUserRole", rows) == ["r1"]


def test_index_hint_for_equality() -> None:
    body = {"QueryFilter": {"expression": {"operator": "and", "nestedExpression": [
        simple("EQUALS", "accountGroupId", "g1"), simple("EQUALS", "userId", "a@b.example")]}}}  # fmt: skip
    assert compile_query(body, "AccountGroupUserRole").index_hint == ("accountGroupId", "g1")
    or_body = {"QueryFilter": {"expression": {"operator": "or", "nestedExpression": [
        simple("EQUALS", "accountGroupId", "g1")]}}}  # fmt: skip
    assert compile_query(or_body, "AccountGroupUserRole").index_hint is None


@pytest.mark.parametrize(("object_type", "allowed"), sorted(QUERY_PROPERTIES.items()))
def test_unknown_property_is_400_naming_it_and_the_allowed_ones(
    object_type: str, allowed: tuple[str]
) -> None:
    with pytest.raises(SimulatorApiError) as err:
        compile_query({"QueryFilter": {"expression": simple("EQUALS", "email", "x")}}, object_type)
    assert err.value.status == 400
    assert "'email'" in err.value.message
    assert all(p in err.value.message for p in allowed)


@pytest.mark.parametrize(
    ("op", "args", "expected"),
    [("IS_NULL", ["x"], 0), ("IS_NOT_NULL", ["x"], 0), ("BETWEEN", ["a"], 2), ("EQUALS", [], 1),
     ("LIKE", ["a", "b"], 1)],
)  # fmt: skip
def test_wrong_arity_is_400(op: str, args: list[str], expected: int) -> None:
    with pytest.raises(SimulatorApiError) as err:
        compile_query({"QueryFilter": {"expression": simple(op, "name", *args)}}, "Role")
    assert err.value.status == 400
    assert op in err.value.message and f"exactly {expected}" in err.value.message


@pytest.mark.parametrize(
    "body",
    [
        {"filter": {}},  # a misspelt key must not silently select everything
        {"QueryFilter": {"expresion": {}}},
        {"QueryFilter": {"expression": simple("equals", "name", "x")}},  # operators are upper case
        {"QueryFilter": {"expression": {"operator": "AND", "nestedExpression": []}}},  # grouping lower
        {"QueryFilter": {"expression": {"operator": "and", "nestedExpression": "x"}}},
        {"QueryFilter": {"expression": {"operator": "EQUALS", "property": "name", "argument": "x"}}},
        {"QueryFilter": {"expression": "name = x"}},
        ["QueryFilter"],
    ],
)
def test_invalid_bodies_are_400(body: Any) -> None:
    with pytest.raises(SimulatorApiError) as err:
        compile_query(body, "Role")
    assert err.value.status == 400


def test_boolean_argument_is_coerced_to_its_string() -> None:
    body = {
        "QueryFilter": {"expression": {"operator": "EQUALS", "property": "defaultGroup", "argument": [True]}}
    }
    compiled = compile_query(body, "AccountGroup")
    assert [r["id"] for r in ROWS if compiled.matches(r)] == ["g1"]


def test_index_any_for_an_or_of_equalities_on_one_property() -> None:
    shares = {
        "QueryFilter": {
            "expression": {
                "operator": "and",
                "nestedExpression": [
                    {"operator": "EQUALS", "property": "accountId", "argument": ["a"]},
                    {
                        "operator": "or",
                        "nestedExpression": [
                            {"operator": "EQUALS", "property": "roleId", "argument": ["r1"]},
                            {"operator": "EQUALS", "property": "roleId", "argument": ["r2"]},
                        ],
                    },
                ],
            }
        }
    }
    assert compile_query(shares, "AccountUserRole").index_any == (("roleId", ("r1", "r2")),)
    mixed = json.loads(
        json.dumps(shares).replace(
            '"property": "roleId", "argument": ["r2"]', '"property": "userId", "argument": ["u"]'
        )
    )
    assert compile_query(mixed, "AccountUserRole").index_any == ()
