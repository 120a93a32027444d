"""Access-review campaigns: review items from a snapshot, reviewer files, decisions, change sets.

Plain Python (no Airflow import): build a campaign from a snapshot, write a workbook (CSV and
XLSX) and a self-contained HTML report for reviewers, then read the filled workbook back,
validated, into the change set ``BoomiApplyAccessChangesOperator`` applies. See
``docs/review.md``.
"""

from __future__ import annotations

from .campaign import (
    CAMPAIGN_FILE,
    DECISIONS_FILE,
    Campaign,
    ReviewItem,
    build_campaign,
    find_campaigns,
    load_campaign,
)
from .cells import neutralise_csv_cell, restore_csv_cell, visible_text
from .decisions import (
    Decision,
    DecisionProblem,
    Decisions,
    DecisionValidationError,
    decisions_to_changes,
    read_decisions,
    record_decisions,
)
from .evidence import write_evidence_bundle
from .output import CampaignFiles, write_campaign
from .owners import Owners
from .report import bar_chart, render_report
from .verification import VerificationError, VerificationResult, verify_changes
from .workbook import (
    COLUMNS,
    DECISION_VALUES,
    DecisionFileLimits,
    WorkbookRefusedError,
    read_workbook,
    write_csv,
    write_xlsx,
)

__all__ = [
    "CAMPAIGN_FILE",
    "COLUMNS",
    "DECISIONS_FILE",
    "DECISION_VALUES",
    "Campaign",
    "CampaignFiles",
    "Decision",
    "DecisionFileLimits",
    "DecisionProblem",
    "DecisionValidationError",
    "Decisions",
    "Owners",
    "ReviewItem",
    "VerificationError",
    "VerificationResult",
    "WorkbookRefusedError",
    "bar_chart",
    "build_campaign",
    "decisions_to_changes",
    "find_campaigns",
    "load_campaign",
    "neutralise_csv_cell",
    "read_decisions",
    "read_workbook",
    "record_decisions",
    "render_report",
    "restore_csv_cell",
    "verify_changes",
    "visible_text",
    "write_campaign",
    "write_csv",
    "write_evidence_bundle",
    "write_xlsx",
]
