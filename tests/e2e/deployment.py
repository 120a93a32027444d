"""A real Airflow 3 deployment for end-to-end tests: start, drive over REST, stop.

The components run as child processes of the test (each in its own session, with its own log
file) against a fresh metadata database: a new PostgreSQL database at 127.0.0.1:5432, dropped
``WITH (FORCE)`` afterwards, or a SQLite file when no PostgreSQL answers (set
``BOOMI_E2E_REQUIRE_POSTGRES=1`` to make that a failure). Settings and pitfalls follow
``shared/airflow-e2e-notes.md``: free ports (API and every serve-logs port), parallelism 2,
DAGs unpaused at creation, one JWT secret, SIGTERM to each main PID only, logs kept and shown
when something fails.

:class:`DeploymentSettings` says what to run: the executor, the processes (the three of a
LocalExecutor deployment by default; add a ``triggerer`` or a Celery worker with
``extra_processes``), the users of the simple auth manager, extra environment and the DAG
files. :func:`start_deployment` yields a running :class:`Deployment`; its :meth:`Deployment.client`
is a REST client authenticated as one of the users.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
PG_ADMIN_DSN = os.environ.get("BOOMI_E2E_PG_DSN", "host=127.0.0.1 port=5432 dbname=postgres user=postgres")
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
# Generous: on a loaded machine the api-server (one worker) has been seen to stall for 20 s.
REQUEST_TIMEOUT = 60.0

#: The processes of a LocalExecutor deployment (arguments to ``airflow``).
BASE_PROCESSES: dict[str, list[str]] = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
}
#: The triggerer, for deferrable operators (``DateTimeSensorAsync``...).
TRIGGERER: dict[str, list[str]] = {"triggerer": ["triggerer", "--skip-serve-logs"]}


def free_port() -> int:
    """A TCP port nothing listens on at the moment (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DeploymentSettings:
    """What a deployment runs.

    :param dag_files: DAG files copied into the DAG folder before anything starts.
    :param executor: ``[core] executor``.
    :param extra_processes: more components, name to ``airflow`` arguments (e.g. :data:`TRIGGERER`,
        or ``{"celery-worker": ["celery", "worker", ...]}``), started with the three base ones.
    :param users: simple auth manager users, name to role; each gets a random password.
    :param env: more environment for every component (connections, variables, settings).
    :param health_components: the parts of ``/api/v2/monitor/health`` that must be healthy.
    :param pools: pools to create before the components start, name to slots (a task in a pool
        that does not exist is never scheduled).
    """

    dag_files: Sequence[Path]
    executor: str = "LocalExecutor"
    extra_processes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    users: Mapping[str, str] = field(default_factory=lambda: {"admin": "admin"})
    env: Mapping[str, str] = field(default_factory=dict)
    health_components: Sequence[str] = ("scheduler", "dag_processor")
    pools: Mapping[str, int] = field(default_factory=dict)


class Deployment:
    """The running components: their processes, logs and REST API."""

    def __init__(
        self,
        settings: DeploymentSettings,
        home: Path,
        env: dict[str, str],
        port: int,
        passwords: dict[str, str],
    ) -> None:
        self.settings = settings
        self.home = home
        self.env = env
        self.api = f"http://127.0.0.1:{port}"
        self.passwords = passwords
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._clients: dict[str, requests.Session] = {}

    def airflow(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one ``airflow`` command with the deployment's environment."""
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def start(self, processes: Mapping[str, Sequence[str]]) -> None:
        for name, args in processes.items():
            log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        """Fail, with the process's log, if a component has exited."""
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
            text = "\n".join(path.read_text(errors="replace").splitlines()[-40:])
            out.append(f"--- {path.relative_to(self.home)}\n{text}")
        return "\n".join(out)

    def diagnostics(self) -> str:
        """Every component's log tail and the task logs, for a failure message."""
        parts = [f"=== {name}\n{self.tail(name)}" for name in self.procs]
        parts.append("=== task logs\n" + self.task_logs())
        return "\n".join(parts)

    def client(self, user: str = "admin") -> requests.Session:
        """A REST session authenticated as ``user`` (a token from ``POST /auth/token``)."""
        if user not in self._clients:
            response = requests.post(
                f"{self.api}/auth/token",
                json={"username": user, "password": self.passwords[user]},
                timeout=REQUEST_TIMEOUT,
            )
            assert response.status_code == 201, f"no token for {user}: {response.status_code} {response.text}"
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
            self._clients[user] = session
        return self._clients[user]

    def get(self, path: str, user: str = "admin", **params: Any) -> Any:
        response = self.client(user).get(f"{self.api}{path}", params=params or None, timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def wait_ready(self, dag_ids: Sequence[str]) -> None:
        """Wait until the settings' health components are healthy and every DAG is parsed."""
        components = self.settings.health_components
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                health = requests.get(f"{self.api}/api/v2/monitor/health", timeout=REQUEST_TIMEOUT)
                if health.status_code == 200:
                    body = health.json()
                    healthy = all((body.get(part) or {}).get("status") == "healthy" for part in components)
                    if healthy and all(
                        self.client().get(f"{self.api}/api/v2/dags/{d}", timeout=REQUEST_TIMEOUT).status_code
                        == 200
                        for d in dag_ids
                    ):
                        return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise AssertionError(f"Airflow did not become ready in {READY_TIMEOUT}s:\n" + self.diagnostics())

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None, *, user: str = "admin") -> str:
        """Trigger a run as ``user`` (its ``triggering_user_name``); return the run id."""
        response = self.client(user).post(
            f"{self.api}/api/v2/dags/{dag_id}/dagRuns",
            json={"logical_date": None, "conf": dict(conf or {})},
            timeout=REQUEST_TIMEOUT,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["dag_run_id"])

    def poll(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        """Call ``check`` every half second until it returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            found = check()
            if found:
                return found
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n" + self.diagnostics())

    def wait_for_log(self, component: str, *fragments: str, timeout: float = 60.0) -> str:
        """Wait until a line of ``component``'s log holds every fragment; return the line."""

        def logged() -> str | None:
            path = self.home / f"{component}.log"
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            return next((line for line in lines if all(f in line for f in fragments)), None)

        return str(self.poll(f"{component} to log {fragments}", logged, timeout))

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 180.0) -> dict[str, Any]:
        """Wait until the run has finished; return it (state ``success`` or ``failed``)."""

        def finished() -> dict[str, Any] | None:
            run = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            return run if run["state"] in ("success", "failed") else None

        return dict(self.poll(f"{dag_id} run {run_id} to finish", finished, timeout))

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        body = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti["state"] for ti in body["task_instances"]}

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # main PID only (notes, G12)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the group this harness created
                proc.wait(timeout=10)


def _admin_dsns() -> Iterator[tuple[str, str]]:
    for user in ("postgres", "root"):
        yield user, PG_ADMIN_DSN.replace("user=postgres", f"user={user}")


def _postgres_database() -> tuple[str | None, str | None]:
    """Create a fresh database; return (SQLAlchemy URL, name), or (None, None) with no server."""
    try:
        import psycopg
    except ImportError:
        return None, None
    name = f"airflow_e2e_{secrets.token_hex(4)}"
    for user, dsn in _admin_dsns():
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            return f"postgresql+psycopg://{user}@127.0.0.1:5432/{name}", name
        except Exception:
            continue
    return None, None


def _drop_database(name: str) -> None:
    import psycopg

    for _, dsn in _admin_dsns():
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except Exception:
            continue


@contextmanager
def start_deployment(settings: DeploymentSettings, home: Path) -> Iterator[Deployment]:
    """Start a deployment under ``home`` and yield it once migrated and launched.

    Callers wait for it with :meth:`Deployment.wait_ready`. Everything is stopped and the
    database dropped on exit, also after a failure.
    """
    dags = home / "dags"
    dags.mkdir()
    for dag_file in settings.dag_files:
        shutil.copy(dag_file, dags / dag_file.name)
    db_url, db_name = _postgres_database()
    if db_url is None:
        if os.environ.get("BOOMI_E2E_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 did not answer and BOOMI_E2E_REQUIRE_POSTGRES=1")
        db_url = f"sqlite:///{home / 'airflow.db'}"
    port = free_port()
    passwords = {user: secrets.token_urlsafe(16) for user in settings.users}
    passwords_file = home / "passwords.json"
    passwords_file.write_text(json.dumps(passwords))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_HOME"}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "AIRFLOW__CORE__EXECUTOR": settings.executor,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            # Real users with passwords (not all-admins), so each REST call is made as someone.
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{u}:{r}" for u, r in settings.users.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "PYTHONWARNINGS": "ignore",
            **settings.env,
        }
    )
    deploy = Deployment(settings, home, env, port, passwords)
    try:
        migrated = deploy.airflow("db", "migrate")
        assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
        for pool, slots in settings.pools.items():
            created = deploy.airflow("pools", "set", pool, str(slots), "created by the e2e harness")
            assert created.returncode == 0, created.stdout[-3000:] + created.stderr[-3000:]
        deploy.start({**BASE_PROCESSES, **settings.extra_processes})
        yield deploy
    finally:
        deploy.stop()
        if db_name:
            _drop_database(db_name)
