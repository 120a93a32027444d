"""Reading the decision records of a campaign folder: the one place that knows their files.

A campaign folder holds the decisions of the all-items workbook in ``decisions.json`` (the
form every campaign had before per-reviewer workbooks) and one record per reviewer in
``decisions/{reviewer_slug}.json``, so reviewers returning at different times never overwrite
each other. Campaign history (which grants were ever reviewed), the campaign status and
:func:`~.decisions.load_recorded_decisions` all read them through :func:`recorded_rows`.
"""

from __future__ import annotations

import json
from typing import Any

from ._storage import Folder, folder
from .reviewers import DECISIONS_DIR

__all__ = ["DECISIONS_FILE", "recorded_rows"]

#: Validated decisions of an all-items workbook (see :func:`~.decisions.record_decisions`).
DECISIONS_FILE = "decisions.json"


def _records(where: Folder) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if where.has_file(DECISIONS_FILE):
        found.append((where.url_of(DECISIONS_FILE), json.loads(where.read_bytes(DECISIONS_FILE))))
    records = where.child(DECISIONS_DIR)
    if records.exists():
        for name in records.files():
            # Only the records record_decisions writes: hidden temporary files are skipped.
            if name.endswith(".json") and not name.startswith("."):
                found.append((records.url_of(name), json.loads(records.read_bytes(name))))
    return found


def recorded_rows(campaign_dir: Any) -> list[dict[str, Any]]:
    """Every recorded decision row of the campaign folder, legacy file first.

    Each row is the JSON of one decision (``item_id``, ``decision``, ``comment``,
    ``reviewer``, ``attested_by``, ``decided_at``) plus ``record``, the file it came from.
    Rows of the legacy file lack ``attested_by`` and ``decided_at`` when it was written before
    they existed; its ``recorded_at`` then stands for ``decided_at``.

    :raises ValueError: a record is not valid JSON, or not an object with a ``decisions`` list.
    """
    rows: list[dict[str, Any]] = []
    for where, data in _records(folder(campaign_dir)):
        decisions = data.get("decisions") if isinstance(data, dict) else None
        if not isinstance(decisions, list):
            raise ValueError(f"{where} is not a decision record (no 'decisions' list); restore it")
        for row in decisions:
            if not isinstance(row, dict) or "item_id" not in row:
                raise ValueError(f"{where} holds a decision without item_id; restore the file")
            rows.append({"decided_at": data.get("recorded_at"), **row, "record": where})
    return rows
