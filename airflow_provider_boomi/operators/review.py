"""Access-review operators: build a campaign (from a snapshot or a campaign definition), read a
filled workbook back with its reviewer's identity proven."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_provider_boomi._rules import parse_bool
from airflow_provider_boomi.operators._xcom import field_of

if TYPE_CHECKING:
    from airflow.sdk import Context


class BoomiReviewCampaignOperator(BaseOperator):
    """Build an access-review campaign from a snapshot and write its files.

    One review item per grant (global roles and account-group roles), flagged privileged (or of
    unknown privileges), new since the previous review, never reviewed, or held only through an
    account group, each with a reviewer; a reviewer never reviews their own access (the item
    goes to the fallback reviewer). Writes, into ``{reviews_path}/{campaign_id}/``: one XLSX
    workbook per reviewer (``reviewers/{slug}.xlsx``, only their items, with an attestation
    token when ``attestation_conn_id`` is set), the all-items workbook as CSV and XLSX (for the
    data team), a self-contained HTML report, and ``campaign.json`` (what decisions are checked
    against), written last.

    Two ways to say what to review:

    - ``definition`` (a :class:`~airflow_provider_boomi.review.CampaignDefinition` or its
      mapping, e.g. DAG params): a campaign per account of the definition (every account of
      the store when it lists none), each on that account's latest complete snapshot, refused
      when older than the definition's ``max_snapshot_age_hours``. Its owners, reviewers,
      precedence, kinds, due date and cadence apply. All accounts are built before any file is
      written: if one is refused, the task fails naming every refused account, and nothing is
      written. ``snapshot``, ``account_id``, ``sync_id``, ``owners`` and ``default_reviewer``
      must not be given with it.
    - Otherwise, as before definitions: which snapshot is ``snapshot`` when given
      (``BoomiSyncOperator``'s result, ``sync.output``); else ``account_id`` and ``sync_id``
      when given; otherwise the snapshot of the asset event that triggered the run
      (``BoomiSyncOperator`` puts both ids in its extra); otherwise the latest snapshot of the
      only account in the store. A run triggered only by events whose extra ``kind`` is in
      ``skip_kinds`` (by default the ``"verification"`` snapshot taken after applying
      decisions) builds no campaign: the task is skipped. Reviewers come from ``owners`` and
      ``default_reviewer``.

    :param output_path: the snapshot store root (templated).
    :param reviews_path: the folder of campaign folders (templated): a local path, an fsspec
        URL (``s3://bucket/boomi/reviews``) or an ``ObjectStoragePath``; earlier campaigns there
        give ``never_reviewed`` and the comparison with the last review.
    :param definition: a campaign definition or its mapping (templated; with a template, set
        ``render_template_as_native_obj=True`` on the DAG).
    :param attestation_conn_id: an Airflow connection whose password signs each reviewer's
        attestation token (templated; at least 16 characters). Without it, workbooks carry no
        token and identity must come from the authenticated Airflow user.
    :param snapshot: the snapshot to review: ``BoomiSyncOperator``'s result (templated).
    :param account_id: the account to review (templated; optional, see above).
    :param sync_id: the snapshot to review (templated; default the latest).
    :param owners: role or account group (id or name) -> reviewer email (templated).
    :param default_reviewer: reviewer of items no owner covers (templated).
    :param skip_kinds: asset-event kinds that never start a campaign.
    :param findings_path: the findings root (``BoomiFindingsOperator``'s ``findings_path``;
        templated): items are flagged with the findings of the reviewed snapshot (leaver,
        ``sod_conflict: <rule>``...) and the report gets a Findings section; a snapshot without
        findings there is refused. With a definition, its own ``findings_path`` may say it
        instead (not both).
    :param route_to_manager: without a definition: route each user's items to their manager
        from the findings' identity source (a flag, templated; needs ``findings_path``). A
        definition says it in its ``route_to_manager``.

    Returns (XCom), without a definition: ``{"campaign_id", "account_id", "sync_id",
    "campaign_dir", "workbook_csv", "workbook_xlsx", "report_html", "campaign_json",
    "reviewer_workbooks", "unassigned_workbook", "due_date", "summary"}`` (paths, or URLs when
    ``reviews_path`` is on object storage; ``reviewer_workbooks`` maps each reviewer to their
    workbook). With a definition: ``{"definition", "cadence", "campaigns": [one such dict per
    account]}``, and when the definition yields a single campaign, that campaign's fields at
    the top level too, so ``campaign_dir`` can be read the same way in both cases.
    """

    template_fields: Sequence[str] = (
        "output_path",
        "reviews_path",
        "definition",
        "attestation_conn_id",
        "snapshot",
        "account_id",
        "sync_id",
        "owners",
        "default_reviewer",
        "findings_path",
        "route_to_manager",
    )
    ui_color = "#c9e4ca"

    def __init__(
        self,
        *,
        output_path: Any,
        reviews_path: str,
        definition: Any = None,
        attestation_conn_id: str | None = None,
        snapshot: Any = None,
        account_id: str | None = None,
        sync_id: str | None = None,
        owners: Mapping[str, str] | str | None = None,
        default_reviewer: str | None = None,
        skip_kinds: Sequence[str] = ("verification",),
        findings_path: Any = None,
        route_to_manager: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.skip_kinds = tuple(skip_kinds)
        self.findings_path = findings_path
        self.route_to_manager = route_to_manager
        self.output_path = output_path
        self.definition = definition  # may be a template until rendered
        self.attestation_conn_id = attestation_conn_id
        self.snapshot = snapshot
        self.reviews_path = reviews_path
        self.account_id = account_id
        self.sync_id = sync_id
        self.owners = owners  # may be a template until rendered
        self.default_reviewer = default_reviewer
        self._result: dict[str, Any] | None = None

    def _snapshot_ids(self, context: Context, store: Any) -> tuple[str, str | None]:
        if self.snapshot:
            return str(field_of(self.snapshot, "account_id")), str(field_of(self.snapshot, "sync_id"))
        account_id, sync_id = self.account_id or None, self.sync_id or None
        if account_id is None:
            events = [e for group in (context.get("triggering_asset_events") or {}).values() for e in group]
            if events and all((e.extra or {}).get("kind") in self.skip_kinds for e in events):
                kinds = ", ".join(sorted({str(e.extra["kind"]) for e in events}))
                raise AirflowSkipException(f"triggered only by {kinds} snapshot(s), which start no campaign")
            for event in events:  # the newest event of the run wins
                extra = event.extra or {}
                account_id = extra.get("account_id", account_id)
                sync_id = extra.get("sync_id", sync_id)
        if account_id is None:
            accounts = store.accounts()
            if len(accounts) != 1:
                raise AirflowFailException(
                    f"the snapshot store holds {len(accounts)} accounts ({', '.join(accounts) or 'none'}); "
                    "set account_id"
                )
            account_id = accounts[0]
        return account_id, sync_id

    def _definition(self) -> Any:
        from airflow_provider_boomi.review import CampaignDefinition

        if self.definition in (None, "", {}):
            return None
        clashing = [
            name
            for name in ("snapshot", "account_id", "sync_id", "owners", "default_reviewer")
            if getattr(self, name) not in (None, "", {})
        ]
        if parse_bool(self.route_to_manager, "route_to_manager", default=False):
            clashing.append("route_to_manager")
        if clashing:
            raise AirflowFailException(
                f"{', '.join(clashing)} given together with a campaign definition; the definition says "
                "which accounts and reviewers (its campaigns use each account's latest complete snapshot)"
            )
        try:
            return CampaignDefinition.from_mapping(self.definition)
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_boomi.dataset import SnapshotError, SnapshotStore
        from airflow_provider_boomi.review import build_campaign
        from airflow_provider_boomi.review._storage import folder
        from airflow_provider_boomi.review.campaign import FindingsMismatchError

        store = SnapshotStore(self.output_path)
        reviews = folder(self.reviews_path)
        reviews.make()  # earlier campaigns live here (none at first; object stores need no folder)
        secret = _attestation_secret(self.attestation_conn_id)
        definition = self._definition()
        findings = self.findings_path or None
        if definition is None:
            account_id, sync_id = self._snapshot_ids(context, store)
            try:
                campaign = build_campaign(
                    store,
                    account_id,
                    sync_id,
                    owners=_mapping(self.owners, "owners"),
                    default_reviewer=self.default_reviewer or None,
                    previous_campaign_dir=reviews if reviews.exists() else None,
                    findings=findings,
                    route_to_manager=parse_bool(self.route_to_manager, "route_to_manager", default=False),
                )
            except FindingsMismatchError as exc:
                # Computing the findings again fixes it, retrying the same inputs does not.
                raise AirflowFailException(str(exc)) from exc
            self._result = self._write(campaign, reviews, secret)
            return self._result

        accounts = list(definition.account_ids) or store.accounts()
        if not accounts:
            raise AirflowFailException(f"the snapshot store {store.path} holds no account to review")
        started = datetime.now(UTC)
        campaigns, refused = [], []
        for account_id in accounts:
            try:
                campaigns.append(
                    build_campaign(
                        store,
                        account_id,
                        definition=definition,
                        previous_campaign_dir=reviews if reviews.exists() else None,
                        created_at=started,
                        findings=findings,
                    )
                )
            except (SnapshotError, ValueError) as exc:
                refused.append(f"{account_id}: {exc}")
        if refused:
            # Nothing is written: a campaign is started for every account or for none.
            raise AirflowFailException(
                f"campaign definition {definition.name!r}: {len(refused)} of {len(accounts)} account(s) "
                "refused, no campaign written:\n  - " + "\n  - ".join(refused)
            )
        results = [self._write(campaign, reviews, secret) for campaign in campaigns]
        self._result = {
            **(results[0] if len(results) == 1 else {}),
            "definition": definition.name,
            "cadence": definition.cadence,
            "campaigns": results,
        }
        return self._result

    def _write(self, campaign: Any, reviews: Any, secret: str | None) -> dict[str, Any]:
        from airflow_provider_boomi.review import write_campaign

        campaign_dir = reviews.child(campaign.campaign_id, what="campaign id")
        files = write_campaign(campaign, campaign_dir, secret=secret)
        summary = campaign.summary()
        self.log.info(
            "Campaign %s: %s; %d reviewer workbook(s)%s",
            campaign.campaign_id,
            summary,
            len(files.reviewer_workbooks),
            " with attestation tokens" if secret else " without attestation tokens",
        )
        if summary["self_reviews_without_reviewer"]:
            self.log.warning(
                "Campaign %s: %d item(s) could only be reviewed by their own user and have no reviewer; "
                "name another fallback_reviewer",
                campaign.campaign_id,
                summary["self_reviews_without_reviewer"],
            )
        return {
            "campaign_id": campaign.campaign_id,
            "account_id": campaign.account_id,
            "sync_id": campaign.sync_id,
            "campaign_dir": str(campaign_dir),
            **files.to_dict(),
            "due_date": campaign.due_date.isoformat() if campaign.due_date else None,
            "summary": summary,
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the snapshot as input, the campaign files as outputs."""
        try:
            from airflow.providers.common.compat.openlineage.facet import Dataset
            from airflow.providers.openlineage.extractors import OperatorLineage
        except ImportError:
            return None
        if self._result is None:
            return OperatorLineage()
        from airflow_provider_boomi.review._storage import lineage_dataset

        inputs, outputs = [], []
        for result in self._result.get("campaigns") or [self._result]:
            snapshot = f"{self.output_path}/account_id={result['account_id']}/sync_id={result['sync_id']}"
            inputs.append(Dataset(namespace="boomi-snapshot", name=snapshot))
            paths = [
                result.get(key) for key in ("workbook_csv", "workbook_xlsx", "report_html", "campaign_json")
            ]
            paths += list((result.get("reviewer_workbooks") or {}).values())
            outputs += [Dataset(*lineage_dataset(str(path))) for path in paths if path]
        return OperatorLineage(inputs=inputs, outputs=outputs)


class BoomiReviewDecisionsOperator(BaseOperator):
    """Read a filled reviewer workbook (CSV or XLSX) against its campaign into a change set,
    with the reviewer's identity proven.

    The workbook is untrusted input: it is bounded in size, rows and cell length before it is
    parsed, and only ``item_id``, ``decision`` and ``comment`` are read; who and what each item
    is comes from ``campaign.json``. Who decided is proven, never typed: by the workbook's
    attestation token, verified with the password of ``attestation_conn_id``, or by
    ``reviewer``, the authenticated Airflow user who answered in the UI (an Airflow HITL
    response's ``responded_by_user``), which must be the workbook's reviewer. A reviewer's
    workbook (and, when its campaign requires it, the all-items one) without either is refused
    unless ``require_attestation`` is false. Every row must be an item of the proven reviewer:
    an item of another reviewer is refused naming it. Every problem is reported at once and
    fails the task without retry; nothing touches Boomi. The decisions are recorded in the
    campaign folder (``decisions/{reviewer}.json``, or ``decisions.json`` for the all-items
    workbook read without a reviewer), with the reviewer, how they were proven and when the
    workbook was accepted, so later campaigns know what was reviewed.

    :param campaign_dir: the campaign folder written by ``BoomiReviewCampaignOperator``
        (templated; a local path, an fsspec URL or an ``ObjectStoragePath``).
    :param workbook_path: the filled CSV or XLSX (templated; local, URL or ``ObjectStoragePath``:
        on object storage its size is checked before it is read).
    :param record: record the decisions in the campaign folder (default true).
    :param attestation_conn_id: the connection whose password signed the campaign's tokens
        (templated).
    :param reviewer: the authenticated Airflow user who answered (templated): a string, or the
        ``responded_by_user`` mapping (its ``id`` or ``name`` must be the workbook's reviewer).
    :param require_attestation: ``None`` (default): required for reviewer workbooks, and for
        the all-items workbook when its campaign says so; true or false to decide here
        (templated; read with the package's flag words). False records unproven decisions with
        reviewer ``null``.

    Returns (XCom) ``{"campaign_id", "decisions_path", "changes", "revocations", "kept",
    "reviewer", "attested_by", "decided_at", "scope", "status"}``; ``changes`` is the change
    set for ``BoomiApplyAccessChangesOperator`` (one ``revoke_role`` or ``remove_group_role``
    per ``revoke`` decision, by id); ``status`` is the campaign's status after recording
    (per reviewer: items, decided, pending, overdue).
    """

    template_fields: Sequence[str] = (
        "campaign_dir",
        "workbook_path",
        "attestation_conn_id",
        "reviewer",
        "require_attestation",
    )
    ui_color = "#c9e4ca"

    def __init__(
        self,
        *,
        campaign_dir: str,
        workbook_path: str,
        record: bool = True,
        attestation_conn_id: str | None = None,
        reviewer: str | Mapping[str, Any] | None = None,
        require_attestation: bool | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.campaign_dir = campaign_dir
        self.workbook_path = workbook_path
        self.record = record
        self.attestation_conn_id = attestation_conn_id
        self.reviewer = reviewer
        self.require_attestation = require_attestation

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_boomi.review import (
            campaign_status,
            decisions_to_changes,
            read_decisions,
            record_decisions,
        )

        required = self.require_attestation
        try:
            if isinstance(required, str) and not required.strip():
                required = None  # a template rendered empty: not set
            if required is not None:
                required = parse_bool(required, "require_attestation")
            secret = _attestation_secret(self.attestation_conn_id)
            decisions = read_decisions(
                self.campaign_dir,
                self.workbook_path,
                secret=secret,
                reviewer=_reviewer(self.reviewer),
                require_attestation=required,
            )
        except ValueError as exc:
            # A retry reads the same file: fail at once, with every problem listed.
            raise AirflowFailException(str(exc)) from exc
        decisions_path = record_decisions(decisions, self.campaign_dir) if self.record else None
        changes = decisions_to_changes(decisions)
        self.log.info(
            "Campaign %s: %d revocation(s), %d kept, decided by %s (%s)",
            decisions.campaign_id,
            len(changes),
            len(decisions.kept),
            decisions.reviewer or "an unproven reviewer",
            decisions.attested_by or "no attestation",
        )
        return {
            "campaign_id": decisions.campaign_id,
            "decisions_path": str(decisions_path) if decisions_path else None,
            "changes": changes,
            "revocations": len(changes),
            "kept": len(decisions.kept),
            "reviewer": decisions.reviewer,
            "attested_by": decisions.attested_by,
            "decided_at": decisions.decided_at.isoformat() if decisions.decided_at else None,
            "scope": decisions.scope,
            "status": campaign_status(self.campaign_dir).to_dict() if self.record else None,
        }


def _attestation_secret(conn_id: str | None) -> str | None:
    """The password of the attestation connection (``None`` without one), masked in logs."""
    if not conn_id:
        return None
    from airflow.sdk.log import mask_secret

    connection = BaseHook.get_connection(conn_id)
    if not connection.password:
        raise AirflowFailException(
            f"connection {conn_id!r} has no password; set a long random one: it signs the reviewers' "
            "attestation tokens"
        )
    mask_secret(connection.password)
    return str(connection.password)


def _reviewer(value: Any) -> str | Mapping[str, Any] | None:
    """The authenticated reviewer as rendered: a string, a HITL user mapping, or nothing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str | Mapping):
        return value
    raise AirflowFailException(
        f"reviewer must be the authenticated user's id (text) or Airflow's responded_by_user mapping, "
        f"got {type(value).__name__}"
    )


def _mapping(value: Any, what: str) -> dict[str, str] | None:
    if not value:
        return None
    if not isinstance(value, Mapping):
        raise AirflowFailException(
            f"{what} must be a mapping, got {type(value).__name__}: with a template, set "
            "render_template_as_native_obj=True on the DAG"
        )
    return {str(k): str(v) for k, v in value.items()}
