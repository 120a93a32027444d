"""Offboarding without a network: the change model, its validation, the review decision
``remove_user``, the operator's arguments and the simulator's model of a user leaving."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from airflow_provider_boomi.access.changes import (
    ACTIONS,
    APPLIED,
    OFFBOARD_USER,
    REVOKE_ROLE,
    AccessChange,
    ChangeResult,
    changes_from_records,
    load_changes,
)
from airflow_provider_boomi.access.provisioning import ProvisioningOptions
from airflow_provider_boomi.access.validation import ProvisioningInputError, validate_changes
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.operators.provisioning import (
    BoomiOffboardUserOperator,
    change_plan_markdown,
)
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
from airflow_provider_boomi.review.decisions import load_recorded_decisions
from airflow_provider_boomi.review.workbook import DECISION_VALUES, REMOVE_USER, REVOKING_DECISIONS
from airflow_provider_boomi.testing.simulator.state import STANDARD_USER_ID, SimulatorState
from tests.unit import test_warehouse_snapshots as fx

DAVE = "dave@x.com"
DAVE_STANDARD = fx.global_grant_id(DAVE, fx.STANDARD)
DAVE_G1 = fx.group_grant_id(DAVE, fx.G1, fx.ADMIN)
BOB_DEV = fx.global_grant_id("bob@x.com", fx.DEV)


# --- the change -----------------------------------------------------------------------------------


def test_offboard_user_is_an_action_that_names_only_the_user() -> None:
    assert OFFBOARD_USER in ACTIONS
    change = AccessChange(OFFBOARD_USER, "dana@acme.example", reason="left")
    assert change.role == "" and change.describe() == "offboard_user dana@acme.example"
    validate_changes([change])
    loaded = changes_from_records(
        [{"action": "OFFBOARD_USER", "user_id": " dana@acme.example ", "reason": "x"}]
    )
    assert loaded == [AccessChange(OFFBOARD_USER, "dana@acme.example", reason="x")]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"role": "Auditor"}, "takes no role (got 'Auditor')"),
        ({"account_group": "EMEA"}, "takes no account group (got 'EMEA')"),
        ({"user_id": "dana"}, "is not an email address"),
    ],
)
def test_an_offboarding_with_a_role_a_group_or_a_bad_email_is_refused(
    record: dict[str, str], message: str
) -> None:
    change = changes_from_records([{"action": OFFBOARD_USER, "user_id": "dana@acme.example", **record}])
    with pytest.raises(ProvisioningInputError, match="nothing was sent to Boomi") as caught:
        validate_changes(change)
    assert message in str(caught.value)


def test_an_offboarding_must_be_the_only_change_of_its_user() -> None:
    changes = [
        AccessChange(REVOKE_ROLE, "Dana@acme.example", "Auditor"),
        AccessChange(OFFBOARD_USER, "dana@acme.example"),
        AccessChange(REVOKE_ROLE, "other@acme.example", "Auditor"),
    ]
    with pytest.raises(ProvisioningInputError) as caught:
        validate_changes(changes)
    assert caught.value.problems == [
        "change #2: offboard_user for 'dana@acme.example' removes every grant of the user, and change(s) "
        "#1 change the same user in this batch; keep only the offboard_user change (or only the others)"
    ]
    with pytest.raises(ProvisioningInputError, match="change\\(s\\) #1"):
        validate_changes(
            [AccessChange(OFFBOARD_USER, "a@b.example"), AccessChange(OFFBOARD_USER, "A@b.example")]
        )


def test_removals_are_not_allowed_by_default() -> None:
    assert ProvisioningOptions().allow_user_removal is False


def test_the_summary_of_an_offboarding_carries_its_grants_and_sub_accounts() -> None:
    grant = ChangeResult(
        "g", REVOKE_ROLE, "a@b.example", "r", "Auditor", None, None, False, "present", APPLIED
    )
    result = ChangeResult(
        "s", OFFBOARD_USER, "a@b.example", None, None, None, None, False, "present", APPLIED,
        grants=(grant,), sub_accounts=("acme-sub1",),
    )  # fmt: skip
    summary = result.summary()
    assert summary["grants"] == [grant.summary()] and summary["sub_accounts"] == ["acme-sub1"]
    assert "grants" not in grant.summary()  # other actions keep their shape


def test_a_change_file_with_offboardings_loads(tmp_path: Path) -> None:
    path = tmp_path / "changes.json"
    path.write_text(
        json.dumps({"changes": [{"action": OFFBOARD_USER, "user_id": "a@b.example", "extra": 1}]})
    )
    assert load_changes(str(path)) == [AccessChange(OFFBOARD_USER, "a@b.example")]


# --- the operator -----------------------------------------------------------------------------------


def test_the_offboarding_operator_builds_one_change_and_renders_its_flag() -> None:
    op = BoomiOffboardUserOperator(
        task_id="off", user_id="a@b.example", reason="HR-1", allow_user_removal="{{ x }}"
    )
    assert op._build_changes() == [AccessChange(OFFBOARD_USER, "a@b.example", reason="HR-1")]
    assert "allow_user_removal" in op.template_fields and "user_id" in op.template_fields


def test_the_approval_body_says_what_an_offboarding_removes() -> None:
    plan = {
        "counts": {"planned": 1},
        "outcomes": [
            {
                "action": OFFBOARD_USER,
                "user_id": "a@b.example",
                "role_id": None,
                "account_group_id": None,
                "outcome": "planned",
                "grants": [{"account_group_id": None}, {"account_group_id": None}, {"account_group_id": "g"}],
                "sub_accounts": ["acme-sub1"],
            }
        ],
    }
    body = change_plan_markdown(plan)
    # Escaped for Markdown, as every cell is.
    assert "| every role\\: 2 global\\, 1 in groups | acme\\-sub1 | planned |" in body


# --- the review decision ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    store: SnapshotStore = fx.build_store(tmp_path_factory.mktemp("offboarding-store"))
    return build_campaign(store, fx.ACCOUNT, campaign_id="uar-2026-q2")


@pytest.fixture
def files(campaign: Campaign, tmp_path: Path) -> CampaignFiles:
    return write_campaign(campaign, tmp_path / "campaign")


def _fill(path: Path, decided: dict[str, tuple[str, str]]) -> Path:
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    for row in rows:
        row["decision"], row["comment"] = decided.get(row["item_id"], ("keep", ""))
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_remove_user_is_a_decision_value_that_takes_the_grant_away() -> None:
    assert REMOVE_USER in DECISION_VALUES and REMOVE_USER in REVOKING_DECISIONS


def test_remove_user_makes_one_offboarding_and_supersedes_the_users_other_decisions(
    files: CampaignFiles,
) -> None:
    _fill(
        files.workbook_csv,
        {
            DAVE_G1: ("Remove_User", " left the company "),
            DAVE_STANDARD: ("revoke", ""),
            BOB_DEV: ("revoke", "x"),
        },
    )
    decisions = read_decisions(files.campaign_json.parent, files.workbook_csv)
    changes = decisions_to_changes(decisions)
    assert [c["action"] for c in changes] == [REVOKE_ROLE, OFFBOARD_USER] or [
        c["action"] for c in changes
    ] == [
        OFFBOARD_USER,
        REVOKE_ROLE,
    ]
    offboard = next(c for c in changes if c["action"] == OFFBOARD_USER)
    assert offboard == {
        "action": OFFBOARD_USER,
        "user_id": DAVE,
        "role_id": None,
        "account_group_id": None,
        "reason": (
            "access review uar-2026-q2: remove user (decided on 1 item(s)): left the company; "
            f"supersedes revoke on {DAVE_STANDARD}"
        ),
    }
    assert [c["user_id"] for c in changes if c["action"] == REVOKE_ROLE] == ["bob@x.com"]
    assert [d.item.item_id for d in decisions.superseded] == [DAVE_STANDARD]
    assert [d.item.item_id for d in decisions.removed_users] == [DAVE_G1]
    # The change set loads and validates as the apply operator will read it.
    validate_changes(changes_from_records(changes))


def test_a_superseded_keep_is_named_and_logged(
    files: CampaignFiles, caplog: pytest.LogCaptureFixture
) -> None:
    _fill(files.workbook_csv, {DAVE_G1: ("remove_user", ""), DAVE_STANDARD: ("keep", "")})
    changes = decisions_to_changes(read_decisions(files.campaign_json.parent, files.workbook_csv))
    assert changes[0]["reason"] == (
        f"access review uar-2026-q2: remove user (decided on 1 item(s)); supersedes keep on {DAVE_STANDARD}"
    )
    assert "is superseded: the same workbook removes dave@x.com" in caplog.text


def test_remove_user_is_recorded_and_read_back(files: CampaignFiles) -> None:
    _fill(files.workbook_csv, {DAVE_G1: ("remove_user", "gone")})
    decisions = read_decisions(files.campaign_json.parent, files.workbook_csv)
    recorded = record_decisions(decisions, files.campaign_json.parent)
    assert json.loads(Path(recorded).read_text())["counts"][REMOVE_USER] == 1
    loaded = load_recorded_decisions(files.campaign_json.parent)
    assert [d.decision for d in loaded if d.item.item_id == DAVE_G1] == [REMOVE_USER]


def test_an_unknown_decision_names_every_value(files: CampaignFiles) -> None:
    _fill(files.workbook_csv, {DAVE_G1: ("offboard", "")})
    with pytest.raises(DecisionValidationError, match="use keep, revoke or remove_user"):
        read_decisions(files.campaign_json.parent, files.workbook_csv)


def test_the_reviewer_workbook_offers_remove_user(campaign: Campaign, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    written = write_campaign(campaign, tmp_path / "campaign")
    sheet = load_workbook(written.workbook_xlsx)["review"]
    formulas = [v.formula1 for v in sheet.data_validations.dataValidation]
    assert formulas == ['"keep,revoke,remove_user"']


# --- the simulator's model of a user leaving the account ---------------------------------------------


def _state(mode: str) -> SimulatorState:
    state = SimulatorState("acme-X", "Acme", group_roles_on_removal=mode)
    state.add_role("Standard User", [], role_id=STANDARD_USER_ID, account_id="1")
    developer = state.add_role("Developer", ["BUILD"])["id"]
    group = state.add_account_group("EMEA")["id"]
    state.add_user("dana@acme.example", "Dana", "Lee")
    state.grant_role("dana@acme.example", STANDARD_USER_ID)
    state.grant_role("dana@acme.example", developer)
    state.add_group_role(group, "dana@acme.example", developer)
    return state


@pytest.mark.parametrize(("mode", "group_rows_left"), [("kept", 1), ("removed", 0)])
def test_deleting_the_last_global_role_takes_the_user_out_of_the_account(
    mode: str, group_rows_left: int
) -> None:
    state = _state(mode)
    rows = state.user_roles()
    state.delete_user_role(rows[0]["id"])
    assert len(state.group_roles()) == 1  # not the last global role yet: group rows stay
    state.delete_user_role(rows[1]["id"])
    assert len(state.group_roles()) == group_rows_left
    assert [u["inAccount"] for u in state.users()] == [False]  # the directory keeps the user


def test_the_removal_mode_is_checked() -> None:
    with pytest.raises(ValueError, match="group_roles_on_removal must be one of"):
        SimulatorState("acme-X", "Acme", group_roles_on_removal="dropped")
    state = _state("kept")
    with pytest.raises(ValueError, match="group_roles_on_removal"):
        state.group_roles_on_removal = "maybe"
