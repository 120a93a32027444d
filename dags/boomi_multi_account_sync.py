"""The access sync of several Boomi accounts: one connection, one task and one pool per account.

The accounts are the connection ids in the environment variable ``BOOMI_ACCOUNT_CONN_IDS``
(comma-separated; ``boomi_default`` when unset), read when this file is parsed. Each gets a
``BoomiSyncOperator`` task of its own, ``sync_<connection id>``, in its account's pool
``boomi:<connection id>``, so it never runs at the same time as another task calling that account
(a sync or a provisioning run of another DAG), on any worker. Set the variable in the environment
of the DAG processor **and** of every worker (a worker parses this file again to run a task), and
create the pools first: ``python -m airflow_provider_boomi.operators.pools --from-env``.

``choose_accounts`` runs first: it syncs the accounts of the ``boomi_conn_ids`` parameter (all
of them when it is empty, the default), fails when the parameter names a connection the variable
does not list, and skips a second connection to an account already in the run (one account is
synced once). Every account's snapshots live under the same ``output_path``
(``account_id=.../sync_id=...``). A final task summarises the row counts of every account synced.

Parameters: ``boomi_conn_ids`` (some of the accounts, to sync only those; empty: all) and
``output_path``.

Each failed account sync writes a failure record under its ``account_id=<id>/failures/`` and is
reported by ``on_failure_callback``: an email to ``$BOOMI_ALERT_EMAIL`` (``smtp_default``
connection) when the variable is set, else an ERROR log line.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_boomi.operators.pools import (
    ACCOUNTS_ENV_VAR,
    account_conn_ids,
    account_task_ids,
    boomi_pool,
)
from airflow_provider_boomi.operators.sync import BoomiSyncOperator, sync_failure_notifier

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")
# Read at parse time: pools are fixed then, so the accounts must be known then too. A bad list
# fails the import of this file, and the DAG processor shows the message as an import error.
SYNC_TASK_IDS = account_task_ids(account_conn_ids(), prefix="sync_")

log = logging.getLogger(__name__)


@dag(
    dag_id="boomi_multi_account_sync",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["boomi", "access-review"],
    doc_md=__doc__,
    params={
        # Empty means every account. Not the list itself: Airflow validates a DAG's params once
        # per task when it serialises the DAG, so a default of N ids costs N tasks x N items
        # (10 s for 1,000 accounts, measured) on every parse.
        "boomi_conn_ids": Param(
            [],
            type="array",
            items={"type": "string"},
            uniqueItems=True,
            description=f"The accounts to sync, among those of {ACCOUNTS_ENV_VAR}; empty: all of them",
        ),
        "output_path": Param(f"{DATA_DIR}/snapshots", type="string"),
    },
)
def boomi_multi_account_sync() -> None:
    @task.branch
    def choose_accounts(params: dict[str, Any] | None = None) -> list[str]:
        """The sync tasks to run: one per requested account, the first connection to it winning."""
        from airflow_provider_boomi.hooks.boomi import BoomiHook

        assert params is not None
        requested = list(dict.fromkeys(params["boomi_conn_ids"])) or list(SYNC_TASK_IDS)
        unknown = [conn_id for conn_id in requested if conn_id not in SYNC_TASK_IDS]
        if unknown:
            raise AirflowFailException(
                f"boomi_conn_ids names {unknown}, but this DAG has sync tasks only for "
                f"{list(SYNC_TASK_IDS)} (the connections of {ACCOUNTS_ENV_VAR} where the file was "
                f"parsed). Add them to {ACCOUNTS_ENV_VAR} in the DAG processor's and the workers' "
                "environment and create their pools, or leave them out of boomi_conn_ids."
            )
        chosen: dict[tuple[str, str], str] = {}
        for conn_id in requested:
            config = BoomiHook(boomi_conn_id=conn_id).get_config()
            account = (config.base_url, config.account_id)
            if account in chosen:
                # Two connections to one account also mean two pools for it: other DAGs using
                # this connection are not serialised with those using the first one.
                log.warning(
                    "Skipping %s: account %s is already synced by %s in this run. Use one "
                    "connection per account (and so one pool); remove %s from %s.",
                    conn_id,
                    config.account_id,
                    chosen[account],
                    conn_id,
                    ACCOUNTS_ENV_VAR,
                )
                continue
            chosen[account] = conn_id
        return [SYNC_TASK_IDS[conn_id] for conn_id in chosen.values()]

    syncs = [
        BoomiSyncOperator(
            task_id=task_id,
            boomi_conn_id=conn_id,
            # One task per Boomi account at a time, across DAGs and workers (docs/scale.md).
            pool=boomi_pool(conn_id),
            output_path="{{ params.output_path }}",
            on_failure_callback=sync_failure_notifier(),
        )
        for conn_id, task_id in SYNC_TASK_IDS.items()
    ]
    choose_accounts() >> syncs

    # none_failed: an account left out of this run (skipped) does not stop the summary; a
    # failed sync does.
    @task(trigger_rule="none_failed")
    def summarize(results: list[dict[str, Any] | None]) -> dict[str, Any]:
        """One line per account synced: its sync id and row counts (a skipped sync has no result)."""
        return {
            r["account_id"]: {"sync_id": r["sync_id"], "row_counts": r["row_counts"]}
            for r in results
            if r is not None
        }

    summarize([sync.output for sync in syncs])


boomi_multi_account_sync()
