"""Hostile Boomi names and replayed decision files through the example DAGs (issue 11)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_boomi.review import read_decisions
from airflow_provider_boomi.review.cells import restore_csv_cell
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.integration.test_example_dags import apply_conf, run, sync_and_review, task_states
from tests.unit.test_review_hostile_names import FORMULA_INSIDE, FORMULA_START, HOSTILE, _fill_csv, _fill_xlsx


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[BoomiSimulator]:
    with BoomiSimulator(profile="demo", rate_limit=None) as simulator:
        monkeypatch.setenv("AIRFLOW_CONN_BOOMI_DEFAULT", simulator.connection_json(provisioning_enabled=True))
        yield simulator


def _hostile_account(sim: BoomiSimulator) -> None:
    """Users, a role and a group named with every hostile value (as anyone editing Boomi can)."""
    domain = sim.email.split("@")[1]
    role = sim.state.add_role("=cmd|' /C calc'!A0\u202e\x1b", ["BUILD"])
    group = sim.state.add_account_group("Smith;=1+1\x0b\u200b")
    for index, name in enumerate(HOSTILE):
        user = f"hostile{index}@{domain}"
        sim.state.grant_role(user, role["id"], first_name=name, last_name=HOSTILE[-index - 1])
        if index % 3 == 0:
            sim.state.set_logged_in(user, True)
            sim.state.add_group_role(group["id"], user, role["id"])


def test_review_dag_writes_a_safe_campaign_over_hostile_names(
    sim: BoomiSimulator, dag_folder: Path, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    _hostile_account(sim)
    # The XLSX writer used to raise on a vertical tab, ESC or NUL: no campaign at all.
    _, campaign_dir = sync_and_review(dag_folder, tmp_path)

    workbook = load_workbook(next(campaign_dir.glob("*-review.xlsx")))
    assert all(cell.data_type != "f" for sheet in workbook for row in sheet.iter_rows() for cell in row)
    text = next(campaign_dir.glob("*-review.csv")).read_text(encoding="utf-8-sig")
    for delimiter in (",", ";"):
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            assert not [c for c in record if FORMULA_START.search(c) or FORMULA_INSIDE.search(c)]
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(text.splitlines()) == len(rows) + 1
    report = next(campaign_dir.glob("*-report.html")).read_text(encoding="utf-8")
    assert "\u202e" not in report and "\x1b" not in report and "&lt;U+202E&gt;" in report

    # Filled with hostile comments, the CSV and the XLSX read back exactly.
    hostile_items = [r["item_id"] for r in rows if r["email"].startswith("hostile")]
    comments = {
        restore_csv_cell(item_id): HOSTILE[i % len(HOSTILE)] for i, item_id in enumerate(hostile_items)
    }
    for path, fill in (
        (next(campaign_dir.glob("*-review.csv")), _fill_csv),
        (next(campaign_dir.glob("*-review.xlsx")), _fill_xlsx),
    ):
        filled = tmp_path / f"filled{path.suffix}"
        filled.write_bytes(path.read_bytes())
        fill(filled, comments)
        decisions = read_decisions(campaign_dir, filled)
        assert {d.item.item_id: d.comment for d in decisions.revoked} == comments


def test_apply_dag_refuses_decisions_of_another_campaign(
    sim: BoomiSimulator, dag_folder: Path, tmp_path: Path
) -> None:
    _, campaign_dir = sync_and_review(dag_folder, tmp_path)
    source = next(campaign_dir.glob("*-review.csv"))
    with source.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    # Last quarter's filled file: same grant ids, another campaign id, everything revoked.
    replayed = tmp_path / "last-quarter.csv"
    with replayed.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows({**r, "decision": "revoke", "campaign_id": "uar-last-quarter"} for r in rows)
    sim.clear_requests()
    applied = run(dag_folder, "boomi_apply_review_decisions.py", apply_conf(campaign_dir, replayed, tmp_path))
    assert applied.state == "failed"
    assert task_states(applied)["validate"] == "failed"
    assert [r for r in sim.requests if r.operation in ("create", "delete")] == []
