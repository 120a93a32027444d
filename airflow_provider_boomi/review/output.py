"""Writing a campaign's files: the workbooks, the report, and campaign.json last.

``campaign.json`` is written after the other files and pins them by SHA-256, like a snapshot
manifest: a directory without it is not a campaign, and a report or blank workbook can later be
shown to be the one that was sent out.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from airflow_provider_boomi.dataset.manifest import file_sha256

from ._storage import Folder, folder
from .attestation import issue_token
from .campaign import CAMPAIGN_FILE, Campaign, validate_campaign_id
from .report import render_report
from .reviewers import REVIEWERS_DIR, reviewer_key, reviewer_slug
from .status import status_of
from .workbook import COLUMNS, write_csv, write_reviewer_xlsx, write_xlsx

__all__ = ["CampaignFiles", "write_campaign"]

_LOCAL = LocalFileSystem()  # the package's one sha256 (dataset.manifest) reads through fsspec


@dataclass(frozen=True)
class CampaignFiles:
    """Paths of the files :func:`write_campaign` wrote: :class:`~pathlib.Path` objects in a
    local folder, URLs (strings) on an object store.

    :ivar workbook_csv: the all-items workbook as CSV (for the data team).
    :ivar workbook_xlsx: the all-items workbook as XLSX.
    :ivar report_html: the self-contained HTML report.
    :ivar campaign_json: metadata, items and file hashes.
    :ivar reviewer_workbooks: reviewer -> their workbook (``reviewers/{slug}.xlsx``): what
        reviewers get.
    :ivar unassigned_workbook: the workbook of the items without a reviewer, if any
        (``reviewers/unassigned.xlsx``).
    """

    workbook_csv: Path | str
    workbook_xlsx: Path | str
    report_html: Path | str
    campaign_json: Path | str
    reviewer_workbooks: Mapping[str, Path | str] = field(default_factory=dict)
    unassigned_workbook: Path | str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Paths as strings (small enough for XCom)."""
        return {
            "workbook_csv": str(self.workbook_csv),
            "workbook_xlsx": str(self.workbook_xlsx),
            "report_html": str(self.report_html),
            "campaign_json": str(self.campaign_json),
            "reviewer_workbooks": {k: str(v) for k, v in self.reviewer_workbooks.items()},
            "unassigned_workbook": str(self.unassigned_workbook) if self.unassigned_workbook else None,
        }


def _put(where: Folder, name: str, write: Callable[[Any], Any]) -> tuple[Path | str, dict[str, Any]]:
    """Write one file whole with ``write(path_or_binary_file)``; return where and its hash.

    Local: into a hidden temporary name, renamed into place (readers never see half a file),
    then hashed from disk. Object store: rendered in memory, one PUT, hashed from the bytes.
    """
    if where.is_local:
        where.make()
        final = where.local / name
        tmp = where.local / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            write(tmp)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return final, {
            "name": name,
            "sha256": file_sha256(_LOCAL, str(final))[0],
            "bytes": final.stat().st_size,
        }
    buffer = io.BytesIO()
    write(buffer)
    body = buffer.getvalue()
    return where.write_bytes(name, body), {
        "name": name,
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
    }


def _reviewers(campaign: Campaign) -> list[str]:
    """Each reviewer once (labels differing only in case are one reviewer), in item order."""
    seen: dict[str, str] = {}
    for item in campaign.items:
        if item.reviewer is not None:
            seen.setdefault(reviewer_key(item.reviewer), item.reviewer)
    return sorted(seen.values(), key=reviewer_key)


def write_campaign(campaign: Campaign, out_dir: Any, *, secret: str | bytes | None = None) -> CampaignFiles:
    """Write the reviewer files of ``campaign`` into ``out_dir`` (created if missing).

    Files: one workbook per reviewer, ``reviewers/{reviewer_slug}.xlsx`` (only their items, see
    :func:`~.workbook.write_reviewer_xlsx`), and ``reviewers/unassigned.xlsx`` for items
    without a reviewer; the all-items workbook ``{campaign_id}-review.csv`` and
    ``{campaign_id}-review.xlsx`` (for the data team, and for campaigns reviewed as one file);
    ``{campaign_id}-report.html``; and ``campaign.json``, written last, pinning every other
    file by SHA-256. Writing again replaces them. With ``secret``, each reviewer workbook
    carries the reviewer's attestation token (:func:`~.attestation.issue_token`, issued at the
    campaign's creation time), which :func:`~.decisions.read_decisions` verifies.

    ``out_dir`` is a local folder, an fsspec URL (``s3://bucket/reviews/<id>``) or an
    ``ObjectStoragePath``. On a local disk each file is written under a temporary name and
    renamed, so readers never see half a file; on an object store each file is one PUT, which
    is atomic per object. The returned paths are :class:`~pathlib.Path` objects for a local
    folder and URLs (strings) otherwise.

    :raises AttestationError: ``secret`` is too short to sign with.
    """
    where = folder(out_dir)
    base = validate_campaign_id(campaign.campaign_id)
    reviewers_folder = where.child(REVIEWERS_DIR)
    reviewer_paths: dict[str, Path | str] = {}
    reviewer_files: dict[str, dict[str, Any]] = {}
    tokens = {
        reviewer: issue_token(secret, campaign.campaign_id, reviewer, campaign.created_at)
        for reviewer in _reviewers(campaign)
        if secret is not None
    }
    for reviewer in _reviewers(campaign):
        path, info = _put(
            reviewers_folder,
            f"{reviewer_slug(reviewer)}.xlsx",
            functools.partial(_reviewer_workbook, campaign, reviewer, tokens.get(reviewer)),
        )
        reviewer_paths[reviewer] = path
        reviewer_files[reviewer] = {**info, "name": f"{REVIEWERS_DIR}/{info['name']}"}
    unassigned = None
    if any(item.reviewer is None for item in campaign.items):
        unassigned, info = _put(
            reviewers_folder,
            f"{reviewer_slug(None)}.xlsx",
            functools.partial(_reviewer_workbook, campaign, None, None),
        )
        reviewer_files[""] = {**info, "name": f"{REVIEWERS_DIR}/{info['name']}"}

    report = render_report(campaign, status_of(campaign, (), campaign.created_at)).encode("utf-8")
    written: dict[str, tuple[Path | str, dict[str, Any]]] = {
        "workbook_csv": _put(where, f"{base}-review.csv", lambda p: write_csv(campaign, p)),
        "workbook_xlsx": _put(where, f"{base}-review.xlsx", lambda p: write_xlsx(campaign, p)),
        "report_html": _put(where, f"{base}-report.html", lambda p: _write_bytes(p, report)),
    }
    data = campaign.to_dict()
    data["columns"] = list(COLUMNS)
    data["files"] = {key: info for key, (_, info) in written.items()}
    # Keyed by reviewer ("" for the unassigned items): which file each reviewer was sent.
    data["reviewer_workbooks"] = reviewer_files
    data["attestation"] = {"tokens_issued": bool(tokens), "issued_at": campaign.created_at.isoformat()}
    campaign_json, _ = _put(
        where,
        CAMPAIGN_FILE,
        lambda p: _write_bytes(p, json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")),
    )
    return CampaignFiles(
        workbook_csv=written["workbook_csv"][0],
        workbook_xlsx=written["workbook_xlsx"][0],
        report_html=written["report_html"][0],
        campaign_json=campaign_json,
        reviewer_workbooks=reviewer_paths,
        unassigned_workbook=unassigned,
    )


def _reviewer_workbook(campaign: Campaign, reviewer: str | None, token: str | None, target: Any) -> None:
    write_reviewer_xlsx(campaign, reviewer, target, token=token)


def _write_bytes(target: Any, data: bytes) -> None:
    if isinstance(target, str | Path):
        Path(target).write_bytes(data)
    else:
        target.write(data)
