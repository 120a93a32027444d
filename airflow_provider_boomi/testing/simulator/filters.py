"""The QueryFilter engine: turns a Boomi query body into a row predicate.

Boomi's grammar: ``{"QueryFilter": {"expression": E}}`` where ``E`` is either a simple expression
``{"operator": OP, "property": P, "argument": [strings]}`` or a grouping expression
``{"operator": "and" | "or", "nestedExpression": [E, ...]}`` nested to any depth.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import SimulatorApiError

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

QUERY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "Role": ("name", "parentId"),
    "AccountUserRole": ("accountId", "userId", "roleId"),
    "AccountGroup": ("id", "accountId", "name", "defaultGroup", "autoSubscribeAlertLevel"),
    "AccountGroupUserRole": ("accountGroupId", "userId", "roleId"),
}
"""The properties each object may be filtered on, as Boomi documents them."""

ARITY: dict[str, int] = {
    "EQUALS": 1,
    "NOT_EQUALS": 1,
    "LIKE": 1,
    "CONTAINS": 1,
    "NOT_CONTAINS": 1,
    "STARTS_WITH": 1,
    "IS_NULL": 0,
    "IS_NOT_NULL": 0,
    "BETWEEN": 2,
    "GREATER_THAN": 1,
    "GREATER_THAN_OR_EQUAL": 1,
    "LESS_THAN": 1,
    "LESS_THAN_OR_EQUAL": 1,
}
"""Simple operators and how many arguments each takes."""

CASE_INSENSITIVE_PROPERTIES = frozenset({"userId"})
"""User ids are emails: Boomi matches them without regard to case."""


@dataclass(frozen=True)
class CompiledQuery:
    """A parsed query: the predicate, plus an equality a table index may serve (``None``: scan)."""

    predicate: Predicate
    index_hint: tuple[str, str] | None = None

    def matches(self, row: Row) -> bool:
        """Whether ``row`` is selected."""
        return self.predicate(row)


def _match_all(_row: Row) -> bool:
    return True


MATCH_ALL = CompiledQuery(_match_all)


def _bad(message: str) -> SimulatorApiError:
    return SimulatorApiError(400, message)


def _strip_type(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "@type"}


def compile_query(body: Any, object_type: str) -> CompiledQuery:
    """Compile a query request body (already JSON-decoded; ``None`` for no body) for ``object_type``.

    "Query everything" is no body, ``{}``, ``{"QueryFilter": {}}`` or an ``and``/``or`` with no nested
    expressions. Unknown top-level keys are refused rather than ignored, so that a misspelt filter
    can never silently select every row. Raises ``SimulatorApiError`` (400) on anything invalid.
    """
    if body is None:
        return MATCH_ALL
    if not isinstance(body, Mapping):
        raise _bad("The query request body must be a JSON object with a QueryFilter.")
    top = _strip_type(body)
    unknown = sorted(set(top) - {"QueryFilter"})
    if unknown:
        raise _bad(f"Unknown field(s) in query request: {', '.join(unknown)}; expected QueryFilter.")
    query_filter = top.get("QueryFilter")
    if query_filter is None:
        return MATCH_ALL
    if not isinstance(query_filter, Mapping):
        raise _bad("QueryFilter must be a JSON object.")
    qf = _strip_type(query_filter)
    unknown = sorted(set(qf) - {"expression"})
    if unknown:
        raise _bad(f"Unknown field(s) in QueryFilter: {', '.join(unknown)}; expected expression.")
    expression = qf.get("expression")
    if expression is None:
        return MATCH_ALL
    predicate = _compile(expression, object_type)
    return CompiledQuery(predicate, _index_hint(expression))


def _index_hint(expression: Any) -> tuple[str, str] | None:
    """An EQUALS that every selected row must satisfy (top level, or inside a top-level ``and``)."""
    candidates = [expression]
    if isinstance(expression, Mapping) and expression.get("operator") == "and":
        nested = expression.get("nestedExpression")
        candidates = list(nested) if isinstance(nested, list) else []
    for cand in candidates:
        if (
            isinstance(cand, Mapping)
            and cand.get("operator") == "EQUALS"
            and isinstance(cand.get("argument"), list)
            and len(cand["argument"]) == 1
            and isinstance(cand.get("property"), str)
        ):
            return cand["property"], _as_text(cand["argument"][0])
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _row_value(row: Row, prop: str) -> str | None:
    value = row.get(prop)
    if value is None:
        return None
    return _as_text(value)


def like_to_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE (``%`` any run, ``_`` one character) as a case-insensitive full-match regex."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _compile(expr: Any, object_type: str) -> Predicate:
    if not isinstance(expr, Mapping):
        raise _bad("A query expression must be a JSON object.")
    operator = expr.get("operator")
    if "nestedExpression" in expr or operator in ("and", "or"):
        return _compile_grouping(expr, operator, object_type)
    return _compile_simple(expr, operator, object_type)


def _compile_grouping(expr: Mapping[str, Any], operator: Any, object_type: str) -> Predicate:
    if operator not in ("and", "or"):
        raise _bad(f"Invalid grouping operator {operator!r}: use 'and' or 'or' (lower case).")
    nested = expr.get("nestedExpression")
    if nested is None:
        nested = []
    elif isinstance(nested, Mapping):  # one nested expression, as XML-to-JSON converters emit it
        nested = [nested]
    if not isinstance(nested, list):
        raise _bad("nestedExpression must be a list of expressions.")
    preds = [_compile(e, object_type) for e in nested]
    if not preds:
        return _match_all
    if operator == "and":
        return lambda row: all(p(row) for p in preds)
    return lambda row: any(p(row) for p in preds)


def _compile_simple(expr: Mapping[str, Any], operator: Any, object_type: str) -> Predicate:
    if operator not in ARITY:
        raise _bad(
            f"Invalid query operator {operator!r}; expected one of {', '.join(ARITY)} "
            "or a grouping operator 'and'/'or'."
        )
    allowed = QUERY_PROPERTIES.get(object_type, ())
    prop = expr.get("property")
    if prop not in allowed:
        raise _bad(
            f"Invalid query property {prop!r} for {object_type}; allowed properties: {', '.join(allowed)}."
        )
    raw_args = expr.get("argument", [])
    if raw_args is None:
        raw_args = []
    if not isinstance(raw_args, list):
        raise _bad(f"The argument of {operator} must be a list of strings.")
    if any(isinstance(a, (dict, list)) or a is None for a in raw_args):
        raise _bad(f"The arguments of {operator} must be strings.")
    expected = ARITY[operator]
    if len(raw_args) != expected:
        raise _bad(
            f"Operator {operator} takes exactly {expected} argument(s); {len(raw_args)} given "
            f"for property {prop}."
        )
    fold = prop in CASE_INSENSITIVE_PROPERTIES
    args = [_as_text(a).lower() if fold else _as_text(a) for a in raw_args]
    return _operator_predicate(operator, prop, args, fold)


def _operator_predicate(operator: str, prop: str, args: list[str], fold: bool) -> Predicate:
    def value(row: Row) -> str | None:
        v = _row_value(row, prop)
        return v.lower() if (fold and v is not None) else v

    if operator == "IS_NULL":
        return lambda row: value(row) is None
    if operator == "IS_NOT_NULL":
        return lambda row: value(row) is not None
    if operator == "NOT_EQUALS":
        return lambda row: value(row) != args[0]
    if operator == "NOT_CONTAINS":
        return lambda row: (v := value(row)) is None or args[0] not in v
    if operator == "LIKE":
        regex = like_to_regex(args[0])
        return lambda row: (v := value(row)) is not None and regex.fullmatch(v) is not None
    tests: dict[str, Callable[[str], bool]] = {
        "EQUALS": lambda v: v == args[0],
        "CONTAINS": lambda v: args[0] in v,
        "STARTS_WITH": lambda v: v.startswith(args[0]),
        "BETWEEN": lambda v: args[0] <= v <= args[-1],
        "GREATER_THAN": lambda v: v > args[0],
        "GREATER_THAN_OR_EQUAL": lambda v: v >= args[0],
        "LESS_THAN": lambda v: v < args[0],
        "LESS_THAN_OR_EQUAL": lambda v: v <= args[0],
    }
    test = tests[operator]
    return lambda row: (v := value(row)) is not None and test(v)
