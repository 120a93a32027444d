"""Who reviews a grant: an owners mapping from roles and account groups to reviewers, the
user's manager from the identity source, and the rule that nobody reviews their own access.

Kept apart from campaign building because it is the one policy users configure most, and its
precedence rules deserve one place: :class:`ReviewerRouting` states the whole order, and
:class:`Owners` the order among owners.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

from .reviewers import same_reviewer

__all__ = [
    "DEFAULT_OWNER_PRECEDENCE",
    "GROUP_FIRST",
    "OWNER_PRECEDENCES",
    "PRIVILEGED_ROLE_FIRST",
    "ROLE_FIRST",
    "OwnerPrecedence",
    "Owners",
    "ReviewerRouting",
    "Route",
]

_KINDS = ("role", "group")

OwnerPrecedence = Literal["group_first", "role_first", "privileged_role_first"]
#: A group grant goes to the group's owner before the role's owner.
GROUP_FIRST: Final = "group_first"
#: A group grant goes to the role's owner before the group's owner.
ROLE_FIRST: Final = "role_first"
#: Role first for privileged roles, group first otherwise (the default).
PRIVILEGED_ROLE_FIRST: Final = "privileged_role_first"
#: Every precedence :class:`Owners` accepts.
OWNER_PRECEDENCES: Final[tuple[str, ...]] = (GROUP_FIRST, ROLE_FIRST, PRIVILEGED_ROLE_FIRST)
#: The precedence used when none is given.
DEFAULT_OWNER_PRECEDENCE: Final = PRIVILEGED_ROLE_FIRST


def validate_precedence(value: object) -> str:
    """Return ``value`` if it is one of :data:`OWNER_PRECEDENCES`, else raise ``ValueError``."""
    if value not in OWNER_PRECEDENCES:
        raise ValueError(f"owner_precedence must be one of {', '.join(OWNER_PRECEDENCES)}, got {value!r}")
    return str(value)


class Owners:
    """Resolves the reviewer of a grant.

    Keys of ``mapping`` are role ids, role names, account group ids or group names; values are
    reviewer emails (or any reviewer label). A key may be prefixed ``role:`` or ``group:`` to
    say which kind it names when a role and a group share a name. Keys match case-insensitively
    and ignoring surrounding spaces.

    Precedence, most specific first:

    - global grants: the role (id, then name);
    - group grants, by ``precedence``:

      - ``privileged_role_first`` (the default): for a privileged role (or one whose privileges
        are unknown), the role's owner, then the group's; for any other role, the group's
        owner, then the role's. Whoever owns a group decides who is in it, except for the
        roles that can change the account itself: their owner decides wherever they are held;
      - ``group_first``: the group (id, then name), then the role (id, then name);
      - ``role_first``: the role, then the group;

    - then ``default_reviewer``; then no reviewer (``None``).

    Who finally reviews an item can still change after this: the user's manager comes first
    when a campaign routes to managers, and a reviewer never reviews their own access (see
    :class:`ReviewerRouting`).

    :param mapping: role/group id or name -> reviewer.
    :param default_reviewer: reviewer of grants no key matches.
    :param precedence: one of :data:`OWNER_PRECEDENCES`.
    :raises ValueError: a reviewer is empty, two keys differing only in case map to different
        reviewers, or the precedence is unknown.
    """

    def __init__(
        self,
        mapping: Mapping[str, str] | None = None,
        default_reviewer: str | None = None,
        precedence: str = DEFAULT_OWNER_PRECEDENCE,
    ) -> None:
        self.precedence = validate_precedence(precedence)
        self._by_kind: dict[str, dict[str, str]] = {"role": {}, "group": {}, "any": {}}
        for raw_key, reviewer in (mapping or {}).items():
            if not isinstance(reviewer, str) or not reviewer.strip():
                raise ValueError(f"owners[{raw_key!r}] is empty; give a reviewer email")
            kind, key = "any", str(raw_key)
            for prefix in _KINDS:
                if key.lower().startswith(f"{prefix}:"):
                    kind, key = prefix, key[len(prefix) + 1 :]
                    break
            norm = key.strip().casefold()
            existing = self._by_kind[kind].get(norm)
            if existing is not None and existing != reviewer.strip():
                raise ValueError(
                    f"owners has two keys for {key!r} ({existing!r} and {reviewer.strip()!r}); keep one"
                )
            self._by_kind[kind][norm] = reviewer.strip()
        if default_reviewer is not None and not default_reviewer.strip():
            raise ValueError("default_reviewer is empty; pass None for no default")
        self.default_reviewer = default_reviewer.strip() if default_reviewer else None

    def _lookup(self, kind: str, *candidates: str | None) -> str | None:
        for candidate in candidates:
            if not candidate:
                continue
            norm = candidate.strip().casefold()
            for table in (self._by_kind[kind], self._by_kind["any"]):
                if norm in table:
                    return table[norm]
        return None

    def reviewer_for(
        self,
        *,
        role_id: str,
        role_name: str | None,
        account_group_id: str | None = None,
        account_group_name: str | None = None,
        is_privileged: bool = True,
    ) -> str | None:
        """The reviewer of one grant (see the class docstring for the precedence).

        ``is_privileged`` matters only with ``privileged_role_first``; it defaults to true, as
        a role whose privileges are unknown is treated as privileged everywhere.
        """
        role_owner = self._lookup("role", role_id, role_name)
        if account_group_id is None:
            return role_owner or self.default_reviewer
        group_owner = self._lookup("group", account_group_id, account_group_name)
        role_wins = self.precedence == ROLE_FIRST or (
            self.precedence == PRIVILEGED_ROLE_FIRST and is_privileged
        )
        first, second = (role_owner, group_owner) if role_wins else (group_owner, role_owner)
        return first or second or self.default_reviewer


class Route(NamedTuple):
    """Where one review item goes (see :class:`ReviewerRouting`).

    :param reviewer: who decides; ``None``: nobody may (the item goes to the unassigned workbook).
    :param routed_from: the reviewer the rules named first when that was the item's own user
        (a self-review taken away from them); ``None`` otherwise.
    :param via_manager: the reviewer named first was the user's manager.
    """

    reviewer: str | None
    routed_from: str | None
    via_manager: bool


@dataclass(frozen=True)
class ReviewerRouting:
    """Who reviews an item: every rule, in the order it applies.

    1. **Manager** (only when ``managers`` is given, that is when a campaign routes to
       managers): the user's manager from the identity source, as the findings of the reviewed
       snapshot recorded it (:func:`~airflow_provider_boomi.findings.routing.managers_by_user`:
       the user matched exactly one row of the identity source and that row names a manager).
    2. **Owners**, for a user without a manager there (unmatched, ambiguous, no manager given)
       or when routing to managers is off: the owner of the role or the account group, by the
       owner precedence of :class:`Owners` (global grants: the role; group grants: group or
       role first as ``precedence`` says); then the ``default_reviewer``; then nobody.
    3. **Nobody reviews their own access.** When the reviewer named by 1 or 2 is the item's own
       user (the same email or user id, any case; for instance a manager listed as their own
       manager, or an owner holding the role they own), the item goes to the
       ``fallback_reviewer`` (default: the ``default_reviewer``), and ``routed_from`` records
       whom it was taken from. If the fallback is the user too, the item has no reviewer.

    :param owners: the owners mapping with its precedence and default reviewer.
    :param fallback_reviewer: reviewer of the self-reviews (empty: the default reviewer).
    :param managers: user id -> manager email, or ``None`` not to route to managers.
    """

    owners: Owners
    fallback_reviewer: str | None = None
    managers: Mapping[str, str | None] | None = None

    @property
    def fallback(self) -> str | None:
        """The reviewer of self-reviews: ``fallback_reviewer``, else the default reviewer."""
        return (self.fallback_reviewer or "").strip() or self.owners.default_reviewer

    def route(
        self,
        *,
        user_id: str,
        email: str | None,
        role_id: str,
        role_name: str | None,
        account_group_id: str | None = None,
        account_group_name: str | None = None,
        is_privileged: bool = True,
    ) -> Route:
        """The :class:`Route` of one grant of ``user_id`` (see the class docstring).

        :param user_id: the Boomi userId holding the grant.
        :param email: the user's email (compared with reviewers for the self-review rule).
        :param role_id: the role granted.
        :param role_name: its name, when known.
        :param account_group_id: the account group of a group grant.
        :param account_group_name: its name, when known.
        :param is_privileged: whether the role is (possibly) privileged.
        """
        manager = (self.managers or {}).get(user_id)
        manager = manager.strip() if manager and manager.strip() else None
        reviewer = manager or self.owners.reviewer_for(
            role_id=role_id,
            role_name=role_name,
            account_group_id=account_group_id,
            account_group_name=account_group_name,
            is_privileged=is_privileged,
        )
        if not _is_self(reviewer, user_id, email):
            return Route(reviewer, None, manager is not None)
        fallback = self.fallback
        return Route(None if _is_self(fallback, user_id, email) else fallback, reviewer, manager is not None)


def _is_self(reviewer: str | None, user_id: str, email: str | None) -> bool:
    return same_reviewer(reviewer, user_id) or same_reviewer(reviewer, email)
