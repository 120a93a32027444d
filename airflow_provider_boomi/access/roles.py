"""The role catalog: effective privileges, privilege classification and lookup by id or name.

Custom roles inherit privileges through ``parentId``. Built-in roles (account ``"1"``) also
carry a ``parentId`` (Standard User, which names itself), but Boomi's own privilege table shows
Support *without* privileges Standard User has (reference §g.3), so a built-in role's
privileges are read as Boomi lists them and inheritance stops at a built-in role unless
``builtin_inheritance`` is asked for. Resolution stops at cycles either way.

A role whose privileges could not be read (it came only from ``getAssignableRoles``, or not at
all) has ``privileges`` ``None`` and ``is_privileged`` ``None``: unknown, which every consumer
treats as possibly privileged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_boomi.client.records import Role, is_canonical_uuid

STANDARD_USER_ROLE_NAME = "Standard User"
ADMINISTRATOR_ROLE_NAME = "Administrator"
BUILTIN_ROLE_ACCOUNT_ID = "1"

DEFAULT_PRIVILEGED_PRIVILEGES: frozenset[str] = frozenset({"ACCOUNT_ADMIN", "API"})
DEFAULT_PRIVILEGED_ROLE_NAMES: frozenset[str] = frozenset({ADMINISTRATOR_ROLE_NAME})
SOX_PRIVILEGED_PRIVILEGES: frozenset[str] = DEFAULT_PRIVILEGED_PRIVILEGES | {
    "DEPLOY",
    "ENV_MANAGEMENT",
    "PACKAGE_MANAGEMENT",
}
"""SOX change management: whoever can deploy to an environment or manage environments and
packages changes production, besides administration and API access."""

PRIVILEGE_PRESETS: dict[str, frozenset[str]] = {
    "default": DEFAULT_PRIVILEGED_PRIVILEGES,
    "sox": SOX_PRIVILEGED_PRIVILEGES,
}
"""Named sets of privileges that make a role privileged (``PrivilegePolicy.preset``)."""


def is_assignable_role_id(role_id: str | None) -> bool:
    """True when Boomi's API can assign the role: its id is a canonical 8-4-4-4-12 hex UUID.

    Boomi documents roles with other id shapes that cannot be assigned through the API; the C1
    connector excludes them, and so do we (any UUID version, any case). One rule, kept in the
    client's records: :func:`~airflow_provider_boomi.client.records.is_canonical_uuid`.
    """
    return is_canonical_uuid(role_id)


@dataclass(frozen=True)
class PrivilegePolicy:
    """Which roles count as privileged: by name, or by holding any of the listed privileges."""

    privileges: frozenset[str] = DEFAULT_PRIVILEGED_PRIVILEGES
    role_names: frozenset[str] = DEFAULT_PRIVILEGED_ROLE_NAMES

    @classmethod
    def from_lists(
        cls, privileges: Iterable[str] | None = None, role_names: Iterable[str] | None = None
    ) -> PrivilegePolicy:
        """Build a policy from plain lists (``None`` keeps the default)."""
        return cls(
            privileges=frozenset(privileges) if privileges is not None else DEFAULT_PRIVILEGED_PRIVILEGES,
            role_names=frozenset(role_names) if role_names is not None else DEFAULT_PRIVILEGED_ROLE_NAMES,
        )

    @classmethod
    def preset(cls, name: str, role_names: Iterable[str] | None = None) -> PrivilegePolicy:
        """A named policy: ``"default"`` (ACCOUNT_ADMIN, API) or ``"sox"`` (also DEPLOY,
        ENV_MANAGEMENT, PACKAGE_MANAGEMENT); Administrator is privileged by name in both."""
        if name not in PRIVILEGE_PRESETS:
            raise ValueError(f"privileged preset must be one of {sorted(PRIVILEGE_PRESETS)}, got {name!r}")
        return cls.from_lists(PRIVILEGE_PRESETS[name], role_names)

    def classify(self, name: str | None, effective: tuple[str, ...] | None) -> bool | None:
        """True (privileged), False, or None when the privileges are unknown and the name does
        not decide it."""
        if name is not None and name in self.role_names:
            return True
        if effective is None:
            return None
        return bool(self.privileges.intersection(effective))


@dataclass(frozen=True)
class RoleInfo:
    """One role as the access model sees it.

    ``privileges``/``effective_privileges`` are ``None`` when Boomi gave no way to read them;
    ``is_privileged`` is then ``None`` (unknown) unless the role's name is privileged by policy.
    ``is_builtin`` is ``None`` when the owning account is unknown.
    """

    role_id: str
    name: str | None
    description: str | None
    parent_role_id: str | None
    owner_account_id: str | None
    privileges: tuple[str, ...] | None
    effective_privileges: tuple[str, ...] | None
    is_builtin: bool | None
    is_privileged: bool | None
    is_assignable: bool

    def as_row(self) -> dict[str, Any]:
        """The row of the ``roles`` table."""
        return {
            "role_id": self.role_id,
            "name": self.name,
            "description": self.description,
            "parent_role_id": self.parent_role_id,
            "owner_account_id": self.owner_account_id,
            "is_builtin": self.is_builtin,
            "privileges": None if self.privileges is None else list(self.privileges),
            "effective_privileges": (
                None if self.effective_privileges is None else list(self.effective_privileges)
            ),
            "is_privileged": self.is_privileged,
            "is_assignable": self.is_assignable,
        }


@dataclass
class RoleCatalog:
    """All roles of an account, resolved: effective privileges, flags, and name lookup."""

    roles: dict[str, RoleInfo] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        roles: Iterable[Role],
        policy: PrivilegePolicy | None = None,
        *,
        privileges_unknown: Iterable[str] = (),
        builtin_inheritance: bool = False,
    ) -> RoleCatalog:
        """Resolve typed :class:`Role` records into a catalog.

        :param privileges_unknown: ids of roles whose privileges Boomi did not give (for
            example, read only from ``getAssignableRoles``): their privileges are ``None``.
        :param builtin_inheritance: follow ``parentId`` of built-in roles (§g.3); off by default.
        """
        policy = policy or PrivilegePolicy()
        unknown = set(privileges_unknown)
        raw: dict[str, Role] = {}
        for role in roles:
            if role.id and role.id not in raw:  # the first answer for an id wins
                raw[role.id] = role
        direct: dict[str, tuple[str, ...] | None] = {
            rid: None if rid in unknown else tuple(sorted(set(r.privileges))) for rid, r in raw.items()
        }

        def builtin(role: Role) -> bool:
            return role.account_id == BUILTIN_ROLE_ACCOUNT_ID

        def effective(role_id: str) -> tuple[str, ...] | None:
            seen: set[str] = set()
            privileges: set[str] = set()
            current: str | None = role_id
            while current is not None and current not in seen:
                role = raw.get(current)
                own = direct.get(current)
                if role is None or own is None:
                    return None  # a parent (or the role itself) whose privileges are unknown
                seen.add(current)
                privileges.update(own)
                if builtin(role) and not builtin_inheritance:
                    break
                current = role.parent_id
            return tuple(sorted(privileges))

        catalog = cls()
        for rid, role in raw.items():
            eff = effective(rid)
            catalog.roles[rid] = RoleInfo(
                role_id=rid,
                name=role.name,
                description=role.description,
                parent_role_id=role.parent_id if role.parent_id and role.parent_id != rid else None,
                owner_account_id=role.account_id,
                privileges=direct[rid],
                effective_privileges=eff,
                is_builtin=None if role.account_id is None else builtin(role),
                is_privileged=policy.classify(role.name, eff),
                is_assignable=is_assignable_role_id(rid),
            )
        return catalog

    @classmethod
    def from_api_rows(
        cls, rows: Iterable[dict[str, Any]], policy: PrivilegePolicy | None = None
    ) -> RoleCatalog:
        """Build the catalog from raw Role objects as Boomi returns them (lenient on missing keys)."""
        return cls.build((Role.from_api(row) for row in rows), policy)

    def __contains__(self, role_id: object) -> bool:
        return role_id in self.roles

    def __len__(self) -> int:
        return len(self.roles)

    def get(self, role_id: str) -> RoleInfo | None:
        """The role with this id, or None."""
        return self.roles.get(role_id)

    def by_name(self, name: str) -> list[RoleInfo]:
        """Roles with this exact name (Boomi does not enforce unique names across built-in and custom)."""
        return [r for r in self.roles.values() if r.name == name]

    @property
    def has_builtin_roles(self) -> bool:
        """Whether any built-in role (account ``"1"``) is in the catalog."""
        return any(r.is_builtin for r in self.roles.values())
