"""Where a campaign stands: per reviewer, how many items are decided, pending, and overdue.

Computed from the campaign folder alone (``campaign.json`` and the recorded decisions), so the
report, notifications and the warehouse all read the same answer, whenever they ask.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from .campaign import Campaign, load_campaign
from .decisions import Decision, load_recorded_decisions
from .reviewers import reviewer_key

__all__ = [
    "DECIDED",
    "OVERDUE",
    "PENDING",
    "CampaignStatus",
    "ReviewerStatus",
    "campaign_status",
    "status_of",
]

#: Every item of the reviewer is decided.
DECIDED: Final = "decided"
#: Items are still open, and the due date has not passed (or there is none).
PENDING: Final = "pending"
#: Items are still open after the due date.
OVERDUE: Final = "overdue"


@dataclass(frozen=True)
class ReviewerStatus:
    """One reviewer's progress.

    :ivar reviewer: the reviewer as the campaign names them (``None``: the items nobody reviews).
    :ivar items: items the reviewer decides.
    :ivar decided: of those, items with a recorded decision.
    :ivar pending: items without one.
    :ivar overdue: pending items past the due date (0 without a due date).
    :ivar last_decided_at: when their latest decision was accepted, if any.
    """

    reviewer: str | None
    items: int
    decided: int
    pending: int
    overdue: int
    last_decided_at: datetime | None = None

    @property
    def state(self) -> str:
        """``decided``, ``overdue`` or ``pending``."""
        return DECIDED if not self.pending else OVERDUE if self.overdue else PENDING

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (for XCom, notifications and the warehouse)."""
        return {
            "reviewer": self.reviewer,
            "state": self.state,
            "items": self.items,
            "decided": self.decided,
            "pending": self.pending,
            "overdue": self.overdue,
            "last_decided_at": self.last_decided_at.isoformat() if self.last_decided_at else None,
        }


@dataclass(frozen=True)
class CampaignStatus:
    """A campaign's progress at one moment.

    :ivar campaign_id: the campaign.
    :ivar account_id: its account.
    :ivar due_date: its due date (``None``: none set).
    :ivar as_of: the moment the status describes (UTC).
    :ivar reviewers: one entry per reviewer, sorted by reviewer (the unassigned items last).
    """

    campaign_id: str
    account_id: str
    due_date: date | None
    as_of: datetime
    reviewers: tuple[ReviewerStatus, ...]

    @property
    def items(self) -> int:
        """Items of the campaign."""
        return sum(r.items for r in self.reviewers)

    @property
    def decided(self) -> int:
        """Items with a recorded decision."""
        return sum(r.decided for r in self.reviewers)

    @property
    def pending(self) -> int:
        """Items without one."""
        return sum(r.pending for r in self.reviewers)

    @property
    def overdue(self) -> int:
        """Pending items past the due date."""
        return sum(r.overdue for r in self.reviewers)

    @property
    def is_overdue(self) -> bool:
        """Whether the due date has passed (whatever is still pending)."""
        return self.due_date is not None and self.as_of.date() > self.due_date

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (for XCom, notifications and the warehouse)."""
        return {
            "campaign_id": self.campaign_id,
            "account_id": self.account_id,
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "as_of": self.as_of.isoformat(),
            "totals": {
                "items": self.items,
                "decided": self.decided,
                "pending": self.pending,
                "overdue": self.overdue,
            },
            "reviewers": [r.to_dict() for r in self.reviewers],
        }


def status_of(
    campaign: Campaign, decisions: Iterable[Decision], now: datetime | None = None
) -> CampaignStatus:
    """The status of ``campaign`` given its recorded ``decisions`` (see :func:`campaign_status`).

    An item is decided when any record holds a decision for it. Items are pending until then,
    and overdue once the day after the due date has begun (UTC): the due date itself is still
    in time.
    """
    as_of = (now or datetime.now(UTC)).astimezone(UTC)
    late = campaign.due_date is not None and as_of.date() > campaign.due_date
    latest: dict[str, datetime | None] = {}
    for decision in decisions:
        seen = latest.get(decision.item.item_id)
        if decision.item.item_id not in latest or (
            decision.decided_at and (seen is None or decision.decided_at > seen)
        ):
            latest[decision.item.item_id] = decision.decided_at
    groups: dict[str | None, list[Any]] = {}
    names: dict[str | None, str | None] = {}
    for item in campaign.items:
        key = reviewer_key(item.reviewer) if item.reviewer is not None else None
        names.setdefault(key, item.reviewer)
        groups.setdefault(key, []).append(item)
    statuses = []
    for key in sorted(groups, key=lambda k: (k is None, k or "")):
        items = groups[key]
        decided = [i for i in items if i.item_id in latest]
        times = [t for t in (latest[i.item_id] for i in decided) if t is not None]
        pending = len(items) - len(decided)
        statuses.append(
            ReviewerStatus(
                reviewer=names[key],
                items=len(items),
                decided=len(decided),
                pending=pending,
                overdue=pending if late else 0,
                last_decided_at=max(times, default=None),
            )
        )
    return CampaignStatus(
        campaign_id=campaign.campaign_id,
        account_id=campaign.account_id,
        due_date=campaign.due_date,
        as_of=as_of,
        reviewers=tuple(statuses),
    )


def campaign_status(campaign_dir: Any, now: datetime | None = None) -> CampaignStatus:
    """Where the campaign in ``campaign_dir`` stands at ``now`` (default now, UTC).

    Reads ``campaign.json`` and every recorded decision (``decisions.json`` and
    ``decisions/*.json``); ``campaign_dir`` is a local folder, an fsspec URL or an
    ``ObjectStoragePath``.

    :raises FileNotFoundError: the folder holds no campaign.
    :raises ValueError: a decision record is unreadable or names an item the campaign lacks.
    """
    return status_of(load_campaign(campaign_dir), load_recorded_decisions(campaign_dir), now)
