"""From Boomi's rows to the snapshot's table rows, with the checks a row needs on its own.

Pure and single-threaded: the sync's writer thread feeds it one raw row at a time and writes
what it returns. It owns what must be remembered across rows to keep the tables exact, and
keeps that small: the Boomi ids already written (rows are unique by Boomi id whatever the query
chains return), which Boomi id holds each grant (two different rows for one grant fail the
sync), one small aggregate per user, and counts for the manifest's warnings.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_boomi.access.roles import RoleInfo
from airflow_provider_boomi.dataset.grant_ids import grant_id, group_entitlement_id, role_entitlement_id

GrantKind = Literal["user_roles", "group_roles"]
"""``user_roles``: AccountUserRole rows (global roles); ``group_roles``: AccountGroupUserRole."""

GRANT_TABLE: Mapping[str, str] = {"user_roles": "user_role_grants", "group_roles": "group_role_grants"}
"""The snapshot table each kind of grant row goes to."""


class SyncConsistencyError(RuntimeError):
    """Boomi's answers contradict themselves or an earlier snapshot; no snapshot was written.

    The message names the open question of the API reference (§g) and the setting to change.
    """


@dataclass(slots=True)
class UserAggregate:
    """What the users table needs of one user, gathered from their grant rows."""

    user_id: str
    first_name: str | None
    last_name: str | None
    global_roles: int = 0
    group_roles: int = 0
    privileged: bool = False
    privilege_unknown: bool = False

    @property
    def is_privileged(self) -> bool | None:
        # A user holding a role of unknown privileges is possibly privileged: null, not false.
        return True if self.privileged else (None if self.privilege_unknown else False)

    def as_row(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "email": self.user_id.lower(),
            "first_name": self.first_name,
            "last_name": self.last_name,
            "global_role_count": self.global_roles,
            "group_role_count": self.group_roles,
            "is_privileged": self.is_privileged,
            "is_account_member": self.global_roles > 0,
        }


def as_bool(value: Any) -> bool | None:
    """Boomi's booleans arrive as JSON booleans or as ``"true"``/``"false"`` strings."""
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def describe(raw: Mapping[str, Any]) -> str:
    """The identifying fields of a raw row, for a warning (no names or other data)."""
    return ", ".join(
        f"{k}={v!r}" for k, v in raw.items() if k in ("id", "userId", "roleId", "accountGroupId")
    )


def account_group_row(group: Mapping[str, Any]) -> dict[str, Any]:
    """An ``account_groups`` row from an AccountGroup object."""
    return {
        "account_group_id": str(group["id"]),
        "name": group.get("name"),
        "default_group": as_bool(group.get("defaultGroup")),
        "auto_subscribe_alert_level": group.get("autoSubscribeAlertLevel"),
    }


def missing_fields(raw: Mapping[str, Any]) -> bool:
    """A grant row without ``userId``, ``roleId`` or ``id`` cannot be written."""
    return not raw.get("userId") or not raw.get("roleId") or not raw.get("id")


@dataclass
class RowMapper:
    """Turns raw grant rows into table rows, once per Boomi id, and aggregates the users.

    ``grant`` returns ``None`` for a row already written (same Boomi id); it raises
    :class:`SyncConsistencyError` when two different Boomi rows are the same grant.
    """

    users: dict[str, UserAggregate] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)  # kind -> rows read again
    unknown_groups: dict[str, int] = field(default_factory=dict)  # group id -> rows naming it
    _seen: dict[str, set[str]] = field(default_factory=lambda: {"user_roles": set(), "group_roles": set()})
    # The grant -> the Boomi id holding it. Keyed by the grant's parts, not its grant id: the
    # user id is the users' own key string and role and group ids are interned, so an entry
    # costs a small tuple, and the Boomi id string is the one held in ``_seen``.
    _owner: dict[tuple[str, ...], str] = field(default_factory=dict)

    def seen(self, kind: GrantKind, boomi_id: str) -> bool:
        """Whether a row of this Boomi id was already written."""
        return boomi_id in self._seen[kind]

    def grant(
        self,
        kind: GrantKind,
        raw: Mapping[str, Any],
        role: RoleInfo | None,
        *,
        group_id: str | None = None,
        group: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """The table row of one admitted grant row, or ``None`` if its Boomi id was written.

        ``role`` is the catalog's entry for the row's role (``None``: unknown, so the user's
        privilege is unknown too); for group rows ``group_id`` is the chain's group, used when
        the row does not name one, and ``group`` the AccountGroup object if it was read.
        """
        boomi_id = sys.intern(str(raw["id"]))
        seen = self._seen[kind]
        if boomi_id in seen:
            self.duplicates[kind] = self.duplicates.get(kind, 0) + 1
            return None
        user_id, role_id = self._user_key(raw), sys.intern(str(raw["roleId"]))
        role_name = role.name if role is not None else None
        key: tuple[str, ...]
        if kind == "user_roles":
            key = (user_id, role_id)
            row: dict[str, Any] = {
                "grant_id": grant_id(role_entitlement_id(role_id), user_id),
                "boomi_id": boomi_id,
                "user_id": user_id,
                "role_id": role_id,
                "role_name": role_name,
            }
        else:
            group_id = sys.intern(str(raw.get("accountGroupId") or group_id))
            key = (user_id, group_id, role_id)
            if group is None:
                self.unknown_groups[group_id] = self.unknown_groups.get(group_id, 0) + 1
            row = {
                "grant_id": grant_id(group_entitlement_id(group_id, role_id), user_id),
                "boomi_id": boomi_id,
                "user_id": user_id,
                "account_group_id": group_id,
                "account_group_name": group.get("name") if group else None,
                "role_id": role_id,
                "role_name": role_name,
            }
        owner = self._owner.setdefault(key, boomi_id)
        if owner != boomi_id:
            raise SyncConsistencyError(
                f"two different Boomi rows ({owner}, {boomi_id}) are the same grant {row['grant_id']}: "
                "the snapshot would hold it twice. Boomi's answers contradict each other; no snapshot was "
                "written"
            )
        seen.add(boomi_id)
        self._count_user(kind, raw, user_id, role)
        return row

    def _user_key(self, raw: Mapping[str, Any]) -> str:
        """The user id string, shared with the users' aggregate when the user is known."""
        user_id = str(raw["userId"])
        user = self.users.get(user_id)
        return user.user_id if user is not None else user_id

    def release(self) -> None:
        """Forget the Boomi ids and grants seen (after the last row): their memory goes back."""
        self._seen = {"user_roles": set(), "group_roles": set()}
        self._owner = {}

    def _count_user(
        self, kind: GrantKind, raw: Mapping[str, Any], user_id: str, role: RoleInfo | None
    ) -> None:
        # Keyed by Boomi's spelling: a server that matches user ids case-sensitively (§g.4) can
        # hold two users whose ids differ only in case, and they are two users.
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = UserAggregate(user_id, raw.get("firstName"), raw.get("lastName"))
        else:
            user.first_name = user.first_name or raw.get("firstName")
            user.last_name = user.last_name or raw.get("lastName")
        if role is not None and role.is_privileged:
            user.privileged = True
        elif role is None or role.is_privileged is None:
            user.privilege_unknown = True
        if kind == "user_roles":
            user.global_roles += 1
        else:
            user.group_roles += 1

    def user_rows(self) -> Iterator[dict[str, Any]]:
        """The ``users`` table: one row per distinct ``userId`` of the grant rows."""
        return (user.as_row() for user in self.users.values())

    def case_collisions(self) -> list[list[str]]:
        """User ids that differ only in case (two users for Boomi, one email for us)."""
        spellings: dict[str, list[str]] = {}
        for user_id in self.users:
            spellings.setdefault(user_id.lower(), []).append(user_id)
        return [sorted(ids) for ids in spellings.values() if len(ids) > 1]
