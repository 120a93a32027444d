"""Just-in-time Boomi access: approve, grant, wait without holding a worker slot, revoke, verify.

Trigger it with a user, a role (or an account group and a role), a duration and a
justification. The DAG refuses durations longer than ``BOOMI_JIT_MAX_MINUTES`` (default 480)
before touching Boomi, then waits for an approver in Airflow's UI (**Required Actions**): the
request's user, role, group, duration, reason and requester are shown, and the requester may
not approve their own request. Approved, it grants the role, waits with a deferrable sensor (the
wait runs in the triggerer, so no worker slot is held for hours), revokes the role and verifies
from Boomi that the user no longer holds it. Rejected, or unanswered for
``BOOMI_APPROVAL_TIMEOUT_MINUTES`` (default 1440), the run ends without touching Boomi.

Every change lands in the provisioning ledger with the approver, the time of the approval and
the reason ``JIT until <expiry>: <justification>``; the ``boomi_jit_catch_up`` DAG reads that
expiry to revoke grants whose revoke failed or never ran.

The connection must have ``provisioning_enabled: true`` in its extra; otherwise the grant is
refused and nothing changes. Revoking a user's last global role first gives them Standard
User (users are never deleted), and that side effect is in the ledger. Access the user already
held before the request is left alone: when the grant finds it in place (``already_satisfied``)
the wait and the revoke are skipped.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import Param, dag, task

from airflow_provider_boomi.operators.pools import boomi_pool
from airflow_provider_boomi.operators.provisioning import (
    ADD_GROUP_ROLE,
    ALREADY_SATISFIED,
    APPLIED,
    ASSIGN_ROLE,
    REMOVE_GROUP_ROLE,
    REVOKE_ROLE,
    BoomiApplyAccessChangesOperator,
    approval_settings,
    jit_reason,
    jit_request_markdown,
)

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")
MAX_MINUTES = float(os.environ.get("BOOMI_JIT_MAX_MINUTES", "480"))
# Who triggered the run: the requester, whom the grant checks the approver against. Runs with no
# triggering user (none in Airflow's record) render it empty, and the grant then refuses to run.
REQUESTER = "{{ dag_run.triggering_user_name or '' }}"


@dag(
    dag_id="boomi_jit_access",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["boomi", "provisioning", "jit"],
    doc_md=__doc__,
    user_defined_macros={"jit_request_markdown": jit_request_markdown},
    params={
        "boomi_conn_id": Param("boomi_default", type="string"),
        "user_id": Param("", type="string", description="The user's email (Boomi userId)"),
        "role": Param("", type="string", description="Role id or exact role name"),
        "account_group": Param(
            "", type="string", description="Account group id or name; empty = global role"
        ),
        "duration_minutes": Param(
            60, type="number", exclusiveMinimum=0, description="How long access lasts, from approval"
        ),
        "justification": Param("", type="string", description="Why; shown to the approver and recorded"),
        "ledger_path": Param(f"{DATA_DIR}/ledger", type="string"),
    },
)
def boomi_jit_access() -> None:
    @task
    def plan(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate the request before anyone is asked to approve it."""
        assert params is not None
        problems = []
        if not params["user_id"].strip():
            problems.append("user_id is required")
        if not params["role"].strip():
            problems.append("role is required")
        if not params["justification"].strip():
            problems.append("justification is required")
        minutes = float(params["duration_minutes"])
        if minutes > MAX_MINUTES:
            problems.append(
                f"duration_minutes {minutes:g} exceeds the maximum {MAX_MINUTES:g} (BOOMI_JIT_MAX_MINUTES)"
            )
        if problems:
            raise ValueError("JIT request refused: " + "; ".join(problems))
        return {
            "user_id": params["user_id"].strip(),
            "role": params["role"].strip(),
            "account_group": params["account_group"].strip(),
            "duration_minutes": minutes,
            "justification": params["justification"].strip(),
        }

    request = plan()

    # Reject (or the timeout, whose default is Reject) skips everything after: nothing is granted.
    approve = ApprovalOperator(
        task_id="approve",
        subject="Approve just-in-time Boomi access?",
        body="{{ jit_request_markdown(ti.xcom_pull(task_ids='plan'), dag_run.triggering_user_name) }}",
        ignore_downstream_trigger_rules=True,
        **approval_settings(),
    )

    @task
    def open_window(request: dict[str, Any]) -> dict[str, Any]:
        """Start the access window now that it is approved: the grant, the revoke and the expiry.

        The expiry goes into the ledger reason (``JIT until <expiry>: <justification>``) so the
        catch-up DAG can revoke the grant even if this run dies.
        """
        expires_at = datetime.now(UTC) + timedelta(minutes=request["duration_minutes"])
        change: dict[str, Any] = {
            "user_id": request["user_id"],
            "role": request["role"],
            "reason": jit_reason(expires_at, request["justification"]),
        }
        group = request["account_group"]
        if group:
            change["account_group"] = group
        grant = {**change, "action": ADD_GROUP_ROLE if group else ASSIGN_ROLE, "notify_user": False}
        revoke = {**change, "action": REMOVE_GROUP_ROLE if group else REVOKE_ROLE}
        return {"grant": [grant], "revoke": [revoke], "expires_at": expires_at.isoformat()}

    window = open_window(request)
    approved = {
        "approval": approve.output,
        "requested_by": REQUESTER,
        "require_approval": True,
    }
    grant = BoomiApplyAccessChangesOperator(
        task_id="grant",
        boomi_conn_id="{{ params.boomi_conn_id }}",
        # One task per Boomi account at a time, across DAGs and workers (docs/scale.md); the
        # pool of the parameter's default connection (pools are fixed at parse time).
        pool=boomi_pool("boomi_default"),
        changes=window["grant"],
        ledger_path="{{ params.ledger_path }}",
        **approved,
    )
    wait = DateTimeSensorAsync(
        task_id="wait_until_expiry",
        target_time="{{ ti.xcom_pull(task_ids='open_window')['expires_at'] }}",
    )
    revoke = BoomiApplyAccessChangesOperator(
        task_id="revoke",
        boomi_conn_id="{{ params.boomi_conn_id }}",
        pool=boomi_pool("boomi_default"),
        changes=window["revoke"],
        ledger_path="{{ params.ledger_path }}",
        **approved,
    )

    @task
    def verify(revoked: dict[str, Any]) -> dict[str, Any]:
        """Fail unless every revoke ended applied or already satisfied, as read back from Boomi."""
        bad = [o for o in revoked["outcomes"] if o["outcome"] not in (APPLIED, ALREADY_SATISFIED)]
        if bad:
            raise RuntimeError(f"JIT revoke did not take effect: {bad}")
        return {"verified": len(revoked["outcomes"])}

    @task.short_circuit
    def granted_by_this_run(granted: dict[str, Any]) -> bool:
        """Only take away what this run gave: a role the user already held stays."""
        return any(o["outcome"] == APPLIED for o in granted["outcomes"])

    request >> approve >> window >> grant
    granted_by_this_run(grant.output) >> wait >> revoke
    verify(revoke.output)


boomi_jit_access()
