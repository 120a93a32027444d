"""Access-review campaigns: review items from a snapshot, reviewer files, decisions, change sets.

Plain Python (no Airflow import): build a campaign from a snapshot (optionally from a
:class:`CampaignDefinition`: scope, owners, due date, cadence), write one workbook per
reviewer (XLSX, with an attestation token), the all-items workbook (CSV and XLSX) and a
self-contained HTML report, then read filled workbooks back, validated and attributed to a
proven reviewer, into the change set ``BoomiApplyAccessChangesOperator`` applies; follow the
campaign's progress with :func:`campaign_status`. See ``docs/review.md``.
"""

from __future__ import annotations

from .attestation import Attestation, AttestationError, issue_token, verify_token
from .campaign import (
    CAMPAIGN_FILE,
    DECISIONS_FILE,
    Campaign,
    FindingsMismatchError,
    ReviewItem,
    SnapshotTooOldError,
    build_campaign,
    find_campaigns,
    load_campaign,
)
from .cells import neutralise_csv_cell, restore_csv_cell, visible_text
from .decisions import (
    ATTESTED_BY_AIRFLOW_USER,
    ATTESTED_BY_TOKEN,
    Decision,
    DecisionProblem,
    Decisions,
    DecisionValidationError,
    decisions_to_changes,
    load_recorded_decisions,
    read_decisions,
    record_decisions,
)
from .definition import CampaignDefinition
from .evidence import write_evidence_bundle
from .history import latest_decisions, revocations_from_campaigns
from .notifications import (
    MessageDetails,
    compose_escalation,
    compose_ready,
    compose_reminder,
    plan_notifications,
    validate_address,
)
from .output import CampaignFiles, write_campaign
from .owners import Owners, ReviewerRouting, Route
from .remediation import REMEDIATION_STATES, RemediationItem, track_remediation
from .report import bar_chart, render_report
from .reviewers import reviewer_slug
from .status import CampaignStatus, ReviewerStatus, campaign_status
from .verification import VerificationError, VerificationResult, verify_changes
from .workbook import (
    COLUMNS,
    DECISION_VALUES,
    KEEP,
    REMOVE_USER,
    REVOKE,
    REVOKING_DECISIONS,
    DecisionFileLimits,
    WorkbookRefusedError,
    read_workbook,
    write_csv,
    write_reviewer_xlsx,
    write_xlsx,
)

__all__ = [
    "ATTESTED_BY_AIRFLOW_USER",
    "ATTESTED_BY_TOKEN",
    "CAMPAIGN_FILE",
    "COLUMNS",
    "DECISIONS_FILE",
    "DECISION_VALUES",
    "KEEP",
    "REMEDIATION_STATES",
    "REMOVE_USER",
    "REVOKE",
    "REVOKING_DECISIONS",
    "Attestation",
    "AttestationError",
    "Campaign",
    "CampaignDefinition",
    "CampaignFiles",
    "CampaignStatus",
    "Decision",
    "DecisionFileLimits",
    "DecisionProblem",
    "DecisionValidationError",
    "Decisions",
    "FindingsMismatchError",
    "MessageDetails",
    "Owners",
    "RemediationItem",
    "ReviewItem",
    "ReviewerRouting",
    "ReviewerStatus",
    "Route",
    "SnapshotTooOldError",
    "VerificationError",
    "VerificationResult",
    "WorkbookRefusedError",
    "bar_chart",
    "build_campaign",
    "campaign_status",
    "compose_escalation",
    "compose_ready",
    "compose_reminder",
    "decisions_to_changes",
    "find_campaigns",
    "issue_token",
    "latest_decisions",
    "load_campaign",
    "load_recorded_decisions",
    "neutralise_csv_cell",
    "plan_notifications",
    "read_decisions",
    "read_workbook",
    "record_decisions",
    "render_report",
    "restore_csv_cell",
    "reviewer_slug",
    "revocations_from_campaigns",
    "track_remediation",
    "validate_address",
    "verify_changes",
    "verify_token",
    "visible_text",
    "write_campaign",
    "write_csv",
    "write_evidence_bundle",
    "write_reviewer_xlsx",
    "write_xlsx",
]
