"""The provisioning operators inside real Airflow DAG runs (``dag.test()``) against the simulator."""

from __future__ import annotations

import importlib.util
import json
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_boomi.access.ledger import read_ledger
from airflow_provider_boomi.operators.provisioning import (
    BoomiApplyAccessChangesOperator,
    BoomiRevokeRoleOperator,
)
from airflow_provider_boomi.testing.simulator import BoomiSimulator

WRITES = ("create", "delete")

DAG_TEMPLATE = """
import json
import os

from airflow.sdk import DAG

from airflow_provider_boomi.operators.provisioning import (
    BoomiAddGroupRoleOperator,
    BoomiApplyAccessChangesOperator,
    BoomiAssignRoleOperator,
    BoomiRemoveGroupRoleOperator,
    BoomiRevokeRoleOperator,
)

P = json.loads(os.environ["BOOMI_TEST_PARAMS"])

with DAG(dag_id="{dag_id}", schedule=None, catchup=False) as dag:
{body}
"""


def _connect(sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch, *, enabled: bool = True) -> None:
    conn = json.loads(sim.connection_json(provisioning_enabled=enabled))
    conn["extra"]["requests_per_second"] = 1000  # the simulator runs unthrottled in these tests
    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(conn))


def _run_dag(dag_folder: Path, monkeypatch: pytest.MonkeyPatch, body: str, params: dict[str, Any]) -> Any:
    """Write a DAG file into the DAG folder, import it from there and run it with ``dag.test()``."""
    dag_id = f"boomi_provisioning_{uuid.uuid4().hex[:8]}"
    path = dag_folder / f"{dag_id}.py"
    path.write_text(DAG_TEMPLATE.format(dag_id=dag_id, body=textwrap.indent(textwrap.dedent(body), "    ")))
    monkeypatch.setenv("BOOMI_TEST_PARAMS", json.dumps(params))
    spec = importlib.util.spec_from_file_location(dag_id, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def _email(sim: BoomiSimulator, local: str) -> str:
    return f"{local}@{sim.email.split('@')[1]}"


def _role_id(sim: BoomiSimulator, name: str) -> str:
    role = sim.state.role_by_name(name)
    assert role is not None
    return str(role["id"])


def _roles_of(sim: BoomiSimulator, user_id: str) -> set[str]:
    return {r["roleId"] for r in sim.state.user_roles() if r["userId"].lower() == user_id.lower()}


def _writes(sim: BoomiSimulator) -> list[str]:
    return [r.operation for r in sim.requests if r.operation in WRITES]


ALL_OPERATORS = """
assign = BoomiAssignRoleOperator(
    task_id="assign", user_id=P["new_user"], role="Auditor", first_name="Ivy", last_name="Invitee",
    ledger_path=P["ledger"], reason="onboarding",
)
revoke = BoomiRevokeRoleOperator(
    task_id="revoke", user_id=P["last_role_user"], role="Developer", ledger_path=P["ledger"]
)
add = BoomiAddGroupRoleOperator(
    task_id="add_group_role", user_id=P["member"], account_group="Sandbox", role="Operator",
    ledger_path=P["ledger"],
)
remove = BoomiRemoveGroupRoleOperator(
    task_id="remove_group_role", user_id=P["grouped_user"], account_group=P["grouped_group"],
    role=P["grouped_role"], ledger_path=P["ledger"],
)
batch = BoomiApplyAccessChangesOperator(
    task_id="batch", changes=P["changes"], ledger_path=P["ledger"], reason="{{ dag_run.run_id }}",
)
assign >> revoke >> add >> remove >> batch
"""


def test_every_operator_applies_then_is_already_satisfied(
    sim: BoomiSimulator, dag_folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _connect(sim, monkeypatch)
    grouped = next(
        r for r in sim.state.group_roles() if r["userId"].lower() != _email(sim, "zoe.angstrom").lower()
    )
    params = {
        "ledger": str(tmp_path / "ledger"),
        "new_user": _email(sim, "ivy.invitee"),
        "last_role_user": _email(sim, "jose.nino"),
        "member": _email(sim, "zoe.angstrom"),
        "grouped_user": grouped["userId"],
        "grouped_group": grouped["accountGroupId"],
        "grouped_role": grouped["roleId"],
        "changes": [
            {"action": "assign_role", "user_id": _email(sim, "li.lei"), "role": "Auditor"},
            {
                "action": "revoke_role",
                "user_id": _email(sim, "li.lei"),
                "role_id": _role_id(sim, "Dashboard Viewer"),
            },
        ],
    }
    dag = _run_dag(dag_folder, monkeypatch, ALL_OPERATORS, params)

    first = dag.test()
    assert first.state == "success"
    invited = next(u for u in sim.state.users() if u["userId"] == params["new_user"])
    assert (invited["firstName"], invited["lastName"], invited["hasLoggedIn"]) == ("Ivy", "Invitee", False)
    assert _roles_of(sim, params["last_role_user"]) == {_role_id(sim, "Standard User")}
    assert _roles_of(sim, _email(sim, "li.lei")) == {_role_id(sim, "Standard User"), _role_id(sim, "Auditor")}
    assert not any(
        r["userId"] == grouped["userId"]
        and r["accountGroupId"] == grouped["accountGroupId"]
        and r["roleId"] == grouped["roleId"]
        for r in sim.state.group_roles()
    )

    sim.clear_requests()
    second = dag.test()
    assert second.state == "success"
    assert _writes(sim) == []

    ledger = read_ledger(params["ledger"])
    by_run = {run_id: rows for run_id, rows in ledger.groupby("run_id")}
    assert set(by_run) == {first.run_id, second.run_id}
    assert list(by_run[first.run_id]["outcome"]) == ["applied"] * 6
    assert list(by_run[second.run_id]["outcome"]) == ["already_satisfied"] * 6
    revoke_row = by_run[first.run_id].set_index("task_id").loc["revoke"]
    assert revoke_row["state_before"] == "present (last role)"
    assert "Standard User" in revoke_row["side_effects"][0]
    batch_rows = by_run[first.run_id][by_run[first.run_id]["task_id"] == "batch"]
    assert set(batch_rows["reason"]) == {first.run_id}  # the templated default reason
    assert set(ledger["account_id"]) == {sim.account_id}
    assert sim.token not in ledger.to_json()


def test_disabled_provisioning_fails_the_task_but_dry_run_plans(
    sim: BoomiSimulator, dag_folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _connect(sim, monkeypatch, enabled=False)
    body = """
    BoomiAssignRoleOperator(
        task_id="plan", user_id=P["user"], role="Auditor", dry_run="{{ 'true' }}", ledger_path=P["ledger"]
    )
    BoomiAssignRoleOperator(task_id="change", user_id=P["user"], role="Auditor", ledger_path=P["ledger"])
    """
    params = {"user": _email(sim, "only.standard"), "ledger": str(tmp_path / "ledger")}
    run = _run_dag(dag_folder, monkeypatch, body, params).test()
    assert run.state == "failed"
    assert _writes(sim) == []
    assert _roles_of(sim, params["user"]) == {_role_id(sim, "Standard User")}
    rows = read_ledger(params["ledger"]).set_index("task_id")
    assert rows.loc["plan", "outcome"] == "planned" and bool(rows.loc["plan", "dry_run"])
    assert rows.loc["change", "outcome"] == "refused"
    assert "provisioning_enabled" in rows.loc["change", "error"]


def test_batch_with_a_failing_change_applies_the_others_and_fails(
    sim: BoomiSimulator, dag_folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _connect(sim, monkeypatch)
    changes_file = tmp_path / "decisions.csv"
    changes_file.write_text(
        "action,user_id,role,account_group,reason\n"
        f"assign_role,{_email(sim, 'zoe.angstrom')},Auditor,,keep\n"
        f"add_group_role,{_email(sim, 'new.hire')},Developer,Sandbox,needs sandbox\n"
        f"revoke_role,{_email(sim, 'li.lei')},Dashboard Viewer,,revoke\n"
    )
    body = 'BoomiApplyAccessChangesOperator(task_id="apply", changes_path=P["path"], ledger_path=P["ledger"])'
    params = {"path": str(changes_file), "ledger": str(tmp_path / "ledger")}
    run = _run_dag(dag_folder, monkeypatch, body, params).test()
    assert run.state == "failed"
    assert _role_id(sim, "Auditor") in _roles_of(sim, _email(sim, "zoe.angstrom"))
    assert _role_id(sim, "Dashboard Viewer") not in _roles_of(sim, _email(sim, "li.lei"))
    # Different users' changes run concurrently, so the ledger is in completion order.
    rows = read_ledger(params["ledger"]).set_index("action")
    assert rows.loc["assign_role", "outcome"] == "applied"
    assert rows.loc["revoke_role", "outcome"] == "applied"
    assert rows.loc["add_group_role", "outcome"] == "failed"
    assert "must log in" in rows.loc["add_group_role", "error"]


def test_batch_failure_message_names_the_change(sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    _connect(sim, monkeypatch)
    operator = BoomiApplyAccessChangesOperator(
        task_id="apply",
        changes=[
            {"action": "assign_role", "user_id": _email(sim, "zoe.angstrom"), "role": "Auditor"},
            {
                "action": "add_group_role",
                "user_id": _email(sim, "new.hire"),
                "role": "Developer",
                "account_group": "Sandbox",
            },
        ],
    )
    with pytest.raises(AirflowException) as caught:
        operator.execute({})  # type: ignore[arg-type]
    message = str(caught.value)
    assert "1 of 2" in message
    assert f"change #2 add_group_role 'Developer' for {_email(sim, 'new.hire')} in group Sandbox" in message
    assert "must log in" in message


def test_refusals_fail_without_retry(sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    _connect(sim, monkeypatch)
    operator = BoomiRevokeRoleOperator(
        task_id="revoke", user_id=_email(sim, "only.standard"), role="Standard User"
    )
    with pytest.raises(AirflowFailException, match="never deleted"):
        operator.execute({})  # type: ignore[arg-type]
    too_many = BoomiApplyAccessChangesOperator(
        task_id="apply",
        max_changes=1,
        changes=[
            {"action": "assign_role", "user_id": _email(sim, f"u{i}"), "role": "Auditor"} for i in range(2)
        ],
    )
    with pytest.raises(AirflowFailException, match="max_changes"):
        too_many.execute({})  # type: ignore[arg-type]
    assert _writes(sim) == []


# --- approvals ------------------------------------------------------------------------------------

APPROVED_DAG = """
BoomiApplyAccessChangesOperator(
    task_id="apply",
    changes=P["changes"],
    ledger_path=P["ledger"],
    approval=P["approval"],
    requested_by="{{ dag_run.triggering_user_name or '' }}",
    require_approval=True,
)
"""


def test_an_approval_is_stamped_on_every_ledger_row_and_returned(
    sim: BoomiSimulator, dag_folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _connect(sim, monkeypatch)
    params = {
        "ledger": str(tmp_path / "ledger"),
        # dag.test() runs are triggered by the user "dag_test"; the approver is someone else.
        "approval": {"approved_by": "Grace Approver", "approved_at": "2026-11-30T11:00:00+01:00"},
        "changes": [
            {"action": "assign_role", "user_id": _email(sim, "zoe.angstrom"), "role": "Auditor"},
            {"action": "revoke_role", "user_id": _email(sim, "li.lei"), "role": "Dashboard Viewer"},
        ],
    }
    run = _run_dag(dag_folder, monkeypatch, APPROVED_DAG, params).test()
    assert run.state == "success"
    (ti,) = run.get_task_instances()
    result = ti.xcom_pull(task_ids="apply")
    assert (result["approved_by"], result["approved_at"]) == ("Grace Approver", "2026-11-30T10:00:00+00:00")
    ledger = read_ledger(params["ledger"])
    assert sorted(ledger["outcome"]) == ["applied", "applied"]
    assert set(ledger["approved_by"]) == {"Grace Approver"}
    assert {t.isoformat() for t in ledger["approved_at"]} == {"2026-11-30T10:00:00+00:00"}
    assert _role_id(sim, "Auditor") in _roles_of(sim, _email(sim, "zoe.angstrom"))


def test_a_requester_never_approves_their_own_request(
    sim: BoomiSimulator, dag_folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _connect(sim, monkeypatch)
    params = {
        "ledger": str(tmp_path / "ledger"),
        # What an ApprovalOperator returns; its user is the requester of dag.test() runs,
        # in another case and matched by id.
        "approval": {
            "chosen_options": ["Approve"],
            "params_input": {},
            "responded_at": "2026-11-30T10:00:00+00:00",
            "responded_by_user": {"id": "DAG_TEST", "name": "Someone"},
        },
        "changes": [{"action": "assign_role", "user_id": _email(sim, "zoe.angstrom"), "role": "Auditor"}],
    }
    run = _run_dag(dag_folder, monkeypatch, APPROVED_DAG, params).test()
    assert run.state == "failed"
    assert _writes(sim) == [] and sim.requests == [], "refused before any call to Boomi"
    assert read_ledger(params["ledger"]).empty


def test_approval_refusals_name_what_to_fix(sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    _connect(sim, monkeypatch)
    change = [{"action": "assign_role", "user_id": _email(sim, "zoe.angstrom"), "role": "Auditor"}]
    answer = {
        "chosen_options": ["Approve"],
        "responded_at": datetime(2026, 11, 30, 10, tzinfo=UTC),
        "responded_by_user": {"id": "alice", "name": "Alice Smith"},
    }
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"approval": answer, "requested_by": "alice smith"},
            "'Alice Smith' approved a request made by 'alice smith'",
        ),
        ({"approval": answer, "requested_by": "ALICE"}, "never approves their own request"),
        ({"require_approval": "true", "requested_by": "bob"}, "need an approval"),
        ({"approval": answer, "require_approval": True}, "set requested_by"),
        (
            {"approval": {**answer, "chosen_options": ["Reject"]}, "requested_by": "bob"},
            "not \\['Approve'\\]",
        ),
        (
            {"approval": {**answer, "responded_by_user": None}, "requested_by": "bob"},
            "timeout approves nothing",
        ),
        ({"approval": {"approved_by": "carol"}, "requested_by": "bob"}, "lacks approved_at"),
        ({"approval": {"approved_by": "carol", "approved_at": "2026-11-30T10:00:00"}}, "no UTC offset"),
        ({"approval": "{'approved_by': 'carol'}"}, "not a JSON object"),
        ({"approval": ["carol"]}, "must be a mapping"),
    ]
    for arguments, problem in cases:
        operator = BoomiApplyAccessChangesOperator(task_id="apply", changes=change, **arguments)
        with pytest.raises(AirflowFailException, match=problem):
            operator.execute({})  # type: ignore[arg-type]
    assert sim.requests == [], "every refusal comes before any call to Boomi"


def test_a_dry_run_needs_no_approval_and_an_unchecked_requester_is_allowed(
    sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _connect(sim, monkeypatch)
    change = [{"action": "assign_role", "user_id": _email(sim, "zoe.angstrom"), "role": "Auditor"}]
    plan = BoomiApplyAccessChangesOperator(
        task_id="plan", changes=change, dry_run=True, require_approval=True
    )
    assert plan.execute({})["counts"] == {"planned": 1}  # type: ignore[arg-type]
    assert _writes(sim) == []
    approved = BoomiApplyAccessChangesOperator(
        task_id="apply",
        changes=change,
        ledger_path=str(tmp_path / "ledger"),
        approval=json.dumps({"approved_by": "carol", "approved_at": "2026-11-30T10:00:00Z"}),
    )
    with caplog.at_level("WARNING"):
        result = approved.execute({})  # type: ignore[arg-type]
    assert "not checked against the requester" in caplog.text
    assert result["approved_by"] == "carol"
    assert list(read_ledger(str(tmp_path / "ledger"))["approved_by"]) == ["carol"]


def test_the_approve_option_is_airflows() -> None:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    from airflow_provider_boomi.operators.provisioning import APPROVE_OPTION, REJECT_OPTION

    assert (APPROVE_OPTION, REJECT_OPTION) == (ApprovalOperator.APPROVE, ApprovalOperator.REJECT)
