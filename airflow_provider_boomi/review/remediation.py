"""Remediation: from a revoke decision to the grant's verified removal, against a deadline.

Each ``revoke`` a reviewer records starts a clock: the grant must be gone from Boomi within
``remediation_days``. Three sources say how far it got:

- the decision itself (when it was made; :func:`~.decisions.load_recorded_decisions`);
- the provisioning ledger (:func:`~airflow_provider_boomi.access.ledger.read_ledger`): a
  revoke of that grant recorded after the decision, with its outcome;
- the latest complete snapshot of the account: whether the grant is still there.

Per revoke, one state:

- ``verified``: a snapshot taken after the decision no longer holds the grant. This is the
  end of the story whoever removed it (a removal made in Boomi's own console counts; the
  ``detail`` then says the ledger has no record of it);
- ``contradicted``: the ledger says the revoke held (``applied`` or ``already_satisfied``), yet
  a snapshot taken after it still holds the grant (it was granted again, or the change did not
  take): someone must look;
- ``applied``: the ledger says it held, and no snapshot has been taken since to prove it;
- ``pending``: nothing has removed it yet (or the last attempt was refused or failed: the
  ``detail`` and ``ledger_outcome`` say so);
- ``overdue``: any of the last three, past the deadline (the ``detail`` keeps which).

Plain Python (no Airflow import); the reminders DAG's operator loads the result into the
warehouse (``boomi_review_remediation``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from airflow_provider_boomi.access.changes import (
    ALREADY_SATISFIED,
    APPLIED,
    REMOVE_GROUP_ROLE,
    REVOKE_ROLE,
)
from airflow_provider_boomi.dataset import GRANT_TABLES, SnapshotStore

from .campaign import Campaign, ReviewItem
from .decisions import Decision
from .verification import expected_grant_id
from .workbook import REVOKING_DECISIONS

__all__ = [
    "DEFAULT_REMEDIATION_DAYS",
    "REMEDIATION_STATES",
    "GrantSnapshot",
    "RemediationItem",
    "latest_grants",
    "track_remediation",
]

#: Days from a revoke decision to its deadline when none is given.
DEFAULT_REMEDIATION_DAYS: Final = 14
REMEDIATION_STATES: Final[tuple[str, ...]] = ("pending", "applied", "verified", "contradicted", "overdue")
"""Every state a revoke can be in (see the module's description)."""

_HOLDS = (APPLIED, ALREADY_SATISFIED)
_REVOKES = (REVOKE_ROLE, REMOVE_GROUP_ROLE)


@dataclass(frozen=True)
class GrantSnapshot:
    """The grants of one snapshot, for checking removals.

    :ivar sync_id: the snapshot.
    :ivar synced_at: when it was taken (UTC).
    :ivar grant_ids: every grant id it holds, lower-cased (Boomi may spell a user id in another
        case than the campaign did).
    """

    sync_id: str
    synced_at: datetime
    grant_ids: frozenset[str]

    def holds(self, grant_id: str) -> bool:
        """Whether the snapshot holds ``grant_id`` (compared without case)."""
        return grant_id.lower() in self.grant_ids


def latest_grants(store: SnapshotStore | Any, account_id: str) -> GrantSnapshot | None:
    """The grants of the newest complete snapshot of ``account_id`` that has both grant tables.

    A partial sync (``resources=[...]``) without the grant tables says nothing about them, so
    it is skipped rather than read as "every grant removed".

    :param store: a :class:`~airflow_provider_boomi.dataset.SnapshotStore` or its root.
    :param account_id: the account.
    :returns: ``None`` when the account has no such snapshot.
    """
    store = store if isinstance(store, SnapshotStore) else SnapshotStore(store)
    for info in reversed(store.snapshots(account_id)):
        if all(table in info.row_counts for table in GRANT_TABLES):
            present: set[str] = set()
            for table in GRANT_TABLES:
                rows = store.read_table(account_id, info.sync_id, table, columns=["grant_id"], as_="arrow")
                present.update(g.lower() for g in rows.column("grant_id").to_pylist())
            return GrantSnapshot(info.sync_id, info.synced_at.astimezone(UTC), frozenset(present))
    return None


@dataclass(frozen=True)
class RemediationItem:
    """Where the removal decided for one grant stands.

    :ivar item: the campaign's item (the grant).
    :ivar reviewer: who decided to revoke it.
    :ivar decided_at: when (UTC).
    :ivar deadline: the last day for its removal (``decided_at``'s UTC date plus the days allowed).
    :ivar state: one of :data:`REMEDIATION_STATES`.
    :ivar ledger_outcome: the outcome of the latest revoke of the grant in the ledger since the
        decision (``None``: none recorded).
    :ivar applied_at: when the ledger recorded it holding (``None`` otherwise).
    :ivar verified_sync_id: the snapshot that shows the grant gone (``verified`` only).
    :ivar verified_at: that snapshot's time.
    :ivar detail: one sentence for people: what the state rests on, and what to do.
    """

    item: ReviewItem
    reviewer: str | None
    decided_at: datetime
    deadline: date
    state: str
    ledger_outcome: str | None
    applied_at: datetime | None
    verified_sync_id: str | None
    verified_at: datetime | None
    detail: str

    def to_row(self) -> dict[str, Any]:
        """The row of ``boomi_review_remediation`` (without the campaign, account and day)."""
        return {
            "item_id": self.item.item_id,
            "grant_kind": self.item.grant_kind,
            "user_id": self.item.user_id,
            "role_id": self.item.role_id,
            "account_group_id": self.item.account_group_id,
            "reviewer": self.reviewer,
            "decided_at": self.decided_at,
            "deadline": self.deadline,
            "state": self.state,
            "ledger_outcome": self.ledger_outcome,
            "applied_at": self.applied_at,
            "verified_sync_id": self.verified_sync_id,
            "verified_at": self.verified_at,
            "detail": self.detail,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly (for XCom): times and dates as ISO text."""
        return {
            key: value.isoformat() if isinstance(value, date) else value
            for key, value in self.to_row().items()
        }


def _utc(value: Any, what: str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp from the ledger
        value = value.to_pydatetime()
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{what} must be a time with a time zone, got {value!r}")
    return value.astimezone(UTC)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _latest_revokes(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """item id -> the latest decision on it, for every item whose latest decision is ``revoke``."""
    latest: dict[str, Decision] = {}
    for decision in decisions:
        item_id = decision.item.item_id
        if decision.decided_at is None:
            raise ValueError(
                f"the {decision.decision} decision on {item_id} has no decided_at: its deadline cannot be "
                "set; restore the campaign's decision record"
            )
        _utc(decision.decided_at, f"decided_at of the decision on {item_id}")
        seen = latest.get(item_id)
        if seen is None or decision.decided_at >= seen.decided_at:  # type: ignore[operator]
            latest[item_id] = decision
    return {item_id: d for item_id, d in latest.items() if d.decision in REVOKING_DECISIONS}


def _ledger_revokes(ledger: Any, account_id: str) -> dict[str, list[dict[str, Any]]]:
    """grant id (lower-cased) -> the ledger's real (not dry-run) revokes of it, oldest first."""
    by_grant: dict[str, list[dict[str, Any]]] = {}
    if ledger is None:
        return by_grant
    rows: Sequence[Mapping[str, Any]] = ledger.to_dict("records") if hasattr(ledger, "to_dict") else ledger
    for row in rows:
        if row.get("action") not in _REVOKES or bool(row.get("dry_run")):
            continue
        # Rows of other accounts are skipped; a row without an account (a script's ledger with no
        # RunContext) cannot be placed and is skipped too rather than credited to this one.
        if row.get("account_id") != account_id or _blank(row.get("role_id")):
            continue
        change = {
            "user_id": row["user_id"],
            "role_id": row["role_id"],
            "account_group_id": None if _blank(row.get("account_group_id")) else row["account_group_id"],
        }
        entry = {**row, "recorded_at": _utc(row["recorded_at"], "ledger recorded_at")}
        by_grant.setdefault(expected_grant_id(change).lower(), []).append(entry)
    for entries in by_grant.values():
        entries.sort(key=lambda e: e["recorded_at"])
    return by_grant


def track_remediation(
    campaign: Campaign,
    decisions: Iterable[Decision],
    *,
    ledger: Any,
    snapshot: GrantSnapshot | None,
    now: datetime,
    remediation_days: int = DEFAULT_REMEDIATION_DAYS,
) -> list[RemediationItem]:
    """Where each revoke decision of ``campaign`` stands at ``now``.

    :param campaign: the campaign (its items say which grant each decision is about).
    :param decisions: the recorded decisions, as :func:`~.decisions.load_recorded_decisions`
        returns them; the latest decision per item counts, and only ``revoke`` starts
        remediation. Who decided is the decision's proven reviewer, else the item's.
    :param ledger: the provisioning ledger (:func:`~airflow_provider_boomi.access.ledger.read_ledger`'s
        DataFrame, or its rows as mappings); ``None`` when there is none.
    :param snapshot: the latest grants of the account (:func:`latest_grants`); ``None`` when
        there is no snapshot.
    :param now: the time to judge at (aware); the deadline is compared with its UTC date.
    :param remediation_days: days from a decision to its deadline.
    :returns: one :class:`RemediationItem` per revoke, in campaign item order.
    :raises ValueError: a decision names an item the campaign does not have, or has no time or
        one without a time zone; a negative ``remediation_days``.
    """
    if isinstance(remediation_days, bool) or not isinstance(remediation_days, int) or remediation_days < 0:
        raise ValueError(f"remediation_days must be a whole number of days >= 0, got {remediation_days!r}")
    today = _utc(now, "now").date()
    revokes = _latest_revokes(decisions)
    unknown = sorted(item_id for item_id in revokes if item_id not in {i.item_id for i in campaign.items})
    if unknown:
        raise ValueError(
            f"{len(unknown)} revoke decision(s) name items campaign {campaign.campaign_id} does not have "
            f"({', '.join(unknown[:5])}); the decision records belong to another campaign"
        )
    attempts = _ledger_revokes(ledger, campaign.account_id)
    tracked = []
    for item in campaign.items:
        if item.item_id not in revokes:
            continue
        revoke = revokes[item.item_id]
        reviewer = revoke.reviewer or item.reviewer
        decided_at = _utc(revoke.decided_at, "decided_at")
        deadline = decided_at.date() + timedelta(days=remediation_days)
        since = [e for e in attempts.get(item.item_id.lower(), []) if e["recorded_at"] >= decided_at]
        last = since[-1] if since else None
        held = next((e for e in reversed(since) if e["outcome"] in _HOLDS), None)
        applied_at = held["recorded_at"] if held else None
        verified_sync_id = verified_at = None
        if snapshot is not None and snapshot.synced_at >= decided_at and not snapshot.holds(item.item_id):
            state = "verified"
            verified_sync_id, verified_at = snapshot.sync_id, snapshot.synced_at
            detail = f"snapshot {snapshot.sync_id} no longer holds the grant"
            if held is None:
                detail += "; the ledger has no revoke of it (removed outside this provisioning?)"
            if verified_at.date() > deadline:
                detail += f"; removed after the deadline {deadline.isoformat()}"
        else:
            if held is not None and snapshot is not None and snapshot.synced_at > held["recorded_at"]:
                state = "contradicted"
                detail = (
                    f"the ledger recorded the revoke as {held['outcome']} at "
                    f"{held['recorded_at'].isoformat()}, yet snapshot {snapshot.sync_id}, taken after, "
                    "still holds the grant; check the user in Boomi and revoke again"
                )
            elif held is not None:
                state = "applied"
                detail = (
                    f"revoked ({held['outcome']}) at {held['recorded_at'].isoformat()}; "
                    "no snapshot since to verify it: sync the account"
                )
            else:
                state = "pending"
                detail = "not revoked yet: apply the campaign's decisions"
                if last is not None:
                    detail = (
                        f"the last revoke attempt ended {last['outcome']}"
                        + (f" ({last['error']})" if not _blank(last.get("error")) else "")
                        + "; fix the cause and apply again"
                    )
            if today > deadline:
                detail = f"past the deadline {deadline.isoformat()} ({state}): {detail}"
                state = "overdue"
        tracked.append(
            RemediationItem(
                item=item,
                reviewer=reviewer,
                decided_at=decided_at,
                deadline=deadline,
                state=state,
                ledger_outcome=str(last["outcome"]) if last else None,
                applied_at=applied_at,
                verified_sync_id=verified_sync_id,
                verified_at=verified_at,
                detail=detail,
            )
        )
    return tracked
