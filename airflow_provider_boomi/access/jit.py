"""Just-in-time grants in the ledger: the reason that records their expiry, and which are overdue.

A just-in-time (JIT) grant is a role given for a limited time. Its expiry is kept where it
survives any run that dies: in the ledger row of the grant, as the change's ``reason``, in one
parseable form written by :func:`jit_reason` and read by :func:`parse_jit_reason`::

    JIT until 2026-11-30T10:00:00+00:00: INC-4711 investigate failed deployments

The expiry is an ISO 8601 time with its UTC offset (always ``+00:00``), then ``": "``, then the
requester's justification as typed. Only the text up to the first ``": "`` after ``JIT until``
is read as the expiry, so a justification cannot move it.

:func:`overdue_jit_grants` reads a ledger (as :func:`~airflow_provider_boomi.access.ledger.read_ledger`
returns it) and says which JIT grants are past their expiry and still not revoked: the revoke
failed, was delayed, or the run that should have revoked died. The JIT catch-up DAG revokes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from airflow_provider_boomi.access.changes import (
    ADD_GROUP_ROLE,
    ALREADY_SATISFIED,
    APPLIED,
    ASSIGN_ROLE,
    REMOVE_GROUP_ROLE,
    REVOKE_ROLE,
    USER_NOT_FOUND,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "JIT_REASON_PREFIX",
    "JitReason",
    "OverdueJitGrant",
    "UnreadableJitReason",
    "jit_reason",
    "overdue_jit_grants",
    "parse_jit_reason",
    "unreadable_jit_reasons",
]

JIT_REASON_PREFIX: Final = "JIT until "
"""How the reason of every JIT grant begins; a reason without it is not a JIT grant."""

_SEPARATOR: Final = ": "
# The expiry is one token without spaces (ISO 8601), so the first ": " after it ends it; the
# justification is everything after, whatever it contains.
_REASON_RE: Final = re.compile(r"JIT until (?P<expires>\S+?): (?P<justification>.*)", re.DOTALL)

#: A revoke of the same grant: what the grant action is undone by.
_REVOKE_OF: Final[Mapping[str, str]] = {ASSIGN_ROLE: REVOKE_ROLE, ADD_GROUP_ROLE: REMOVE_GROUP_ROLE}
#: Outcomes after which the user no longer holds the grant (or never will: no such user).
_REVOKED_OUTCOMES: Final = frozenset({APPLIED, ALREADY_SATISFIED, USER_NOT_FOUND})
#: Outcomes after which the user holds the grant.
_HELD_OUTCOMES: Final = frozenset({APPLIED, ALREADY_SATISFIED})


@dataclass(frozen=True)
class JitReason:
    """A parsed JIT reason: when the grant ends, and why it was asked for."""

    expires_at: datetime
    """When the grant is to be revoked (timezone-aware, UTC)."""
    justification: str
    """The requester's justification, as typed."""


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (give a UTC offset), got {moment.isoformat()}")
    return moment.astimezone(UTC)


def jit_reason(expires_at: datetime, justification: str) -> str:
    """The ledger reason of a JIT grant: ``JIT until <expiry, ISO 8601 UTC>: <justification>``.

    :param expires_at: when the grant ends; timezone-aware (it is written in UTC, to the second).
    :param justification: why the access was asked for; must not be blank.
    :raises ValueError: a naive ``expires_at`` or a blank justification.
    """
    expires = _utc(expires_at, "expires_at").replace(microsecond=0)
    text = (justification or "").strip()
    if not text:
        raise ValueError("a JIT grant needs a justification: say why the access is needed")
    return f"{JIT_REASON_PREFIX}{expires.isoformat()}{_SEPARATOR}{text}"


def parse_jit_reason(reason: str | None) -> JitReason | None:
    """Read a reason written by :func:`jit_reason`.

    :param reason: a ledger row's ``reason``.
    :returns: the expiry and justification; ``None`` when the reason is not a JIT reason (it
        does not begin with :data:`JIT_REASON_PREFIX`; blank and missing reasons included).
    :raises ValueError: the reason begins like a JIT reason but its expiry cannot be read
        (the message says what form is expected).
    """
    if not isinstance(reason, str) or not reason.startswith(JIT_REASON_PREFIX):
        return None
    expected = "expected 'JIT until <ISO 8601 time with UTC offset>: <justification>'"
    match = _REASON_RE.fullmatch(reason)
    if match is None:
        raise ValueError(f"JIT reason {reason!r} cannot be read: {expected}")
    try:
        expires = datetime.fromisoformat(match["expires"])
    except ValueError:
        raise ValueError(
            f"JIT reason {reason!r} cannot be read: {match['expires']!r} is not an ISO 8601 time; {expected}"
        ) from None
    if expires.tzinfo is None:
        raise ValueError(f"JIT reason {reason!r} cannot be read: the expiry has no UTC offset; {expected}")
    return JitReason(expires_at=expires.astimezone(UTC), justification=match["justification"])


@dataclass(frozen=True)
class OverdueJitGrant:
    """A JIT grant past its expiry that the ledger shows no revoke for."""

    account_id: str | None
    action: str
    """The grant's action (``assign_role`` or ``add_group_role``)."""
    user_id: str
    role_id: str | None
    role_name: str | None
    account_group_id: str | None
    account_group_name: str | None
    expires_at: datetime
    granted_at: datetime
    """When the grant's ledger row was recorded."""
    justification: str
    grant_action_id: str
    """The ledger ``action_id`` of the grant."""
    dag_id: str | None = None
    run_id: str | None = None
    approved_by: str | None = None

    @property
    def revoke_action(self) -> str:
        """The action that takes the grant away (``revoke_role`` or ``remove_group_role``)."""
        return _REVOKE_OF[self.action]

    def revoke_change(self, reason: str) -> dict[str, Any]:
        """The revoke as a change record (ids, not names) for the provisioning operators.

        :param reason: the justification recorded in the ledger for the revoke.
        """
        change: dict[str, Any] = {
            "action": self.revoke_action,
            "user_id": self.user_id,
            "role_id": self.role_id,
            "reason": reason,
        }
        if self.account_group_id:
            change["account_group_id"] = self.account_group_id
        return change

    def describe(self) -> str:
        """One line for a report: who, what, where, since when, from which run."""
        role = self.role_name or self.role_id
        group = self.account_group_name or self.account_group_id
        where = f" in account group {group}" if group else ""
        run = f" (granted by {self.dag_id} run {self.run_id})" if self.run_id else ""
        return f"{self.user_id}: {role}{where}, expired {self.expires_at.isoformat()}{run}"

    def summary(self) -> dict[str, Any]:
        """A JSON-safe dict (times as ISO 8601 strings) for XCom and reports."""
        return {
            "account_id": self.account_id,
            "action": self.action,
            "user_id": self.user_id,
            "role_id": self.role_id,
            "role_name": self.role_name,
            "account_group_id": self.account_group_id,
            "account_group_name": self.account_group_name,
            "expires_at": self.expires_at.isoformat(),
            "granted_at": self.granted_at.isoformat(),
            "justification": self.justification,
            "grant_action_id": self.grant_action_id,
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "approved_by": self.approved_by,
        }


@dataclass(frozen=True)
class UnreadableJitReason:
    """A ledger row whose reason begins like a JIT reason but whose expiry cannot be read."""

    action_id: str
    user_id: str
    reason: str
    error: str


def _text(value: Any) -> str | None:
    """A ledger cell as text: pandas gives ``None`` or NaN for an empty cell."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value)
    return text or None


def _rows(frame: pd.DataFrame) -> Iterable[Mapping[str, Any]]:
    # read_ledger sorts by recorded_at then action_id; sort again so any frame is walked in order.
    if len(frame) == 0:
        return []
    ordered = frame.sort_values(["recorded_at", "action_id"], kind="stable")
    return ordered.to_dict("records")


def _key(row: Mapping[str, Any]) -> tuple[str, str, str, str]:
    # Boomi matches user ids (emails) without regard to case in the accounts we know; a revoke
    # written with another spelling of the same email still closes the grant.
    return (
        _text(row.get("account_id")) or "",
        (_text(row.get("user_id")) or "").casefold(),
        _text(row.get("role_id")) or "",
        _text(row.get("account_group_id")) or "",
    )


def _timestamp(value: Any) -> datetime:
    moment = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return _utc(moment, "recorded_at")


def overdue_jit_grants(ledger: pd.DataFrame, now: datetime) -> list[OverdueJitGrant]:
    """The JIT grants of ``ledger`` past their expiry at ``now`` and not revoked since.

    The ledger is walked in the order it was recorded, one (account, user, role, account group)
    at a time; dry runs are ignored. For each, an applied grant whose reason is a JIT reason
    opens a JIT grant with its expiry. It is closed by a later revoke of the same grant that
    ended ``applied``, ``already_satisfied`` or ``user_not_found``, and by a later grant of it
    that is not JIT (the access is then meant to stay). A later JIT grant found
    ``already_satisfied`` (asked again while still held) moves the expiry to the later of the
    two. What is still open at the end, with its expiry at or before ``now``, is overdue.

    Rows whose reason begins like a JIT reason but cannot be read are left out here; see
    :func:`unreadable_jit_reasons`.

    :param ledger: the ledger, as :func:`~airflow_provider_boomi.access.ledger.read_ledger` returns it.
    :param now: the time to compare expiries with (timezone-aware).
    :returns: the overdue grants, the longest overdue first.
    :raises ValueError: ``now`` is naive.
    """
    now = _utc(now, "now")
    open_grants: dict[tuple[str, str, str, str], OverdueJitGrant] = {}
    for row in _rows(ledger):
        if bool(row.get("dry_run")):
            continue
        action = _text(row.get("action")) or ""
        outcome = _text(row.get("outcome"))
        key = _key(row)
        if action in _REVOKE_OF.values():
            if outcome in _REVOKED_OUTCOMES:
                open_grants.pop(key, None)
            continue
        if action not in _REVOKE_OF or outcome not in _HELD_OUTCOMES:
            continue
        try:
            parsed = parse_jit_reason(_text(row.get("reason")))
        except ValueError:
            continue  # reported by unreadable_jit_reasons
        if parsed is None:
            open_grants.pop(key, None)  # granted for good: not this check's to revoke
            continue
        held = open_grants.get(key)
        if outcome == APPLIED:
            open_grants[key] = _grant_of(row, action, parsed)
        elif held is not None and parsed.expires_at > held.expires_at:
            open_grants[key] = _grant_of(row, action, parsed, granted_at=held.granted_at)
    overdue = [grant for grant in open_grants.values() if grant.expires_at <= now]
    return sorted(overdue, key=lambda grant: (grant.expires_at, grant.grant_action_id))


def _grant_of(
    row: Mapping[str, Any], action: str, parsed: JitReason, *, granted_at: datetime | None = None
) -> OverdueJitGrant:
    return OverdueJitGrant(
        account_id=_text(row.get("account_id")),
        action=action,
        user_id=_text(row.get("user_id")) or "",
        role_id=_text(row.get("role_id")),
        role_name=_text(row.get("role_name")),
        account_group_id=_text(row.get("account_group_id")),
        account_group_name=_text(row.get("account_group_name")),
        expires_at=parsed.expires_at,
        granted_at=granted_at or _timestamp(row["recorded_at"]),
        justification=parsed.justification,
        grant_action_id=_text(row.get("action_id")) or "",
        dag_id=_text(row.get("dag_id")),
        run_id=_text(row.get("run_id")),
        approved_by=_text(row.get("approved_by")),
    )


def unreadable_jit_reasons(ledger: pd.DataFrame) -> list[UnreadableJitReason]:
    """Grant rows whose reason begins like a JIT reason but whose expiry cannot be read.

    The ledger is append-only, so such a row stays; it is reported (with what form is
    expected) rather than stopping every later catch-up.

    :param ledger: the ledger, as :func:`~airflow_provider_boomi.access.ledger.read_ledger` returns it.
    """
    found: list[UnreadableJitReason] = []
    for row in _rows(ledger):
        if _text(row.get("action")) not in _REVOKE_OF or bool(row.get("dry_run")):
            continue
        reason = _text(row.get("reason"))
        try:
            parse_jit_reason(reason)
        except ValueError as exc:
            found.append(
                UnreadableJitReason(
                    action_id=_text(row.get("action_id")) or "",
                    user_id=_text(row.get("user_id")) or "",
                    reason=reason or "",
                    error=str(exc),
                )
            )
    return found
