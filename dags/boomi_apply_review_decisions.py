"""Apply the decisions of a Boomi access review, prove they took effect, and keep the evidence.

Trigger it with the campaign folder (written by ``boomi_quarterly_review`` or
``boomi_access_review``) and the filled
workbook (CSV or XLSX, ``decision`` = keep or revoke for every row). The DAG:

1. ``validate``: reads the workbook against the campaign. Unknown or duplicate items, missing
   decisions and bad values fail here, naming the rows, before anything touches Boomi. A
   reviewer's workbook (``boomi_quarterly_review``) must carry its attestation token, verified
   with the ``attestation_conn_id`` connection; the reviewer and the time are recorded with
   every decision, and a workbook holding another reviewer's item is refused. The
   decisions are recorded in the campaign folder (later campaigns use them for
   ``never_reviewed``) and become a change set of revocations.
2. ``plan``: a dry run of the revocations: what would change, against Boomi's current state.
3. ``approve``: the plan (counts and the first changes) waits for an approver in Airflow's UI
   (**Required Actions**). Rejected, or unanswered for ``BOOMI_APPROVAL_TIMEOUT_MINUTES``
   (default 1440), every later step is skipped and Boomi is not touched. Whoever triggered the
   run may not approve it.
4. ``apply``: the revocations, with Boomi's rules (a user's last global role is replaced by
   Standard User first; users are never deleted), each in the ledger with the approver and the
   time of the approval.
5. ``resync``: a fresh snapshot of the account, announced on the asset ``boomi_access_snapshot``
   with ``kind: verification`` (it starts no campaign), and ``load_warehouse`` loads it, so the
   revocations show in the warehouse views like any other change.
6. ``verify``: every revoked grant is absent from the fresh snapshot, or the run fails.
7. ``evidence``: a folder for auditors with the campaign, the workbook, the decisions, the
   change set, the ledger rows of this run, the verification, both snapshot manifests and an
   index (``index.json`` with sha256 of every file, ``index.md`` to read).

With no revocations, steps 2 to 6 are skipped and the evidence still records the decisions.
Every step is an operator of the provider, so the same flow can be composed in your own DAG.
The connection must have ``provisioning_enabled: true``; ``max_changes`` (default 25) guards
against an unexpectedly large batch and must be raised on purpose.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Asset, Param, dag, task

from airflow_provider_boomi.operators.evidence import BoomiEvidenceBundleOperator
from airflow_provider_boomi.operators.pools import boomi_pool
from airflow_provider_boomi.operators.provisioning import (
    BoomiApplyAccessChangesOperator,
    approval_settings,
    change_plan_markdown,
)
from airflow_provider_boomi.operators.review import BoomiReviewDecisionsOperator
from airflow_provider_boomi.operators.sync import BoomiSyncOperator
from airflow_provider_boomi.operators.verification import BoomiVerifyChangesOperator
from airflow_provider_boomi.operators.warehouse import BoomiWarehouseLoadOperator

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")
BOOMI_SNAPSHOT = Asset(name="boomi_access_snapshot")


@dag(
    dag_id="boomi_apply_review_decisions",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["boomi", "access-review", "provisioning"],
    doc_md=__doc__,
    user_defined_macros={"change_plan_markdown": change_plan_markdown},
    params={
        "campaign_dir": Param("", type="string", minLength=1, description="Folder of the campaign"),
        "workbook_path": Param("", type="string", minLength=1, description="The filled CSV or XLSX"),
        "boomi_conn_id": Param("boomi_default", type="string"),
        "output_path": Param(f"{DATA_DIR}/snapshots", type="string", description="Snapshot store root"),
        "ledger_path": Param(f"{DATA_DIR}/ledger", type="string", description="Provisioning ledger"),
        "evidence_path": Param(f"{DATA_DIR}/evidence", type="string", description="Evidence bundles"),
        "warehouse_path": Param(f"{DATA_DIR}/warehouse.duckdb", type="string", description="DuckDB file"),
        "warehouse_conn_id": Param("", type="string", description="common-sql connection; empty = DuckDB"),
        "warehouse_schema": Param("", type="string", description="Target schema; empty = the default"),
        "max_changes": Param(25, type="integer", minimum=1, description="Largest batch accepted"),
        "allow_user_removal": Param(
            False,
            type="boolean",
            description="Apply remove_user decisions (offboard: every role in this account); off: refused",
        ),
        "attestation_conn_id": Param(
            "",
            type="string",
            description="Connection whose password signed the reviewers' tokens (quarterly campaigns: "
            "boomi_review_attestation); empty = the workbook carries no token",
        ),
    },
)
def boomi_apply_review_decisions() -> None:
    validate = BoomiReviewDecisionsOperator(
        task_id="validate",
        campaign_dir="{{ params.campaign_dir }}",
        workbook_path="{{ params.workbook_path }}",
        attestation_conn_id="{{ params.attestation_conn_id }}",
    )

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def has_revocations(validated: dict[str, Any]) -> bool:
        """Skip plan, apply, resync, load and verify when every decision was keep."""
        return bool(validated["revocations"])

    common = {
        "boomi_conn_id": "{{ params.boomi_conn_id }}",
        # One task per Boomi account at a time, across DAGs and workers (docs/scale.md); the
        # pool of the parameter's default connection (pools are fixed at parse time).
        "pool": boomi_pool("boomi_default"),
        "ledger_path": "{{ params.ledger_path }}",
        "max_changes": "{{ params.max_changes }}",
        "allow_user_removal": "{{ params.allow_user_removal }}",
    }
    changes = validate.output  # every operator below takes its "changes"
    plan = BoomiApplyAccessChangesOperator(task_id="plan", changes=changes, dry_run=True, **common)
    # Reject (or the timeout, whose default is Reject) skips apply and everything after it.
    approve = ApprovalOperator(
        task_id="approve",
        subject="Apply the revocations of this access review?",
        body="{{ change_plan_markdown(ti.xcom_pull(task_ids='plan')) }}",
        ignore_downstream_trigger_rules=True,
        **approval_settings(),
    )
    apply = BoomiApplyAccessChangesOperator(
        task_id="apply",
        changes=changes,
        approval=approve.output,
        # The requester is whoever triggered the run; they may not approve it.
        requested_by="{{ dag_run.triggering_user_name or '' }}",
        require_approval=True,
        **common,
    )
    # A snapshot like any other: announced on the asset (as a verification snapshot, which
    # starts no campaign) and loaded into the warehouse, so the revocations show in
    # boomi_access_changes and boomi_grant_history.
    resync = BoomiSyncOperator(
        task_id="resync",
        boomi_conn_id="{{ params.boomi_conn_id }}",
        pool=boomi_pool("boomi_default"),
        output_path="{{ params.output_path }}",
        outlets=[BOOMI_SNAPSHOT],
        event_extra={
            "kind": "verification",
            "campaign_id": "{{ ti.xcom_pull(task_ids='validate')['campaign_id'] }}",
        },
    )
    load = BoomiWarehouseLoadOperator(
        task_id="load_warehouse",
        snapshot=resync.output,
        duckdb_path="{{ params.warehouse_path }}",
        warehouse_conn_id="{{ params.warehouse_conn_id }}",
        schema="{{ params.warehouse_schema }}",
    )
    verify = BoomiVerifyChangesOperator(
        task_id="verify",
        snapshot=resync.output,
        changes=changes,
        outcomes=apply.output,
    )
    evidence = BoomiEvidenceBundleOperator(
        task_id="evidence",
        evidence_path="{{ params.evidence_path }}",
        campaign_dir="{{ params.campaign_dir }}",
        workbook_path="{{ params.workbook_path }}",
        changes=changes,
        verification=verify.output,
        ledger_path="{{ params.ledger_path }}",
        snapshot_root="{{ params.output_path }}",
        resync=resync.output,
        trigger_rule="none_failed",
    )

    has_revocations(validate.output) >> plan >> approve >> apply >> resync >> [load, verify]
    verify >> evidence


boomi_apply_review_decisions()
