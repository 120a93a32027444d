"""Decisions read back from filled workbooks: the change set, and every way a workbook is wrong."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.review import (
    COLUMNS,
    Campaign,
    CampaignFiles,
    DecisionValidationError,
    build_campaign,
    decisions_to_changes,
    read_decisions,
    record_decisions,
    write_campaign,
)
from tests.unit import test_warehouse_snapshots as fx

BOB_DEV = fx.global_grant_id("bob@x.com", fx.DEV)
DAVE_G1 = fx.group_grant_id("dave@x.com", fx.G1, fx.ADMIN)
ERIN_ADMIN = fx.global_grant_id("erin@x.com", fx.ADMIN)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    store: SnapshotStore = fx.build_store(tmp_path_factory.mktemp("decisions-store"))
    return build_campaign(store, fx.ACCOUNT, campaign_id="uar-2026-q1")


@pytest.fixture
def files(campaign: Campaign, tmp_path: Path) -> CampaignFiles:
    return write_campaign(campaign, tmp_path / "campaign")


Rows = list[dict[str, Any]]


def fill_csv(path: Path, edit: Callable[[Rows], Rows], delimiter: str = ",") -> Path:
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    rows = edit(rows)
    fields = list(rows[0]) if rows else list(COLUMNS)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def fill_xlsx(path: Path, decisions: dict[str, tuple[str, str]]) -> Path:
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    sheet = workbook["review"]
    header = [c.value for c in sheet[1]]
    col_item, col_decision, col_comment = (header.index(n) + 1 for n in ("item_id", "decision", "comment"))
    for row in range(2, sheet.max_row + 1):
        item_id = sheet.cell(row, col_item).value
        decision, comment = decisions.get(item_id, ("keep", ""))
        sheet.cell(row, col_decision).value = decision
        sheet.cell(row, col_comment).value = comment
    workbook.save(path)
    return path


def decide(revoke: dict[str, str]) -> Callable[[Rows], Rows]:
    def edit(rows: Rows) -> Rows:
        for row in rows:
            comment = revoke.get(row["item_id"])
            row["decision"] = "revoke" if comment is not None else "keep"
            row["comment"] = comment or ""
        return rows

    return edit


EXPECTED_CHANGES = [
    {
        "action": "revoke_role",
        "user_id": "bob@x.com",
        "role_id": fx.DEV,
        "account_group_id": None,
        "reason": "access review uar-2026-q1: left the team",
    },
    {
        "action": "remove_group_role",
        "user_id": "dave@x.com",
        "role_id": fx.ADMIN,
        "account_group_id": fx.G1,
        "reason": "access review uar-2026-q1",
    },
]


def test_csv_round_trip_to_a_change_set(files: CampaignFiles) -> None:
    fill_csv(files.workbook_csv, decide({BOB_DEV: "left the team", DAVE_G1: ""}))
    decisions = read_decisions(files.campaign_json.parent, files.workbook_csv)
    assert len(decisions.decisions) == 6 and len(decisions.revoked) == 2 and len(decisions.kept) == 4
    assert decisions_to_changes(decisions) == EXPECTED_CHANGES


def test_xlsx_round_trip_to_a_change_set(files: CampaignFiles, campaign: Campaign) -> None:
    fill_xlsx(files.workbook_xlsx, {BOB_DEV: ("revoke", "left the team"), DAVE_G1: ("Revoke ", None)})
    decisions = read_decisions(campaign, files.workbook_xlsx)
    assert decisions_to_changes(decisions) == EXPECTED_CHANGES


def test_semicolon_csv_and_keep_only_gives_no_changes(files: CampaignFiles, tmp_path: Path) -> None:
    # Excel in many European locales saves CSV with ';'.
    fill_csv(files.workbook_csv, decide({}), delimiter=";")
    decisions = read_decisions(files.campaign_json.parent, files.workbook_csv)
    assert decisions_to_changes(decisions) == []
    recorded = record_decisions(decisions, files.campaign_json.parent)
    data = json.loads(recorded.read_text())
    assert data["counts"] == {"keep": 6, "revoke": 0, "remove_user": 0}
    assert data["campaign_id"] == "uar-2026-q1"


def _problems(files: CampaignFiles, workbook: Path) -> tuple[DecisionValidationError, list[str]]:
    with pytest.raises(DecisionValidationError) as caught:
        read_decisions(files.campaign_json.parent, workbook)
    return caught.value, [str(p) for p in caught.value.problems]


def test_every_problem_is_reported_at_once_with_line_numbers(files: CampaignFiles) -> None:
    def edit(rows: Rows) -> Rows:
        rows = decide({})(rows)
        rows[0]["decision"] = "maybe"  # line 2
        rows[1]["decision"] = ""  # line 3
        rows[2]["item_id"] = "role:nope:assigned:user:x@x.com"  # line 4 (and its item has no row)
        rows.append(dict(rows[3]))  # line 8 repeats line 5
        return rows

    fill_csv(files.workbook_csv, edit)
    error, problems = _problems(files, files.workbook_csv)
    assert isinstance(error, ValueError)
    assert problems[0].startswith("line 2: decision 'maybe' is not valid")
    assert problems[1].startswith("line 3: no decision for")
    assert problems[2].startswith("line 4: item_id 'role:nope:assigned:user:x@x.com' is not an item")
    assert problems[3].startswith("line 8: item ") and "first on line 5" in problems[3]
    assert problems[4].startswith("no row for ")
    assert len(problems) == 5
    assert [p.row for p in error.problems] == [2, 3, 4, 8, None]
    assert "5 problem(s)" in str(error) and "no decision was applied" in str(error)


def test_missing_column(files: CampaignFiles) -> None:
    def drop_decision(rows: Rows) -> Rows:
        return [{k: v for k, v in row.items() if k != "decision"} for row in rows]

    fill_csv(files.workbook_csv, drop_decision)
    _, problems = _problems(files, files.workbook_csv)
    assert len(problems) == 1 and "no 'decision' column" in problems[0]


def test_unquoted_comma_makes_a_malformed_row(files: CampaignFiles) -> None:
    fill_csv(files.workbook_csv, decide({}))
    lines = files.workbook_csv.read_text(encoding="utf-8-sig").splitlines()
    lines[2] = lines[2] + ",extra,values"
    files.workbook_csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, problems = _problems(files, files.workbook_csv)
    assert problems[0].startswith(f"line 3: has 2 value(s) beyond the {len(COLUMNS)} columns")
    assert problems[1].startswith("no row for ")


def test_xlsx_problems_name_spreadsheet_rows(files: CampaignFiles) -> None:
    from openpyxl import load_workbook

    fill_xlsx(files.workbook_xlsx, {ERIN_ADMIN: ("delete", "")})
    workbook = load_workbook(files.workbook_xlsx)
    sheet = workbook["review"]
    sheet.cell(3, COLUMNS.index("decision") + 1).value = None  # row 3: decision emptied
    workbook.save(files.workbook_xlsx)
    error, problems = _problems(files, files.workbook_xlsx)
    erin_row = next(d.row for d in error.problems if d.item_id == ERIN_ADMIN)
    assert any(p.startswith(f"row {erin_row}: decision 'delete' is not valid") for p in problems)
    assert any(p.startswith("row 3: no decision for") for p in problems)


def test_workbook_of_another_campaign_is_refused(
    files: CampaignFiles, campaign: Campaign, tmp_path: Path
) -> None:
    from dataclasses import replace

    other = write_campaign(replace(campaign, campaign_id="uar-other"), tmp_path / "other")
    fill_xlsx(other.workbook_xlsx, {})
    _, problems = _problems(files, other.workbook_xlsx)
    assert problems == [
        f"{other.workbook_xlsx.name} was written for campaign uar-other, not uar-2026-q1; "
        "use the workbook of this campaign"
    ]


def test_unreadable_files(files: CampaignFiles, tmp_path: Path) -> None:
    bad = tmp_path / "decisions.xlsx"
    bad.write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable XLSX"):
        read_decisions(files.campaign_json.parent, bad)
    with pytest.raises(ValueError, match=r"\.csv or \.xlsx"):
        (tmp_path / "x.txt").write_text("item_id,decision")
        read_decisions(files.campaign_json.parent, tmp_path / "x.txt")
