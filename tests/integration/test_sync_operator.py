"""BoomiSyncOperator inside a real Airflow DAG run (``dag.test()``) against the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.conftest import load_dag

DAG_SOURCE = """
import pendulum
from airflow.sdk import Asset, dag, task
from airflow_provider_boomi.operators.sync import BoomiSyncOperator

SNAPSHOT = Asset(name="test_boomi_snapshot")

@dag(dag_id="test_boomi_sync_operator", schedule=None, start_date=pendulum.datetime(2026, 1, 1),
     catchup=False, params={"out": "", "resources": None})
def test_boomi_sync_operator():
    sync = BoomiSyncOperator(task_id="sync", output_path="{{ params.out }}", outlets=[SNAPSHOT])
    roles_only = BoomiSyncOperator(
        task_id="roles_only", output_path="{{ params.out }}/roles", resources=["roles"]
    )

    @task
    def check(result):
        assert set(result) == {"account_id", "sync_id", "snapshot_path", "manifest_path", "row_counts"}
        return result

    check(sync.output) >> roles_only

dag_object = test_boomi_sync_operator()
"""


def test_sync_operator_in_dag_test(dag_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dag_file = dag_folder / "test_boomi_sync_operator.py"
    dag_file.write_text(DAG_SOURCE)
    with BoomiSimulator(profile="demo", rate_limit=None) as sim:
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", sim.connection_json())
        out = tmp_path / "snapshots"
        run = load_dag(dag_file, "test_boomi_sync_operator").test(run_conf={"out": str(out)})
        assert run.state == "success"
        token = sim.token

    store = SnapshotStore(out)
    latest = store.latest(sim.account_id)
    assert latest is not None
    assert latest.row_counts["user_role_grants"] == len(sim.state.user_roles())
    roles_only = SnapshotStore(out / "roles").latest(sim.account_id)
    assert roles_only is not None and set(roles_only.row_counts) == {"roles"}

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(XComModel)
            .filter(XComModel.dag_id == "test_boomi_sync_operator", XComModel.run_id == run.run_id)
            .all()
        )
    values = {row.task_id: row.value for row in rows if row.key == "return_value"}
    xcom = values["sync"] if isinstance(values["sync"], dict) else json.loads(values["sync"])
    assert xcom["sync_id"] == latest.sync_id
    assert token not in json.dumps(values, default=str)

    from airflow.models.asset import AssetEvent, AssetModel

    with create_session() as session:
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == "test_boomi_snapshot")
            .all()
        )
        extras = [e.extra for e in events]
    assert any(extra.get("sync_id") == latest.sync_id for extra in extras)
