"""Leavers as a proposed change set: one ``offboard_user`` change per leaver finding.

The proposal is a file beside the findings it comes from
(``{findings_root}/account_id=A/sync_id=S/offboarding-proposal.json``), in the JSON form
:func:`~airflow_provider_boomi.access.changes.load_changes` reads: an object whose ``changes``
list holds ``{"action": "offboard_user", "user_id", "reason", ...}``. Nothing here applies it.
Removing a user goes through the same path as a review's decisions: a dry run of the proposal
(``BoomiApplyAccessChangesOperator(changes_path=..., dry_run=True)``), a person's approval, then
the apply with ``allow_user_removal=True``.

The proposal names the findings it was made from (the SHA-256 of ``findings.parquet`` in their
summary): :func:`read_offboarding_proposal` refuses a proposal whose findings were computed
again since, so a stale list of leavers is never mistaken for the current one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

import pyarrow as pa

from airflow_provider_boomi.access.changes import OFFBOARD_USER
from airflow_provider_boomi.dataset.paths import resolve_location

from .store import StoredFindings, _parts, read_findings

__all__ = [
    "PROPOSAL_FILE",
    "PROPOSAL_KIND",
    "StaleProposalError",
    "offboarding_changes",
    "read_offboarding_proposal",
    "remove_offboarding_proposal",
    "write_offboarding_proposal",
]

PROPOSAL_FILE: Final = "offboarding-proposal.json"
"""The proposal's file name, in the findings folder of its snapshot."""
PROPOSAL_KIND: Final = "boomi_offboarding_proposal"
"""The ``kind`` field of a proposal file."""
_LEAVER: Final = "leaver"


class StaleProposalError(ValueError):
    """The proposal was made from findings that have been replaced (or is not a proposal)."""


def offboarding_changes(findings: pa.Table, *, sync_id: str) -> list[dict[str, Any]]:
    """One ``offboard_user`` change per user with a leaver finding, most severe first.

    Each change has ``action``, ``user_id`` (Boomi's spelling), ``reason`` (citing the finding:
    ``leaver finding <id> of snapshot <sync_id>: <detail>``) and, for the reader of the file,
    ``finding_id``, ``severity`` and ``grant_ids`` (fields the change loader ignores).

    :param findings: a findings table (:data:`~.schema.FINDINGS_SCHEMA`).
    :param sync_id: the snapshot the findings are of, named in every reason.
    """
    severity_rank = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    leavers = [row for row in findings.to_pylist() if row["kind"] == _LEAVER]
    leavers.sort(key=lambda row: (severity_rank.get(row["severity"], len(severity_rank)), row["user_id"]))
    changes: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in leavers:
        user = row["user_id"].lower()
        if user in seen:  # one leaver finding per user; kept safe if that ever changes
            continue
        seen.add(user)
        changes.append(
            {
                "action": OFFBOARD_USER,
                "user_id": row["user_id"],
                "reason": f"leaver finding {row['finding_id']} of snapshot {sync_id}: {row['detail']}",
                "finding_id": row["finding_id"],
                "severity": row["severity"],
                "grant_ids": list(row["grant_ids"] or []),
            }
        )
    return changes


def _proposal_path(root: Any, account_id: str, sync_id: str, storage_options: dict[str, Any] | None) -> Any:
    location = resolve_location(root, storage_options)
    parts = _parts(account_id, sync_id)
    return location, location.fs_path(*parts, PROPOSAL_FILE), location.url_path(*parts, PROPOSAL_FILE)


def _findings_sha256(stored: StoredFindings) -> str:
    entry = (stored.summary.get("files") or {}).get("findings") or {}
    sha256 = entry.get("sha256")
    if not isinstance(sha256, str) or not sha256:
        raise StaleProposalError(
            f"{stored.path}: the findings summary records no SHA-256 of findings.parquet"
        )
    return sha256


def write_offboarding_proposal(
    stored: StoredFindings,
    root: Any,
    *,
    storage_options: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> str:
    """Write the proposal of ``stored`` (the findings as written) beside them; return its path.

    Written even when there is no leaver (an empty ``changes`` list says so), replacing the
    proposal of an earlier computation of the same snapshot's findings.

    :param stored: :func:`~.store.write_findings`' (or :func:`~.store.read_findings`') result.
    :param root: the findings root the findings were written under.
    :param storage_options: fsspec options for a URL.
    :param now: the time recorded as ``proposed_at`` (default now, UTC).
    """
    location, path, url = _proposal_path(root, stored.account_id, stored.sync_id, storage_options)
    changes = offboarding_changes(stored.findings, sync_id=stored.sync_id)
    document = {
        "kind": PROPOSAL_KIND,
        "status": (
            "proposed, not applied: apply it only through a dry run, a person's approval and "
            "BoomiApplyAccessChangesOperator with allow_user_removal=True"
        ),
        "account_id": stored.account_id,
        "sync_id": stored.sync_id,
        "findings_sha256": _findings_sha256(stored),
        "proposed_at": (now or datetime.now(UTC)).astimezone(UTC).isoformat(),
        "changes": changes,
    }
    location.fs.pipe_file(path, json.dumps(document, indent=2, sort_keys=False).encode("utf-8"))
    return str(url)


def remove_offboarding_proposal(
    root: Any, account_id: str, sync_id: str, *, storage_options: dict[str, Any] | None = None
) -> bool:
    """Delete the proposal of a snapshot's findings, if there is one (``True``: one was deleted).

    For a computation of the findings that proposes nothing: the earlier proposal is of findings
    that no longer exist.
    """
    location, path, _url = _proposal_path(root, account_id, sync_id, storage_options)
    if not location.fs.exists(path):
        return False
    location.fs.rm(path)
    return True


def read_offboarding_proposal(
    root: Any, account_id: str, sync_id: str, *, storage_options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Read a proposal, checked against the findings it was made from.

    :returns: the proposal document (its ``changes`` as written).
    :raises FileNotFoundError: no proposal for that snapshot.
    :raises FindingsNotFoundError: the findings themselves are missing or altered.
    :raises StaleProposalError: the file is not a proposal of this snapshot, or the findings were
        computed again after it was written.
    """
    location, path, url = _proposal_path(root, account_id, sync_id, storage_options)
    try:
        with location.fs.open(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no offboarding proposal at {url}") from None
    except ValueError as exc:
        raise StaleProposalError(f"{url} is not readable JSON ({exc})") from None
    if (
        not isinstance(document, dict)
        or document.get("kind") != PROPOSAL_KIND
        or document.get("account_id") != account_id
        or document.get("sync_id") != sync_id
        or not isinstance(document.get("changes"), list)
    ):
        raise StaleProposalError(f"{url} is not the offboarding proposal of snapshot {sync_id}")
    stored = read_findings(root, account_id, sync_id, storage_options=storage_options)
    if document.get("findings_sha256") != _findings_sha256(stored):
        raise StaleProposalError(
            f"{url} was made from findings that were computed again since: write the proposal again from "
            "the current findings (BoomiFindingsOperator with propose_offboarding=True)"
        )
    return document
