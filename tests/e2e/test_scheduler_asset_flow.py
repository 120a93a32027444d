"""A real Airflow 3 deployment runs the sync DAG, and its asset triggers the review DAG.

api-server + scheduler (LocalExecutor) + dag-processor on a fresh PostgreSQL database (the
service at 127.0.0.1:5432), with the Boomi simulator serving the ``demo`` profile over
loopback. Settings and pitfalls: ``shared/airflow-e2e-notes.md`` (parallelism 2, unpaused at
creation, one JWT secret, a free port, ``--skip-serve-logs``, SIGTERM to main PIDs only).

Set ``BOOMI_E2E_REQUIRE_POSTGRES=1`` (CI does) to fail instead of falling back to SQLite when
PostgreSQL does not answer.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.testing.simulator import BoomiSimulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]
PG_ADMIN_DSN = os.environ.get("BOOMI_E2E_PG_DSN", "host=127.0.0.1 port=5432 dbname=postgres user=postgres")
READY_TIMEOUT = 120.0
FLOW_TIMEOUT = 240.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres_database() -> tuple[str | None, str | None]:
    """Create a fresh database; return (sqlalchemy url, db name) or (None, None) if no server."""
    try:
        import psycopg
    except ImportError:
        return None, None
    name = f"airflow_e2e_{secrets.token_hex(4)}"
    for user in ("postgres", "root"):
        dsn = PG_ADMIN_DSN.replace("user=postgres", f"user={user}")
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            return f"postgresql+psycopg://{user}@127.0.0.1:5432/{name}", name
        except Exception:
            continue
    return None, None


def _drop_database(name: str) -> None:
    import psycopg

    for user in ("postgres", "root"):
        dsn = PG_ADMIN_DSN.replace("user=postgres", f"user={user}")
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except Exception:
            continue


class Deployment:
    """The three Airflow components as child processes with their own logs."""

    def __init__(self, home: Path, env: dict[str, str], port: int) -> None:
        self.home = home
        self.env = env
        self.api = f"http://127.0.0.1:{port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def airflow(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def start(self) -> None:
        commands = {
            "api-server": ["api-server"],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
        }
        for name, args in commands.items():
            log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 60) -> str:
        path = self.home / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def task_logs(self) -> str:
        out = []
        for path in sorted((self.home / "logs").rglob("attempt=*.log")):
            out.append(
                f"--- {path.relative_to(self.home)}\n" + "\n".join(path.read_text().splitlines()[-40:])
            )
        return "\n".join(out)

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.api}{path}", timeout=10)

    def wait_ready(self, dag_ids: list[str]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                health = self.get("/api/v2/monitor/health")
                if health.status_code == 200:
                    body = health.json()
                    healthy = all(
                        (body.get(part) or {}).get("status") == "healthy"
                        for part in ("scheduler", "dag_processor")
                    )
                    if healthy and all(self.get(f"/api/v2/dags/{d}").status_code == 200 for d in dag_ids):
                        return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise AssertionError(f"Airflow did not become ready in {READY_TIMEOUT}s:\n" + self.diagnostics())

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # main PID only (see the notes, G12)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def diagnostics(self) -> str:
        parts = [f"=== {name}\n{self.tail(name)}" for name in self.procs]
        parts.append("=== task logs\n" + self.task_logs())
        return "\n".join(parts)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, BoomiSimulator, Path]]:
    home = tmp_path_factory.mktemp("airflow-e2e")
    dags = home / "dags"
    dags.mkdir()
    for name in ("boomi_access_sync.py", "boomi_access_review.py"):
        shutil.copy(REPO / "dags" / name, dags / name)
    data_dir = home / "data"
    db_url, db_name = _postgres_database()
    if db_url is None:
        if os.environ.get("BOOMI_E2E_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 did not answer and BOOMI_E2E_REQUIRE_POSTGRES=1")
        db_url = f"sqlite:///{home / 'airflow.db'}"
    port = _free_port()
    sim = BoomiSimulator(profile="demo", rate_limit=10.0)
    sim.start()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k not in ("AIRFLOW_HOME",)
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW_CONN_BOOMI_DEFAULT": sim.connection_json(),
            "BOOMI_DATA_DIR": str(data_dir),
            "PYTHONWARNINGS": "ignore",
        }
    )
    deploy = Deployment(home, env, port)
    try:
        migrated = deploy.airflow("db", "migrate")
        assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
        deploy.start()
        yield deploy, sim, data_dir
    finally:
        deploy.stop()
        sim.stop()
        if db_name:
            _drop_database(db_name)


def test_sync_asset_triggers_review(deployment: tuple[Deployment, BoomiSimulator, Path]) -> None:
    deploy, sim, data_dir = deployment
    deploy.wait_ready(["boomi_access_sync", "boomi_access_review"])

    triggered = requests.post(
        f"{deploy.api}/api/v2/dags/boomi_access_sync/dagRuns", json={"logical_date": None}, timeout=10
    )
    assert triggered.status_code == 200, triggered.text

    deadline = time.monotonic() + FLOW_TIMEOUT
    review_run = None
    while time.monotonic() < deadline:
        deploy.check_alive()
        for dag_id in ("boomi_access_sync", "boomi_access_review"):
            runs = deploy.get(f"/api/v2/dags/{dag_id}/dagRuns").json().get("dag_runs", [])
            failed = [r for r in runs if r["state"] == "failed"]
            assert not failed, f"{dag_id} failed:\n" + deploy.diagnostics()
        runs = deploy.get("/api/v2/dags/boomi_access_review/dagRuns").json().get("dag_runs", [])
        done = [r for r in runs if r["state"] == "success"]
        if done:
            review_run = done[0]
            break
        time.sleep(0.5)
    assert review_run is not None, "the review DAG never succeeded:\n" + deploy.diagnostics()
    assert review_run["run_type"] == "asset_triggered"

    store = SnapshotStore(data_dir / "snapshots")
    latest = store.latest(sim.account_id)
    assert latest is not None and latest.row_counts["user_role_grants"] == len(sim.state.user_roles())
    reports = list((data_dir / "reviews").rglob("*-report.html"))
    assert reports, "the review DAG wrote no report"
    assert latest.sync_id in reports[0].read_text()
    events = deploy.get("/api/v2/assets/events").json().get("asset_events", [])
    assert any((e.get("extra") or {}).get("sync_id") == latest.sync_id for e in events)
