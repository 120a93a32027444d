"""Access changes and their results: what to change, how it ended, and how changes are loaded.

A change names its role and account group the way a person does (an id or a name); the
provisioner resolves them against the account before acting. Results are plain values so that
the ledger, the operators' XCom and the logs all describe a change the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from airflow_provider_boomi._rules import parse_bool

__all__ = [
    "ACTIONS",
    "ADD_GROUP_ROLE",
    "ALREADY_SATISFIED",
    "APPLIED",
    "ASSIGN_ROLE",
    "FAILED",
    "GROUP_ACTIONS",
    "OFFBOARD_USER",
    "OUTCOMES",
    "PLANNED",
    "REFUSED",
    "REMOVE_GROUP_ROLE",
    "REVOKE_ROLE",
    "USER_ACTIONS",
    "USER_NOT_FOUND",
    "AccessChange",
    "ChangeResult",
    "changes_from_records",
    "load_changes",
]

ASSIGN_ROLE: Final = "assign_role"
REVOKE_ROLE: Final = "revoke_role"
ADD_GROUP_ROLE: Final = "add_group_role"
REMOVE_GROUP_ROLE: Final = "remove_group_role"
OFFBOARD_USER: Final = "offboard_user"
"""Remove a user from the account: every global role (Standard User included) and every role in
the account's groups. Refused unless removals are allowed explicitly (``allow_user_removal``)."""
ACTIONS: Final[tuple[str, ...]] = (ASSIGN_ROLE, REVOKE_ROLE, ADD_GROUP_ROLE, REMOVE_GROUP_ROLE, OFFBOARD_USER)
"""Every action name a change may carry."""
GROUP_ACTIONS: Final[frozenset[str]] = frozenset({ADD_GROUP_ROLE, REMOVE_GROUP_ROLE})
"""Actions that need an account group."""
USER_ACTIONS: Final[frozenset[str]] = frozenset({OFFBOARD_USER})
"""Actions about the whole user: they name no role and no account group."""

APPLIED: Final = "applied"
ALREADY_SATISFIED: Final = "already_satisfied"
REFUSED: Final = "refused"
FAILED: Final = "failed"
PLANNED: Final = "planned"
USER_NOT_FOUND: Final = "user_not_found"
"""A revoke or remove found the user under no spelling Boomi holds: nothing was changed, and
the access cannot be shown absent (the id may be misspelt), so it is not a success."""
OUTCOMES: Final[tuple[str, ...]] = (APPLIED, ALREADY_SATISFIED, REFUSED, FAILED, PLANNED, USER_NOT_FOUND)
"""Every outcome a change can end with."""


@dataclass(frozen=True)
class AccessChange:
    """One requested access change.

    :param action: one of :data:`ACTIONS`.
    :param user_id: the Boomi user id, which is the user's email.
    :param role: the role's id or its name (ids win when a string is both); empty for the
        actions of :data:`USER_ACTIONS`, which are about every role of the user.
    :param account_group: the account group's id or name; required for group actions.
    :param first_name: passed to Boomi when the assignment invites a new user.
    :param last_name: passed to Boomi when the assignment invites a new user.
    :param notify_user: whether Boomi emails the user about the assignment (``assign_role`` only).
    :param reason: a free-text justification, recorded in the ledger.
    :param role_is_id: ``role`` came from a ``role_id`` field, so it is never looked up as a name.
    :param account_group_is_id: ``account_group`` came from an ``account_group_id`` field.
    """

    action: str
    user_id: str
    role: str = ""
    account_group: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    notify_user: bool = True
    reason: str | None = None
    role_is_id: bool = False
    account_group_is_id: bool = False

    def describe(self) -> str:
        """A short human description used in messages, e.g. ``revoke_role 'Auditor' for a@b.c``."""
        if self.action in USER_ACTIONS:
            return f"{self.action} {self.user_id}"
        where = f" in group {self.account_group}" if self.account_group else ""
        return f"{self.action} {self.role!r} for {self.user_id}{where}"


@dataclass(frozen=True)
class ChangeResult:
    """How one change ended, with everything the ledger records about it.

    An ``offboard_user`` result is the offboarding's summary; ``grants`` holds one result per
    grant it deleted (or planned to delete), each recorded in the ledger as a row of its own
    (``revoke_role`` or ``remove_group_role``), and ``sub_accounts`` the accounts other than this
    one that the user reached through the account groups, which the offboarding does not change.
    """

    action_id: str
    action: str
    user_id: str
    role_id: str | None
    role_name: str | None
    account_group_id: str | None
    account_group_name: str | None
    dry_run: bool
    state_before: str | None
    outcome: str
    side_effects: tuple[str, ...] = ()
    boomi_id: str | None = None
    error: str | None = None
    verification: str | None = None
    reason: str | None = None
    grants: tuple[ChangeResult, ...] = ()
    sub_accounts: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """False when the change failed, was refused, or its user was not found."""
        return self.outcome not in (FAILED, REFUSED, USER_NOT_FOUND)

    def summary(self) -> dict[str, Any]:
        """The small, secret-free dict the operators put in XCom.

        An offboarding's also has ``grants`` (the summary of each grant it deleted or planned
        to delete) and ``sub_accounts``.
        """
        summary: dict[str, Any] = {
            "action": self.action,
            "user_id": self.user_id,
            "role_id": self.role_id,
            "account_group_id": self.account_group_id,
            "outcome": self.outcome,
            "side_effects": list(self.side_effects),
            "error": self.error,
        }
        if self.action in USER_ACTIONS:
            summary["grants"] = [grant.summary() for grant in self.grants]
            summary["sub_accounts"] = list(self.sub_accounts)
        return summary


# --- loading changes from records and files ----------------------------------------------------


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):  # pandas' missing value in CSV/Parquet
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: object) -> str | None:
    if _blank(value):
        return None
    return str(value).strip()


def _flag(value: object, default: bool, *, where: str) -> bool:
    if _blank(value):  # also pandas' NaN, for an empty cell of a CSV or Parquet file
        return default
    try:
        return parse_bool(value, "notify_user", default=default)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None


def changes_from_records(records: Iterable[Mapping[str, Any]]) -> list[AccessChange]:
    """Build changes from dicts (keys as in the change files; unknown keys are ignored).

    Keys: ``action``, ``user_id``, ``role`` (id or name) or ``role_id`` (none for
    ``offboard_user``), ``account_group`` (id or name) or ``account_group_id``, ``first_name``,
    ``last_name``, ``notify_user``, ``reason``. Values are not validated here beyond their
    shape; the provisioner validates every change before making any call.

    :raises ValueError: a record is not a mapping, or a field has an unusable type.
    """
    changes: list[AccessChange] = []
    for index, record in enumerate(records):
        where = f"change #{index + 1}"
        if not isinstance(record, Mapping):
            raise ValueError(f"{where}: expected a mapping of fields, got {type(record).__name__}")
        role_id = _text(record.get("role_id"))
        role = role_id if role_id is not None else _text(record.get("role"))
        group_id = _text(record.get("account_group_id"))
        group = group_id if group_id is not None else _text(record.get("account_group"))
        changes.append(
            AccessChange(
                action=(_text(record.get("action")) or "").lower(),
                user_id=_text(record.get("user_id")) or "",
                role=role or "",
                account_group=group,
                first_name=_text(record.get("first_name")),
                last_name=_text(record.get("last_name")),
                notify_user=_flag(record.get("notify_user"), True, where=where),
                reason=_text(record.get("reason")),
                role_is_id=role_id is not None,
                account_group_is_id=group_id is not None,
            )
        )
    return changes


def load_changes(path: str) -> list[AccessChange]:
    """Read changes from a JSON, CSV or Parquet file (local path or fsspec URL).

    JSON holds a list of objects, or an object with a ``changes`` list. The format follows the
    file extension (``.json``, ``.csv``, ``.parquet``/``.pq``).

    :raises ValueError: unknown extension or malformed content.
    """
    import fsspec  # fsspec (not open()) so that s3://, gcs:// and memory:// work the same way

    lowered = path.lower()
    if lowered.endswith(".json"):
        with fsspec.open(path, "r", encoding="utf-8") as handle:
            data = json.load(handle)
        if isinstance(data, Mapping):
            data = data.get("changes")
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of changes or an object with a 'changes' list")
        return changes_from_records(data)
    if lowered.endswith(".csv"):
        import pandas as pd

        # dtype=str keeps ids such as 0012 and flags such as "false" exactly as written.
        with fsspec.open(path, "r", encoding="utf-8", newline="") as handle:
            frame = pd.read_csv(handle, dtype=str, keep_default_na=False)
        return changes_from_records(_frame_records(frame))
    if lowered.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        with fsspec.open(path, "rb") as handle:
            table = pq.read_table(handle)
        return changes_from_records(table.to_pylist())
    raise ValueError(f"{path}: unknown changes file type; use .json, .csv or .parquet")


def _frame_records(frame: Any) -> Sequence[Mapping[str, Any]]:
    records: Sequence[Mapping[str, Any]] = frame.to_dict(orient="records")
    return records
