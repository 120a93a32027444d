"""Every example DAG: imports cleanly, and runs with ``dag.test()`` against the simulator."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_provider_boomi.access.ledger import read_ledger
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.conftest import REPO, load_dag
from tests.helpers import Approvals

DAG_IDS = {
    "boomi_access_sync.py": "boomi_access_sync",
    "boomi_access_review.py": "boomi_access_review",
    "boomi_apply_review_decisions.py": "boomi_apply_review_decisions",
    "boomi_jit_access.py": "boomi_jit_access",
    "boomi_multi_account_sync.py": "boomi_multi_account_sync",
    "boomi_quarterly_review.py": "boomi_quarterly_review",
    "boomi_review_reminders.py": "boomi_review_reminders",
    "boomi_jit_catch_up.py": "boomi_jit_catch_up",
}
APPROVER = "grace"  # answers the approvals; not the triggering user of dag.test() runs
STANDARD_USER = "fcb6e2d0-0ca8-11e2-a477-1231381987a5"


def test_every_dag_file_imports_without_errors(dag_folder: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    assert set(DAG_IDS.values()) <= set(bag.dag_ids)
    for dag_id in DAG_IDS.values():
        dag = bag.get_dag(dag_id)
        assert dag.doc_md, f"{dag_id} is documented at its top"
        assert dag.params, f"{dag_id} is parameterised with Params"


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[BoomiSimulator]:
    with BoomiSimulator(profile="demo", rate_limit=None) as simulator:
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", simulator.connection_json(provisioning_enabled=True))
        yield simulator


def run(dag_folder: Path, file: str, conf: dict[str, Any]) -> Any:
    dag = load_dag(dag_folder / file, DAG_IDS[file])
    return dag.test(run_conf=conf)


def task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def sync_and_review(dag_folder: Path, data: Path) -> tuple[Any, Path]:
    synced = run(
        dag_folder,
        "boomi_access_sync.py",
        {"output_path": str(data / "snapshots"), "warehouse_path": str(data / "warehouse.duckdb")},
    )
    assert synced.state == "success", task_states(synced)
    reviewed = run(
        dag_folder,
        "boomi_access_review.py",
        {"output_path": str(data / "snapshots"), "reviews_path": str(data / "reviews")},
    )
    assert reviewed.state == "success", task_states(reviewed)
    campaign_dirs = [p.parent for p in (data / "reviews").rglob("campaign.json")]
    assert len(campaign_dirs) == 1
    return synced, campaign_dirs[0]


def test_sync_then_review(sim: BoomiSimulator, dag_folder: Path, tmp_path: Path) -> None:
    _, campaign_dir = sync_and_review(dag_folder, tmp_path)

    store = SnapshotStore(tmp_path / "snapshots")
    latest = store.latest(sim.account_id)
    assert latest is not None
    assert latest.row_counts["user_role_grants"] == len(sim.state.user_roles())
    assert latest.row_counts["group_role_grants"] == len(sim.state.group_roles())

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as db:
        loaded = db.execute("select count(*) from boomi_user_role_grants").fetchone()
        assert loaded == (len(sim.state.user_roles()),)
        current = db.execute("select count(*) from boomi_current_access").fetchone()
        assert current == (len(sim.state.user_roles()) + len(sim.state.group_roles()),)
        admins = {r[0] for r in db.execute("select user_id from boomi_privileged_users").fetchall()}
        assert sim.email in admins

    report = next(campaign_dir.glob("*-report.html")).read_text()
    assert latest.sync_id in report and "<svg" in report
    with next(campaign_dir.glob("*-review.csv")).open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == latest.row_counts["user_role_grants"] + latest.row_counts["group_role_grants"]
    # The XLSX workbook holds the same items as the CSV, every decision still to be made.
    from openpyxl import load_workbook

    workbook = load_workbook(next(campaign_dir.glob("*-review.xlsx")))
    (sheet,) = [s for s in workbook.worksheets if s.sheet_state == "visible"]
    header, *cells = sheet.iter_rows(values_only=True)
    xlsx_rows = [dict(zip(header, values, strict=True)) for values in cells]
    assert [r["item_id"] for r in xlsx_rows] == [r["item_id"] for r in rows]
    assert {r["decision"] for r in xlsx_rows} == {None}
    assert {r["email"] for r in xlsx_rows} == {r["email"] for r in rows}


def _fill_workbook(campaign_dir: Path, revoke: set[str], out: Path) -> Path:
    with next(campaign_dir.glob("*-review.csv")).open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    for row in rows:
        row["decision"] = "revoke" if row["item_id"] in revoke else "keep"
        row["comment"] = "left the team" if row["item_id"] in revoke else ""
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return out


def apply_conf(campaign_dir: Path, workbook: Path, data: Path) -> dict[str, str]:
    """Params of boomi_apply_review_decisions, everything under the test's folder."""
    return {
        "campaign_dir": str(campaign_dir),
        "workbook_path": str(workbook),
        "output_path": str(data / "snapshots"),
        "ledger_path": str(data / "ledger"),
        "evidence_path": str(data / "evidence"),
        "warehouse_path": str(data / "warehouse.duckdb"),
    }


def test_apply_review_decisions_revokes_verifies_and_writes_evidence(
    sim: BoomiSimulator, dag_folder: Path, approvals: Approvals, tmp_path: Path
) -> None:
    _, campaign_dir = sync_and_review(dag_folder, tmp_path)
    campaign = json.loads((campaign_dir / "campaign.json").read_text())
    items = campaign["items"]
    counts: dict[str, int] = {}
    for item in items:
        if item["grant_kind"] == "global_role":
            counts[item["user_id"]] = counts.get(item["user_id"], 0) + 1
    # A user's only global role (the Standard User safeguard applies) and one group grant.
    last_role = next(
        i
        for i in items
        if i["grant_kind"] == "global_role" and counts[i["user_id"]] == 1 and i["role_id"] != STANDARD_USER
    )
    group_grant = next(i for i in items if i["grant_kind"] == "group_role")
    workbook = _fill_workbook(
        campaign_dir, {last_role["item_id"], group_grant["item_id"]}, tmp_path / "filled.csv"
    )

    answered = approvals.answer_in_background("boomi_apply_review_decisions", "Approve", APPROVER)
    applied = run(
        dag_folder,
        "boomi_apply_review_decisions.py",
        apply_conf(campaign_dir, workbook, tmp_path),
    )
    answered()
    assert applied.state == "success", task_states(applied)

    user_roles = {r["roleId"] for r in sim.state.user_roles() if r["userId"] == last_role["user_id"]}
    assert user_roles == {STANDARD_USER}, "the user stays in the account with Standard User"
    assert not any(
        r["userId"] == group_grant["user_id"]
        and r["roleId"] == group_grant["role_id"]
        and r["accountGroupId"] == group_grant["account_group_id"]
        for r in sim.state.group_roles()
    )

    ledger = read_ledger(str(tmp_path / "ledger"))
    applied_rows = ledger[(ledger["task_id"] == "apply")]
    assert sorted(applied_rows["outcome"]) == ["applied", "applied"]
    assert set(applied_rows["approved_by"]) == {APPROVER}
    assert set(ledger[ledger["task_id"] == "plan"]["outcome"]) == {"planned"}

    index_files = list((tmp_path / "evidence").rglob("index.json"))
    assert len(index_files) == 1
    index = json.loads(index_files[0].read_text())
    names = {f["path"] for f in index["files"]}
    assert {
        "campaign.json",
        "decisions.json",
        "filled-workbook.csv",
        "changes.json",
        "verification.json",
        "ledger.csv",
        "manifests/reviewed_snapshot.json",
        "manifests/resync_snapshot.json",
    } <= names
    assert index["revocations"] == 2 and index["verified"] == 2
    verification = json.loads((index_files[0].parent / "verification.json").read_text())
    assert [(c["expected"], c["holds"]) for c in verification["checks"]] == [("absent", True)] * 2
    assert sim.token not in index_files[0].parent.joinpath("ledger.csv").read_text()

    # The loop closes: the snapshot taken after applying is in the warehouse like any other, so
    # the revocations are access changes there.
    import duckdb

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        removed = con.execute(
            "SELECT grant_id FROM boomi_access_changes WHERE change_type = 'removed'"
        ).fetchall()
    assert {g for (g,) in removed} == {last_role["item_id"], group_grant["item_id"]}


def test_apply_review_decisions_with_only_keeps_changes_nothing(
    sim: BoomiSimulator, dag_folder: Path, tmp_path: Path
) -> None:
    _, campaign_dir = sync_and_review(dag_folder, tmp_path)
    workbook = _fill_workbook(campaign_dir, set(), tmp_path / "filled.csv")
    sim.clear_requests()
    applied = run(
        dag_folder,
        "boomi_apply_review_decisions.py",
        apply_conf(campaign_dir, workbook, tmp_path),
    )
    states = task_states(applied)
    assert applied.state == "success", states
    assert states["apply"] == "skipped" and states["evidence"] == "success"
    assert [r for r in sim.requests if r.operation in ("create", "delete")] == []


def test_apply_review_decisions_rejects_a_bad_workbook(
    sim: BoomiSimulator, dag_folder: Path, tmp_path: Path
) -> None:
    _, campaign_dir = sync_and_review(dag_folder, tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,decision,comment\nrole:nope:assigned:user:x@example.com,revoke,\n")
    sim.clear_requests()
    applied = run(
        dag_folder,
        "boomi_apply_review_decisions.py",
        {"campaign_dir": str(campaign_dir), "workbook_path": str(bad), "output_path": str(tmp_path / "s")},
    )
    assert applied.state == "failed"
    assert task_states(applied)["validate"] == "failed"
    assert [r for r in sim.requests if r.operation in ("create", "delete")] == []


def test_jit_access_leaves_a_role_the_user_already_held(
    sim: BoomiSimulator, dag_folder: Path, approvals: Approvals, tmp_path: Path
) -> None:
    auditor = sim.state.role_by_name("Auditor")
    assert auditor is not None
    user = next(r["userId"] for r in sim.state.user_roles() if r["roleId"] == auditor["id"])
    conf = {
        "user_id": user,
        "role": "Auditor",
        "duration_minutes": 0.01,
        "justification": "already has it",
        "ledger_path": str(tmp_path / "ledger"),
    }
    answered = approvals.answer_in_background("boomi_jit_access", "Approve", APPROVER)
    result = run(dag_folder, "boomi_jit_access.py", conf)
    answered()
    states = task_states(result)
    assert result.state == "success", states
    assert states["revoke"] == "skipped"
    assert auditor["id"] in {r["roleId"] for r in sim.state.user_roles() if r["userId"] == user}
    assert list(read_ledger(str(tmp_path / "ledger"))["outcome"]) == ["already_satisfied"]


def test_jit_access_refuses_too_long_a_duration(
    sim: BoomiSimulator, dag_folder: Path, tmp_path: Path
) -> None:
    conf = {
        "user_id": sim.email,
        "role": "Auditor",
        "duration_minutes": 100000,
        "justification": "too long",
        "ledger_path": str(tmp_path / "ledger"),
    }
    sim.clear_requests()
    result = run(dag_folder, "boomi_jit_access.py", conf)
    assert result.state == "failed"
    assert task_states(result)["plan"] == "failed"
    assert sim.requests == []


def test_multi_account_sync_gives_each_account_a_task_and_its_pool(
    dag_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        BoomiSimulator(profile="demo", rate_limit=None, seed=1) as first,
        BoomiSimulator(profile="non_primary", rate_limit=None, seed=2) as second,
        BoomiSimulator(profile="demo", rate_limit=None, seed=3) as third,
    ):
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_FIRST", first.connection_json())
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_SECOND", second.connection_json())
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_FIRST_AGAIN", first.connection_json())
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_THIRD", third.connection_json())
        monkeypatch.delenv("BOOMI_ACCOUNT_POOLS", raising=False)
        # The accounts are read when the file is parsed; dag.test() runs the tasks of that parse.
        monkeypatch.setenv(
            "BOOMI_ACCOUNT_CONN_IDS", "boomi_first, boomi_second,boomi_first_again,boomi_third"
        )
        dag = load_dag(dag_folder / "boomi_multi_account_sync.py", "boomi_multi_account_sync")
        syncs = {t.task_id: t for t in dag.tasks if t.task_type == "BoomiSyncOperator"}
        assert {t: (s.boomi_conn_id, s.pool) for t, s in syncs.items()} == {
            f"sync_{c}": (c, f"boomi:{c}")
            for c in ("boomi_first", "boomi_second", "boomi_first_again", "boomi_third")
        }

        # The default (an empty list): every account, the second connection to the first
        # account skipped, not synced twice.
        result = dag.test(run_conf={"output_path": str(tmp_path / "snapshots")})
        assert result.state == "success", task_states(result)
        states = task_states(result)
        assert {t: states[t] for t in syncs} == {
            "sync_boomi_first": "success",
            "sync_boomi_second": "success",
            "sync_boomi_first_again": "skipped",
            "sync_boomi_third": "success",
        }
        store = SnapshotStore(tmp_path / "snapshots")
        assert sorted(store.accounts()) == sorted(s.account_id for s in (first, second, third))
        summary = result.get_task_instance("summarize").xcom_pull(task_ids="summarize")
        assert set(summary) == {s.account_id for s in (first, second, third)}
        for sim in (first, second, third):
            latest = store.latest(sim.account_id)
            assert latest is not None
            assert latest.row_counts["user_role_grants"] == len(sim.state.user_roles())
            assert summary[sim.account_id]["sync_id"] == latest.sync_id

        # A subset chosen at run time: the accounts left out are skipped and not called.
        for sim in (first, second, third):
            sim.clear_requests()
        subset = dag.test(
            run_conf={"boomi_conn_ids": ["boomi_second"], "output_path": str(tmp_path / "snapshots")}
        )
        assert subset.state == "success", task_states(subset)
        states = task_states(subset)
        assert [t for t in syncs if states[t] == "success"] == ["sync_boomi_second"]
        assert first.requests == [] and third.requests == [] and second.requests != []
        assert len(store.snapshots(second.account_id)) == 2
        assert len(store.snapshots(first.account_id)) == len(store.snapshots(third.account_id)) == 1

        # A connection the variable does not list has no task: the run says so and calls nobody.
        first.clear_requests()
        refused = dag.test(run_conf={"boomi_conn_ids": ["boomi_first", "boomi_elsewhere"]})
        assert refused.state == "failed"
        assert task_states(refused)["choose_accounts"] == "failed"
        assert first.requests == []
