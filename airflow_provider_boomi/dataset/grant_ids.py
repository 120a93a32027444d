"""Grant and entitlement ids in baton's convention.

The C1 Boomi connector (built on baton) names entitlements ``role:{role_id}:assigned`` and
``account_group:{group_id}:{role_id}``, and a grant is the entitlement id followed by
``:user:{user_id}``. Using the same ids lets snapshot rows be joined with C1 exports as they are.

Role and group ids are UUID-like and never contain ``:``; that is what makes the ids parseable
even though a user id may (in theory) contain ``:`` or even ``:user:``. We validate it rather
than trust it, so a malformed id fails where it is built, not later when it is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GrantKind",
    "ParsedGrant",
    "grant_id",
    "group_entitlement_id",
    "parse_grant_id",
    "role_entitlement_id",
]

GrantKind = Literal["global_role", "group_role"]

_ROLE_PREFIX = "role:"
_ROLE_SUFFIX = ":assigned"
_GROUP_PREFIX = "account_group:"
_USER_SEP = ":user:"


def _check_component(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if ":" in value:
        raise ValueError(
            f"{what} {value!r} contains ':'; Boomi {what}s never do, so it cannot form a grant id"
        )
    return value


@dataclass(frozen=True)
class ParsedGrant:
    """The parts of a grant id.

    :ivar kind: ``global_role`` (AccountUserRole) or ``group_role`` (AccountGroupUserRole).
    :ivar role_id: Boomi role id.
    :ivar account_group_id: Boomi account group id for group roles, else ``None``.
    :ivar user_id: Boomi userId.
    """

    kind: GrantKind
    role_id: str
    account_group_id: str | None
    user_id: str

    @property
    def entitlement_id(self) -> str:
        """The entitlement id this grant belongs to."""
        if self.kind == "group_role":
            assert self.account_group_id is not None
            return group_entitlement_id(self.account_group_id, self.role_id)
        return role_entitlement_id(self.role_id)

    @property
    def grant_id(self) -> str:
        """The grant id again (``parse_grant_id(x).grant_id == x``)."""
        return grant_id(self.entitlement_id, self.user_id)


def role_entitlement_id(role_id: str) -> str:
    """Return the entitlement id of a global role: ``role:{role_id}:assigned``."""
    return f"{_ROLE_PREFIX}{_check_component(role_id, 'role id')}{_ROLE_SUFFIX}"


def group_entitlement_id(group_id: str, role_id: str) -> str:
    """Return the entitlement id of a role within an account group: ``account_group:{group_id}:{role_id}``."""
    return (
        f"{_GROUP_PREFIX}{_check_component(group_id, 'account group id')}:"
        f"{_check_component(role_id, 'role id')}"
    )


def grant_id(entitlement_id: str, user_id: str) -> str:
    """Return the grant id of ``user_id`` holding ``entitlement_id``: ``{entitlement_id}:user:{user_id}``.

    The entitlement id must itself be well formed (it is parsed to make sure).
    """
    if not isinstance(user_id, str) or not user_id:
        raise ValueError(f"user id must be a non-empty string, got {user_id!r}")
    _parse_entitlement(entitlement_id)
    return f"{entitlement_id}{_USER_SEP}{user_id}"


def _parse_entitlement(entitlement_id: str) -> tuple[GrantKind, str, str | None]:
    if entitlement_id.startswith(_ROLE_PREFIX) and entitlement_id.endswith(_ROLE_SUFFIX):
        role_id = entitlement_id[len(_ROLE_PREFIX) : -len(_ROLE_SUFFIX)]
        if role_id and ":" not in role_id:
            return "global_role", role_id, None
    elif entitlement_id.startswith(_GROUP_PREFIX):
        parts = entitlement_id[len(_GROUP_PREFIX) :].split(":")
        if len(parts) == 2 and all(parts):
            return "group_role", parts[1], parts[0]
    raise ValueError(
        f"not an entitlement id: {entitlement_id!r}; expected 'role:{{role_id}}:assigned' "
        "or 'account_group:{group_id}:{role_id}'"
    )


def parse_grant_id(value: str) -> ParsedGrant:
    """Split a grant id into its parts.

    The entitlement part has a fixed number of ``:``-separated components (role and group ids
    contain no ``:``), so everything after its ``:user:`` is the user id, whatever it contains.

    :raises ValueError: ``value`` is not a grant id in baton's convention.
    """
    if not isinstance(value, str):
        raise ValueError(f"grant id must be a string, got {value!r}")
    if value.startswith(_ROLE_PREFIX):
        # role:{role_id}:assigned:user:{user_id}
        head = value[len(_ROLE_PREFIX) :]
        role_id, _, rest = head.partition(":")
        tail = _ROLE_SUFFIX[1:] + _USER_SEP
        if role_id and rest.startswith(tail) and len(rest) > len(tail):
            return ParsedGrant("global_role", role_id, None, rest[len(tail) :])
    elif value.startswith(_GROUP_PREFIX):
        # account_group:{group_id}:{role_id}:user:{user_id}
        parts = value[len(_GROUP_PREFIX) :].split(":", 2)
        user_tail = _USER_SEP[1:]
        if (
            len(parts) == 3
            and parts[0]
            and parts[1]
            and parts[2].startswith(user_tail)
            and len(parts[2]) > len(user_tail)
        ):
            return ParsedGrant("group_role", parts[1], parts[0], parts[2][len(user_tail) :])
    raise ValueError(
        f"not a grant id: {value!r}; expected 'role:{{role_id}}:assigned:user:{{user_id}}' "
        "or 'account_group:{group_id}:{role_id}:user:{user_id}'"
    )
