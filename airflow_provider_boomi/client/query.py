"""An immutable builder for Boomi QueryFilter request bodies.

Boomi's grammar: a simple expression ``{"operator", "property", "argument": [strings]}`` or a
grouping ``{"operator": "and"|"or", "nestedExpression": [...]}``. Arguments are always strings,
and each operator takes a fixed number of them; both are enforced here so that a mistake fails
before any request instead of as an HTTP 400.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

__all__ = ["OPERATOR_ARITY", "QueryFilter"]

OPERATOR_ARITY: dict[str, int] = {
    "EQUALS": 1,
    "NOT_EQUALS": 1,
    "LIKE": 1,
    "CONTAINS": 1,
    "NOT_CONTAINS": 1,
    "IS_NULL": 0,
    "IS_NOT_NULL": 0,
    "BETWEEN": 2,
    "GREATER_THAN": 1,
    "GREATER_THAN_OR_EQUAL": 1,
    "LESS_THAN": 1,
    "LESS_THAN_OR_EQUAL": 1,
}
"""Operators Boomi's schema allows for Role, AccountUserRole, AccountGroup(UserRole), with arity.

``STARTS_WITH`` appears in the API introduction but not in these objects' enums, so it is left out.
"""

_GROUPING = ("and", "or")
_PROPERTY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _argument(value: object) -> str:
    # bool first: bool is a subclass of int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(
        f"QueryFilter arguments must be str, bool, number or datetime, got {type(value).__name__}"
    )


@dataclass(frozen=True)
class QueryFilter:
    """One Boomi query expression (simple or grouping). Build with the class methods.

    >>> QueryFilter.equals("roleId", "r-1").to_expression()
    {'operator': 'EQUALS', 'property': 'roleId', 'argument': ['r-1']}
    """

    operator: str
    property: str | None = None
    arguments: tuple[str, ...] = ()
    nested: tuple[QueryFilter, ...] = ()

    def __post_init__(self) -> None:
        if self.operator in _GROUPING:
            if self.property is not None or self.arguments:
                raise ValueError(f"a grouping '{self.operator}' takes nested filters, not a property")
            if not self.nested or not all(isinstance(f, QueryFilter) for f in self.nested):
                raise ValueError(f"a grouping '{self.operator}' needs at least one QueryFilter")
            return
        if self.operator not in OPERATOR_ARITY:
            raise ValueError(
                f"unknown operator {self.operator!r}: use one of {sorted(OPERATOR_ARITY)} or 'and'/'or'"
            )
        if not isinstance(self.property, str) or not _PROPERTY_RE.match(self.property):
            raise ValueError(f"invalid property name {self.property!r}")
        if self.nested:
            raise ValueError(f"{self.operator} does not take nested filters")
        expected = OPERATOR_ARITY[self.operator]
        if len(self.arguments) != expected:
            raise ValueError(f"{self.operator} takes {expected} argument(s), got {len(self.arguments)}")
        if not all(isinstance(arg, str) for arg in self.arguments):
            raise ValueError("QueryFilter arguments must be strings; use the builder methods")

    # --- builders -------------------------------------------------------------------------------

    @classmethod
    def expression(cls, operator: str, prop: str, *args: object) -> QueryFilter:
        """A simple expression with any operator of :data:`OPERATOR_ARITY` (arity checked)."""
        return cls(operator=operator, property=prop, arguments=tuple(_argument(a) for a in args))

    @classmethod
    def equals(cls, prop: str, value: object) -> QueryFilter:
        """``prop`` equals ``value``."""
        return cls.expression("EQUALS", prop, value)

    @classmethod
    def not_equals(cls, prop: str, value: object) -> QueryFilter:
        """``prop`` differs from ``value``."""
        return cls.expression("NOT_EQUALS", prop, value)

    @classmethod
    def like(cls, prop: str, pattern: str) -> QueryFilter:
        """SQL-style match: ``%`` is the wildcard (``"Dum%"``)."""
        return cls.expression("LIKE", prop, pattern)

    @classmethod
    def contains(cls, prop: str, value: object) -> QueryFilter:
        """``prop`` contains ``value``."""
        return cls.expression("CONTAINS", prop, value)

    @classmethod
    def not_contains(cls, prop: str, value: object) -> QueryFilter:
        """``prop`` does not contain ``value``."""
        return cls.expression("NOT_CONTAINS", prop, value)

    @classmethod
    def is_null(cls, prop: str) -> QueryFilter:
        """``prop`` has no value."""
        return cls.expression("IS_NULL", prop)

    @classmethod
    def is_not_null(cls, prop: str) -> QueryFilter:
        """``prop`` has a value."""
        return cls.expression("IS_NOT_NULL", prop)

    @classmethod
    def between(cls, prop: str, low: object, high: object) -> QueryFilter:
        """``low <= prop <= high``."""
        return cls.expression("BETWEEN", prop, low, high)

    @classmethod
    def greater_than(cls, prop: str, value: object) -> QueryFilter:
        """``prop > value``."""
        return cls.expression("GREATER_THAN", prop, value)

    @classmethod
    def greater_than_or_equal(cls, prop: str, value: object) -> QueryFilter:
        """``prop >= value``."""
        return cls.expression("GREATER_THAN_OR_EQUAL", prop, value)

    @classmethod
    def less_than(cls, prop: str, value: object) -> QueryFilter:
        """``prop < value``."""
        return cls.expression("LESS_THAN", prop, value)

    @classmethod
    def less_than_or_equal(cls, prop: str, value: object) -> QueryFilter:
        """``prop <= value``."""
        return cls.expression("LESS_THAN_OR_EQUAL", prop, value)

    @classmethod
    def all_of(cls, *filters: QueryFilter) -> QueryFilter:
        """Every filter must match (Boomi's lower-case ``and`` grouping)."""
        return cls(operator="and", nested=tuple(filters))

    @classmethod
    def any_of(cls, *filters: QueryFilter) -> QueryFilter:
        """At least one filter must match (Boomi's lower-case ``or`` grouping)."""
        return cls(operator="or", nested=tuple(filters))

    # --- checking rows --------------------------------------------------------------------------

    def admits(self, row: Mapping[str, Any], *, fold: Collection[str] = ()) -> bool:
        """False when a value present in ``row`` (a raw Boomi object) contradicts this filter.

        Used to check that an answer kept to its filter: a server may ignore a term it does not
        support (reference §g.1). A property missing from the row cannot contradict anything
        (Boomi's schema requires none), so it is admitted. Only the operators the project sends
        are evaluated: EQUALS and NOT_EQUALS (exact string comparison) and the ``and``/``or``
        groupings; any other operator raises ``NotImplementedError`` rather than guessing.

        :param row: the raw object as Boomi returned it.
        :param fold: properties compared without regard to case, because the server matches
            them that way (``userId`` on a Boomi that matches user ids case-insensitively,
            reference §g.4): there a row spelt ``Dana@x`` legitimately answers ``dana@x``.
        """
        if self.operator == "and":
            return all(f.admits(row, fold=fold) for f in self.nested)
        if self.operator == "or":
            return any(f.admits(row, fold=fold) for f in self.nested)
        if self.operator not in ("EQUALS", "NOT_EQUALS"):
            raise NotImplementedError(f"QueryFilter.admits does not evaluate {self.operator}")
        value = row.get(self.property or "")
        if value is None:
            return True
        if self.property in fold:
            equal = str(value).lower() == self.arguments[0].lower()
        else:
            equal = str(value) == self.arguments[0]
        return equal if self.operator == "EQUALS" else not equal

    # --- serialisation --------------------------------------------------------------------------

    def to_expression(self) -> dict[str, Any]:
        """This filter as a Boomi expression object."""
        if self.operator in _GROUPING:
            return {"operator": self.operator, "nestedExpression": [f.to_expression() for f in self.nested]}
        return {"operator": self.operator, "property": self.property, "argument": list(self.arguments)}

    def to_body(self) -> dict[str, Any]:
        """The full request body: ``{"QueryFilter": {"expression": {...}}}``."""
        return {"QueryFilter": {"expression": self.to_expression()}}
