"""BoomiVerifyChangesOperator: prove that applied access changes are in effect."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_boomi.operators._xcom import field_of

if TYPE_CHECKING:
    from airflow.sdk import Context


class BoomiVerifyChangesOperator(BaseOperator):
    """Check a snapshot taken after applying changes against those changes.

    Every change whose outcome says it holds (``applied``, ``already_satisfied``) must be visible
    in the snapshot: a revoked or removed grant absent, an assigned or added grant present. The
    task fails when the snapshot contradicts one (a failed task here means Boomi does not show
    what the ledger says). Changes that did not happen are listed, not checked.

    :param snapshot: the fresh snapshot: ``BoomiSyncOperator``'s result or its ``snapshot_path``
        (templated).
    :param changes: the change set that was applied: a list, or ``BoomiReviewDecisionsOperator``'s
        result (its ``changes``; templated).
    :param outcomes: the provisioning results in the same order: a list, or the provisioning
        operator's result (its ``outcomes``; templated).

    Returns (XCom) ``{"account_id", "sync_id", "verified", "not_checked", "checks"}``, one check
    per change: ``grant_id``, ``action``, ``outcome``, ``expected``, ``holds``, ``side_effects``.
    """

    template_fields: Sequence[str] = ("snapshot", "changes", "outcomes")
    ui_color = "#b5d3e7"

    def __init__(self, *, snapshot: Any, changes: Any, outcomes: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.snapshot = snapshot
        self.changes = changes
        self.outcomes = outcomes

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_boomi.review.verification import verify_changes

        result = verify_changes(
            field_of(self.snapshot, "snapshot_path"),
            list(field_of(self.changes, "changes") or []),
            list(field_of(self.outcomes, "outcomes") or []),
        )
        self.log.info(
            "Verified %d change(s) in snapshot %s (%d not checked)",
            result.verified,
            result.sync_id,
            len(result.checks) - result.verified,
        )
        return result.to_dict()
