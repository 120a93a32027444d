"""BoomiSyncOperator inside a real Airflow DAG run (``dag.test()``) against the simulator."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest

from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule
from tests.conftest import load_dag
from tests.helpers import Inbox

DAG_SOURCE = """
import json
import pendulum
from airflow.sdk import Asset, dag, task
from airflow_provider_boomi.operators.sync import BoomiSyncOperator

SNAPSHOT = Asset(name="test_boomi_snapshot")

@dag(dag_id="test_boomi_sync_operator", schedule=None, start_date=pendulum.datetime(2026, 1, 1),
     catchup=False, params={"out": "", "seen": ""})
def test_boomi_sync_operator():
    sync = BoomiSyncOperator(task_id="sync", output_path="{{ params.out }}", outlets=[SNAPSHOT])
    roles_only = BoomiSyncOperator(
        task_id="roles_only", output_path="{{ params.out }}/roles", resources=["roles"]
    )

    # What a downstream task sees: the XCom, and the asset event's extra through its inlets.
    @task(inlets=[SNAPSHOT])
    def check(result, params=None, inlet_events=None):
        events = inlet_events[SNAPSHOT]
        with open(params["seen"], "w") as fh:
            json.dump({"xcom": result, "event_extra": dict(events[-1].extra)}, fh)
        return result

    check(sync.output) >> roles_only

dag_object = test_boomi_sync_operator()
"""


def test_sync_operator_in_dag_test(dag_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dag_file = dag_folder / "test_boomi_sync_operator.py"
    dag_file.write_text(DAG_SOURCE)
    seen = tmp_path / "seen.json"
    with BoomiSimulator(profile="demo", rate_limit=None) as sim:
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", sim.connection_json())
        out = tmp_path / "snapshots"
        run = load_dag(dag_file, "test_boomi_sync_operator").test(
            run_conf={"out": str(out), "seen": str(seen)}
        )
        assert run.state == "success"
        token = sim.token

    store = SnapshotStore(out)
    latest = store.latest(sim.account_id)
    assert latest is not None
    assert latest.row_counts["user_role_grants"] == len(sim.state.user_roles())
    roles_only = SnapshotStore(out / "roles").latest(sim.account_id)
    assert roles_only is not None and set(roles_only.row_counts) == {"roles"}

    observed = json.loads(seen.read_text())
    expected = {
        "account_id": sim.account_id,
        "sync_id": latest.sync_id,
        "snapshot_path": latest.path,
        "manifest_path": latest.manifest_path,
        "row_counts": latest.row_counts,
    }
    assert observed["xcom"] == expected
    assert observed["event_extra"] == expected
    assert token not in seen.read_text()


FAILING_DAG = """
import pendulum
from airflow.sdk import dag
from airflow_provider_boomi.operators.sync import BoomiSyncOperator

@dag(dag_id="test_boomi_sync_operator_fails", schedule=None, start_date=pendulum.datetime(2026, 1, 1),
     catchup=False, params={"out": ""})
def test_boomi_sync_operator_fails():
    BoomiSyncOperator(task_id="sync", output_path="{{ params.out }}", retries=0)

test_boomi_sync_operator_fails()
"""


def test_sync_that_fails_midway_fails_the_task_and_leaves_no_snapshot(
    dag_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dag_file = dag_folder / "test_boomi_sync_operator_fails.py"
    dag_file.write_text(FAILING_DAG)
    broken = FaultRule(kind="500", object_type="AccountGroupUserRole", after=2, count=None)
    with BoomiSimulator(profile="demo", rate_limit=None, faults=[broken]) as sim:
        connection = json.loads(sim.connection_json())
        connection["extra"].update({"max_retries": 1, "max_retry_time": 5})
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(connection))
        run = load_dag(dag_file, "test_boomi_sync_operator_fails").test(run_conf={"out": str(tmp_path)})
    assert run.state == "failed"
    store = SnapshotStore(tmp_path)
    assert store.snapshots(sim.account_id) == []
    assert not list(tmp_path.rglob("manifest.json")) and not list(tmp_path.rglob("*.parquet"))

    # The failure is on record, not a silent gap (issue 13, item 5).
    (record,) = store.failures(sim.account_id)
    assert record.error_type.startswith("airflow_provider_boomi.client.errors.Boomi")
    assert record.dag_id == "test_boomi_sync_operator_fails" and record.task_id == "sync"
    assert record.run_id and record.try_number == 1
    assert record.started_at <= record.failed_at
    record_file = tmp_path / f"account_id={sim.account_id}" / "failures" / f"{record.sync_id}.json"
    assert record.path == str(record_file) and record_file.is_file()
    assert sim.token not in record_file.read_text()
    (gap,) = store.gaps(
        sim.account_id,
        expected_every=timedelta(hours=26),
        since=record.failed_at - timedelta(days=2),
        now=record.failed_at + timedelta(minutes=1),
    )
    assert gap.next_sync_id is None and gap.failures == (record,)


def test_the_failure_record_scrubs_every_form_of_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error quoting what it was given (here the templated resources) must not carry a
    credential into the store."""
    from airflow_provider_boomi.operators.sync import BoomiSyncOperator

    with BoomiSimulator(profile="demo", rate_limit=None) as sim:
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", sim.connection_json())
        pair = f"BOOMI_TOKEN.{sim.email}:{sim.token}"
        encoded = base64.b64encode(pair.encode()).decode()
        operator = BoomiSyncOperator(
            task_id="sync", output_path=str(tmp_path), resources=["roles", sim.token, pair, encoded]
        )
        with pytest.raises(ValueError, match="resources must be"):
            operator.execute(context={})  # type: ignore[arg-type]
    (record,) = SnapshotStore(tmp_path).failures(sim.account_id)
    assert record.error_type == "builtins.ValueError"
    text = Path(str(record.path)).read_text()
    for secret in (sim.token, pair, encoded):
        assert secret not in text
    assert "***" in record.error_message and "resources must be" in record.error_message


def test_the_example_sync_dag_emails_a_failed_sync(
    dag_folder: Path, tmp_path: Path, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOMI_ALERT_EMAIL", "access-team@acme.example")
    broken = FaultRule(kind="500", object_type="Role", count=None)
    with BoomiSimulator(profile="demo", rate_limit=None, faults=[broken]) as sim:
        connection = json.loads(sim.connection_json())
        connection["extra"].update({"max_retries": 0, "max_retry_time": 2})
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(connection))
        run = load_dag(dag_folder / "boomi_access_sync.py", "boomi_access_sync").test(
            run_conf={
                "output_path": str(tmp_path / "snapshots"),
                "warehouse_path": str(tmp_path / "warehouse.duckdb"),
            }
        )
    assert run.state == "failed"
    ((_, recipients, message),) = inbox.take()
    assert recipients == ["access-team@acme.example"] and message["To"] == "access-team@acme.example"
    assert message["Subject"].startswith("Boomi access sync failed: boomi_access_sync.sync")
    body = message.get_body(("plain", "html"))
    assert body is not None and "No snapshot was written" in body.get_content()
    assert sim.token not in message.as_string()
    assert len(SnapshotStore(tmp_path / "snapshots").failures(sim.account_id)) == 1


def test_without_an_alert_address_the_notifier_logs(caplog: pytest.LogCaptureFixture) -> None:
    from airflow_provider_boomi.operators.sync import SyncFailureLogNotifier, sync_failure_notifier

    notifier = sync_failure_notifier(email=" ")
    assert isinstance(notifier, SyncFailureLogNotifier)

    class TaskInstance:
        dag_id, run_id, task_id, try_number = "boomi_access_sync", "manual__1", "sync", 2

    with caplog.at_level("ERROR", logger="airflow_provider_boomi.operators.sync"):
        notifier.notify({"ti": TaskInstance()})  # type: ignore[typeddict-item]
    assert "ALERT: Boomi sync failed: dag boomi_access_sync, run manual__1, task sync, try 2" in caplog.text


def test_openlineage_facets_name_the_account_and_the_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_boomi.operators.sync import BoomiSyncOperator

    with BoomiSimulator(profile="demo", rate_limit=None) as sim:
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", sim.connection_json())
        operator = BoomiSyncOperator(task_id="sync", output_path=str(tmp_path))
        result = operator.execute(context={})  # type: ignore[arg-type]
        lineage = operator.get_openlineage_facets_on_complete(task_instance=None)
    assert [d.name for d in lineage.inputs] == [sim.account_id]
    outputs = {d.name: d.outputFacets["outputStatistics"].rowCount for d in lineage.outputs}
    assert outputs == {f"{result['snapshot_path']}/{t}.parquet": n for t, n in result["row_counts"].items()}
