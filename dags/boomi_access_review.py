"""Access-review campaign for each new Boomi snapshot.

Scheduled on the asset ``boomi_access_snapshot`` that ``boomi_access_sync`` emits: every new
snapshot starts a campaign. The campaign has one review item per grant (global roles and
account-group roles), flagged privileged, new since the previous review, never reviewed, or
held only through an account group, each with a reviewer from the owners mapping. It writes,
for reviewers who never open Airflow:

* ``{campaign_id}-review.csv`` and ``{campaign_id}-review.xlsx`` with an empty ``decision``
  column (keep / revoke);
* ``{campaign_id}-report.html``, self-contained: summary, changes since the previous snapshot,
  privileged access, charts of grants by role and by group;
* ``campaign.json``, the campaign itself (what decisions are validated against).

Send the filled workbook back through ``boomi_apply_review_decisions``.

Parameters: ``output_path`` (the snapshot store), ``reviews_path`` (one folder per campaign),
``account_id`` (only for manual runs on a store holding several accounts), ``owners`` (role or
group, by id or name, to reviewer email) and ``default_reviewer``.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, dag, task

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")
BOOMI_SNAPSHOT = Asset(name="boomi_access_snapshot")


@dag(
    dag_id="boomi_access_review",
    schedule=[BOOMI_SNAPSHOT],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["boomi", "access-review"],
    doc_md=__doc__,
    params={
        "output_path": Param(f"{DATA_DIR}/snapshots", type="string", description="Snapshot store root"),
        "reviews_path": Param(f"{DATA_DIR}/reviews", type="string", description="Campaign folders"),
        "account_id": Param("", type="string", description="Manual runs: account to review"),
        "owners": Param({}, type="object", description="Role/group (id or name) -> reviewer email"),
        "default_reviewer": Param("", type="string", description="Reviewer of everything else"),
    },
)
def boomi_access_review() -> None:
    @task
    def build_review(
        params: dict[str, Any] | None = None, triggering_asset_events: Any = None
    ) -> dict[str, Any]:
        """Build the campaign for the triggering snapshot (or the latest one) and write its files."""
        from airflow_provider_boomi.dataset import SnapshotStore
        from airflow_provider_boomi.review import build_campaign, write_campaign

        assert params is not None
        store = SnapshotStore(params["output_path"])
        account_id, sync_id = params["account_id"] or None, None
        for events in (triggering_asset_events or {}).values():
            for event in events:  # the newest event of the run wins
                extra = event.extra or {}
                account_id, sync_id = extra.get("account_id", account_id), extra.get("sync_id", sync_id)
        if account_id is None:
            accounts = store.accounts()
            if len(accounts) != 1:
                raise ValueError(
                    f"the store holds {len(accounts)} accounts ({', '.join(accounts) or 'none'}); "
                    "set the account_id param"
                )
            account_id = accounts[0]
        os.makedirs(params["reviews_path"], exist_ok=True)  # earlier campaigns live here (none at first)
        campaign = build_campaign(
            store,
            account_id,
            sync_id,
            owners=params["owners"] or None,
            default_reviewer=params["default_reviewer"] or None,
            previous_campaign_dir=params["reviews_path"],
        )
        files = write_campaign(campaign, f"{params['reviews_path']}/{campaign.campaign_id}")
        return {
            "campaign_id": campaign.campaign_id,
            "account_id": campaign.account_id,
            "sync_id": campaign.sync_id,
            "campaign_dir": str(files.campaign_json.parent),
            **files.to_dict(),
            "summary": campaign.summary(),
        }

    build_review()


boomi_access_review()
