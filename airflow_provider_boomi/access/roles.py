"""The role catalog: effective privileges, privilege classification and lookup by id or name.

Boomi roles inherit privileges through ``parentId``; built-in roles point at Standard User and
Standard User points at itself, so resolution must stop at cycles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

STANDARD_USER_ROLE_NAME = "Standard User"
ADMINISTRATOR_ROLE_NAME = "Administrator"
BUILTIN_ROLE_ACCOUNT_ID = "1"

DEFAULT_PRIVILEGED_PRIVILEGES: frozenset[str] = frozenset({"ACCOUNT_ADMIN", "API"})
DEFAULT_PRIVILEGED_ROLE_NAMES: frozenset[str] = frozenset({ADMINISTRATOR_ROLE_NAME})

_CANONICAL_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_assignable_role_id(role_id: str | None) -> bool:
    """True when Boomi's API can assign the role: its id is a canonical 8-4-4-4-12 hex UUID.

    Boomi documents roles with other id shapes that cannot be assigned through the API; the C1
    connector excludes them, and so do we (any UUID version, any case).
    """
    return bool(role_id) and _CANONICAL_UUID.match(role_id or "") is not None


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


@dataclass(frozen=True)
class RoleInfo:
    """One role as the access model sees it."""

    role_id: str
    name: str | None
    description: str | None
    parent_role_id: str | None
    owner_account_id: str | None
    privileges: tuple[str, ...]
    effective_privileges: tuple[str, ...]
    is_builtin: bool
    is_privileged: bool
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
            "privileges": list(self.privileges),
            "effective_privileges": list(self.effective_privileges),
            "is_privileged": self.is_privileged,
            "is_assignable": self.is_assignable,
        }


def _privilege_names(raw: Mapping[str, Any]) -> tuple[str, ...]:
    block = raw.get("Privileges") or raw.get("privileges") or {}
    entries = block.get("Privilege", []) if isinstance(block, Mapping) else block
    if isinstance(entries, Mapping):  # a single privilege may come back as an object, not a list
        entries = [entries]
    names = {e.get("name") for e in entries or [] if isinstance(e, Mapping) and e.get("name")}
    return tuple(sorted(str(n) for n in names))


@dataclass
class RoleCatalog:
    """All roles of an account, resolved: effective privileges, flags, and name lookup."""

    roles: dict[str, RoleInfo] = field(default_factory=dict)

    @classmethod
    def from_api_rows(
        cls, rows: Iterable[Mapping[str, Any]], policy: PrivilegePolicy | None = None
    ) -> RoleCatalog:
        """Build the catalog from raw Role objects as Boomi returns them (lenient on missing keys)."""
        policy = policy or PrivilegePolicy()
        raw: dict[str, Mapping[str, Any]] = {}
        for row in rows:
            role_id = row.get("id")
            if role_id:
                raw[str(role_id)] = row
        direct = {rid: _privilege_names(r) for rid, r in raw.items()}

        def effective(role_id: str) -> tuple[str, ...]:
            seen: set[str] = set()
            privileges: set[str] = set()
            current: str | None = role_id
            while current and current in raw and current not in seen:
                seen.add(current)
                privileges.update(direct[current])
                parent = raw[current].get("parentId")
                current = str(parent) if parent else None
            return tuple(sorted(privileges))

        catalog = cls()
        for rid, r in raw.items():
            eff = effective(rid)
            name = r.get("name")
            parent = r.get("parentId")
            owner = r.get("accountId")
            catalog.roles[rid] = RoleInfo(
                role_id=rid,
                name=str(name) if name is not None else None,
                description=r.get("Description", r.get("description")),
                parent_role_id=str(parent) if parent and parent != rid else None,
                owner_account_id=str(owner) if owner is not None else None,
                privileges=direct[rid],
                effective_privileges=eff,
                is_builtin=str(owner) == BUILTIN_ROLE_ACCOUNT_ID,
                is_privileged=(name in policy.role_names) or bool(policy.privileges.intersection(eff)),
                is_assignable=is_assignable_role_id(rid),
            )
        return catalog

    def __contains__(self, role_id: object) -> bool:
        return role_id in self.roles

    def __len__(self) -> int:
        return len(self.roles)

    def get(self, role_id: str) -> RoleInfo | None:
        """The role with this id, or None."""
        return self.roles.get(role_id)

    def name_of(self, role_id: str) -> str | None:
        """The role's name, or None when the role is unknown."""
        info = self.roles.get(role_id)
        return info.name if info else None

    def by_name(self, name: str) -> list[RoleInfo]:
        """Roles with this exact name (Boomi does not enforce unique names across built-in and custom)."""
        return [r for r in self.roles.values() if r.name == name]
