"""Typed, immutable records for the Boomi objects the project uses.

Parsing is lenient on purpose: Boomi's schema requires no property of these objects, so a
missing field becomes ``None`` instead of failing a whole page, unknown keys (including
``@type``) are ignored, and scalars are coerced to the documented type where that is safe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Account",
    "AccountGroup",
    "AccountGroupUserRole",
    "AccountUserRole",
    "Role",
    "is_canonical_uuid",
]

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_canonical_uuid(value: object) -> bool:
    """True for a canonical 8-4-4-4-12 hex UUID string, in any case and of any UUID version.

    Boomi's built-in roles use version-1 UUIDs, so a version-4-only test would be wrong; ids
    with a 13-character last group (seen in Boomi's docs) are rejected.
    """
    return isinstance(value, str) and _UUID_RE.fullmatch(value) is not None


def _str(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
    return None


def _bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if isinstance(value, bool):
        return value
    # XML-to-JSON gateways sometimes turn booleans into strings.
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _mapping(data: object) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return data


def _privileges(data: Mapping[str, Any]) -> tuple[str, ...]:
    container = data.get("Privileges", data.get("privileges"))
    if isinstance(container, Mapping):
        items: object = container.get("Privilege", container.get("privilege"))
    else:
        items = container
    if isinstance(items, Mapping):  # a single privilege not wrapped in a list
        items = [items]
    if not isinstance(items, list):
        return ()
    names: list[str] = []
    for item in items:
        name = item.get("name") if isinstance(item, Mapping) else item
        if isinstance(name, str) and name:
            names.append(name)
    return tuple(names)


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


@dataclass(frozen=True)
class Role:
    """A Boomi role (built-in roles belong to account ``"1"``)."""

    id: str | None = None
    account_id: str | None = None
    name: str | None = None
    parent_id: str | None = None
    description: str | None = None
    privileges: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Role:
        """Parse a Role JSON object (``Description``/``description`` both accepted)."""
        data = _mapping(data)
        return cls(
            id=_str(data, "id"),
            account_id=_str(data, "accountId"),
            name=_str(data, "name"),
            parent_id=_str(data, "parentId"),
            description=_str(data, "Description", "description"),
            privileges=_privileges(data),
        )

    def to_api(self) -> dict[str, Any]:
        """The JSON body Boomi expects (capitalised ``Description`` and ``Privileges``)."""
        body = _compact(
            {
                "id": self.id,
                "accountId": self.account_id,
                "name": self.name,
                "parentId": self.parent_id,
                "Description": self.description,
            }
        )
        if self.privileges:
            body["Privileges"] = {"Privilege": [{"name": name} for name in self.privileges]}
        return body


@dataclass(frozen=True)
class AccountUserRole:
    """A global role grant: one user holding one role in the account."""

    id: str | None = None
    account_id: str | None = None
    user_id: str | None = None
    role_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    notify_user: bool | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> AccountUserRole:
        """Parse an AccountUserRole JSON object."""
        data = _mapping(data)
        return cls(
            id=_str(data, "id"),
            account_id=_str(data, "accountId"),
            user_id=_str(data, "userId"),
            role_id=_str(data, "roleId"),
            first_name=_str(data, "firstName"),
            last_name=_str(data, "lastName"),
            notify_user=_bool(data, "notifyUser"),
        )

    def to_api(self) -> dict[str, Any]:
        """The JSON body Boomi expects; ``None`` fields are left out."""
        return _compact(
            {
                "id": self.id,
                "accountId": self.account_id,
                "userId": self.user_id,
                "roleId": self.role_id,
                "firstName": self.first_name,
                "lastName": self.last_name,
                "notifyUser": self.notify_user,
            }
        )


@dataclass(frozen=True)
class AccountGroup:
    """An account group (a primary-account feature)."""

    id: str | None = None
    account_id: str | None = None
    name: str | None = None
    default_group: bool | None = None
    auto_subscribe_alert_level: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> AccountGroup:
        """Parse an AccountGroup JSON object (``Resources`` is ignored)."""
        data = _mapping(data)
        return cls(
            id=_str(data, "id"),
            account_id=_str(data, "accountId"),
            name=_str(data, "name"),
            default_group=_bool(data, "defaultGroup"),
            auto_subscribe_alert_level=_str(data, "autoSubscribeAlertLevel"),
        )

    def to_api(self) -> dict[str, Any]:
        """The JSON body Boomi expects; ``None`` fields are left out."""
        return _compact(
            {
                "id": self.id,
                "accountId": self.account_id,
                "name": self.name,
                "defaultGroup": self.default_group,
                "autoSubscribeAlertLevel": self.auto_subscribe_alert_level,
            }
        )


@dataclass(frozen=True)
class AccountGroupUserRole:
    """A group-scoped role grant: one user holding one role within one account group."""

    id: str | None = None
    account_group_id: str | None = None
    user_id: str | None = None
    role_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> AccountGroupUserRole:
        """Parse an AccountGroupUserRole JSON object."""
        data = _mapping(data)
        return cls(
            id=_str(data, "id"),
            account_group_id=_str(data, "accountGroupId"),
            user_id=_str(data, "userId"),
            role_id=_str(data, "roleId"),
            first_name=_str(data, "firstName"),
            last_name=_str(data, "lastName"),
        )

    def to_api(self) -> dict[str, Any]:
        """The JSON body Boomi expects; ``None`` fields are left out."""
        return _compact(
            {
                "id": self.id,
                "accountGroupId": self.account_group_id,
                "userId": self.user_id,
                "roleId": self.role_id,
                "firstName": self.first_name,
                "lastName": self.last_name,
            }
        )


@dataclass(frozen=True)
class Account:
    """The authenticated Boomi account (dates kept as Boomi's ISO-8601 strings)."""

    account_id: str | None = None
    name: str | None = None
    status: str | None = None
    date_created: str | None = None
    expiration_date: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Account:
        """Parse an Account JSON object (licensing and other details are ignored)."""
        data = _mapping(data)
        return cls(
            account_id=_str(data, "accountId"),
            name=_str(data, "name"),
            status=_str(data, "status"),
            date_created=_str(data, "dateCreated"),
            expiration_date=_str(data, "expirationDate"),
        )

    def to_api(self) -> dict[str, Any]:
        """The JSON shape Boomi uses; ``None`` fields are left out."""
        return _compact(
            {
                "accountId": self.account_id,
                "name": self.name,
                "status": self.status,
                "dateCreated": self.date_created,
                "expirationDate": self.expiration_date,
            }
        )
