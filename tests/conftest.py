"""Test-wide setup.

Airflow reads its configuration from the environment when it is first imported, so the
isolated AIRFLOW_HOME (a throwaway SQLite metadata DB and a DAG folder of this session) is set
here, before any test module imports Airflow. Tests that run DAGs use the ``airflow_db`` and
``dag_folder`` fixtures; tests against the Boomi simulator use ``sim`` (the demo account) or
``make_simulator`` (any profile and switches), and ``tests.helpers.make_client`` for a client.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_boomi.testing.simulator import BoomiSimulator
    from tests.helpers import Approvals, Inbox

REPO = Path(__file__).resolve().parent.parent
_HOME = Path(tempfile.mkdtemp(prefix="boomi-airflow-home-"))
_DAGS = _HOME / "dags"
_DAGS.mkdir()

os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_DAGS)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata DB (SQLite) for ``dag.test()`` runs; returns AIRFLOW_HOME."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _HOME


@pytest.fixture(scope="session")
def dag_folder(airflow_db: Path) -> Path:
    """The configured DAG folder, holding the repository's example DAGs.

    ``dag.test()`` serializes the DAGs of the configured folder, so a DAG under test must live
    there; tests may write their own DAG files into it too.
    """
    for dag_file in (REPO / "dags").glob("*.py"):
        shutil.copy(dag_file, _DAGS / dag_file.name)
    return _DAGS


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., BoomiSimulator]]:
    """Start simulators: ``make_simulator(profile="demo", **settings)``; all stop after the test.

    Unthrottled unless ``rate_limit`` is given, so tests do not wait on the simulated limit.
    """
    from airflow_provider_boomi.testing.simulator import BoomiSimulator

    started: list[BoomiSimulator] = []

    def make(profile: str = "demo", **settings: Any) -> BoomiSimulator:
        settings.setdefault("rate_limit", None)
        simulator = BoomiSimulator(profile=profile, **settings).start()
        started.append(simulator)
        return simulator

    yield make
    for simulator in reversed(started):
        simulator.stop()


@pytest.fixture
def sim(make_simulator: Callable[..., BoomiSimulator]) -> BoomiSimulator:
    """The simulator's demo account on loopback, unthrottled, fresh for each test.

    A module needing something else (a token of its own, an environment variable) defines its
    own ``sim``, which takes precedence in that module.
    """
    return make_simulator()


@pytest.fixture
def connected_sim(sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch) -> BoomiSimulator:
    """``sim`` as the ``boomi_default`` connection, provisioning enabled and the client
    unthrottled: what DAG runs (``dag.test()``) and operators in these tests talk to."""
    conn = json.loads(sim.connection_json(provisioning_enabled=True))
    conn["extra"]["requests_per_second"] = 1000
    monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", json.dumps(conn))
    return sim


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


def load_dag(path: Path, dag_id: str):
    """Parse one DAG file as the DAG processor would and return its DAG ``dag_id``."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    assert dag is not None, f"{path} defines no DAG {dag_id!r}"
    return dag


@pytest.fixture(scope="module")
def approvals(airflow_db: Path) -> Iterator[Approvals]:
    """Answers approvals of ``dag.test()`` runs through Airflow's REST API (see ``Approvals``)."""
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from fastapi.testclient import TestClient

    from tests.helpers import Approvals

    with TestClient(create_app(apps="core")) as client:
        yield Approvals(client, get_auth_manager())


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on loopback (aiosmtpd), set as the ``smtp_default`` connection."""
    from aiosmtpd.controller import Controller

    from tests.helpers import SMTP_SENDER, Inbox, free_port

    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": controller.port,
        # A loopback test server speaks neither SSL nor STARTTLS.
        "extra": {
            "from_email": SMTP_SENDER,
            "disable_ssl": True,
            "disable_tls": True,
            "timeout": 10,
            "retry_limit": 0,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(connection))
    try:
        yield handler
    finally:
        controller.stop()


POSTGRES_URL = os.environ.get("BOOMI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
"""The PostgreSQL the warehouse tests load into (database ``test`` of the local server by default)."""


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Any]:
    """A SQLAlchemy engine on ``POSTGRES_URL``.

    Skips when no server answers, except under ``BOOMI_E2E_REQUIRE_POSTGRES=1`` (CI), where a
    missing PostgreSQL fails instead: CI must not pass by skipping the real database.
    """
    import sqlalchemy

    engine = sqlalchemy.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as con:
            con.exec_driver_sql("SELECT 1")
    except Exception as exc:
        engine.dispose()
        message = f"PostgreSQL does not answer at {POSTGRES_URL} ({type(exc).__name__}: {exc})"
        if os.environ.get("BOOMI_E2E_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + "; BOOMI_E2E_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(message)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_schema(pg_engine: Any) -> Iterator[str]:
    """A schema name of this test's own in ``POSTGRES_URL``, dropped afterwards."""
    import secrets

    name = f"boomi_test_{secrets.token_hex(4)}"
    yield name
    with pg_engine.begin() as con:
        con.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")


OPENAPI_SPEC = Path(
    os.environ.get("BOOMI_OPENAPI_SPEC", "/work/shared/boomi-openapi/boomi-openapi-subset.json")
)
"""Boomi's OpenAPI description (reference data kept outside the repository, not copied in)."""


@pytest.fixture(scope="session")
def openapi_spec() -> dict[str, Any]:
    """Boomi's OpenAPI description, to check the shapes the client sends and the simulator answers.

    Skips where the file is absent, except under ``BOOMI_REQUIRE_OPENAPI_SPEC=1`` (CI), where its
    absence fails: CI must not pass by skipping the schema checks.
    """
    if not OPENAPI_SPEC.exists():
        message = f"Boomi's OpenAPI description is not at {OPENAPI_SPEC} (set BOOMI_OPENAPI_SPEC)"
        if os.environ.get("BOOMI_REQUIRE_OPENAPI_SPEC") == "1":
            pytest.fail(message + "; BOOMI_REQUIRE_OPENAPI_SPEC=1 requires it")
        pytest.skip(message)
    return dict(json.loads(OPENAPI_SPEC.read_text()))
