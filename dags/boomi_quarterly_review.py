"""Quarterly access review: one campaign per account, on its own schedule, one workbook per reviewer.

The sync (``boomi_access_sync``) stays daily; this DAG runs on the first day of each quarter
(``0 6 1 1,4,7,10 *``, 06:00 UTC) and builds, from a campaign definition, one campaign per
account on that account's latest complete snapshot. A snapshot older than the definition's
``max_snapshot_age_hours`` (default 48) is refused: a stopped sync fails the review loudly
instead of reviewing stale access.

Each campaign folder (``{reviews_path}/{campaign_id}/``) holds:

* ``reviewers/{reviewer}.xlsx``: one workbook per reviewer with only their items, an
  Instructions sheet (campaign, reviewer, due date, how to fill, each role's description and
  privileges) and the reviewer's attestation token, signed with the password of the
  ``attestation_conn_id`` connection; context columns protected, user and name frozen;
* ``reviewers/unassigned.xlsx`` when some items have no possible reviewer;
* the all-items workbook (CSV, XLSX) for the data team, the HTML report (with the status per
  reviewer) and ``campaign.json``.

A reviewer never reviews their own access: such items go to the definition's
``fallback_reviewer``. Reviewers return their workbook; ``BoomiReviewDecisionsOperator`` with
the same ``attestation_conn_id`` verifies the token and records who decided and when.

Parameters: ``output_path`` (the snapshot store), ``reviews_path`` (campaign folders),
``definition`` (the campaign definition: accounts, kinds, owners, reviewers, precedence, due
date, maximum snapshot age, cadence, and the findings to flag items with, and whether items go
to each user's manager), ``attestation_conn_id`` (empty: no tokens, identity
then comes from the authenticated Airflow user who answers) and ``smtp_conn_id``.

Once the campaigns are written, every reviewer is emailed that their workbook is ready, with it
attached, through the SMTP connection ``smtp_conn_id`` (default ``smtp_default``; a missing
connection fails that task loudly, an empty value skips the emails). Reminders before the due
date and escalations after it come from ``boomi_review_reminders``.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from airflow_provider_boomi.operators.notifications import BoomiReviewNotificationsOperator
from airflow_provider_boomi.operators.review import BoomiReviewCampaignOperator

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")
#: 06:00 UTC on the first day of January, April, July and October.
QUARTERLY = "0 6 1 1,4,7,10 *"

# Who reviews what in the simulator's demo account: role and account-group owners (by name);
# the security team for everything else and for what an owner would review about themselves.
DEMO_OWNERS = {
    "Administrator": "cio@acme.example",
    "Account Admin Delegate": "cio@acme.example",
    "Release Manager": "head.of.engineering@acme.example",
    "Senior Developer": "head.of.engineering@acme.example",
    "Tech Lead": "head.of.engineering@acme.example",
    "Developer": "engineering.manager@acme.example",
    "Operator": "operations.lead@acme.example",
    "Production Support": "operations.lead@acme.example",
    "EMEA Customers": "emea.lead@acme.example",
    "Partner Support": "partner.manager@acme.example",
}
DEFINITION = {
    "name": "quarterly-uar",
    "account_ids": [],
    "kinds": ["user_role", "group_role"],
    "only_privileged": False,
    "owners": DEMO_OWNERS,
    "default_reviewer": "it-security@acme.example",
    "fallback_reviewer": "ciso@acme.example",
    "owner_precedence": "privileged_role_first",
    "due_in_days": 21,
    "max_snapshot_age_hours": 48,
    "cadence": "quarterly",
    "require_attestation": True,
    # The findings root (BoomiFindingsOperator's findings_path): items are flagged with the
    # findings of the reviewed snapshot (leaver, sod_conflict: <rule>...), and with
    # route_to_manager each user's items go to their manager from the identity source.
    "findings_path": None,
    "route_to_manager": False,
}


@dag(
    dag_id="boomi_quarterly_review",
    schedule=QUARTERLY,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["boomi", "access-review"],
    doc_md=__doc__,
    render_template_as_native_obj=True,  # ``definition`` stays a mapping
    params={
        "output_path": Param(f"{DATA_DIR}/snapshots", type="string", description="Snapshot store root"),
        "reviews_path": Param(f"{DATA_DIR}/reviews", type="string", description="Campaign folders"),
        "definition": Param(DEFINITION, type="object", description="The campaign definition"),
        "attestation_conn_id": Param(
            "boomi_review_attestation",
            type="string",
            description="Connection whose password signs the reviewers' tokens; empty = no tokens",
        ),
        "smtp_conn_id": Param(
            "smtp_default", type="string", description="SMTP connection for reviewer emails; empty = none"
        ),
    },
)
def boomi_quarterly_review() -> None:
    built = BoomiReviewCampaignOperator(
        task_id="build_campaigns",
        output_path="{{ params.output_path }}",
        reviews_path="{{ params.reviews_path }}",
        definition="{{ params.definition }}",
        attestation_conn_id="{{ params.attestation_conn_id }}",
    )

    @task.short_circuit
    def emails_configured(params: dict[str, Any] | None = None) -> bool:
        """Skip the emails only when the run says so (an empty ``smtp_conn_id``)."""
        assert params is not None
        if not params["smtp_conn_id"].strip():
            print("smtp_conn_id is empty: reviewers are not emailed; send them their workbooks yourself")
            return False
        return True

    tell = BoomiReviewNotificationsOperator(
        task_id="tell_reviewers",
        campaign=built.output,
        kind="ready",
        smtp_conn_id="{{ params.smtp_conn_id }}",
    )
    built >> emails_configured() >> tell


boomi_quarterly_review()
