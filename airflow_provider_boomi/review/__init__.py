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
from .decisions import (
    Decision,
    DecisionProblem,
    Decisions,
    DecisionValidationError,
    decisions_to_changes,
    read_decisions,
    record_decisions,
)
from .output import CampaignFiles, write_campaign
from .owners import Owners
from .report import bar_chart, render_report
from .workbook import COLUMNS, DECISION_VALUES, read_workbook, write_csv, write_xlsx

__all__ = [
    "CAMPAIGN_FILE",
    "COLUMNS",
    "DECISIONS_FILE",
    "DECISION_VALUES",
    "Campaign",
    "CampaignFiles",
    "Decision",
    "DecisionProblem",
    "DecisionValidationError",
    "Decisions",
    "Owners",
    "ReviewItem",
    "bar_chart",
    "build_campaign",
    "decisions_to_changes",
    "find_campaigns",
    "load_campaign",
    "read_decisions",
    "read_workbook",
    "record_decisions",
    "render_report",
    "write_campaign",
    "write_csv",
    "write_xlsx",
]
