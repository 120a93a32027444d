"""A review cycle of your own, composed from the provider's operators (docs/operators-review.md).

Two DAGs: the first takes a snapshot, loads it into the warehouse (its own schema) and builds
the campaign; reviewers fill the workbook; the second reads their decisions, previews and
applies the revocations, takes a fresh snapshot, loads it, verifies every revocation and writes
the evidence bundle. Every path lives under the ``data`` parameter: a local folder or an object
store URL such as ``s3://bucket/boomi`` (snapshots, campaigns, ledger and evidence then live
there). The DuckDB warehouse is a local file: ``{data}/warehouse.duckdb`` unless the ``warehouse``
parameter names one (set it when ``data`` is a URL).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_boomi.operators.evidence import BoomiEvidenceBundleOperator
from airflow_provider_boomi.operators.provisioning import BoomiApplyAccessChangesOperator
from airflow_provider_boomi.operators.review import BoomiReviewCampaignOperator, BoomiReviewDecisionsOperator
from airflow_provider_boomi.operators.sync import BoomiSyncOperator
from airflow_provider_boomi.operators.verification import BoomiVerifyChangesOperator
from airflow_provider_boomi.operators.warehouse import BoomiWarehouseLoadOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
SNAPSHOTS = "{{ params.data }}/snapshots"
WAREHOUSE = "{{ params.warehouse or (params.data ~ '/warehouse.duckdb') }}"

with DAG(
    dag_id="my_boomi_campaign",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"data": Param("/data/boomi", type="string"), "warehouse": Param("", type="string")},
):
    sync = BoomiSyncOperator(task_id="sync", output_path=SNAPSHOTS)
    BoomiWarehouseLoadOperator(
        task_id="load", snapshot=sync.output, duckdb_path=WAREHOUSE, schema="access_review"
    )
    BoomiReviewCampaignOperator(
        task_id="campaign",
        output_path=SNAPSHOTS,
        reviews_path="{{ params.data }}/reviews",
        snapshot=sync.output,
        default_reviewer="security@acme.example",
    )

with DAG(
    dag_id="my_boomi_apply",
    schedule=None,
    start_date=START,
    catchup=False,
    params={
        "data": Param("/data/boomi", type="string"),
        "warehouse": Param("", type="string"),
        "campaign_dir": Param("", type="string", minLength=1),
        "workbook_path": Param("", type="string", minLength=1),
    },
):
    decisions = BoomiReviewDecisionsOperator(
        task_id="decisions",
        campaign_dir="{{ params.campaign_dir }}",
        workbook_path="{{ params.workbook_path }}",
    )
    ledger = "{{ params.data }}/ledger"
    plan = BoomiApplyAccessChangesOperator(
        task_id="plan", changes=decisions.output, dry_run=True, ledger_path=ledger
    )
    apply = BoomiApplyAccessChangesOperator(task_id="apply", changes=decisions.output, ledger_path=ledger)
    resync = BoomiSyncOperator(task_id="resync", output_path=SNAPSHOTS, event_extra={"kind": "verification"})
    load = BoomiWarehouseLoadOperator(
        task_id="load", snapshot=resync.output, duckdb_path=WAREHOUSE, schema="access_review"
    )
    verify = BoomiVerifyChangesOperator(
        task_id="verify", snapshot=resync.output, changes=decisions.output, outcomes=apply.output
    )
    evidence = BoomiEvidenceBundleOperator(
        task_id="evidence",
        evidence_path="{{ params.data }}/evidence",
        campaign_dir="{{ params.campaign_dir }}",
        workbook_path="{{ params.workbook_path }}",
        changes=decisions.output,
        verification=verify.output,
        ledger_path=ledger,
        snapshot_root=SNAPSHOTS,
        resync=resync.output,
    )
    plan >> apply >> resync >> [load, verify]
    verify >> evidence
