"""Campaign definitions, self-review routing, per-reviewer workbooks, attested decisions,
per-reviewer records and the campaign status (issue 13, items 1 and 2)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.review import (
    Campaign,
    CampaignDefinition,
    DecisionValidationError,
    build_campaign,
    campaign_status,
    load_recorded_decisions,
    read_decisions,
    record_decisions,
    reviewer_slug,
    write_campaign,
)
from airflow_provider_boomi.review.workbook import TOKEN_NAME
from tests.unit import test_warehouse_snapshots as fx
from tests.unit.test_review_campaign import ALICE_ADMIN, BOB_DEV, CAROL_G1, DAVE_G1, DAVE_STD, ERIN_ADMIN

SECRET = "unit-test-attestation-secret-0123"
# The snapshots' last sync finished at fx.TIMES[-1]; campaigns start soon after.
START = fx.TIMES[-1] + timedelta(hours=1)
DEFINITION: dict[str, Any] = {
    "name": "quarterly-uar",
    "owners": {"Administrator": "alice@x.com", "EU Accounts": "eu-owner@x.com", fx.DEV: "dev-lead@x.com"},
    "default_reviewer": "it@x.com",
    "fallback_reviewer": "ciso@x.com",
    "due_in_days": 10,
    "cadence": "quarterly",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    return fx.build_store(tmp_path_factory.mktemp("reviewers-store"))


@pytest.fixture
def campaign(store: SnapshotStore) -> Campaign:
    return build_campaign(store, fx.ACCOUNT, definition=DEFINITION, created_at=START)


def test_definition_from_params_with_clear_errors() -> None:
    definition = CampaignDefinition.from_mapping(
        {
            **DEFINITION,
            "account_ids": f"{fx.ACCOUNT}, other-1",
            "kinds": ["global_role"],
            "only_privileged": "yes",
        }
    )
    assert definition.account_ids == (fx.ACCOUNT, "other-1") and definition.kinds == ("user_role",)
    assert definition.only_privileged and definition.require_attestation
    assert CampaignDefinition.from_mapping(definition.to_dict()) == definition
    with pytest.raises(ValueError, match="unknown key\\(s\\) 'ownres'"):
        CampaignDefinition.from_mapping({"name": "q", "ownres": {}})
    with pytest.raises(ValueError) as caught:
        CampaignDefinition.from_mapping(
            {
                "name": "q",
                "kinds": "roles",
                "due_in_days": "soon",
                "owner_precedence": "x",
                "account_ids": ["../x"],
            }
        )
    message = str(caught.value)
    assert "due_in_days must be a number, got 'soon'" in message
    with pytest.raises(ValueError) as caught:
        CampaignDefinition.from_mapping(
            {"name": "q", "kinds": "roles", "owner_precedence": "x", "account_ids": ["../x"]}
        )
    message = str(caught.value)
    assert "kinds has 'roles'" in message and "owner_precedence must be one of" in message
    assert "account_ids:" in message
    with pytest.raises(ValueError, match="max_snapshot_age_hours must be a number of hours above 0"):
        CampaignDefinition(name="q", max_snapshot_age_hours=0)
    with pytest.raises(ValueError, match="name is missing"):
        CampaignDefinition.from_mapping({"cadence": "quarterly"})


def test_definition_scope_due_date_and_self_review_routing(campaign: Campaign, store: SnapshotStore) -> None:
    assert campaign.campaign_id == f"quarterly-uar-{fx.ACCOUNT}-{fx.SYNC_IDS[-1]}"
    assert campaign.due_date == START.date() + timedelta(days=10)
    assert campaign.definition is not None and campaign.definition["cadence"] == "quarterly"
    reviewers = {i.item_id: (i.reviewer, i.routed_from) for i in campaign.items}
    # Alice owns Administrator: her own grant goes to the fallback, Erin's stays with her.
    assert reviewers[ALICE_ADMIN] == ("ciso@x.com", "alice@x.com")
    assert reviewers[ERIN_ADMIN] == ("alice@x.com", None)
    # A privileged role held through a group: the role's owner wins over the group's.
    assert reviewers[DAVE_G1] == ("alice@x.com", None)
    assert reviewers[CAROL_G1] == ("eu-owner@x.com", None)
    assert reviewers[BOB_DEV] == ("dev-lead@x.com", None)
    assert reviewers[DAVE_STD] == ("it@x.com", None)
    assert campaign.summary()["self_reviews_rerouted"] == 1

    # When the fallback is the user too, the item has no reviewer: counted, loudly.
    stranded = build_campaign(
        store, fx.ACCOUNT, definition={**DEFINITION, "fallback_reviewer": "ALICE@x.com"}, created_at=START
    )
    alice = stranded.item(ALICE_ADMIN)
    assert (alice.reviewer, alice.routed_from) == (None, "alice@x.com")
    assert stranded.summary()["self_reviews_without_reviewer"] == 1

    only = build_campaign(
        store,
        fx.ACCOUNT,
        definition={**DEFINITION, "kinds": ["group_role"], "only_privileged": True},
        created_at=START,
    )
    assert {i.item_id for i in only.items} == {DAVE_G1}
    with pytest.raises(ValueError, match="put them in the definition"):
        build_campaign(store, fx.ACCOUNT, definition=DEFINITION, owners={"x": "y@x.com"})
    with pytest.raises(ValueError, match="is not one of the accounts"):
        build_campaign(store, fx.ACCOUNT, definition={**DEFINITION, "account_ids": ["other-1"]})


def _fill(path: Path, decide: dict[str, str], out: Path, token: str | None = None) -> Path:
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    sheet = workbook["Review"]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        row[header.index("decision")].value = decide.get(row[header.index("item_id")].value, "keep")
    if token is not None:
        ((title, ref),) = list(workbook.defined_names[TOKEN_NAME].destinations)
        workbook[title][ref.replace("$", "")].value = token
    workbook.save(out)
    return out


def test_reviewer_workbooks_tokens_and_attested_records(campaign: Campaign, tmp_path: Path) -> None:
    folder = tmp_path / campaign.campaign_id
    files = write_campaign(campaign, folder, secret=SECRET)
    assert set(files.reviewer_workbooks) == {
        "alice@x.com",
        "ciso@x.com",
        "dev-lead@x.com",
        "eu-owner@x.com",
        "it@x.com",
    }
    assert files.unassigned_workbook is None
    alice_book = Path(files.reviewer_workbooks["alice@x.com"])
    assert alice_book == folder / "reviewers" / f"{reviewer_slug('alice@x.com')}.xlsx"

    accepted = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    filled = _fill(alice_book, {ERIN_ADMIN: "revoke"}, tmp_path / "alice.xlsx")
    decisions = read_decisions(folder, filled, secret=SECRET, now=accepted)
    assert (decisions.reviewer, decisions.attested_by, decisions.decided_at) == (
        "alice@x.com",
        "token",
        accepted,
    )
    assert {d.item.item_id for d in decisions.decisions} == {ERIN_ADMIN, DAVE_G1}
    assert [d.item.item_id for d in decisions.revoked] == [ERIN_ADMIN]
    assert all(d.reviewer == "alice@x.com" and d.decided_at == accepted for d in decisions.decisions)
    first = record_decisions(decisions, folder)
    assert first == folder / "decisions" / f"{reviewer_slug('alice@x.com')}.json"

    # The same reviewer returns again: only their record is replaced.
    it_book = Path(files.reviewer_workbooks["it@x.com"])
    record_decisions(read_decisions(folder, _fill(it_book, {}, tmp_path / "it.xlsx"), secret=SECRET), folder)
    again = read_decisions(folder, _fill(alice_book, {}, tmp_path / "alice2.xlsx"), secret=SECRET)
    record_decisions(again, folder)
    assert sorted(p.name for p in (folder / "decisions").iterdir()) == sorted(
        f"{reviewer_slug(r)}.json" for r in ("alice@x.com", "it@x.com")
    )
    assert json.loads(first.read_text())["counts"] == {"keep": 2, "revoke": 0, "remove_user": 0}
    recorded = load_recorded_decisions(folder)
    assert {d.item.item_id for d in recorded} == {ERIN_ADMIN, DAVE_G1, DAVE_STD}
    assert {d.attested_by for d in recorded} == {"token"}

    # Identity from the authenticated Airflow user (a HITL responded_by_user mapping).
    by_user = read_decisions(
        folder, _fill(it_book, {}, tmp_path / "it2.xlsx"), reviewer={"id": "7", "name": "IT@x.com"}
    )
    assert (by_user.reviewer, by_user.attested_by) == ("IT@x.com", "airflow_user")
    with pytest.raises(
        DecisionValidationError, match=re.escape("is the workbook of 'it@x.com', but the authenticated")
    ):
        read_decisions(folder, _fill(it_book, {}, tmp_path / "it3.xlsx"), reviewer="alice@x.com")
    # Neither: refused, unless explicitly allowed (then recorded without a reviewer).
    with pytest.raises(DecisionValidationError, match="no secret was given to verify it"):
        read_decisions(folder, _fill(it_book, {}, tmp_path / "it4.xlsx"))
    unproven = read_decisions(folder, _fill(it_book, {}, tmp_path / "it5.xlsx"), require_attestation=False)
    assert unproven.reviewer is None and unproven.record_name == f"decisions/{reviewer_slug('it@x.com')}.json"


def test_a_token_copied_into_another_reviewers_workbook_is_refused(
    campaign: Campaign, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    folder = tmp_path / campaign.campaign_id
    files = write_campaign(campaign, folder, secret=SECRET)
    alice_book = load_workbook(files.reviewer_workbooks["alice@x.com"])
    ((title, ref),) = list(alice_book.defined_names[TOKEN_NAME].destinations)
    alice_token = alice_book[title][ref.replace("$", "")].value
    # Bob's owner pastes Alice's token into their own workbook to decide as Alice.
    forged = _fill(
        Path(files.reviewer_workbooks["dev-lead@x.com"]),
        {BOB_DEV: "revoke"},
        tmp_path / "d.xlsx",
        alice_token,
    )
    with pytest.raises(DecisionValidationError) as caught:
        read_decisions(folder, forged, secret=SECRET)
    text = str(caught.value)
    assert "names reviewer 'dev-lead@x.com' but its attestation token was issued to alice@x.com" in text
    assert f"item {BOB_DEV}" in text and "is reviewed by dev-lead@x.com, not by alice@x.com" in text


def test_legacy_all_items_workbook_and_required_attestation(
    store: SnapshotStore, campaign: Campaign, tmp_path: Path
) -> None:
    from tests.unit.test_review_decisions import decide, fill_csv

    # A definition's campaign requires proof even for the all-items workbook.
    files = write_campaign(campaign, tmp_path / "q")
    fill_csv(files.workbook_csv, decide({}))
    with pytest.raises(DecisionValidationError, match="a CSV cannot hold an attestation token"):
        read_decisions(tmp_path / "q", files.workbook_csv)
    # One reviewer answering with it: only their rows may be in it.
    with pytest.raises(
        DecisionValidationError, match=re.escape("is reviewed by it@x.com, not by alice@x.com")
    ):
        read_decisions(tmp_path / "q", files.workbook_csv, reviewer="alice@x.com")
    legacy = build_campaign(store, fx.ACCOUNT, default_reviewer="it@x.com")
    old = write_campaign(legacy, tmp_path / "old")
    fill_csv(old.workbook_csv, decide({}))
    decisions = read_decisions(tmp_path / "old", old.workbook_csv)
    assert decisions.reviewer is None and decisions.record_name == "decisions.json"


def test_status_per_reviewer_and_the_report(campaign: Campaign, tmp_path: Path) -> None:
    folder = tmp_path / campaign.campaign_id
    files = write_campaign(campaign, folder, secret=SECRET)
    report = Path(files.report_html).read_text(encoding="utf-8")
    assert "Status" in report and "quarterly" in report and campaign.due_date.isoformat() in report
    assert "Self-reviews routed away" in report and "ciso@x.com" in report

    book = Path(files.reviewer_workbooks["alice@x.com"])
    record_decisions(read_decisions(folder, _fill(book, {}, tmp_path / "a.xlsx"), secret=SECRET), folder)
    assert campaign.due_date is not None
    on_time = campaign_status(folder, datetime.combine(campaign.due_date, datetime.min.time(), UTC))
    by = {r.reviewer: r for r in on_time.reviewers}
    assert (by["alice@x.com"].state, by["alice@x.com"].decided, by["alice@x.com"].pending) == (
        "decided",
        2,
        0,
    )
    assert (by["it@x.com"].state, by["it@x.com"].overdue) == ("pending", 0)
    late = campaign_status(
        folder, datetime.combine(campaign.due_date + timedelta(days=1), datetime.min.time(), UTC)
    )
    assert {r.reviewer: r.state for r in late.reviewers}["it@x.com"] == "overdue"
    assert late.to_dict()["totals"] == {"items": 6, "decided": 2, "pending": 4, "overdue": 4}


def test_reviewer_slugs_stay_in_the_folder_and_never_collide() -> None:
    hostile = [
        "../../etc/passwd",
        "a+b@x.com",
        "a-b@x.com",
        "A-B@X.com",
        "\u202eevil@x.com",
        "unassigned",
        "." * 300,
    ]
    slugs = [reviewer_slug(r) for r in hostile]
    assert all("/" not in s and not s.startswith(".") and len(s) <= 80 for s in slugs)
    assert slugs[2] == slugs[3], "one reviewer whatever the case"
    assert len(set(slugs)) == len(slugs) - 1 and reviewer_slug(None) == "unassigned" not in slugs


def test_the_evidence_bundle_carries_each_reviewers_record(
    store: SnapshotStore, campaign: Campaign, tmp_path: Path
) -> None:
    from airflow_provider_boomi.review import write_evidence_bundle

    folder = tmp_path / campaign.campaign_id
    files = write_campaign(campaign, folder, secret=SECRET)
    filled = _fill(Path(files.reviewer_workbooks["alice@x.com"]), {}, tmp_path / "alice.xlsx")
    record_decisions(read_decisions(folder, filled, secret=SECRET), folder)
    bundle = write_evidence_bundle(
        tmp_path / "evidence",
        campaign_dir=folder,
        workbook_path=filled,
        changes=[],
        verification=None,
        ledger_path=None,
        run_id="run-1",
        snapshot_root=store.path,
    )
    index = json.loads(Path(bundle["index"]).read_text())
    name = f"decisions/{reviewer_slug('alice@x.com')}.json"
    assert name in {f["path"] for f in index["files"]}
    assert json.loads((Path(bundle["bundle_dir"]) / name).read_text())["attested_by"] == "token"
