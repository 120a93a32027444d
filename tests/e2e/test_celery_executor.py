"""Scale-out on a distributed executor (issue 17): the example DAGs on the CeleryExecutor.

The deployment: api-server, scheduler, DAG processor, triggerer (the JIT wait is deferrable) and
two Celery workers, each worker with its own HOME, TMPDIR, working directory and AIRFLOW_HOME
(workers share no disk) and a queue of its own; a test-only cluster policy sends each task
instance to one of the two queues by its DAG, task and map index, so both workers run tasks by
construction. The broker is the
machine's Redis (a DB index and key prefix of this run only), the metadata DB and the warehouse
are PostgreSQL databases of this run, and every path the DAGs write is on an S3-compatible
server (moto, on loopback): ``BOOMI_DATA_DIR=s3://<bucket>/boomi``.

Four Boomi accounts, one simulator each, in token-bucket mode, each connection paced at its
account's limit:

* ``boomi_default`` (demo profile, 10/s): the account of the review cycle, the JIT grant and
  the provisioning run, and one of the multi-account sync's;
* ``boomi_small`` (demo, 4/s), ``boomi_branch`` (non-primary, 8/s), ``boomi_big`` (5,000 users,
  40/s): the multi-account sync's others.

Every Airflow process (the DAG processor and both workers included) gets
``BOOMI_ACCOUNT_CONN_IDS`` listing the four, so ``boomi_multi_account_sync`` has one sync task
per account, each in its account's pool; the pools are created from the same variable
(``python -m airflow_provider_boomi.operators.pools --from-env``).

Phase 1 runs ``boomi_access_sync`` (``boomi_default``, into the PostgreSQL warehouse) and
``boomi_multi_account_sync`` (all four accounts, with its parameter's default) at once, so two
syncs of ``boomi_default`` from two DAGs compete for the account; the sync's asset starts
``boomi_access_review``. Phase 2 fills the campaign's workbook with revocations and then runs,
all at once on ``boomi_default``: ``boomi_apply_review_decisions``, ``boomi_jit_access`` and
another ``boomi_access_sync``. The per-account pool (``operators/pools.py``) is what keeps their
Boomi tasks apart.

Checked: every DAG run succeeds; both workers ran tasks (task instance hostname and queue); no
two task instances calling one account overlap in time; no 503 from any simulator; every
snapshot holds exactly the grants the account had while it was taken (sampled from the
simulator during the run); the warehouse holds exactly each loaded snapshot's grants; nothing
was written on a worker's or the control plane's local disk besides Airflow's own logs and
config.

``BOOMI_E2E_ACCOUNT_POOLS=off`` runs the same flows with the pools switched off
(``BOOMI_ACCOUNT_POOLS=false`` in every Airflow process) and then asserts the opposite: that
the overlap check *does* find tasks of one account running at once. That is how the check was
shown to fail without the serialisation.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.e2e import celery_support as cs
from tests.e2e.deployment import TRIGGERER, Deployment, DeploymentSettings, start_deployment

pytest.importorskip("airflow.providers.celery")
pytest.importorskip("moto.server")
pytest.importorskip("s3fs")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = (
    "boomi_access_sync.py",
    "boomi_access_review.py",
    "boomi_apply_review_decisions.py",
    "boomi_jit_access.py",
    "boomi_multi_account_sync.py",
)
# The nightly schedules become manual: the test decides when each run starts (a scheduled run
# would start at once with the default parameters, outside the flows under test).
UNSCHEDULED = ("boomi_access_sync.py", "boomi_multi_account_sync.py")
STANDARD_USER = "fcb6e2d0-0ca8-11e2-a477-1231381987a5"
POOLS_ON = os.environ.get("BOOMI_E2E_ACCOUNT_POOLS", "on").lower() not in ("off", "false", "0", "no")
FLOW_TIMEOUT = 300.0
WAREHOUSE_CONN = "warehouse_pg"
JIT_MINUTES = 0.1  # the JIT wait (deferred to the triggerer) lasts 6 seconds
REQUESTER, APPROVER = "requester", "approver"
# The Boomi accounts: connection id -> (simulator profile, seed, rate limit per second).
ACCOUNTS: dict[str, tuple[str, int, float]] = {
    "boomi_default": ("demo", 1, 10.0),
    "boomi_small": ("demo", 2, 4.0),
    "boomi_branch": ("non_primary", 3, 8.0),
    "boomi_big": ("skewed", 4, 40.0),
}
MAIN = "boomi_default"
# The accounts of the multi-account sync, as the Airflow processes read them (BOOMI_ACCOUNT_CONN_IDS):
# all four, the review account included, so its pool is tested against the other DAGs' tasks.
MULTI = tuple(ACCOUNTS)


@dataclass
class Worker:
    """One Celery worker: its queue and the directories that stand for its own machine's disk."""

    name: str
    queue: str
    root: Path

    @property
    def dirs(self) -> dict[str, Path]:
        return {k: self.root / k for k in ("home", "tmp", "cwd", "airflow_home")}

    def env(self, base: dict[str, str]) -> dict[str, str]:
        dirs = self.dirs
        return {
            **base,
            "HOME": str(dirs["home"]),
            "TMPDIR": str(dirs["tmp"]),
            "AIRFLOW_HOME": str(dirs["airflow_home"]),
            "BOOMI_E2E_WORKER_NAME": self.name,
        }


@dataclass
class CeleryRun:
    """Everything the test drives and inspects."""

    airflow: Deployment
    accounts: dict[str, cs.Account]
    store: cs.ObjectStore
    warehouse_url: str
    workers: list[Worker]
    control_dirs: dict[str, Path]
    dag_folder: Path
    dag_files_before: dict[str, bytes]

    def worker_diagnostics(self) -> str:
        parts = []
        for worker in self.workers:
            logs = sorted((worker.dirs["airflow_home"] / "logs").rglob("attempt=*.log"))
            for path in logs:
                text = "\n".join(path.read_text(errors="replace").splitlines()[-30:])
                parts.append(f"--- {worker.name}: {path.name} {path.parent}\n{text}")
        return self.airflow.diagnostics() + "\n=== worker task logs\n" + "\n".join(parts)


def _start_worker(airflow: Deployment, worker: Worker) -> None:
    """A Celery worker on its own queue, in its own directories, registered with the deployment
    (so its liveness is checked, its log shown on failure and it is stopped with the rest)."""
    for path in worker.dirs.values():
        path.mkdir(parents=True)
    log = open(airflow.home / f"{worker.name}.log", "wb")  # noqa: SIM115 - closed with the process
    airflow.procs[worker.name] = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow",
            "celery",
            "worker",
            "--queues",
            worker.queue,
            "--concurrency",
            "2",
            "--skip-serve-logs",
            "--celery-hostname",
            f"{worker.name}@%h",
        ],
        env=worker.env(airflow.env),
        cwd=worker.dirs["cwd"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _dag_files(target: Path) -> list[Path]:
    """The example DAGs, with the nightly schedules turned into manual ones (see UNSCHEDULED)."""
    target.mkdir()
    out = []
    for name in DAG_FILES:
        text = (REPO / "dags" / name).read_text()
        if name in UNSCHEDULED:
            assert text.count('schedule="@daily",') == 1, f"{name}: its schedule line changed"
            text = text.replace('schedule="@daily",', "schedule=None,")
        (target / name).write_text(text)
        out.append(target / name)
    return out


@pytest.fixture(scope="module")
def celery_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryRun]:
    root = tmp_path_factory.mktemp("celery-e2e")
    home = root / "control-plane"
    home.mkdir()
    broker = cs.Broker()
    broker.check()
    warehouse_url, warehouse_db = cs.create_database("boomi_wh")
    sims: list[BoomiSimulator] = []
    try:
        accounts = {}
        for conn_id, (profile, seed, rate) in ACCOUNTS.items():
            sim = BoomiSimulator(profile=profile, seed=seed, rate_limit=rate, rate_limiter="token_bucket")
            sims.append(sim.start())
            accounts[conn_id] = cs.Account(conn_id=conn_id, sim=sim, rate=rate)
        with cs.s3_server() as store:
            settings_dir = root / "settings"
            cs.write_local_settings(settings_dir)
            control_dirs = {k: root / "control-plane-disk" / k for k in ("home", "tmp")}
            for path in control_dirs.values():
                path.mkdir(parents=True)
            env = {
                **broker.airflow_env(),
                **store.airflow_env(),
                **{a.env_name(): a.connection_json() for a in accounts.values()},
                # Read where the DAG is parsed: the DAG processor and every worker (worker.env).
                "BOOMI_ACCOUNT_CONN_IDS": ",".join(MULTI),
                f"AIRFLOW_CONN_{WAREHOUSE_CONN.upper()}": cs.airflow_conn_uri(warehouse_url),
                "BOOMI_DATA_DIR": store.root,
                "BOOMI_ACCOUNT_POOLS": "true" if POOLS_ON else "false",
                # Celery: parallelism caps queued + running task instances, not processes.
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": cs.QUEUES[0],
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_local_settings.worker_hostname",
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(settings_dir), os.environ.get("PYTHONPATH")) if p
                ),
                "PYTHONDONTWRITEBYTECODE": "1",
                "HOME": str(control_dirs["home"]),
                "TMPDIR": str(control_dirs["tmp"]),
            }
            settings = DeploymentSettings(
                dag_files=_dag_files(root / "dag-sources"),
                executor="CeleryExecutor",
                extra_processes=TRIGGERER,
                users={"admin": "admin", REQUESTER: "admin", APPROVER: "admin"},
                env=env,
                health_components=("scheduler", "dag_processor", "triggerer"),
            )
            with start_deployment(settings, home) as airflow:
                workers = [Worker(f"worker_{q[-1]}", q, root / f"worker_{q[-1]}") for q in cs.QUEUES]
                for worker in workers:
                    _start_worker(airflow, worker)
                # The pools of the accounts the DAGs were given, from the same variable.
                pools = root / "pools.json"
                pools.write_text(
                    subprocess.run(
                        [sys.executable, "-m", "airflow_provider_boomi.operators.pools", "--from-env"],
                        env=airflow.env,
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                )
                assert sorted(json.loads(pools.read_text())) == sorted(f"boomi:{c}" for c in ACCOUNTS)
                imported = airflow.airflow("pools", "import", str(pools))
                assert imported.returncode == 0, imported.stdout + imported.stderr
                airflow.wait_ready([Path(n).stem for n in DAG_FILES])
                for worker in workers:
                    airflow.poll(
                        f"{worker.name} to be ready",
                        lambda w=worker: (
                            " ready." in (airflow.home / f"{w.name}.log").read_text(errors="replace")
                        ),
                        120.0,
                    )
                dag_folder = home / "dags"
                yield CeleryRun(
                    airflow=airflow,
                    accounts=accounts,
                    store=store,
                    warehouse_url=warehouse_url,
                    workers=workers,
                    control_dirs=control_dirs,
                    dag_folder=dag_folder,
                    dag_files_before={p.name: p.read_bytes() for p in dag_folder.iterdir()},
                )
    finally:
        for sim in sims:
            sim.stop()
        cs.drop_database(warehouse_db)
        broker.cleanup()


# --- driving the flows ---------------------------------------------------------------------------


def _succeeded(run: CeleryRun, dag_id: str, run_id: str) -> None:
    finished = run.airflow.wait_for_run(dag_id, run_id, FLOW_TIMEOUT)
    assert finished["state"] == "success", (
        f"{dag_id} {run_id}: {run.airflow.task_states(dag_id, run_id)}\n{run.worker_diagnostics()}"
    )


def _approve(run: CeleryRun, dag_id: str, run_id: str) -> None:
    """Answer the run's approval as the approver (not the requester who triggered it)."""

    def asked() -> dict[str, Any] | None:
        details = run.airflow.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/hitlDetails")["hitl_details"]
        waiting = [d for d in details if not d["response_received"]]
        return waiting[0] if waiting else None

    detail = run.airflow.poll(f"the approval of {dag_id} {run_id}", asked, FLOW_TIMEOUT)
    ti = detail["task_instance"]
    answered = run.airflow.client(APPROVER).patch(
        f"{run.airflow.api}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/-1/hitlDetails",
        json={"chosen_options": ["Approve"], "params_input": {}},
        timeout=10,
    )
    assert answered.status_code == 200, answered.text


def _all_review_runs_done(run: CeleryRun, at_least: int) -> None:
    """The review DAG runs on every snapshot asset event; wait until each of its runs has ended."""

    def done() -> bool:
        runs = run.airflow.get("/api/v2/dags/boomi_access_review/dagRuns")["dag_runs"]
        failed = [r["dag_run_id"] for r in runs if r["state"] == "failed"]
        assert not failed, f"review runs failed: {failed}\n{run.worker_diagnostics()}"
        return len(runs) >= at_least and all(r["state"] == "success" for r in runs)

    run.airflow.poll("the review runs", done, FLOW_TIMEOUT)


def _fill_workbook(fs: Any, campaign_key: str, revoke: set[str], out_url: str) -> None:
    """Fill the campaign's CSV workbook as a reviewer would, and put it on the store."""
    (csv_key,) = fs.glob(f"{campaign_key}/*-review.csv")
    reader = csv.DictReader(io.StringIO(fs.cat_file(csv_key).decode("utf-8-sig"), newline=""))
    fields, rows = list(reader.fieldnames or []), list(reader)
    for row in rows:
        row["decision"] = "revoke" if row["item_id"] in revoke else "keep"
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    fs.pipe_file(out_url.removeprefix("s3://"), text.getvalue().encode("utf-8"))


def _jit_request(sim: BoomiSimulator, avoid: set[str]) -> tuple[str, str]:
    """A user holding two roles or more and an assignable custom role they lack: a real grant."""
    held: dict[str, set[str]] = {}
    for row in sim.state.user_roles():
        held.setdefault(row["userId"], set()).add(row["roleId"])
    custom = sorted(r["id"] for r in sim.state.roles() if r["accountId"] == sim.account_id)
    assignable = [r for r in custom if len(r) == 36 and r.count("-") == 4]
    for user, roles in sorted(held.items()):
        if user.lower() in avoid or user.lower() == sim.email.lower() or len(roles) < 2:
            continue
        missing = [r for r in assignable if r not in roles]
        if missing:
            return user, missing[0]
    raise AssertionError("the demo account offers no user and role for a JIT grant")


def _xcom(run: CeleryRun, ti: cs.TaskRun) -> Any:
    body = run.airflow.get(
        f"/api/v2/dags/{ti.dag_id}/dagRuns/{ti.run_id}/taskInstances/{ti.task_id}/xcomEntries/return_value",
        map_index=ti.map_index,
    )
    value = body["value"]
    return json.loads(value) if isinstance(value, str) else value


def _is_sync(ti: cs.TaskRun) -> bool:
    """A task that took a snapshot: ``sync``, ``resync``, or a multi-account ``sync_<conn id>``."""
    return ti.task_id in ("sync", "resync") or (
        ti.dag_id == "boomi_multi_account_sync" and ti.task_id.startswith("sync_")
    )


def _grant_ids(store: SnapshotStore, account_id: str, sync_id: str) -> tuple[frozenset[str], frozenset[str]]:
    return tuple(  # type: ignore[return-value]
        frozenset(store.read_table(account_id, sync_id, table, columns=["boomi_id"])["boomi_id"].to_pylist())
        for table in ("user_role_grants", "group_role_grants")
    )


# --- the test --------------------------------------------------------------------------------------------


def test_the_example_dags_scale_out_on_celery(celery_run: CeleryRun) -> None:
    run = celery_run
    airflow = run.airflow
    main = run.accounts[MAIN]
    fs = run.store.fs()
    data = run.store.root
    recorder = cs.GrantRecorder(main).start()
    began = time.monotonic()
    try:
        # Phase 1: the main account's sync (into the warehouse) and the multi-account sync of every
        # account (its parameter's default: the accounts of BOOMI_ACCOUNT_CONN_IDS) at once; the
        # snapshot asset starts a review campaign.
        sync1 = airflow.trigger("boomi_access_sync", {"warehouse_conn_id": WAREHOUSE_CONN}, user=REQUESTER)
        multi = airflow.trigger("boomi_multi_account_sync", user=REQUESTER)
        _succeeded(run, "boomi_access_sync", sync1)
        _succeeded(run, "boomi_multi_account_sync", multi)
        _all_review_runs_done(run, at_least=1)
        phase1 = time.monotonic() - began

        (campaign_json,) = fs.glob(f"{run.store.bucket}/boomi/reviews/*/campaign.json")
        campaign_key = campaign_json.rsplit("/", 1)[0]
        items = json.loads(fs.cat_file(campaign_json))["items"]
        revoked = [i for i in items if i["grant_kind"] == "global_role" and i["role_id"] != STANDARD_USER][:2]
        revoked += [next(i for i in items if i["grant_kind"] == "group_role")]
        workbook = f"{data}/inbox/filled.csv"
        _fill_workbook(fs, campaign_key, {i["item_id"] for i in revoked}, workbook)
        jit_user, jit_role = _jit_request(main.sim, {i["user_id"].lower() for i in revoked})

        # Phase 2, all on the main account at once: the reviewed revocations (a provisioning run
        # with its resync), a JIT grant and its revoke, and another sync.
        apply = airflow.trigger(
            "boomi_apply_review_decisions",
            {
                "campaign_dir": f"s3://{campaign_key}",
                "workbook_path": workbook,
                "warehouse_conn_id": WAREHOUSE_CONN,
            },
            user=REQUESTER,
        )
        jit = airflow.trigger(
            "boomi_jit_access",
            {
                "user_id": jit_user,
                "role": jit_role,
                "duration_minutes": JIT_MINUTES,
                "justification": "INC-17",
            },
            user=REQUESTER,
        )
        sync2 = airflow.trigger("boomi_access_sync", {"warehouse_conn_id": WAREHOUSE_CONN}, user=REQUESTER)
        _approve(run, "boomi_jit_access", jit)
        _approve(run, "boomi_apply_review_decisions", apply)
        for dag_id, run_id in (
            ("boomi_access_sync", sync2),
            ("boomi_jit_access", jit),
            ("boomi_apply_review_decisions", apply),
        ):
            _succeeded(run, dag_id, run_id)
        _all_review_runs_done(run, at_least=2)
    finally:
        recorder.stop()
    flows = time.monotonic() - began
    tis = cs.task_runs(airflow.client(), airflow.api)
    calling = [t for t in tis if t.conn_id]

    # One task per account at a time: the pools (or, with them off, the proof that this check bites).
    clashes = cs.overlaps(tis)
    if not POOLS_ON:
        assert clashes, "with BOOMI_ACCOUNT_POOLS=false no two tasks of one account overlapped: rerun"
        print("\n".join(f"overlap without pools: {a.label} and {b.label}" for a, b in clashes))
        return
    assert clashes == [], "\n".join(
        f"{a.label} {a.start}..{a.end} overlaps {b.label} {b.start}..{b.end}" for a, b in clashes
    )
    # Every task calling Boomi was in its account's pool, the multi-account sync's included.
    assert {(t.label, t.pool) for t in calling} == {(t.label, f"boomi:{t.conn_id}") for t in calling}
    assert {t.conn_id for t in calling} == set(ACCOUNTS)
    multi_syncs = {t.conn_id: t for t in calling if t.dag_id == "boomi_multi_account_sync"}
    assert sorted(multi_syncs) == sorted(MULTI)
    assert all(t.state == "success" and t.task_id == f"sync_{c}" for c, t in multi_syncs.items())

    # Both workers ran tasks, each only from its own queue.
    ran = [t for t in tis if t.state == "success" and t.hostname]
    by_worker: dict[str, list[str]] = {}
    for t in ran:
        by_worker.setdefault(t.hostname, []).append(t.label)
    assert set(by_worker) == {w.name for w in run.workers}, by_worker.keys()
    queues = {w.name: w.queue for w in run.workers}
    assert all(t.queue == queues[t.hostname] for t in ran)

    # No 503 at matched rates.
    assert {c: a.responses_503() for c, a in run.accounts.items()} == dict.fromkeys(ACCOUNTS, 0)

    # Every snapshot exact: the grants the account held while it was taken.
    store = SnapshotStore(f"{data}/snapshots", storage_options=run.store.storage_options)
    produced = {_xcom(run, t)["sync_id"]: t for t in calling if _is_sync(t)}
    snapshots: dict[str, list[str]] = {}
    for conn_id, account in run.accounts.items():
        infos = store.snapshots(account.sim.account_id)
        snapshots[conn_id] = [i.sync_id for i in infos]
        for info in infos:
            assert store.verify(account.sim.account_id, info.sync_id) == []
            got = _grant_ids(store, account.sim.account_id, info.sync_id)
            task = produced[info.sync_id]
            assert task.conn_id == conn_id
            if conn_id == MAIN:
                assert task.start and task.end
                held = recorder.states_between(task.start.timestamp(), task.end.timestamp())
                assert len(held) == 1, f"{task.label}: the grants changed while it synced"
                assert got == held[0], f"{task.label}: the snapshot differs from the account"
            else:
                assert got == account.grant_ids(), f"{task.label}: the snapshot differs from the account"
    # The main account: two syncs, the resync and the multi-account sync's; the others: one each.
    assert len(snapshots[MAIN]) == 4 and all(len(snapshots[c]) == 1 for c in MULTI if c != MAIN), snapshots

    # The warehouse holds each loaded snapshot exactly: the main account's, except the multi-account
    # sync's (that DAG has no load step).
    import psycopg

    with psycopg.connect(run.warehouse_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        loaded = {r[0] for r in conn.execute("SELECT sync_id FROM boomi_snapshots")}
        assert loaded == {s for s in snapshots[MAIN] if produced[s].dag_id != "boomi_multi_account_sync"}
        for sync_id in loaded:
            in_warehouse = tuple(
                frozenset(
                    r[0] for r in conn.execute(f"SELECT boomi_id FROM {t} WHERE sync_id = %s", (sync_id,))
                )
                for t in ("boomi_user_role_grants", "boomi_group_role_grants")
            )
            assert in_warehouse == _grant_ids(store, main.sim.account_id, sync_id)

    # The changes took effect: the revocations stay, the JIT role is gone again.
    final_roles = {(r["userId"].lower(), r["roleId"]) for r in main.sim.state.user_roles()}
    assert (jit_user.lower(), jit_role) not in final_roles
    assert all(
        (i["user_id"].lower(), i["role_id"]) not in final_roles
        for i in revoked
        if i["grant_kind"] == "global_role"
    )
    assert fs.glob(f"{run.store.bucket}/boomi/evidence/**/index.json"), "no evidence bundle"

    # Nothing on local disks: a worker's HOME, TMPDIR and working directory stay empty, its
    # AIRFLOW_HOME holds only Airflow's config and task logs; the same for the control plane.
    for worker in run.workers:
        dirs = worker.dirs
        for name in ("home", "tmp", "cwd"):
            assert cs.files_under(dirs[name]) == [], f"{worker.name} wrote into its {name}"
        assert cs.files_under(dirs["airflow_home"], ignore=("logs",)) == ["airflow.cfg"]
    for name, path in run.control_dirs.items():
        assert cs.files_under(path) == [], f"the control plane wrote into its {name}"
    assert {p.name: p.read_bytes() for p in run.dag_folder.iterdir()} == run.dag_files_before

    # The figures docs/scale.md uses.
    keys = fs.glob(f"{run.store.bucket}/boomi/snapshots/account_id=*/sync_id=*/*")
    xcom_sizes = sorted(
        len(json.dumps(_xcom(run, t))) for t in calling if _is_sync(t) and t.task_id != "resync"
    )
    sync_seconds = sorted(
        (t.conn_id or "", round((t.end - t.start).total_seconds(), 1))
        for t in calling
        if _is_sync(t) and t.start and t.end
    )
    snapshot_bytes = {
        c: sum(
            fs.du(k)
            for k in fs.glob(f"{data.removeprefix('s3://')}/snapshots/account_id={a.sim.account_id}/*")
        )
        // max(1, len(snapshots[c]))
        for c, a in run.accounts.items()
    }
    print(
        f"\ncelery e2e: phase 1 {phase1:.1f}s, flows {flows:.1f}s; task instances {len(tis)} "
        f"({', '.join(f'{w}: {len(v)}' for w, v in sorted(by_worker.items()))}); "
        f"snapshot files {len(keys)} for {sum(map(len, snapshots.values()))} snapshots; "
        f"sync XCom bytes {xcom_sizes}; sync task seconds {sync_seconds}; "
        f"bytes per snapshot {snapshot_bytes}; API calls "
        f"{ {c: len(a.sim.requests) for c, a in run.accounts.items()} }"
    )
