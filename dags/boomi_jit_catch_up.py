"""Revoke just-in-time grants whose time is up but whose revoke failed, was delayed or never ran.

Every 15 minutes, ``find_overdue`` reads the provisioning ledger and lists the JIT grants of the
connection's account that are past their expiry (``JIT until <expiry>: ...`` in the grant's
reason, written by ``boomi_jit_access``) with no revoke recorded after them. ``revoke`` takes
them away through the same provisioning operator as every other change (the Standard User
safeguard, ``max_changes`` and every other rule apply), each revoke in the ledger; ``report``
returns and logs the list of what was revoked, and fails the run when a revoke did not take
effect or the ledger holds a JIT reason that cannot be read, so someone looks.

A grant the ledger shows revoked is never touched again, and a revoke that finds the role
already gone is ``already_satisfied``: running this DAG while a JIT run is revoking is safe.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_boomi.operators.pools import boomi_pool
from airflow_provider_boomi.operators.provisioning import (
    ALREADY_SATISFIED,
    APPLIED,
    RESULT_XCOM_KEY,
    BoomiApplyAccessChangesOperator,
    BoomiOverdueJitGrantsOperator,
)

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")
log = logging.getLogger(__name__)


@dag(
    dag_id="boomi_jit_catch_up",
    schedule="*/15 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["boomi", "provisioning", "jit"],
    doc_md=__doc__,
    params={
        "boomi_conn_id": Param("boomi_default", type="string"),
        "ledger_path": Param(f"{DATA_DIR}/ledger", type="string", description="The JIT DAG's ledger"),
        "max_changes": Param(25, type="integer", minimum=1, description="Most revokes in one run"),
    },
)
def boomi_jit_catch_up() -> None:
    find = BoomiOverdueJitGrantsOperator(
        task_id="find_overdue",
        boomi_conn_id="{{ params.boomi_conn_id }}",
        ledger_path="{{ params.ledger_path }}",
    )

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def anything_overdue(found: dict[str, Any]) -> bool:
        """Skip the revoke when no grant is overdue (the report still runs)."""
        return bool(found["changes"])

    revoke = BoomiApplyAccessChangesOperator(
        task_id="revoke",
        boomi_conn_id="{{ params.boomi_conn_id }}",
        # One task per Boomi account at a time, across DAGs and workers (docs/scale.md); the
        # pool of the parameter's default connection (pools are fixed at parse time).
        pool=boomi_pool("boomi_default"),
        changes=find.output,
        ledger_path="{{ params.ledger_path }}",
        max_changes="{{ params.max_changes }}",
    )

    # all_done: the report also runs when the revoke failed, and says which grants are still held.
    @task(trigger_rule="all_done")
    def report(found: dict[str, Any], ti: Any = None) -> dict[str, Any]:
        """List the overdue grants with how each revoke ended; fail if any is still not revoked."""
        revoked = None
        if found["changes"]:
            # A failed revoke task publishes its result under RESULT_XCOM_KEY instead.
            revoked = ti.xcom_pull(task_ids="revoke") or ti.xcom_pull(task_ids="revoke", key=RESULT_XCOM_KEY)
        outcomes = [o["outcome"] for o in (revoked or {}).get("outcomes") or []]
        if len(outcomes) != len(found["overdue"]):
            outcomes = [None] * len(found["overdue"])  # the revoke never ran or stopped before any change
        pairs = zip(found["overdue"], outcomes, strict=True)
        rows = [{**grant, "revoke_outcome": outcome} for grant, outcome in pairs]
        lines = [
            f"- {r['user_id']}: {r['role_name'] or r['role_id']}"
            + (f" in {r['account_group_name'] or r['account_group_id']}" if r["account_group_id"] else "")
            + f", expired {r['expires_at']}, granted by run {r['run_id']}: revoke {r['revoke_outcome']}"
            for r in rows
        ]
        log.info(
            "JIT catch-up for account %s: %d overdue grant(s)%s",
            found["account_id"],
            len(rows),
            (":\n" + "\n".join(lines)) if lines else "",
        )
        not_revoked = [r for r in rows if r["revoke_outcome"] not in (APPLIED, ALREADY_SATISFIED)]
        unreadable = found["unreadable"]
        if not_revoked or unreadable:
            raise AirflowFailException(
                f"{len(not_revoked)} overdue JIT grant(s) not revoked: {not_revoked}; "
                f"{len(unreadable)} ledger row(s) with an unreadable JIT reason: {unreadable}"
            )
        return {"account_id": found["account_id"], "revoked": rows}

    found = find.output
    anything_overdue(found) >> revoke >> report(found)


boomi_jit_catch_up()
