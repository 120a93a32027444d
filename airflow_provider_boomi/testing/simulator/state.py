"""The simulated account: roles, directory users, grants and account groups, with Boomi's rules.

Everything is held as the JSON dicts Boomi returns (``@type`` included). Stored rows are never
mutated after creation, so a query snapshot is a list of references; accessors hand out copies.
One re-entrant lock guards all of it.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import random
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import SimulatorApiError
from .filters import CompiledQuery

ADMINISTRATOR_ID = "fcb6dd44-0ca8-11e2-a477-1231381987a5"
STANDARD_USER_ID = "fcb6e2d0-0ca8-11e2-a477-1231381987a5"
PRODUCTION_SUPPORT_ID = "fcb6e3b6-0ca8-11e2-a477-1231381987a5"
SUPPORT_ID = "fcb6e474-0ca8-11e2-a477-1231381987a5"
BUILTIN_ACCOUNT_ID = "1"
"""Boomi's built-in roles belong to account ``"1"``."""

CANONICAL_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
"""Roles whose id is not 8-4-4-4-12 hex cannot be assigned through the API."""

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OBJECT_TYPES = ("Role", "AccountUserRole", "AccountGroup", "AccountGroupUserRole")
ALERT_LEVELS = ("none", "info", "warning", "error")
USER_ID_CASES = ("insensitive", "sensitive")
"""§g.4: how ``userId`` is matched, in filters and in the directory."""
BUILTIN_ROLES_MODES = ("listed", "by_id_only")
"""§g.2: whether Role/query lists the built-in roles."""
GROUP_ROLES_ON_REMOVAL = ("kept", "removed")
"""What becomes of a user's AccountGroupUserRole rows when their last AccountUserRole row is
deleted (the user leaves the account): Boomi documents that the user is then no longer in the
account, not what happens to their group roles."""


def conceptual_id(*parts: str) -> str:
    """Boomi-like opaque 70-character alphanumeric id, deterministic from its parts."""
    digest = hashlib.sha512("|".join(parts).encode("utf-8")).digest()
    text = base64.b64encode(digest).decode("ascii").translate(str.maketrans("+/=", "PqZ"))
    return text[:70]


def make_role(
    role_id: str,
    account_id: str,
    name: str,
    privileges: Iterable[str],
    parent_id: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    """A Role object as Boomi returns it from Role/query and GET Role/{id}."""
    role: dict[str, Any] = {"@type": "Role", "id": role_id, "accountId": account_id, "name": name}
    if parent_id is not None:
        role["parentId"] = parent_id
    role["Description"] = description
    role["Privileges"] = {
        "@type": "Privileges",
        "Privilege": [{"@type": "", "name": p} for p in privileges],
    }
    return role


@dataclass(frozen=True)
class _User:
    user_id: str
    first_name: str
    last_name: str
    has_logged_in: bool


def default_names(email: str) -> tuple[str, str]:
    """First and last name the simulator gives an invitee whose request named none.

    Boomi assigns defaults but does not document them; the simulator derives them from the local
    part of the email (``dana.lee+x@...`` -> ``Dana``, ``Lee``; no separator -> last name empty).
    """
    local = email.split("@", 1)[0].split("+", 1)[0]
    parts = [p for p in re.split(r"[._-]+", local) if p] or [local]
    first = parts[0].capitalize()
    last = parts[-1].capitalize() if len(parts) > 1 else ""
    return first, last


def _bad(message: str) -> SimulatorApiError:
    return SimulatorApiError(400, message)


class SimulatorState:
    """The one Boomi account the simulator serves, with the semantics of the Platform API.

    Accessors return Boomi JSON dicts exactly as the API would (copies). Mutators apply the same
    rules as the HTTP API and raise ``SimulatorApiError`` with the same status and message.

    ``user_id_case`` (§g.4) decides how the directory keys users: ``"insensitive"`` (by lower-cased
    email, so ``A@x.com`` and ``a@x.com`` are one user) or ``"sensitive"`` (by the exact spelling:
    two spellings are two users). Every mutator follows it. ``builtin_roles`` (§g.2) decides whether
    Role queries list the built-in roles (``"listed"``) or only custom ones (``"by_id_only"``).
    Rows of other accounts (§g.5, ``add_foreign_user_role``) are served by AccountUserRole queries
    only; they are not this account's rows for any rule or accessor but ``foreign_user_roles()``.

    A user is in the account exactly while they hold an AccountUserRole row (``users()``,
    ``inAccount``); the directory entry stays (Boomi users are not per account). When the last row
    goes, ``group_roles_on_removal`` decides the user's group role rows: ``"kept"`` (they stay, as
    group membership is its own object) or ``"removed"`` (they go with the user). It can be changed
    on a running simulator (``state.group_roles_on_removal = "removed"``).
    """

    def __init__(
        self,
        account_id: str,
        account_name: str,
        *,
        primary: bool = True,
        advanced_user_security: bool = True,
        seed: int = 0,
        user_id_case: str = "insensitive",
        builtin_roles: str = "listed",
        group_roles_on_removal: str = "kept",
    ) -> None:
        if user_id_case not in USER_ID_CASES:
            raise ValueError(f"user_id_case must be one of {USER_ID_CASES}, not {user_id_case!r}")
        if builtin_roles not in BUILTIN_ROLES_MODES:
            raise ValueError(f"builtin_roles must be one of {BUILTIN_ROLES_MODES}, not {builtin_roles!r}")
        self._lock = threading.RLock()
        self._rng = random.Random(f"state:{seed}")
        self.account_id = account_id
        self.account_name = account_name
        self.primary = primary
        self.advanced_user_security = advanced_user_security
        self.user_id_case = user_id_case
        self.builtin_roles = builtin_roles
        self._group_roles_on_removal = "kept"
        self.group_roles_on_removal = group_roles_on_removal
        self.api_user_id: str | None = None
        """The email of the API user (set by the profile loader)."""
        self._roles: dict[str, dict[str, Any]] = {}
        self._users: dict[str, _User] = {}  # key: user_key(email)
        self._aur: dict[str, dict[str, Any]] = {}
        self._groups: dict[str, dict[str, Any]] = {}
        self._group_resources: dict[str, list[dict[str, Any]]] = {}
        self._agur: dict[str, dict[str, Any]] = {}
        # Ordered-set indexes (dict keys) so an EQUALS filter need not scan 40,000 rows.
        self._aur_index: dict[str, dict[str, dict[str, None]]] = {"userId": {}, "roleId": {}}
        self._agur_index: dict[str, dict[str, dict[str, None]]] = {
            "accountGroupId": {},
            "userId": {},
            "roleId": {},
        }
        # AccountUserRole rows of other accounts (§g.5), apart so no rule mistakes them for ours.
        self._foreign_aur: dict[str, dict[str, Any]] = {}
        self._foreign_index: dict[str, dict[str, dict[str, None]]] = {"userId": {}, "roleId": {}}

    @property
    def group_roles_on_removal(self) -> str:
        """``"kept"`` or ``"removed"``: see the class docstring."""
        return self._group_roles_on_removal

    @group_roles_on_removal.setter
    def group_roles_on_removal(self, mode: str) -> None:
        if mode not in GROUP_ROLES_ON_REMOVAL:
            raise ValueError(f"group_roles_on_removal must be one of {GROUP_ROLES_ON_REMOVAL}, not {mode!r}")
        with self._lock:
            self._group_roles_on_removal = mode

    def user_key(self, user_id: str) -> str:
        """The directory key of an email: lower-cased, or as spelt when user ids are case-sensitive."""
        return user_id if self.user_id_case == "sensitive" else user_id.lower()

    # ----------------------------------------------------------------- read accessors

    def roles(self) -> list[dict[str, Any]]:
        """All Role objects (built-in and custom), in insertion order."""
        with self._lock:
            return copy.deepcopy(list(self._roles.values()))

    def role_by_name(self, name: str) -> dict[str, Any] | None:
        """The first role with exactly this name, or ``None``."""
        with self._lock:
            for role in self._roles.values():
                if role["name"] == name:
                    return copy.deepcopy(role)
            return None

    def user_roles(self) -> list[dict[str, Any]]:
        """All AccountUserRole rows of this account."""
        with self._lock:
            return [dict(r) for r in self._aur.values()]

    def foreign_user_roles(self) -> list[dict[str, Any]]:
        """AccountUserRole rows of other accounts (§g.5 ``cross_account_rows``; else empty)."""
        with self._lock:
            return [dict(r) for r in self._foreign_aur.values()]

    def account_groups(self) -> list[dict[str, Any]]:
        """All AccountGroup objects (as Boomi's query returns them: without Resources)."""
        with self._lock:
            return [dict(g) for g in self._groups.values()]

    def group_roles(self) -> list[dict[str, Any]]:
        """All AccountGroupUserRole rows."""
        with self._lock:
            return [dict(r) for r in self._agur.values()]

    def users(self) -> list[dict[str, Any]]:
        """Every directory user: userId, firstName, lastName, hasLoggedIn, inAccount.

        ``inAccount`` is true exactly when the user holds at least one AccountUserRole row.
        """
        with self._lock:
            by_user = self._aur_index["userId"]
            return [
                {
                    "userId": u.user_id,
                    "firstName": u.first_name,
                    "lastName": u.last_name,
                    "hasLoggedIn": u.has_logged_in,
                    "inAccount": bool(by_user.get(key)),
                }
                for key, u in self._users.items()
            ]

    def account(self) -> dict[str, Any]:
        """The Account object of GET Account/{accountId}."""
        return {
            "@type": "Account",
            "accountId": self.account_id,
            "name": self.account_name,
            "status": "active",
            "dateCreated": "2021-03-04T10:11:12Z",
            "widgetAccount": False,
            "supportAccess": True,
            "supportLevel": "standard",
            "overDeployed": False,
            "suggestionsEnabled": False,
        }

    # ----------------------------------------------------------------- API reads

    def query(self, object_type: str, compiled: CompiledQuery) -> list[dict[str, Any]]:
        """Snapshot of the rows of ``object_type`` selected by ``compiled``, in insertion order.

        AccountUserRole queries also see the rows of other accounts, after this account's (§g.5):
        a filter on ``accountId`` is what keeps them out.
        """
        with self._lock:
            table, index = self._table(object_type)
            rows = self._candidates(table, index, compiled)
            if object_type == "AccountUserRole" and self._foreign_aur:
                rows += self._candidates(self._foreign_aur, self._foreign_index, compiled)
            if object_type == "Role":
                if not self.advanced_user_security:
                    rows = [r for r in rows if r["accountId"] == BUILTIN_ACCOUNT_ID]
                if self.builtin_roles == "by_id_only":
                    rows = [r for r in rows if r["accountId"] != BUILTIN_ACCOUNT_ID]
            return [r for r in rows if compiled.predicate(r)]

    def _candidates(
        self,
        table: dict[str, dict[str, Any]],
        index: dict[str, dict[str, dict[str, None]]],
        compiled: CompiledQuery,
    ) -> list[dict[str, Any]]:
        """The rows an index narrows ``table`` to (all rows without a usable hint): the first
        indexed equality, else the union of an indexed ``or`` of equalities, else the rows of
        every value but those a set of NOT_EQUALS terms excludes. The caller's predicate still
        decides; an index only spares it rows that cannot match."""
        for prop, value in compiled.index_hints:
            if prop in index:
                return [table[i] for i in index[prop].get(self._key(prop, value), {})]
        for prop, values in compiled.index_any:
            if prop in index:
                ids = {i for v in values for i in index[prop].get(self._key(prop, v), {})}
                # A set test per row keeps insertion order at a fraction of the filter's cost.
                return [row for row_id, row in table.items() if row_id in ids]
        for prop, excluded in compiled.index_none:
            if prop in index and prop != "userId":  # user ids may be compared without case
                ids = {i for key, bucket in index[prop].items() if key not in excluded for i in bucket}
                return [row for row_id, row in table.items() if row_id in ids]
        return list(table.values())

    def _key(self, prop: str, value: str) -> str:
        return self.user_key(value) if prop == "userId" else value

    def _table(
        self, object_type: str
    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, dict[str, None]]]]:
        if object_type == "Role":
            return self._roles, {}
        if object_type == "AccountUserRole":
            return self._aur, self._aur_index
        if object_type == "AccountGroup":
            return self._groups, {}
        if object_type == "AccountGroupUserRole":
            return self._agur, self._agur_index
        raise SimulatorApiError(404, f"Unknown object type {object_type}.")

    def get_role(self, role_id: str) -> dict[str, Any]:
        """GET Role/{id}; unknown id -> 400 "No such Role"."""
        with self._lock:
            role = self._roles.get(role_id)
            if role is None or (not self.advanced_user_security and role["accountId"] != BUILTIN_ACCOUNT_ID):
                raise _bad(f"No such Role: {role_id}")
            return copy.deepcopy(role)

    def get_account_group(self, group_id: str) -> dict[str, Any]:
        """GET AccountGroup/{id}, which (unlike query) includes Resources."""
        with self._lock:
            group = self._groups.get(group_id)
            if group is None:
                raise _bad(f"No such AccountGroup: {group_id}")
            out = dict(group)
            out["Resources"] = {
                "@type": "Resources",
                "Resource": copy.deepcopy(self._group_resources.get(group_id, [])),
            }
            return out

    def assignable_roles(self) -> dict[str, Any]:
        """GET getAssignableRoles: roles with canonical ids, shaped like Boomi's documented example
        (lower-case ``description``, no ``Privileges``)."""
        with self._lock:
            out: list[dict[str, Any]] = []
            for role in self._roles.values():
                if not CANONICAL_ID.match(role["id"]):
                    continue
                if not self.advanced_user_security and role["accountId"] != BUILTIN_ACCOUNT_ID:
                    continue
                item: dict[str, Any] = {"@type": "Role", "description": role.get("Description", "")}
                item.update((k, role[k]) for k in ("id", "accountId", "name", "parentId") if k in role)
                out.append(item)
            return {"@type": "", "Role": out}

    # ----------------------------------------------------------------- API writes

    def create_user_role(self, body: Any) -> dict[str, Any]:
        """POST AccountUserRole: grant a role; an unknown email is created (invited) first."""
        fields = _body_fields(body, ("userId", "roleId"))
        account = fields.get("accountId")
        if account is not None and account != self.account_id:
            raise _bad(f"accountId {account} does not match the account of the request ({self.account_id}).")
        row = self.grant_role(
            fields["userId"],
            fields["roleId"],
            first_name=_opt_str(fields.get("firstName")),
            last_name=_opt_str(fields.get("lastName")),
        )
        if "notifyUser" in fields:
            row["notifyUser"] = bool(fields["notifyUser"])
        return row

    def delete_user_role(self, row_id: str) -> None:
        """DELETE AccountUserRole/{id}; unknown id -> 400.

        Deleting the user's last row takes them out of the account; their group role rows then
        stay or go as ``group_roles_on_removal`` says.
        """
        with self._lock:
            row = self._aur.pop(row_id, None)
            if row is None:
                raise _bad(f"No such AccountUserRole: {row_id}")
            self._unindex(self._aur_index, row_id, row)
            key = self._index_key("userId", row)
            if self._group_roles_on_removal == "removed" and not self._aur_index["userId"].get(key):
                for group_row_id in list(self._agur_index["userId"].get(key, {})):
                    self.delete_group_role(group_row_id)

    def create_group_role(self, body: Any) -> dict[str, Any]:
        """POST AccountGroupUserRole: give a logged-in user a role within an account group."""
        fields = _body_fields(body, ("accountGroupId", "userId", "roleId"))
        row = self.add_group_role(fields["accountGroupId"], fields["userId"], fields["roleId"])
        if "notifyUser" in fields:
            row["notifyUser"] = bool(fields["notifyUser"])
        return row

    def delete_group_role(self, row_id: str) -> None:
        """DELETE AccountGroupUserRole/{id}; unknown id -> 400."""
        with self._lock:
            row = self._agur.pop(row_id, None)
            if row is None:
                raise _bad(f"No such AccountGroupUserRole: {row_id}")
            self._unindex(self._agur_index, row_id, row)

    # ----------------------------------------------------------------- mutators (same rules as the API)

    def grant_role(
        self, user_id: str, role_id: str, first_name: str | None = None, last_name: str | None = None
    ) -> dict[str, Any]:
        """Add an AccountUserRole row; invite ``user_id`` if the directory does not know it.

        Names are used only for a new user. Raises 400 for an invalid email, an unknown or
        non-assignable role, or a role the user already holds.
        """
        with self._lock:
            if not EMAIL.match(user_id):
                raise _bad(f"userId {user_id!r} is not a valid email address.")
            self._check_assignable(role_id)
            key = self.user_key(user_id)
            if self._find(self._aur_index, {"userId": key, "roleId": role_id}):
                raise _bad(f"User {user_id} already has role {role_id} in account {self.account_id}.")
            user = self._users.get(key)
            if user is None:
                first, last = default_names(user_id)
                last = last_name if last_name is not None else last
                user = _User(user_id, first_name or first, last, False)
                self._users[key] = user
            row = self._aur_row(user, role_id)
            self._insert(self._aur, self._aur_index, row)
            return dict(row)

    def revoke_role(self, user_id: str, role_id: str) -> None:
        """Delete the user's AccountUserRole row for ``role_id`` (400 if absent).

        Deleting the last row takes the user out of the account (see :meth:`delete_user_role`).
        """
        with self._lock:
            ids = self._find(self._aur_index, {"userId": self.user_key(user_id), "roleId": role_id})
            if not ids:
                raise _bad(f"No such AccountUserRole for user {user_id} and role {role_id}")
            self.delete_user_role(ids[0])

    def add_group_role(self, group_id: str, user_id: str, role_id: str) -> dict[str, Any]:
        """Add an AccountGroupUserRole row (the user must exist and have logged in)."""
        with self._lock:
            group = self._groups.get(group_id)
            if group is None:
                raise _bad(f"AccountGroup {group_id} does not exist.")
            self._check_assignable(role_id)
            key = self.user_key(user_id)
            user = self._users.get(key)
            if user is None or not user.has_logged_in:
                raise _bad(
                    "User must log in to the platform before being added to an account group "
                    f"(user {user_id})."
                )
            if self._find(self._agur_index, {"accountGroupId": group_id, "userId": key, "roleId": role_id}):
                raise _bad(f"User {user_id} already has role {role_id} in account group {group_id}.")
            row = self._agur_row(group_id, user, role_id)
            self._insert(self._agur, self._agur_index, row)
            return dict(row)

    def remove_group_role(self, group_id: str, user_id: str, role_id: str) -> None:
        """Delete the user's AccountGroupUserRole row for this group and role (400 if absent)."""
        with self._lock:
            ids = self._find(
                self._agur_index,
                {"accountGroupId": group_id, "userId": self.user_key(user_id), "roleId": role_id},
            )
            if not ids:
                raise _bad(f"No such AccountGroupUserRole for {user_id}, group {group_id}, role {role_id}")
            self.delete_group_role(ids[0])

    def set_logged_in(self, user_id: str, logged_in: bool) -> None:
        """Mark a directory user as having logged in (or not)."""
        with self._lock:
            key = self.user_key(user_id)
            user = self._users.get(key)
            if user is None:
                raise KeyError(f"unknown user {user_id}")
            self._users[key] = _User(user.user_id, user.first_name, user.last_name, logged_in)

    def add_user(self, user_id: str, first_name: str, last_name: str, logged_in: bool = True) -> None:
        """Add a directory user who holds no role in this account (``inAccount`` false)."""
        with self._lock:
            if not EMAIL.match(user_id):
                raise ValueError(f"userId {user_id!r} is not a valid email address")
            key = self.user_key(user_id)
            if key in self._users:
                raise ValueError(f"user {user_id} already exists")
            self._users[key] = _User(user_id, first_name, last_name, logged_in)

    def add_role(
        self,
        name: str,
        privileges: Iterable[str],
        parent_id: str | None = None,
        role_id: str | None = None,
        description: str = "",
        account_id: str | None = None,
    ) -> dict[str, Any]:
        """Add a role (custom by default: owned by this account) and return it.

        ``parent_id`` is not checked: a dangling or self-referencing parent is a valid test case.
        """
        with self._lock:
            if role_id is None:
                role_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            if role_id in self._roles:
                raise ValueError(f"role id {role_id} already exists")
            role = make_role(role_id, account_id or self.account_id, name, privileges, parent_id, description)
            self._roles[role_id] = role
            return copy.deepcopy(role)

    def add_account_group(
        self,
        name: str,
        *,
        default_group: bool = False,
        auto_subscribe_alert_level: str = "none",
        group_id: str | None = None,
        resources: Iterable[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """Add an account group (as if created in Boomi) and return it."""
        if auto_subscribe_alert_level not in ALERT_LEVELS:
            raise ValueError(f"auto_subscribe_alert_level must be one of {ALERT_LEVELS}")
        with self._lock:
            if group_id is None:
                group_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            if group_id in self._groups:
                raise ValueError(f"account group {group_id} already exists")
            group = {
                "@type": "AccountGroup",
                "id": group_id,
                "accountId": self.account_id,
                "name": name,
                "defaultGroup": default_group,
                "autoSubscribeAlertLevel": auto_subscribe_alert_level,
            }
            self._groups[group_id] = group
            self._group_resources[group_id] = [{"@type": "", **r} for r in resources]
            return dict(group)

    # ----------------------------------------------------------------- bulk loading (profiles)

    def load_rows(
        self,
        user_roles: Iterable[tuple[str, str]],
        group_roles: Iterable[tuple[str, str, str]],
    ) -> None:
        """Fast path for profiles: add grants of known users and roles without per-row validation."""
        with self._lock:
            for user_id, role_id in user_roles:
                row = self._aur_row(self._users[self.user_key(user_id)], role_id)
                self._insert(self._aur, self._aur_index, row)
            for group_id, user_id, role_id in group_roles:
                row = self._agur_row(group_id, self._users[self.user_key(user_id)], role_id)
                self._insert(self._agur, self._agur_index, row)

    def add_foreign_user_role(self, account_id: str, user_id: str, role_id: str) -> dict[str, Any]:
        """Add an AccountUserRole row of *another* account for a directory user (§g.5).

        Such rows answer AccountUserRole queries that do not narrow ``accountId`` to this account,
        and nothing else: they cannot be deleted through this account, do not count as the user's
        roles here, and are listed by ``foreign_user_roles()`` only. Raises ``ValueError`` for this
        account's own id, an unknown user or a duplicate.
        """
        with self._lock:
            if account_id == self.account_id:
                raise ValueError("a foreign row needs another account's id")
            user = self._users.get(self.user_key(user_id))
            if user is None:
                raise ValueError(f"unknown user {user_id}")
            row = self._aur_row(user, role_id, account_id)
            if row["id"] in self._foreign_aur:
                raise ValueError(f"{user_id} already has role {role_id} in account {account_id}")
            self._insert(self._foreign_aur, self._foreign_index, row)
            return dict(row)

    # ----------------------------------------------------------------- internals

    def _check_assignable(self, role_id: str) -> None:
        if role_id not in self._roles:
            raise _bad(f"Role {role_id} does not exist.")
        if not CANONICAL_ID.match(role_id):
            raise _bad(f"Role {role_id} cannot be assigned through the API.")

    def _aur_row(self, user: _User, role_id: str, account_id: str | None = None) -> dict[str, Any]:
        account_id = account_id or self.account_id
        return {
            "@type": "AccountUserRole",
            "id": conceptual_id(account_id, self.user_key(user.user_id), role_id),
            "accountId": account_id,
            "userId": user.user_id,
            "roleId": role_id,
            "firstName": user.first_name,
            "lastName": user.last_name,
        }

    def _agur_row(self, group_id: str, user: _User, role_id: str) -> dict[str, Any]:
        return {
            "@type": "AccountGroupUserRole",
            "id": conceptual_id("group", group_id, self.user_key(user.user_id), role_id),
            "accountGroupId": group_id,
            "userId": user.user_id,
            "roleId": role_id,
            "firstName": user.first_name,
            "lastName": user.last_name,
        }

    def _index_key(self, prop: str, row: dict[str, Any]) -> str:
        value = str(row[prop])
        return self.user_key(value) if prop == "userId" else value

    def _insert(
        self,
        table: dict[str, dict[str, Any]],
        index: dict[str, dict[str, dict[str, None]]],
        row: dict[str, Any],
    ) -> None:
        table[row["id"]] = row
        for prop, entries in index.items():
            entries.setdefault(self._index_key(prop, row), {})[row["id"]] = None

    def _unindex(
        self, index: dict[str, dict[str, dict[str, None]]], row_id: str, row: dict[str, Any]
    ) -> None:
        for prop, entries in index.items():
            key = self._index_key(prop, row)
            bucket = entries.get(key)
            if bucket is not None:
                bucket.pop(row_id, None)
                if not bucket:
                    del entries[key]

    @staticmethod
    def _find(index: dict[str, dict[str, dict[str, None]]], wanted: dict[str, str]) -> list[str]:
        """Ids of rows matching every (indexed property, key) pair."""
        sets = [index[prop].get(key, {}) for prop, key in wanted.items()]
        smallest = min(sets, key=len)
        return [i for i in smallest if all(i in s for s in sets)]


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _body_fields(body: Any, required: tuple[str, ...]) -> dict[str, Any]:
    """Request body fields without ``@type``; 400 naming the first missing required field."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    fields = {k: v for k, v in body.items() if k != "@type"}
    for name in required:
        value = fields.get(name)
        if value is None or value == "":
            raise _bad(f"Missing required field {name}.")
        if not isinstance(value, str):
            raise _bad(f"Field {name} must be a string.")
    return fields
