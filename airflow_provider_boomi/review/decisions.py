"""Decisions read back from a filled workbook, validated, attributed, and turned into a change set.

Validation is all-or-nothing: every problem of the workbook is collected and reported in one
:class:`DecisionValidationError`, so a reviewer fixes the file once instead of once per error,
and no change is produced from a workbook that is partly wrong.

Who decided is proven, never typed: the identity comes from the workbook's attestation token
(verified with the campaign's secret, :mod:`.attestation`) or from the authenticated Airflow
user who answered in the UI, and every item of the workbook must be one that reviewer decides.
Each decision records the reviewer, how their identity was proven, and when it was accepted.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from airflow_provider_boomi.access.changes import OFFBOARD_USER, REMOVE_GROUP_ROLE, REVOKE_ROLE

from ._records import recorded_rows
from ._storage import folder
from .attestation import AttestationError, verify_token
from .campaign import DECISIONS_FILE, GLOBAL_ROLE, Campaign, ReviewItem, load_campaign
from .reviewers import DECISIONS_DIR, reviewer_slug, same_reviewer
from .workbook import (
    DECISION_VALUES,
    KEEP,
    REMOVE_USER,
    REVOKE,
    DecisionFileLimits,
    WorkbookTable,
    items_of,
    read_workbook,
    workbook_location,
    workbook_name,
)

__all__ = [
    "ATTESTATION_METHODS",
    "ATTESTED_BY_AIRFLOW_USER",
    "ATTESTED_BY_TOKEN",
    "Decision",
    "DecisionProblem",
    "DecisionValidationError",
    "Decisions",
    "decisions_to_changes",
    "load_recorded_decisions",
    "read_decisions",
    "record_decisions",
]

log = logging.getLogger(__name__)

#: How many problems the exception message lists; ``.problems`` always has all of them.
MESSAGE_PROBLEMS = 25

DecisionValue = Literal["keep", "revoke", "remove_user"]
#: The decision values as a message offers them.
_CHOICES = f"{KEEP}, {REVOKE} or {REMOVE_USER}"
#: Superseded decisions named in an offboarding's reason; the rest are counted.
_LISTED_SUPERSEDED = 5
#: The reviewer's identity came from a verified attestation token in the workbook.
ATTESTED_BY_TOKEN: Final = "token"
#: The reviewer's identity is the authenticated Airflow user who answered in the UI.
ATTESTED_BY_AIRFLOW_USER: Final = "airflow_user"
#: Every way an identity is proven (``attested_by``; ``None`` when none was).
ATTESTATION_METHODS: Final[tuple[str, ...]] = (ATTESTED_BY_TOKEN, ATTESTED_BY_AIRFLOW_USER)


@dataclass(frozen=True)
class DecisionProblem:
    """One problem of a filled workbook.

    :ivar row: the row (XLSX) or line (CSV) number, ``None`` for problems of the whole file.
    :ivar item_id: the item concerned, when known.
    :ivar message: what is wrong and what to do.
    :ivar where: ``row`` or ``line``.
    """

    row: int | None
    item_id: str | None
    message: str
    where: str = "row"

    def __str__(self) -> str:
        return f"{self.where} {self.row}: {self.message}" if self.row is not None else self.message


class DecisionValidationError(ValueError):
    """A filled workbook does not match its campaign, or does not prove who filled it; nothing
    was applied.

    :ivar problems: every problem found, in file order (file-level problems first).
    :ivar workbook: the file read.
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

    :ivar item: the campaign's item (ids come from the campaign, never from the workbook).
    :ivar decision: ``keep``, ``revoke`` or ``remove_user``.
    :ivar comment: the reviewer's comment (may be empty).
    :ivar row: where it was in the workbook (``None`` for a decision loaded from a record).
    :ivar reviewer: who decided, as proven (``None``: read without attestation).
    :ivar attested_by: how the identity was proven: ``token`` or ``airflow_user`` (``None``).
    :ivar decided_at: when the reader accepted the decision (UTC).
    """

    item: ReviewItem
    decision: DecisionValue
    comment: str
    row: int | None
    reviewer: str | None = None
    attested_by: str | None = None
    decided_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of one decision in a record."""
        return {
            "item_id": self.item.item_id,
            "decision": self.decision,
            "comment": self.comment,
            "reviewer": self.reviewer,
            "attested_by": self.attested_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


@dataclass(frozen=True)
class Decisions:
    """The validated decisions of one workbook: exactly one per item it had to decide.

    :ivar campaign_id: the campaign decided.
    :ivar account_id: Boomi account id.
    :ivar sync_id: the snapshot reviewed.
    :ivar workbook: the file they were read from.
    :ivar decisions: one per item of the workbook's scope, in campaign item order.
    :ivar scope: ``reviewer`` (one reviewer's workbook), ``unassigned`` (the items without a
        reviewer) or ``all`` (the all-items workbook).
    :ivar reviewer: who decided, as proven (``None``: read without attestation).
    :ivar attested_by: ``token``, ``airflow_user`` or ``None``.
    :ivar decided_at: when the reader accepted the workbook (UTC).
    :ivar workbook_reviewer: whose items the workbook held (the proven reviewer, or the one a
        reviewer workbook read without attestation names; ``None`` for the all-items and
        the unassigned workbooks).
    """

    campaign_id: str
    account_id: str
    sync_id: str
    workbook: str
    decisions: tuple[Decision, ...]
    scope: str = "all"
    reviewer: str | None = None
    attested_by: str | None = None
    decided_at: datetime | None = None
    workbook_reviewer: str | None = None

    @property
    def revoked(self) -> list[Decision]:
        """Decisions to revoke."""
        return [d for d in self.decisions if d.decision == REVOKE]

    @property
    def kept(self) -> list[Decision]:
        """Decisions to keep."""
        return [d for d in self.decisions if d.decision == KEEP]

    @property
    def removed_users(self) -> list[Decision]:
        """Decisions to remove the user from the account (several may name one user)."""
        return [d for d in self.decisions if d.decision == REMOVE_USER]

    @property
    def superseded(self) -> list[Decision]:
        """The ``keep`` and ``revoke`` decisions on users this workbook also decides to remove:
        moot, since removing the user takes every grant. :func:`decisions_to_changes` makes no
        change for them and names them in the offboarding's reason; they stay in the record as
        the reviewer wrote them."""
        leaving = {d.item.user_id.lower() for d in self.removed_users}
        return [d for d in self.decisions if d.decision != REMOVE_USER and d.item.user_id.lower() in leaving]

    @property
    def record_name(self) -> str:
        """Where :func:`record_decisions` writes them, relative to the campaign folder:
        ``decisions/{reviewer_slug}.json`` for a reviewer's (or the unassigned) workbook,
        ``decisions.json`` for the all-items workbook read without a reviewer."""
        if self.scope == "all":
            return DECISIONS_FILE
        return f"{DECISIONS_DIR}/{reviewer_slug(self.workbook_reviewer)}.json"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written by :func:`record_decisions`."""
        return {
            "campaign_id": self.campaign_id,
            "account_id": self.account_id,
            "sync_id": self.sync_id,
            "workbook": self.workbook,
            "scope": self.scope,
            "reviewer": self.reviewer,
            "attested_by": self.attested_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "workbook_reviewer": self.workbook_reviewer,
            "counts": {KEEP: len(self.kept), REVOKE: len(self.revoked), REMOVE_USER: len(self.removed_users)},
            "decisions": [d.to_dict() for d in self.decisions],
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


def _belongs(item: ReviewItem, decider: str | None) -> bool:
    return item.reviewer is None if decider is None else same_reviewer(item.reviewer, decider)


def _validate(
    campaign: Campaign,
    table: WorkbookTable,
    name: str,
    limits: DecisionFileLimits,
    *,
    expected: list[ReviewItem] | None = None,
    decider: str | None = None,
    scoped: bool = False,
    identity_problems: tuple[str, ...] = (),
) -> tuple[list[Decision], list[DecisionProblem]]:
    """Rows -> decisions, every problem collected.

    ``expected`` are the items the workbook must decide (default every item); with
    ``scoped``, every row must be an item of ``decider`` (``None``: an item without reviewer).
    ``identity_problems`` (who filled the file could not be proven) are reported first, with
    the rows' problems, so one round of fixes is enough.
    """
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
    for message in identity_problems:
        problem(None, None, message)
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
    if len(problems) > len(identity_problems):
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
        if scoped and not _belongs(item, decider):
            # Ids in a returned file are the reviewer's to choose: an item of someone else,
            # pasted in, must not be decided under this reviewer's name.
            owner = f"reviewed by {item.reviewer}" if item.reviewer else "without a reviewer"
            problem(
                row.row,
                item_id,
                f"item {_describe(item)} is {owner}, not "
                + (f"by {decider}" if decider else "one of the unassigned items")
                + f"; remove the row: only {item.reviewer or 'a named reviewer'} decides it",
            )
            continue
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
            problem(row.row, item_id, f"no decision for {_describe(item)}; enter {_CHOICES}")
            continue
        if value not in DECISION_VALUES:
            problem(
                row.row,
                item_id,
                f"decision {_shown(raw)} is not valid for {item_id}; use {_CHOICES}",
            )
            continue
        decisions.append(Decision(item=item, decision=value, comment=comment, row=row.row))  # type: ignore[arg-type]
    for item in campaign.items if expected is None else expected:
        if item.item_id not in first_row:
            problem(
                None,
                item.item_id,
                f"no row for {_describe(item)}; add the row back and decide {_CHOICES}",
            )
    return decisions, problems


@dataclass(frozen=True)
class _Identity:
    """Who filled a workbook, as far as it could be proven, and what could not be."""

    reviewer: str | None = None
    attested_by: str | None = None
    problems: tuple[str, ...] = ()


def _given_identities(reviewer: str | Mapping[str, Any] | None) -> list[str]:
    """The identities an authenticated Airflow user is known by: a string as given, or the
    ``id`` and ``name`` of an Airflow HITL ``responded_by_user`` mapping."""
    if reviewer is None:
        return []
    if isinstance(reviewer, Mapping):
        values = [reviewer.get("id"), reviewer.get("name")]
        return [str(v).strip() for v in values if v is not None and str(v).strip()]
    return [reviewer.strip()] if str(reviewer).strip() else []


def _identity(
    campaign: Campaign,
    table: WorkbookTable,
    name: str,
    *,
    secret: str | bytes | None,
    reviewer: str | Mapping[str, Any] | None,
    required: bool,
) -> _Identity:
    """Prove who filled ``table``: the token first (it is bound to the file), then the
    authenticated Airflow user; never a name typed in the file."""
    scope = table.scope
    named = table.meta.get("reviewer", "").strip() or None if scope == "reviewer" else None
    users = _given_identities(reviewer)
    if reviewer is not None and not users:
        return _Identity(
            problems=("the authenticated reviewer given is empty; pass the Airflow user who answered",)
        )
    if table.token and secret is not None:
        try:
            attestation = verify_token(secret, table.token, campaign.campaign_id)
        except AttestationError as exc:
            return _Identity(problems=(f"{name}: {exc}",))
        problems = []
        if named is not None and not same_reviewer(named, attestation.reviewer):
            problems.append(
                f"{name} names reviewer {_shown(named)} but its attestation token was issued to "
                f"{attestation.reviewer}; return the workbook as you received it"
            )
        if users and not any(same_reviewer(u, attestation.reviewer) for u in users):
            problems.append(
                f"{name} was issued to {attestation.reviewer}, but the authenticated Airflow user "
                f"is {' / '.join(users)}; only {attestation.reviewer} may return it"
            )
        return _Identity(attestation.reviewer, ATTESTED_BY_TOKEN, tuple(problems))
    if users:
        if scope == "unassigned":
            return _Identity(
                problems=(
                    f"{name} holds the items without a reviewer; no reviewer can attest them. Name "
                    "a fallback_reviewer and build the campaign again, or read this workbook with "
                    "require_attestation=False",
                )
            )
        if named is not None:
            match = next((u for u in users if same_reviewer(u, named)), None)
            if match is None:
                return _Identity(
                    problems=(
                        f"{name} is the workbook of {_shown(named)}, but the authenticated Airflow user "
                        f"who answered is {' / '.join(users)}; each reviewer returns their own workbook",
                    )
                )
            return _Identity(match, ATTESTED_BY_AIRFLOW_USER)
        return _Identity(users[0], ATTESTED_BY_AIRFLOW_USER)
    if not required:
        return _Identity()
    if table.token:
        why = (
            f"{name} carries an attestation token, but no secret was given to verify it; set "
            "attestation_conn_id (the connection whose password signed the campaign's workbooks)"
        )
    elif scope == "all" and table.kind == "csv" and campaign.attestation_required:
        why = (
            f"{name} carries no proof of who filled it (a CSV cannot hold an attestation token); "
            "return the .xlsx workbook issued to you, or have the authenticated Airflow user answer"
        )
    else:
        why = (
            f"{name} carries no proof of who filled it (no attestation token, no authenticated "
            "reviewer); a name typed into the file proves nothing. Return the workbook as issued "
            "(with its token) and set attestation_conn_id, or pass the authenticated Airflow user as "
            "reviewer, or read it with require_attestation=False to record the decisions without "
            "a reviewer"
        )
    return _Identity(problems=(why,))


def read_decisions(
    campaign_dir_or_campaign: Campaign | str | os.PathLike[str] | Any,
    workbook_path: str | os.PathLike[str] | Any,
    *,
    limits: DecisionFileLimits | None = None,
    secret: str | bytes | None = None,
    reviewer: str | Mapping[str, Any] | None = None,
    require_attestation: bool | None = None,
    now: datetime | None = None,
) -> Decisions:
    """Read and validate a filled workbook (CSV or XLSX) against its campaign, and prove who
    filled it.

    Only ``item_id``, ``decision``, ``comment`` and ``campaign_id`` are read; everything else
    about an item (user, role, group) comes from the campaign, so edits to the context columns
    cannot redirect a revocation. ``decision`` is case-insensitive. The file is untrusted input:
    see :class:`~.workbook.DecisionFileLimits` and :func:`~.workbook.read_workbook`.

    Identity, never taken from a typed name:

    - a reviewer workbook (:func:`~.workbook.write_reviewer_xlsx`) carrying a token, with
      ``secret``: the token is verified (:func:`~.attestation.verify_token`) and the reviewer
      is the one it was issued to (``attested_by="token"``);
    - otherwise ``reviewer``, the authenticated Airflow user (a string, or the
      ``responded_by_user`` mapping of an Airflow HITL response, whose ``id`` or ``name`` must
      match): it must be the workbook's reviewer (``attested_by="airflow_user"``);
    - with neither, the workbook is refused when attestation is required: always for a
      reviewer workbook, and for the all-items workbook when the campaign requires it
      (``Campaign.attestation_required``); ``require_attestation`` overrides both (``False``
      records the decisions with reviewer ``None``).

    Once the reviewer is known, every row must be an item that reviewer decides: an item of
    another reviewer is refused, naming it and its reviewer, and every item of theirs needs a
    row. A reviewer workbook read without attestation is held to the reviewer it names.

    :param campaign_dir_or_campaign: the :class:`~.campaign.Campaign` or its directory (a local
        folder, an fsspec URL or an ``ObjectStoragePath``).
    :param workbook_path: the filled ``.csv`` or ``.xlsx``: a local file, an fsspec URL or an
        ``ObjectStoragePath`` (its size is checked before it is read into memory).
    :param limits: bounds on the file (default :class:`~.workbook.DecisionFileLimits`).
    :param secret: the secret the campaign's tokens were signed with.
    :param reviewer: the authenticated Airflow user who answered (see above).
    :param require_attestation: ``None`` (default) as described above; ``True`` or ``False`` to
        decide for this read.
    :param now: the acceptance time recorded as ``decided_at`` (default now, UTC).
    :returns: :class:`Decisions`, one per item of the workbook's scope.
    :raises DecisionValidationError: the file names another campaign or none; the reviewer could
        not be proven (bad or foreign token, another Airflow user, no proof when one is
        required); an item of another reviewer; unknown or duplicate item ids, items
        without a row or a decision, invalid decision values, malformed rows, missing
        columns, a comment or id over its limit; every problem is listed with its row
        (XLSX) or line (CSV) number.
    :raises WorkbookRefusedError: the file is refused as a whole (size, rows, cell length,
        ``.xlsm``/``.xls``, macros, external links, formula cells).
    :raises ValueError: the file is not a readable CSV or XLSX.
    """
    campaign = (
        campaign_dir_or_campaign
        if isinstance(campaign_dir_or_campaign, Campaign)
        else load_campaign(campaign_dir_or_campaign)
    )
    limits = limits or DecisionFileLimits()
    table = read_workbook(workbook_path, limits)
    name = workbook_name(workbook_path)
    scope = table.scope
    required = (
        require_attestation
        if require_attestation is not None
        else scope != "all" or campaign.attestation_required
    )
    identity = _identity(campaign, table, name, secret=secret, reviewer=reviewer, required=required)
    if identity.reviewer is not None:
        decider: str | None = identity.reviewer
        scoped = True
    elif scope == "reviewer":
        decider, scoped = table.meta.get("reviewer", "").strip() or None, True
    else:
        decider, scoped = None, scope == "unassigned"
    expected = items_of(campaign, decider) if scoped else None
    decisions, problems = _validate(
        campaign,
        table,
        name,
        limits,
        expected=expected,
        decider=decider,
        scoped=scoped,
        identity_problems=identity.problems,
    )
    if problems:
        raise DecisionValidationError(name, campaign.campaign_id, problems)
    accepted = (now or datetime.now(UTC)).astimezone(UTC)
    order = {item.item_id: index for index, item in enumerate(campaign.items)}
    decisions.sort(key=lambda d: order[d.item.item_id])
    attributed = tuple(
        Decision(
            item=d.item,
            decision=d.decision,
            comment=d.comment,
            row=d.row,
            reviewer=identity.reviewer,
            attested_by=identity.attested_by,
            decided_at=accepted,
        )
        for d in decisions
    )
    return Decisions(
        campaign_id=campaign.campaign_id,
        account_id=campaign.account_id,
        sync_id=campaign.sync_id,
        workbook=workbook_location(workbook_path),
        decisions=attributed,
        # An all-items workbook answered by one reviewer holds only their items: it is theirs.
        scope="reviewer" if identity.reviewer is not None else scope,
        reviewer=identity.reviewer,
        attested_by=identity.attested_by,
        decided_at=accepted,
        workbook_reviewer=decider,
    )


def decisions_to_changes(decisions: Decisions) -> list[dict[str, Any]]:
    """The change set for ``BoomiApplyAccessChangesOperator``: one change per ``revoke``, and one
    per user decided ``remove_user``.

    A ``revoke`` change has ``action`` (``revoke_role`` for a global grant, ``remove_group_role``
    for a group grant), ``user_id``, ``role_id``, ``account_group_id`` (``None`` for global
    grants) and ``reason`` (``access review <campaign_id>: <comment>``, the comment without
    surrounding whitespace, and without ``: `` when it is empty). ``keep`` produces nothing.

    ``remove_user`` on any of a user's items makes one ``offboard_user`` change for the user (at
    the place of their first such item; ``role_id`` and ``account_group_id`` ``None``), however
    many of their items say so. The user's other decisions in the workbook are then moot
    (:attr:`Decisions.superseded`): they make no change, and the offboarding's reason names
    them: ``access review <campaign_id>: remove user (decided on N item(s)): <comments>;
    supersedes keep on <item>, revoke on <item>...``. A ``keep`` superseded this way is also
    logged as a warning, since the reviewer said the grant should stay. Applying the change
    needs ``allow_user_removal=True`` on the operator.
    """
    leaving: dict[str, list[Decision]] = {}
    for decision in decisions.removed_users:
        leaving.setdefault(decision.item.user_id.lower(), []).append(decision)
    superseded: dict[str, list[Decision]] = {}
    for decision in decisions.superseded:
        superseded.setdefault(decision.item.user_id.lower(), []).append(decision)
    changes = []
    offboarded: set[str] = set()
    for decision in decisions.decisions:
        item = decision.item
        user = item.user_id.lower()
        if decision.decision == REMOVE_USER and user not in offboarded:
            offboarded.add(user)
            changes.append(
                {
                    "action": OFFBOARD_USER,
                    "user_id": item.user_id,
                    "role_id": None,
                    "account_group_id": None,
                    "reason": _offboarding_reason(decisions, leaving[user], superseded.get(user, [])),
                }
            )
        elif decision.decision == REVOKE and user not in leaving:
            reason = f"access review {decisions.campaign_id}"
            if decision.comment.strip():
                reason += f": {decision.comment.strip()}"
            changes.append(
                {
                    "action": REVOKE_ROLE if item.grant_kind == GLOBAL_ROLE else REMOVE_GROUP_ROLE,
                    "user_id": item.user_id,
                    "role_id": item.role_id,
                    "account_group_id": item.account_group_id,
                    "reason": reason,
                }
            )
    for decision in decisions.superseded:
        if decision.decision == KEEP:
            log.warning(
                "Campaign %s: keep on %s is superseded: the same workbook removes %s from the account",
                decisions.campaign_id,
                _describe(decision.item),
                decision.item.user_id,
            )
    return changes


def _offboarding_reason(decisions: Decisions, removing: list[Decision], superseded: list[Decision]) -> str:
    """The reason of the ``offboard_user`` change of one user (see :func:`decisions_to_changes`)."""
    reason = f"access review {decisions.campaign_id}: remove user (decided on {len(removing)} item(s))"
    comments = list(dict.fromkeys(d.comment.strip() for d in removing if d.comment.strip()))
    if comments:
        reason += ": " + " / ".join(comments)
    if superseded:
        listed = ", ".join(f"{d.decision} on {d.item.item_id}" for d in superseded[:_LISTED_SUPERSEDED])
        more = len(superseded) - _LISTED_SUPERSEDED
        reason += f"; supersedes {listed}" + (f" and {more} more" if more > 0 else "")
    return reason


def record_decisions(decisions: Decisions, campaign_dir: Any) -> Path | str:
    """Record the decisions in the campaign folder, at :attr:`Decisions.record_name`.

    A reviewer's decisions go to ``decisions/{reviewer_slug}.json``, so reviewers returning at
    different times never overwrite each other; returning the same reviewer's workbook again
    replaces that reviewer's record only (and says so in the log). The all-items workbook read
    without a reviewer goes to ``decisions.json``, as before per-reviewer workbooks. Later
    campaigns read the records to know which grants were reviewed (``never_reviewed``), and
    :func:`~.status.campaign_status` to know who is done. On a local disk the file is written to
    a temporary name and renamed, so a crash never leaves half a file; on an object store (an
    fsspec URL or an ``ObjectStoragePath``) it is one PUT, atomic per object. Returns its
    :class:`~pathlib.Path` (local) or URL.
    """
    data: Mapping[str, Any] = {**decisions.to_dict(), "recorded_at": datetime.now(UTC).isoformat()}
    where = folder(campaign_dir)
    parts = decisions.record_name.split("/")
    target = where.child(*parts[:-1], what="decision record folder") if len(parts) > 1 else where
    if target.has_file(parts[-1]):
        log.warning(
            "Replacing %s of campaign %s (reviewer %s): the workbook was returned again",
            decisions.record_name,
            decisions.campaign_id,
            decisions.reviewer or "none",
        )
    written = target.write_bytes(parts[-1], json.dumps(data, indent=2, sort_keys=False).encode("utf-8"))
    return Path(written) if where.is_local else written


def load_recorded_decisions(campaign_dir: Any) -> list[Decision]:
    """Every decision recorded in a campaign folder (``decisions.json`` and ``decisions/*.json``).

    Items come from the folder's ``campaign.json``; a recorded item id the campaign does not
    have is an error (the folder was tampered with). When an item was decided in more than one
    record (the all-items workbook and a reviewer's), every decision is returned; the latest
    ``decided_at`` is the one that stands.

    :raises ValueError: a record is unreadable, or names an item or a decision the campaign
        does not have.
    """
    campaign = load_campaign(campaign_dir)
    found = []
    for row in recorded_rows(campaign_dir):
        item_id, value = str(row["item_id"]), row.get("decision")
        try:
            item = campaign.item(item_id)
        except KeyError:
            raise ValueError(
                f"{row['record']} records item {item_id!r}, which campaign "
                f"{campaign.campaign_id} does not have"
            ) from None
        if value not in DECISION_VALUES:
            raise ValueError(f"{row['record']} records decision {value!r} for {item_id}; expected {_CHOICES}")
        decided_at = row.get("decided_at")
        found.append(
            Decision(
                item=item,
                decision=value,
                comment=str(row.get("comment") or ""),
                row=None,
                reviewer=row.get("reviewer"),
                attested_by=row.get("attested_by"),
                decided_at=datetime.fromisoformat(decided_at).astimezone(UTC) if decided_at else None,
            )
        )
    return found
