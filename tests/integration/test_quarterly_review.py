"""The quarterly review (issue 13, items 1 and 2) through real Airflow runs (``dag.test()``).

The daily sync takes a snapshot of the simulator's demo account; ``boomi_quarterly_review``
builds the campaign from its definition with attestation tokens signed by a connection's
password; reviewers fill their own workbooks, which come back through
``BoomiReviewDecisionsOperator`` with the identity taken from the token and the time recorded.
A self-review goes to the fallback reviewer; a workbook carrying another reviewer's item, a
forged token or another campaign's token, and a snapshot older than the definition allows are
refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.review import (
    DecisionValidationError,
    issue_token,
    read_decisions,
    reviewer_slug,
)
from airflow_provider_boomi.review.workbook import REVIEWER_COLUMNS, TOKEN_NAME
from airflow_provider_boomi.testing.simulator import BoomiSimulator
from tests.conftest import REPO, load_dag
from tests.helpers import Inbox

SECRET = "quarterly-review-test-secret-0123456789"
FALLBACK = "ciso@acme.example"
RETURN_DAG = """
import pendulum
from airflow.sdk import DAG, Param
from airflow_provider_boomi.operators.review import BoomiReviewDecisionsOperator

with DAG(
    dag_id="quarterly_return",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "campaign_dir": Param("", type="string"),
        "workbook_path": Param("", type="string"),
        "attestation_conn_id": Param("", type="string"),
        "reviewer": Param("", type="string"),
    },
):
    BoomiReviewDecisionsOperator(
        task_id="decisions",
        campaign_dir="{{ params.campaign_dir }}",
        workbook_path="{{ params.workbook_path }}",
        attestation_conn_id="{{ params.attestation_conn_id }}",
        reviewer="{{ params.reviewer }}",
    )
"""


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


@pytest.fixture
def env(connected_sim: BoomiSimulator, monkeypatch: pytest.MonkeyPatch, dag_folder: Path) -> BoomiSimulator:
    monkeypatch.setenv(
        "AIRFLOW_CONN_BOOMI_REVIEW_ATTESTATION", json.dumps({"conn_type": "generic", "password": SECRET})
    )
    (dag_folder / "quarterly_return.py").write_text(RETURN_DAG)
    return connected_sim


def _sync(dag_folder: Path, data: Path) -> None:
    run = load_dag(dag_folder / "boomi_access_sync.py", "boomi_access_sync").test(
        run_conf={"output_path": str(data / "snapshots"), "warehouse_path": str(data / "warehouse.duckdb")}
    )
    assert run.state == "success", _states(run)


def _definition(**overrides: Any) -> dict[str, Any]:
    from dags.boomi_quarterly_review import DEFINITION

    return {**DEFINITION, **overrides}


def _quarterly(dag_folder: Path, data: Path, definition: dict[str, Any], smtp_conn_id: str = "") -> Any:
    return load_dag(dag_folder / "boomi_quarterly_review.py", "boomi_quarterly_review").test(
        run_conf={
            "output_path": str(data / "snapshots"),
            "reviews_path": str(data / "reviews"),
            "definition": definition,
            "attestation_conn_id": "boomi_review_attestation",
            "smtp_conn_id": smtp_conn_id,
        }
    )


def _fill(path: Path, decide: dict[str, str], out: Path, extra_rows: list[dict[str, str]] = ()) -> Path:  # type: ignore[assignment]
    """Fill a reviewer workbook as Excel would: decision on every row (keep unless told)."""
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    sheet = workbook["Review"]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        item_id = row[header.index("item_id")].value
        row[header.index("decision")].value = decide.get(item_id, "keep")
    for extra in extra_rows:
        sheet.append([extra.get(column, "") for column in header])
    workbook.save(out)
    return out


def _set_token(path: Path, token: str, out: Path) -> Path:
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    ((title, reference),) = list(workbook.defined_names[TOKEN_NAME].destinations)
    workbook[title][reference.replace("$", "")].value = token
    workbook.save(out)
    return out


def test_quarterly_campaign_per_reviewer_workbooks_and_attested_returns(
    env: BoomiSimulator, dag_folder: Path, inbox: Inbox, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    data = tmp_path / "data"
    _sync(dag_folder, data)
    release = env.state.role_by_name("Release Manager")
    assert release is not None
    # A Release Manager owns the role: their own grant of it must not be theirs to review.
    owner = next(r["userId"] for r in env.state.user_roles() if r["roleId"] == release["id"])
    definition = _definition(owners={**_definition()["owners"], "Release Manager": owner})
    run = _quarterly(dag_folder, data, definition, smtp_conn_id="smtp_default")
    assert run.state == "success", _states(run)

    (campaign_dir,) = [p.parent for p in (data / "reviews").rglob("campaign.json")]
    campaign = json.loads((campaign_dir / "campaign.json").read_text())
    assert campaign["definition"]["cadence"] == "quarterly" and campaign["due_date"]
    items = campaign["items"]
    by_reviewer: dict[str, set[str]] = {}
    for item in items:
        by_reviewer.setdefault(item["reviewer"], set()).add(item["item_id"])
    assert None not in by_reviewer, "the demo definition leaves no item without a reviewer"

    # The self-review went to the fallback reviewer, and says whom it was taken from.
    (self_review,) = [i for i in items if i["user_id"] == owner and i["role_id"] == release["id"]]
    assert (self_review["reviewer"], self_review["routed_from"]) == (FALLBACK, owner)
    assert campaign["summary"]["self_reviews_rerouted"] >= 1

    # One workbook per reviewer, holding exactly their items, protected, with its token.
    workbooks = {p.name for p in (campaign_dir / "reviewers").iterdir()}
    assert workbooks == {f"{reviewer_slug(r)}.xlsx" for r in by_reviewer}
    for reviewer, expected in by_reviewer.items():
        book = load_workbook(campaign_dir / "reviewers" / f"{reviewer_slug(reviewer)}.xlsx")
        assert book.sheetnames[:2] == ["Instructions", "Review"]
        intro = {row[0]: row[1] for row in book["Instructions"].iter_rows(values_only=True) if row and row[0]}
        assert intro["Reviewer"] == reviewer and intro["Due date"] == campaign["due_date"]
        assert intro["Campaign"] == campaign["campaign_id"]
        ((title, reference),) = list(book.defined_names[TOKEN_NAME].destinations)
        assert title == "Instructions" and book[title][reference.replace("$", "")].value.startswith("v1.")
        sheet = book["Review"]
        header = [c.value for c in sheet[1]]
        assert header == list(REVIEWER_COLUMNS)
        assert {
            row[header.index("item_id")] for row in sheet.iter_rows(min_row=2, values_only=True)
        } == expected
        assert sheet.freeze_panes == "C2" and sheet.protection.sheet
        second = next(iter(sheet.iter_rows(min_row=2, max_row=2)))
        unlocked = {header[i] for i, cell in enumerate(second) if not cell.protection.locked}
        assert unlocked == {"decision", "comment"}
        assert book["Instructions"].protection.sheet
    assert self_review["item_id"] in by_reviewer[FALLBACK]
    # Each reviewer was emailed once, at the loopback SMTP server, with their own workbook attached.
    mail = {recipients[0]: message for _, recipients, message in inbox.take()}
    assert set(mail) == set(by_reviewer)
    for reviewer, message in mail.items():
        assert "your workbook is ready" in message["Subject"] and campaign["due_date"] in message["Subject"]
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_filename() == f"{reviewer_slug(reviewer)}.xlsx"
        sent = campaign_dir / "reviewers" / attachment.get_filename()
        assert attachment.get_content() == sent.read_bytes()
    # The legend on the instructions sheet names each role with its privileges.
    legend = [r for r in book["Instructions"].iter_rows(values_only=True) if r and r[0] and r[2]]
    assert legend[0][:3] == ("Role", "Description", "Privileges")

    # Two reviewers return their workbooks; identity and time come from the token.
    cio, eng = "cio@acme.example", "engineering.manager@acme.example"
    revoke = sorted(by_reviewer[cio])[0]
    for reviewer, decide in ((cio, {revoke: "revoke"}), (eng, {})):
        filled = _fill(
            campaign_dir / "reviewers" / f"{reviewer_slug(reviewer)}.xlsx",
            decide,
            tmp_path / f"{reviewer_slug(reviewer)}-filled.xlsx",
        )
        before = datetime.now(UTC)
        returned = load_dag(dag_folder / "quarterly_return.py", "quarterly_return").test(
            run_conf={
                "campaign_dir": str(campaign_dir),
                "workbook_path": str(filled),
                "attestation_conn_id": "boomi_review_attestation",
            }
        )
        assert returned.state == "success", _states(returned)
        record = json.loads((campaign_dir / "decisions" / f"{reviewer_slug(reviewer)}.json").read_text())
        assert (record["reviewer"], record["attested_by"], record["scope"]) == (reviewer, "token", "reviewer")
        assert {d["item_id"] for d in record["decisions"]} == by_reviewer[reviewer]
        assert all(d["reviewer"] == reviewer and d["attested_by"] == "token" for d in record["decisions"])
        decided = {datetime.fromisoformat(d["decided_at"]) for d in record["decisions"]}
        assert len(decided) == 1 and decided.pop() >= before
    cio_record = json.loads((campaign_dir / "decisions" / f"{reviewer_slug(cio)}.json").read_text())
    assert [d["item_id"] for d in cio_record["decisions"] if d["decision"] == "revoke"] == [revoke]

    # A workbook carrying another reviewer's item is refused, naming the item and its reviewer.
    foreign = sorted(by_reviewer[eng])[0]
    tampered = _fill(
        campaign_dir / "reviewers" / f"{reviewer_slug(cio)}.xlsx",
        {},
        tmp_path / "with-foreign-item.xlsx",
        extra_rows=[{"item_id": foreign, "decision": "revoke", "campaign_id": campaign["campaign_id"]}],
    )
    with pytest.raises(DecisionValidationError) as caught:
        read_decisions(campaign_dir, tampered, secret=SECRET)
    message = str(caught.value)
    assert foreign in message and f"reviewed by {eng}, not by {cio}" in message
    refused = load_dag(dag_folder / "quarterly_return.py", "quarterly_return").test(
        run_conf={
            "campaign_dir": str(campaign_dir),
            "workbook_path": str(tampered),
            "attestation_conn_id": "boomi_review_attestation",
        }
    )
    assert refused.state == "failed" and _states(refused)["decisions"] == "failed"

    # A forged token (edited signature) and another campaign's token are refused.
    cio_book = campaign_dir / "reviewers" / f"{reviewer_slug(cio)}.xlsx"
    token = issue_token(SECRET, campaign["campaign_id"], cio, datetime.now(UTC))
    forged = _set_token(_fill(cio_book, {}, tmp_path / "f.xlsx"), token[:-2] + "AA", tmp_path / "forged.xlsx")
    with pytest.raises(DecisionValidationError, match="signature does not match"):
        read_decisions(campaign_dir, forged, secret=SECRET)
    other = issue_token(SECRET, "uar-other-campaign", cio, datetime.now(UTC))
    elsewhere = _set_token(_fill(cio_book, {}, tmp_path / "o.xlsx"), other, tmp_path / "other.xlsx")
    with pytest.raises(DecisionValidationError, match="issued for campaign uar-other-campaign"):
        read_decisions(campaign_dir, elsewhere, secret=SECRET)
    # Without the secret, a typed reviewer name proves nothing: refused.
    with pytest.raises(DecisionValidationError, match="no secret was given to verify it"):
        read_decisions(campaign_dir, _fill(cio_book, {}, tmp_path / "n.xlsx"))
    # The authenticated Airflow user must be the workbook's reviewer.
    impostor = load_dag(dag_folder / "quarterly_return.py", "quarterly_return").test(
        run_conf={
            "campaign_dir": str(campaign_dir),
            "workbook_path": str(_fill(cio_book, {}, tmp_path / "u.xlsx")),
            "reviewer": eng,
        }
    )
    assert impostor.state == "failed"

    # The report of the campaign folder's status: two reviewers done, the others pending.
    from airflow_provider_boomi.review import campaign_status

    status = campaign_status(campaign_dir)
    done = {r.reviewer for r in status.reviewers if r.state == "decided"}
    assert done == {cio, eng} and status.pending == len(items) - len(by_reviewer[cio] | by_reviewer[eng])


def test_a_snapshot_older_than_the_definition_allows_is_refused(
    env: BoomiSimulator, dag_folder: Path, tmp_path: Path
) -> None:
    import time

    data = tmp_path / "data"
    _sync(dag_folder, data)
    time.sleep(1.0)  # the snapshot is now older than 0.0002 hours (0.72 s)
    run = _quarterly(dag_folder, data, _definition(max_snapshot_age_hours=0.0002))
    assert run.state == "failed" and _states(run)["build_campaigns"] == "failed"
    assert not list((data / "reviews").rglob("campaign.json")), "nothing is written"

    from airflow_provider_boomi.review import SnapshotTooOldError, build_campaign

    with pytest.raises(SnapshotTooOldError, match=r"hours ago, more than max_snapshot_age_hours=0\.0002"):
        build_campaign(
            data / "snapshots", env.account_id, definition=_definition(max_snapshot_age_hours=0.0002)
        )


def test_the_quarterly_dag_is_scheduled_quarterly(dag_folder: Path) -> None:
    dag = load_dag(REPO / "dags" / "boomi_quarterly_review.py", "boomi_quarterly_review")
    assert dag.timetable.expression == "0 6 1 1,4,7,10 *"
    assert dag.params["definition"]["cadence"] == "quarterly"
