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
* ``warehouse_schema``: the schema the tables and views go into (empty: the default).
* ``privileged_preset``: ``default`` (administration, API) or ``sox`` (also deploy,
  environment and package management).

Defaults live under ``$BOOMI_DATA_DIR`` (``/tmp/airflow-provider-boomi`` when unset).

A failed sync is reported, not left as a silent gap: the operator writes a failure record into
the store (``account_id=<id>/failures/``), and the task's ``on_failure_callback`` emails
``$BOOMI_ALERT_EMAIL`` through the ``smtp_default`` connection when that variable is set (in
the DAG processor's environment), or logs an ERROR line otherwise.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Asset, Param, dag

from airflow_provider_boomi.operators.pools import boomi_pool
from airflow_provider_boomi.operators.sync import BoomiSyncOperator, sync_failure_notifier
from airflow_provider_boomi.operators.warehouse import BoomiWarehouseLoadOperator

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
        "warehouse_schema": Param("", type="string", description="Target schema; empty = the default"),
        "privileged_preset": Param(
            "default", enum=["default", "sox"], description="Which roles are privileged"
        ),
    },
)
def boomi_access_sync() -> None:
    sync = BoomiSyncOperator(
        task_id="sync",
        boomi_conn_id="{{ params.boomi_conn_id }}",
        # One task per Boomi account at a time, across DAGs and workers (docs/scale.md). Pools
        # are fixed at parse time: this is the pool of the parameter's default connection.
        pool=boomi_pool("boomi_default"),
        output_path="{{ params.output_path }}",
        outlets=[BOOMI_SNAPSHOT],
        event_extra={"kind": "scheduled"},
        privileged_preset="{{ params.privileged_preset }}",
        on_failure_callback=sync_failure_notifier(),
    )
    # The views (current access, grant history, changes, privileged users, group-only users)
    # are recreated in the same transaction as the load.
    BoomiWarehouseLoadOperator(
        task_id="load_warehouse",
        snapshot=sync.output,
        duckdb_path="{{ params.warehouse_path }}",
        warehouse_conn_id="{{ params.warehouse_conn_id }}",
        schema="{{ params.warehouse_schema }}",
    )


boomi_access_sync()
