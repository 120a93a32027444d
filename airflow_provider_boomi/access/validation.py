"""Input checks that run before any call to Boomi.

A typo in an email would otherwise invite a stranger (Boomi creates a user for any unknown
address), so every change is checked first and a batch with any bad change is refused whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from airflow_provider_boomi.access.changes import ACTIONS, GROUP_ACTIONS, USER_ACTIONS, AccessChange

__all__ = ["ProvisioningInputError", "check_email", "validate_change", "validate_changes"]

# Deliberately simple: one @, no whitespace or list separators, a dotted domain with a
# letter-only TLD. Anything stricter rejects real addresses; anything looser lets typos through.
_EMAIL_RE = re.compile(
    r"^[^@\s,;<>()\[\]\\\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$"
)
_MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
_MAX_NAME_LENGTH = 200


class ProvisioningInputError(ValueError):
    """One or more changes are invalid; no call to Boomi was made."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        head = (
            "invalid access change"
            if len(self.problems) == 1
            else f"{len(self.problems)} invalid access changes"
        )
        super().__init__(f"{head} (nothing was sent to Boomi): " + "; ".join(self.problems))


def check_email(user_id: str) -> str | None:
    """Return a problem description when ``user_id`` is not a plausible email, else ``None``."""
    if not user_id or not user_id.strip():
        return "user_id is empty: give the user's email (Boomi user ids are emails)"
    if user_id != user_id.strip():
        return f"user_id {user_id!r} has leading or trailing spaces"
    if len(user_id) > _MAX_EMAIL_LENGTH:
        return f"user_id is longer than {_MAX_EMAIL_LENGTH} characters"
    if user_id.count("@") != 1 or not _EMAIL_RE.match(user_id):
        return (
            f"user_id {user_id!r} is not an email address: Boomi user ids are the user's email, "
            "e.g. dana.lee@acme.example"
        )
    return None


def _problems(change: AccessChange) -> list[str]:
    problems: list[str] = []
    if change.action not in ACTIONS:
        problems.append(f"unknown action {change.action!r}: use one of {', '.join(ACTIONS)}")
    email_problem = check_email(change.user_id)
    if email_problem:
        problems.append(email_problem)
    if change.action in USER_ACTIONS:
        # An offboarding removes every role of the user; a role or group given with it means the
        # author wanted something narrower, which is not what would happen.
        if change.role and change.role.strip():
            problems.append(
                f"{change.action} removes every role of the user and takes no role (got {change.role!r}); "
                "use revoke_role or remove_group_role to take away one role"
            )
        if change.account_group and change.account_group.strip():
            problems.append(
                f"{change.action} removes the user from every account group and takes no account group "
                f"(got {change.account_group!r}); use remove_group_role for one group"
            )
        return problems
    if not change.role or not change.role.strip():
        problems.append("role is empty: give the role's id or name")
    if change.action in GROUP_ACTIONS and (not change.account_group or not change.account_group.strip()):
        problems.append(f"{change.action} needs an account group: give account_group (id or name)")
    if change.action not in GROUP_ACTIONS and change.account_group:
        problems.append(
            f"{change.action} is a global role change and takes no account group "
            f"(got {change.account_group!r}); use add_group_role or remove_group_role"
        )
    for label, value in (("first_name", change.first_name), ("last_name", change.last_name)):
        if value is not None and len(value) > _MAX_NAME_LENGTH:
            problems.append(f"{label} is longer than {_MAX_NAME_LENGTH} characters")
    return problems


def validate_change(change: AccessChange) -> None:
    """Raise :class:`ProvisioningInputError` when the change is invalid."""
    problems = _problems(change)
    if problems:
        raise ProvisioningInputError(
            [f"{change.action or '?'} for {change.user_id!r}: {p}" for p in problems]
        )


def validate_changes(changes: Sequence[AccessChange]) -> None:
    """Validate every change; raise one error listing the problems of all of them (numbered from 1).

    Beyond each change on its own: an ``offboard_user`` change must be the only change of its
    user in the batch (another change of that user would be undone by it, or would put the user
    back: neither can be what was meant).
    """
    problems: list[str] = []
    by_user: dict[str, list[int]] = {}
    for index, change in enumerate(changes, start=1):
        problems.extend(f"change #{index}: {p}" for p in _problems(change))
        by_user.setdefault(change.user_id.strip().lower(), []).append(index)
    for index, change in enumerate(changes, start=1):
        if change.action not in USER_ACTIONS:
            continue
        others = [i for i in by_user[change.user_id.strip().lower()] if i != index]
        if others:
            problems.append(
                f"change #{index}: {change.action} for {change.user_id!r} removes every grant of the user, "
                f"and change(s) #{', #'.join(map(str, others))} change the same user in this batch; "
                f"keep only the {change.action} change (or only the others)"
            )
    if problems:
        raise ProvisioningInputError(problems)
