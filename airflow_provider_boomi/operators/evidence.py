"""BoomiEvidenceBundleOperator: one folder an auditor can take away, for one applied review."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_boomi.operators._xcom import field_of

if TYPE_CHECKING:
    from airflow.sdk import Context


class BoomiEvidenceBundleOperator(BaseOperator):
    """Write the evidence bundle of an applied access review.

    ``{evidence_path}/{campaign_id}/{run_id}/`` gets the campaign and its report, the filled
    workbook, the decisions, the change set, this run's ledger rows, the verification, both
    snapshot manifests, and ``index.json`` (sha256 of every file), written last as the bundle's
    completion marker. A complete bundle is never overwritten; ids that become paths are
    checked, and nothing is written outside ``evidence_path``. Every path may be local, an
    fsspec URL (``s3://bucket/boomi/evidence``) or an ``ObjectStoragePath``; on object storage
    the files go straight into the bundle's prefix and ``index.json`` still comes last.

    :param evidence_path: the folder of all bundles (templated).
    :param campaign_dir: the campaign folder (templated).
    :param workbook_path: the filled workbook (templated).
    :param changes: the change set that was applied: a list or ``BoomiReviewDecisionsOperator``'s
        result (templated; empty when all were kept).
    :param verification: ``BoomiVerifyChangesOperator``'s result, or ``None`` when nothing was
        applied (templated).
    :param ledger_path: the provisioning ledger; only this run's rows are copied (templated).
    :param snapshot_root: the snapshot store root (templated).
    :param resync: the fresh snapshot, if one was taken: ``BoomiSyncOperator``'s result or its
        ``manifest_path`` (templated).

    Returns (XCom) ``{"bundle_dir", "index", "files", "campaign_id"}``.
    """

    template_fields: Sequence[str] = (
        "evidence_path",
        "campaign_dir",
        "workbook_path",
        "changes",
        "verification",
        "ledger_path",
        "snapshot_root",
        "resync",
    )
    ui_color = "#e7d3b5"

    def __init__(
        self,
        *,
        evidence_path: Any,
        campaign_dir: Any,
        workbook_path: Any,
        snapshot_root: Any,
        changes: Any = None,
        verification: Any = None,
        ledger_path: str | None = None,
        resync: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.evidence_path = evidence_path
        self.campaign_dir = campaign_dir
        self.workbook_path = workbook_path
        self.snapshot_root = snapshot_root
        self.changes = changes
        self.verification = verification
        self.ledger_path = ledger_path
        self.resync = resync
        self._result: dict[str, Any] | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_boomi.review.evidence import write_evidence_bundle

        self._result = write_evidence_bundle(
            self.evidence_path,
            campaign_dir=self.campaign_dir,
            workbook_path=self.workbook_path,
            changes=list(field_of(self.changes, "changes") or []),
            verification=self.verification or None,
            ledger_path=self.ledger_path or None,
            run_id=context["run_id"],
            resync_manifest_path=field_of(self.resync, "manifest_path") if self.resync else None,
            snapshot_root=self.snapshot_root,
        )
        self.log.info("Evidence bundle: %s (%s files)", self._result["bundle_dir"], self._result["files"])
        return self._result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the campaign and workbook as inputs, the bundle's index as output."""
        try:
            from airflow.providers.common.compat.openlineage.facet import Dataset
            from airflow.providers.openlineage.extractors import OperatorLineage
        except ImportError:
            return None
        if self._result is None:
            return OperatorLineage()
        from airflow_provider_boomi.review._storage import lineage_dataset

        inputs = [Dataset(*lineage_dataset(str(p))) for p in (self.campaign_dir, self.workbook_path)]
        return OperatorLineage(inputs=inputs, outputs=[Dataset(*lineage_dataset(str(self._result["index"])))])
