"""The reviewer workbook: writing it as CSV and XLSX, and reading filled ones back as rows.

Two layouts: the all-items workbook (:func:`write_csv`, :func:`write_xlsx`: every item of the
campaign, for the data team and for campaigns without per-reviewer files) and the reviewer
workbook (:func:`write_reviewer_xlsx`: one reviewer's items, an instructions sheet with the
role legend and the attestation token, context columns protected). Only the table layout and
file formats live here; what the rows mean (validation, identity, change sets) is
:mod:`.decisions`. Reading returns every row with its spreadsheet row number so that errors
can point reviewers at the exact row to fix.

Both directions treat the text as hostile: names come from Boomi, filled files come back from
outside. How a value is written into a cell is :mod:`.cells`; the limits and refusals of a
filled file are :class:`DecisionFileLimits` and :func:`read_workbook`.
"""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from ._storage import Folder, folder
from .campaign import Campaign, ReviewItem
from .cells import neutralise_csv_cell, restore_csv_cell, visible_text, xlsx_restore, xlsx_text
from .reviewers import same_reviewer

__all__ = [
    "COLUMNS",
    "DECISION_VALUES",
    "DISPLAY_COLUMNS",
    "KEEP",
    "REMOVE_USER",
    "REVIEWER_COLUMNS",
    "REVOKE",
    "REVOKING_DECISIONS",
    "TOKEN_NAME",
    "DecisionFileLimits",
    "WorkbookRefusedError",
    "WorkbookRow",
    "WorkbookTable",
    "read_workbook",
    "write_csv",
    "write_reviewer_xlsx",
    "write_xlsx",
]

#: Workbook columns, in order. Reviewers fill ``decision`` and ``comment``; the rest is context.
COLUMNS: tuple[str, ...] = (
    "item_id",
    "grant_kind",
    "user_id",
    "email",
    "name",
    "role",
    "role_id",
    "group",
    "account_group_id",
    "is_privileged",
    "is_new",
    "never_reviewed",
    "only_via_group",
    "findings",
    "reviewer",
    "routed_from",
    "decision",
    "comment",
    "campaign_id",
)
#: Columns only shown to reviewers (never read back): written with invisible and control
#: characters made visible (:func:`~.cells.visible_text`). Ids are written exactly.
DISPLAY_COLUMNS: frozenset[str] = frozenset(
    {"email", "name", "role", "group", "findings", "reviewer", "routed_from"}
)
#: The grant stays.
KEEP: Final = "keep"
#: The grant is taken away (a ``revoke_role`` or ``remove_group_role`` change).
REVOKE: Final = "revoke"
#: The user is removed from the account: one ``offboard_user`` change for the user, which takes
#: away this grant and every other one of theirs (a leaver, say).
REMOVE_USER: Final = "remove_user"
#: Valid values of the decision column.
DECISION_VALUES: tuple[str, ...] = (KEEP, REVOKE, REMOVE_USER)
#: The decisions that take the grant away (for what a later review calls ``regranted``).
REVOKING_DECISIONS: frozenset[str] = frozenset({REVOKE, REMOVE_USER})
#: Columns of a reviewer workbook's review sheet, in order: who and what first (the user and
#: name columns are frozen), the two columns to fill next, what the findings say about the
#: grant (``leaver; sod_conflict: <rule>``...), then the flags and the ids.
REVIEWER_COLUMNS: tuple[str, ...] = (
    "email",
    "name",
    "role",
    "group",
    "decision",
    "comment",
    "findings",
    "is_privileged",
    "is_new",
    "never_reviewed",
    "only_via_group",
    "routed_from",
    "grant_kind",
    "user_id",
    "role_id",
    "account_group_id",
    "item_id",
    "reviewer",
    "campaign_id",
)
#: The columns a reviewer fills: unlocked in the protected review sheet.
_FILLED = ("decision", "comment")
#: The defined name of the cell holding a reviewer workbook's attestation token.
TOKEN_NAME: Final = "BoomiAttestationToken"

_FLAGS = ("is_privileged", "is_new", "never_reviewed", "only_via_group")
_WIDTHS = {
    "item_id": 40,
    "grant_kind": 12,
    "user_id": 28,
    "email": 28,
    "name": 22,
    "role": 24,
    "role_id": 20,
    "group": 22,
    "account_group_id": 18,
    "findings": 36,
    "reviewer": 26,
    "routed_from": 26,
    "decision": 11,
    "comment": 48,
    "campaign_id": 30,
}
_SHEET = "review"
_META_SHEET = "campaign"
_INSTRUCTIONS_SHEET = "Instructions"
_REVIEWER_SHEET = "Review"


def _values(item: ReviewItem, campaign_id: str) -> dict[str, Any]:
    return {
        "item_id": item.item_id,
        "grant_kind": item.grant_kind,
        "user_id": item.user_id,
        "email": item.email or "",
        "name": item.name,
        "role": item.role_label,
        "role_id": item.role_id,
        "group": item.group_label,
        "account_group_id": item.account_group_id or "",
        "is_privileged": item.is_privileged,
        "is_new": item.is_new,
        "never_reviewed": item.never_reviewed,
        "only_via_group": item.only_via_group,
        # One cell: the labels of the findings about this grant, most telling kind first.
        "findings": "; ".join(item.findings),
        "reviewer": item.reviewer or "",
        "routed_from": item.routed_from or "",
        "decision": "",
        "comment": "",
        # On every row, so that a filled file -- or rows copied out of it -- cannot be applied
        # to another campaign (see decisions._campaign_problems).
        "campaign_id": campaign_id,
    }


def _csv_cell(column: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return neutralise_csv_cell(visible_text(text) if column in DISPLAY_COLUMNS else text)


def _xlsx_cell(column: str, value: str) -> str:
    return xlsx_text(visible_text(value) if column in DISPLAY_COLUMNS else value)


def write_csv(campaign: Campaign, path: str | Path | IO[bytes]) -> Any:
    """Write the workbook as CSV (UTF-8 with a byte-order mark, so Excel shows accents).

    Every cell goes through :func:`~.cells.neutralise_csv_cell` (no formula in any locale, one
    line per row; :func:`read_workbook` restores the exact value), display columns through
    :func:`~.cells.visible_text` first. ``path`` may also be a binary file object (it is
    left open); the path or the file object is returned.
    """
    if not isinstance(path, str | Path):
        text = io.TextIOWrapper(path, encoding="utf-8-sig", newline="")
        try:
            _write_csv_rows(campaign, text)
            text.flush()
        finally:
            text.detach()
        return path
    path = Path(path)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        _write_csv_rows(campaign, handle)
    return path


def _write_csv_rows(campaign: Campaign, handle: IO[str]) -> None:
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)
    for item in campaign.items:
        values = _values(item, campaign.campaign_id)
        writer.writerow([_csv_cell(column, value) for column, value in values.items()])


def write_xlsx(campaign: Campaign, path: str | Path | IO[bytes]) -> Any:
    """Write the workbook as XLSX: frozen header, filters, widths, a keep/revoke dropdown.

    Every value is a text cell (never a formula, whatever it starts with), written with
    :func:`~.cells.xlsx_text` (characters XML cannot hold are escaped, never fatal) and, in
    display columns, :func:`~.cells.visible_text`. A second, hidden sheet holds the campaign id
    too (like the ``campaign_id`` column), so that a workbook returned for the wrong campaign is
    recognised when it is read back. ``path`` may also be a binary file object.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    if isinstance(path, str | Path):
        path = Path(path)
    # Write-only mode streams rows to disk: a 65k-item campaign stays within seconds and MBs.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_SHEET)
    sheet.freeze_panes = "B2"
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = _WIDTHS.get(column, 15)
    last_row = len(campaign.items) + 1
    last_col = get_column_letter(len(COLUMNS))
    sheet.auto_filter.ref = f"A1:{last_col}{last_row}"
    decision_col = get_column_letter(COLUMNS.index("decision") + 1)
    sheet.data_validations.append(_decision_validation(f"{decision_col}2:{decision_col}{max(last_row, 2)}"))

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE4EE")
    header = []
    for column in COLUMNS:
        cell = WriteOnlyCell(sheet, value=column)
        cell.font = bold
        cell.fill = fill
        header.append(cell)
    sheet.append(header)
    for item in campaign.items:
        row = []
        for column, value in _values(item, campaign.campaign_id).items():
            row.append(_text_cell(sheet, _xlsx_cell(column, value)) if isinstance(value, str) else value)
        sheet.append(row)

    _write_meta_sheet(workbook, campaign)
    workbook.save(path)
    return path


def _write_meta_sheet(workbook: Any, campaign: Campaign, extra_rows: Sequence[tuple[str, str]] = ()) -> None:
    """Add the hidden sheet of ``key, value`` text rows that :func:`read_workbook` reads back.

    :param workbook: a write-only openpyxl workbook.
    :param campaign: the campaign whose id, account and snapshot the first rows name.
    :param extra_rows: further ``(key, value)`` rows, in order (a reviewer workbook's ``scope``
        and ``reviewer``).
    """
    meta = workbook.create_sheet(_META_SHEET)
    meta.sheet_state = "hidden"
    for key, value in (
        ("campaign_id", campaign.campaign_id),
        ("account_id", campaign.account_id),
        ("sync_id", campaign.sync_id),
        *extra_rows,
    ):
        meta.append([_text_cell(meta, key), _text_cell(meta, xlsx_text(value))])


def _text_cell(sheet: Any, value: str) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    # openpyxl stores a string starting with "=" as a formula unless the type is forced: a
    # crafted Boomi name must not execute in a reviewer's Excel.
    cell.data_type = "s"
    return cell


def items_of(campaign: Campaign, reviewer: str | None) -> list[ReviewItem]:
    """The items of ``campaign`` that ``reviewer`` decides (``None``: the items without one)."""
    if reviewer is None:
        return [item for item in campaign.items if item.reviewer is None]
    return [item for item in campaign.items if same_reviewer(item.reviewer, reviewer)]


def _instructions(campaign: Campaign, reviewer: str | None, count: int) -> list[tuple[str, str]]:
    definition = campaign.definition or {}
    named = " / ".join(str(v) for v in (definition.get("name"), definition.get("cadence")) if v)
    lines = [
        ("Campaign", campaign.campaign_id),
        ("Definition", named),
        ("Account", campaign.account_id),
        ("Snapshot", f"{campaign.sync_id} (taken {campaign.synced_at.isoformat()})"),
        ("Reviewer", reviewer or "nobody: no owner could review these items (see the report)"),
        ("Items to decide", str(count)),
        ("Due date", campaign.due_date.isoformat() if campaign.due_date else "not set"),
    ]
    return [(key, value) for key, value in lines if value]


_HOW_TO = (
    "How to fill this workbook:",
    "1. In the Review sheet every row is one access grant. Decide each one.",
    f"2. decision: {KEEP} (the access is still needed), {REVOKE} (it is taken away) or {REMOVE_USER} "
    "(the user is removed from the account: every grant of theirs goes, whatever their other rows say). "
    "Every row needs one.",
    "3. comment: optional; why. It is recorded with your decision and in the change's reason.",
    "   findings: what the account's findings say about the grant (leaver: the person has left; "
    "sod_conflict: <rule>: it completes a forbidden combination; dormant: no recent login; "
    "no_sso: signs in without SSO; regranted: revoked in an earlier review, back again). "
    "Decide those rows first.",
    "4. Leave every other cell and this sheet as they are: the context columns are protected, "
    "and the attestation token above, when there is one, proves this workbook was issued to you.",
    "5. Save it as .xlsx (not .xlsm, .xls or .csv) and return it as your campaign owner asked.",
    "Roles in your items, with their description and privileges:",
)


def write_reviewer_xlsx(
    campaign: Campaign, reviewer: str | None, path: str | Path | IO[bytes], *, token: str | None = None
) -> Any:
    """Write one reviewer's workbook: only their items, ready to fill, context protected.

    Sheets: ``Instructions`` (campaign, definition and cadence, account, snapshot, reviewer,
    number of items, due date, the attestation token in the cell named :data:`TOKEN_NAME`,
    how to fill, and the legend of every role in the items with its description and
    privileges); ``Review`` (the items in :data:`REVIEWER_COLUMNS` order, panes frozen on the
    header row and the email and name columns, a keep/revoke dropdown on ``decision``, the
    sheet protected except ``decision`` and ``comment``, filtering and sorting allowed); and
    the hidden ``campaign`` sheet (campaign id, account, snapshot, scope, reviewer) the reader
    checks. Protection has no password: it keeps a reviewer from editing context by mistake;
    the reader never trusts a context cell anyway (who and what an item is comes from
    ``campaign.json``, who decided from the token). Cells are written as by
    :func:`write_xlsx`: text cells, never formulas, display columns made visible.

    :param campaign: the campaign.
    :param reviewer: whose items (``None``: the items without a reviewer).
    :param path: a local path or a binary file object.
    :param token: the reviewer's attestation token (:func:`~.attestation.issue_token`), when
        the campaign's workbooks are issued with a secret.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill, Protection
    from openpyxl.utils import get_column_letter
    from openpyxl.workbook.defined_name import DefinedName

    if isinstance(path, str | Path):
        path = Path(path)
    items = items_of(campaign, reviewer)
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE4EE")

    def heading(sheet: Any, labels: Sequence[str]) -> list[Any]:
        cells = []
        for label in labels:
            cell = WriteOnlyCell(sheet, value=label)
            cell.font = bold
            cell.fill = fill
            cells.append(cell)
        return cells

    def shown(sheet: Any, value: str) -> Any:
        return _text_cell(sheet, xlsx_text(visible_text(value)))

    intro = workbook.create_sheet(_INSTRUCTIONS_SHEET)
    for letter, width in zip("ABCDE", (30, 60, 45, 45, 12), strict=True):
        intro.column_dimensions[letter].width = width
    intro.protection.sheet = True
    title = shown(intro, f"Access review {campaign.campaign_id}")
    title.font = Font(bold=True, size=14)
    intro.append([title])
    for key, value in _instructions(campaign, reviewer, len(items)):
        intro.append([_text_cell(intro, key), shown(intro, value)])
    intro.append([_text_cell(intro, "Attestation token"), _text_cell(intro, token or "")])
    # Rows are appended in order, so the token's row number is the count so far.
    token_row = 1 + len(_instructions(campaign, reviewer, len(items))) + 1
    intro.append([])
    for line in _HOW_TO:
        intro.append([_text_cell(intro, line)])
    intro.append(heading(intro, ("Role", "Description", "Privileges", "Effective privileges", "Privileged")))
    for role in _legend(campaign, items):
        intro.append([shown(intro, value) for value in role])
    if token:
        workbook.defined_names[TOKEN_NAME] = DefinedName(
            TOKEN_NAME, attr_text=f"'{_INSTRUCTIONS_SHEET}'!$B${token_row}"
        )

    sheet = workbook.create_sheet(_REVIEWER_SHEET)
    # The header row and the email and name columns stay in view while scrolling.
    sheet.freeze_panes = "C2"
    for index, column in enumerate(REVIEWER_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = _WIDTHS.get(column, 15)
    last_row = len(items) + 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(REVIEWER_COLUMNS))}{last_row}"
    decision_col = get_column_letter(REVIEWER_COLUMNS.index("decision") + 1)
    sheet.data_validations.append(_decision_validation(f"{decision_col}2:{decision_col}{max(last_row, 2)}"))
    protection = sheet.protection
    protection.sheet = True
    # In SheetProtection, False means "allowed": reviewers filter, sort and widen columns.
    protection.autoFilter = False
    protection.sort = False
    protection.formatColumns = False
    sheet.append(heading(sheet, REVIEWER_COLUMNS))
    unlocked = Protection(locked=False)
    for item in items:
        values = _values(item, campaign.campaign_id)
        cells = []
        for column in REVIEWER_COLUMNS:
            value = values[column]
            if column in _FILLED:
                cell = WriteOnlyCell(sheet, value=None)
                cell.protection = unlocked
            elif isinstance(value, str):
                cell = _text_cell(sheet, _xlsx_cell(column, value))
            else:
                cell = WriteOnlyCell(sheet, value=value)
            cells.append(cell)
        sheet.append(cells)

    scope = "reviewer" if reviewer is not None else "unassigned"
    _write_meta_sheet(workbook, campaign, extra_rows=(("scope", scope), ("reviewer", reviewer or "")))
    workbook.save(path)
    return path


def _listing(values: Any) -> str:
    return "unknown" if values is None else ", ".join(str(v) for v in values) or "-"


def _flag(value: Any) -> str:
    return "yes" if value is True else "no" if value is False else "unknown"


def _legend(campaign: Campaign, items: Sequence[ReviewItem]) -> list[tuple[str, str, str, str, str]]:
    """Role, description, privileges, effective privileges, privileged: for the items' roles."""
    known = {r.get("role_id"): r for r in (campaign.completeness or {}).get("roles", [])}
    names = {item.role_id: item.role_label for item in items}
    rows = []
    for role_id in sorted(names, key=lambda r: (names[r].casefold(), r)):
        role = known.get(role_id) or {}
        rows.append(
            (
                str(role.get("name") or names[role_id]),
                str(role.get("description") or ""),
                _listing(role.get("privileges")),
                _listing(role.get("effective_privileges")),
                _flag(role.get("is_privileged")),
            )
        )
    return rows


def _decision_validation(ref: str) -> Any:
    from openpyxl.worksheet.datavalidation import DataValidation

    validation = DataValidation(
        type="list",
        formula1='"' + ",".join(DECISION_VALUES) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Invalid decision",
        error=f"Choose {KEEP}, {REVOKE} or {REMOVE_USER}.",
        showInputMessage=True,
        promptTitle="Decision",
        prompt=f"{KEEP}, {REVOKE} or {REMOVE_USER} (the user leaves the account)",
    )
    validation.add(ref)
    return validation


@dataclass(frozen=True)
class DecisionFileLimits:
    """What a filled workbook may hold; larger files are refused before they are parsed.

    A filled file comes from outside (a mailbox, a share) and is read inside a worker, so its
    size is bounded before any parser sees it. The defaults fit a 100,000-item campaign (about
    40 MB as CSV, 7 MB as XLSX expanding to 110 MB) and keep reading one under half a GB.

    :ivar max_bytes: size of the file on disk (CSV or XLSX).
    :ivar max_rows: data rows (CSV records or sheet rows after the header).
    :ivar max_columns: columns of the sheet (XLSX: declared dimension and cells read).
    :ivar max_cell_chars: characters of any cell (Excel's own cell limit).
    :ivar max_comment_chars: characters of a ``comment``; a longer one is refused, never cut.
    :ivar max_id_chars: characters of an ``item_id``, ``decision`` or ``campaign_id`` cell.
    :ivar max_xlsx_uncompressed_bytes: total uncompressed size of the members of an XLSX zip
        (a small zip can expand to gigabytes).
    :ivar max_xlsx_members: files inside an XLSX zip.
    """

    max_bytes: int = 64 * 1024 * 1024
    max_rows: int = 100_000
    max_columns: int = 64
    max_cell_chars: int = 32_767
    max_comment_chars: int = 2_000
    max_id_chars: int = 1_000
    max_xlsx_uncompressed_bytes: int = 256 * 1024 * 1024
    max_xlsx_members: int = 1_000


class WorkbookRefusedError(ValueError):
    """A filled workbook is refused as a whole (too large, not a plain CSV/XLSX, holds formulas,
    macros or external links); nothing of it was read. The message says what to fix."""


@dataclass(frozen=True)
class WorkbookRow:
    """One data row of a filled workbook.

    :ivar row: where a reviewer finds it: the spreadsheet row (header is row 1) for XLSX, the
        line where the record starts for CSV.
    :ivar values: column name (lower-cased header) -> text, ``""`` for empty cells.
    :ivar extra_values: for CSV, values beyond the header's columns (a sign of an unquoted comma).
    """

    row: int
    values: dict[str, str]
    extra_values: int = 0


@dataclass(frozen=True)
class WorkbookTable:
    """A filled workbook as read: header, rows and (XLSX only) what its hidden campaign sheet
    and its token cell hold.

    :ivar kind: ``csv`` or ``xlsx``.
    :ivar header: column names, lower-cased.
    :ivar rows: the data rows.
    :ivar campaign_id: the campaign id of the hidden ``campaign`` sheet.
    :ivar meta: every key of the hidden ``campaign`` sheet (a reviewer workbook adds ``scope``,
        ``reviewer`` or ``unassigned``, and ``reviewer``); untrusted, like all of the file.
    :ivar token: the text of the cell named :data:`TOKEN_NAME` on the ``Instructions`` sheet,
        ``None`` when the workbook has no such cell.
    """

    kind: str
    header: list[str]
    rows: list[WorkbookRow]
    campaign_id: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    token: str | None = None

    @property
    def scope(self) -> str:
        """``reviewer`` or ``unassigned`` for a reviewer workbook, ``all`` for the all-items one."""
        scope = self.meta.get("scope", "").strip()
        return scope if scope in ("reviewer", "unassigned") else "all"

    @property
    def where(self) -> str:
        """How rows are counted in messages: ``line`` for CSV, ``row`` for XLSX."""
        return "line" if self.kind == "csv" else "row"


def _text(value: Any) -> str:
    # Values are kept exact (no strip): a comment or id reads back as written. Callers strip
    # where a reviewer's stray space must not matter (header names, decision values).
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _table(
    kind: str,
    records: Iterable[tuple[int, Sequence[str]]],
    campaign_id: str | None,
    meta: Mapping[str, str] | None = None,
    token: str | None = None,
) -> WorkbookTable:
    iterator = iter(records)
    header: list[str] = []
    rows: list[WorkbookRow] = []
    for _, record in iterator:
        header = [v.strip().lower() for v in record]
        # Trailing empty header cells (formatting applied to whole rows in Excel) are no columns.
        while header and not header[-1]:
            header.pop()
        if header:
            break
    for number, texts in iterator:
        if not any(t.strip() for t in texts):
            continue
        extra = sum(1 for t in texts[len(header) :] if t.strip())
        values = {name: (texts[i] if i < len(texts) else "") for i, name in enumerate(header) if name}
        rows.append(WorkbookRow(row=number, values=values, extra_values=extra))
    return WorkbookTable(
        kind=kind, header=header, rows=rows, campaign_id=campaign_id, meta=dict(meta or {}), token=token
    )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _check_size(path: Any, limits: DecisionFileLimits, size: int | None = None) -> None:
    size = path.stat().st_size if size is None else size
    if size > limits.max_bytes:
        raise WorkbookRefusedError(
            f"{path.name} is {_mb(size)}, more than the {_mb(limits.max_bytes)} a decision file may be; "
            "send the workbook of the campaign with only decision and comment filled in (or raise "
            "DecisionFileLimits.max_bytes)"
        )


def _too_many_rows(path: Any, limits: DecisionFileLimits) -> WorkbookRefusedError:
    return WorkbookRefusedError(
        f"{path.name} has more than {limits.max_rows:,} rows; a campaign workbook has one row per "
        "item: remove the rows that are not items of the campaign (or raise DecisionFileLimits.max_rows)"
    )


def _long_cell(path: Any, where: str, limits: DecisionFileLimits) -> WorkbookRefusedError:
    return WorkbookRefusedError(
        f"{path.name}, {where}: a cell holds more than {limits.max_cell_chars:,} characters; "
        "shorten it (a comment may have at most "
        f"{limits.max_comment_chars:,})"
    )


def _csv_delimiter(header_line: str) -> str:
    """The delimiter the header line uses most: ``,`` as written, ``;`` or tab as Excel re-saves
    in some locales. The header holds only column names, so it cannot mislead (csv.Sniffer
    guessed from the data and lost doubled quotes)."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(path: Any, limits: DecisionFileLimits) -> WorkbookTable:
    records: list[tuple[int, list[str]]] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline()
        reader = csv.reader(itertools.chain([first], handle), delimiter=_csv_delimiter(first))
        start = 1
        try:
            for record in reader:
                if len(records) > limits.max_rows:  # the header and max_rows rows are read
                    raise _too_many_rows(path, limits)
                if any(len(cell) > limits.max_cell_chars for cell in record):
                    raise _long_cell(path, f"line {start}", limits)
                records.append((start, [restore_csv_cell(cell) for cell in record]))
                start = reader.line_num + 1
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise _long_cell(path, f"line {start}", limits) from exc
            raise
    return _table("csv", records, None)


def _check_xlsx_package(path: Any, limits: DecisionFileLimits) -> None:
    """Refuse, from the zip directory alone, what must never reach openpyxl: macros, links to
    other workbooks, and members that expand beyond the limits (a zip bomb)."""
    with zipfile.ZipFile(_binary(path)) as archive:
        members = archive.infolist()
    names = [member.filename.lower() for member in members]
    if any(name.endswith("vbaproject.bin") for name in names):
        raise WorkbookRefusedError(
            f"{path.name} contains macros (a VBA project); save it as a plain Excel Workbook "
            "(.xlsx) without macros and send that"
        )
    if any(name.startswith("xl/externallinks/") for name in names):
        raise WorkbookRefusedError(
            f"{path.name} links to other workbooks (external links); break the links (Data > Edit "
            "Links > Break Link) or paste the cells as values, then save and send it again"
        )
    expanded = sum(member.file_size for member in members)
    if len(members) > limits.max_xlsx_members or expanded > limits.max_xlsx_uncompressed_bytes:
        raise WorkbookRefusedError(
            f"{path.name} expands to {_mb(expanded)} in {len(members)} parts, more than the "
            f"{_mb(limits.max_xlsx_uncompressed_bytes)} in {limits.max_xlsx_members} parts a "
            "decision workbook may; send the workbook of the campaign with only decision and "
            "comment filled in"
        )


def _sheet_records(path: Any, sheet: Any, limits: DecisionFileLimits) -> list[tuple[int, list[str]]]:
    """Rows of a read-only sheet as text, within the limits; a formula cell refuses the file."""
    from openpyxl.utils import get_column_letter

    # openpyxl pads every row to the declared dimension: a tiny sheet declaring A1:XFD1048576
    # would produce 17 billion cells. Check the declaration, then read without it.
    declared_rows, declared_cols = sheet.max_row or 0, sheet.max_column or 0
    if declared_rows > limits.max_rows + 1 or declared_cols > limits.max_columns:
        raise WorkbookRefusedError(
            f"{path.name}: sheet {sheet.title!r} declares {declared_rows:,} rows and "
            f"{declared_cols:,} columns, more than the {limits.max_rows:,} rows and "
            f"{limits.max_columns} columns a decision workbook may have; delete the empty rows "
            "and columns after the data (or copy the data into a new workbook)"
        )
    sheet.reset_dimensions()
    records: list[tuple[int, list[str]]] = []
    formulas: list[str] = []
    for number, cells in enumerate(sheet.iter_rows(max_col=limits.max_columns), start=1):
        if number > limits.max_rows + 1:
            raise _too_many_rows(path, limits)
        texts = []
        for index, cell in enumerate(cells, start=1):
            if cell.data_type == "f":
                formulas.append(f"{get_column_letter(index)}{number}")
            text = _text(cell.value)
            if len(text) > limits.max_cell_chars:
                raise _long_cell(path, f"sheet {sheet.title!r} row {number}", limits)
            texts.append(xlsx_restore(text))
        records.append((number, texts))
    if formulas:
        shown = ", ".join(formulas[:10]) + (f" and {len(formulas) - 10} more" if len(formulas) > 10 else "")
        raise WorkbookRefusedError(
            f"{path.name}: sheet {sheet.title!r} has formulas in {shown}; a decision must be a typed "
            "value: copy the cells, paste them as values, then save and send the workbook again"
        )
    return records


def _read_xlsx(path: Any, limits: DecisionFileLimits) -> WorkbookTable:
    from openpyxl import load_workbook

    _check_xlsx_package(path, limits)
    # read_only streams the sheet instead of building it; data_only=False so that formula
    # cells are seen as formulas (and refused) rather than as their cached values.
    workbook = load_workbook(_binary(path), read_only=True, data_only=False, keep_links=False)
    try:
        # Excel treats sheet names case-insensitively: "review" (all items) or "Review".
        by_name = {name.casefold(): name for name in workbook.sheetnames}
        sheet = workbook[by_name[_SHEET]] if _SHEET in by_name else workbook.worksheets[0]
        meta: dict[str, str] = {}
        if _META_SHEET in workbook.sheetnames:
            for _, cells in _sheet_records(path, workbook[_META_SHEET], limits):
                if len(cells) >= 2 and cells[0].strip() and cells[0].strip() not in meta:
                    meta[cells[0].strip()] = cells[1].strip()
        token = _token(path, workbook, limits)
        records = _sheet_records(path, sheet, limits)
    finally:
        workbook.close()
    return _table("xlsx", records, meta.get("campaign_id") or None, meta, token)


def _token(path: Any, workbook: Any, limits: DecisionFileLimits) -> str | None:
    """The text of the cell named :data:`TOKEN_NAME`, if it is one cell of the instructions
    sheet (a name pointing anywhere else, or at a range, is no token)."""
    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

    defined = workbook.defined_names.get(TOKEN_NAME)
    if defined is None:
        return None
    try:
        destinations = list(defined.destinations)
    except Exception:  # a malformed reference: openpyxl raises several kinds
        return None
    if len(destinations) != 1:
        return None
    title, reference = destinations[0]
    if title != _INSTRUCTIONS_SHEET or title not in workbook.sheetnames or ":" in reference:
        return None
    try:
        letters, number = coordinate_from_string(reference.replace("$", ""))
        column = column_index_from_string(letters)
    except ValueError:
        return None
    for row_number, texts in _sheet_records(path, workbook[title], limits):
        if row_number == number:
            return texts[column - 1].strip() if column <= len(texts) else ""
    return ""


class _Remote:
    """A workbook on an object store, read whole into memory after its size was checked: the
    few parts of :class:`~pathlib.Path` the readers use (``name``, ``suffix``, ``open``)."""

    def __init__(self, where: Folder) -> None:
        self.where = where
        self.name = workbook_name(where.url)
        self.suffix = Path(self.name).suffix
        self.data: bytes | None = None

    def fetch(self, limits: DecisionFileLimits) -> None:
        fs, key = self.where.fs, self.where.path
        if not fs.isfile(key):
            raise FileNotFoundError(f"workbook {self.where.url} does not exist")
        _check_size(self, limits, size=int(fs.size(key)))
        with fs.open(key, "rb") as handle:
            # Never more than the limit, even if the object grew after fs.size().
            data = handle.read(limits.max_bytes + 1)
        _check_size(self, limits, size=len(data))
        self.data = bytes(data)

    def open(self, mode: str = "r", encoding: str | None = None, newline: str | None = None) -> IO[Any]:
        raw = io.BytesIO(self.data or b"")
        return raw if "b" in mode else io.TextIOWrapper(raw, encoding=encoding, newline=newline)


def _binary(path: Any) -> Any:
    """What zipfile and openpyxl open: the local path, or the bytes read from an object store."""
    return io.BytesIO(path.data or b"") if isinstance(path, _Remote) else path


def workbook_name(path: Any) -> str:
    """The file name of a workbook given as a path, a URL or an ``ObjectStoragePath``."""
    where = folder(path)
    return where.local.name if where.is_local else where.url.rstrip("/").rsplit("/", 1)[-1]


def workbook_location(path: Any) -> str:
    """A workbook's path (local) or URL, as text for messages and records."""
    return str(folder(path))


def read_workbook(path: Any, limits: DecisionFileLimits | None = None) -> WorkbookTable:
    """Read a filled workbook (``.csv`` or ``.xlsx``, by extension) into rows of text.

    Values read back exactly as :func:`write_csv` / :func:`write_xlsx` wrote them (display
    columns as shown, see :data:`DISPLAY_COLUMNS`). The file is untrusted: its size, rows and
    cells are bounded by ``limits`` (default :class:`DecisionFileLimits`), checked before or
    while parsing, never after. ``path`` is a local file, an fsspec URL or an
    ``ObjectStoragePath``; a file on an object store is sized first (``fs.size()``) and read
    into memory only when within ``max_bytes``.

    :raises WorkbookRefusedError: a limit is exceeded; a macro-enabled or legacy Excel file; an
        XLSX with macros, external links or formula cells.
    :raises ValueError: another extension, or the file cannot be parsed as CSV or XLSX.
    :raises FileNotFoundError: no such file.
    """
    limits = limits or DecisionFileLimits()
    where = folder(path)
    if where.is_local:
        path = where.local
        if not path.is_file():
            raise FileNotFoundError(f"workbook {path} does not exist")
    else:
        path = _Remote(where)
    suffix = path.suffix.lower()
    if suffix in (".xlsm", ".xltm", ".xlsb", ".xls", ".xlt"):
        raise WorkbookRefusedError(
            f"{path.name}: {suffix} files are refused (they can hold macros, or are a legacy "
            "format); save the workbook as Excel Workbook (.xlsx) or CSV and send that"
        )
    if suffix not in (".csv", ".xlsx"):
        raise ValueError(
            f"{path.name}: decisions are read from .csv or .xlsx files, not {suffix or 'no extension'}"
        )
    if isinstance(path, _Remote):
        path.fetch(limits)  # the size is checked (fs.size) before a byte is read
    else:
        _check_size(path, limits)
    if suffix == ".csv":
        try:
            return _read_csv(path, limits)
        except (UnicodeError, csv.Error) as exc:
            raise ValueError(f"{path.name} is not a readable UTF-8 CSV file: {exc}") from exc
    try:
        return _read_xlsx(path, limits)
    except WorkbookRefusedError:
        raise
    # zipfile.BadZipFile, KeyError for missing parts, openpyxl's own errors: all mean the
    # same thing to the reviewer.
    except Exception as exc:
        raise ValueError(f"{path.name} is not a readable XLSX workbook: {exc}") from exc
