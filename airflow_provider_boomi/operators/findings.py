"""BoomiFindingsOperator: compute the findings of a snapshot and write them beside the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_boomi._rules import parse_bool
from airflow_provider_boomi.operators._xcom import field_of

if TYPE_CHECKING:
    from airflow.sdk import Context


class BoomiFindingsOperator(BaseOperator):
    """Compute the findings of one snapshot (leavers, orphans, SoD conflicts...) and write them.

    The identity source is a file (``people_path``: CSV or Parquet) or a SQL query on a
    common-sql connection (``people_conn_id`` and ``people_sql``). The findings go to
    ``{findings_path}/account_id=A/sync_id=S/`` (``findings.parquet``, ``identities.parquet``,
    ``summary.json``); the snapshot store is only read. Every rule is in ``docs/findings.md``.

    :param output_path: the snapshot store root (templated).
    :param findings_path: the findings root, apart from the store (templated).
    :param snapshot: ``BoomiSyncOperator``'s result (``sync.output``); or give ``account_id``
        (and optionally ``sync_id``; default the latest snapshot).
    :param account_id: the account (templated).
    :param sync_id: the snapshot (templated).
    :param people_path: the identity source file (templated).
    :param people_conn_id: a common-sql connection to read the identity source from (templated).
    :param people_sql: the query giving the identity source's columns (templated).
    :param sod_policy_path: an SoD policy (``.json`` or ``.toml``; templated); none: no SoD check.
    :param privileged_preset: ``default`` or ``sox`` (which privileges make a role privileged).
    :param dormant_days: days without a login that make a user dormant.
    :param logins_path: a Parquet file of logins (``LOGINS_SCHEMA``); none: the snapshot's
        ``audit_logins`` (the sync's ``audit_log`` resource), else dormancy unknown.
    :param federation_path: a Parquet file of federation ids (``FEDERATION_SCHEMA``); none: the
        snapshot's ``user_federation`` (the ``federation`` resource), if it has one.
    :param sso_enabled: whether the account enforces SSO (a flag); empty: the snapshot's
        ``sso_config`` (the ``sso_config`` resource), else unknown.
    :param revocations_path: a Parquet file of earlier revocations (``REVOCATIONS_SCHEMA``).
    :param reviews_path: the folder of campaign folders (the campaign operator's
        ``reviews_path``; templated): the revocations of every earlier campaign of the account,
        from its recorded decisions, counted from the first snapshot showing them applied
        (:func:`~airflow_provider_boomi.review.history.revocations_from_campaigns`); added to
        those of ``revocations_path``. A folder that does not exist fails the task.
    :param as_of: ISO time the rules are evaluated at; default the snapshot's time.
    :param on_unknown_role: ``fail`` or ``warn`` when the SoD policy names a role the snapshot lacks.
    :param propose_offboarding: write the leavers as a proposed change set of ``offboard_user``
        changes beside the findings (``offboarding-proposal.json``; a flag, default true). It is
        never applied by this operator: apply it with ``BoomiApplyAccessChangesOperator``
        (``changes_path``), after a dry run and an approval, with ``allow_user_removal=True``.
        False removes an earlier proposal of the same snapshot's findings, which would be stale.

    Returns (XCom) ``{"account_id", "sync_id", "findings_dir", "summary_path", "counts",
    "severity", "identity", "warnings", "offboarding_proposal", "proposed_offboardings"}``:
    the proposal's path (``None`` when not proposed) and how many users it proposes to remove.
    """

    template_fields: Sequence[str] = (
        "output_path",
        "findings_path",
        "snapshot",
        "account_id",
        "sync_id",
        "people_path",
        "people_conn_id",
        "people_sql",
        "sod_policy_path",
        "logins_path",
        "federation_path",
        "sso_enabled",
        "revocations_path",
        "reviews_path",
        "as_of",
        "propose_offboarding",
    )
    ui_color = "#f4c7c3"

    def __init__(
        self,
        *,
        output_path: Any,
        findings_path: Any,
        snapshot: Any = None,
        account_id: str | None = None,
        sync_id: str | None = None,
        people_path: str | None = None,
        people_conn_id: str | None = None,
        people_sql: str | None = None,
        sod_policy_path: str | None = None,
        privileged_preset: str = "default",
        dormant_days: int = 90,
        logins_path: str | None = None,
        federation_path: str | None = None,
        sso_enabled: bool | str | None = None,
        revocations_path: str | None = None,
        reviews_path: Any = None,
        as_of: str | None = None,
        on_unknown_role: str = "fail",
        propose_offboarding: bool | str = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if bool(people_path) == bool(people_conn_id):
            raise ValueError("give the identity source as people_path, or as people_conn_id with people_sql")
        if people_conn_id and not people_sql:
            raise ValueError("people_conn_id needs people_sql: the query that returns the people table")
        self.output_path = output_path
        self.findings_path = findings_path
        self.snapshot = snapshot
        self.account_id = account_id
        self.sync_id = sync_id
        self.people_path = people_path
        self.people_conn_id = people_conn_id
        self.people_sql = people_sql
        self.sod_policy_path = sod_policy_path
        self.privileged_preset = privileged_preset
        self.dormant_days = dormant_days
        self.logins_path = logins_path
        self.federation_path = federation_path
        self.sso_enabled = sso_enabled
        self.revocations_path = revocations_path
        self.reviews_path = reviews_path
        self.as_of = as_of
        self.on_unknown_role = on_unknown_role
        self.propose_offboarding = propose_offboarding

    def _people(self) -> Any:
        from airflow_provider_boomi.findings import load_people, people_from_sql

        if self.people_path:
            return load_people(self.people_path)
        from airflow.providers.common.sql.hooks.sql import DbApiHook
        from airflow.sdk import BaseHook

        hook = BaseHook.get_connection(str(self.people_conn_id)).get_hook()
        if not isinstance(hook, DbApiHook):
            raise TypeError(f"connection {self.people_conn_id!r} is not a common-sql (DbApiHook) connection")
        connection = hook.get_conn()
        try:
            return people_from_sql(connection, str(self.people_sql))
        finally:
            connection.close()

    def _revocations(self, account_id: str) -> Any:
        """The earlier revocations: from ``revocations_path``, the campaigns, both, or none."""
        import pyarrow as pa

        from airflow_provider_boomi.findings import as_revocations
        from airflow_provider_boomi.review.history import revocations_from_campaigns

        given = as_revocations(self.revocations_path) if self.revocations_path else None
        if not self.reviews_path:
            return given
        decided = revocations_from_campaigns(self.reviews_path, self.output_path, account_id)
        self.log.info("%d revocation(s) of earlier campaigns in %s", decided.num_rows, self.reviews_path)
        return decided if given is None else pa.concat_tables([given, decided])

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_boomi.access.roles import PrivilegePolicy
        from airflow_provider_boomi.findings import (
            SnapshotTables,
            compute_findings,
            load_sod_policy,
            offboarding_changes,
            remove_offboarding_proposal,
            write_findings,
            write_offboarding_proposal,
        )

        # Read before any work, so a mistyped flag fails the task at once.
        propose = parse_bool(self.propose_offboarding, "propose_offboarding", default=True)
        if self.snapshot:
            account_id = str(field_of(self.snapshot, "account_id"))
            sync_id: str | None = str(field_of(self.snapshot, "sync_id"))
        elif self.account_id:
            account_id, sync_id = str(self.account_id), (str(self.sync_id) if self.sync_id else None)
        else:
            raise ValueError("give snapshot (the sync's result) or account_id")
        tables = SnapshotTables.read(self.output_path, account_id, sync_id)
        sso = None if self.sso_enabled in (None, "") else parse_bool(self.sso_enabled, "sso_enabled")
        as_of = datetime.fromisoformat(self.as_of) if self.as_of else tables.synced_at
        result = compute_findings(
            tables,
            self._people(),
            as_of=as_of,
            policy=PrivilegePolicy.preset(self.privileged_preset),
            sod_rules=load_sod_policy(self.sod_policy_path) if self.sod_policy_path else None,
            logins=self.logins_path or None,
            federation=self.federation_path or None,
            sso_enabled=sso,
            dormant_days=int(self.dormant_days),
            previous_revocations=self._revocations(account_id),
            on_unknown_role=self.on_unknown_role,
        )
        stored = write_findings(result, self.findings_path)
        summary = stored.summary
        proposal: str | None = None
        proposed = 0
        if propose:
            proposal = write_offboarding_proposal(stored, self.findings_path)
            proposed = len(offboarding_changes(stored.findings, sync_id=stored.sync_id))
            self.log.info(
                "Proposed offboarding of %d leaver(s) in %s (not applied: review and approve it first)",
                proposed,
                proposal,
            )
        elif remove_offboarding_proposal(self.findings_path, account_id, stored.sync_id):
            self.log.info(
                "Removed the earlier offboarding proposal of these findings (propose_offboarding off)"
            )
        self.log.info(
            "Findings of snapshot %s of account %s: %s", tables.sync_id, account_id, summary["counts"]
        )
        for warning in summary["warnings"]:
            self.log.warning("%s", warning)
        return {
            "account_id": account_id,
            "sync_id": tables.sync_id,
            "findings_dir": stored.path,
            "summary_path": f"{stored.path}/summary.json",
            "counts": dict(summary["counts"]),
            "severity": dict(summary["severity"]),
            "identity": dict(summary["identity"]),
            "warnings": list(summary["warnings"]),
            "offboarding_proposal": proposal,
            "proposed_offboardings": proposed,
        }
