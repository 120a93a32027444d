"""Daily Boomi access sync, then a warehouse load.

Extracts users, roles, account groups and every user-role and group-role grant of one Boomi
account into a complete, versioned Parquet snapshot (``BoomiSyncOperator``), then loads that
snapshot into the warehouse (DuckDB in a local file by default, or any database of Airflow's
common-sql family through its connection). The snapshot is the Airflow asset
``boomi_access_snapshot``: every successful run emits an asset event whose extra holds the
``sync_id`` and paths, and ``boomi_access_review`` is scheduled on it.

Parameters (``Param``s, so a manual run can override them):

* ``boomi_conn_id``: the Boomi connection (type ``boomi``).
* ``output_path``: where snapshots go; a local path or an object-storage URL.
* ``warehouse_path``: the DuckDB file, used when ``warehouse_conn_id`` is empty.
* ``warehouse_conn_id``: a common-sql connection (e.g. Postgres) to load into instead.

Defaults live under ``$BOOMI_DATA_DIR`` (``/tmp/airflow-provider-boomi`` when unset).
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, dag, task

from airflow_provider_boomi.operators.sync import BoomiSyncOperator

DATA_DIR = os.environ.get("BOOMI_DATA_DIR", "/tmp/airflow-provider-boomi")
BOOMI_SNAPSHOT = Asset(name="boomi_access_snapshot")


@dag(
    dag_id="boomi_access_sync",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["boomi", "access-review"],
    doc_md=__doc__,
    params={
        "boomi_conn_id": Param("boomi_default", type="string", description="Boomi connection id"),
        "output_path": Param(f"{DATA_DIR}/snapshots", type="string", description="Snapshot store root"),
        "warehouse_path": Param(f"{DATA_DIR}/warehouse.duckdb", type="string", description="DuckDB file"),
        "warehouse_conn_id": Param("", type="string", description="common-sql connection; empty = DuckDB"),
    },
)
def boomi_access_sync() -> None:
    sync = BoomiSyncOperator(
        task_id="sync",
        boomi_conn_id="{{ params.boomi_conn_id }}",
        output_path="{{ params.output_path }}",
        outlets=[BOOMI_SNAPSHOT],
    )

    @task
    def load_warehouse(snapshot: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Load the new snapshot into the warehouse; loading the same sync_id again replaces it."""
        from airflow_provider_boomi.warehouse import DuckDBTarget, SqlAlchemyTarget, load_snapshot

        assert params is not None
        if params["warehouse_conn_id"]:
            from airflow.providers.common.sql.hooks.sql import DbApiHook
            from airflow.sdk import BaseHook

            hook = BaseHook.get_connection(params["warehouse_conn_id"]).get_hook()
            if not isinstance(hook, DbApiHook):
                raise TypeError(f"{params['warehouse_conn_id']} is not a common-sql (DbApiHook) connection")
            target: Any = SqlAlchemyTarget(hook.get_sqlalchemy_engine())
        else:
            target = DuckDBTarget(params["warehouse_path"])
        # The views (current access, grant history, changes, privileged users, group-only users)
        # are recreated in the same transaction as the load.
        loaded = load_snapshot(target, snapshot["snapshot_path"])
        return {"sync_id": loaded.sync_id, "rows": dict(loaded.rows), "seconds": round(loaded.seconds, 2)}

    load_warehouse(sync.output)


boomi_access_sync()
