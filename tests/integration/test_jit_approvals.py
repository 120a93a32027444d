"""Approvals of the JIT and apply-decisions DAGs, and the JIT catch-up, under ``dag.test()``.

Airflow 3.3's ``dag.test()`` runs human-in-the-loop tasks for real: the approval task writes
its request to the metadata DB and parks in ``awaiting_input``, and the run waits until a
response arrives from outside. Here the response comes through Airflow's own REST API (the
core API app, in-process over ASGI, with the same metadata DB) as an authenticated user, so
the route's checks and the resume path are Airflow's. What ``dag.test()`` cannot do is the
scheduler's timeout sweep: the approval timeout is covered by the e2e test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.access.ledger import read_ledger
from airflow_provider_boomi.operators.provisioning import (
    BoomiApplyAccessChangesOperator,
    change_plan_markdown,
    jit_reason,
    jit_request_markdown,
    markdown_text,
    parse_jit_reason,
)
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from airflow_provider_boomi.testing.simulator.state import STANDARD_USER_ID
from tests.conftest import load_dag
from tests.helpers import Approvals
from tests.integration.test_example_dags import _fill_workbook, apply_conf, sync_and_review

REQUESTER = "dag_test"  # the triggering user of every dag.test() run


# --- the bodies shown to approvers ----------------------------------------------------------------


def test_user_typed_text_cannot_format_or_forge_the_approval_body() -> None:
    hostile = "INC-1\n\n**Approved by security** | [click](http://x) <img src=x> `code` \u202egnp.exe"
    shown = markdown_text(hostile)
    assert "\n" not in shown
    # No markup character is left unescaped (each is preceded by a backslash).
    assert not re.search(r"(?<!\\)[*\[\]()<>`|]", shown), shown
    assert "\\*\\*Approved by security\\*\\*" in shown and "\\|" in shown and "\\<img" in shown
    assert "\\<U\\+202E\\>gnp" in shown, "direction overrides are shown, not obeyed"
    assert markdown_text("x" * 400).endswith("(100 more characters)")
    body = jit_request_markdown(
        {
            "user_id": "rosa@acme.example",
            "role": "Production Support",
            "account_group": "",
            "duration_minutes": 30.0,
            "justification": hostile,
        },
        "alice",
    )
    # One table row per field: a value cannot add rows or lines of its own.
    rows = [line for line in body.splitlines() if line.startswith("| **")]
    assert [r.split("**")[1] for r in rows] == [
        "User",
        "Role",
        "Account group",
        "Duration",
        "Reason",
        "Requested by",
    ]
    assert markdown_text("rosa@acme.example") in rows[0] and "30 minutes" in rows[3] and "alice" in rows[5]
    assert "global role" in rows[2]


def test_the_plan_body_counts_and_bounds_the_changes() -> None:
    outcomes = [
        {"action": "revoke_role", "user_id": f"u{i}@acme.example", "role_id": "r", "outcome": "planned"}
        for i in range(25)
    ]
    body = change_plan_markdown({"outcomes": outcomes, "counts": {"planned": 25}}, limit=20)
    assert "**25** change(s) (planned: 25)" in body
    assert markdown_text("u19@acme.example") in body and markdown_text("u20@acme.example") not in body
    assert "and 5 more change(s)" in body


# --- answering through Airflow's REST API -------------------------------------------------------------


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[BoomiSimulator]:
    with BoomiSimulator(profile="demo", rate_limit=None) as simulator:
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", simulator.connection_json(provisioning_enabled=True))
        yield simulator


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _writes(sim: BoomiSimulator) -> list[Any]:
    return [r for r in sim.requests if r.operation in ("create", "delete")]


def _jit_user(sim: BoomiSimulator) -> str:
    """Not the connection's own user, holds Standard User and not Auditor: one create, one delete."""
    standard = {r["userId"] for r in sim.state.user_roles() if r["roleId"] == STANDARD_USER_ID}
    auditor = sim.state.role_by_name("Auditor")
    assert auditor is not None
    holders = {r["userId"] for r in sim.state.user_roles() if r["roleId"] == auditor["id"]}
    return next(
        u["userId"]
        for u in sim.state.users()
        if u["inAccount"]
        and u["hasLoggedIn"]
        and u["userId"] != sim.email
        and u["userId"] in standard - holders
    )


def _roles(sim: BoomiSimulator, user: str) -> set[str]:
    return {r["roleId"] for r in sim.state.user_roles() if r["userId"] == user}


def _run_jit(dag_folder: Path, approvals: Approvals, conf: dict[str, Any], option: str, user: str) -> Any:
    dag = load_dag(dag_folder / "boomi_jit_access.py", "boomi_jit_access")
    join = approvals.answer_in_background("boomi_jit_access", option, user)
    run = dag.test(run_conf=conf)
    join()
    return run


def _jit_conf(user: str, tmp_path: Path, justification: str = "INC-42 debugging") -> dict[str, Any]:
    return {
        "user_id": user,
        "role": "Auditor",
        "duration_minutes": 0.05,
        "justification": justification,
        "ledger_path": str(tmp_path / "ledger"),
    }


# --- the JIT DAG ----------------------------------------------------------------------------------------


def test_jit_waits_for_approval_then_grants_and_revokes_with_the_approver_on_record(
    sim: BoomiSimulator, dag_folder: Path, approvals: Approvals, tmp_path: Path
) -> None:
    user = _jit_user(sim)
    auditor = sim.state.role_by_name("Auditor")
    assert auditor is not None
    hostile = "INC-42 debugging\n\n**Approved by security** [x](http://x)"
    before = datetime.now(UTC)
    run = _run_jit(dag_folder, approvals, _jit_conf(user, tmp_path, hostile), "Approve", "grace")
    assert run.state == "success", _states(run)
    assert auditor["id"] not in _roles(sim, user), "granted, then revoked at expiry"

    detail = approvals.seen[-1]
    assert detail["subject"] == "Approve just-in-time Boomi access?"
    assert detail["options"] == ["Approve", "Reject"] and detail["defaults"] == ["Reject"]
    for value in (user, "Auditor", "0.05 minutes from approval", REQUESTER):
        assert markdown_text(value) in detail["body"]
    assert (
        "\\*\\*Approved by security\\*\\*" in detail["body"]
        and "**Approved by security**" not in detail["body"]
    )

    ledger = read_ledger(str(tmp_path / "ledger"))
    assert list(ledger["action"]) == ["assign_role", "revoke_role"]
    assert list(ledger["outcome"]) == ["applied", "applied"]
    assert set(ledger["approved_by"]) == {"grace"}
    (approved_at,) = set(ledger["approved_at"])
    assert before <= approved_at.to_pydatetime() <= datetime.now(UTC)
    parsed = parse_jit_reason(ledger["reason"][0])
    assert parsed is not None and parsed.justification == hostile
    assert (
        approved_at.to_pydatetime() < parsed.expires_at <= approved_at.to_pydatetime() + timedelta(minutes=1)
    )
    creates = [r for r in sim.requests if r.operation == "create"]
    assert len(creates) == 1 and creates[0].request_body.get("notifyUser") is False


def test_a_rejected_jit_request_touches_nothing(
    sim: BoomiSimulator, dag_folder: Path, approvals: Approvals, tmp_path: Path
) -> None:
    user = _jit_user(sim)
    sim.clear_requests()
    run = _run_jit(dag_folder, approvals, _jit_conf(user, tmp_path), "Reject", "grace")
    states = _states(run)
    assert run.state == "success", states
    assert states["approve"] == "success"
    for task_id in ("open_window", "grant", "granted_by_this_run", "wait_until_expiry", "revoke", "verify"):
        assert states[task_id] == "skipped", states
    assert _writes(sim) == []
    assert read_ledger(str(tmp_path / "ledger")).empty


def test_the_requester_cannot_approve_their_own_jit_request(
    sim: BoomiSimulator, dag_folder: Path, approvals: Approvals, tmp_path: Path
) -> None:
    user = _jit_user(sim)
    sim.clear_requests()
    run = _run_jit(dag_folder, approvals, _jit_conf(user, tmp_path), "Approve", REQUESTER.upper())
    states = _states(run)
    assert run.state == "failed", states
    assert states["grant"] == "failed" and states["revoke"] != "success"
    assert sim.requests == [], "refused before any call to Boomi"
    assert read_ledger(str(tmp_path / "ledger")).empty


# --- the apply-decisions DAG ------------------------------------------------------------------------------


def test_apply_decisions_applies_only_after_the_plan_is_approved(
    sim: BoomiSimulator, dag_folder: Path, approvals: Approvals, tmp_path: Path
) -> None:
    _, campaign_dir = sync_and_review(dag_folder, tmp_path)
    items = json.loads((campaign_dir / "campaign.json").read_text())["items"]
    group_grant = next(i for i in items if i["grant_kind"] == "group_role")
    workbook = _fill_workbook(campaign_dir, {group_grant["item_id"]}, tmp_path / "filled.csv")
    dag = load_dag(dag_folder / "boomi_apply_review_decisions.py", "boomi_apply_review_decisions")

    sim.clear_requests()
    join = approvals.answer_in_background("boomi_apply_review_decisions", "Reject", "grace")
    rejected = dag.test(run_conf=apply_conf(campaign_dir, workbook, tmp_path / "rejected"))
    join()
    states = _states(rejected)
    assert rejected.state == "success", states
    assert states["plan"] == "success"
    assert {states[t] for t in ("apply", "resync", "load_warehouse", "verify", "evidence")} == {"skipped"}
    assert _writes(sim) == []
    body = approvals.seen[-1]["body"]
    assert "**1** change(s) (planned: 1)" in body and markdown_text(group_grant["user_id"]) in body

    join = approvals.answer_in_background("boomi_apply_review_decisions", "Approve", "grace")
    applied = dag.test(run_conf=apply_conf(campaign_dir, workbook, tmp_path))
    join()
    assert applied.state == "success", _states(applied)
    assert not any(
        r["userId"] == group_grant["user_id"]
        and r["roleId"] == group_grant["role_id"]
        and r["accountGroupId"] == group_grant["account_group_id"]
        for r in sim.state.group_roles()
    )
    ledger = read_ledger(str(tmp_path / "ledger"))
    rows = ledger[ledger["task_id"] == "apply"]
    assert list(rows["outcome"]) == ["applied"] and list(rows["approved_by"]) == ["grace"]
    assert ledger[ledger["task_id"] == "plan"]["approved_by"].isna().all(), "the plan came before approval"
    (evidence_ledger,) = (tmp_path / "evidence").rglob("ledger.csv")
    assert "grace" in evidence_ledger.read_text(), "the evidence names the approver"


# --- the catch-up DAG ----------------------------------------------------------------------------------


def test_catch_up_revokes_overdue_jit_grants_and_reports_them(
    sim: BoomiSimulator, dag_folder: Path, tmp_path: Path
) -> None:
    user = _jit_user(sim)
    auditor = sim.state.role_by_name("Auditor")
    assert auditor is not None
    ledger_path = str(tmp_path / "ledger")
    # A JIT grant whose run died before its revoke: applied, recorded, expired a minute ago.
    expired = datetime.now(UTC) - timedelta(minutes=1)
    BoomiApplyAccessChangesOperator(
        task_id="grant",
        changes=[
            {
                "action": "assign_role",
                "user_id": user,
                "role": "Auditor",
                "reason": jit_reason(expired, "INC-7"),
            }
        ],
        ledger_path=ledger_path,
    ).execute({})  # type: ignore[arg-type]
    # And one still within its time, which stays.
    other = next(
        u["userId"]
        for u in sim.state.users()
        if u["inAccount"]
        and u["userId"] not in (user, sim.email)
        and auditor["id"] not in _roles(sim, u["userId"])
    )
    later = datetime.now(UTC) + timedelta(hours=1)
    BoomiApplyAccessChangesOperator(
        task_id="grant",
        changes=[
            {
                "action": "assign_role",
                "user_id": other,
                "role": "Auditor",
                "reason": jit_reason(later, "INC-8"),
            }
        ],
        ledger_path=ledger_path,
    ).execute({})  # type: ignore[arg-type]
    assert auditor["id"] in _roles(sim, user)

    dag = load_dag(dag_folder / "boomi_jit_catch_up.py", "boomi_jit_catch_up")
    run = dag.test(run_conf={"ledger_path": ledger_path})
    assert run.state == "success", _states(run)
    assert auditor["id"] not in _roles(sim, user)
    assert auditor["id"] in _roles(sim, other), "not yet expired: left alone"
    report = next(ti for ti in run.get_task_instances() if ti.task_id == "report").xcom_pull(
        task_ids="report"
    )
    (revoked,) = report["revoked"]
    assert (revoked["user_id"], revoked["role_name"], revoked["revoke_outcome"]) == (
        user,
        "Auditor",
        "applied",
    )
    assert revoked["expires_at"] == expired.replace(microsecond=0).isoformat()
    ledger = read_ledger(ledger_path)
    revoke = ledger[ledger["action"] == "revoke_role"]
    assert list(revoke["user_id"]) == [user] and "JIT catch-up" in revoke["reason"].iloc[0]

    # Once revoked, it is not revoked again.
    sim.clear_requests()
    again = dag.test(run_conf={"ledger_path": ledger_path})
    states = _states(again)
    assert again.state == "success", states
    assert states["revoke"] == "skipped" and _writes(sim) == []


def test_approval_settings_come_from_the_environment() -> None:
    from airflow_provider_boomi.operators.provisioning import approval_settings

    default = approval_settings({})
    assert default["response_timeout"] == timedelta(hours=24) and default["defaults"] == ["Reject"]
    assert default["assigned_users"] is None
    chosen = approval_settings({"BOOMI_APPROVAL_TIMEOUT_MINUTES": "0.5", "BOOMI_APPROVERS": " ann, bob ,"})
    assert chosen["response_timeout"] == timedelta(seconds=30)
    assert chosen["assigned_users"] == [{"id": "ann", "name": "ann"}, {"id": "bob", "name": "bob"}]
    for bad in ("0", "-5", "soon", "nan"):
        with pytest.raises(ValueError, match="BOOMI_APPROVAL_TIMEOUT_MINUTES must be a number of minutes"):
            approval_settings({"BOOMI_APPROVAL_TIMEOUT_MINUTES": bad})
