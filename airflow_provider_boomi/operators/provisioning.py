"""Operators that change access in Boomi: thin Airflow wrappers over :mod:`access.provisioning`.

Each operator builds its changes, lets :class:`~airflow_provider_boomi.access.provisioning.Provisioner`
apply them (guards, Standard User safeguard, verification), records them in the ledger and
returns a small, secret-free summary as its XCom.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_boomi._rules import parse_bool
from airflow_provider_boomi.access.changes import (
    ADD_GROUP_ROLE,
    ASSIGN_ROLE,
    FAILED,
    REMOVE_GROUP_ROLE,
    REVOKE_ROLE,
    AccessChange,
    ChangeResult,
    changes_from_records,
    load_changes,
)
from airflow_provider_boomi.access.ledger import LedgerWriter, RunContext
from airflow_provider_boomi.access.provisioning import (
    DEFAULT_MAX_CHANGES,
    Provisioner,
    ProvisioningOptions,
    TooManyChangesError,
)
from airflow_provider_boomi.access.validation import ProvisioningInputError
from airflow_provider_boomi.hooks.boomi import BoomiHook
from airflow_provider_boomi.operators._xcom import field_of

__all__ = [
    "BoomiAddGroupRoleOperator",
    "BoomiApplyAccessChangesOperator",
    "BoomiAssignRoleOperator",
    "BoomiRemoveGroupRoleOperator",
    "BoomiRevokeRoleOperator",
]

log = logging.getLogger(__name__)

RESULT_XCOM_KEY = "provisioning_result"
"""XCom key under which a failing task still publishes its summary (a success returns it)."""


def _summary(results: Sequence[ChangeResult], ledger_path: str | None, dry_run: bool) -> dict[str, Any]:
    return {
        "outcomes": [r.summary() for r in results],
        "counts": dict(Counter(r.outcome for r in results)),
        "ledger_path": ledger_path,
        "dry_run": dry_run,
    }


def _describe(index: int, result: ChangeResult) -> str:
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
      in place, is not revoked.

    Two runs may change one user at once without a lock (see docs/safeguards-and-ledger.md); to
    serialise them anyway, give every Boomi task of an account the same ``pool`` of one slot.
    """

    template_fields: Sequence[str] = ("boomi_conn_id", "ledger_path", "is_dry_run", "reason")

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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.boomi_conn_id = boomi_conn_id
        self.user_id_matching = user_id_matching
        self.allow_own_user = allow_own_user
        self.allow_standard_user_revoke = allow_standard_user_revoke
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
        """Apply the changes; return ``{"outcomes", "counts", "ledger_path", "dry_run"}``."""
        # Templated fields render to strings ("True"), so a rendered flag is parsed back; blank = unset.
        dry_run = parse_bool(self.is_dry_run, "dry_run", default=False)
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
        )
        ledger_path = self.ledger_path or None
        ledger: LedgerWriter | None = None
        if ledger_path:
            ledger = LedgerWriter(ledger_path, context=self._run_context(context, hook.account_id))
        else:
            log.warning(
                "No ledger_path set: these Boomi access changes are only in the task log and XCom. "
                "Set ledger_path (a directory or fsspec URL) to keep an audit record."
            )
        client = hook.get_conn()
        try:
            results = Provisioner(client, options, ledger=ledger).apply_all(changes)
        except (ProvisioningInputError, TooManyChangesError) as exc:
            # Retrying cannot fix the input, so fail without retries.
            raise AirflowFailException(str(exc)) from exc
        finally:
            if ledger is not None:
                ledger.close()
            client.close()
        summary = _summary(results, ledger_path, dry_run)
        log.info("Boomi access changes: %s%s", summary["counts"], " (dry run)" if dry_run else "")
        self._fail_if_needed(results, summary, context)
        return summary

    @staticmethod
    def _run_context(context: Context, account_id: str) -> RunContext:
        ti = context.get("ti")
        try_number = getattr(ti, "try_number", None)
        return RunContext(
            account_id=account_id,
            dag_id=getattr(ti, "dag_id", None),
            run_id=getattr(ti, "run_id", None),
            task_id=getattr(ti, "task_id", None),
            try_number=int(try_number) if try_number is not None else None,
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


class BoomiApplyAccessChangesOperator(_BoomiProvisioningOperator):
    """Apply a batch of access changes from a list or a file (JSON, CSV or Parquet).

    Every change is validated before any call, and a batch larger than ``max_changes`` is
    refused whole. Each user's changes are applied in the given order; different users'
    changes run concurrently under the account's rate limit. One that fails does not stop the
    others, and the task fails at the end naming every change that failed or was refused.

    :param changes: a list of dicts with ``action`` (``assign_role``, ``revoke_role``,
        ``add_group_role``, ``remove_group_role``), ``user_id``, ``role`` or ``role_id``,
        ``account_group`` or ``account_group_id``, and optionally ``first_name``,
        ``last_name``, ``notify_user``, ``reason``; or ``BoomiReviewDecisionsOperator``'s result
        (``validate.output``), whose ``changes`` are used.
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
