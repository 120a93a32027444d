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

from ._storage import folder
from .campaign import DECISIONS_FILE, Campaign, ReviewItem, load_campaign
from .workbook import (
    DECISION_VALUES,
    DecisionFileLimits,
    WorkbookTable,
    read_workbook,
    workbook_location,
    workbook_name,
)

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


def _shown(value: str, limit: int = 80) -> str:
    """A value from the file, quoted and cut for a message (the file is untrusted: a 30 kB cell
    must not become a 30 kB error)."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"... ({len(value):,} characters)"


def _plain(value: str) -> bool:
    return len(value) <= 128 and value.isprintable()


def _other_campaign(campaign: Campaign, table: WorkbookTable) -> str | None:
    """The campaign id the file names when it is not ``campaign``'s (hidden XLSX sheet first,
    then the ``campaign_id`` column of any row)."""
    expected = campaign.campaign_id
    if table.campaign_id is not None and table.campaign_id != expected:
        return table.campaign_id
    if "campaign_id" in table.header:
        for row in table.rows:
            named = row.values.get("campaign_id", "").strip()
            if named and named != expected:
                return named
    return None


def _validate(
    campaign: Campaign, table: WorkbookTable, name: str, limits: DecisionFileLimits
) -> tuple[list[Decision], list[DecisionProblem]]:
    where = table.where
    problems: list[DecisionProblem] = []

    def problem(row: int | None, item_id: str | None, message: str) -> None:
        problems.append(DecisionProblem(row=row, item_id=item_id, message=message, where=where))

    # The campaign id is required and checked: without it, a filled file of an earlier campaign
    # (same grant ids) would replay its revocations into this one.
    other = _other_campaign(campaign, table)
    if other is not None:
        problem(
            None,
            None,
            f"{name} was written for campaign {other if _plain(other) else _shown(other)}, "
            f"not {campaign.campaign_id}; use the workbook of this campaign",
        )
        return [], problems
    has_id_column = "campaign_id" in table.header
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
    # Reported with the rows' problems (not instead of them), so one round of fixes is enough.
    if not has_id_column and table.campaign_id is None:
        problem(
            None,
            None,
            f"{name} does not name its campaign (no campaign_id column"
            + (" and no campaign sheet" if table.kind == "xlsx" else "")
            + f"); fill in the workbook written for campaign {campaign.campaign_id}, whose rows "
            "carry its id, and keep its campaign_id column",
        )

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
        if len(item_id) > limits.max_id_chars:
            problem(
                row.row,
                None,
                f"item_id has {len(item_id):,} characters, more than the {limits.max_id_chars:,} an id "
                "may have; restore the original value",
            )
            continue
        try:
            item = campaign.item(item_id)
        except KeyError:
            try:
                # Ids are read exactly; a space a spreadsheet or a person added is forgiven.
                item = campaign.item(item_id.strip())
            except KeyError:
                problem(
                    row.row,
                    item_id,
                    f"item_id {_shown(item_id)} is not an item of campaign {campaign.campaign_id} "
                    "(edited, or copied from another campaign?); restore the original value",
                )
                continue
            item_id = item.item_id
        if item_id in first_row:
            problem(
                row.row,
                item_id,
                f"item {item_id} appears again (first on {where} {first_row[item_id]}); "
                "keep one row per item",
            )
            continue
        first_row[item_id] = row.row
        if has_id_column and not row.values.get("campaign_id", "").strip():
            problem(
                row.row,
                item_id,
                f"campaign_id is empty; restore it ({campaign.campaign_id}, as in the other rows)",
            )
            continue
        too_long = [
            (column, limit)
            for column, limit in (("decision", limits.max_id_chars), ("comment", limits.max_comment_chars))
            if len(row.values.get(column, "")) > limit
        ]
        if too_long:
            # Refused, never cut: a shortened comment would put words in the reviewer's mouth.
            problem(
                row.row,
                item_id,
                "; ".join(
                    f"{column} has {len(row.values[column]):,} characters, more than the {limit:,} "
                    "allowed; shorten it"
                    for column, limit in too_long
                ),
            )
            continue
        value = raw.strip().lower()
        if not value:
            problem(row.row, item_id, f"no decision for {_describe(item)}; enter keep or revoke")
            continue
        if value not in DECISION_VALUES:
            problem(
                row.row, item_id, f"decision {_shown(raw)} is not valid for {item_id}; use keep or revoke"
            )
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
    campaign_dir_or_campaign: Campaign | str | os.PathLike[str] | Any,
    workbook_path: str | os.PathLike[str] | Any,
    *,
    limits: DecisionFileLimits | None = None,
) -> Decisions:
    """Read and validate a filled workbook (CSV or XLSX) against its campaign.

    Only ``item_id``, ``decision``, ``comment`` and ``campaign_id`` are read; everything else
    about an item (user, role, group) comes from the campaign, so edits to the context columns
    cannot redirect a revocation. ``decision`` is case-insensitive. The file is untrusted input:
    see :class:`~.workbook.DecisionFileLimits` and :func:`~.workbook.read_workbook`.

    Args:
        campaign_dir_or_campaign: the :class:`~.campaign.Campaign` or its directory (a local
            folder, an fsspec URL or an ``ObjectStoragePath``).
        workbook_path: the filled ``.csv`` or ``.xlsx``: a local file, an fsspec URL or an
            ``ObjectStoragePath`` (its size is checked before it is read into memory).
        limits: bounds on the file (default :class:`~.workbook.DecisionFileLimits`).

    Returns:
        :class:`Decisions`, one per item.

    Raises:
        DecisionValidationError: the file names another campaign or none; unknown or duplicate
            item ids, items without a row or a decision, invalid decision values, malformed
            rows, missing columns, a comment or id over its limit; every problem is listed
            with its row (XLSX) or line (CSV) number.
        WorkbookRefusedError: the file is refused as a whole (size, rows, cell length,
            ``.xlsm``/``.xls``, macros, external links, formula cells).
        ValueError: the file is not a readable CSV or XLSX.
    """
    campaign = (
        campaign_dir_or_campaign
        if isinstance(campaign_dir_or_campaign, Campaign)
        else load_campaign(campaign_dir_or_campaign)
    )
    limits = limits or DecisionFileLimits()
    table = read_workbook(workbook_path, limits)
    name = workbook_name(workbook_path)
    decisions, problems = _validate(campaign, table, name, limits)
    if problems:
        raise DecisionValidationError(name, campaign.campaign_id, problems)
    order = {item.item_id: index for index, item in enumerate(campaign.items)}
    decisions.sort(key=lambda d: order[d.item.item_id])
    return Decisions(
        campaign_id=campaign.campaign_id,
        account_id=campaign.account_id,
        sync_id=campaign.sync_id,
        workbook=workbook_location(workbook_path),
        decisions=tuple(decisions),
    )


def decisions_to_changes(decisions: Decisions) -> list[dict[str, Any]]:
    """The change set for ``BoomiApplyAccessChangesOperator``: one change per ``revoke``.

    Each change has ``action`` (``revoke_role`` for a global grant, ``remove_group_role`` for a
    group grant), ``user_id``, ``role_id``, ``account_group_id`` (``None`` for global grants)
    and ``reason`` (``access review <campaign_id>: <comment>``, the comment without surrounding
    whitespace, and without ``: `` when it is empty). ``keep`` produces nothing.
    """
    changes = []
    for decision in decisions.revoked:
        item = decision.item
        reason = f"access review {decisions.campaign_id}"
        if decision.comment.strip():
            reason += f": {decision.comment.strip()}"
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


def record_decisions(decisions: Decisions, campaign_dir: Any) -> Path | str:
    """Write ``decisions.json`` into the campaign directory (replacing an earlier one).

    Later campaigns read it to know which grants were reviewed (``never_reviewed``). On a local
    disk it is written to a temporary name and renamed, so a crash never leaves half a file; on
    an object store (an fsspec URL or an ``ObjectStoragePath``) it is one PUT, atomic per
    object. Returns its :class:`~pathlib.Path` (local) or URL.
    """
    data: Mapping[str, Any] = {**decisions.to_dict(), "recorded_at": datetime.now(UTC).isoformat()}
    where = folder(campaign_dir)
    written = where.write_bytes(DECISIONS_FILE, json.dumps(data, indent=2, sort_keys=False).encode("utf-8"))
    return Path(written) if where.is_local else written
