"""The review cycle composed only from the provider's operators, as docs/operators-review.md shows.

The DAG file is the docs' own example (``docs/examples/review_cycle_dags.py``), run with
``dag.test()`` against the simulator: sync -> warehouse (own schema) -> campaign; a reviewer
revokes four grants; decisions -> dry run -> apply -> resync -> warehouse -> verify -> evidence.
Then the loop closes: the warehouse shows the four revocations as access changes, and the next
campaign's report lists them as changes since the last review.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from airflow_provider_boomi.access.ledger import read_ledger
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.conftest import REPO, load_dag

EXAMPLE = REPO / "docs" / "examples" / "review_cycle_dags.py"
STANDARD_USER = "fcb6e2d0-0ca8-11e2-a477-1231381987a5"


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _fill(campaign_dir: Path, revoke: set[str], out: Path) -> Path:
    with next(campaign_dir.glob("*-review.csv")).open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields, rows = list(reader.fieldnames or []), list(reader)
    for row in rows:
        row["decision"] = "revoke" if row["item_id"] in revoke else "keep"
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return out


def _campaigns(data: Path) -> list[Path]:
    return sorted(p.parent for p in (data / "reviews").rglob("campaign.json"))


def test_a_review_cycle_from_the_operator_pages(
    connected_sim: BoomiSimulator, dag_folder: Path, tmp_path: Path
) -> None:
    shutil.copy(EXAMPLE, dag_folder / EXAMPLE.name)
    data = tmp_path / "data"
    campaign_dag = load_dag(dag_folder / EXAMPLE.name, "my_boomi_campaign")
    apply_dag = load_dag(dag_folder / EXAMPLE.name, "my_boomi_apply")

    first = campaign_dag.test(run_conf={"data": str(data)})
    assert first.state == "success", _states(first)
    (campaign_dir,) = _campaigns(data)
    items = json.loads((campaign_dir / "campaign.json").read_text())["items"]
    # Four revocations: three global grants that are not Standard User, one group grant.
    revoked = [i for i in items if i["grant_kind"] == "global_role" and i["role_id"] != STANDARD_USER][:3]
    revoked += [next(i for i in items if i["grant_kind"] == "group_role")]
    revoked_ids = {i["item_id"] for i in revoked}
    workbook = _fill(campaign_dir, revoked_ids, tmp_path / "filled.csv")

    applied = apply_dag.test(
        run_conf={"data": str(data), "campaign_dir": str(campaign_dir), "workbook_path": str(workbook)}
    )
    assert applied.state == "success", _states(applied)

    ledger = read_ledger(str(data / "ledger"))
    assert sorted(ledger[ledger["task_id"] == "apply"]["outcome"]) == ["applied"] * 4
    assert set(ledger[ledger["task_id"] == "plan"]["outcome"]) == {"planned"}
    (index,) = (data / "evidence").rglob("index.json")
    assert json.loads(index.read_text())["verified"] == 4

    # The warehouse, in its own schema, shows the four revocations as access changes.
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        removed = con.execute(
            "SELECT grant_id FROM access_review.boomi_access_changes WHERE change_type = 'removed'"
        ).fetchall()
    assert {g for (g,) in removed} == revoked_ids

    # The next campaign compares with the last review: the four are changes since then.
    second = campaign_dag.test(run_conf={"data": str(data)})
    assert second.state == "success", _states(second)
    newest = _campaigns(data)[-1]
    assert newest != campaign_dir
    report = next(newest.glob("*-report.html")).read_text(encoding="utf-8")
    assert "since the last review" in report
    for item in revoked:
        assert item["role_name"] in report


def test_the_report_carries_evidence_of_completeness(
    connected_sim: BoomiSimulator, dag_folder: Path, tmp_path: Path
) -> None:
    """Source, extraction, parameters, policy, per-table reconciliation with the manifest and
    its hashes, and a role legend: in campaign.json (hence the evidence bundle) and the report."""
    shutil.copy(EXAMPLE, dag_folder / EXAMPLE.name)
    data = tmp_path / "data"
    run = load_dag(dag_folder / EXAMPLE.name, "my_boomi_campaign").test(run_conf={"data": str(data)})
    assert run.state == "success", _states(run)
    (campaign_dir,) = _campaigns(data)
    facts = json.loads((campaign_dir / "campaign.json").read_text())["completeness"]
    manifest_path = next((data / "snapshots").rglob("manifest.json"))
    manifest = json.loads(manifest_path.read_text())

    assert facts["source"] == {"api": connected_sim.base_url, "account_id": connected_sim.account_id}
    started = facts["extraction"]["started_at"]
    assert datetime.fromisoformat(started) == datetime.fromisoformat(manifest["started_at"])
    assert facts["parameters"]["resources"] == manifest["resources"]
    assert facts["privileged_policy"] == {
        "privileges": ["ACCOUNT_ADMIN", "API"],
        "role_names": ["Administrator"],
    }
    for name, table in facts["tables"].items():
        assert table["reconciled"] and table["rows_read"] == manifest["tables"][name]["rows"]
        assert table["sha256"] == manifest["tables"][name]["sha256"]
    assert {r["name"] for r in facts["roles"]} == {r["name"] for r in connected_sim.state.roles()}

    report = next(campaign_dir.glob("*-report.html")).read_text(encoding="utf-8")
    assert "Completeness and accuracy" in report and connected_sim.base_url in report
    assert manifest["tables"]["user_role_grants"]["sha256"] in report
    assert "Every table read for this campaign has the row count its manifest records." in report
