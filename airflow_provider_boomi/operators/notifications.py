"""Telling reviewers by email, and tracking a campaign's progress in the warehouse.

- :class:`BoomiReviewNotificationsOperator` sends a campaign's ``ready`` messages, or the day's
  reminders and escalations, through the Airflow SMTP provider's connection, and records what
  it sent in the campaign folder so that a rerun or a retry sends nothing twice.
- :class:`BoomiReviewNotifier` does the same from a task or DAG callback.
- :class:`BoomiReviewProgressOperator` loads the campaign's status per reviewer and the
  remediation of its revoke decisions into the warehouse.

The messages are composed by :mod:`airflow_provider_boomi.review.notifications`; this module
opens the connection and hands them over.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.bases.notifier import BaseNotifier
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_boomi.operators._xcom import field_of
from airflow_provider_boomi.operators.warehouse import warehouse_target

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_boomi.review.campaign import Campaign

AUTO = "auto"
_KIND_CHOICES = ("auto", "ready", "reminder", "escalation")


# --- the day, and the campaign's folders ---------------------------------------------------------


def _day(value: Any, context: Mapping[str, Any]) -> date:
    """The day to plan for: ``today`` when set (a date or ISO text), else the run's logical date
    (a rerun of a day's run is the same day), else the run's start, else now; in UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError as exc:
            raise AirflowFailException(f"today must be a date such as 2026-03-24, got {value!r}") from exc
    dag_run = context.get("dag_run")
    for moment in (context.get("logical_date"), getattr(dag_run, "run_after", None)):
        if isinstance(moment, datetime):
            return moment.astimezone(UTC).date()
    return datetime.now(UTC).date()


def _moment(day: date) -> datetime:
    """A time on ``day`` (now, when ``day`` is today): what the campaign status is computed at,
    so that a run for another day (a rerun, a backfill) judges "overdue" for that day."""
    return datetime.combine(day, datetime.now(UTC).time(), UTC)


def _campaigns(campaign: Any, reviews_path: Any) -> list[tuple[Any, Mapping[str, Any]]]:
    """(campaign folder, reviewer -> workbook) of each campaign to handle.

    ``campaign`` is the campaign operator's result (one campaign, or a definition's
    ``{"campaigns": [...]}``) or a campaign folder; ``reviews_path`` is a folder of campaign
    folders (workbooks are then found in each folder).
    """
    from airflow_provider_boomi.review.campaign import find_campaigns

    if bool(campaign) == bool(reviews_path):
        raise AirflowFailException(
            "give either campaign (the campaign operator's result or a campaign folder) or "
            "reviews_path (a folder of campaign folders), not both and not neither"
        )
    if campaign:
        several = campaign.get("campaigns") if isinstance(campaign, Mapping) else None
        results = several if isinstance(several, list) else [campaign]
        return [(field_of(result, "campaign_dir"), _workbooks(result)) for result in results]
    try:
        return [(found, {}) for found in find_campaigns(reviews_path)]
    except FileNotFoundError as exc:
        raise AirflowFailException(
            f"reviews_path {reviews_path} does not exist: no campaign was built there yet, or the path "
            "is not the campaign operator's reviews_path"
        ) from exc


def _whole_days(value: Any, what: str) -> int:
    """A number of days from an argument or a rendered template (``"14"``)."""
    try:
        days = int(str(value).strip())
    except ValueError:
        days = -1
    if isinstance(value, bool) or days < 0:
        raise AirflowFailException(f"{what} must be a whole number of days >= 0, got {value!r}")
    return days


def _workbooks(campaign: Any) -> Mapping[str, Any]:
    """The upstream result's ``reviewer_workbooks`` (reviewer -> path or URL), when given."""
    if isinstance(campaign, Mapping) and isinstance(campaign.get("reviewer_workbooks"), Mapping):
        return dict(campaign["reviewer_workbooks"])
    return {}


# --- the campaign's status, read in one place -----------------------------------------------------


def _progress(campaign_dir: Any, now: datetime) -> list[dict[str, Any]]:
    """Per reviewer (``None``: unassigned items): ``reviewer``, ``items``, ``decided``,
    ``pending``, ``overdue``, from :func:`~airflow_provider_boomi.review.status.campaign_status`."""
    from airflow_provider_boomi.review.status import campaign_status

    status = campaign_status(campaign_dir, now)
    return [
        {key: entry.to_dict()[key] for key in ("reviewer", "items", "decided", "pending", "overdue")}
        for entry in status.reviewers
    ]


# --- sending -----------------------------------------------------------------------------------


class _Mailer:
    """One SMTP session opened by the SMTP provider's hook, from an Airflow connection.

    The hook reads host, port, SSL/STARTTLS, credentials (or OAuth2) and timeouts from the
    connection and logs in. The message is sent as composed here (plain text, an escaped HTML
    alternative and the workbook), not rebuilt by the hook's ``send_email_smtp``, which makes an
    HTML-only message from strings and passes custom headers through unchecked.
    """

    def __init__(self, smtp_conn_id: str) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        self.hook = SmtpHook(smtp_conn_id=smtp_conn_id)
        self._client: Any = None

    def __enter__(self) -> _Mailer:
        self.hook.__enter__()
        # The hook keeps its logged-in smtplib client here; it has no public accessor for it.
        self._client = getattr(self.hook, "_smtp_client", None)
        if not hasattr(self._client, "send_message"):
            self.hook.__exit__(None, None, None)
            raise RuntimeError(
                "the installed SMTP provider did not open an smtplib client (SmtpHook._smtp_client); "
                "this package was tested with apache-airflow-providers-smtp 3.x"
            )
        return self

    @property
    def from_email(self) -> str | None:
        """The connection's ``from_email`` extra."""
        return self.hook.from_email

    def send(self, message: EmailMessage) -> dict[str, Any]:
        """Send one message; return the recipients the server refused (usually none)."""
        return dict(self._client.send_message(message))

    def __exit__(self, *exc: object) -> None:
        self.hook.__exit__(*exc)


def send_review_notifications(
    campaign_dir: Any,
    *,
    kind: str,
    today: date,
    smtp_conn_id: str,
    from_email: str | None = None,
    escalation_email: str | None = None,
    reviewer_workbooks: Mapping[str, Any] | None = None,
    remind_days_before: Iterable[int] = (7, 1),
    escalate_after_days: int = 0,
    escalate_every_days: int = 7,
    max_attachment_bytes: int | None = None,
    workbook_link: str | None = None,
    return_instructions: str | None = None,
    reply_to: str | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """Send what ``kind`` calls for on ``today`` for one campaign; skip what was already sent.

    What is sent is recorded in the campaign folder before the next message goes out, so a
    retry after a failure half-way resends nothing that arrived. A reviewer whose address is
    unusable is skipped (the others are told) and listed under ``refused``.

    :returns: ``{"campaign_id", "day", "sent", "skipped", "refused", "unassigned_items"}``;
        ``sent`` and ``skipped`` list ``{"kind", "reviewer", ...}``.
    """
    from airflow_provider_boomi.review import notifications as notes
    from airflow_provider_boomi.review.campaign import load_campaign
    from airflow_provider_boomi.review.reviewers import REVIEWERS_DIR, reviewer_key, reviewer_slug

    campaign = load_campaign(campaign_dir)
    result: dict[str, Any] = {
        "campaign_id": campaign.campaign_id,
        "campaign_dir": str(campaign_dir),
        "day": today.isoformat(),
        "sent": [],
        "skipped": [],
        "refused": [],
        "unassigned_items": 0,
    }
    if campaign.due_date is None:
        result["skipped"].append({"kind": kind, "reviewer": None, "why": "the campaign has no due date"})
        return result
    progress = _progress(campaign_dir, _moment(today))
    by_reviewer = {reviewer_key(p["reviewer"]): p for p in progress if p["reviewer"]}
    result["unassigned_items"] = sum(p["items"] for p in progress if not p["reviewer"])
    if kind == "ready":
        planned = [("ready", p["reviewer"]) for p in progress if p["reviewer"] and p["items"] > 0]
    else:
        planned = notes.plan_notifications(
            {p["reviewer"]: p["pending"] for p in progress},
            campaign.due_date,
            today,
            remind_days_before=remind_days_before,
            escalate_after_days=escalate_after_days,
            escalate_every_days=escalate_every_days,
        )
        if kind != AUTO:
            planned = [(k, r) for k, r in planned if k == kind]
    sent_before = notes.read_sent(campaign_dir)
    to_send = []
    for planned_kind, reviewer in planned:
        if notes.already_sent(sent_before, planned_kind, reviewer, today):
            result["skipped"].append({"kind": planned_kind, "reviewer": reviewer, "why": "already sent"})
        else:
            to_send.append((planned_kind, reviewer))
    if not to_send:
        return result

    workbooks = {reviewer_key(r): path for r, path in (reviewer_workbooks or {}).items() if r}
    reviewers_dir = _child(campaign_dir, REVIEWERS_DIR)
    with _Mailer(smtp_conn_id) as mailer:
        sender = from_email or mailer.from_email
        if not sender:
            raise AirflowFailException(
                "no sender: set from_email on the operator or the from_email extra of connection "
                f"{smtp_conn_id!r}"
            )
        try:
            details = notes.MessageDetails(
                campaign_id=campaign.campaign_id,
                account_id=campaign.account_id,
                due_date=campaign.due_date,
                from_email=sender,
                return_instructions=return_instructions,
                reply_to=reply_to,
            )
            if escalation_email:
                notes.validate_address(escalation_email, "escalation_email")
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        for planned_kind, reviewer in to_send:
            counts = by_reviewer[reviewer_key(reviewer)]
            workbook = workbooks.get(reviewer_key(reviewer)) or _reviewer_workbook(
                reviewers_dir, reviewer_slug(reviewer)
            )
            try:
                message, attached = _compose(
                    notes,
                    planned_kind,
                    details,
                    reviewer,
                    counts,
                    today,
                    workbook=workbook,
                    workbook_link=workbook_link,
                    escalation_email=escalation_email,
                    max_attachment_bytes=max_attachment_bytes,
                )
            except ValueError as exc:
                result["refused"].append(
                    {"kind": planned_kind, "reviewer": _shown(reviewer), "why": str(exc)}
                )
                continue
            try:
                refused = mailer.send(message)
            except smtplib.SMTPRecipientsRefused as exc:
                # The server refused every recipient: that address, not the session, is the problem.
                why = "; ".join(f"{a}: {code} {text!r}" for a, (code, text) in exc.recipients.items())
                refusal = {"kind": planned_kind, "reviewer": _shown(reviewer)}
                result["refused"].append({**refusal, "why": f"the mail server refused {why}"})
                continue
            sent_at = datetime.now(UTC)
            recipients = tuple(
                str(a.addr_spec)
                for header in ("To", "Cc")
                for a in (message[header].addresses if message[header] else ())
            )
            notes.record_sent(
                campaign_dir,
                notes.SentNotification(
                    kind=planned_kind,
                    reviewer=reviewer,
                    day=today,
                    sent_at=sent_at,
                    message_id=str(message["Message-ID"]),
                    recipients=recipients,
                    attached=attached,
                ),
            )
            entry = {
                "kind": planned_kind,
                "reviewer": reviewer,
                "message_id": str(message["Message-ID"]),
                "recipients": list(recipients),
                "attached": attached,
                "refused_recipients": sorted(refused),
            }
            result["sent"].append(entry)
            if log is not None:
                log.info("Sent %s to %s for campaign %s", planned_kind, reviewer, campaign.campaign_id)
    return result


def _shown(value: str) -> str:
    from airflow_provider_boomi.review.cells import visible_text

    return visible_text(value)


def _child(campaign_dir: Any, name: str) -> Any:
    from airflow_provider_boomi.review._storage import folder

    return folder(campaign_dir).child_unchecked(name)


def _reviewer_workbook(reviewers_dir: Any, slug: str) -> str | None:
    name = f"{slug}.xlsx"
    return reviewers_dir.url_of(name) if reviewers_dir.has_file(name) else None


def _compose(
    notes: Any,
    kind: str,
    details: Any,
    reviewer: str,
    counts: Mapping[str, Any],
    today: date,
    *,
    workbook: Any,
    workbook_link: str | None,
    escalation_email: str | None,
    max_attachment_bytes: int | None,
) -> tuple[EmailMessage, bool]:
    link = workbook_link.format(reviewer=reviewer, campaign_id=details.campaign_id) if workbook_link else None
    if kind == "ready":
        limit = notes.DEFAULT_MAX_ATTACHMENT_BYTES if max_attachment_bytes is None else max_attachment_bytes
        delivery = notes.workbook_delivery(workbook, link=link, max_attachment_bytes=limit)
        message = notes.compose_ready(details, reviewer=reviewer, items=counts["items"], workbook=delivery)
        return message, delivery.attached
    if kind == "reminder":
        message = notes.compose_reminder(
            details,
            reviewer=reviewer,
            pending=counts["pending"],
            items=counts["items"],
            today=today,
            workbook_link=link or (str(workbook) if workbook else None),
        )
        return message, False
    message = notes.compose_escalation(
        details,
        reviewer=reviewer,
        pending=counts["pending"],
        items=counts["items"],
        today=today,
        escalation_email=escalation_email,
    )
    return message, False


# --- the operator ---------------------------------------------------------------------------------


class BoomiReviewNotificationsOperator(BaseOperator):
    """Email reviewers: their workbook is ready, a reminder before the due date, an escalation after.

    ``kind="ready"`` tells every reviewer of the campaign their workbook is ready, with it
    attached (a local file up to ``max_attachment_bytes``) or linked; each reviewer gets it
    once, whatever the reruns. ``kind="auto"`` sends what the day calls for
    (:func:`~airflow_provider_boomi.review.notifications.plan_notifications`): reminders
    ``remind_days_before`` the due date and escalations after it, only to reviewers with
    pending items; ``"reminder"`` or ``"escalation"`` sends only that kind. What was sent is
    recorded in each campaign's ``notifications/``: the same message never goes out twice
    on one day, across retries and reruns.

    Messages go through the SMTP connection ``smtp_conn_id`` of the Airflow SMTP provider
    (host, port, TLS, credentials; its ``from_email`` extra is the default sender). A reviewer
    whose address is unusable (a line break, a list, no domain) is not written to; the others
    are, and the task then fails without retry naming each such address and what to fix.

    :param campaign: the campaign operator's result (``campaign.output``) or a campaign folder
        (templated); or give ``reviews_path``.
    :param reviews_path: a folder of campaign folders: every campaign in it is handled
        (templated). Campaigns without a due date are skipped.
    :param kind: ``auto``, ``ready``, ``reminder`` or ``escalation`` (templated).
    :param smtp_conn_id: the SMTP connection (templated).
    :param from_email: the sender; default the connection's ``from_email`` extra (templated).
    :param escalation_email: the address copied on escalations (templated); none: the
        reviewer alone.
    :param remind_days_before: days before the due date to remind on.
    :param escalate_after_days: days after the due date before the first escalation.
    :param escalate_every_days: days between escalations; 0: once.
    :param max_attachment_bytes: the largest workbook attached; larger ones are linked.
    :param workbook_link: the link to give when a workbook is not attached, with
        ``{reviewer}`` and ``{campaign_id}`` filled in (templated); default its path or URL.
    :param return_instructions: how reviewers send their workbook back (templated).
    :param reply_to: a ``Reply-To`` address (templated).
    :param today: the day to plan for, as ``YYYY-MM-DD`` (templated); default the run's
        logical date.

    Returns (XCom) ``{"day", "campaigns": [{"campaign_id", "sent", "skipped", "refused",
    "unassigned_items"}], "sent", "skipped"}``.
    """

    template_fields: Sequence[str] = (
        "campaign",
        "reviews_path",
        "kind",
        "smtp_conn_id",
        "from_email",
        "escalation_email",
        "workbook_link",
        "return_instructions",
        "reply_to",
        "today",
    )
    ui_color = "#f6d8ae"

    def __init__(
        self,
        *,
        campaign: Any = None,
        reviews_path: Any = None,
        kind: str = AUTO,
        smtp_conn_id: str = "smtp_default",
        from_email: str | None = None,
        escalation_email: str | None = None,
        remind_days_before: Sequence[int] = (7, 1),
        escalate_after_days: int = 0,
        escalate_every_days: int = 7,
        max_attachment_bytes: int | None = None,
        workbook_link: str | None = None,
        return_instructions: str | None = None,
        reply_to: str | None = None,
        today: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.campaign = campaign
        self.reviews_path = reviews_path
        self.kind = kind
        self.smtp_conn_id = smtp_conn_id
        self.from_email = from_email
        self.escalation_email = escalation_email
        self.remind_days_before = tuple(remind_days_before)
        self.escalate_after_days = escalate_after_days
        self.escalate_every_days = escalate_every_days
        self.max_attachment_bytes = max_attachment_bytes
        self.workbook_link = workbook_link
        self.return_instructions = return_instructions
        self.reply_to = reply_to
        self.today = today

    def execute(self, context: Context) -> dict[str, Any]:
        kind = str(self.kind or AUTO).strip().lower()
        if kind not in _KIND_CHOICES:
            raise AirflowFailException(f"kind must be one of {', '.join(_KIND_CHOICES)}, got {self.kind!r}")
        return run_notifications(self, kind, context)


def run_notifications(settings: Any, kind: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """Send for every campaign ``settings`` names (the operator's or the notifier's fields)."""
    today = _day(settings.today, context)
    log = getattr(settings, "log", None)
    outcome: dict[str, Any] = {"day": today.isoformat(), "campaigns": [], "sent": 0, "skipped": 0}
    refused: list[dict[str, Any]] = []
    for campaign_dir, workbooks in _campaigns(settings.campaign, settings.reviews_path):
        done = send_review_notifications(
            campaign_dir,
            kind=kind,
            today=today,
            smtp_conn_id=settings.smtp_conn_id,
            from_email=settings.from_email or None,
            escalation_email=settings.escalation_email or None,
            reviewer_workbooks=workbooks,
            remind_days_before=settings.remind_days_before,
            escalate_after_days=settings.escalate_after_days,
            escalate_every_days=settings.escalate_every_days,
            max_attachment_bytes=settings.max_attachment_bytes,
            workbook_link=settings.workbook_link or None,
            return_instructions=settings.return_instructions or None,
            reply_to=settings.reply_to or None,
            log=log,
        )
        outcome["campaigns"].append(done)
        outcome["sent"] += len(done["sent"])
        outcome["skipped"] += len(done["skipped"])
        refused += [{"campaign_id": done["campaign_id"], **r} for r in done["refused"]]
        if done["unassigned_items"] and log is not None:
            log.warning(
                "Campaign %s: %d item(s) have no reviewer; nobody is told about them (see the "
                "unassigned workbook)",
                done["campaign_id"],
                done["unassigned_items"],
            )
    if refused:
        listed = "; ".join(
            f"{r['campaign_id']} {r['kind']} to {r['reviewer']!r}: {r['why']}" for r in refused
        )
        raise AirflowFailException(
            f"{len(refused)} message(s) not sent (the {outcome['sent']} others were): {listed}"
        )
    return outcome


class BoomiReviewNotifier(BaseNotifier):
    """:class:`BoomiReviewNotificationsOperator` as a callback, e.g. once a campaign is built::

        BoomiReviewCampaignOperator(
            ...,
            on_success_callback=BoomiReviewNotifier(
                kind="ready", campaign="{{ ti.xcom_pull(task_ids='campaign')['campaign_dir'] }}"
            ),
        )

    Same parameters as the operator, the same idempotency (a ``ready`` goes to each reviewer
    once); a message that cannot be sent fails the callback, which Airflow logs.
    """

    template_fields = (
        "campaign",
        "reviews_path",
        "kind",
        "smtp_conn_id",
        "from_email",
        "escalation_email",
        "workbook_link",
        "return_instructions",
        "reply_to",
        "today",
    )

    def __init__(
        self,
        *,
        campaign: Any = None,
        reviews_path: Any = None,
        kind: str = "ready",
        smtp_conn_id: str = "smtp_default",
        from_email: str | None = None,
        escalation_email: str | None = None,
        remind_days_before: Sequence[int] = (7, 1),
        escalate_after_days: int = 0,
        escalate_every_days: int = 7,
        max_attachment_bytes: int | None = None,
        workbook_link: str | None = None,
        return_instructions: str | None = None,
        reply_to: str | None = None,
        today: Any = None,
    ) -> None:
        super().__init__()
        self.campaign = campaign
        self.reviews_path = reviews_path
        self.kind = kind
        self.smtp_conn_id = smtp_conn_id
        self.from_email = from_email
        self.escalation_email = escalation_email
        self.remind_days_before = tuple(remind_days_before)
        self.escalate_after_days = escalate_after_days
        self.escalate_every_days = escalate_every_days
        self.max_attachment_bytes = max_attachment_bytes
        self.workbook_link = workbook_link
        self.return_instructions = return_instructions
        self.reply_to = reply_to
        self.today = today

    def notify(self, context: Context) -> None:
        """Send (see :class:`BoomiReviewNotificationsOperator`)."""
        kind = str(self.kind or AUTO).strip().lower()
        if kind not in _KIND_CHOICES:
            raise ValueError(f"kind must be one of {', '.join(_KIND_CHOICES)}, got {self.kind!r}")
        run_notifications(self, kind, context)


# --- progress in the warehouse -------------------------------------------------------------------


def campaign_progress(
    campaign_dir: Any,
    *,
    now: datetime,
    ledger_path: str | None,
    output_path: Any,
    remediation_days: int,
) -> tuple[Campaign, list[dict[str, Any]], list[Any]]:
    """(campaign, status rows per reviewer, remediation items) of one campaign at ``now``."""
    from airflow_provider_boomi.access.ledger import read_ledger
    from airflow_provider_boomi.review.campaign import load_campaign
    from airflow_provider_boomi.review.decisions import load_recorded_decisions
    from airflow_provider_boomi.review.remediation import latest_grants, track_remediation

    campaign = load_campaign(campaign_dir)
    rows = [{**row, "due_date": campaign.due_date} for row in _progress(campaign_dir, now)]
    ledger = read_ledger(ledger_path) if ledger_path else None
    snapshot = latest_grants(output_path, campaign.account_id) if output_path else None
    remediation = track_remediation(
        campaign,
        load_recorded_decisions(campaign_dir),
        ledger=ledger,
        snapshot=snapshot,
        now=now,
        remediation_days=remediation_days,
    )
    return campaign, rows, remediation


class BoomiReviewProgressOperator(BaseOperator):
    """Load a campaign's progress into the warehouse: status per reviewer, and remediation.

    Two tables, replaced per campaign and day (a rerun the same day keeps one picture of it):
    ``boomi_review_status`` (items, decided, pending and overdue per reviewer, the due date) and
    ``boomi_review_remediation`` (each revoke decision: ``pending``, ``applied``, ``verified``,
    ``contradicted`` or ``overdue`` against ``remediation_days``), from the decisions recorded
    in the campaign folder, the provisioning ledger and the latest snapshot.

    :param campaign: the campaign operator's result or a campaign folder (templated); or give
        ``reviews_path``.
    :param reviews_path: a folder of campaign folders (templated): each is loaded.
    :param ledger_path: the provisioning ledger (templated); none: remediation sees no revokes.
    :param output_path: the snapshot store (templated); none: nothing can be verified.
    :param remediation_days: days from a revoke decision to its deadline (templated).
    :param duckdb_path: the DuckDB file when no ``warehouse_conn_id`` is given (templated); one
        of the two is required.
    :param warehouse_conn_id: a common-sql connection id; empty means DuckDB (templated).
    :param schema: the target schema (templated).
    :param today: the day the rows are for (``YYYY-MM-DD``, templated); default the run's
        logical date.

    Returns (XCom) ``{"day", "target", "campaigns": [{"campaign_id", "status", "remediation"}]}``
    with the status counts and every remediation item.
    """

    template_fields: Sequence[str] = (
        "campaign",
        "reviews_path",
        "ledger_path",
        "output_path",
        "duckdb_path",
        "warehouse_conn_id",
        "schema",
        "remediation_days",
        "today",
    )
    ui_color = "#f0e4a8"

    def __init__(
        self,
        *,
        campaign: Any = None,
        reviews_path: Any = None,
        ledger_path: str | None = None,
        output_path: Any = None,
        remediation_days: int | str = 14,
        duckdb_path: str | None = None,
        warehouse_conn_id: str | None = None,
        schema: str | None = None,
        today: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.campaign = campaign
        self.reviews_path = reviews_path
        self.ledger_path = ledger_path
        self.output_path = output_path
        self.remediation_days = remediation_days
        self.duckdb_path = duckdb_path
        self.warehouse_conn_id = warehouse_conn_id
        self.schema = schema
        self.today = today

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_boomi.warehouse.review_status import load_review_remediation, load_review_status

        day = _day(self.today, context)
        now = _moment(day)
        target, where = warehouse_target(
            self.warehouse_conn_id or None, self.duckdb_path, self.schema or None
        )
        result: dict[str, Any] = {"day": day.isoformat(), "target": where, "campaigns": []}
        for campaign_dir, _ in _campaigns(self.campaign, self.reviews_path):
            campaign, rows, remediation = campaign_progress(
                campaign_dir,
                now=now,
                ledger_path=self.ledger_path or None,
                output_path=self.output_path or None,
                remediation_days=_whole_days(self.remediation_days, "remediation_days"),
            )
            ids = {"campaign_id": campaign.campaign_id, "account_id": campaign.account_id}
            load_review_status(target, rows, as_of=day, **ids)
            load_review_remediation(target, [item.to_row() for item in remediation], as_of=day, **ids)
            states = sorted({item.state for item in remediation})
            result["campaigns"].append(
                {
                    "campaign_id": campaign.campaign_id,
                    "status": [{k: v for k, v in row.items() if k != "due_date"} for row in rows],
                    "remediation": [item.to_dict() for item in remediation],
                    "remediation_counts": {s: sum(i.state == s for i in remediation) for s in states},
                }
            )
            self.log.info(
                "Campaign %s: status of %d reviewer(s), %d revoke(s) tracked",
                campaign.campaign_id,
                len(rows),
                len(remediation),
            )
        return result
