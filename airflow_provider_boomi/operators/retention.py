"""BoomiRetentionOperator: apply the retention policy to snapshots, findings, campaigns and
evidence bundles (a dry run unless told otherwise)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_boomi._rules import parse_bool

if TYPE_CHECKING:
    from airflow.sdk import Context


class BoomiRetentionOperator(BaseOperator):
    """Delete what the retention policy says is too old; keep evidence for the audit period.

    The rules are :mod:`airflow_provider_boomi.retention`'s (``docs/retention.md``): snapshots
    are pruned (table files deleted, manifests kept for the hash chain) after
    ``snapshots_days`` except the latest few of each account and those an open campaign
    reviews; findings, workbooks and campaign folders go after their own periods; evidence
    bundles only after ``evidence_days``. A store left empty is not touched (snapshots need
    ``reviews_path`` too, to know which campaigns are open).

    :param policy: a :class:`~airflow_provider_boomi.retention.RetentionPolicy` or its mapping
        (templated; with a template, set ``render_template_as_native_obj=True`` on the DAG).
    :param output_path: the snapshot store root (templated).
    :param reviews_path: the folder of campaign folders (templated).
    :param findings_path: the findings root (templated).
    :param evidence_path: the evidence bundles' root (templated).
    :param dry_run: list what would be deleted and delete nothing (default true; a flag,
        templated).
    :param report_path: where to write the whole report as JSON (templated; local path or
        fsspec URL); empty: the report is only logged.
    :param now: ISO time the ages are measured at (templated); default the current time.

    Returns (XCom) ``{"dry_run", "now", "counts", "to_delete", "failed", "problems",
    "report_path"}``: ``counts`` per kind (to delete, deleted, kept, failed), ``to_delete`` and
    ``failed`` the targets (paths or URLs). The task fails after the run when a delete failed
    (an object-locked bucket refuses deletes until the lock expires) or something could not be
    read, naming each.
    """

    template_fields: Sequence[str] = (
        "policy",
        "output_path",
        "reviews_path",
        "findings_path",
        "evidence_path",
        "is_dry_run",
        "report_path",
        "now",
    )
    ui_color = "#e0d5c1"

    def __init__(
        self,
        *,
        policy: Any = None,
        output_path: Any = None,
        reviews_path: Any = None,
        findings_path: Any = None,
        evidence_path: Any = None,
        dry_run: bool | str = True,
        report_path: str | None = None,
        now: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.output_path = output_path
        self.reviews_path = reviews_path
        self.findings_path = findings_path
        self.evidence_path = evidence_path
        # Not ``self.dry_run``: that name is a BaseOperator method.
        self.is_dry_run = dry_run
        self.report_path = report_path
        self.now = now

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_boomi.dataset.paths import resolve_location
        from airflow_provider_boomi.retention import RetentionPolicy, apply_retention

        try:
            policy = RetentionPolicy.from_mapping(self.policy or {})
            dry_run = parse_bool(self.is_dry_run, "dry_run", default=True)
            now = datetime.fromisoformat(self.now) if self.now else datetime.now(UTC)
            report = apply_retention(
                policy,
                now,
                store=self.output_path or None,
                reviews_path=self.reviews_path or None,
                findings_root=self.findings_path or None,
                evidence_root=self.evidence_path or None,
                dry_run=dry_run,
            )
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        verb = "would delete" if report.dry_run else "deleted"
        for item in report.to_delete:
            self.log.info("%s %s %s (%s)", verb, item.kind, item.target, item.reason)
        for item in report.kept:
            self.log.info("keep %s %s (%s)", item.kind, item.target, item.reason)
        report_path = None
        if self.report_path:
            location = resolve_location(self.report_path)
            parent = location.root.rsplit("/", 1)[0]
            if parent:
                location.fs.makedirs(parent, exist_ok=True)
            location.fs.pipe_file(location.root, json.dumps(report.to_dict(), indent=2).encode("utf-8"))
            report_path = location.url
        result = {
            "dry_run": report.dry_run,
            "now": report.now.isoformat(),
            "counts": report.counts(),
            "to_delete": [item.target for item in report.to_delete],
            "failed": [item.target for item in report.failed],
            "problems": list(report.problems),
            "report_path": report_path,
        }
        if report.failed or report.problems:
            failures = [f"{i.kind} {i.target}: {i.error}" for i in report.failed]
            raise AirflowFailException(
                f"retention: {len(report.failed)} delete(s) failed and {len(report.problems)} problem(s); "
                "everything else was applied:\n  - " + "\n  - ".join([*failures, *report.problems])
            )
        return result
