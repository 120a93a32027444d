"""The provisioning operators' surface: arguments, templated fields, XCom shape (no Airflow DB)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_boomi._rules import parse_bool
from airflow_provider_boomi.access.changes import APPLIED, ASSIGN_ROLE, ChangeResult
from airflow_provider_boomi.operators.provisioning import (
    BoomiAddGroupRoleOperator,
    BoomiApplyAccessChangesOperator,
    BoomiAssignRoleOperator,
    BoomiRemoveGroupRoleOperator,
    BoomiRevokeRoleOperator,
    _summary,
)


def test_arguments_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        BoomiRevokeRoleOperator("t", "a@b.example", "Auditor")  # type: ignore[misc]


def test_templated_fields_render_into_the_changes(tmp_path: Path) -> None:
    """What a DAG templates reaches the change the operator applies (not just the field list)."""
    params = {"user": "u@b.example", "role": "Auditor", "dry": True, "why": "UAR 2026-Q1", "group": "Sandbox"}
    assign = BoomiAssignRoleOperator(
        task_id="a",
        user_id="{{ params.user }}",
        role="{{ params.role }}",
        dry_run="{{ params.dry }}",
        reason="{{ params.why }}",
        ledger_path="{{ params.ledger }}",
    )
    assign.render_template_fields({"params": {**params, "ledger": str(tmp_path)}})
    (change,) = assign._build_changes()
    assert (change.user_id, change.role, change.reason) == ("u@b.example", "Auditor", "UAR 2026-Q1")
    assert assign.ledger_path == str(tmp_path)
    assert parse_bool(assign.is_dry_run, "dry_run") is True  # rendered to the string "True"
    group = BoomiRemoveGroupRoleOperator(
        task_id="g", user_id="{{ params.user }}", account_group="{{ params.group }}", role="{{ params.role }}"
    )
    group.render_template_fields({"params": params})
    (change,) = group._build_changes()
    assert (change.user_id, change.account_group, change.role) == ("u@b.example", "Sandbox", "Auditor")
    changes_file = tmp_path / "changes.json"
    changes_file.write_text(
        json.dumps([{"action": "revoke_role", "user_id": "u@b.example", "role": "Auditor"}])
    )
    batch = BoomiApplyAccessChangesOperator(task_id="b", changes_path="{{ params.path }}")
    batch.render_template_fields({"params": {"path": str(changes_file)}})
    assert [(c.action, c.user_id, c.role) for c in batch._build_changes()] == [
        ("revoke_role", "u@b.example", "Auditor")
    ]


def test_defaults() -> None:
    assign = BoomiAssignRoleOperator(task_id="a", user_id="a@b.example", role="Auditor")
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


@pytest.mark.parametrize(
    ("value", "expected"), [("False", False), (" true ", True), ("", True), (None, True)]
)
def test_notify_user_flag_is_read_with_the_one_rule(value: object, expected: bool) -> None:
    op = BoomiAssignRoleOperator(task_id="a", user_id="a@b.example", role="Auditor", notify_user=value)  # type: ignore[arg-type]
    assert op._build_changes()[0].notify_user is expected


def test_a_garbage_notify_user_flag_names_the_flag_and_the_words() -> None:
    op = BoomiAssignRoleOperator(task_id="a", user_id="a@b.example", role="Auditor", notify_user="perhaps")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"notify_user must be true or false \(.*yes.*\), got 'perhaps'"):
        op._build_changes()


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
