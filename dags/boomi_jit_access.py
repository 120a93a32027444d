"""Just-in-time Boomi access: grant, wait without holding a worker slot, revoke, verify.

Trigger it with a user, a role (or an account group and a role), a duration and a
justification. The DAG refuses durations longer than ``BOOMI_JIT_MAX_MINUTES`` (default 480)
before touching Boomi, grants the role, waits with a deferrable sensor (the wait runs in the
triggerer, so no worker slot is held for hours), revokes the role and verifies from Boomi
that the user no longer holds it. Every change lands in the provisioning ledger with the
justification.

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
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import Param, dag, task

from airflow_provider_boomi.operators.provisioning import BoomiApplyAccessChangesOperator

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")
MAX_MINUTES = float(os.environ.get("BOOMI_JIT_MAX_MINUTES", "480"))


@dag(
    dag_id="boomi_jit_access",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["boomi", "provisioning", "jit"],
    doc_md=__doc__,
    params={
        "boomi_conn_id": Param("boomi_default", type="string"),
        "user_id": Param("", type="string", description="The user's email (Boomi userId)"),
        "role": Param("", type="string", description="Role id or exact role name"),
        "account_group": Param(
            "", type="string", description="Account group id or name; empty = global role"
        ),
        "duration_minutes": Param(60, type="number", exclusiveMinimum=0, description="How long access lasts"),
        "justification": Param("", type="string", description="Why; recorded in the ledger"),
        "ledger_path": Param(f"{DATA_DIR}/ledger", type="string"),
    },
)
def boomi_jit_access() -> None:
    @task
    def plan(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate the request and compute the grant, the revoke and the expiry time."""
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
        change: dict[str, Any] = {
            "user_id": params["user_id"].strip(),
            "role": params["role"].strip(),
            "reason": f"JIT: {params['justification'].strip()} ({minutes:g} min)",
        }
        group = params["account_group"].strip()
        if group:
            change["account_group"] = group
        grant = {**change, "action": "add_group_role" if group else "assign_role", "notify_user": False}
        revoke = {**change, "action": "remove_group_role" if group else "revoke_role"}
        expires_at = datetime.now(UTC) + timedelta(minutes=minutes)
        return {"grant": [grant], "revoke": [revoke], "expires_at": expires_at.isoformat()}

    request = plan()

    grant = BoomiApplyAccessChangesOperator(
        task_id="grant",
        boomi_conn_id="{{ params.boomi_conn_id }}",
        changes=request["grant"],
        ledger_path="{{ params.ledger_path }}",
    )
    wait = DateTimeSensorAsync(
        task_id="wait_until_expiry",
        target_time="{{ ti.xcom_pull(task_ids='plan')['expires_at'] }}",
    )
    revoke = BoomiApplyAccessChangesOperator(
        task_id="revoke",
        boomi_conn_id="{{ params.boomi_conn_id }}",
        changes=request["revoke"],
        ledger_path="{{ params.ledger_path }}",
    )

    @task
    def verify(revoked: dict[str, Any]) -> dict[str, Any]:
        """Fail unless every revoke ended applied or already satisfied, as read back from Boomi."""
        bad = [o for o in revoked["outcomes"] if o["outcome"] not in ("applied", "already_satisfied")]
        if bad:
            raise RuntimeError(f"JIT revoke did not take effect: {bad}")
        return {"verified": len(revoked["outcomes"])}

    @task.short_circuit
    def granted_by_this_run(granted: dict[str, Any]) -> bool:
        """Only take away what this run gave: a role the user already held stays."""
        return any(o["outcome"] == "applied" for o in granted["outcomes"])

    request >> grant
    granted_by_this_run(grant.output) >> wait >> revoke
    verify(revoke.output)


boomi_jit_access()
