"""Approvals in a real Airflow deployment, answered through its REST API (Required Actions).

The session's deployment (``tests/e2e/conftest.py``) runs the JIT and apply-decisions DAGs
against the Boomi simulator. Runs are triggered over REST as the user ``requester`` (Airflow
records them as the runs' triggering user); approvals are answered over REST as ``approver``
(or, to show the rule, as ``requester``), each with a token of its own from ``/auth/token``.

- A JIT request waits for approval with its fields shown; approved, the role is granted and
  revoked, and both ledger rows name the approver; rejected, nothing changes; approved by the
  requester, the grant fails naming both; unanswered, the approval times out to ``Reject``.
- An apply-decisions run waits for approval of its dry-run plan; rejected, nothing is applied;
  approved, the revocation is applied and the ledger names the approver.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_boomi.access.ledger import read_ledger
from airflow_provider_boomi.operators.provisioning import markdown_text
from airflow_provider_boomi.testing.simulator.state import STANDARD_USER_ID
from tests.e2e.conftest import APPROVAL_TIMEOUT_SECONDS, BoomiDeployment
from tests.integration.test_example_dags import _fill_workbook

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

JIT = "boomi_jit_access"
APPLY = "boomi_apply_review_decisions"
ASK_TIMEOUT = 120.0


def _pending(e2e: BoomiDeployment, dag_id: str, run_id: str) -> dict[str, Any]:
    """Wait until the run's approval is asked for in the Required Actions API; return it."""

    def asked() -> dict[str, Any] | None:
        details = e2e.airflow.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/hitlDetails")["hitl_details"]
        waiting = [d for d in details if not d["response_received"]]
        return waiting[0] if waiting else None

    detail = dict(e2e.airflow.poll(f"the approval of {dag_id} run {run_id}", asked, ASK_TIMEOUT))
    # Airflow 3.3.2 race: an answer that arrives before the scheduler has processed the parked
    # task's executor event makes the scheduler fail the resumed task ("finished with state
    # success, but the task instance's state attribute is queued"). A person never answers that
    # fast; the test waits for the scheduler to record the task as awaiting input first.
    ti_id = detail["task_instance"]["id"]
    e2e.airflow.wait_for_log("scheduler", "TaskInstance Finished", f"ti_id={ti_id}", "state=awaiting_input")
    return detail


def _answer(e2e: BoomiDeployment, detail: dict[str, Any], option: str, user: str) -> dict[str, Any]:
    ti = detail["task_instance"]
    path = (
        f"/api/v2/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/-1/hitlDetails"
    )
    response = e2e.airflow.client(user).patch(
        f"{e2e.airflow.api}{path}", json={"chosen_options": [option], "params_input": {}}, timeout=60
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _jit_users(e2e: BoomiDeployment, count: int) -> list[str]:
    """Users who can take a JIT Auditor grant: in the account, logged in, with Standard User."""
    sim = e2e.sim
    auditor = sim.state.role_by_name("Auditor")
    assert auditor is not None
    standard = {r["userId"] for r in sim.state.user_roles() if r["roleId"] == STANDARD_USER_ID}
    holders = {r["userId"] for r in sim.state.user_roles() if r["roleId"] == auditor["id"]}
    users = [
        u["userId"]
        for u in sim.state.users()
        if u["inAccount"]
        and u["hasLoggedIn"]
        and u["userId"] != sim.email
        and u["userId"] in standard - holders
    ]
    assert len(users) >= count, f"the demo account has only {len(users)} suitable users"
    return users[:count]


def _jit_conf(e2e: BoomiDeployment, user: str, name: str) -> dict[str, Any]:
    return {
        "user_id": user,
        "role": "Auditor",
        "duration_minutes": 0.05,
        "justification": f"INC-{name}: look at *prod* | now",
        "ledger_path": str(e2e.data_dir / f"ledger-{name}"),
    }


def _creates_for(e2e: BoomiDeployment, user: str) -> list[Any]:
    """The simulator's create calls for ``user`` (a revoke is a delete by row id, without a body)."""
    return [
        r
        for r in e2e.sim.requests
        if r.operation == "create" and user.lower() in json.dumps(r.request_body).lower()
    ]


def test_jit_requests_wait_for_an_approver(boomi_deployment: BoomiDeployment) -> None:
    e2e = boomi_deployment
    deploy = e2e.airflow
    approved_user, rejected_user, own_user, unanswered_user = _jit_users(e2e, 4)

    # Asked first and never answered: it times out while the others run.
    unanswered = deploy.trigger(JIT, _jit_conf(e2e, unanswered_user, "timeout"), user="requester")

    # Approved by someone else: granted, then revoked at expiry; the approver is on record.
    conf = _jit_conf(e2e, approved_user, "approved")
    run_id = deploy.trigger(JIT, conf, user="requester")
    detail = _pending(e2e, JIT, run_id)
    assert detail["subject"] == "Approve just-in-time Boomi access?"
    assert detail["options"] == ["Approve", "Reject"]
    for value in (approved_user, "Auditor", "0.05 minutes from approval", conf["justification"], "requester"):
        assert markdown_text(value) in detail["body"], (value, detail["body"])
    assert deploy.task_states(JIT, run_id)["grant"] is None, "nothing is granted before the answer"
    answered = _answer(e2e, detail, "Approve", "approver")
    assert answered["responded_by"]["name"] == "approver"
    run = deploy.wait_for_run(JIT, run_id)
    assert run["state"] == "success", deploy.task_states(JIT, run_id)
    ledger = read_ledger(conf["ledger_path"])
    assert list(ledger["action"]) == ["assign_role", "revoke_role"]
    assert list(ledger["outcome"]) == ["applied", "applied"]
    assert set(ledger["approved_by"]) == {"approver"} and ledger["approved_at"].notna().all()
    assert set(ledger["run_id"]) == {run_id}
    assert len(_creates_for(e2e, approved_user)) == 1, "the grant reached Boomi once"
    auditor = e2e.sim.state.role_by_name("Auditor")
    assert auditor is not None
    assert auditor["id"] not in {
        r["roleId"] for r in e2e.sim.state.user_roles() if r["userId"] == approved_user
    }

    # Rejected: the run ends without touching Boomi.
    conf = _jit_conf(e2e, rejected_user, "rejected")
    run_id = deploy.trigger(JIT, conf, user="requester")
    _answer(e2e, _pending(e2e, JIT, run_id), "Reject", "approver")
    run = deploy.wait_for_run(JIT, run_id)
    states = deploy.task_states(JIT, run_id)
    assert run["state"] == "success", states
    assert {states[t] for t in ("grant", "wait_until_expiry", "revoke", "verify")} == {"skipped"}, states
    assert _creates_for(e2e, rejected_user) == [] and read_ledger(conf["ledger_path"]).empty

    # Approved by the requester: the grant fails, naming both, before any call to Boomi.
    conf = _jit_conf(e2e, own_user, "own")
    run_id = deploy.trigger(JIT, conf, user="requester")
    _answer(e2e, _pending(e2e, JIT, run_id), "Approve", "requester")
    run = deploy.wait_for_run(JIT, run_id)
    assert run["state"] == "failed" and deploy.task_states(JIT, run_id)["grant"] == "failed"
    assert _creates_for(e2e, own_user) == [] and read_ledger(conf["ledger_path"]).empty
    (grant_log,) = (deploy.home / "logs").rglob(f"dag_id={JIT}/run_id={run_id}/task_id=grant/attempt=*.log")
    assert "'requester' approved a request made by 'requester'" in grant_log.read_text()

    # The unanswered request: after the approval timeout, its default (Reject) skips the grant.
    run = deploy.wait_for_run(JIT, unanswered, timeout=APPROVAL_TIMEOUT_SECONDS + 120)
    states = deploy.task_states(JIT, unanswered)
    assert run["state"] == "success" and states["grant"] == "skipped", states
    (detail,) = deploy.get(f"/api/v2/dags/{JIT}/dagRuns/{unanswered}/hitlDetails")["hitl_details"]
    assert detail["chosen_options"] == ["Reject"] and detail["responded_by_user"] is None
    assert _creates_for(e2e, unanswered_user) == []


def test_apply_decisions_waits_for_approval_of_its_plan(boomi_deployment: BoomiDeployment) -> None:
    e2e = boomi_deployment
    deploy = e2e.airflow
    # A campaign, as in production: the sync's asset event starts the review DAG.
    reviews_before = {
        r["dag_run_id"] for r in deploy.get("/api/v2/dags/boomi_access_review/dagRuns")["dag_runs"]
    }
    sync_run = deploy.trigger("boomi_access_sync")
    assert deploy.wait_for_run("boomi_access_sync", sync_run)["state"] == "success"

    def new_review() -> str | None:
        runs = deploy.get("/api/v2/dags/boomi_access_review/dagRuns")["dag_runs"]
        return next((r["dag_run_id"] for r in runs if r["dag_run_id"] not in reviews_before), None)

    review_run = deploy.poll("the review DAG to start", new_review, 120)
    assert deploy.wait_for_run("boomi_access_review", review_run)["state"] == "success"
    campaign_dir = max(
        (e2e.data_dir / "reviews").rglob("campaign.json"), key=lambda p: p.stat().st_mtime
    ).parent
    items = json.loads((campaign_dir / "campaign.json").read_text())["items"]
    grant = next(i for i in items if i["grant_kind"] == "group_role")
    workbook = _fill_workbook(campaign_dir, {grant["item_id"]}, e2e.data_dir / "filled.csv")
    conf = {"campaign_dir": str(campaign_dir), "workbook_path": str(workbook)}

    def still_held() -> bool:
        return any(
            r["userId"] == grant["user_id"]
            and r["roleId"] == grant["role_id"]
            and r["accountGroupId"] == grant["account_group_id"]
            for r in e2e.sim.state.group_roles()
        )

    # Rejected: the plan was made, nothing is applied.
    run_id = deploy.trigger(APPLY, conf, user="requester")
    detail = _pending(e2e, APPLY, run_id)
    assert (
        "**1** change(s) (planned: 1)" in detail["body"] and markdown_text(grant["user_id"]) in detail["body"]
    )
    _answer(e2e, detail, "Reject", "approver")
    run = deploy.wait_for_run(APPLY, run_id)
    states = deploy.task_states(APPLY, run_id)
    assert run["state"] == "success" and states["plan"] == "success", states
    assert {states[t] for t in ("apply", "resync", "verify", "evidence")} == {"skipped"}, states
    assert still_held()

    # Approved: applied, verified, and the ledger names the approver.
    run_id = deploy.trigger(APPLY, conf, user="requester")
    _answer(e2e, _pending(e2e, APPLY, run_id), "Approve", "approver")
    run = deploy.wait_for_run(APPLY, run_id, timeout=240)
    assert run["state"] == "success", deploy.task_states(APPLY, run_id)
    assert not still_held()
    ledger = read_ledger(str(e2e.data_dir / "ledger"))
    applied = ledger[(ledger["run_id"] == run_id) & (ledger["task_id"] == "apply")]
    assert list(applied["outcome"]) == ["applied"] and list(applied["approved_by"]) == ["approver"]
