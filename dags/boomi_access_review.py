"""Access-review campaign for each new Boomi snapshot (optional: continuous review).

Most teams review on a calendar with ``boomi_quarterly_review`` (a campaign definition, its own
schedule, attestation tokens). This DAG is the optional continuous review: scheduled on the
asset ``boomi_access_snapshot`` that ``boomi_access_sync`` emits, every new snapshot starts a
campaign. The campaign has one review item per grant (global roles and
account-group roles), flagged privileged, new since the previous review, never reviewed, or
held only through an account group, each with a reviewer from the owners mapping (never the
item's own user: such items go to ``default_reviewer``). It writes, for reviewers who never
open Airflow:

* ``reviewers/{reviewer}.xlsx``: one workbook per reviewer with only their items;
* ``{campaign_id}-review.csv`` and ``{campaign_id}-review.xlsx`` with every item and an empty
  ``decision`` column (keep / revoke);
* ``{campaign_id}-report.html``, self-contained: summary, changes since the previous snapshot,
  privileged access, charts of grants by role and by group;
* ``campaign.json``, the campaign itself (what decisions are validated against).

Send the filled workbook back through ``boomi_apply_review_decisions``. The snapshot that DAG
takes after applying decisions is announced on the same asset with ``kind: verification``;
it builds no campaign (the task is skipped).

Parameters: ``output_path`` (the snapshot store), ``reviews_path`` (one folder per campaign),
``account_id`` (only for manual runs on a store holding several accounts), ``owners`` (role or
group, by id or name, to reviewer email) and ``default_reviewer``.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Asset, Param, dag

from airflow_provider_boomi.operators.review import BoomiReviewCampaignOperator

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")
BOOMI_SNAPSHOT = Asset(name="boomi_access_snapshot")


@dag(
    dag_id="boomi_access_review",
    schedule=[BOOMI_SNAPSHOT],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["boomi", "access-review"],
    doc_md=__doc__,
    render_template_as_native_obj=True,  # ``owners`` stays a mapping
    params={
        "output_path": Param(f"{DATA_DIR}/snapshots", type="string", description="Snapshot store root"),
        "reviews_path": Param(f"{DATA_DIR}/reviews", type="string", description="Campaign folders"),
        "account_id": Param("", type="string", description="Manual runs: account to review"),
        "owners": Param({}, type="object", description="Role/group (id or name) -> reviewer email"),
        "default_reviewer": Param("", type="string", description="Reviewer of everything else"),
    },
)
def boomi_access_review() -> None:
    BoomiReviewCampaignOperator(
        task_id="build_review",
        output_path="{{ params.output_path }}",
        reviews_path="{{ params.reviews_path }}",
        account_id="{{ params.account_id }}",
        owners="{{ params.owners }}",
        default_reviewer="{{ params.default_reviewer }}",
    )


boomi_access_review()
