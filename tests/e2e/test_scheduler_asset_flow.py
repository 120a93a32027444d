"""A real Airflow 3 deployment runs the sync DAG, and its asset triggers the review DAG.

The deployment is the session's shared one (``tests/e2e/conftest.py``): api-server, scheduler
(LocalExecutor), dag-processor and triggerer on a fresh PostgreSQL database, with the Boomi
simulator serving the ``demo`` profile over loopback.

Set ``BOOMI_E2E_REQUIRE_POSTGRES=1`` (CI does) to fail instead of falling back to SQLite when
PostgreSQL does not answer.
"""

from __future__ import annotations

import pytest

from airflow_provider_boomi.dataset import SnapshotStore
from tests.e2e.conftest import BoomiDeployment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

FLOW_TIMEOUT = 240.0


def test_sync_asset_triggers_review(boomi_deployment: BoomiDeployment) -> None:
    deploy, sim, data_dir = boomi_deployment.airflow, boomi_deployment.sim, boomi_deployment.data_dir
    reviews_before = {
        r["dag_run_id"] for r in deploy.get("/api/v2/dags/boomi_access_review/dagRuns")["dag_runs"]
    }

    deploy.trigger("boomi_access_sync")

    def new_review_run() -> dict | None:
        for dag_id in ("boomi_access_sync", "boomi_access_review"):
            runs = deploy.get(f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
            failed = [r for r in runs if r["state"] == "failed"]
            assert not failed, f"{dag_id} failed:\n" + deploy.diagnostics()
        runs = deploy.get("/api/v2/dags/boomi_access_review/dagRuns")["dag_runs"]
        return next(
            (r for r in runs if r["state"] == "success" and r["dag_run_id"] not in reviews_before), None
        )

    review_run = deploy.poll("the review DAG to succeed", new_review_run, FLOW_TIMEOUT)
    assert review_run["run_type"] == "asset_triggered"

    store = SnapshotStore(data_dir / "snapshots")
    latest = store.latest(sim.account_id)
    assert latest is not None and latest.row_counts["user_role_grants"] == len(sim.state.user_roles())
    reports = [p.read_text() for p in (data_dir / "reviews").rglob("*-report.html")]
    assert any(latest.sync_id in report for report in reports), "no report of the latest snapshot"
    events = deploy.get("/api/v2/assets/events")["asset_events"]
    assert any((e.get("extra") or {}).get("sync_id") == latest.sync_id for e in events)
