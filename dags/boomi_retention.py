"""Weekly retention: delete old snapshots, findings, workbooks and campaigns; keep evidence.

Runs every Sunday at 03:00 UTC and applies the retention policy (``docs/retention.md``) to the
snapshot store, the findings, the campaign folders and the evidence bundles. It is a **dry run**
unless the run's ``dry_run`` param is false: the report (logged, and written to
``{data}/retention/report-<run id>.json``) lists what would be deleted and what is kept, and why.
Read it once, then trigger a run with ``dry_run`` false (or change the default below).

Snapshots are pruned, not erased: their table files go, their manifests stay so the hash chain
still verifies (``python -m airflow_provider_boomi.verify_chain``). Never deleted: the latest
``keep_latest_snapshots`` snapshots of each account, anything an open campaign uses, and an
evidence bundle younger than ``evidence_days`` (the audit period, seven years by default).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Param, dag

from airflow_provider_boomi.operators.retention import BoomiRetentionOperator

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")

POLICY = {
    "snapshots_days": 400,
    "keep_latest_snapshots": 3,
    "findings_days": 400,
    "workbooks_days": 180,
    "campaigns_days": 1095,
    "evidence_days": 7 * 365 + 2,
    "open_campaign_grace_days": 30,
}


@dag(
    dag_id="boomi_retention",
    schedule="0 3 * * 0",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["boomi", "retention"],
    doc_md=__doc__,
    render_template_as_native_obj=True,  # ``policy`` stays a mapping, ``dry_run`` a boolean
    params={
        "output_path": Param(f"{DATA_DIR}/snapshots", type="string", description="Snapshot store root"),
        "reviews_path": Param(f"{DATA_DIR}/reviews", type="string", description="Campaign folders"),
        "findings_path": Param(f"{DATA_DIR}/findings", type="string", description="Findings root"),
        "evidence_path": Param(f"{DATA_DIR}/evidence", type="string", description="Evidence bundles"),
        "report_dir": Param(f"{DATA_DIR}/retention", type="string", description="Where reports go"),
        "policy": Param(POLICY, type="object", description="Days each kind of output is kept"),
        "dry_run": Param(True, type="boolean", description="List what would be deleted; delete nothing"),
    },
)
def boomi_retention() -> None:
    BoomiRetentionOperator(
        task_id="apply_retention",
        policy="{{ params.policy }}",
        output_path="{{ params.output_path }}",
        reviews_path="{{ params.reviews_path }}",
        findings_path="{{ params.findings_path }}",
        evidence_path="{{ params.evidence_path }}",
        dry_run="{{ params.dry_run }}",
        # One report per run; ':' and '+' of the run id have no place in a file name.
        report_path="{{ params.report_dir }}/report-"
        "{{ run_id | replace(':', '-') | replace('+', '-') }}.json",
    )


boomi_retention()
