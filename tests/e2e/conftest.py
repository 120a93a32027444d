"""One Airflow deployment for every e2e module of the session, with the Boomi simulator behind it.

Starting a deployment costs 15 to 20 seconds on two cores, so the modules share one: api-server,
scheduler (LocalExecutor), dag-processor and triggerer (the JIT DAG's wait is deferrable) on a
fresh PostgreSQL database, the simulator's ``demo`` account as ``boomi_default`` with
provisioning enabled, and three users of the simple auth manager: ``admin``, ``requester`` and
``approver``. Approvals time out after 45 seconds here (``BOOMI_APPROVAL_TIMEOUT_MINUTES``), and
the scheduler looks for timed-out approvals every 2 seconds, so the timeout is testable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.e2e.deployment import REPO, TRIGGERER, Deployment, DeploymentSettings, start_deployment

DAG_IDS = ("boomi_access_sync", "boomi_access_review", "boomi_jit_access", "boomi_apply_review_decisions")
APPROVAL_TIMEOUT_SECONDS = 45.0


@dataclass(frozen=True)
class BoomiDeployment:
    """The shared deployment, its simulator and the data folder its DAGs write to."""

    airflow: Deployment
    sim: BoomiSimulator
    data_dir: Path


@pytest.fixture(scope="session")
def boomi_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoomiDeployment]:
    home = tmp_path_factory.mktemp("airflow-e2e")
    data_dir = home / "data"
    settings = DeploymentSettings(
        dag_files=[REPO / "dags" / f"{dag_id}.py" for dag_id in DAG_IDS],
        extra_processes=TRIGGERER,
        users={"admin": "admin", "requester": "admin", "approver": "admin"},
        health_components=("scheduler", "dag_processor", "triggerer"),
        # The sync DAG runs in its account's pool (operators/pools.py): one slot.
        pools={"boomi:boomi_default": 1},
    )
    with BoomiSimulator(profile="demo", rate_limit=10.0) as sim:
        settings.env = {
            "AIRFLOW_CONN_BOOMI_DEFAULT": sim.connection_json(provisioning_enabled=True),
            "BOOMI_DATA_DIR": str(data_dir),
            "BOOMI_APPROVAL_TIMEOUT_MINUTES": str(APPROVAL_TIMEOUT_SECONDS / 60),
            "AIRFLOW__SCHEDULER__TRIGGER_TIMEOUT_CHECK_INTERVAL": "2",
        }
        with start_deployment(settings, home) as airflow:
            airflow.wait_ready(DAG_IDS)
            yield BoomiDeployment(airflow=airflow, sim=sim, data_dir=data_dir)
