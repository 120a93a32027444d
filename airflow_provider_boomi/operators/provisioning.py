"""Operators that change access in Boomi: thin Airflow wrappers over :mod:`access.provisioning`.

Each operator builds its changes, lets :class:`~airflow_provider_boomi.access.provisioning.Provisioner`
apply them (guards, Standard User safeguard, verification), records them in the ledger and
returns a small, secret-free summary as its XCom.

Approvals: every operator that writes takes ``approval`` (what an Airflow approval task
returned, or ``{"approved_by", "approved_at"}``) and ``requested_by`` (who asked). The approver
and the time are stamped on every ledger row of the task and returned in its result; an
approver who is also the requester is refused before anything is changed. The helpers
:func:`jit_request_markdown` and :func:`change_plan_markdown` write the body an approval task
shows in Airflow's UI, with every value typed by a person neutralised for Markdown.

:class:`BoomiOverdueJitGrantsOperator` finds just-in-time grants past their expiry that were not
revoked (:mod:`airflow_provider_boomi.access.jit`), for a catch-up run to revoke.
"""

from __future__ import annotations

import json
import logging
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_boomi._rules import parse_bool
from airflow_provider_boomi.access.changes import (
    ADD_GROUP_ROLE,
    ALREADY_SATISFIED,
    APPLIED,
    ASSIGN_ROLE,
    FAILED,
    OFFBOARD_USER,
    REMOVE_GROUP_ROLE,
    REVOKE_ROLE,
    AccessChange,
    ChangeResult,
    changes_from_records,
    load_changes,
)
from airflow_provider_boomi.access.jit import (
    jit_reason,
    overdue_jit_grants,
    parse_jit_reason,
    unreadable_jit_reasons,
)
from airflow_provider_boomi.access.ledger import LedgerWriter, RunContext, read_ledger
from airflow_provider_boomi.access.provisioning import (
    DEFAULT_MAX_CHANGES,
    DEFAULT_READ_BATCH_SIZE,
    Provisioner,
    ProvisioningOptions,
    TooManyChangesError,
)
from airflow_provider_boomi.access.validation import ProvisioningInputError
from airflow_provider_boomi.hooks.boomi import BoomiHook
from airflow_provider_boomi.operators._xcom import field_of

# The change actions and outcomes, re-exported so that DAGs (which import operators only) name
# them instead of retyping the strings.
__all__ = [
    "ADD_GROUP_ROLE",
    "ALREADY_SATISFIED",
    "APPLIED",
    "APPROVAL_TIMEOUT_ENV",
    "APPROVERS_ENV",
    "APPROVE_OPTION",
    "ASSIGN_ROLE",
    "OFFBOARD_USER",
    "REJECT_OPTION",
    "REMOVE_GROUP_ROLE",
    "RESULT_XCOM_KEY",
    "REVOKE_ROLE",
    "Approval",
    "BoomiAddGroupRoleOperator",
    "BoomiApplyAccessChangesOperator",
    "BoomiAssignRoleOperator",
    "BoomiOffboardUserOperator",
    "BoomiOverdueJitGrantsOperator",
    "BoomiRemoveGroupRoleOperator",
    "BoomiRevokeRoleOperator",
    "approval_settings",
    "change_plan_markdown",
    "jit_reason",
    "jit_request_markdown",
    "markdown_text",
    "parse_approval",
    "parse_jit_reason",
]

log = logging.getLogger(__name__)

RESULT_XCOM_KEY = "provisioning_result"
"""XCom key under which a failing task still publishes its summary (a success returns it)."""


APPROVE_OPTION: Final = "Approve"
"""The option of Airflow's ``ApprovalOperator`` that approves (its ``APPROVE``)."""
REJECT_OPTION: Final = "Reject"
"""The option of Airflow's ``ApprovalOperator`` that rejects (its ``REJECT``)."""


@dataclass(frozen=True)
class Approval:
    """Who approved a task's changes in Airflow, and when."""

    approved_by: str
    approved_at: datetime
    """Timezone-aware, UTC."""

    def summary(self) -> dict[str, str]:
        """The JSON-safe form put in a task's result."""
        return {"approved_by": self.approved_by, "approved_at": self.approved_at.isoformat()}


_APPROVAL_FORMS = (
    "give the approval task's result (approval=approve.output, where approve is an "
    "ApprovalOperator) or a mapping {'approved_by': <user>, 'approved_at': <ISO 8601 time with UTC offset>}"
)


def _approval_time(value: Any) -> datetime:
    if isinstance(value, str) and value.strip():
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"approved_at {value!r} is not an ISO 8601 time") from None
    if not isinstance(value, datetime):
        raise ValueError(f"approved_at must be a time, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"approved_at {value.isoformat()} has no UTC offset; give a timezone-aware time")
    return value.astimezone(UTC)


def parse_approval(value: Any) -> Approval | None:
    """Read an approval: an approval task's result or ``{"approved_by", "approved_at"}``.

    An approval task's result (``ApprovalOperator``/``HITLOperator``) has ``chosen_options``,
    ``responded_by_user`` (``{"id", "name"}``) and ``responded_at``. It approves only when the
    single chosen option is ``Approve`` and a user answered: an answer the timeout wrote
    (no user) approves nothing. The approver is the user's name (its id when it has none).

    :param value: the approval; ``None`` or blank text means none was given. A JSON object
        (text) is read like a mapping.
    :returns: the approval, or ``None`` when none was given.
    :raises ValueError: the value is not an approval, or does not approve; the message says why.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"approval {value[:200]!r} is not a JSON object; {_APPROVAL_FORMS}") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"approval must be a mapping, got {type(value).__name__}; {_APPROVAL_FORMS}")
    if "chosen_options" in value:
        chosen = list(value.get("chosen_options") or [])
        if chosen != [APPROVE_OPTION]:
            raise ValueError(
                f"the approval task's answer was {chosen}, not [{APPROVE_OPTION!r}]: nothing is approved"
            )
        user = value.get("responded_by_user")
        names = [str(user.get(k) or "").strip() for k in ("name", "id")] if isinstance(user, Mapping) else []
        approver = next((name for name in names if name), "")
        if not approver:
            raise ValueError(
                "the approval task's answer names no user (an answer written by its timeout approves nothing)"
            )
        return Approval(approved_by=approver, approved_at=_approval_time(value.get("responded_at")))
    missing = [key for key in ("approved_by", "approved_at") if not value.get(key)]
    if missing:
        raise ValueError(f"approval lacks {' and '.join(missing)}; {_APPROVAL_FORMS}")
    approver = str(value["approved_by"]).strip()
    if not approver:
        raise ValueError(f"approval's approved_by is blank; {_APPROVAL_FORMS}")
    return Approval(approved_by=approver, approved_at=_approval_time(value["approved_at"]))


def _approver_names(value: Any) -> set[str]:
    """Every name the approver goes by in ``value`` (an approval task's user has an id and a name)."""
    names = set()
    if isinstance(value, Mapping) and isinstance(value.get("responded_by_user"), Mapping):
        user = value["responded_by_user"]
        names = {str(user.get(k) or "").strip().casefold() for k in ("id", "name")}
    elif isinstance(value, Mapping):
        names = {str(value.get("approved_by") or "").strip().casefold()}
    return names - {""}


# --- approval bodies for Airflow's UI -------------------------------------------------------------

MARKDOWN_VALUE_LIMIT: Final = 300
"""Longest value (in characters) :func:`markdown_text` shows; the rest is cut and marked."""
PLAN_PREVIEW_LIMIT: Final = 20
"""Changes :func:`change_plan_markdown` lists; the count of the rest is given."""

# Every ASCII punctuation character may be backslash-escaped in CommonMark and then stands for
# itself, so escaping all of them leaves no emphasis, link, table cell, HTML or code span open.
_MARKDOWN_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def markdown_text(value: Any, *, limit: int = MARKDOWN_VALUE_LIMIT) -> str:
    """Text typed by a person, made safe to put in Markdown that Airflow's UI renders.

    Line breaks, tabs and other control characters become spaces (a value stays on its line
    and in its table cell, so it cannot start a heading or a paragraph of its own); invisible
    and direction-changing characters (Unicode ``Cf``) are shown as ``<U+202E>``; every ASCII
    punctuation character is backslash-escaped, so nothing becomes a link, emphasis, HTML,
    code or a table cell; text longer than ``limit`` is cut, with a note of how much was left out.

    :param value: the text (anything else is shown as its ``str``); ``None`` shows as a dash.
    :param limit: the longest text shown.
    """
    if value is None:
        return "\u2014"
    text = str(value)
    cut = len(text) - limit if len(text) > limit else 0
    if cut:
        text = text[:limit]
    shown = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":
            shown.append(f"<U+{ord(ch):04X}>")
        elif category.startswith("C") or category in ("Zl", "Zp"):
            shown.append(" ")
        else:
            shown.append(ch)
    escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", "".join(shown))
    return escaped + (f" \u2026 ({cut} more characters)" if cut else "")


def _table(rows: Sequence[tuple[str, Any]]) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| **{label}** | {markdown_text(value)} |" for label, value in rows]
    return "\n".join(lines)


def jit_request_markdown(request: Mapping[str, Any], requested_by: str | None) -> str:
    """The body of the approval of a just-in-time request, for Airflow's Required Actions page.

    :param request: the JIT DAG's plan: ``user_id``, ``role``, ``account_group`` (may be
        empty), ``duration_minutes``, ``justification``.
    :param requested_by: who triggered the run (``dag_run.triggering_user_name``).
    """
    group = request.get("account_group") or "(none: a global role)"
    rows = [
        ("User", request.get("user_id")),
        ("Role", request.get("role")),
        ("Account group", group),
        ("Duration", f"{float(request['duration_minutes']):g} minutes from approval"),
        ("Reason", request.get("justification")),
        ("Requested by", requested_by or "(unknown)"),
    ]
    return (
        "A just-in-time access request waits for your decision. **Approve** grants the role "
        "now and revokes it when the duration has passed; **Reject** ends the run without "
        "changing anything in Boomi. The requester cannot approve their own request.\n\n" + _table(rows)
    )


def change_plan_markdown(plan: Mapping[str, Any], *, limit: int = PLAN_PREVIEW_LIMIT) -> str:
    """The body of the approval of a planned change set: counts and the first ``limit`` changes.

    :param plan: a dry run's result (``BoomiApplyAccessChangesOperator(dry_run=True)``):
        ``outcomes`` and ``counts``.
    :param limit: how many changes are listed; the number of the others is given.
    """
    outcomes = list(plan.get("outcomes") or [])
    counts = ", ".join(f"{markdown_text(k)}: {int(v)}" for k, v in sorted((plan.get("counts") or {}).items()))
    lines = [
        f"The dry run planned **{len(outcomes)}** change(s) ({counts or 'none'}). **Approve** applies "
        "them to Boomi; **Reject** ends the run without changing anything. The requester cannot "
        "approve their own request.",
        "",
        "| # | action | user | role | account group | dry-run outcome |",
        "|---|---|---|---|---|---|",
    ]
    for index, outcome in enumerate(outcomes[:limit], start=1):
        cells = [outcome.get(k) for k in ("action", "user_id", "role_id", "account_group_id", "outcome")]
        if outcome.get("action") == OFFBOARD_USER:
            # An offboarding names no role: say how much of the user's access it removes.
            grants = list(outcome.get("grants") or [])
            groups = sum(1 for g in grants if g.get("account_group_id"))
            cells[2] = f"every role: {len(grants) - groups} global, {groups} in groups"
            cells[3] = ", ".join(outcome.get("sub_accounts") or []) or None
        lines.append(f"| {index} | " + " | ".join(markdown_text(c) for c in cells) + " |")
    if len(outcomes) > limit:
        lines += ["", f"... and {len(outcomes) - limit} more change(s), not listed here."]
    return "\n".join(lines)


def _summary(results: Sequence[ChangeResult], ledger_path: str | None, dry_run: bool) -> dict[str, Any]:
    return {
        "outcomes": [r.summary() for r in results],
        "counts": dict(Counter(r.outcome for r in results)),
        "ledger_path": ledger_path,
        "dry_run": dry_run,
    }


def _describe(index: int, result: ChangeResult) -> str:
    if result.action == OFFBOARD_USER:
        return f"change #{index} {result.action} {result.user_id}: {result.outcome}: {result.error}"
    group = result.account_group_name or result.account_group_id
    where = f" in group {group}" if group else ""
    role = result.role_name or result.role_id
    return (
        f"change #{index} {result.action} {role!r} for {result.user_id}{where}: "
        f"{result.outcome}: {result.error}"
    )


class _BoomiProvisioningOperator(BaseOperator):
    """Shared execution: hook, guards, ledger, summary and the failure rule.

    Every provisioning operator also takes:

    * ``user_id_matching``: how Boomi matches user ids (reference §g.4): ``"detect"`` (default:
      asked once per task, two reads), ``"insensitive"`` or ``"sensitive"`` (the user's stored
      spelling is then found by a scan of the account's rows);
    * ``allow_own_user`` (default false): changes to the connection's own user are refused;
    * ``allow_standard_user_revoke`` (default false): Standard User, the floor every revoke leaves
      in place, is not revoked;
    * ``allow_user_removal`` (templated flag, default false): ``offboard_user`` changes, which
      remove a user from the account (Standard User included), are refused without it, dry runs
      included;
    * ``offboard_without_groups`` (default false): offboard even when the account's groups
      cannot be read (§g.6); refused otherwise, since the user's group roles could not be found
      (see ``ProvisioningOptions``);
    * ``approval`` (templated): who approved the changes, and when: the result of an approval
      task (``approve.output`` of an ``ApprovalOperator``) or ``{"approved_by", "approved_at"}``
      (see :func:`parse_approval`). Stamped on every ledger row of the task and returned in its
      result; an answer other than ``Approve``, or one written by a timeout, fails the task;
    * ``requested_by`` (templated): who asked for the changes, usually
      ``"{{ dag_run.triggering_user_name or '' }}"``. An approval by the same user (compared
      without regard to case, by name and by id) fails the task before any change;
    * ``require_approval`` (templated flag, default false): fail unless an approval and a
      requester are given. A dry run changes nothing and needs none;
    * ``read_batch_size`` (default 25): users whose global roles are read in one query (an ``or``
      of ``userId`` terms) before the writes and again to verify them; ``1`` reads each user
      alone (see docs/performance.md). A server that ignores or refuses the grouped filter is
      detected and each user is then read alone, with a warning in the result.

    Two runs may change one user at once without a lock (see docs/safeguards-and-ledger.md); to
    serialise them anyway, give every Boomi task of an account the same ``pool`` of one slot.
    """

    template_fields: Sequence[str] = (
        "boomi_conn_id",
        "ledger_path",
        "is_dry_run",
        "reason",
        "approval",
        "requested_by",
        "require_approval",
        "allow_user_removal",
    )

    def __init__(
        self,
        *,
        boomi_conn_id: str = BoomiHook.default_conn_name,
        dry_run: bool | str = False,
        ledger_path: str | None = None,
        reason: str | None = None,
        user_id_matching: Literal["detect", "insensitive", "sensitive"] = "detect",
        allow_own_user: bool = False,
        allow_standard_user_revoke: bool = False,
        allow_user_removal: bool | str = False,
        offboard_without_groups: bool = False,
        approval: Mapping[str, Any] | str | None = None,
        requested_by: str | None = None,
        require_approval: bool | str = False,
        read_batch_size: int = DEFAULT_READ_BATCH_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.boomi_conn_id = boomi_conn_id
        self.read_batch_size = read_batch_size
        self.approval = approval
        self.requested_by = requested_by
        self.require_approval = require_approval
        self.user_id_matching = user_id_matching
        self.allow_own_user = allow_own_user
        self.allow_standard_user_revoke = allow_standard_user_revoke
        self.allow_user_removal = allow_user_removal
        self.offboard_without_groups = offboard_without_groups
        # Not ``self.dry_run``: that name is a BaseOperator method.
        self.is_dry_run = dry_run
        self.ledger_path = ledger_path
        self.reason = reason

    # Subclasses say what to change and how big a batch may be.
    def _build_changes(self) -> list[AccessChange]:
        raise NotImplementedError

    def _max_changes(self) -> int:
        return DEFAULT_MAX_CHANGES

    def execute(self, context: Context) -> dict[str, Any]:
        """Apply the changes; return ``{"outcomes", "counts", "ledger_path", "dry_run"}``.

        With an approval the result also has ``approved_by`` and ``approved_at`` (ISO 8601).
        """
        # Templated fields render to strings ("True"), so a rendered flag is parsed back; blank = unset.
        try:
            dry_run = parse_bool(self.is_dry_run, "dry_run", default=False)
            allow_user_removal = parse_bool(self.allow_user_removal, "allow_user_removal", default=False)
            approval = self._checked_approval(dry_run)
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        try:
            changes = self._build_changes()
            max_changes = self._max_changes()
        except ValueError as exc:
            raise AirflowFailException(f"invalid access changes: {exc}") from exc
        hook = BoomiHook(boomi_conn_id=self.boomi_conn_id)
        options = ProvisioningOptions(
            provisioning_enabled=hook.provisioning_enabled,
            dry_run=dry_run,
            max_changes=max_changes,
            user_id_matching=self.user_id_matching,
            allow_own_user=self.allow_own_user,
            allow_standard_user_revoke=self.allow_standard_user_revoke,
            allow_user_removal=allow_user_removal,
            offboard_without_groups=self.offboard_without_groups,
            read_batch_size=self.read_batch_size,
        )
        ledger_path = self.ledger_path or None
        ledger: LedgerWriter | None = None
        if ledger_path:
            ledger = LedgerWriter(ledger_path, context=self._run_context(context, hook.account_id, approval))
        else:
            log.warning(
                "No ledger_path set: these Boomi access changes are only in the task log and XCom. "
                "Set ledger_path (a directory or fsspec URL) to keep an audit record."
            )
        client = hook.get_conn()
        try:
            provisioner = Provisioner(client, options, ledger=ledger)
            results = provisioner.apply_all(changes)
        except (ProvisioningInputError, TooManyChangesError) as exc:
            # Retrying cannot fix the input, so fail without retries.
            raise AirflowFailException(str(exc)) from exc
        finally:
            if ledger is not None:
                ledger.close()
            client.close()
        summary = _summary(results, ledger_path, dry_run)
        # What the provisioner detected about this Boomi (a grouped filter ignored or refused).
        summary["warnings"] = list(provisioner.warnings)
        if approval is not None:
            summary.update(approval.summary())
        log.info("Boomi access changes: %s%s", summary["counts"], " (dry run)" if dry_run else "")
        self._fail_if_needed(results, summary, context)
        return summary

    def _checked_approval(self, dry_run: bool) -> Approval | None:
        """The approval, checked against the requester and ``require_approval`` before any call."""
        required = parse_bool(self.require_approval, "require_approval", default=False)
        approval = parse_approval(self.approval)
        requester = str(self.requested_by or "").strip()
        if approval is None:
            if required and not dry_run:
                raise ValueError(
                    "these changes need an approval (require_approval=True) and none was given: "
                    "pass approval=approve.output from an ApprovalOperator upstream"
                )
            return None
        if not requester:
            if required:
                raise ValueError(
                    f"approved by {approval.approved_by!r}, but who requested the changes is unknown, so "
                    "the approver cannot be checked against the requester: set requested_by "
                    "(e.g. \"{{ dag_run.triggering_user_name or '' }}\")"
                )
            log.warning(
                "Approved by %r, but requested_by is not set: the approver was not checked against "
                "the requester.",
                approval.approved_by,
            )
        elif requester.casefold() in _approver_names(self.approval) | {approval.approved_by.casefold()}:
            raise ValueError(
                f"{approval.approved_by!r} approved a request made by {requester!r}: a requester never "
                "approves their own request. Ask another approver to answer the approval task (clear "
                "it to ask again), or trigger a new run."
            )
        log.info("Changes approved by %r at %s", approval.approved_by, approval.approved_at.isoformat())
        return approval

    @staticmethod
    def _run_context(context: Context, account_id: str, approval: Approval | None = None) -> RunContext:
        ti = context.get("ti")
        try_number = getattr(ti, "try_number", None)
        return RunContext(
            account_id=account_id,
            dag_id=getattr(ti, "dag_id", None),
            run_id=getattr(ti, "run_id", None),
            task_id=getattr(ti, "task_id", None),
            try_number=int(try_number) if try_number is not None else None,
            approved_by=approval.approved_by if approval else None,
            approved_at=approval.approved_at if approval else None,
        )

    @staticmethod
    def _fail_if_needed(results: Sequence[ChangeResult], summary: dict[str, Any], context: Context) -> None:
        bad = [(i, r) for i, r in enumerate(results, start=1) if not r.ok]
        if not bad:
            return
        ti = context.get("ti")
        if ti is not None:
            # The task fails, so its return value is lost; publish the summary under a key.
            ti.xcom_push(key=RESULT_XCOM_KEY, value=summary)
        lines = "\n".join(_describe(i, r) for i, r in bad)
        message = f"{len(bad)} of {len(results)} Boomi access change(s) did not succeed:\n{lines}"
        if any(r.outcome == FAILED for _, r in bad):
            # A failure may be transient; a retry is safe because every change is idempotent.
            raise AirflowException(message)
        raise AirflowFailException(message)


class BoomiAssignRoleOperator(_BoomiProvisioningOperator):
    """Assign a global role to a user; for an email new to Boomi this invites the user.

    :param user_id: the user's email.
    :param role: role id or name. Roles with non-canonical ids are refused.
    :param first_name: for a new user (Boomi ignores it for existing users).
    :param last_name: for a new user.
    :param notify_user: whether Boomi emails the user (a flag as
        :func:`~airflow_provider_boomi._rules.parse_bool` reads it; blank means the default, ``True``).
    :param boomi_conn_id: the Boomi connection; its extra ``provisioning_enabled`` must be true.
    :param dry_run: read the state and plan, change nothing (outcome ``planned``).
    :param ledger_path: ledger directory (local path or fsspec URL); a warning is logged without it.
    :param reason: justification recorded in the ledger.
    """

    template_fields: Sequence[str] = (
        *_BoomiProvisioningOperator.template_fields,
        "user_id",
        "role",
        "first_name",
        "last_name",
    )

    def __init__(
        self,
        *,
        user_id: str,
        role: str,
        first_name: str | None = None,
        last_name: str | None = None,
        notify_user: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.user_id = user_id
        self.role = role
        self.first_name = first_name
        self.last_name = last_name
        self.notify_user = notify_user

    def _build_changes(self) -> list[AccessChange]:
        return [
            AccessChange(
                action=ASSIGN_ROLE,
                user_id=self.user_id,
                role=self.role,
                first_name=self.first_name or None,
                last_name=self.last_name or None,
                notify_user=parse_bool(self.notify_user, "notify_user", default=True),
                reason=self.reason,
            )
        ]


class BoomiRevokeRoleOperator(_BoomiProvisioningOperator):
    """Revoke a global role from a user.

    A role the user does not hold is ``already_satisfied``. When it is the user's last global
    role, Standard User is assigned first (without email) so the user stays in the account;
    revoking Standard User as the last role is refused: users are never deleted.

    :param user_id: the user's email.
    :param role: role id or name. Roles with non-canonical ids are refused.

    Other parameters as for :class:`BoomiAssignRoleOperator`.
    """

    template_fields: Sequence[str] = (*_BoomiProvisioningOperator.template_fields, "user_id", "role")

    def __init__(self, *, user_id: str, role: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.user_id = user_id
        self.role = role

    def _build_changes(self) -> list[AccessChange]:
        return [AccessChange(action=REVOKE_ROLE, user_id=self.user_id, role=self.role, reason=self.reason)]


class BoomiAddGroupRoleOperator(_BoomiProvisioningOperator):
    """Give a user a role within an account group.

    Boomi refuses users who have never logged in; its message is the task's error.

    :param user_id: the user's email.
    :param account_group: account group id or name.
    :param role: role id or name.

    Other parameters as for :class:`BoomiAssignRoleOperator`.
    """

    template_fields: Sequence[str] = (
        *_BoomiProvisioningOperator.template_fields,
        "user_id",
        "account_group",
        "role",
    )

    def __init__(self, *, user_id: str, account_group: str, role: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.user_id = user_id
        self.account_group = account_group
        self.role = role

    def _build_changes(self) -> list[AccessChange]:
        return [
            AccessChange(
                action=ADD_GROUP_ROLE,
                user_id=self.user_id,
                role=self.role,
                account_group=self.account_group,
                reason=self.reason,
            )
        ]


class BoomiRemoveGroupRoleOperator(BoomiAddGroupRoleOperator):
    """Remove a user's role within an account group (``already_satisfied`` when not held).

    Parameters as for :class:`BoomiAddGroupRoleOperator`.
    """

    def _build_changes(self) -> list[AccessChange]:
        return [
            AccessChange(
                action=REMOVE_GROUP_ROLE,
                user_id=self.user_id,
                role=self.role,
                account_group=self.account_group,
                reason=self.reason,
            )
        ]


class BoomiOffboardUserOperator(_BoomiProvisioningOperator):
    """Remove a user from the account: every global role, Standard User included, and every role
    in the account's groups (an ``offboard_user`` change).

    The one action that deletes Standard User, so it needs ``allow_user_removal=True`` (without
    it the change is ``refused``, in a dry run too). The connection's own user and the account's
    last administrator are always refused. A dry run lists every delete it would make. The
    result's outcome carries ``grants`` (one per delete, each also a ledger row) and
    ``sub_accounts`` (accounts the user's groups cover, reported and never changed). See
    docs/safeguards-and-ledger.md.

    :param user_id: the user's email (templated).
    :param allow_user_removal: the explicit allowance (a flag; default false).

    Other parameters as for :class:`BoomiAssignRoleOperator`; ``reason`` is recorded on every
    ledger row of the offboarding.
    """

    template_fields: Sequence[str] = (*_BoomiProvisioningOperator.template_fields, "user_id")

    def __init__(self, *, user_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.user_id = user_id

    def _build_changes(self) -> list[AccessChange]:
        return [AccessChange(action=OFFBOARD_USER, user_id=self.user_id, reason=self.reason)]


class BoomiApplyAccessChangesOperator(_BoomiProvisioningOperator):
    """Apply a batch of access changes from a list or a file (JSON, CSV or Parquet).

    Every change is validated before any call, and a batch larger than ``max_changes`` is
    refused whole. Each user's changes are applied in the given order; different users'
    changes run concurrently under the account's rate limit. One that fails does not stop the
    others, and the task fails at the end naming every change that failed or was refused.

    :param changes: a list of dicts with ``action`` (``assign_role``, ``revoke_role``,
        ``add_group_role``, ``remove_group_role``, ``offboard_user``), ``user_id``, ``role`` or
        ``role_id`` (not for ``offboard_user``), ``account_group`` or ``account_group_id``, and
        optionally ``first_name``, ``last_name``, ``notify_user``, ``reason``; or
        ``BoomiReviewDecisionsOperator``'s result (``validate.output``), whose ``changes`` are
        used. ``offboard_user`` changes are applied only with ``allow_user_removal=True`` (each is
        ``refused`` otherwise, in a dry run too) and must be the only change of their user.
    :param changes_path: a file with the same columns (local path or fsspec URL).
    :param max_changes: the largest batch accepted (default 25). Templated, so a DAG can take it
        from a ``Param``.
    :param reason: default justification for changes that carry none.

    Other parameters as for :class:`BoomiAssignRoleOperator`.
    """

    template_fields: Sequence[str] = (
        *_BoomiProvisioningOperator.template_fields,
        "changes",
        "changes_path",
        "max_changes",
    )

    def __init__(
        self,
        *,
        changes: Sequence[Mapping[str, Any] | AccessChange] | Mapping[str, Any] | None = None,
        changes_path: str | None = None,
        max_changes: int | str = DEFAULT_MAX_CHANGES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if changes is None and changes_path is None:
            raise ValueError("give changes (a list of dicts) or changes_path (a JSON, CSV or Parquet file)")
        if changes is not None and changes_path is not None:
            raise ValueError("give either changes or changes_path, not both")
        if not isinstance(max_changes, str):  # a template is checked once rendered
            _as_max_changes(max_changes)
        self.changes = changes
        self.changes_path = changes_path
        self.max_changes = max_changes

    def _max_changes(self) -> int:
        return _as_max_changes(self.max_changes)

    def _build_changes(self) -> list[AccessChange]:
        if self.changes_path:
            loaded = load_changes(self.changes_path)
        else:
            items = list(field_of(self.changes, "changes") or [])
            records = [c for c in items if not isinstance(c, AccessChange)]
            if records and len(records) != len(items):
                raise ValueError("changes must be all dicts or all AccessChange objects")
            given = [c for c in items if isinstance(c, AccessChange)]
            loaded = changes_from_records(records) if records else given
        if self.reason:
            loaded = [c if c.reason else _with_reason(c, self.reason) for c in loaded]
        return loaded


def _as_max_changes(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_changes must be an integer >= 1, got {value!r}")
    return value


def _with_reason(change: AccessChange, reason: str) -> AccessChange:
    from dataclasses import replace

    return replace(change, reason=reason)


class BoomiOverdueJitGrantsOperator(BaseOperator):
    """Find just-in-time grants past their expiry that the ledger shows no revoke for.

    Reads the ledger, keeps the rows of the connection's account and applies
    :func:`~airflow_provider_boomi.access.jit.overdue_jit_grants` at the time the task runs.
    Changes nothing in Boomi: the result's ``changes`` are the revokes, for a
    :class:`BoomiApplyAccessChangesOperator` downstream (``changes=find.output``), so every
    safeguard applies to them as to any other change.

    Returns ``{"account_id", "checked_at", "overdue", "changes", "unreadable"}``: ``overdue`` has
    one dict per grant (user, role, group, expiry, the run that granted it, the approver),
    ``unreadable`` the grant rows whose JIT reason cannot be read (the task logs a warning
    naming them; a person must look at them).

    :param boomi_conn_id: the Boomi connection; its account's rows are the ones checked.
    :param ledger_path: the provisioning ledger the JIT grants were recorded in.
    """

    template_fields: Sequence[str] = ("boomi_conn_id", "ledger_path")

    def __init__(self, *, ledger_path: str, boomi_conn_id: str = BoomiHook.default_conn_name, **kwargs: Any):
        super().__init__(**kwargs)
        self.boomi_conn_id = boomi_conn_id
        self.ledger_path = ledger_path

    def execute(self, context: Context) -> dict[str, Any]:
        """Return the overdue grants and their revokes (see the class docstring)."""
        if not str(self.ledger_path or "").strip():
            raise AirflowFailException("ledger_path is empty: give the ledger the JIT grants are recorded in")
        account_id = BoomiHook(boomi_conn_id=self.boomi_conn_id).account_id
        ledger = read_ledger(self.ledger_path)
        ledger = ledger[ledger["account_id"] == account_id]
        checked_at = datetime.now(UTC)
        overdue = overdue_jit_grants(ledger, checked_at)
        unreadable = unreadable_jit_reasons(ledger)
        for row in unreadable:
            log.warning("Ledger row %s (%s): %s", row.action_id, row.user_id, row.error)
        if overdue:
            listing = "\n".join(f"  - {grant.describe()}" for grant in overdue)
            log.warning("%d JIT grant(s) past their expiry and not revoked:\n%s", len(overdue), listing)
        else:
            log.info("No JIT grant of account %s is past its expiry unrevoked.", account_id)
        run_id = getattr(context.get("ti"), "run_id", None)
        return {
            "account_id": account_id,
            "checked_at": checked_at.isoformat(),
            "overdue": [grant.summary() for grant in overdue],
            "changes": [
                grant.revoke_change(
                    f"JIT catch-up (run {run_id}): expired {grant.expires_at.isoformat()}, "
                    f"granted in run {grant.run_id}: {grant.justification}"
                )
                for grant in overdue
            ],
            "unreadable": [
                {"action_id": r.action_id, "user_id": r.user_id, "reason": r.reason, "error": r.error}
                for r in unreadable
            ],
        }


APPROVAL_TIMEOUT_ENV: Final = "BOOMI_APPROVAL_TIMEOUT_MINUTES"
"""Environment variable: minutes an approval waits for an answer before it counts as rejected."""
APPROVERS_ENV: Final = "BOOMI_APPROVERS"
"""Environment variable: comma-separated Airflow user ids who may answer approvals (empty: anyone
allowed by the auth manager)."""
DEFAULT_APPROVAL_TIMEOUT_MINUTES: Final = 24 * 60


def approval_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The example DAGs' approval settings, from the environment, as ``ApprovalOperator`` arguments.

    ``response_timeout`` from :data:`APPROVAL_TIMEOUT_ENV` (default 24 hours; when it passes,
    the approval takes its default, ``Reject``); ``assigned_users`` from :data:`APPROVERS_ENV`
    (Airflow user ids; unset or empty lets every user the auth manager allows answer).

    :param environ: where to read them (default: the process environment, when the DAG is parsed).
    :raises ValueError: a timeout that is not a number of minutes greater than 0.
    """
    env = os.environ if environ is None else environ
    raw = str(env.get(APPROVAL_TIMEOUT_ENV) or DEFAULT_APPROVAL_TIMEOUT_MINUTES).strip()
    try:
        minutes = float(raw)
    except ValueError:
        minutes = float("nan")
    if not minutes > 0:  # also NaN
        raise ValueError(f"{APPROVAL_TIMEOUT_ENV} must be a number of minutes greater than 0, got {raw!r}")
    approvers = [name.strip() for name in str(env.get(APPROVERS_ENV) or "").split(",") if name.strip()]
    return {
        "response_timeout": timedelta(minutes=minutes),
        "defaults": [REJECT_OPTION],
        "assigned_users": [{"id": name, "name": name} for name in approvers] or None,
    }
