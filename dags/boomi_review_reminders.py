"""Daily: remind reviewers, escalate overdue reviews, and record each campaign's progress.

For every campaign folder under ``reviews_path``:

* ``notify`` emails what the day calls for through the SMTP connection ``smtp_conn_id``: a
  reminder 7 days and 1 day before the due date to each reviewer with items still undecided,
  and from the day after the due date an escalation to them with ``escalation_email`` in Cc
  (repeated weekly while items stay pending). Reviewers who have decided everything hear
  nothing. What was sent is recorded in the campaign's ``notifications/``: a retry or a
  second run on the same day sends nothing again. Campaigns without a due date are skipped.
* ``progress`` loads, into the DuckDB file ``warehouse_path``, each campaign's status per
  reviewer (``boomi_review_status``: items, decided, pending, overdue) and where every revoke
  decision stands (``boomi_review_remediation``: pending, applied, verified, contradicted or
  overdue, ``remediation_days`` after the decision), from the provisioning ledger at
  ``ledger_path`` and the latest snapshot in ``output_path``. Reloading a day replaces it.

The two tasks are independent: a refused address fails ``notify`` (naming it and what to fix)
without holding back the progress tables. The ``ready`` message of a new campaign is sent by
the DAG that builds it.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Param, dag

from airflow_provider_boomi.operators.notifications import (
    BoomiReviewNotificationsOperator,
    BoomiReviewProgressOperator,
)

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")


@dag(
    dag_id="boomi_review_reminders",
    schedule="0 7 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    # One run at a time: two runs on one day would plan the same messages at once.
    max_active_runs=1,
    tags=["boomi", "access-review"],
    doc_md=__doc__,
    params={
        "reviews_path": Param(f"{DATA_DIR}/reviews", type="string", description="Campaign folders"),
        "smtp_conn_id": Param("smtp_default", type="string", description="SMTP connection"),
        "escalation_email": Param("", type="string", description="Copied on escalations (empty: nobody)"),
        "ledger_path": Param(f"{DATA_DIR}/ledger", type="string", description="Provisioning ledger"),
        "output_path": Param(f"{DATA_DIR}/snapshots", type="string", description="Snapshot store root"),
        "warehouse_path": Param(f"{DATA_DIR}/warehouse.duckdb", type="string", description="DuckDB file"),
        "remediation_days": Param(14, type="integer", minimum=0, description="Days to remove a grant"),
        "today": Param("", type="string", description="Day to act for (YYYY-MM-DD)"),
    },
)
def boomi_review_reminders() -> None:
    BoomiReviewNotificationsOperator(
        task_id="notify",
        reviews_path="{{ params.reviews_path }}",
        kind="auto",
        smtp_conn_id="{{ params.smtp_conn_id }}",
        escalation_email="{{ params.escalation_email }}",
        today="{{ params.today }}",
    )
    BoomiReviewProgressOperator(
        task_id="progress",
        reviews_path="{{ params.reviews_path }}",
        ledger_path="{{ params.ledger_path }}",
        output_path="{{ params.output_path }}",
        duckdb_path="{{ params.warehouse_path }}",
        remediation_days="{{ params.remediation_days }}",
        today="{{ params.today }}",
    )


boomi_review_reminders()
