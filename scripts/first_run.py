"""The newcomer's first run (``make demo``): simulator -> sync -> warehouse -> review.

Starts the Boomi simulator with the ``demo`` profile (at Boomi's documented 10 requests/s),
then runs the example DAGs ``boomi_access_sync`` (snapshot + DuckDB warehouse) and
``boomi_quarterly_review`` (one workbook per reviewer with an attestation token, the HTML
report) with ``dag.test()`` in a throwaway Airflow home, and prints where everything is with a
short summary. It also runs the optional continuous review, ``boomi_access_review``, whose
``uar-...`` campaign the walkthrough of ``boomi_apply_review_decisions`` fills as one CSV.
Reviewers are emailed their workbooks through a real SMTP server on loopback (``aiosmtpd``),
which saves each message it receives under ``mail/``. Everything lands under
``out/first-run/`` (recreated on every run); Airflow's own output goes to log files there.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "out" / "first-run"


def airflow_env(home: Path, data: Path) -> dict[str, str]:
    """An isolated Airflow (SQLite metadata DB, the repository's DAG folder) for dag.test()."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "BOOMI_DATA_DIR": str(data),
            "PYTHONWARNINGS": "ignore",
        }
    )
    return env


def run_dag(dag_id: str, conf: dict[str, object], env: dict[str, str], log: Path) -> None:
    """Run one DAG with dag.test() in a child process; its output goes to ``log``."""
    with log.open("w") as fh:
        done = subprocess.run(
            [sys.executable, __file__, "--run-dag", dag_id, "--conf", json.dumps(conf)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise SystemExit(f"{dag_id} failed (exit {done.returncode}); last lines of {log}:\n{tail}")


class MailDrop:
    """An SMTP server on loopback that saves every message it receives as a ``.eml`` file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.received: list[Path] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        path = self.folder / f"{len(self.received) + 1:03d}.eml"
        path.write_bytes(envelope.content)  # type: ignore[attr-defined]
        self.received.append(path)
        return "250 Message accepted for delivery"


def child_run_dag(dag_id: str, conf: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags")).get_dag(dag_id)
    if dag is None:
        raise SystemExit(f"DAG {dag_id} not found in {REPO / 'dags'}")
    run = dag.test(run_conf=json.loads(conf))
    if run.state != "success":
        raise SystemExit(f"{dag_id} ended {run.state}")


def main() -> None:
    started = time.monotonic()
    shutil.rmtree(OUT, ignore_errors=True)
    home, data, logs = OUT / "airflow_home", OUT / "data", OUT / "logs"
    for folder in (home, data, logs):
        folder.mkdir(parents=True)
    env = airflow_env(home, data)

    def step(text: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {text}", flush=True)

    step("preparing a throwaway Airflow metadata DB (airflow db migrate)")
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    (logs / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
    if migrate.returncode != 0:
        raise SystemExit(f"airflow db migrate failed; see {logs / 'db-migrate.log'}")

    from aiosmtpd.controller import Controller

    from airflow_provider_boomi.dataset import SnapshotStore
    from airflow_provider_boomi.testing.simulator import BoomiSimulator

    snapshots, warehouse, reviews = data / "snapshots", data / "warehouse.duckdb", data / "reviews"
    (OUT / "mail").mkdir()
    mail = MailDrop(OUT / "mail")
    with socket.socket() as probe:  # a free loopback port for the SMTP server
        probe.bind(("127.0.0.1", 0))
        smtp_port = int(probe.getsockname()[1])
    smtp = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    env["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(
        {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": smtp_port,
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "access-review@acme.example"},
        }
    )
    with BoomiSimulator(profile="demo", rate_limit=10.0) as sim:
        step(f"Boomi simulator (demo profile, 10 requests/s) at {sim.base_url}, account {sim.account_id}")
        env["AIRFLOW_CONN_BOOMI_DEFAULT"] = sim.connection_json()
        # The secret that signs each reviewer's attestation token: a throwaway one here; in a
        # deployment, a connection in the secrets backend.
        env["AIRFLOW_CONN_BOOMI_REVIEW_ATTESTATION"] = json.dumps(
            {"conn_type": "generic", "password": secrets.token_urlsafe(32)}
        )
        step("running DAG boomi_access_sync: sync to Parquet, then load DuckDB")
        run_dag(
            "boomi_access_sync",
            {"output_path": str(snapshots), "warehouse_path": str(warehouse), "privileged_preset": "sox"},
            env,
            logs / "boomi_access_sync.log",
        )
        step("running DAG boomi_quarterly_review: one workbook per reviewer and the HTML report")
        # The DAG's default definition names the demo account's owners.
        run_dag(
            "boomi_quarterly_review",
            {"output_path": str(snapshots), "reviews_path": str(reviews)},
            env,
            logs / "boomi_quarterly_review.log",
        )
        step("running DAG boomi_access_review: the continuous review's campaign (for the apply walkthrough)")
        run_dag(
            "boomi_access_review",
            {"output_path": str(snapshots), "reviews_path": str(reviews)},
            env,
            logs / "boomi_access_review.log",
        )
        api_calls = len(sim.requests)
    smtp.stop()

    store = SnapshotStore(snapshots)
    latest = store.latest(sim.account_id)
    if latest is None:
        raise SystemExit("no complete snapshot was written")
    campaign_json = next(reviews.glob("quarterly-uar-*/campaign.json"))
    campaign = json.loads(campaign_json.read_text())
    files = {name: campaign_json.parent / info["name"] for name, info in campaign["files"].items()}
    workbooks = {
        reviewer or "(no reviewer)": campaign_json.parent / info["name"]
        for reviewer, info in campaign["reviewer_workbooks"].items()
    }
    width = max(len(r) for r in workbooks)
    reviewer_lines = "\n".join(
        f"  {reviewer:<{width}}  {path.relative_to(campaign_json.parent)}"
        for reviewer, path in workbooks.items()
    )

    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as db:
        privileged = db.execute("select count(*) from boomi_privileged_users").fetchone()
        group_only = db.execute("select count(*) from boomi_group_only_users").fetchone()

    counts = latest.row_counts
    summary = campaign["summary"]
    step("done")
    print(
        f"""
Snapshot        {latest.path}
Manifest        {latest.manifest_path}
Warehouse       {warehouse}   (views: boomi_current_access, boomi_grant_history, ...)
Campaign        {campaign_json.parent}
HTML report     {files["report_html"]}
All items       {files["workbook_xlsx"]}   (for the data team)
Airflow logs    {logs}

Account {sim.account_id}: {counts["users"]} users, {counts["roles"]} roles,
{counts["account_groups"]} account groups, {counts["user_role_grants"]} global role grants,
{counts["group_role_grants"]} group role grants
({api_calls} API calls to the simulator). Privileged users: {privileged[0] if privileged else 0};
users with access only through account groups: {group_only[0] if group_only else 0}.
Review campaign {campaign["campaign_id"]}: {summary["items"]} items, {summary["privileged"]} privileged \
(SOX preset: administration, API, deploy, environment and package management), \
{summary["reviewers"]} reviewers, {summary["without_reviewer"]} items without a reviewer, \
{summary["self_reviews_rerouted"]} self-review(s) sent to the fallback reviewer; due {campaign["due_date"]}.
One workbook per reviewer, each with only their items and their attestation token:
{reviewer_lines}
{len(mail.received)} emails delivered to reviewers (workbook attached), saved in {OUT / "mail"}.
Open the HTML report in a browser; a reviewer fills the decision column of their workbook, and
BoomiReviewDecisionsOperator reads it back with their identity proven (see docs/review.md).
Finished in {time.monotonic() - started:.0f}s."""
    )


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-dag", help=argparse.SUPPRESS)
    parser.add_argument("--conf", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_dag:
        child_run_dag(args.run_dag, args.conf)
    else:
        main()
