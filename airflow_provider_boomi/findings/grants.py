"""Effective grants: what a user holds, directly and through account groups, with the path.

In a snapshot a user holds exactly the rows of two tables: ``user_role_grants`` (a global role,
held directly in the account) and ``group_role_grants`` (a role the user holds within one
account group, Boomi's AccountGroupUserRole row). Group membership is not a table of its own:
being in a group *is* holding a role in it, and the group's other roles are not the user's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Grant", "effective_grants"]


@dataclass(frozen=True)
class Grant:
    """One role a user holds, and how.

    :param grant_id: the snapshot's grant id (baton convention).
    :param grant_kind: ``global_role`` (direct) or ``group_role`` (through an account group).
    :param account_group_id: the group, for group grants.
    """

    grant_id: str
    grant_kind: Literal["global_role", "group_role"]
    user_id: str
    role_id: str
    role_name: str | None
    account_group_id: str | None
    account_group_name: str | None

    @property
    def path(self) -> str:
        """How the user holds the role, in words: ``direct`` or ``through account group X (id)``."""
        if self.grant_kind == "global_role":
            return "direct"
        name = self.account_group_name or "(unnamed)"
        return f"through account group {name} ({self.account_group_id})"

    def evidence(self) -> dict[str, Any]:
        """The grant as a JSON-friendly dict, for a finding's evidence."""
        return {
            "grant_id": self.grant_id,
            "grant_kind": self.grant_kind,
            "role_id": self.role_id,
            "role_name": self.role_name,
            "account_group_id": self.account_group_id,
            "account_group_name": self.account_group_name,
            "path": self.path,
        }


def effective_grants(
    user_role_grants: Iterable[dict[str, Any]], group_role_grants: Iterable[dict[str, Any]]
) -> list[Grant]:
    """Every grant of a snapshot, both tables in one shape (rows as ``to_pylist()`` gives them)."""
    grants = [
        Grant(r["grant_id"], "global_role", r["user_id"], r["role_id"], r.get("role_name"), None, None)
        for r in user_role_grants
    ]
    grants += [
        Grant(
            r["grant_id"],
            "group_role",
            r["user_id"],
            r["role_id"],
            r.get("role_name"),
            r["account_group_id"],
            r.get("account_group_name"),
        )
        for r in group_role_grants
    ]
    return grants
