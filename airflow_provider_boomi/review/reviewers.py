"""Who a reviewer is, as the campaign files name them: one comparison rule and one file name.

Reviewer labels come from an owners mapping typed by people (``Alice@Acme.example`` in one
key, ``alice@acme.example`` in another), so they are compared case-insensitively, ignoring
surrounding spaces (:func:`reviewer_key`). A reviewer's workbook and decision record are files
named after them; the name must stay inside the campaign folder whatever the label holds, and
two reviewers must never share a file (:func:`reviewer_slug`).
"""

from __future__ import annotations

import hashlib
import re

from airflow_provider_boomi.dataset.paths import validate_path_component

__all__ = [
    "DECISIONS_DIR",
    "REVIEWERS_DIR",
    "UNASSIGNED_SLUG",
    "reviewer_key",
    "reviewer_slug",
    "same_reviewer",
]

#: Folder of the campaign holding one workbook per reviewer.
REVIEWERS_DIR = "reviewers"
#: Folder of the campaign holding one decision record per reviewer.
DECISIONS_DIR = "decisions"
#: File stem of the workbook (and decision record) of the items nobody may review.
UNASSIGNED_SLUG = "unassigned"

_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_READABLE_CHARS = 60


def reviewer_key(reviewer: str) -> str:
    """The form two reviewer labels are compared in: case-folded, surrounding spaces removed."""
    return reviewer.strip().casefold()


def same_reviewer(first: str | None, second: str | None) -> bool:
    """Whether two reviewer labels (or user emails) name the same person; ``None`` is nobody."""
    return first is not None and second is not None and reviewer_key(first) == reviewer_key(second)


def reviewer_slug(reviewer: str | None) -> str:
    """The file stem of a reviewer's workbook and decision record.

    A readable part (the label lower-cased, every run of characters other than ASCII letters,
    digits, ``.``, ``_`` and ``-`` made ``-``, cut to 60 characters) and the first 12 hex digits
    of the SHA-256 of :func:`reviewer_key`: labels that read alike (``a+b@x`` and ``a-b@x``)
    still get different files, and nothing a label holds can leave the folder. ``None`` (items
    without a reviewer) is :data:`UNASSIGNED_SLUG`, which no reviewer's slug can equal (theirs
    always end in ``-`` and the digest).
    """
    if reviewer is None:
        return UNASSIGNED_SLUG
    key = reviewer_key(reviewer)
    if not key:
        raise ValueError("a reviewer label is empty; give the reviewer's email")
    readable = _UNSAFE.sub("-", key).strip(".-_")[:_READABLE_CHARS].strip(".-_") or "reviewer"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    return validate_path_component(f"{readable}-{digest}", "reviewer file name", where="a campaign folder")
