"""Review campaigns: items and flags, owners, the files written, the HTML report."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.review import (
    COLUMNS,
    Campaign,
    Owners,
    build_campaign,
    load_campaign,
    read_decisions,
    record_decisions,
    reviewer_slug,
    write_campaign,
)
from tests.unit import test_warehouse_snapshots as fx

S1, S2, S3 = fx.SYNC_IDS
BOB_DEV = fx.global_grant_id("bob@x.com", fx.DEV)
ALICE_ADMIN = fx.global_grant_id("alice@x.com", fx.ADMIN)
ERIN_ADMIN = fx.global_grant_id("erin@x.com", fx.ADMIN)
CAROL_G1 = fx.group_grant_id("carol@x.com", fx.G1, fx.DEV)
DAVE_G1 = fx.group_grant_id("dave@x.com", fx.G1, fx.ADMIN)
DAVE_STD = fx.global_grant_id("dave@x.com", fx.STANDARD)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    return fx.build_store(tmp_path_factory.mktemp("review-store"))


def test_one_item_per_grant_with_flags(store: SnapshotStore) -> None:
    campaign = build_campaign(store, fx.ACCOUNT)
    assert campaign.sync_id == S3 and campaign.campaign_id == f"uar-{fx.ACCOUNT}-{S3}"
    items = {i.item_id: i for i in campaign.items}
    assert set(items) == {BOB_DEV, ALICE_ADMIN, ERIN_ADMIN, CAROL_G1, DAVE_G1, DAVE_STD}
    # Without earlier campaigns: new = added since the previous snapshot; all never reviewed.
    assert {i for i, item in items.items() if item.is_new} == {BOB_DEV}
    assert all(item.never_reviewed for item in items.values())
    assert {i for i, item in items.items() if item.is_privileged} == {ALICE_ADMIN, ERIN_ADMIN, DAVE_G1}
    # Dave also holds Standard User globally: only Carol's access is through groups alone.
    assert {i for i, item in items.items() if item.only_via_group} == {CAROL_G1}
    carol = items[CAROL_G1]
    assert (carol.grant_kind, carol.account_group_name, carol.role_name, carol.name, carol.email) == (
        "group_role",
        "EU Accounts",
        "Developer",
        "Carol Doe",
        "carol@x.com",
    )
    assert [c["grant_id"] for c in campaign.changes if c["change_type"] == "removed"] == [
        fx.global_grant_id("alice@x.com", fx.DEV)
    ]
    assert campaign.previous_sync_id == S2
    assert campaign.summary()["items"] == 6


def test_first_snapshot_marks_everything_new_and_lists_no_changes(store: SnapshotStore) -> None:
    campaign = build_campaign(store.path, fx.ACCOUNT, S1)
    assert all(item.is_new for item in campaign.items)
    assert campaign.changes == () and campaign.previous_sync_id is None


def test_previous_campaigns_define_new_and_never_reviewed(store: SnapshotStore, tmp_path: Path) -> None:
    history = tmp_path / "campaigns"
    earlier = build_campaign(store, fx.ACCOUNT, S2)
    files = write_campaign(earlier, history / earlier.campaign_id)
    # The earlier campaign was decided: everything kept.
    rows = list(csv.DictReader(files.workbook_csv.open(encoding="utf-8-sig")))
    with files.workbook_csv.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows({**r, "decision": "keep"} for r in rows)
    record_decisions(
        read_decisions(history / earlier.campaign_id, files.workbook_csv), history / earlier.campaign_id
    )
    # A campaign of another account in the same folder is ignored.
    other = Campaign(
        campaign_id="other",
        account_id="other-account",
        sync_id=S1,
        synced_at=fx.TIMES[0],
        created_at=fx.TIMES[0],
        items=(),
    )
    write_campaign(other, history / "other")

    campaign = build_campaign(store, fx.ACCOUNT, S3, previous_campaign_dir=history)
    assert campaign.previous_campaign_id == earlier.campaign_id
    items = {i.item_id: i for i in campaign.items}
    assert {i for i, item in items.items() if item.is_new} == {BOB_DEV}
    assert {i for i, item in items.items() if item.never_reviewed} == {BOB_DEV}
    # Pointing at the one campaign directory works too.
    again = build_campaign(store, fx.ACCOUNT, S3, previous_campaign_dir=history / earlier.campaign_id)
    assert {i.item_id for i in again.items if i.never_reviewed} == {BOB_DEV}


def test_owners_mapping_and_default_reviewer(store: SnapshotStore) -> None:
    campaign = build_campaign(
        store,
        fx.ACCOUNT,
        owners={"eu accounts": "eu-owner@x.com", "Administrator": "security@x.com", fx.DEV: "dev-lead@x.com"},
        default_reviewer="it@x.com",
    )
    reviewers = {i.item_id: i.reviewer for i in campaign.items}
    assert reviewers == {
        ALICE_ADMIN: "security@x.com",
        ERIN_ADMIN: "security@x.com",
        BOB_DEV: "dev-lead@x.com",
        # The group's owner decides over the role's owner for group grants ...
        CAROL_G1: "eu-owner@x.com",
        # ... except for a privileged role, whose owner wins (privileged_role_first).
        DAVE_G1: "security@x.com",
        DAVE_STD: "it@x.com",
    }
    group_first = build_campaign(
        store,
        fx.ACCOUNT,
        owners={"eu accounts": "eu-owner@x.com", "Administrator": "security@x.com"},
        owner_precedence="group_first",
    )
    assert {i.item_id: i.reviewer for i in group_first.items}[DAVE_G1] == "eu-owner@x.com"
    role_first = build_campaign(
        store,
        fx.ACCOUNT,
        owners={"eu accounts": "eu-owner@x.com", fx.DEV: "dev-lead@x.com"},
        owner_precedence="role_first",
    )
    assert {i.item_id: i.reviewer for i in role_first.items}[CAROL_G1] == "dev-lead@x.com"
    with pytest.raises(ValueError, match="owner_precedence must be one of group_first, role_first"):
        build_campaign(store, fx.ACCOUNT, owner_precedence="owner_first")


def test_owners_precedence_and_prefixes() -> None:
    owners = Owners({"group:Ops": "group-owner@x.com", "role:Ops": "role-owner@x.com", "r1": "r1@x.com"})
    assert owners.reviewer_for(role_id="x", role_name="Ops") == "role-owner@x.com"
    # A group grant of an ordinary role: the group's owner; of a privileged role (the default
    # assumption when unknown): the role's owner (privileged_role_first).
    assert owners.reviewer_for(
        role_id="r1", role_name="Ops", account_group_id="g", account_group_name="ops", is_privileged=False
    ) == ("group-owner@x.com")
    assert (
        owners.reviewer_for(role_id="r1", role_name="Ops", account_group_id="g", account_group_name="ops")
        == "r1@x.com"
    )
    assert owners.reviewer_for(role_id="r1", role_name=None, account_group_id="g9") == "r1@x.com"
    assert owners.reviewer_for(role_id="nobody", role_name=None) is None
    with pytest.raises(ValueError, match="two keys"):
        Owners({"Admin": "a@x.com", "admin": "b@x.com"})
    with pytest.raises(ValueError, match="empty"):
        Owners({"Admin": " "})


def test_files_are_written_and_readable(store: SnapshotStore, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    campaign = build_campaign(store, fx.ACCOUNT, default_reviewer="it@x.com")
    files = write_campaign(campaign, tmp_path / "out")
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        files.workbook_csv.name,
        files.workbook_xlsx.name,
        files.report_html.name,
        "campaign.json",
        "reviewers",
    }
    assert files.reviewer_workbooks == {
        "it@x.com": tmp_path / "out" / "reviewers" / f"{reviewer_slug('it@x.com')}.xlsx"
    }
    assert files.unassigned_workbook is None

    rows = list(csv.DictReader(files.workbook_csv.open(encoding="utf-8-sig")))
    assert list(rows[0]) == list(COLUMNS)
    assert [r["item_id"] for r in rows] == [i.item_id for i in campaign.items]
    carol = next(r for r in rows if r["item_id"] == CAROL_G1)
    assert (carol["group"], carol["only_via_group"], carol["decision"], carol["reviewer"]) == (
        "EU Accounts",
        "true",
        "",
        "it@x.com",
    )

    workbook = load_workbook(files.workbook_xlsx)
    sheet = workbook["review"]
    assert [c.value for c in sheet[1]] == list(COLUMNS)
    assert sheet.max_row == len(campaign.items) + 1
    assert sheet.freeze_panes == "B2"
    assert sheet.column_dimensions["A"].width == 40
    (validation,) = sheet.data_validations.dataValidation
    assert validation.type == "list" and validation.formula1 == '"keep,revoke,remove_user"'
    decision_col = "Q"  # after the flags and the findings column
    assert sheet[f"{decision_col}1"].value == "decision"
    assert str(validation.sqref) == f"{decision_col}2:{decision_col}{len(campaign.items) + 1}"

    meta = json.loads(files.campaign_json.read_text())
    assert (meta["campaign_id"], meta["account_id"], meta["sync_id"], meta["item_count"]) == (
        campaign.campaign_id,
        fx.ACCOUNT,
        S3,
        6,
    )
    assert set(meta["files"]) == {"workbook_csv", "workbook_xlsx", "report_html"}
    assert meta["reviewer_workbooks"]["it@x.com"]["name"] == f"reviewers/{reviewer_slug('it@x.com')}.xlsx"
    assert meta["files"]["workbook_csv"]["name"] == files.workbook_csv.name
    assert all(re.fullmatch(r"[0-9a-f]{64}", f["sha256"]) for f in meta["files"].values())
    assert load_campaign(tmp_path / "out") == campaign


def test_names_that_look_like_formulas_stay_text(store: SnapshotStore, tmp_path: Path) -> None:
    from dataclasses import replace

    from openpyxl import load_workbook

    campaign = build_campaign(store, fx.ACCOUNT)
    hostile = replace(campaign.items[0], name='=HYPERLINK("http://evil","x")')
    campaign = replace(campaign, items=(hostile, *campaign.items[1:]))
    files = write_campaign(campaign, tmp_path)
    row = next(csv.DictReader(files.workbook_csv.open(encoding="utf-8-sig")))
    assert row["name"].startswith("'=")
    cell = load_workbook(files.workbook_xlsx)["review"]["E2"]
    assert cell.data_type == "s" and cell.value == hostile.name


def test_html_report_is_self_contained(store: SnapshotStore, tmp_path: Path) -> None:
    campaign = build_campaign(store, fx.ACCOUNT, owners={"Administrator": "security@x.com"})
    html = write_campaign(campaign, tmp_path).report_html.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert "<style>" in html and html.count("<svg") == 2
    assert "Grants by role" in html and "Grants by account group" in html
    # Summary, changes since the last snapshot, privileged access.
    assert '<div class="n">6</div><div class="l">review items</div>' in html
    assert "1 added, 1 removed" in html and "alice@x.com" in html
    assert "Privileged access" in html and "security@x.com" in html
    # Bars: Administrator, Developer, Standard User by role; EU Accounts by group.
    assert html.count("<rect") == 4
    assert ">Administrator</text>" in html and ">EU Accounts</text>" in html
