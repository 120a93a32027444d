"""Writing a campaign's files: the workbooks, the report, and campaign.json last.

``campaign.json`` is written after the other files and pins them by SHA-256, like a snapshot
manifest: a directory without it is not a campaign, and a report or blank workbook can later be
shown to be the one that was sent out.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from airflow_provider_boomi.dataset.manifest import file_sha256

from ._storage import Folder, folder
from .campaign import CAMPAIGN_FILE, Campaign, validate_campaign_id
from .report import render_report
from .workbook import COLUMNS, write_csv, write_xlsx

__all__ = ["CampaignFiles", "write_campaign"]

_LOCAL = LocalFileSystem()  # the package's one sha256 (dataset.manifest) reads through fsspec


@dataclass(frozen=True)
class CampaignFiles:
    """Paths of the files :func:`write_campaign` wrote: :class:`~pathlib.Path` objects in a
    local folder, URLs (strings) on an object store.

    Attributes:
        workbook_csv: the CSV workbook.
        workbook_xlsx: the XLSX workbook (dropdown on ``decision``).
        report_html: the self-contained HTML report.
        campaign_json: metadata, items and file hashes.
    """

    workbook_csv: Path | str
    workbook_xlsx: Path | str
    report_html: Path | str
    campaign_json: Path | str

    def to_dict(self) -> dict[str, str]:
        """Paths as strings (small enough for XCom)."""
        return {name: str(getattr(self, name)) for name in self.__dataclass_fields__}


def _replace_atomically(tmp: Path, final: Path) -> Path:
    os.replace(tmp, final)
    return final


def write_campaign(campaign: Campaign, out_dir: Any) -> CampaignFiles:
    """Write the reviewer files of ``campaign`` into ``out_dir`` (created if missing).

    Files: ``{campaign_id}-review.csv``, ``{campaign_id}-review.xlsx``,
    ``{campaign_id}-report.html`` and ``campaign.json`` (written last). Writing again replaces
    them. ``out_dir`` is a local folder, an fsspec URL (``s3://bucket/reviews/<id>``) or an
    ``ObjectStoragePath``. On a local disk each file is written under a temporary name and
    renamed, so readers never see half a file; on an object store each file is one PUT, which
    is atomic per object. The returned paths are :class:`~pathlib.Path` objects for a local
    folder and URLs (strings) otherwise.
    """
    where = folder(out_dir)
    if not where.is_local:
        return _write_campaign_remote(campaign, where)
    directory = where.local
    directory.mkdir(parents=True, exist_ok=True)
    base = campaign.campaign_id
    csv_path = directory / f"{base}-review.csv"
    xlsx_path = directory / f"{base}-review.xlsx"
    html_path = directory / f"{base}-report.html"
    json_path = directory / CAMPAIGN_FILE

    written = []
    for final, write in (
        (csv_path, lambda p: write_csv(campaign, p)),
        (xlsx_path, lambda p: write_xlsx(campaign, p)),
        (html_path, lambda p: p.write_text(render_report(campaign), encoding="utf-8")),
    ):
        tmp = final.with_name(f".{final.name}.tmp")
        write(tmp)
        written.append(_replace_atomically(tmp, final))

    data = campaign.to_dict()
    data["columns"] = list(COLUMNS)
    data["files"] = {
        key: {"name": path.name, "sha256": file_sha256(_LOCAL, str(path))[0], "bytes": path.stat().st_size}
        for key, path in zip(("workbook_csv", "workbook_xlsx", "report_html"), written, strict=True)
    }
    tmp = json_path.with_name(f".{CAMPAIGN_FILE}.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    _replace_atomically(tmp, json_path)
    return CampaignFiles(
        workbook_csv=csv_path, workbook_xlsx=xlsx_path, report_html=html_path, campaign_json=json_path
    )


def _rendered(write: Any, campaign: Campaign) -> bytes:
    buffer = io.BytesIO()
    write(campaign, buffer)
    return buffer.getvalue()


def _write_campaign_remote(campaign: Campaign, where: Folder) -> CampaignFiles:
    """:func:`write_campaign` on an object store: each file one PUT, ``campaign.json`` last."""
    base = validate_campaign_id(campaign.campaign_id)
    contents = {
        "workbook_csv": (f"{base}-review.csv", _rendered(write_csv, campaign)),
        "workbook_xlsx": (f"{base}-review.xlsx", _rendered(write_xlsx, campaign)),
        "report_html": (f"{base}-report.html", render_report(campaign).encode("utf-8")),
    }
    urls = {key: where.write_bytes(name, data) for key, (name, data) in contents.items()}
    data = campaign.to_dict()
    data["columns"] = list(COLUMNS)
    data["files"] = {
        key: {"name": name, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}
        for key, (name, body) in contents.items()
    }
    campaign_json = where.write_bytes(
        CAMPAIGN_FILE, json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
    )
    return CampaignFiles(
        workbook_csv=urls["workbook_csv"],
        workbook_xlsx=urls["workbook_xlsx"],
        report_html=urls["report_html"],
        campaign_json=campaign_json,
    )
