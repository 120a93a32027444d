"""The access sync mapped over several Boomi accounts, one connection each.

Boomi's rate limit is per account, so accounts sync independently: dynamic task mapping
creates one ``BoomiSyncOperator`` task per connection id, and the executor spreads them over
its workers. A connection to an account already in the list is skipped, so one account is never
synced twice at once. Each account's snapshots live under the same ``output_path``
(``account_id=.../sync_id=...``). A final task summarises the row counts of every account.

Parameters: ``boomi_conn_ids`` (the list of connection ids, one per account) and
``output_path``.

Each failed account sync writes a failure record under its ``account_id=<id>/failures/`` and is
reported by ``on_failure_callback``: an email to ``$BOOMI_ALERT_EMAIL`` (``smtp_default``
connection) when the variable is set, else an ERROR log line.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from airflow_provider_boomi.operators.sync import BoomiSyncOperator, sync_failure_notifier

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")


@dag(
    dag_id="boomi_multi_account_sync",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["boomi", "access-review"],
    doc_md=__doc__,
    params={
        "boomi_conn_ids": Param(["boomi_default"], type="array", items={"type": "string"}, minItems=1),
        "output_path": Param(f"{DATA_DIR}/snapshots", type="string"),
    },
)
def boomi_multi_account_sync() -> None:
    @task
    def connections(params: dict[str, Any] | None = None) -> list[str]:
        """One connection per account: two syncs of one account would compete for its rate limit."""
        from airflow_provider_boomi.hooks.boomi import BoomiHook

        assert params is not None
        chosen: dict[tuple[str, str], str] = {}
        for conn_id in params["boomi_conn_ids"]:
            config = BoomiHook(boomi_conn_id=conn_id).get_config()
            account = (config.base_url, config.account_id)
            if account in chosen:
                print(
                    f"skipping {conn_id}: account {config.account_id} is already synced by {chosen[account]}"
                )
                continue
            chosen[account] = conn_id
        return list(chosen.values())

    syncs = BoomiSyncOperator.partial(
        task_id="sync",
        output_path="{{ params.output_path }}",
        map_index_template="{{ task.boomi_conn_id }}",
        on_failure_callback=sync_failure_notifier(),
    ).expand(boomi_conn_id=connections())

    @task
    def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
        """One line per account: its sync id and row counts."""
        return {r["account_id"]: {"sync_id": r["sync_id"], "row_counts": r["row_counts"]} for r in results}

    summarize(syncs.output)


boomi_multi_account_sync()
