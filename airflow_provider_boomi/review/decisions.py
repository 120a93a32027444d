"""Decisions read back from a filled workbook, validated, and turned into a change set.

Validation is all-or-nothing: every problem of the workbook is collected and reported in one
:class:`DecisionValidationError`, so a reviewer fixes the file once instead of once per error,
and no change is produced from a workbook that is partly wrong.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .campaign import DECISIONS_FILE, Campaign, ReviewItem, load_campaign
from .workbook import DECISION_VALUES, WorkbookTable, read_workbook

__all__ = [
    "Decision",
    "DecisionProblem",
    "DecisionValidationError",
    "Decisions",
    "decisions_to_changes",
    "read_decisions",
    "record_decisions",
]

#: How many problems the exception message lists; ``.problems`` always has all of them.
MESSAGE_PROBLEMS = 25

DecisionValue = Literal["keep", "revoke"]


@dataclass(frozen=True)
class DecisionProblem:
    """One problem of a filled workbook.

    Attributes:
        row: the row (XLSX) or line (CSV) number, ``None`` for problems of the whole file.
        item_id: the item concerned, when known.
        message: what is wrong and what to do.
        where: ``row`` or ``line``.
    """

    row: int | None
    item_id: str | None
    message: str
    where: str = "row"

    def __str__(self) -> str:
        return f"{self.where} {self.row}: {self.message}" if self.row is not None else self.message


class DecisionValidationError(ValueError):
    """A filled workbook does not match its campaign; nothing was applied.

    Attributes:
        problems: every problem found, in file order (file-level problems first).
        workbook: the file read.
    """

    def __init__(self, workbook: str, campaign_id: str, problems: list[DecisionProblem]) -> None:
        self.workbook = workbook
        self.campaign_id = campaign_id
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:MESSAGE_PROBLEMS])
        more = len(problems) - MESSAGE_PROBLEMS
        if more > 0:
            shown += f"\n  ... and {more} more (see .problems)"
        super().__init__(
            f"{workbook} has {len(problems)} problem(s) for campaign {campaign_id}; no decision was "
            f"applied. Fix them and read the workbook again:\n{shown}"
        )


@dataclass(frozen=True)
class Decision:
    """A reviewer's decision on one item.

    Attributes:
        item: the campaign's item (ids come from the campaign, never from the workbook).
        decision: ``keep`` or ``revoke``.
        comment: the reviewer's comment (may be empty).
        row: where it was in the workbook.
    """

    item: ReviewItem
    decision: DecisionValue
    comment: str
    row: int


@dataclass(frozen=True)
class Decisions:
    """All decisions of a campaign, validated: exactly one per item.

    Attributes:
        campaign_id: the campaign decided.
        account_id: Boomi account id.
        sync_id: the snapshot reviewed.
        workbook: the file they were read from.
        decisions: one per item, in campaign item order.
    """

    campaign_id: str
    account_id: str
    sync_id: str
    workbook: str
    decisions: tuple[Decision, ...]

    @property
    def revoked(self) -> list[Decision]:
        """Decisions to revoke."""
        return [d for d in self.decisions if d.decision == "revoke"]

    @property
    def kept(self) -> list[Decision]:
        """Decisions to keep."""
        return [d for d in self.decisions if d.decision == "keep"]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written by :func:`record_decisions`."""
        return {
            "campaign_id": self.campaign_id,
            "account_id": self.account_id,
            "sync_id": self.sync_id,
            "workbook": self.workbook,
            "counts": {"keep": len(self.kept), "revoke": len(self.revoked)},
            "decisions": [
                {
                    "item_id": d.item.item_id,
                    "decision": d.decision,
                    "comment": d.comment,
                    "reviewer": d.item.reviewer,
                }
                for d in self.decisions
            ],
        }


def _describe(item: ReviewItem) -> str:
    group = f" in group {item.group_label}" if item.account_group_id else ""
    return f"{item.item_id} ({item.user_id}, {item.role_label}{group})"


def _validate(
    campaign: Campaign, table: WorkbookTable, name: str
) -> tuple[list[Decision], list[DecisionProblem]]:
    where = table.where
    problems: list[DecisionProblem] = []

    def problem(row: int | None, item_id: str | None, message: str) -> None:
        problems.append(DecisionProblem(row=row, item_id=item_id, message=message, where=where))

    if table.campaign_id and table.campaign_id != campaign.campaign_id:
        problem(
            None,
            None,
            f"{name} was written for campaign {table.campaign_id}, not {campaign.campaign_id}; "
            "use the workbook of this campaign",
        )
        return [], problems
    duplicated = sorted({c for c in table.header if c and table.header.count(c) > 1})
    if duplicated:
        problem(None, None, f"the header repeats column(s) {', '.join(duplicated)}; keep one of each")
    missing = [c for c in ("item_id", "decision") if c not in table.header]
    if missing:
        problem(
            None,
            None,
            f"the header has no {' or '.join(repr(c) for c in missing)} column (found: "
            f"{', '.join(c for c in table.header if c) or 'nothing'}); restore the header row of "
            "the workbook as written",
        )
    if problems:
        return [], problems

    decisions: list[Decision] = []
    first_row: dict[str, int] = {}
    for row in table.rows:
        item_id = row.values.get("item_id", "")
        raw = row.values.get("decision", "")
        comment = row.values.get("comment", "")
        if row.extra_values:
            problem(
                row.row,
                item_id or None,
                f"has {row.extra_values} value(s) beyond the {len(table.header)} columns of the header "
                "(a comma in a comment without quotes?); put the comment in quotes or remove the commas",
            )
            continue
        if not item_id:
            problem(
                row.row, None, "item_id is empty; restore it from the original workbook or delete the row"
            )
            continue
        try:
            item = campaign.item(item_id)
        except KeyError:
            problem(
                row.row,
                item_id,
                f"item_id {item_id!r} is not an item of campaign {campaign.campaign_id} "
                "(edited, or copied from another campaign?); restore the original value",
            )
            continue
        if item_id in first_row:
            problem(
                row.row,
                item_id,
                f"item {item_id} appears again (first on {where} {first_row[item_id]}); "
                "keep one row per item",
            )
            continue
        first_row[item_id] = row.row
        value = raw.strip().lower()
        if not value:
            problem(row.row, item_id, f"no decision for {_describe(item)}; enter keep or revoke")
            continue
        if value not in DECISION_VALUES:
            problem(row.row, item_id, f"decision {raw!r} is not valid for {item_id}; use keep or revoke")
            continue
        decisions.append(Decision(item=item, decision=value, comment=comment, row=row.row))  # type: ignore[arg-type]
    for item in campaign.items:
        if item.item_id not in first_row:
            problem(
                None,
                item.item_id,
                f"no row for {_describe(item)}; add the row back and decide keep or revoke",
            )
    return decisions, problems


def read_decisions(
    campaign_dir_or_campaign: Campaign | str | os.PathLike[str], workbook_path: str | os.PathLike[str]
) -> Decisions:
    """Read and validate a filled workbook (CSV or XLSX) against its campaign.

    Only ``item_id``, ``decision`` and ``comment`` are read; everything else about an item
    (user, role, group) comes from the campaign, so edits to the context columns cannot
    redirect a revocation. ``decision`` is case-insensitive.

    Args:
        campaign_dir_or_campaign: the :class:`~.campaign.Campaign` or its directory.
        workbook_path: the filled ``.csv`` or ``.xlsx``.

    Returns:
        :class:`Decisions`, one per item.

    Raises:
        DecisionValidationError: unknown or duplicate item ids, items without a row or a
            decision, invalid decision values, malformed rows, missing columns; every problem
            is listed with its row (XLSX) or line (CSV) number.
        ValueError: the file is not a readable CSV or XLSX.
    """
    campaign = (
        campaign_dir_or_campaign
        if isinstance(campaign_dir_or_campaign, Campaign)
        else load_campaign(campaign_dir_or_campaign)
    )
    path = Path(workbook_path)
    table = read_workbook(path)
    decisions, problems = _validate(campaign, table, path.name)
    if problems:
        raise DecisionValidationError(path.name, campaign.campaign_id, problems)
    order = {item.item_id: index for index, item in enumerate(campaign.items)}
    decisions.sort(key=lambda d: order[d.item.item_id])
    return Decisions(
        campaign_id=campaign.campaign_id,
        account_id=campaign.account_id,
        sync_id=campaign.sync_id,
        workbook=str(path),
        decisions=tuple(decisions),
    )


def decisions_to_changes(decisions: Decisions) -> list[dict[str, Any]]:
    """The change set for ``BoomiApplyAccessChangesOperator``: one change per ``revoke``.

    Each change has ``action`` (``revoke_role`` for a global grant, ``remove_group_role`` for a
    group grant), ``user_id``, ``role_id``, ``account_group_id`` (``None`` for global grants)
    and ``reason`` (``access review <campaign_id>: <comment>``, without ``: `` when the
    comment is empty). ``keep`` produces nothing.
    """
    changes = []
    for decision in decisions.revoked:
        item = decision.item
        reason = f"access review {decisions.campaign_id}"
        if decision.comment:
            reason += f": {decision.comment}"
        changes.append(
            {
                "action": "revoke_role" if item.grant_kind == "global_role" else "remove_group_role",
                "user_id": item.user_id,
                "role_id": item.role_id,
                "account_group_id": item.account_group_id,
                "reason": reason,
            }
        )
    return changes


def record_decisions(decisions: Decisions, campaign_dir: str | os.PathLike[str]) -> Path:
    """Write ``decisions.json`` into the campaign directory (replacing an earlier one).

    Later campaigns read it to know which grants were reviewed (``never_reviewed``). Written
    to a temporary name and renamed, so a crash never leaves half a file.
    """
    directory = Path(campaign_dir)
    data: Mapping[str, Any] = {**decisions.to_dict(), "recorded_at": datetime.now(UTC).isoformat()}
    target = directory / DECISIONS_FILE
    tmp = directory / f".{DECISIONS_FILE}.tmp"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False), encoding="utf-8")
    os.replace(tmp, target)
    return target
