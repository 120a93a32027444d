"""BoomiSyncOperator: one complete, versioned snapshot of a Boomi account's access.

Also what reports a failed sync: the operator writes a failure record into the snapshot store
before the task fails, and :func:`sync_failure_notifier` is an ``on_failure_callback`` that
emails (or logs) the failure.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseNotifier, BaseOperator

from airflow_provider_boomi.access.roles import PrivilegePolicy
from airflow_provider_boomi.access.sync import (
    DEFAULT_ACCESS_CHANGE_TYPES,
    DEFAULT_AUDIT_WINDOW_DAYS,
    DEFAULT_LOGIN_MARKERS,
    DEFAULT_RESOURCES,
    SyncOptions,
    SyncResult,
    sync_account,
)
from airflow_provider_boomi.client.errors import scrub_secrets, secret_forms
from airflow_provider_boomi.dataset import new_sync_id, write_failure_record
from airflow_provider_boomi.hooks.boomi import BoomiHook

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["ALERT_EMAIL_ENV", "BoomiSyncOperator", "SyncFailureLogNotifier", "sync_failure_notifier"]

log = logging.getLogger(__name__)

ALERT_EMAIL_ENV = "BOOMI_ALERT_EMAIL"
"""Environment variable: where :func:`sync_failure_notifier` sends failed-sync alerts."""


class BoomiSyncOperator(BaseOperator):
    """Extract users, roles, account groups and grants of one Boomi account into a snapshot.

    The snapshot lands under ``{output_path}/account_id={account}/sync_id={sync_id}/`` as Parquet
    tables plus ``manifest.json``, written last; a failed sync leaves no manifest and fails the
    task. ``grant_changes`` holds what was added and removed since the previous complete
    snapshot of the account in the same ``output_path``.

    :param output_path: local directory, fsspec URL (``s3://bucket/boomi``) or ``ObjectStoragePath``.
        Templated.
    :param resources: subset of ``users``, ``roles``, ``account_groups``, ``user_role_grants``,
        ``group_role_grants`` (default: these five) and the optional governance resources
        ``federation``, ``sso_config``, ``audit_log``, ``account_group_accounts``,
        ``environments``, ``sub_accounts`` (see the sync page of the docs). A list or a
        comma-separated string. Templated.
    :param audit_window_days: days of the audit log the ``audit_log`` resource reads (default 90).
    :param login_markers: the audit-log fields that mark a login, as a dict or a string
        ``"type=account,action=ON_ENTRY,modifier=SUCCESS"`` (the default; Boomi does not document
        them). Templated.
    :param access_change_types: the audit-log types read as access changes (a list or a
        comma-separated string; default ``user,role,accountgroup``). Templated.
    :param boomi_conn_id: the Boomi connection (type ``boomi``).
    :param privileged_preset: ``"default"`` (ACCOUNT_ADMIN, API) or ``"sox"`` (also DEPLOY,
        ENV_MANAGEMENT, PACKAGE_MANAGEMENT: change management). Templated.
    :param privileged_privileges: privileges that make a role privileged; overrides the preset.
    :param privileged_role_names: role names that are privileged (default Administrator).
    :param account_groups_unavailable: ``"empty"`` (default) treats a 403, 400 or 404 on
        AccountGroup as a non-primary account without groups; ``"fail"`` fails the task. An
        account whose previous snapshot had groups fails either way.
    :param on_ignored_filter: ``"fallback"`` (default) reads the global-role rows in one chain when
        Boomi ignores or refuses the ``roleId`` split (reference §g.1); ``"fail"`` fails the task.
    :param max_chain_restarts: how often one query chain may start again after Boomi refused
        its page token (reference §g.7) before the task fails (default 2).
    :param builtin_inheritance: resolve built-in roles' privileges through their ``parentId``
        (reference §g.3); default false: built-in roles keep the privileges Boomi lists.
    :param split_user_roles: ``"auto"`` (default: split the global-role chain by role when it is
        longer than three pages), ``"never"`` (fewest calls) or ``"by_role"`` (always split).
    :param max_workers: concurrent query chains (default 8); the account's rate limiter caps the
        request rate whatever this is.
    :param event_extra: more keys for the asset events' extra (templated), to say what this
        snapshot is, e.g. ``{"kind": "verification", "campaign_id": ...}`` for the snapshot taken
        after applying review decisions (``BoomiReviewCampaignOperator`` skips those).
    :param storage_options: fsspec options for a URL ``output_path`` (credentials belong in the
        storage's own configuration or an ``ObjectStoragePath`` connection, not here).

    A failed sync (any exception once the task runs) first writes a failure record to
    ``{output_path}/account_id={account}/failures/{sync_id}.json`` (times, error type, the error
    message with the connection's credentials scrubbed, DAG, run and task ids), then fails the
    task with the original exception. ``SnapshotStore.failures`` and ``SnapshotStore.gaps`` read
    the records back. If the record cannot be written (the store is what failed), that is logged
    and the task still fails with the sync's exception.

    Returns (XCom) ``{"account_id", "sync_id", "snapshot_path", "manifest_path", "row_counts"}``.
    When the task has outlets, each asset event carries the same dict as its ``extra``, plus
    ``event_extra``.
    """

    template_fields: Sequence[str] = (
        "output_path",
        "sync_resources",
        "login_markers",
        "access_change_types",
        "boomi_conn_id",
        "event_extra",
        "privileged_preset",
    )
    ui_color = "#3cb4e6"

    def __init__(
        self,
        *,
        output_path: Any,
        resources: Iterable[str] | None = None,
        boomi_conn_id: str = BoomiHook.default_conn_name,
        privileged_preset: str = "default",
        privileged_privileges: Iterable[str] | None = None,
        privileged_role_names: Iterable[str] | None = None,
        account_groups_unavailable: Literal["empty", "fail"] = "empty",
        split_user_roles: Literal["never", "by_role", "auto"] = "auto",
        on_ignored_filter: Literal["fallback", "fail"] = "fallback",
        builtin_inheritance: bool = False,
        max_chain_restarts: int = 2,
        max_workers: int = 8,
        storage_options: Mapping[str, Any] | None = None,
        event_extra: Mapping[str, Any] | None = None,
        audit_window_days: int = DEFAULT_AUDIT_WINDOW_DAYS,
        login_markers: Mapping[str, str] | str | None = None,
        access_change_types: Iterable[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.event_extra = dict(event_extra) if event_extra else None
        self.output_path = output_path
        # ``resources`` is BaseOperator's executor-resources attribute, so the tables to sync
        # are kept under another name (the public argument stays ``resources``).
        # A string (a templated "users,roles,audit_log") stays one: it is split when rendered.
        self.sync_resources: Any = (
            resources if resources is None or isinstance(resources, str) else list(resources)
        )
        self.boomi_conn_id = boomi_conn_id
        self.privileged_preset = privileged_preset
        self.privileged_privileges = (
            list(privileged_privileges) if privileged_privileges is not None else None
        )
        self.privileged_role_names = (
            list(privileged_role_names) if privileged_role_names is not None else None
        )
        self.account_groups_unavailable = account_groups_unavailable
        self.split_user_roles = split_user_roles
        self.on_ignored_filter = on_ignored_filter
        self.builtin_inheritance = builtin_inheritance
        self.max_chain_restarts = max_chain_restarts
        self.max_workers = max_workers
        self.storage_options = dict(storage_options) if storage_options else None
        self.audit_window_days = audit_window_days
        self.login_markers: Any = dict(login_markers) if isinstance(login_markers, Mapping) else login_markers
        self.access_change_types: Any = (
            access_change_types
            if access_change_types is None or isinstance(access_change_types, str)
            else list(access_change_types)
        )
        self._result: SyncResult | None = None

    def _options(self) -> SyncOptions:
        resources: Any = self.sync_resources
        if isinstance(resources, str):  # a templated "users,roles" string
            resources = [r.strip() for r in resources.split(",") if r.strip()]
        return SyncOptions(
            resources=tuple(resources) if resources else DEFAULT_RESOURCES,
            audit_window_days=self.audit_window_days,
            login_markers=_login_markers(self.login_markers),
            access_change_types=_names(self.access_change_types) or DEFAULT_ACCESS_CHANGE_TYPES,
            privilege_policy=(
                PrivilegePolicy.from_lists(self.privileged_privileges, self.privileged_role_names)
                if self.privileged_privileges is not None
                else PrivilegePolicy.preset(self.privileged_preset or "default", self.privileged_role_names)
            ),
            builtin_inheritance=self.builtin_inheritance,
            account_groups_unavailable=self.account_groups_unavailable,
            split_user_roles=self.split_user_roles,
            on_ignored_filter=self.on_ignored_filter,
            max_chain_restarts=self.max_chain_restarts,
            max_workers=self.max_workers,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        started_at = datetime.now(UTC)
        # Chosen here, so the failure record carries the id the snapshot would have had.
        sync_id = new_sync_id(started_at)
        hook = BoomiHook(boomi_conn_id=self.boomi_conn_id)
        try:
            options = self._options()  # validate before any API call
            with hook.get_conn() as client:
                result = sync_account(
                    client,
                    self.output_path,
                    options=options,
                    storage_options=self.storage_options,
                    sync_id=sync_id,
                )
        except BaseException as error:
            # BaseException: a task timeout or termination leaves the same gap as an error.
            self._record_failure(hook, context, error, started_at, sync_id)
            raise
        self._result = result
        facts = result.as_xcom()
        outlet_events = context.get("outlet_events")
        if outlet_events is not None:
            for outlet in self.outlets or []:
                outlet_events[outlet].extra = {**(self.event_extra or {}), **facts}
        for warning in result.warnings:
            self.log.warning("Snapshot warning: %s", warning)
        return facts

    def _record_failure(
        self,
        hook: BoomiHook,
        context: Context,
        error: BaseException,
        started_at: datetime,
        sync_id: str,
    ) -> None:
        """Write the failure record; never raise (the sync's own exception must surface)."""
        try:
            config = hook.get_config()
        except Exception as exc:
            self.log.error(
                "Boomi sync failed and no failure record was written: the connection %r gives no "
                "account id to file it under (%s)",
                self.boomi_conn_id,
                exc,
            )
            return
        ti = context.get("ti")
        task_id = getattr(ti, "task_id", None) or self.task_id
        map_index = getattr(ti, "map_index", -1)
        if isinstance(map_index, int) and map_index >= 0:
            task_id = f"{task_id}[{map_index}]"
        message = scrub_secrets(str(error) or repr(error), secret_forms(config.username, config.api_token))
        try:
            record = write_failure_record(
                self.output_path,
                config.account_id,
                error=error,
                error_message=message,
                started_at=started_at,
                sync_id=sync_id,
                dag_id=getattr(ti, "dag_id", None) or getattr(self, "dag_id", None),
                run_id=getattr(ti, "run_id", None),
                task_id=task_id,
                try_number=getattr(ti, "try_number", None),
                storage_options=self.storage_options,
            )
        except Exception as exc:
            self.log.error(
                "Boomi sync of account %s failed, and its failure record could not be written to %s: %s",
                config.account_id,
                self.output_path,
                scrub_secrets(str(exc), secret_forms(config.username, config.api_token)),
            )
            return
        self.log.error("Boomi sync of account %s failed; failure record: %s", config.account_id, record.path)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the Boomi account as input, the snapshot tables as outputs.

        Needs the ``openlineage`` extra; without it the method returns ``None`` and Airflow's
        OpenLineage integration (if any) falls back to its defaults.
        """
        try:
            from airflow.providers.common.compat.openlineage.facet import (
                Dataset,
                OutputDataset,
                OutputStatisticsOutputDatasetFacet,
            )
            from airflow.providers.openlineage.extractors import OperatorLineage
        except ImportError:
            return None
        result = self._result
        if result is None:
            return OperatorLineage()
        hook = BoomiHook(boomi_conn_id=self.boomi_conn_id)
        base = hook.get_config().base_url
        inputs = [Dataset(namespace=base, name=result.account_id)]
        outputs = [
            OutputDataset(
                namespace="boomi-snapshot",
                name=f"{result.snapshot_path}/{table}.parquet",
                outputFacets={"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=rows)},
            )
            for table, rows in result.row_counts.items()
        ]
        return OperatorLineage(inputs=inputs, outputs=outputs)


class SyncFailureLogNotifier(BaseNotifier):
    """A failure callback that writes one log line: what :func:`sync_failure_notifier` returns
    when no alert email is configured.

    The line goes to the log of the process that runs the callback (the task's log for a task
    callback), at ERROR, so log-based alerting can pick it up.
    """

    template_fields: Sequence[str] = ()

    def notify(self, context: Context) -> None:
        """Log which sync failed and where its failure record is."""
        ti = context.get("ti")
        log.error(
            "ALERT: Boomi sync failed: dag %s, run %s, task %s, try %s. No snapshot was written; "
            "the failure record is under <output_path>/account_id=<id>/failures/. Set %s to be "
            "emailed instead.",
            getattr(ti, "dag_id", None),
            getattr(ti, "run_id", None),
            getattr(ti, "task_id", None),
            getattr(ti, "try_number", None),
            ALERT_EMAIL_ENV,
        )


_ALERT_SUBJECT = "Boomi access sync failed: {{ ti.dag_id }}.{{ ti.task_id }} ({{ ti.run_id }})"
_ALERT_BODY = (
    "<p>The Boomi access sync <b>{{ ti.dag_id }}.{{ ti.task_id }}</b> failed "
    "(run {{ ti.run_id }}, try {{ ti.try_number }}). No snapshot was written for this run.</p>"
    "<p>The failure record (error type and message, credentials removed) is in the snapshot "
    "store under <code>account_id=&lt;id&gt;/failures/</code>; the task log has the details.</p>"
)


def _names(value: Any) -> tuple[str, ...]:
    """A list, or a templated comma-separated string, as a tuple of names."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(value)


def _login_markers(value: Any) -> dict[str, str]:
    """``login_markers`` as a dict: given as one, or as ``"type=account,action=ON_ENTRY"``."""
    if value is None or value == "":
        return dict(DEFAULT_LOGIN_MARKERS)
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    markers = {}
    for part in str(value).split(","):
        name, sep, marker = part.partition("=")
        if not sep or not name.strip() or not marker.strip():
            raise ValueError(
                f"login_markers must be 'field=value,...' (e.g. 'type=account,action=ON_ENTRY,"
                f"modifier=SUCCESS'); {part.strip()!r} is not field=value"
            )
        markers[name.strip()] = marker.strip()
    return markers


def sync_failure_notifier(email: str | None = None, *, smtp_conn_id: str = "smtp_default") -> BaseNotifier:
    """The ``on_failure_callback`` of the example sync DAGs: report a failed sync.

    With an address (``email``, else the ``BOOMI_ALERT_EMAIL`` environment variable of the
    process parsing the DAG), an ``SmtpNotifier`` of Airflow's SMTP provider sends a short
    email through the connection ``smtp_conn_id`` (its extra ``from_email`` is the sender). The
    email names the DAG, task, run and try, not the error text: a message can quote data, and
    the failure record and task log hold it. Without an address, :class:`SyncFailureLogNotifier`
    logs one ERROR line.

    :param email: one address, or several separated by commas; ``None`` reads the environment.
    :param smtp_conn_id: the SMTP connection to send through.
    :raises ImportError: an address is set but ``apache-airflow-providers-smtp`` is not installed.
    """
    address = os.environ.get(ALERT_EMAIL_ENV, "") if email is None else email
    recipients = [part.strip() for part in address.split(",") if part.strip()]
    if not recipients:
        return SyncFailureLogNotifier()
    try:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier
    except ImportError as exc:
        raise ImportError(
            f"{ALERT_EMAIL_ENV} is set, but sending the alert needs apache-airflow-providers-smtp: "
            "pip install apache-airflow-providers-smtp (or unset the variable to log instead)"
        ) from exc
    return SmtpNotifier(
        to=recipients, subject=_ALERT_SUBJECT, html_content=_ALERT_BODY, smtp_conn_id=smtp_conn_id
    )
