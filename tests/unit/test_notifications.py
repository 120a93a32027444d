"""Reviewer notifications: the plan for a day (pure, with dates), the messages, the sent log."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_boomi.review.notifications import (
    NOTIFICATIONS_DIR,
    NOTIFICATIONS_FILE,
    XLSX_CONTENT_TYPE,
    MessageDetails,
    SentNotification,
    WorkbookDelivery,
    already_sent,
    compose_escalation,
    compose_ready,
    compose_reminder,
    plan_notifications,
    read_sent,
    record_sent,
    validate_address,
    workbook_delivery,
)

DUE = date(2026, 3, 31)
PENDING = {"ann@acme.example": 3, "bo@acme.example": 0, "cy@acme.example": 1, None: 4}
DETAILS = MessageDetails(
    campaign_id="uar-acme-Q7R2ZK-2026q1",
    account_id="acme-Q7R2ZK",
    due_date=DUE,
    from_email="iam@acme.example",
)


def on(days_before_due: int, **settings: object) -> list[tuple[str, str]]:
    return plan_notifications(PENDING, DUE, DUE - timedelta(days=days_before_due), **settings)  # type: ignore[arg-type]


# --- the plan ---------------------------------------------------------------------------------------


def test_reminders_on_the_configured_days_only_to_reviewers_with_pending_items() -> None:
    assert on(7) == [("reminder", "ann@acme.example"), ("reminder", "cy@acme.example")]
    assert on(1) == [("reminder", "ann@acme.example"), ("reminder", "cy@acme.example")]
    for quiet in (30, 8, 6, 2, 0):
        assert on(quiet) == [], quiet
    assert on(0, remind_days_before=(0,)) == [
        ("reminder", "ann@acme.example"),
        ("reminder", "cy@acme.example"),
    ]


def test_escalations_start_after_the_due_date_and_repeat() -> None:
    # The due date is the last day to decide: day 1 overdue is the next day.
    assert on(-1) == [("escalation", "ann@acme.example"), ("escalation", "cy@acme.example")]
    assert [on(-d) for d in range(2, 8)] == [[]] * 6
    assert on(-8) == [("escalation", "ann@acme.example"), ("escalation", "cy@acme.example")]
    assert on(-3, escalate_after_days=2) == [
        ("escalation", "ann@acme.example"),
        ("escalation", "cy@acme.example"),
    ]
    assert on(-1, escalate_after_days=2) == []
    assert on(-2, escalate_every_days=1) != [] and on(-9, escalate_every_days=0) == []


def test_nothing_when_everything_is_decided_and_bad_settings_are_refused() -> None:
    assert plan_notifications({"ann@acme.example": 0}, DUE, DUE - timedelta(days=7)) == []
    with pytest.raises(ValueError, match=">= 0"):
        plan_notifications(PENDING, DUE, DUE, remind_days_before=(-1,))


# --- addresses and header injection -----------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "ann@acme.example\r\nBcc: thief@evil.example",
        "ann@acme.example\nBcc: thief@evil.example",
        "ann@acme.example, thief@evil.example",
        "Ann <ann@acme.example>",
        "ann@acme.example\u202e",
        " ann@acme.example",
        "not-an-address",
    ],
)
def test_hostile_addresses_are_refused_with_what_to_fix(hostile: str) -> None:
    with pytest.raises(ValueError, match=r"Fix|fix the address") as caught:
        validate_address(hostile, "reviewer")
    assert "\r" not in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ValueError):
        compose_reminder(DETAILS, reviewer=hostile, pending=1, items=2, today=DUE)


def test_header_text_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="mail header"):
        MessageDetails(
            campaign_id="c1\r\nBcc: x@evil.example",
            account_id="a",
            due_date=DUE,
            from_email="iam@acme.example",
        )


# --- the messages -----------------------------------------------------------------------------------


def parsed(message: email.message.EmailMessage) -> email.message.EmailMessage:
    """The message as a receiving server would parse it from the bytes on the wire."""
    return email.message_from_bytes(message.as_bytes(policy=email.policy.SMTP), policy=email.policy.default)  # type: ignore[return-value]


def test_ready_attaches_the_workbook_byte_for_byte(tmp_path: Path) -> None:
    workbook = tmp_path / "ann-acme-example-0123456789ab.xlsx"
    workbook.write_bytes(b"PK\x03\x04 not really a workbook \x00\xff")
    delivery = workbook_delivery(workbook)
    assert delivery.attached
    message = parsed(compose_ready(DETAILS, reviewer="ann@acme.example", items=3, workbook=delivery))
    assert message["To"] == "ann@acme.example" and message["From"] == "iam@acme.example"
    assert "ready" in message["Subject"] and "2026-03-31" in message["Subject"]
    assert message["Auto-Submitted"] == "auto-generated" and message["Message-ID"]
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == XLSX_CONTENT_TYPE
    assert attachment.get_filename() == workbook.name
    assert attachment.get_content() == workbook.read_bytes()
    text = message.get_body(("plain",)).get_content()
    assert "3 items to decide, due 2026-03-31" in text and "attached" in text


def test_a_large_or_remote_workbook_is_linked(tmp_path: Path) -> None:
    workbook = tmp_path / "big.xlsx"
    workbook.write_bytes(b"x" * 100)
    linked = workbook_delivery(workbook, max_attachment_bytes=99, link="https://share.acme.example/ann.xlsx")
    assert (
        not linked.attached
        and linked.link == "https://share.acme.example/ann.xlsx"
        and "100" in str(linked.reason)
    )
    assert (
        workbook_delivery("s3://bucket/reviews/c1/reviewers/ann.xlsx").link
        == "s3://bucket/reviews/c1/reviewers/ann.xlsx"
    )
    message = parsed(compose_ready(DETAILS, reviewer="ann@acme.example", items=1, workbook=linked))
    assert list(message.iter_attachments()) == []
    assert "https://share.acme.example/ann.xlsx" in message.get_body(("plain",)).get_content()
    with pytest.raises(FileNotFoundError, match="rebuild the campaign"):
        workbook_delivery(tmp_path / "missing.xlsx")
    with pytest.raises(ValueError, match="no workbook for this reviewer"):
        workbook_delivery(None)


def test_reminder_and_escalation_say_how_much_is_pending() -> None:
    reminder = parsed(
        compose_reminder(
            DETAILS, reviewer="ann@acme.example", pending=2, items=5, today=DUE - timedelta(days=7)
        )
    )
    # .strip(): the standard library may fold a long subject before its first word.
    assert (
        reminder["Subject"].strip()
        == "Reminder: access review uar-acme-Q7R2ZK-2026q1, 2 pending, due in 7 days"
    )
    assert "2 of your 5 items" in reminder.get_body(("plain",)).get_content()
    assert reminder["Cc"] is None
    escalation = parsed(
        compose_escalation(
            DETAILS,
            reviewer="ann@acme.example",
            pending=2,
            items=5,
            today=DUE + timedelta(days=1),
            escalation_email="boss@acme.example",
        )
    )
    assert escalation["To"] == "ann@acme.example" and escalation["Cc"] == "boss@acme.example"
    assert escalation["Subject"].startswith("Overdue:")
    assert "1 day ago" in escalation.get_body(("plain",)).get_content()


def test_text_from_outside_is_escaped_in_the_html_part() -> None:
    details = MessageDetails(
        campaign_id="c1",
        account_id="acme",
        due_date=DUE,
        from_email="iam@acme.example",
        return_instructions="Upload it to <script>alert(1)</script> & tell us",
    )
    message = parsed(compose_reminder(details, reviewer="ann@acme.example", pending=1, items=1, today=DUE))
    body = message.get_body(("html",)).get_content()
    assert "<script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; tell us" in body
    assert "<script>alert(1)</script> & tell us" in message.get_body(("plain",)).get_content()


# --- what was sent ----------------------------------------------------------------------------------


def test_the_sent_log_round_trips_and_knows_what_was_sent(tmp_path: Path) -> None:
    assert read_sent(tmp_path) == []
    first = SentNotification(
        kind="reminder",
        reviewer="Ann@Acme.example",
        day=DUE - timedelta(days=7),
        sent_at=datetime(2026, 3, 24, 8, 0, tzinfo=UTC),
        message_id="<1@acme.example>",
        recipients=("Ann@Acme.example",),
    )
    ready = SentNotification(
        "ready",
        "ann@acme.example",
        date(2026, 3, 17),
        datetime(2026, 3, 17, tzinfo=UTC),
        "<2@x>",
        ("ann@acme.example",),
        True,
    )
    record_sent(tmp_path, first)
    record_sent(tmp_path, ready)
    records = read_sent(tmp_path)
    assert records == [first, ready]
    assert already_sent(records, "reminder", "ann@acme.example", DUE - timedelta(days=7))  # case ignored
    assert not already_sent(records, "reminder", "ann@acme.example", DUE - timedelta(days=1))
    assert already_sent(records, "ready", "ann@acme.example", DUE)  # a ready goes out once, ever
    assert not already_sent(records, "escalation", "ann@acme.example", DUE - timedelta(days=7))


def test_a_damaged_sent_log_is_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / NOTIFICATIONS_FILE).write_text('{"kind": "reminder"}\n')
    with pytest.raises(ValueError, match="line 1 is not a notification record"):
        read_sent(tmp_path)


def test_delivery_flags() -> None:
    assert WorkbookDelivery(filename="a.xlsx", content=b"").attached
    assert not WorkbookDelivery(link="https://x").attached


def _record_many(campaign_dir: str, sender: int, count: int) -> None:
    for i in range(count):
        record_sent(
            campaign_dir,
            SentNotification(
                "reminder",
                f"r{sender}-{i}@acme.example",
                date(2026, 3, 24),
                datetime(2026, 3, 24, 8, 0, i, tzinfo=UTC),
                f"<{sender}.{i}@x>",
                (f"r{sender}-{i}@acme.example",),
            ),
        )


def test_two_senders_at_once_lose_none_of_each_others_records(tmp_path: Path) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    senders = [context.Process(target=_record_many, args=(str(tmp_path), n, 25)) for n in (1, 2)]
    for process in senders:
        process.start()
    for process in senders:
        process.join(60)
        assert process.exitcode == 0
    # A record of the earlier single-file log is read beside them.
    old = SentNotification(
        "ready",
        "old@acme.example",
        date(2026, 3, 17),
        datetime(2026, 3, 17, tzinfo=UTC),
        "<0@x>",
        ("old@acme.example",),
    )
    (tmp_path / NOTIFICATIONS_FILE).write_text(json.dumps(old.to_dict()) + "\n")
    records = read_sent(tmp_path)
    assert len(records) == 51 and records[0].reviewer == "old@acme.example"
    assert {r.reviewer for r in records} >= {f"r{n}-{i}@acme.example" for n in (1, 2) for i in range(25)}


def test_a_damaged_sent_record_is_refused_naming_its_file(tmp_path: Path) -> None:
    (tmp_path / NOTIFICATIONS_DIR).mkdir()
    (tmp_path / NOTIFICATIONS_DIR / "x.json").write_text('{"kind": "ready"}')
    with pytest.raises(ValueError, match=r"x\.json is not a notification record"):
        read_sent(tmp_path)
