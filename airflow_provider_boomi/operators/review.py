"""Access-review operators: build a campaign from a snapshot, read a filled workbook back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_provider_boomi.operators._xcom import field_of

if TYPE_CHECKING:
    from airflow.sdk import Context


class BoomiReviewCampaignOperator(BaseOperator):
    """Build an access-review campaign from a snapshot and write its files.

    One review item per grant (global roles and account-group roles), flagged privileged (or of
    unknown privileges), new since the previous review, never reviewed, or held only through an
    account group, each with a reviewer from ``owners``. Writes, into
    ``{reviews_path}/{campaign_id}/``: the reviewer workbook as CSV and XLSX, a self-contained
    HTML report, and ``campaign.json`` (what decisions are checked against), written last.

    Which snapshot: ``snapshot`` when given (``BoomiSyncOperator``'s result, ``sync.output``);
    else ``account_id`` and ``sync_id`` when given; otherwise the snapshot of the
    asset event that triggered the run (``BoomiSyncOperator`` puts both ids in its extra);
    otherwise the latest snapshot of the only account in the store. A run triggered only by
    events whose extra ``kind`` is in ``skip_kinds`` (by default the ``"verification"`` snapshot
    taken after applying decisions) builds no campaign: the task is skipped.

    :param output_path: the snapshot store root (templated).
    :param reviews_path: the folder of campaign folders (templated): a local path, an fsspec
        URL (``s3://bucket/boomi/reviews``) or an ``ObjectStoragePath``; earlier campaigns there
        give ``never_reviewed`` and the comparison with the last review.
    :param snapshot: the snapshot to review: ``BoomiSyncOperator``'s result (templated).
    :param account_id: the account to review (templated; optional, see above).
    :param sync_id: the snapshot to review (templated; default the latest).
    :param owners: role or account group (id or name) -> reviewer email (templated).
    :param default_reviewer: reviewer of items no owner covers (templated).
    :param skip_kinds: asset-event kinds that never start a campaign.

    Returns (XCom) ``{"campaign_id", "account_id", "sync_id", "campaign_dir", "workbook_csv",
    "workbook_xlsx", "report_html", "campaign_json", "summary"}``: paths, or URLs when
    ``reviews_path`` is on object storage.
    """

    template_fields: Sequence[str] = (
        "output_path",
        "reviews_path",
        "snapshot",
        "account_id",
        "sync_id",
        "owners",
        "default_reviewer",
    )
    ui_color = "#c9e4ca"

    def __init__(
        self,
        *,
        output_path: Any,
        reviews_path: str,
        snapshot: Any = None,
        account_id: str | None = None,
        sync_id: str | None = None,
        owners: Mapping[str, str] | str | None = None,
        default_reviewer: str | None = None,
        skip_kinds: Sequence[str] = ("verification",),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.skip_kinds = tuple(skip_kinds)
        self.output_path = output_path
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

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_boomi.dataset import SnapshotStore
        from airflow_provider_boomi.review import build_campaign, write_campaign
        from airflow_provider_boomi.review._storage import folder

        store = SnapshotStore(self.output_path)
        account_id, sync_id = self._snapshot_ids(context, store)
        reviews = folder(self.reviews_path)
        reviews.make()  # earlier campaigns live here (none at first; object stores need no folder)
        campaign = build_campaign(
            store,
            account_id,
            sync_id,
            owners=_mapping(self.owners, "owners"),
            default_reviewer=self.default_reviewer or None,
            previous_campaign_dir=reviews if reviews.exists() else None,
        )
        campaign_dir = reviews.child(campaign.campaign_id, what="campaign id")
        files = write_campaign(campaign, campaign_dir)
        self._result = {
            "campaign_id": campaign.campaign_id,
            "account_id": campaign.account_id,
            "sync_id": campaign.sync_id,
            "campaign_dir": str(campaign_dir),
            **files.to_dict(),
            "summary": campaign.summary(),
        }
        self.log.info("Campaign %s: %s", campaign.campaign_id, campaign.summary())
        return self._result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the snapshot as input, the campaign files as outputs."""
        try:
            from airflow.providers.common.compat.openlineage.facet import Dataset
            from airflow.providers.openlineage.extractors import OperatorLineage
        except ImportError:
            return None
        if self._result is None:
            return OperatorLineage()
        snapshot = (
            f"{self.output_path}/account_id={self._result['account_id']}/sync_id={self._result['sync_id']}"
        )
        from airflow_provider_boomi.review._storage import lineage_dataset

        outputs = [
            Dataset(*lineage_dataset(str(self._result[key])))
            for key in ("workbook_csv", "workbook_xlsx", "report_html", "campaign_json")
            if self._result.get(key)
        ]
        return OperatorLineage(inputs=[Dataset(namespace="boomi-snapshot", name=snapshot)], outputs=outputs)


class BoomiReviewDecisionsOperator(BaseOperator):
    """Read a filled reviewer workbook (CSV or XLSX) against its campaign into a change set.

    The workbook is untrusted input: it is bounded in size, rows and cell length before it is
    parsed, and only ``item_id``, ``decision`` and ``comment`` are read; who and what each item
    is comes from ``campaign.json``. Every problem (unknown or duplicate items, missing or bad
    decisions, another campaign's file) is reported at once and fails the task without retry;
    nothing touches Boomi. The decisions are recorded in the campaign folder
    (``decisions.json``), so later campaigns know what was reviewed.

    :param campaign_dir: the campaign folder written by ``BoomiReviewCampaignOperator``
        (templated; a local path, an fsspec URL or an ``ObjectStoragePath``).
    :param workbook_path: the filled CSV or XLSX (templated; local, URL or ``ObjectStoragePath``:
        on object storage its size is checked before it is read).
    :param record: write ``decisions.json`` into the campaign folder (default true).

    Returns (XCom) ``{"campaign_id", "decisions_path", "changes", "revocations", "kept"}``;
    ``changes`` is the change set for ``BoomiApplyAccessChangesOperator`` (one ``revoke_role``
    or ``remove_group_role`` per ``revoke`` decision, by id).
    """

    template_fields: Sequence[str] = ("campaign_dir", "workbook_path")
    ui_color = "#c9e4ca"

    def __init__(self, *, campaign_dir: str, workbook_path: str, record: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.campaign_dir = campaign_dir
        self.workbook_path = workbook_path
        self.record = record

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_boomi.review import decisions_to_changes, read_decisions, record_decisions

        try:
            decisions = read_decisions(self.campaign_dir, self.workbook_path)
        except ValueError as exc:
            # A retry reads the same file: fail at once, with every problem listed.
            raise AirflowFailException(str(exc)) from exc
        decisions_path = record_decisions(decisions, self.campaign_dir) if self.record else None
        changes = decisions_to_changes(decisions)
        self.log.info(
            "Campaign %s: %d revocation(s), %d kept", decisions.campaign_id, len(changes), len(decisions.kept)
        )
        return {
            "campaign_id": decisions.campaign_id,
            "decisions_path": str(decisions_path) if decisions_path else None,
            "changes": changes,
            "revocations": len(changes),
            "kept": len(decisions.kept),
        }


def _mapping(value: Any, what: str) -> dict[str, str] | None:
    if not value:
        return None
    if not isinstance(value, Mapping):
        raise AirflowFailException(
            f"{what} must be a mapping, got {type(value).__name__}: with a template, set "
            "render_template_as_native_obj=True on the DAG"
        )
    return {str(k): str(v) for k, v in value.items()}
