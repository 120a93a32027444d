"""What the CeleryExecutor e2e test needs besides the Airflow deployment itself.

* the Redis broker namespace of one run (a DB index and a key prefix of its own, removed after);
* the S3-compatible store (moto's server on loopback) and the warehouse database (PostgreSQL);
* the Boomi accounts (one simulator each) and a recorder of one account's grants over time;
* the test-only cluster policy that routes task instances to the two workers' queues, and the
  hostname each worker reports, so the task instances show which worker ran them;
* reading the task instances back over REST and finding overlapping runs of one account.

Nothing here imports Airflow: the deployment runs in other processes and is reached over HTTP.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from airflow_provider_boomi.testing.simulator import BoomiSimulator

REDIS_URL_BASE = os.environ.get("BOOMI_E2E_REDIS", "redis://127.0.0.1:6379")
# DB 0 is everybody's default; this run keeps to another index and, inside it, to its own prefix.
REDIS_DB = int(os.environ.get("BOOMI_E2E_REDIS_DB", "13"))
QUEUES = ("boomi_e2e_a", "boomi_e2e_b")
"""One queue per Celery worker: a task instance routed to a queue can only run on its worker."""


# --- the broker --------------------------------------------------------------------------------


@dataclass
class Broker:
    """This run's corner of the shared Redis: DB ``REDIS_DB``, keys under ``prefix``."""

    prefix: str = field(default_factory=lambda: f"boomi_e2e_{secrets.token_hex(4)}:")

    @property
    def url(self) -> str:
        return f"{REDIS_URL_BASE}/{REDIS_DB}"

    def check(self) -> None:
        """Fail with what to do when Redis does not answer."""
        import redis

        try:
            redis.Redis.from_url(self.url, socket_timeout=3).ping()
        except redis.RedisError as error:
            raise AssertionError(
                f"Redis did not answer at {self.url} ({error}); start it (tests and CI run it on "
                "127.0.0.1:6379) or point BOOMI_E2E_REDIS at one"
            ) from error

    def airflow_env(self) -> dict[str, str]:
        """The Celery settings that point the executor and the workers at this corner."""
        return {
            "AIRFLOW__CELERY__BROKER_URL": self.url,
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": self.prefix,
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "3600",
        }

    def cleanup(self) -> int:
        """Delete this run's keys (and only them); return how many there were."""
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5)
        keys = list(client.scan_iter(match=f"{self.prefix}*", count=500))
        if keys:
            client.delete(*keys)
        return len(keys)


# --- routing and worker identity (loaded by every Airflow process of the test) -------------------

LOCAL_SETTINGS = textwrap.dedent(
    f'''
    """Test-only Airflow local settings (written by tests/e2e/celery_support.py).

    Each task instance goes to one of the two workers' queues, chosen from its DAG, task and map
    index, so both workers run tasks by construction; the hostname a worker reports is its own name, so the
    task instances say which worker ran them (both workers run on one machine).
    """

    import os
    import zlib

    QUEUES = {QUEUES!r}


    def task_instance_mutation_hook(task_instance, dag_run=None):
        # By the task's identity, not by a counter: Airflow may call this more than once for one
        # task instance (and from the API server and the scheduler), and the answer must not change.
        key = f"{{task_instance.dag_id}}.{{task_instance.task_id}}.{{task_instance.map_index}}"
        task_instance.queue = QUEUES[zlib.crc32(key.encode()) % len(QUEUES)]


    def worker_hostname():
        return os.environ.get("BOOMI_E2E_WORKER_NAME") or "control-plane"
    '''
)


def write_local_settings(folder: Path) -> Path:
    """Write ``airflow_local_settings.py`` into ``folder`` (to be put on ``PYTHONPATH``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "airflow_local_settings.py"
    path.write_text(LOCAL_SETTINGS)
    return path


# --- object storage ------------------------------------------------------------------------------


@dataclass
class ObjectStore:
    """A bucket on an S3-compatible server, as a user's deployment would be told of it."""

    endpoint: str
    bucket: str = field(default_factory=lambda: f"boomi-e2e-{secrets.token_hex(4)}")

    @property
    def root(self) -> str:
        """``s3://<bucket>/boomi``: the provider's data root (``BOOMI_DATA_DIR``)."""
        return f"s3://{self.bucket}/boomi"

    def airflow_env(self) -> dict[str, str]:
        """What a user sets for an S3-compatible store (s3fs reads these)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    @property
    def storage_options(self) -> dict[str, Any]:
        """The same, as fsspec options: the test process keeps its own environment untouched."""
        return {"endpoint_url": self.endpoint, "key": "testing", "secret": "testing"}

    def fs(self) -> Any:
        import s3fs

        fs = s3fs.S3FileSystem(skip_instance_cache=True, **self.storage_options)
        fs.invalidate_cache()
        return fs


@contextmanager
def s3_server() -> Iterator[ObjectStore]:
    """moto's S3 server on 127.0.0.1 (a port the OS picks) with a fresh bucket."""
    from moto.server import ThreadedMotoServer

    # One log line per S3 request would bury a failure's message.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        store = ObjectStore(endpoint=f"http://{host}:{port}")
        store.fs().mkdir(store.bucket)
        yield store
    finally:
        server.stop()


# --- PostgreSQL: the metadata DB and the warehouse ------------------------------------------------

PG_ADMIN_DSN = os.environ.get("BOOMI_E2E_PG_DSN", "host=127.0.0.1 port=5432 dbname=postgres user=postgres")


def create_database(prefix: str) -> tuple[str, str]:
    """Create a fresh database; return its SQLAlchemy URL (psycopg 3) and its name.

    Tries the admin DSN's user, then ``root`` (the project's machines trust both on loopback).
    """
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    errors = []
    for user in ("postgres", "root"):
        dsn = PG_ADMIN_DSN.replace("user=postgres", f"user={user}")
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            return f"postgresql+psycopg://{user}@127.0.0.1:5432/{name}", name
        except psycopg.Error as error:
            errors.append(f"{user}: {error}")
    raise AssertionError(
        "PostgreSQL at 127.0.0.1:5432 is needed (the Celery e2e keeps the metadata DB and the "
        "warehouse there; a DuckDB file would be a local path): " + "; ".join(errors)
    )


def drop_database(name: str) -> None:
    import psycopg

    for user in ("postgres", "root"):
        dsn = PG_ADMIN_DSN.replace("user=postgres", f"user={user}")
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.Error:
            continue


def airflow_conn_uri(sqlalchemy_url: str) -> str:
    """An Airflow ``postgres`` connection URI for a database URL made by :func:`create_database`."""
    return "postgres://" + sqlalchemy_url.split("://", 1)[1]


# --- Boomi accounts --------------------------------------------------------------------------------


@dataclass
class Account:
    """One simulated Boomi account and the Airflow connection that reaches it at its own rate."""

    conn_id: str
    sim: BoomiSimulator
    rate: float

    def connection_json(self) -> str:
        conn = self.sim.connection_dict(provisioning_enabled=True)
        # The connection's pace matches the account's limit: "no 503 at matched rates".
        conn["extra"]["requests_per_second"] = self.rate
        return json.dumps(conn)

    def env_name(self) -> str:
        return f"AIRFLOW_CONN_{self.conn_id.upper()}"

    def grant_ids(self) -> tuple[frozenset[str], frozenset[str]]:
        """The ids of every AccountUserRole and AccountGroupUserRole row right now."""
        return (
            frozenset(r["id"] for r in self.sim.state.user_roles()),
            frozenset(r["id"] for r in self.sim.state.group_roles()),
        )

    def responses_503(self) -> int:
        return sum(1 for r in self.sim.requests if r.status == 503)


class GrantRecorder:
    """Samples one account's grants every ``interval`` seconds, keeping each change with its time.

    With one task per account at a time, no write happens while a sync runs, so every sample
    taken during a sync holds the same grants, and the snapshot must hold exactly those.
    """

    def __init__(self, account: Account, interval: float = 0.05) -> None:
        self.account = account
        self.interval = interval
        self.history: list[tuple[float, tuple[frozenset[str], frozenset[str]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grant-recorder", daemon=True)

    def start(self) -> GrantRecorder:
        self.history.append((time.time(), self.account.grant_ids()))
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            now, grants = time.time(), self.account.grant_ids()
            if grants != self.history[-1][1]:
                self.history.append((now, grants))

    def states_between(self, start: float, end: float) -> list[tuple[frozenset[str], frozenset[str]]]:
        """Every distinct state seen from ``start`` to ``end``, the one in effect at ``start`` first."""
        before = [g for t, g in self.history if t <= start]
        states = [before[-1]] if before else []
        states += [g for t, g in self.history if start < t <= end]
        distinct: list[tuple[frozenset[str], frozenset[str]]] = []
        for state in states:
            if not distinct or distinct[-1] != state:
                distinct.append(state)
        return distinct


# --- task instances -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRun:
    """One task instance as the REST API reports it, with the account it called (if any)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str
    start: datetime | None
    end: datetime | None
    hostname: str
    queue: str
    pool: str
    conn_id: str | None

    @property
    def label(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{index} ({self.run_id})"


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def task_runs(session: requests.Session, api: str) -> list[TaskRun]:
    """Every task instance of every DAG run, with the Boomi connection its arguments rendered to."""
    out: list[TaskRun] = []
    offset = 0
    while True:
        page = session.get(
            f"{api}/api/v2/dags/~/dagRuns/~/taskInstances",
            params={"limit": 100, "offset": offset},
            timeout=30,
        )
        page.raise_for_status()
        body = page.json()
        for ti in body["task_instances"]:
            rendered = ti.get("rendered_fields") or {}
            conn_id = rendered.get("boomi_conn_id")
            out.append(
                TaskRun(
                    dag_id=ti["dag_id"],
                    run_id=ti["dag_run_id"],
                    task_id=ti["task_id"],
                    map_index=ti["map_index"],
                    state=ti["state"] or "",
                    start=_time(ti.get("start_date")),
                    end=_time(ti.get("end_date")),
                    hostname=ti.get("hostname") or "",
                    queue=ti.get("queue") or "",
                    pool=ti.get("pool") or "",
                    conn_id=conn_id if isinstance(conn_id, str) and conn_id else None,
                )
            )
        offset += len(body["task_instances"])
        if not body["task_instances"] or offset >= body["total_entries"]:
            return out


def overlaps(runs: list[TaskRun]) -> list[tuple[TaskRun, TaskRun]]:
    """Pairs of task instances calling one account whose run times overlap."""
    found: list[tuple[TaskRun, TaskRun]] = []
    by_account: dict[str, list[TaskRun]] = {}
    for run in runs:
        if run.conn_id and run.start and run.end:
            by_account.setdefault(run.conn_id, []).append(run)
    for account_runs in by_account.values():
        account_runs.sort(key=lambda r: r.start)  # type: ignore[arg-type, return-value]
        for i, first in enumerate(account_runs):
            for second in account_runs[i + 1 :]:
                assert first.end and second.start
                if second.start < first.end:
                    found.append((first, second))
    return found


def files_under(path: Path, ignore: tuple[str, ...] = ()) -> list[str]:
    """Every file below ``path`` (relative), except those under the top-level names in ``ignore``."""
    if not path.exists():
        return []
    return sorted(
        str(p.relative_to(path))
        for p in path.rglob("*")
        if p.is_file() and p.relative_to(path).parts[0] not in ignore
    )
