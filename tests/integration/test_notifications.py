"""Reviewer notifications end to end: a real SMTP server on loopback, the operator in ``dag.test()``.

The server is ``aiosmtpd`` on a free loopback port; the Airflow connection ``smtp_default``
points at it through ``AIRFLOW_CONN_SMTP_DEFAULT``. The campaign is built by the package's own
campaign code from the shared hand-built snapshots (three reviewers, and items nobody owns), with
per-reviewer workbooks signed by an attestation secret. What is asserted is what ARRIVED at the
server: envelopes, headers, and the attachment's bytes against the reviewer's workbook file.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import duckdb
import pytest
from openpyxl import load_workbook

from airflow_provider_boomi.review import build_campaign, write_campaign
from airflow_provider_boomi.review.decisions import read_decisions, record_decisions
from airflow_provider_boomi.review.notifications import NOTIFICATIONS_DIR, read_sent
from airflow_provider_boomi.review.status import campaign_status
from tests.conftest import load_dag
from tests.helpers import SMTP_SENDER as SENDER
from tests.helpers import Inbox
from tests.unit import test_warehouse_snapshots as fx

SECRET = "attestation-secret-for-tests-0123456789"
BOSS = "boss@acme.example"
TODAY = datetime.now(UTC).date()
DUE = TODAY + timedelta(days=7)
OWNERS = {fx.ADMIN: "ann@acme.example", fx.G1: "bo@acme.example", fx.DEV: "Cy@Acme.example"}

DAG_FILE = "boomi_test_review_notifications.py"
DAG_SOURCE = textwrap.dedent(
    '''
    """Sends a campaign's notifications (test DAG)."""
    from airflow.sdk import DAG, Param

    from airflow_provider_boomi.operators.notifications import BoomiReviewNotificationsOperator

    with DAG(
        "boomi_test_review_notifications",
        schedule=None,
        render_template_as_native_obj=True,  # ``campaign`` may be the campaign operator's result
        params={
            "campaign": Param("", type=["object", "string"]),
            "kind": Param("auto", type="string"),
            "today": Param("", type="string"),
        },
    ) as dag:
        BoomiReviewNotificationsOperator(
            task_id="notify",
            campaign="{{ params.campaign }}",
            kind="{{ params.kind }}",
            today="{{ params.today }}",
            escalation_email="boss@acme.example",
        )
    '''
)


@pytest.fixture
def campaign(tmp_path: Path) -> dict[str, Any]:
    store = fx.build_store(tmp_path / "store")
    built = build_campaign(store, fx.ACCOUNT, fx.SYNC_IDS[0], owners=OWNERS)
    built = dataclasses.replace(built, due_date=DUE)
    campaign_dir = tmp_path / "reviews" / built.campaign_id
    files = write_campaign(built, campaign_dir, secret=SECRET)
    return {"campaign_dir": campaign_dir, **files.to_dict()}


def run(dag_folder: Path, campaign: Path | dict[str, Any], kind: str, today: date) -> Any:
    """Run the operator in a DAG; ``campaign`` is a folder or the campaign operator's result."""
    (dag_folder / DAG_FILE).write_text(DAG_SOURCE)
    dag = load_dag(dag_folder / DAG_FILE, "boomi_test_review_notifications")
    given = str(campaign) if isinstance(campaign, Path) else campaign
    return dag.test(run_conf={"campaign": given, "kind": kind, "today": today.isoformat()})


def decide_all(campaign_dir: Path, workbook: str, tmp_path: Path, *, revoke_first: bool = False) -> None:
    """The reviewer fills in their own workbook and it is read back, attested: every item kept,
    or the first one revoked."""
    book = load_workbook(workbook)
    sheet = book["Review"]
    column = [cell.value for cell in sheet[1]].index("decision") + 1
    for row in range(2, sheet.max_row + 1):
        sheet.cell(row=row, column=column, value="revoke" if revoke_first and row == 2 else "keep")
    filled = tmp_path / "filled.xlsx"
    book.save(filled)
    record_decisions(read_decisions(campaign_dir, filled, secret=SECRET), campaign_dir)


def to(received: list[tuple[str, list[str], EmailMessage]]) -> dict[str, tuple[list[str], EmailMessage]]:
    return {str(message["To"]).lower(): (rcpt, message) for _, rcpt, message in received}


def test_ready_arrives_with_each_reviewers_workbook_once(
    inbox: Inbox, campaign: dict[str, Any], dag_folder: Path
) -> None:
    campaign_dir = campaign["campaign_dir"]
    # As the quarterly DAG passes it: the campaign operator's result, for a definition.
    result = {"definition": "quarterly-uar", "campaigns": [{**campaign, "campaign_dir": str(campaign_dir)}]}
    first = run(dag_folder, result, "ready", TODAY)
    assert first.state == "success"
    arrived = to(inbox.take())
    workbooks = {reviewer.lower(): Path(path) for reviewer, path in campaign["reviewer_workbooks"].items()}
    assert set(arrived) == set(workbooks) == {"ann@acme.example", "bo@acme.example", "cy@acme.example"}
    status = {r.reviewer.lower(): r for r in campaign_status(campaign_dir).reviewers if r.reviewer}
    for reviewer, (recipients, message) in arrived.items():
        assert recipients == [str(message["To"])]  # the workbook goes to its reviewer only
        assert message["From"] == SENDER
        assert f"due {DUE.isoformat()}" in message["Subject"]
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_filename() == workbooks[reviewer].name
        assert attachment.get_content() == workbooks[reviewer].read_bytes()
        text = message.get_body(("plain",)).get_content()
        assert f"{status[reviewer].items} item" in text
    # The items nobody owns are in the unassigned workbook; nobody is emailed about them.
    assert campaign["unassigned_workbook"]

    again = run(dag_folder, campaign_dir, "ready", TODAY)
    assert again.state == "success"
    assert inbox.take() == []
    assert [r.kind for r in read_sent(campaign_dir)] == ["ready"] * 3


def test_reminders_only_to_pending_reviewers_then_escalation_with_cc(
    inbox: Inbox, campaign: dict[str, Any], dag_folder: Path, tmp_path: Path
) -> None:
    campaign_dir = campaign["campaign_dir"]
    ann = next(
        path for reviewer, path in campaign["reviewer_workbooks"].items() if reviewer == "ann@acme.example"
    )
    decide_all(campaign_dir, ann, tmp_path)

    # Seven days before the due date: reminders, to the reviewers with pending items only.
    assert run(dag_folder, campaign_dir, "auto", TODAY).state == "success"
    reminders = to(inbox.take())
    assert set(reminders) == {"bo@acme.example", "cy@acme.example"}
    for recipients, message in reminders.values():
        assert message["Subject"].startswith("Reminder:") and "due in 7 days" in message["Subject"]
        assert message["Cc"] is None and len(recipients) == 1
        assert list(message.iter_attachments()) == []
    # A second run the same day (a retry, a manual rerun) sends nothing.
    assert run(dag_folder, campaign_dir, "auto", TODAY).state == "success"
    assert inbox.take() == []
    # A day with nothing due sends nothing.
    assert run(dag_folder, campaign_dir, "auto", TODAY + timedelta(days=2)).state == "success"
    assert inbox.take() == []

    # The day after the due date: escalation, the escalation address in Cc and in the envelope.
    assert run(dag_folder, campaign_dir, "auto", DUE + timedelta(days=1)).state == "success"
    escalations = to(inbox.take())
    assert set(escalations) == {"bo@acme.example", "cy@acme.example"}
    for reviewer, (recipients, message) in escalations.items():
        assert message["Cc"] == BOSS
        assert sorted(r.lower() for r in recipients) == sorted([reviewer, BOSS])
        assert message["Subject"].startswith("Overdue:")
    assert run(dag_folder, campaign_dir, "auto", DUE + timedelta(days=1)).state == "success"
    assert inbox.take() == []

    sent = read_sent(campaign_dir)
    assert [(r.kind, r.day) for r in sent] == [("reminder", TODAY)] * 2 + [
        ("escalation", DUE + timedelta(days=1))
    ] * 2
    assert all(r.message_id.startswith("<") for r in sent)


def test_a_header_injection_in_a_reviewer_reaches_no_server(
    inbox: Inbox, campaign: dict[str, Any], dag_folder: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    campaign_dir = campaign["campaign_dir"]
    # campaign.json is a file anyone with the folder can edit: a reviewer label with a line break.
    data = json.loads((campaign_dir / "campaign.json").read_text())
    hostile = "mallory@acme.example\r\nBcc: thief@evil.example"
    for item in data["items"]:
        if item["reviewer"] == "bo@acme.example":
            item["reviewer"] = hostile
    (campaign_dir / "campaign.json").write_text(json.dumps(data))

    result = run(dag_folder, campaign_dir, "auto", TODAY)
    assert result.state == "failed"  # loud: the task names the address, shown visibly, and what to fix
    output = "".join(capfd.readouterr())
    assert "1 message(s) not sent (the 2 others were)" in output
    assert "'mallory@acme.example\u240d\u240aBcc: thief@evil.example' contains control" in output
    assert "fix the address where it is defined" in output
    arrived = inbox.take()
    # The others were told; nothing reached the server for the hostile label.
    assert {str(m["To"]).lower() for _, _, m in arrived} == {"ann@acme.example", "cy@acme.example"}
    assert all("evil" not in r for _, rcpt, _ in arrived for r in rcpt)
    assert not any(b"thief" in raw or b"mallory" in raw for raw in inbox.raw)
    assert {r.reviewer.lower() for r in read_sent(campaign_dir)} == {"ann@acme.example", "cy@acme.example"}
    assert len(list((campaign_dir / NOTIFICATIONS_DIR).glob("*.json"))) == 2


def test_the_daily_dag_reminds_and_loads_progress(
    inbox: Inbox, campaign: dict[str, Any], dag_folder: Path, tmp_path: Path
) -> None:
    campaign_dir = campaign["campaign_dir"]
    decide_all(campaign_dir, campaign["reviewer_workbooks"]["ann@acme.example"], tmp_path, revoke_first=True)
    warehouse = tmp_path / "warehouse.duckdb"
    dag = load_dag(dag_folder / "boomi_review_reminders.py", "boomi_review_reminders")
    conf = {
        "reviews_path": str(campaign_dir.parent),
        "escalation_email": BOSS,
        "ledger_path": str(tmp_path / "ledger"),  # none yet: no revoke applied
        "output_path": str(tmp_path / "store"),
        "warehouse_path": str(warehouse),
        "today": TODAY.isoformat(),
    }
    result = dag.test(run_conf=conf)
    assert {ti.task_id: ti.state for ti in result.get_task_instances()} == {
        "notify": "success",
        "progress": "success",
    }
    assert set(to(inbox.take())) == {"bo@acme.example", "cy@acme.example"}

    with duckdb.connect(str(warehouse), read_only=True) as db:
        status = db.execute(
            "SELECT lower(reviewer), items, decided, pending, overdue, due_date, as_of "
            "FROM boomi_review_status ORDER BY 1 NULLS LAST"
        ).fetchall()
        remediation = db.execute("SELECT reviewer, state, deadline FROM boomi_review_remediation").fetchall()
    expected = campaign_status(campaign_dir)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in status] == [
        (r.reviewer.lower() if r.reviewer else None, r.items, r.decided, r.pending, 0)
        for r in expected.reviewers
    ]
    assert {(r[5], r[6]) for r in status} == {(DUE, TODAY)}
    # ann's one revoke: no ledger, and the latest snapshot predates the decision: pending.
    ((reviewer, state, deadline),) = remediation
    assert reviewer == "ann@acme.example" and deadline == TODAY + timedelta(days=14)
    assert state == "pending"

    # The same day again: nothing sent, the day's rows replaced rather than added.
    assert dag.test(run_conf=conf).state == "success"
    assert inbox.take() == []
    with duckdb.connect(str(warehouse), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM boomi_review_status").fetchone() == (len(status),)


NOTIFIER_DAG_FILE = "boomi_test_review_notifier.py"
NOTIFIER_DAG_SOURCE = textwrap.dedent(
    '''
    """A campaign task whose success callback tells the reviewers (test DAG)."""
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, Param

    from airflow_provider_boomi.operators.notifications import BoomiReviewNotifier

    with DAG(
        "boomi_test_review_notifier",
        schedule=None,
        params={"campaign_dir": Param("", type="string")},
    ) as dag:
        EmptyOperator(
            task_id="campaign_built",
            on_success_callback=BoomiReviewNotifier(kind="ready", campaign="{{ params.campaign_dir }}"),
        )
    '''
)


def test_the_notifier_sends_ready_from_a_task_callback(
    inbox: Inbox, campaign: dict[str, Any], dag_folder: Path
) -> None:
    (dag_folder / NOTIFIER_DAG_FILE).write_text(NOTIFIER_DAG_SOURCE)
    dag = load_dag(dag_folder / NOTIFIER_DAG_FILE, "boomi_test_review_notifier")
    assert dag.test(run_conf={"campaign_dir": str(campaign["campaign_dir"])}).state == "success"
    arrived = to(inbox.take())
    assert set(arrived) == {"ann@acme.example", "bo@acme.example", "cy@acme.example"}
    for reviewer, (_, message) in arrived.items():
        (attachment,) = list(message.iter_attachments())
        workbook = next(Path(p) for r, p in campaign["reviewer_workbooks"].items() if r.lower() == reviewer)
        assert attachment.get_content() == workbook.read_bytes()


def test_an_address_the_server_refuses_fails_the_task_after_the_others(
    inbox: Inbox, campaign: dict[str, Any], dag_folder: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    inbox.unknown = {"bo@acme.example"}
    assert run(dag_folder, campaign["campaign_dir"], "ready", TODAY).state == "failed"
    assert set(to(inbox.take())) == {"ann@acme.example", "cy@acme.example"}
    assert "the mail server refused bo@acme.example: 550" in "".join(capfd.readouterr())
    # Once the address is fixed (here: the server knows it), a rerun sends only what is missing.
    inbox.unknown = set()
    assert run(dag_folder, campaign["campaign_dir"], "ready", TODAY).state == "success"
    assert set(to(inbox.take())) == {"bo@acme.example"}


QUARTERLY_DAG_FILE = "boomi_test_quarterly_then_ready.py"
QUARTERLY_DAG_SOURCE = textwrap.dedent(
    '''
    """The quarterly campaign, then its ready messages: the lines the quarterly DAG needs (test DAG)."""
    from airflow.sdk import DAG, Param

    from airflow_provider_boomi.operators.notifications import BoomiReviewNotificationsOperator
    from airflow_provider_boomi.operators.review import BoomiReviewCampaignOperator

    with DAG(
        "boomi_test_quarterly_then_ready",
        schedule=None,
        render_template_as_native_obj=True,
        params={"output_path": Param("", type="string"), "reviews_path": Param("", type="string"),
                "definition": Param({}, type="object")},
    ) as dag:
        built = BoomiReviewCampaignOperator(
            task_id="build_campaigns",
            output_path="{{ params.output_path }}",
            reviews_path="{{ params.reviews_path }}",
            definition="{{ params.definition }}",
            attestation_conn_id="",
        )
        BoomiReviewNotificationsOperator(task_id="tell_reviewers", campaign=built.output, kind="ready")
    '''
)


def test_ready_right_after_the_campaign_operator_builds_a_campaign(
    inbox: Inbox, dag_folder: Path, tmp_path: Path
) -> None:
    # A snapshot synced now: the definition refuses stale snapshots.
    fx.write_snapshot(tmp_path / "store", 0, sync_id="20991231T000000Z-bbbbb1", synced_at=datetime.now(UTC))
    definition = {"name": "quarterly-uar", "owners": OWNERS, "due_in_days": 21, "require_attestation": False}
    (dag_folder / QUARTERLY_DAG_FILE).write_text(QUARTERLY_DAG_SOURCE)
    dag = load_dag(dag_folder / QUARTERLY_DAG_FILE, "boomi_test_quarterly_then_ready")
    conf = {
        "output_path": str(tmp_path / "store"),
        "reviews_path": str(tmp_path / "reviews"),
        "definition": definition,
    }
    result = dag.test(run_conf=conf)
    assert {ti.task_id: ti.state for ti in result.get_task_instances()} == {
        "build_campaigns": "success",
        "tell_reviewers": "success",
    }
    arrived = to(inbox.take())
    (campaign_dir,) = [p.parent for p in (tmp_path / "reviews").rglob("campaign.json")]
    workbooks = {p.name: p.read_bytes() for p in (campaign_dir / "reviewers").glob("*.xlsx")}
    assert set(arrived) == {"ann@acme.example", "bo@acme.example", "cy@acme.example"}
    for _, message in arrived.values():
        assert f"due {(datetime.now(UTC).date() + timedelta(days=21)).isoformat()}" in message["Subject"]
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content() == workbooks[attachment.get_filename()]
