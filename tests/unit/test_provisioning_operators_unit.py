"""The provisioning operators' surface: arguments, templated fields, XCom shape (no Airflow DB)."""

from __future__ import annotations

import pytest

from airflow_provider_boomi.access.changes import APPLIED, ASSIGN_ROLE, ChangeResult
from airflow_provider_boomi.operators.provisioning import (
    BoomiAddGroupRoleOperator,
    BoomiApplyAccessChangesOperator,
    BoomiAssignRoleOperator,
    BoomiRemoveGroupRoleOperator,
    BoomiRevokeRoleOperator,
    _as_bool,
    _summary,
)


def test_arguments_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        BoomiRevokeRoleOperator("t", "a@b.example", "Auditor")  # type: ignore[misc]


def test_templated_fields() -> None:
    assign = BoomiAssignRoleOperator(task_id="a", user_id="a@b.example", role="Auditor")
    assert {"user_id", "role", "ledger_path", "is_dry_run", "reason"} <= set(assign.template_fields)
    group = BoomiRemoveGroupRoleOperator(
        task_id="g", user_id="a@b.example", account_group="Sandbox", role="X"
    )
    assert {"user_id", "role", "account_group"} <= set(group.template_fields)
    batch = BoomiApplyAccessChangesOperator(task_id="b", changes=[])
    assert {"changes", "changes_path", "ledger_path", "is_dry_run"} <= set(batch.template_fields)
    assert (
        assign.boomi_conn_id == "boomi_default" and assign.is_dry_run is False and assign.ledger_path is None
    )


def test_batch_needs_exactly_one_source_and_a_sane_limit() -> None:
    with pytest.raises(ValueError, match="changes_path"):
        BoomiApplyAccessChangesOperator(task_id="b")
    with pytest.raises(ValueError, match="not both"):
        BoomiApplyAccessChangesOperator(task_id="b", changes=[], changes_path="x.csv")
    with pytest.raises(ValueError, match="max_changes"):
        BoomiApplyAccessChangesOperator(task_id="b", changes=[], max_changes=0)


def test_batch_default_reason_fills_missing_reasons() -> None:
    op = BoomiApplyAccessChangesOperator(
        task_id="b",
        reason="UAR 2026-Q1",
        changes=[
            {"action": "revoke_role", "user_id": "a@b.example", "role": "Auditor"},
            {"action": "revoke_role", "user_id": "c@b.example", "role": "Auditor", "reason": "left team"},
        ],
    )
    assert [c.reason for c in op._build_changes()] == ["UAR 2026-Q1", "left team"]


def test_group_operator_builds_its_change() -> None:
    (change,) = BoomiAddGroupRoleOperator(
        task_id="g", user_id="a@b.example", account_group="Sandbox", role="Dev"
    )._build_changes()
    assert (change.action, change.account_group, change.role) == ("add_group_role", "Sandbox", "Dev")


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("False", False), ("true", True), ("", False)])
def test_rendered_flags(value: object, expected: bool) -> None:
    assert _as_bool(value, "dry_run") is expected


def test_rendered_flag_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="dry_run"):
        _as_bool("perhaps", "dry_run")


def test_summary_is_small_and_secret_free() -> None:
    result = ChangeResult(
        action_id="id",
        action=ASSIGN_ROLE,
        user_id="a@b.example",
        role_id="r",
        role_name="Auditor",
        account_group_id=None,
        account_group_name=None,
        dry_run=False,
        state_before="absent",
        outcome=APPLIED,
        side_effects=("invited new user a@b.example (with email)",),
    )
    summary = _summary([result, result], "/ledger", False)
    assert summary == {
        "outcomes": [
            {
                "action": ASSIGN_ROLE,
                "user_id": "a@b.example",
                "role_id": "r",
                "account_group_id": None,
                "outcome": APPLIED,
                "side_effects": ["invited new user a@b.example (with email)"],
                "error": None,
            }
        ]
        * 2,
        "counts": {APPLIED: 2},
        "ledger_path": "/ledger",
        "dry_run": False,
    }
