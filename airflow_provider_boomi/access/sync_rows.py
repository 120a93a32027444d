"""From Boomi's rows to the snapshot's table rows, with the checks a row needs on its own.

Pure and single-threaded: the sync's writer thread feeds it one raw row at a time and writes
what it returns. It owns what must be remembered across rows to keep the tables exact, and
keeps that small: the Boomi ids already written (rows are unique by Boomi id whatever the query
chains return), which Boomi id holds each grant (two different rows for one grant fail the
sync), one small aggregate per user, and counts for the manifest's warnings.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


# ---- the optional governance resources ------------------------------------------------------


def parse_boomi_time(value: Any) -> datetime | None:
    """An ISO-8601 time of a Boomi object (``2019-08-26T16:27:19Z``, milliseconds allowed), in
    UTC; ``None`` when absent, unreadable or without a time zone (a naive time is hours off)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class AuditWindow:
    """The stretch of Boomi's audit log a sync reads, and what marks a login in it.

    :param start: first second read (UTC, whole seconds: Boomi's filter arguments carry no more).
    :param end: last second read (the sync's start).
    :param login_markers: property -> value every login record has (for example ``type``
        ``account``, ``action`` ``ON_ENTRY``, ``modifier`` ``SUCCESS``: not documented by Boomi).
    :param change_types: the record ``type`` values read as access changes.
    """

    start: datetime
    end: datetime
    login_markers: Mapping[str, str]
    change_types: tuple[str, ...]

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` lies inside the window (both ends included, as BETWEEN is)."""
        return self.start <= moment <= self.end

    def describe(self) -> dict[str, Any]:
        """The window and markers, for the manifest (JSON)."""
        return {
            "window_start": self.start.isoformat(),
            "window_end": self.end.isoformat(),
            "window_days": (self.end - self.start).days,
            "login_markers": dict(self.login_markers),
            "access_change_types": list(self.change_types),
        }


@dataclass
class GovernanceRows:
    """The rows of the optional resources, held until the end of the sync.

    They are small (a row per user at most, plus the access changes of a window), and holding
    them lets a resource that Boomi refuses halfway (one account group's chain answering 403)
    leave no table at all rather than a partial one.
    """

    federation: dict[str, dict[str, Any]] = field(default_factory=dict)  # boomi id or user -> row
    sso: dict[str, Any] | None = None
    logins: dict[str, datetime] = field(default_factory=dict)  # user id as written -> latest login
    login_events: int = 0
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)  # document id -> row
    group_accounts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    environment_roles: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    sub_accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # sub-account id -> row
    own_account_listed: bool = False  # Account/query listed the synced account itself

    def add_federation(self, raw: Mapping[str, Any]) -> str | None:
        """Keep an AccountUserFederation object; returns a warning when it cannot be a row."""
        user_id, federation_id = raw.get("userId"), raw.get("federationId")
        if not user_id:
            raise SyncConsistencyError(
                f"an AccountUserFederation object has no userId ({describe(raw)}): its federation id "
                "cannot be given to anyone, and its user would look as if they had none. No snapshot "
                "was written; sync without the federation resource until Boomi's answer names users"
            )
        if not federation_id:
            return f"AccountUserFederation object of {user_id} has no federationId: not written"
        key = str(raw.get("id") or f"{user_id}\x00{federation_id}")
        self.federation[key] = {
            "user_id": str(user_id),
            "federation_id": str(federation_id),
            "boomi_id": None if raw.get("id") is None else str(raw["id"]),
        }
        return None

    def set_sso(self, raw: Mapping[str, Any]) -> None:
        """Keep the AccountSSOConfig answer (no certificate: it says nothing about access)."""
        self.sso = {
            "enabled": as_bool(raw.get("enabled")),
            "fed_id_from_name_id": as_bool(raw.get("fedIdFromNameId")),
            "case_insensitive_federation_id": as_bool(raw.get("caseInsensitiveFederationId")),
            "name_id_policy": _text(raw.get("nameIdPolicy")),
            "authn_context": _text(raw.get("authnContext")),
            "authn_context_comparison": _text(raw.get("authnContextComparison")),
            "assertion_encryption": as_bool(raw.get("assertionEncryption")),
            "idp_url": _text(raw.get("idpUrl")),
        }

    def add_login(self, raw: Mapping[str, Any], at: datetime) -> None:
        """Count a login record of the window (already checked to be one)."""
        user_id = raw.get("userId")
        if not user_id:
            raise SyncConsistencyError(
                f"a login record of the audit log names no userId (date {raw.get('date')!r}): whose "
                "login it was is unknown, so no user's last login can be trusted. No snapshot was "
                "written; check the login_markers, or sync without the audit_log resource"
            )
        self.login_events += 1
        key = str(user_id)
        if key not in self.logins or at > self.logins[key]:
            self.logins[key] = at

    def add_change(self, raw: Mapping[str, Any], at: datetime) -> None:
        """Keep an access-change record: documented fields as they are, nothing interpreted."""
        properties = raw.get("AuditLogProperty")
        document_id = _text(raw.get("documentId"))
        row = {
            "document_id": document_id,
            "changed_at": at,
            "actor_user_id": _text(raw.get("userId")),
            "type": _text(raw.get("type")),
            "action": _text(raw.get("action")),
            "modifier": _text(raw.get("modifier")),
            "level": _text(raw.get("level")),
            "source": _text(raw.get("source")),
            "message": _text(raw.get("message")),
            "properties": None
            if properties is None
            else json.dumps(properties, ensure_ascii=False, sort_keys=True),
        }
        # Unique by Boomi's record id; a record without one is kept whole (nothing to match on).
        self.changes[document_id or f"#{len(self.changes)}"] = row

    def add_group_account(self, raw: Mapping[str, Any], group_id: str) -> str | None:
        """Keep an AccountGroupAccount object read for ``group_id``; a warning if it names none."""
        account_id = raw.get("accountId")
        if not account_id:
            return f"AccountGroupAccount object of group {group_id} names no accountId: not written"
        group = str(raw.get("accountGroupId") or group_id)
        self.group_accounts[(group, str(account_id))] = {
            "account_group_id": group,
            "covered_account_id": str(account_id),
            "boomi_id": _text(raw.get("id")),
        }
        return None

    def add_environment(self, raw: Mapping[str, Any]) -> str | None:
        """Keep an Environment object; a warning if it has no id."""
        environment_id = raw.get("id")
        if not environment_id:
            return f"Environment object without id (name {raw.get('name')!r}): not written"
        self.environments[str(environment_id)] = {
            "environment_id": str(environment_id),
            "name": _text(raw.get("name")),
            "classification": _text(raw.get("classification")),
            "parent_account": _text(raw.get("parentAccount")),
            "parent_environment": _text(raw.get("parentEnvironment")),
        }
        return None

    def add_environment_role(self, raw: Mapping[str, Any]) -> str | None:
        """Keep an EnvironmentRole object; a warning if it lacks the environment or the role."""
        environment_id, role_id = raw.get("environmentId"), raw.get("roleId")
        if not environment_id or not role_id:
            return f"EnvironmentRole object without environmentId or roleId ({describe(raw)}): not written"
        self.environment_roles[(str(environment_id), str(role_id))] = {
            "environment_id": str(environment_id),
            "role_id": str(role_id),
            "boomi_id": _text(raw.get("id")),
        }
        return None

    def add_sub_account(self, raw: Mapping[str, Any], own_account_id: str) -> str | None:
        """Keep an Account object of the sub-account query; returns a warning when a date of it
        cannot be read (written as null).

        The synced account itself is not its own sub-account: if Boomi lists it (the query reads
        "every account I can see", open question g.15), it is noted in ``own_account_listed``
        and not kept. The caller has checked that ``accountId`` is present (the query's filter).
        """
        account_id = str(raw["accountId"])
        if account_id == own_account_id:
            self.own_account_listed = True
            return None
        unreadable = []
        times = {}
        for column, key in (("date_created", "dateCreated"), ("expiration_date", "expirationDate")):
            value = raw.get(key)
            times[column] = parse_boomi_time(value)
            if times[column] is None and value not in (None, ""):
                unreadable.append(f"{key} {value!r}")
        # Unique by account id: a chain restarted after a refused page token reads rows again.
        self.sub_accounts[account_id] = {
            "sub_account_id": account_id,
            "name": _text(raw.get("name")),
            "status": _text(raw.get("status")),
            **times,
        }
        if unreadable:
            return (
                f"Account {account_id}: {', '.join(unreadable)} is not an ISO-8601 time with a time "
                "zone; written as null"
            )
        return None

    def login_rows(
        self, known_users: Iterable[str], window_start: datetime
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """The ``audit_logins`` rows and the user ids left out (as unknown).

        One row per user whose logins were looked for: every user the sync knows and every user
        the window shows logging in; ``last_login_at`` null when the window holds none of theirs.
        A user whose id differs only in case from an id that logged in gets no row (reference
        §g.4: the log may spell one user two ways, or name two users), so the findings say
        "unknown" for them rather than "no login".
        """
        users = set(known_users) | set(self.logins)
        spellings: dict[str, set[str]] = {}
        for user_id in users:
            spellings.setdefault(user_id.lower(), set()).add(user_id)
        rows, left_out = [], []
        for user_id in sorted(users):
            same = spellings[user_id.lower()]
            if len(same) > 1 and any(s in self.logins for s in same):
                left_out.append(user_id)
                continue
            rows.append(
                {"user_id": user_id, "last_login_at": self.logins.get(user_id), "window_start": window_start}
            )
        return rows, left_out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
