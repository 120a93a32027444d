"""Telling reviewers: what to send whom on a given day, the messages themselves, and what was sent.

Plain Python (no Airflow import); the operator
:class:`~airflow_provider_boomi.operators.notifications.BoomiReviewNotificationsOperator` sends
the messages through the Airflow SMTP provider's connection. Three kinds of message:

- ``ready``: a reviewer's workbook of a campaign is ready: the due date, how many items, how
  to return it, and the workbook attached (a local file under a size limit) or linked.
- ``reminder``: ``N`` items of ``M`` are still pending, due in ``K`` days.
- ``escalation``: the due date has passed with items pending; to the reviewer, with an
  escalation address in Cc.

Every address and every piece of text that reaches a header is checked first and refused with a
message that says what to fix (a line break in a reviewer's address would otherwise add a
``Bcc:`` of the attacker's choosing). Headers are built with :mod:`email`'s own API (the default
policy refuses line breaks in any header value too), bodies are plain text plus an HTML
alternative in which every inserted value is escaped.

Which messages a day calls for is :func:`plan_notifications` (pure: dates in, kinds out). What
was sent is recorded in the campaign folder, one file per message under ``notifications/``
(:func:`record_sent` / :func:`read_sent`), so a rerun or a retry on the same day sends nothing
twice, and two senders at once lose none of each other's records.
"""

from __future__ import annotations

import email.policy
import html
import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Final, Literal

from airflow_provider_boomi.access.validation import check_email

from ._storage import folder
from .cells import visible_text
from .reviewers import same_reviewer

__all__ = [
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "ESCALATION",
    "KINDS",
    "NOTIFICATIONS_DIR",
    "NOTIFICATIONS_FILE",
    "READY",
    "REMINDER",
    "XLSX_CONTENT_TYPE",
    "MessageDetails",
    "SentNotification",
    "WorkbookDelivery",
    "already_sent",
    "compose_escalation",
    "compose_ready",
    "compose_reminder",
    "plan_notifications",
    "read_sent",
    "record_sent",
    "validate_address",
    "workbook_delivery",
]

Kind = Literal["ready", "reminder", "escalation"]
READY: Final = "ready"
REMINDER: Final = "reminder"
ESCALATION: Final = "escalation"
KINDS: Final[tuple[str, ...]] = (READY, REMINDER, ESCALATION)
"""Every kind of message, in the order a campaign sends them."""

#: What was sent: one JSON file per message in this subfolder of the campaign folder.
NOTIFICATIONS_DIR = "notifications"
#: Earlier versions' log of what was sent (one JSON object per line): still read, never written.
NOTIFICATIONS_FILE = "notifications.jsonl"
#: Larger workbooks are linked, not attached: many mail servers refuse messages over 10 MB,
#: and base64 makes an attachment a third larger.
DEFAULT_MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Lines up to RFC 5322's hard limit of 998 characters: at the usual 78, the standard library
# folds a long subject before its first word, and readers then see it start with a space.
_POLICY = email.policy.SMTP.clone(max_line_length=998)
# Header text (campaign and account ids, file names) is short; anything longer is not an id.
_MAX_HEADER_TEXT = 200


# --- checked inputs ----------------------------------------------------------------------------------


def validate_address(value: object, what: str) -> str:
    """Return ``value`` if it is one usable email address, else raise ``ValueError``.

    The package's one plausibility rule for emails
    (:func:`~airflow_provider_boomi.access.validation.check_email`), plus what a mail header
    needs: no control characters (a CR or LF would start a new header), exactly one address
    (no ``,`` or ``;`` lists, no display name), parseable by :mod:`email`.

    :param value: the address.
    :param what: where it came from, for the message (``"reviewer"``, ``"escalation_email"``).
    :raises ValueError: the message shows the value with invisible characters made visible and
        says what to fix.
    """
    if not isinstance(value, str):
        raise ValueError(f"{what} must be an email address (text), got {type(value).__name__}")
    shown = visible_text(value[:_MAX_HEADER_TEXT])
    if not value.isprintable():
        raise ValueError(
            f"{what} {shown!r} contains control or invisible characters (a line break in an address "
            "would add mail headers); fix the address where it is defined"
        )
    problem = check_email(value)
    if problem is None:
        try:
            Address(addr_spec=value)
        except Exception as exc:  # the parser raises ValueError, IndexError or header defects
            problem = f"the email library cannot parse it ({exc})"
    if problem is not None:
        raise ValueError(
            f"{what} {shown!r} is not one usable email address: {problem.replace('user_id', 'the address')}. "
            "Fix it where it is defined (the owners mapping or default reviewer of the campaign, or "
            "the operator's arguments)"
        )
    return value


def _header_text(value: object, what: str) -> str:
    """Text for a header (an id, a file name): printable, one line, bounded; else refused."""
    text = str(value)
    if not text or not text.isprintable() or len(text) > _MAX_HEADER_TEXT:
        raise ValueError(
            f"{what} {visible_text(text[:_MAX_HEADER_TEXT])!r} cannot be used in a mail header: it must "
            f"be 1 to {_MAX_HEADER_TEXT} printable characters on one line"
        )
    return text


# --- the workbook: attached or linked ----------------------------------------------------------------


@dataclass(frozen=True)
class WorkbookDelivery:
    """How a reviewer gets their workbook: attached (bytes) or linked.

    :ivar filename: the attachment's file name (``None`` when linked).
    :ivar content: the workbook's bytes (``None`` when linked).
    :ivar link: where to fetch it (``None`` when attached).
    :ivar reason: why it is linked rather than attached (``None`` when attached).
    """

    filename: str | None = None
    content: bytes | None = None
    link: str | None = None
    reason: str | None = None

    @property
    def attached(self) -> bool:
        """Whether the workbook travels in the message."""
        return self.content is not None


def workbook_delivery(
    workbook: str | os.PathLike[str] | None,
    *,
    link: str | None = None,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
) -> WorkbookDelivery:
    """Attach ``workbook`` when it is a readable local file of at most ``max_attachment_bytes``;
    otherwise link it.

    A workbook on object storage (``s3://...``) is linked, never downloaded here: reviewers
    fetch it from where it is (or from ``link``, for example a share the organisation uses).

    :param workbook: the reviewer's workbook: a local path or a URL; ``None`` when there is none.
    :param link: the URL to give instead of the workbook's own path when it is not attached.
    :param max_attachment_bytes: the largest workbook attached.
    :raises ValueError: no workbook and no link: the reviewer would get nothing to fill in.
    """
    if max_attachment_bytes < 0:
        raise ValueError(f"max_attachment_bytes must be >= 0, got {max_attachment_bytes}")
    where = os.fspath(workbook) if workbook is not None else None
    if where is None:
        if not link:
            raise ValueError(
                "the campaign folder has no workbook for this reviewer and no link was given: rebuild "
                "the campaign (one workbook per reviewer) or pass workbook_link"
            )
        return WorkbookDelivery(link=link, reason="no workbook file")
    if "://" in where:
        return WorkbookDelivery(link=link or where, reason="the workbook is on object storage")
    path = Path(where)
    if not path.is_file():
        raise FileNotFoundError(
            f"reviewer workbook {where} does not exist; rebuild the campaign, or pass the right "
            "campaign folder"
        )
    size = path.stat().st_size
    if size > max_attachment_bytes:
        return WorkbookDelivery(
            link=link or str(path),
            reason=f"the workbook has {size:,} bytes, more than the {max_attachment_bytes:,} attached",
        )
    filename = _header_text(path.name, "workbook file name")
    return WorkbookDelivery(filename=filename, content=path.read_bytes())


# --- composing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageDetails:
    """What every message of a campaign says, from the campaign and the operator's settings.

    :ivar campaign_id: the campaign.
    :ivar account_id: the Boomi account reviewed.
    :ivar due_date: the last day to decide.
    :ivar from_email: the sender.
    :ivar return_instructions: how to send the filled workbook back (one paragraph of text);
        ``None`` for the default: reply with it attached.
    :ivar reply_to: where replies go, when not to ``from_email``.
    """

    campaign_id: str
    account_id: str
    due_date: date
    from_email: str
    return_instructions: str | None = None
    reply_to: str | None = None

    def __post_init__(self) -> None:
        _header_text(self.campaign_id, "campaign id")
        _header_text(self.account_id, "account id")
        validate_address(self.from_email, "from_email")
        if self.reply_to is not None:
            validate_address(self.reply_to, "reply_to")
        if not isinstance(self.due_date, date) or isinstance(self.due_date, datetime):
            raise ValueError(f"due_date must be a date, got {self.due_date!r}")

    @property
    def how_to_return(self) -> str:
        """The return instructions, or the default ones."""
        return self.return_instructions or (
            "Fill in the decision column (keep or revoke) of every row, add a comment where it helps, "
            f"and reply to this message with the workbook attached by {self.due_date.isoformat()}."
        )


def _message(
    kind: Kind,
    details: MessageDetails,
    *,
    to: str,
    subject: str,
    paragraphs: Sequence[str],
    cc: Sequence[str] = (),
    sent_at: datetime | None = None,
) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = subject
    message["From"] = Address(addr_spec=details.from_email)
    message["To"] = Address(addr_spec=validate_address(to, "reviewer"))
    if cc:
        message["Cc"] = [Address(addr_spec=validate_address(a, "cc address")) for a in cc]
    if details.reply_to:
        message["Reply-To"] = Address(addr_spec=details.reply_to)
    message["Date"] = format_datetime((sent_at or datetime.now(UTC)).astimezone(UTC))
    domain = details.from_email.rsplit("@", 1)[1]
    message["Message-ID"] = make_msgid(idstring=f"boomi-{kind}", domain=domain)
    # RFC 3834: an automatic message; well-behaved auto-responders do not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Boomi-Campaign"] = details.campaign_id
    message["X-Boomi-Notification"] = kind
    message.set_content("\n\n".join(paragraphs) + "\n")
    body = "".join(f"<p>{html.escape(p)}</p>\n" for p in paragraphs)
    message.add_alternative(f"<!DOCTYPE html>\n<html><body>\n{body}</body></html>\n", subtype="html")
    return message


def _items(count: int) -> str:
    return f"{count} item{'' if count == 1 else 's'}"


def compose_ready(
    details: MessageDetails,
    *,
    reviewer: str,
    items: int,
    workbook: WorkbookDelivery,
    sent_at: datetime | None = None,
) -> EmailMessage:
    """The message telling ``reviewer`` their workbook is ready.

    :param details: the campaign's details.
    :param reviewer: the reviewer's address.
    :param items: how many items their workbook holds.
    :param workbook: the workbook, attached or linked (:func:`workbook_delivery`).
    :param sent_at: the ``Date`` header (default now).
    """
    paragraphs = [
        f"Your access-review workbook for campaign {details.campaign_id} (Boomi account "
        f"{details.account_id}) is ready: {_items(items)} to decide, due {details.due_date.isoformat()}.",
        "The workbook is attached." if workbook.attached else f"Fetch the workbook here: {workbook.link}",
        details.how_to_return,
    ]
    message = _message(
        READY,
        details,
        to=reviewer,
        subject=(
            f"Access review {details.campaign_id}: your workbook is ready "
            f"(due {details.due_date.isoformat()})"
        ),
        paragraphs=paragraphs,
        sent_at=sent_at,
    )
    if workbook.attached:
        assert workbook.content is not None and workbook.filename is not None
        maintype, subtype = XLSX_CONTENT_TYPE.split("/")
        if not workbook.filename.lower().endswith(".xlsx"):
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            workbook.content, maintype=maintype, subtype=subtype, filename=workbook.filename
        )
    return message


def compose_reminder(
    details: MessageDetails,
    *,
    reviewer: str,
    pending: int,
    items: int,
    today: date,
    workbook_link: str | None = None,
    sent_at: datetime | None = None,
) -> EmailMessage:
    """The reminder: ``pending`` of ``items`` still to decide, due in so many days.

    :param details: the campaign's details.
    :param reviewer: the reviewer's address.
    :param pending: items without a decision.
    :param items: all the reviewer's items.
    :param today: the day the reminder is for (how many days are left is counted from it).
    :param workbook_link: where the workbook is, repeated for convenience.
    :param sent_at: the ``Date`` header (default now).
    """
    days = (details.due_date - today).days
    when = "today" if days == 0 else f"in {days} day{'' if days == 1 else 's'}"
    paragraphs = [
        f"Reminder: {pending} of your {_items(items)} in access review {details.campaign_id} (Boomi "
        f"account {details.account_id}) still need a decision. The review is due {when}, on "
        f"{details.due_date.isoformat()}.",
        *([f"Your workbook: {workbook_link}"] if workbook_link else []),
        details.how_to_return,
    ]
    return _message(
        REMINDER,
        details,
        to=reviewer,
        subject=f"Reminder: access review {details.campaign_id}, {pending} pending, due {when}",
        paragraphs=paragraphs,
        sent_at=sent_at,
    )


def compose_escalation(
    details: MessageDetails,
    *,
    reviewer: str,
    pending: int,
    items: int,
    today: date,
    escalation_email: str | None,
    sent_at: datetime | None = None,
) -> EmailMessage:
    """The escalation: the due date has passed with ``pending`` items undecided.

    Sent to the reviewer with ``escalation_email`` in Cc, so the person who follows up sees
    exactly what the reviewer was told (without one, to the reviewer alone).

    :param details: the campaign's details.
    :param reviewer: the reviewer's address.
    :param pending: items without a decision.
    :param items: all the reviewer's items.
    :param today: the day of the escalation (days overdue are counted from it).
    :param escalation_email: the address in Cc (``None``: nobody).
    :param sent_at: the ``Date`` header (default now).
    """
    overdue = (today - details.due_date).days
    paragraphs = [
        f"Access review {details.campaign_id} (Boomi account {details.account_id}) was due on "
        f"{details.due_date.isoformat()}, {overdue} day{'' if overdue == 1 else 's'} ago. {pending} of "
        f"{reviewer}'s {_items(items)} still have no decision.",
        *([f"{escalation_email} is copied so that the review can be completed."] if escalation_email else []),
        details.how_to_return,
    ]
    return _message(
        ESCALATION,
        details,
        to=reviewer,
        cc=[escalation_email] if escalation_email else [],
        subject=f"Overdue: access review {details.campaign_id}, {pending} pending",
        paragraphs=paragraphs,
        sent_at=sent_at,
    )


# --- what to send on a given day ------------------------------------------------------------------


def plan_notifications(
    pending: Mapping[str | None, int],
    due_date: date,
    today: date,
    *,
    remind_days_before: Iterable[int] = (7, 1),
    escalate_after_days: int = 0,
    escalate_every_days: int = 7,
) -> list[tuple[str, str]]:
    """Which messages ``today`` calls for: ``(kind, reviewer)`` pairs, sorted by reviewer.

    Only reviewers with pending items are told anything. A reminder goes out on each day that
    is one of ``remind_days_before`` days before the due date (``0``: on the due date itself).
    The due date is the last day to decide: from ``escalate_after_days`` days after it, an
    escalation goes out, and again every ``escalate_every_days`` days while items stay pending
    (``0``: only once). Days are calendar days; a day the schedule did not run is not caught up
    (the next reminder or escalation day is).

    ``ready`` messages are not planned here: they go out once, when a campaign is built.

    :param pending: reviewer -> items still undecided (from the campaign's status); the
        ``None`` key (items nobody was assigned) is ignored: there is nobody to tell.
    :param due_date: the campaign's due date.
    :param today: the day to plan for.
    :param remind_days_before: days before the due date on which to remind.
    :param escalate_after_days: days after the due date before the first escalation (``0``:
        the day after the due date).
    :param escalate_every_days: days between escalations; ``0`` escalates once.
    :raises ValueError: a negative number of days.
    """
    days_before = sorted(set(remind_days_before))
    if any(d < 0 for d in days_before) or escalate_after_days < 0 or escalate_every_days < 0:
        raise ValueError(
            "remind_days_before, escalate_after_days and escalate_every_days must be >= 0, got "
            f"{days_before}, {escalate_after_days}, {escalate_every_days}"
        )
    left = (due_date - today).days
    # Day 1 of being overdue is the day after the due date.
    since_first_escalation = -left - 1 - escalate_after_days
    kind: str | None = None
    if left >= 0 and left in days_before:
        kind = REMINDER
    elif since_first_escalation >= 0 and (
        since_first_escalation == 0
        or (escalate_every_days > 0 and since_first_escalation % escalate_every_days == 0)
    ):
        kind = ESCALATION
    if kind is None:
        return []
    return [
        (kind, reviewer)
        for reviewer, count in sorted(pending.items(), key=_by_reviewer)
        if reviewer and count > 0
    ]


def _by_reviewer(entry: tuple[str | None, int]) -> str:
    return entry[0] or ""


# --- what was sent ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentNotification:
    """One message sent, as recorded in ``notifications.jsonl``.

    :ivar kind: ``ready``, ``reminder`` or ``escalation``.
    :ivar reviewer: the reviewer it was about (its ``To``).
    :ivar day: the day it was for (the planning day, not the clock of the send).
    :ivar sent_at: when the server accepted it (UTC).
    :ivar message_id: its ``Message-ID`` header.
    :ivar recipients: every address it went to (``To`` and ``Cc``).
    :ivar attached: whether the workbook was attached (``ready`` only; else ``False``).
    """

    kind: str
    reviewer: str
    day: date
    sent_at: datetime
    message_id: str
    recipients: tuple[str, ...]
    attached: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of one line."""
        data = asdict(self)
        data.update(
            day=self.day.isoformat(), sent_at=self.sent_at.isoformat(), recipients=list(self.recipients)
        )
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SentNotification:
        """Rebuild from :meth:`to_dict`."""
        kind = str(data["kind"])
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        return cls(
            kind=kind,
            reviewer=str(data["reviewer"]),
            day=date.fromisoformat(str(data["day"])),
            sent_at=datetime.fromisoformat(str(data["sent_at"])),
            message_id=str(data["message_id"]),
            recipients=tuple(str(r) for r in data.get("recipients", ())),
            attached=bool(data.get("attached", False)),
        )


def read_sent(campaign_dir: Any) -> list[SentNotification]:
    """What was sent for the campaign in ``campaign_dir``, oldest first (empty at first).

    The records are the files of ``notifications/`` (one per message, see :func:`record_sent`)
    and the lines of a ``notifications.jsonl`` written by earlier versions.

    :param campaign_dir: a local folder, an fsspec URL or an ``ObjectStoragePath``.
    :raises ValueError: a file or line is not a record this module wrote; the message names it.

    Order: the earlier log's lines, then the records in the order they were recorded.
    """
    where = folder(campaign_dir)
    records = []
    if where.has_file(NOTIFICATIONS_FILE):
        text = where.read_bytes(NOTIFICATIONS_FILE).decode("utf-8")
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                records.append(_record(line, f"{where.url_of(NOTIFICATIONS_FILE)} line {number}"))
    log = where.child(NOTIFICATIONS_DIR)
    for name in log.files():
        if name.endswith(".json"):
            records.append(_record(log.read_bytes(name).decode("utf-8"), log.url_of(name)))
    return records


def _record(text: str, where: str) -> SentNotification:
    try:
        return SentNotification.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{where} is not a notification record ({exc}); restore it or remove it "
            "(a removed record may send that message again)"
        ) from exc


def record_sent(campaign_dir: Any, record: SentNotification) -> None:
    """Record one sent message as a file of its own in the campaign's ``notifications/``.

    Records are never rewritten, only added (a new name per message), so two senders at once
    (the campaign's ``ready`` task and a reminders run, or a retry beside a rerun) lose none of
    each other's records, on a local disk and on object stores alike.
    """
    # Named by when it was recorded, so that the folder lists records in the order they came.
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{stamp}-{record.kind}-{secrets.token_hex(6)}.json"
    folder(campaign_dir).child(NOTIFICATIONS_DIR).write_bytes(
        name, json.dumps(record.to_dict(), sort_keys=True).encode("utf-8")
    )


def already_sent(records: Iterable[SentNotification], kind: str, reviewer: str, day: date) -> bool:
    """Whether ``kind`` was already sent to ``reviewer``: a ``ready`` ever, the others on ``day``.

    Reviewers are compared as the campaign compares them (case and surrounding spaces ignored).
    """
    return any(
        r.kind == kind and same_reviewer(r.reviewer, reviewer) and (kind == READY or r.day == day)
        for r in records
    )
