"""BoomiSyncOperator: one complete, versioned snapshot of a Boomi account's access."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseOperator

from airflow_provider_boomi.access.roles import PrivilegePolicy
from airflow_provider_boomi.access.sync import ALL_RESOURCES, SyncOptions, SyncResult, sync_account
from airflow_provider_boomi.hooks.boomi import BoomiHook

if TYPE_CHECKING:
    from airflow.sdk import Context


class BoomiSyncOperator(BaseOperator):
    """Extract users, roles, account groups and grants of one Boomi account into a snapshot.

    The snapshot lands under ``{output_path}/account_id={account}/sync_id={sync_id}/`` as Parquet
    tables plus ``manifest.json``, written last; a failed sync leaves no manifest and fails the
    task. ``grant_changes`` holds what was added and removed since the previous complete
    snapshot of the account in the same ``output_path``.

    :param output_path: local directory, fsspec URL (``s3://bucket/boomi``) or ``ObjectStoragePath``.
        Templated.
    :param resources: subset of ``users``, ``roles``, ``account_groups``, ``user_role_grants``,
        ``group_role_grants``; default all. Templated.
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

    Returns (XCom) ``{"account_id", "sync_id", "snapshot_path", "manifest_path", "row_counts"}``.
    When the task has outlets, each asset event carries the same dict as its ``extra``, plus
    ``event_extra``.
    """

    template_fields: Sequence[str] = (
        "output_path",
        "sync_resources",
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.event_extra = dict(event_extra) if event_extra else None
        self.output_path = output_path
        # ``resources`` is BaseOperator's executor-resources attribute, so the tables to sync
        # are kept under another name (the public argument stays ``resources``).
        self.sync_resources = list(resources) if resources is not None else None
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
        self._result: SyncResult | None = None

    def _options(self) -> SyncOptions:
        resources: Any = self.sync_resources
        if isinstance(resources, str):  # a templated "users,roles" string
            resources = [r.strip() for r in resources.split(",") if r.strip()]
        return SyncOptions(
            resources=tuple(resources) if resources else ALL_RESOURCES,
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
        options = self._options()  # validate before any API call
        hook = BoomiHook(boomi_conn_id=self.boomi_conn_id)
        with hook.get_conn() as client:
            result = sync_account(
                client, self.output_path, options=options, storage_options=self.storage_options
            )
        self._result = result
        facts = result.as_xcom()
        outlet_events = context.get("outlet_events")
        if outlet_events is not None:
            for outlet in self.outlets or []:
                outlet_events[outlet].extra = {**(self.event_extra or {}), **facts}
        for warning in result.warnings:
            self.log.warning("Snapshot warning: %s", warning)
        return facts

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
