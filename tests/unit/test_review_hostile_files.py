"""Filled decision files as untrusted input (issue 11, item 3): limits checked before parsing,
CSV and plain XLSX only, the campaign id required and checked."""

from __future__ import annotations

import csv
import re
import shutil
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.review import (
    COLUMNS,
    Campaign,
    CampaignFiles,
    DecisionValidationError,
    build_campaign,
    read_decisions,
    read_workbook,
    write_campaign,
)
from airflow_provider_boomi.review.workbook import DecisionFileLimits, WorkbookRefusedError
from tests.unit import test_warehouse_snapshots as fx
from tests.unit.test_review_decisions import BOB_DEV, Rows, decide, fill_csv, fill_xlsx


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    store: SnapshotStore = fx.build_store(tmp_path_factory.mktemp("hostile-files-store"))
    return build_campaign(store, fx.ACCOUNT, campaign_id="uar-2026-q1")


@pytest.fixture
def files(campaign: Campaign, tmp_path: Path) -> CampaignFiles:
    return write_campaign(campaign, tmp_path / "campaign")


def _problems(campaign_dir: Path, workbook: Path) -> list[str]:
    with pytest.raises(DecisionValidationError) as caught:
        read_decisions(campaign_dir, workbook)
    return [str(p) for p in caught.value.problems]


def _rewrite_zip(path: Path, edit: dict[str, bytes | None], add: dict[str, bytes] | None = None) -> Path:
    """Copy the XLSX zip with members replaced (bytes) or dropped (None), and members added."""
    out = path.with_name("edited-" + path.name)
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = edit.get(info.filename, source.read(info.filename))
            if data is not None:
                target.writestr(info.filename, data)
        for name, data in (add or {}).items():
            target.writestr(name, data)
    return out


# --- CSV dialect and exact reading ------------------------------------------------------------------


def test_quotes_read_back_exactly_in_comma_and_semicolon_files(files: CampaignFiles) -> None:
    # csv.Sniffer lost the doubled quotes of 'said "ok"'; the delimiter now comes from the header.
    comment = 'said "ok"; then, "left"'
    for delimiter in (",", ";"):
        fill_csv(files.workbook_csv, decide({BOB_DEV: comment}), delimiter=delimiter)
        decisions = read_decisions(files.campaign_json.parent, files.workbook_csv)
        assert [d.comment for d in decisions.revoked] == [comment]


# --- limits ---------------------------------------------------------------------------------------


def test_file_size_is_checked_before_parsing(files: CampaignFiles, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"\xff" * 4096)  # not even UTF-8: refused for its size, never decoded
    with pytest.raises(WorkbookRefusedError, match=r"big\.csv is 0\.0 MB, more than the 0\.0 MB") as caught:
        read_decisions(files.campaign_json.parent, big, limits=DecisionFileLimits(max_bytes=1024))
    assert "DecisionFileLimits.max_bytes" in str(caught.value)
    fill_xlsx(files.workbook_xlsx, {})
    with pytest.raises(WorkbookRefusedError, match="a decision file may be"):
        read_workbook(files.workbook_xlsx, DecisionFileLimits(max_bytes=1024))


def test_default_size_limit(files: CampaignFiles, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:
        handle.truncate(DecisionFileLimits().max_bytes + 1)  # sparse: no disk used
    with pytest.raises(WorkbookRefusedError, match=r"is 64\.0 MB, more than the 64\.0 MB"):
        read_decisions(files.campaign_json.parent, big)


def test_rows_are_limited_while_streaming(files: CampaignFiles, tmp_path: Path) -> None:
    many = tmp_path / "many.csv"
    with many.open("w", encoding="utf-8", newline="") as handle:
        handle.write("item_id,decision,comment,campaign_id\n")
        handle.writelines(f"x{i},keep,,uar-2026-q1\n" for i in range(100_001))
    with pytest.raises(WorkbookRefusedError, match="has more than 100,000 rows; a campaign workbook"):
        read_decisions(files.campaign_json.parent, many)
    fill_xlsx(files.workbook_xlsx, {})
    with pytest.raises(
        WorkbookRefusedError, match=f"declares 7 rows and {len(COLUMNS)} columns, more than the 3 rows"
    ):
        read_workbook(files.workbook_xlsx, DecisionFileLimits(max_rows=3))


def test_cell_length_is_limited(files: CampaignFiles) -> None:
    for size in (40_000, 200_000):  # under and over the csv module's own field limit
        fill_csv(files.workbook_csv, lambda rows, size=size: [{**decide({})(rows)[0], "name": "x" * size}])
        with pytest.raises(WorkbookRefusedError, match=r"line 2: a cell holds more than 32,767 characters"):
            read_decisions(files.campaign_json.parent, files.workbook_csv)


def test_a_long_comment_is_refused_not_truncated(files: CampaignFiles, campaign: Campaign) -> None:
    fill_csv(files.workbook_csv, decide({BOB_DEV: "x" * 2_000}))
    assert read_decisions(campaign, files.workbook_csv).revoked[0].comment == "x" * 2_000
    fill_csv(files.workbook_csv, decide({BOB_DEV: "x" * 2_001}))
    problems = _problems(files.campaign_json.parent, files.workbook_csv)
    assert len(problems) == 1
    assert re.fullmatch(
        r"line \d+: comment has 2,001 characters, more than the 2,000 allowed; shorten it", problems[0]
    )
    fill_xlsx(files.workbook_xlsx, {BOB_DEV: ("revoke", "y" * 2_001)})
    assert "comment has 2,001 characters" in _problems(files.campaign_json.parent, files.workbook_xlsx)[0]


def test_a_small_xlsx_declaring_a_huge_sheet_is_refused_before_loading(files: CampaignFiles) -> None:
    fill_xlsx(files.workbook_xlsx, {})
    with zipfile.ZipFile(files.workbook_xlsx) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    huge = re.sub(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:XFD1048576"/>', sheet)
    assert huge != sheet
    bomb = _rewrite_zip(files.workbook_xlsx, {"xl/worksheets/sheet1.xml": huge.encode()})
    assert bomb.stat().st_size < 30_000
    started = time.monotonic()
    with pytest.raises(WorkbookRefusedError, match="declares 1,048,576 rows and 16,384 columns"):
        read_decisions(files.campaign_json.parent, bomb)
    # Rows far down the sheet without a declared dimension: counted as they stream, refused.
    far = re.sub(r'<dimension ref="[^"]*"\s*/>', "", sheet).replace(
        "</sheetData>",
        '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData>',
    )
    with pytest.raises(WorkbookRefusedError, match="more than 100,000 rows"):
        read_decisions(
            files.campaign_json.parent,
            _rewrite_zip(files.workbook_xlsx, {"xl/worksheets/sheet1.xml": far.encode()}),
        )
    assert time.monotonic() - started < 20


def test_a_zip_bomb_is_refused_from_the_zip_directory(files: CampaignFiles, tmp_path: Path) -> None:
    fill_xlsx(files.workbook_xlsx, {})
    bomb = tmp_path / "bomb.xlsx"
    shutil.copy(files.workbook_xlsx, bomb)
    with (
        zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/media/zeros.bin", "w") as member,
    ):
        for _ in range(257):
            member.write(bytes(1024 * 1024))
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(
        WorkbookRefusedError, match=r"expands to 257\.\d MB in \d+ parts, more than the 256\.0 MB"
    ):
        read_decisions(files.campaign_json.parent, bomb)


# --- file kinds and content refused ---------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".xlsm", ".xls", ".xlsb", ".XLSM"])
def test_macro_enabled_and_legacy_excel_files_are_refused(
    files: CampaignFiles, tmp_path: Path, suffix: str
) -> None:
    fill_xlsx(files.workbook_xlsx, {})
    renamed = Path(shutil.copy(files.workbook_xlsx, tmp_path / f"filled{suffix}"))
    with pytest.raises(
        WorkbookRefusedError, match=rf"{re.escape(suffix.lower())} files are refused.*\(\.xlsx\) or CSV"
    ):
        read_decisions(files.campaign_json.parent, renamed)


def test_other_extensions_are_refused(files: CampaignFiles, tmp_path: Path) -> None:
    other = tmp_path / "filled.ods"
    other.write_text("x")
    with pytest.raises(ValueError, match=r"\.csv or \.xlsx files, not \.ods"):
        read_decisions(files.campaign_json.parent, other)


def test_a_workbook_with_macros_is_refused(files: CampaignFiles) -> None:
    fill_xlsx(files.workbook_xlsx, {})
    with_macros = _rewrite_zip(files.workbook_xlsx, {}, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro"})
    with pytest.raises(WorkbookRefusedError, match=r"contains macros \(a VBA project\); save it as a plain"):
        read_decisions(files.campaign_json.parent, with_macros)


def test_a_workbook_linking_to_other_workbooks_is_refused(files: CampaignFiles) -> None:
    fill_xlsx(files.workbook_xlsx, {})
    linked = _rewrite_zip(files.workbook_xlsx, {}, {"xl/externalLinks/externalLink1.xml": b"<externalLink/>"})
    with pytest.raises(
        WorkbookRefusedError, match=r"links to other workbooks \(external links\); break the links"
    ):
        read_decisions(files.campaign_json.parent, linked)


def test_formula_cells_are_refused(files: CampaignFiles) -> None:
    from openpyxl import load_workbook

    fill_xlsx(files.workbook_xlsx, {})
    workbook = load_workbook(files.workbook_xlsx)
    sheet = workbook["review"]
    sheet["O2"] = '=IF(TRUE,"revoke","keep")'
    sheet["P3"] = "='C:\\[other.xlsx]Sheet1'!A1"
    assert sheet["O2"].data_type == "f"
    workbook.save(files.workbook_xlsx)
    with pytest.raises(
        WorkbookRefusedError, match=r"sheet 'review' has formulas in O2, P3; a decision must be a typed value"
    ):
        read_decisions(files.campaign_json.parent, files.workbook_xlsx)


# --- campaign id ----------------------------------------------------------------------------------


def test_a_csv_without_campaign_id_is_refused(files: CampaignFiles) -> None:
    def drop(rows: Rows) -> Rows:
        return [{k: v for k, v in row.items() if k != "campaign_id"} for row in decide({})(rows)]

    fill_csv(files.workbook_csv, drop)
    problems = _problems(files.campaign_json.parent, files.workbook_csv)
    assert problems == [
        f"{files.workbook_csv.name} does not name its campaign (no campaign_id column); fill in the "
        "workbook written for campaign uar-2026-q1, whose rows carry its id, and keep its campaign_id column"
    ]


def test_a_row_with_an_empty_campaign_id_is_refused(files: CampaignFiles) -> None:
    def empty(rows: Rows) -> Rows:
        rows = decide({})(rows)
        rows[1]["campaign_id"] = ""
        return rows

    fill_csv(files.workbook_csv, empty)
    assert _problems(files.campaign_json.parent, files.workbook_csv) == [
        "line 3: campaign_id is empty; restore it (uar-2026-q1, as in the other rows)"
    ]


def test_an_xlsx_without_campaign_sheet_or_column_is_refused(files: CampaignFiles) -> None:
    from openpyxl import load_workbook

    fill_xlsx(files.workbook_xlsx, {})
    workbook = load_workbook(files.workbook_xlsx)
    del workbook["campaign"]
    workbook["review"].delete_cols(COLUMNS.index("campaign_id") + 1)
    workbook.save(files.workbook_xlsx)
    assert (
        "does not name its campaign (no campaign_id column and no campaign sheet)"
        in (_problems(files.campaign_json.parent, files.workbook_xlsx)[0])
    )


def test_files_of_another_campaign_are_refused(
    files: CampaignFiles, campaign: Campaign, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    other = write_campaign(replace(campaign, campaign_id="uar-2025-q4"), tmp_path / "other")
    expected = "was written for campaign uar-2025-q4, not uar-2026-q1; use the workbook of this campaign"
    # The CSV of an earlier campaign (same grant ids) used to replay into this one.
    fill_csv(other.workbook_csv, decide({BOB_DEV: "old decision"}))
    assert _problems(files.campaign_json.parent, other.workbook_csv) == [
        f"{other.workbook_csv.name} {expected}"
    ]
    # So did an XLSX whose hidden campaign sheet was lost (copied into a new workbook).
    fill_xlsx(other.workbook_xlsx, {})
    workbook = load_workbook(other.workbook_xlsx)
    del workbook["campaign"]
    workbook.save(other.workbook_xlsx)
    assert _problems(files.campaign_json.parent, other.workbook_xlsx) == [
        f"{other.workbook_xlsx.name} {expected}"
    ]


def test_rows_pasted_from_another_campaign_are_refused(files: CampaignFiles) -> None:
    def pasted(rows: Rows) -> Rows:
        rows = decide({})(rows)
        rows[2]["campaign_id"] = "uar-2025-q4"
        return rows

    fill_csv(files.workbook_csv, pasted)
    assert _problems(files.campaign_json.parent, files.workbook_csv) == [
        f"{files.workbook_csv.name} was written for campaign uar-2025-q4, not uar-2026-q1; "
        "use the workbook of this campaign"
    ]


def test_written_csv_has_the_campaign_id_on_every_row(files: CampaignFiles) -> None:
    rows = list(csv.DictReader(files.workbook_csv.open(encoding="utf-8-sig")))
    assert rows and {r["campaign_id"] for r in rows} == {"uar-2026-q1"}
