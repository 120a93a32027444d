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
    **{  # the governance objects (governance.py), as their OpenAPI enums list them
        "AccountUserFederation": ("accountId", "userId", "federationId"),
        "AccountGroupAccount": ("accountGroupId", "accountId"),
        "AuditLog": ("containerId", "userId", "date", "type", "action", "modifier", "level", "source"),
        "Environment": ("name", "id", "classification"),
        "EnvironmentRole": ("environmentId", "roleId"),
    },
    # The sub-accounts (governance.py): upper case in the schema's enum, unlike every other object.
    "Account": (
        "ACCOUNTID",
        "DATECREATED",
        "EXPIRATIONDATE",
        "NAME",
        "STATUS",
        "WIDGETACCOUNT",
        "OVERDEPLOYED",
    ),
}
"""The properties each object may be filtered on, as Boomi documents them."""

ACCOUNT_FIELDS: dict[str, str] = {
    "ACCOUNTID": "accountId",
    "DATECREATED": "dateCreated",
    "EXPIRATIONDATE": "expirationDate",
    "NAME": "name",
    "STATUS": "status",
    "WIDGETACCOUNT": "widgetAccount",
    "OVERDEPLOYED": "overDeployed",
}
"""The Account field each upper-case filter property of the schema names."""
ACCOUNT_PROPERTY_CASES = ("upper", "camel")
"""How Account/query spells its filter properties (g.15): ``upper`` as the schema's enum
(``ACCOUNTID``), ``camel`` as the documentation's examples (``accountId``, ``status``)."""

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
"""User ids are emails: Boomi matches them without regard to case (unless ``user_id_case`` is
``"sensitive"``, §g.4)."""

# The per-object simple-operator and property enums of Boomi's OpenAPI description
# (/work/shared/boomi-openapi/boomi-openapi-subset.json: RoleSimpleExpression,
# AccountUserRoleSimpleExpression, AccountGroupSimpleExpression,
# AccountGroupUserRoleSimpleExpression). All four list the same twelve operators: no STARTS_WITH.
_SCHEMA_SIMPLE_OPERATORS = (
    "EQUALS", "LIKE", "NOT_EQUALS", "IS_NULL", "IS_NOT_NULL", "BETWEEN", "GREATER_THAN",
    "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL", "CONTAINS", "NOT_CONTAINS",
)  # fmt: skip
# The governance objects queried (their filter properties are QUERY_PROPERTIES'; the schema subset
# gives them the same simple operators).
_GOVERNANCE_QUERIES = (
    "AccountUserFederation",
    "AccountGroupAccount",
    "AuditLog",
    "Environment",
    "EnvironmentRole",
    "Account",
)
SCHEMA_OPERATORS: dict[str, tuple[str, ...]] = dict.fromkeys(
    ("Role", "AccountUserRole", "AccountGroup", "AccountGroupUserRole", *_GOVERNANCE_QUERIES),
    _SCHEMA_SIMPLE_OPERATORS,
)
"""Simple operators per object, exactly as the schema's enums list them (§g.9 ``"schema"``)."""
SCHEMA_PROPERTIES: dict[str, tuple[str, ...]] = {
    "Role": ("name", "parentId"),
    "AccountUserRole": ("accountId", "userId", "roleId"),
    "AccountGroup": ("id", "accountId", "name", "defaultGroup", "autoSubscribeAlertLevel"),
    "AccountGroupUserRole": ("accountGroupId", "userId", "roleId"),
    **{name: QUERY_PROPERTIES[name] for name in _GOVERNANCE_QUERIES},
}
"""Filter properties per object, exactly as the schema's enums list them (§g.9 ``"schema"``)."""
ROLE_EQUALS_ONLY_OPERATORS: dict[str, tuple[str, ...]] = {**SCHEMA_OPERATORS, "Role": ("EQUALS",)}
"""§g.9 ``"role_equals_only"``: the schema's operators, except that the Role object page's reading
(filter Role by EQUALS only) is taken literally."""


@dataclass(frozen=True)
class FilterDialect:
    """The open questions of Boomi's filter grammar (§g.1, §g.4, §g.9, g.15), one answer each.

    The defaults are the simulator's historical behaviour: ``roleId`` honoured, ``userId`` matched
    without case, every operator of ``ARITY`` accepted on the documented properties, Account's
    properties spelt as the schema spells them (``account_property_case``, g.15).
    """

    role_id_filter: str = "honoured"
    user_id_case: str = "insensitive"
    filter_operators: str = "lenient"
    user_id_or_filter: str = "honoured"
    account_property_case: str = "upper"

    def operators(self, object_type: str) -> tuple[str, ...]:
        """The simple operators ``object_type`` accepts."""
        if self.filter_operators == "schema":
            return SCHEMA_OPERATORS.get(object_type, ())
        if self.filter_operators == "role_equals_only":
            return ROLE_EQUALS_ONLY_OPERATORS.get(object_type, ())
        return tuple(ARITY)

    def properties(self, object_type: str) -> tuple[str, ...]:
        """The properties ``object_type`` may be filtered on."""
        if object_type == "Account" and self.account_property_case == "camel":
            return tuple(ACCOUNT_FIELDS.values())
        if self.filter_operators == "lenient":
            return QUERY_PROPERTIES.get(object_type, ())
        return SCHEMA_PROPERTIES.get(object_type, ())

    def ignores(self, object_type: str, prop: Any) -> bool:
        """Whether a term on ``prop`` is dropped (true for every row): §g.1 ``"ignored"``."""
        return self.role_id_filter == "ignored" and object_type == "AccountUserRole" and prop == "roleId"

    def refuses(self, object_type: str, prop: Any) -> bool:
        """Whether a term on ``prop`` makes the query a 400: §g.1 ``"refused"``."""
        return self.role_id_filter == "refused" and object_type == "AccountUserRole" and prop == "roleId"

    def ignores_any(self, object_type: str, props: set[Any]) -> bool:
        """Whether an ``or`` grouping with a term on ``userId`` is dropped (true for every row)."""
        return self.user_id_or_filter == "ignored" and _user_id_grouping(object_type, props)

    def refuses_any(self, object_type: str, props: set[Any]) -> bool:
        """Whether an ``or`` grouping with a term on ``userId`` makes the query a 400."""
        return self.user_id_or_filter == "refused" and _user_id_grouping(object_type, props)

    def folds(self, prop: Any) -> bool:
        """Whether values of ``prop`` compare without regard to case."""
        return prop in CASE_INSENSITIVE_PROPERTIES and self.user_id_case == "insensitive"


DEFAULT_DIALECT = FilterDialect()

USER_ID_GROUPING_OBJECTS = frozenset({"AccountUserRole", "AccountGroupUserRole"})
"""Objects whose ``or`` groupings of ``userId`` terms the ``user_id_or_filter`` switch governs (the
batched reads of provisioning: several users' grants in one query)."""


def _user_id_grouping(object_type: str, props: set[Any]) -> bool:
    return object_type in USER_ID_GROUPING_OBJECTS and "userId" in props


def _grouped_properties(nested: list[Any]) -> set[Any]:
    """The properties of the simple terms directly inside a grouping."""
    return {n.get("property") for n in nested if isinstance(n, Mapping) and "nestedExpression" not in n}


@dataclass(frozen=True)
class CompiledQuery:
    """A parsed query: the predicate, plus the equalities a table index may serve (none: scan)."""

    predicate: Predicate
    index_hints: tuple[tuple[str, str], ...] = ()
    index_any: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """``or`` groupings of EQUALS on one property (a client's role shares): every selected row
    has one of the values, so an index can serve their union."""
    index_none: tuple[tuple[str, frozenset[str]], ...] = ()
    """Top-level NOT_EQUALS terms, per property (a client's "none of the known roles" chain):
    no selected row has any of the values, so an index can serve the other values' rows."""

    @property
    def index_hint(self) -> tuple[str, str] | None:
        """The first equality every selected row satisfies, or ``None``."""
        return self.index_hints[0] if self.index_hints else None

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


def compile_query(body: Any, object_type: str, dialect: FilterDialect = DEFAULT_DIALECT) -> CompiledQuery:
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
    predicate = _compile(expression, object_type, dialect)

    def usable(prop: str) -> bool:  # a term the dialect drops narrows nothing
        return not dialect.ignores(object_type, prop)

    def usable_any(prop: str) -> bool:  # nor does an ``or`` grouping it drops
        return usable(prop) and not dialect.ignores_any(object_type, {prop})

    return CompiledQuery(
        predicate,
        _index_hints(expression, usable),
        _index_any(expression, usable_any),
        _index_none(expression, lambda prop: usable(prop) and not dialect.folds(prop)),
    )


def _index_hints(
    expression: Any, usable: Callable[[str], bool] = lambda _prop: True
) -> tuple[tuple[str, str], ...]:
    """The EQUALS terms every selected row must satisfy (top level, or inside a top-level ``and``),
    so the state can use whichever it has an index for (``accountId EQUALS`` comes first in the
    client's queries, and no table is indexed by it); terms on properties that are not ``usable``
    (dropped by the dialect) are passed over."""
    candidates = _top_level_terms(expression)
    return tuple(
        (cand["property"], _as_text(cand["argument"][0]))
        for cand in candidates
        if isinstance(cand, Mapping)
        and cand.get("operator") == "EQUALS"
        and isinstance(cand.get("argument"), list)
        and len(cand["argument"]) == 1
        and isinstance(cand.get("property"), str)
        and usable(cand["property"])
    )


def _top_level_terms(expression: Any) -> list[Any]:
    """The expression itself, or the terms of a top-level ``and``: what every row must satisfy."""
    if isinstance(expression, Mapping) and expression.get("operator") == "and":
        nested = expression.get("nestedExpression")
        return list(nested) if isinstance(nested, list) else []
    return [expression]


def _index_any(expression: Any, usable: Callable[[str], bool]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``or`` groupings (at the top level, or in a top-level ``and``) of single-argument EQUALS
    terms on one usable property, as (property, values)."""
    found = []
    for term in _top_level_terms(expression):
        if not isinstance(term, Mapping) or term.get("operator") != "or":
            continue
        nested = term.get("nestedExpression")
        if not isinstance(nested, list) or not nested:
            continue
        props = {n.get("property") for n in nested if isinstance(n, Mapping)}
        if (
            len(props) == 1
            and all(
                isinstance(n, Mapping)
                and n.get("operator") == "EQUALS"
                and isinstance(n.get("argument"), list)
                and len(n["argument"]) == 1
                for n in nested
            )
            and isinstance(prop := next(iter(props)), str)
            and usable(prop)
        ):
            found.append((prop, tuple(_as_text(n["argument"][0]) for n in nested)))
    return tuple(found)


def _index_none(expression: Any, usable: Callable[[str], bool]) -> tuple[tuple[str, frozenset[str]], ...]:
    """Single-argument NOT_EQUALS terms every selected row must satisfy, grouped by usable
    property (one compared without case folding), as (property, values)."""
    found: dict[str, set[str]] = {}
    for term in _top_level_terms(expression):
        if (
            isinstance(term, Mapping)
            and term.get("operator") == "NOT_EQUALS"
            and isinstance(term.get("argument"), list)
            and len(term["argument"]) == 1
            and isinstance(prop := term.get("property"), str)
            and usable(prop)
        ):
            found.setdefault(prop, set()).add(_as_text(term["argument"][0]))
    return tuple((prop, frozenset(values)) for prop, values in found.items())


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _row_value(row: Row, prop: str) -> str | None:
    value = row.get(prop)
    if value is None:
        return None
    return _as_text(value)


def like_to_regex(pattern: str, ignore_case: bool = True) -> re.Pattern[str]:
    """SQL LIKE (``%`` any run, ``_`` one character) as a full-match regex, case-insensitive unless
    ``ignore_case`` is false (``userId`` under a case-sensitive dialect)."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def _compile(expr: Any, object_type: str, dialect: FilterDialect) -> Predicate:
    if not isinstance(expr, Mapping):
        raise _bad("A query expression must be a JSON object.")
    operator = expr.get("operator")
    if "nestedExpression" in expr or operator in ("and", "or"):
        return _compile_grouping(expr, operator, object_type, dialect)
    return _compile_simple(expr, operator, object_type, dialect)


def _compile_grouping(
    expr: Mapping[str, Any], operator: Any, object_type: str, dialect: FilterDialect
) -> Predicate:
    if operator not in ("and", "or"):
        raise _bad(f"Invalid grouping operator {operator!r}: use 'and' or 'or' (lower case).")
    nested = expr.get("nestedExpression")
    if nested is None:
        nested = []
    elif isinstance(nested, Mapping):  # one nested expression, as XML-to-JSON converters emit it
        nested = [nested]
    if not isinstance(nested, list):
        raise _bad("nestedExpression must be a list of expressions.")
    preds = [_compile(e, object_type, dialect) for e in nested]
    if not preds:
        return _match_all
    if operator == "or":
        props = _grouped_properties(nested)
        if dialect.refuses_any(object_type, props):
            raise _bad(f"Invalid query filter: userId terms cannot be grouped with 'or' for {object_type}.")
        if dialect.ignores_any(object_type, props):
            return _match_all  # validated, then dropped, as a server that only knows one userId term
    if operator == "and":
        return lambda row: all(p(row) for p in preds)
    return lambda row: any(p(row) for p in preds)


def _compile_simple(
    expr: Mapping[str, Any], operator: Any, object_type: str, dialect: FilterDialect
) -> Predicate:
    if operator not in ARITY:
        raise _bad(
            f"Invalid query operator {operator!r}; expected one of {', '.join(ARITY)} "
            "or a grouping operator 'and'/'or'."
        )
    accepted = dialect.operators(object_type)
    if operator not in accepted:
        raise _bad(
            f"Invalid query operator {operator} for {object_type}; "
            f"{object_type} accepts: {', '.join(accepted)}."
        )
    allowed = dialect.properties(object_type)
    prop = expr.get("property")
    if dialect.refuses(object_type, prop):
        raise _bad(f"Invalid query filter: property {prop} is not filterable for {object_type}.")
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
    if dialect.ignores(object_type, prop):
        return _match_all  # validated, then dropped: the server answers as if the term were absent
    fold = dialect.folds(prop)
    args = [_as_text(a).lower() if fold else _as_text(a) for a in raw_args]
    # LIKE ignores case on every property, except userId when user ids are case-sensitive.
    like_ignores_case = fold or prop not in CASE_INSENSITIVE_PROPERTIES
    # Account's upper-case properties name camel-case fields of its objects.
    field = ACCOUNT_FIELDS.get(prop, prop) if object_type == "Account" else prop
    return _operator_predicate(operator, field, args, fold, like_ignores_case)


def _operator_predicate(
    operator: str, prop: str, args: list[str], fold: bool, like_ignores_case: bool = True
) -> Predicate:
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
        regex = like_to_regex(args[0], like_ignores_case)
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
