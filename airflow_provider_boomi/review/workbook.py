"""The reviewer workbook: writing it as CSV and XLSX, and reading filled ones back as rows.

Only the table layout and file formats live here; what the rows mean (validation, change sets)
is :mod:`.decisions`. Reading returns every row with its spreadsheet row number so that errors
can point reviewers at the exact row to fix.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .campaign import Campaign, ReviewItem

__all__ = [
    "COLUMNS",
    "DECISION_VALUES",
    "WorkbookRow",
    "WorkbookTable",
    "read_workbook",
    "write_csv",
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
    "reviewer",
    "decision",
    "comment",
)
#: Valid values of the decision column.
DECISION_VALUES: tuple[str, ...] = ("keep", "revoke")

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
    "reviewer": 26,
    "decision": 11,
    "comment": 48,
}
_SHEET = "review"
_META_SHEET = "campaign"
# Spreadsheet apps run a cell starting with one of these as a formula. Names and emails come
# from Boomi, so a crafted name must not execute in a reviewer's Excel (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _values(item: ReviewItem) -> dict[str, Any]:
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
        "reviewer": item.reviewer or "",
        "decision": "",
        "comment": "",
    }


def _safe_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def write_csv(campaign: Campaign, path: str | Path) -> Path:
    """Write the workbook as CSV (UTF-8 with a byte-order mark, so Excel shows accents)."""
    path = Path(path)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for item in campaign.items:
            values = _values(item)
            writer.writerow(
                [
                    ("true" if v else "false")
                    if isinstance(v, bool)
                    else _safe_text(v)
                    if isinstance(v, str)
                    else v
                    for v in values.values()
                ]
            )
    return path


def write_xlsx(campaign: Campaign, path: str | Path) -> Path:
    """Write the workbook as XLSX: frozen header, filters, widths, a keep/revoke dropdown.

    A second, hidden sheet holds the campaign id so that a workbook returned for the wrong
    campaign is recognised when it is read back.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

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
    validation = DataValidation(
        type="list",
        formula1='"' + ",".join(DECISION_VALUES) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Invalid decision",
        error="Choose keep or revoke.",
        showInputMessage=True,
        promptTitle="Decision",
        prompt="keep or revoke",
    )
    validation.add(f"{decision_col}2:{decision_col}{max(last_row, 2)}")
    sheet.data_validations.append(validation)

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
        for value in _values(item).values():
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                # openpyxl would store "=..." as a formula; force plain text (see _FORMULA_START).
                cell.data_type = "s"
            row.append(cell)
        sheet.append(row)

    meta = workbook.create_sheet(_META_SHEET)
    meta.sheet_state = "hidden"
    for key, value in (
        ("campaign_id", campaign.campaign_id),
        ("account_id", campaign.account_id),
        ("sync_id", campaign.sync_id),
    ):
        meta.append([key, value])
    workbook.save(path)
    return path


@dataclass(frozen=True)
class WorkbookRow:
    """One data row of a filled workbook.

    Attributes:
        row: where a reviewer finds it: the spreadsheet row (header is row 1) for XLSX, the
            line where the record starts for CSV.
        values: column name (lower-cased header) -> text, ``""`` for empty cells.
        extra_values: for CSV, values beyond the header's columns (a sign of an unquoted comma).
    """

    row: int
    values: dict[str, str]
    extra_values: int = 0


@dataclass(frozen=True)
class WorkbookTable:
    """A filled workbook as read: header, rows and (XLSX only) the campaign id it names."""

    kind: str
    header: list[str]
    rows: list[WorkbookRow]
    campaign_id: str | None = None

    @property
    def where(self) -> str:
        """How rows are counted in messages: ``line`` for CSV, ``row`` for XLSX."""
        return "line" if self.kind == "csv" else "row"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _table(kind: str, records: Iterable[tuple[int, Sequence[Any]]], campaign_id: str | None) -> WorkbookTable:
    iterator = iter(records)
    header: list[str] = []
    rows: list[WorkbookRow] = []
    for _, record in iterator:
        header = [_text(v).lower() for v in record]
        # Trailing empty header cells (formatting applied to whole rows in Excel) are no columns.
        while header and not header[-1]:
            header.pop()
        if header:
            break
    for number, record in iterator:
        texts = [_text(v) for v in record]
        if not any(texts):
            continue
        extra = sum(1 for t in texts[len(header) :] if t)
        values = {name: (texts[i] if i < len(texts) else "") for i, name in enumerate(header) if name}
        rows.append(WorkbookRow(row=number, values=values, extra_values=extra))
    return WorkbookTable(kind=kind, header=header, rows=rows, campaign_id=campaign_id)


def _read_csv(path: Path) -> WorkbookTable:
    text = path.read_text(encoding="utf-8-sig")
    first_line = text.split("\n", 1)[0]
    try:
        # Excel saves CSV with ';' in locales where ',' is the decimal separator.
        dialect: Any = csv.Sniffer().sniff(first_line, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)

    def records() -> Iterable[tuple[int, Sequence[Any]]]:
        start = 1
        for record in reader:
            yield start, record
            start = reader.line_num + 1

    return _table("csv", records(), None)


def _read_xlsx(path: Path) -> WorkbookTable:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook[_SHEET] if _SHEET in workbook.sheetnames else workbook.worksheets[0]
        campaign_id = None
        if _META_SHEET in workbook.sheetnames:
            for key, value, *_ in workbook[_META_SHEET].iter_rows(values_only=True):
                if key == "campaign_id":
                    campaign_id = _text(value)
        records = [(i, list(r)) for i, r in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()
    return _table("xlsx", records, campaign_id)


def read_workbook(path: str | Path) -> WorkbookTable:
    """Read a filled workbook (``.csv`` or ``.xlsx``, by extension) into rows of text.

    Raises:
        ValueError: the extension is neither ``.csv`` nor ``.xlsx``, or the file cannot be
            parsed as one.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileNotFoundError(f"workbook {path} does not exist")
    if suffix == ".csv":
        try:
            return _read_csv(path)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ValueError(f"{path.name} is not a readable UTF-8 CSV file: {exc}") from exc
    if suffix in (".xlsx", ".xlsm"):
        try:
            return _read_xlsx(path)
        # zipfile.BadZipFile, KeyError for missing parts, openpyxl's own errors: all mean the
        # same thing to the reviewer.
        except Exception as exc:
            raise ValueError(f"{path.name} is not a readable XLSX workbook: {exc}") from exc
    raise ValueError(
        f"{path.name}: decisions are read from .csv or .xlsx files, not {suffix or 'no extension'}"
    )
