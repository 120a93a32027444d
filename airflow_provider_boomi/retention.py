"""The retention policy: delete snapshots, findings, workbooks and campaigns after a set time,
keep evidence bundles for the audit period.

Snapshots, findings, campaigns and workbooks hold personal data (people's names and emails,
their managers, what they may do), so they are kept only as long as they serve a purpose;
evidence bundles are what an auditor asks for, so they are kept for the whole audit period.
:func:`apply_retention` applies a :class:`RetentionPolicy` to the four stores and returns a
:class:`RetentionReport` listing what it deleted (or, in a dry run, would delete) and what it
kept, each with its reason. The rules (``docs/retention.md``):

- **Snapshots** older than ``snapshots_days`` are *pruned*: their table files are deleted, their
  ``manifest.json`` is kept, and a pruning record names it
  (:meth:`~airflow_provider_boomi.dataset.SnapshotStore.prune`), so the manifest hash chain
  still verifies (``python -m airflow_provider_boomi.verify_chain``). Never pruned: the latest
  ``keep_latest_snapshots`` complete snapshots of each account, and a snapshot an open
  campaign reviews. If a campaign folder cannot be read, no snapshot is pruned at all (which
  snapshots open campaigns review is then unknown).
- **Findings** of a snapshot older than ``findings_days`` are deleted, unless an open campaign
  reviews that snapshot.
- **Workbooks** (the reviewer workbooks and the all-items CSV and XLSX) of a campaign created
  more than ``workbooks_days`` ago are deleted, and the **campaign** folder as a whole (its
  ``campaign.json``, report and decision records) after ``campaigns_days``; never while the
  campaign is open (its due date, or its creation day without one, plus
  ``open_campaign_grace_days``, is still ahead).
- **Evidence bundles** are deleted only once older than ``evidence_days`` (by the
  ``created_at`` of their ``index.json``); a bundle folder without ``index.json`` (a crashed
  write) is never deleted, only reported.

Every store may be a local folder, an fsspec URL or an ``ObjectStoragePath``. A delete that
fails (an object-locked bucket refuses it until its retention ends) is reported in
:attr:`RetentionReport.failed`; the rest still runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal

from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.dataset.paths import resolve_location
from airflow_provider_boomi.findings.store import SUMMARY_FILE
from airflow_provider_boomi.review._storage import Folder, folder
from airflow_provider_boomi.review.campaign import Campaign, find_campaigns, load_campaign
from airflow_provider_boomi.review.evidence import INDEX_JSON
from airflow_provider_boomi.review.reviewers import REVIEWERS_DIR

__all__ = [
    "DEFAULT_EVIDENCE_DAYS",
    "RetentionItem",
    "RetentionPolicy",
    "RetentionReport",
    "apply_retention",
]

#: Seven years (with two leap days): the period SOX workpapers are commonly kept.
DEFAULT_EVIDENCE_DAYS: Final = 7 * 365 + 2

Kind = Literal["snapshot", "findings", "workbooks", "campaign", "evidence"]
Action = Literal["delete", "keep"]


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of output is kept, in days.

    :param snapshots_days: snapshots older than this are pruned (table files deleted, manifest
        kept).
    :param campaigns_days: campaign folders older than this are deleted.
    :param workbooks_days: a campaign's workbooks older than this are deleted (at most
        ``campaigns_days``: the campaign folder holds them).
    :param findings_days: findings of snapshots older than this are deleted.
    :param keep_latest_snapshots: the newest this many complete snapshots of each account are
        never pruned, however old (at least 1).
    :param evidence_days: evidence bundles are kept this long (the audit period; default
        :data:`DEFAULT_EVIDENCE_DAYS`, seven years).
    :param open_campaign_grace_days: a campaign stays open (nothing it uses is deleted) until
        this many days after its due date (or after its creation day, without one).
    :raises ValueError: a value is not a whole number of at least 1, or
        ``workbooks_days`` exceeds ``campaigns_days``; the message names every problem.
    """

    snapshots_days: int = 400
    campaigns_days: int = 1095
    workbooks_days: int = 180
    findings_days: int = 400
    keep_latest_snapshots: int = 3
    evidence_days: int = DEFAULT_EVIDENCE_DAYS
    open_campaign_grace_days: int = 30

    def __post_init__(self) -> None:
        problems = [
            f"{f.name} must be a whole number, at least 1, got {getattr(self, f.name)!r}"
            for f in fields(self)
            if isinstance(getattr(self, f.name), bool)
            or not isinstance(getattr(self, f.name), int)
            or getattr(self, f.name) < 1
        ]
        if not problems and self.workbooks_days > self.campaigns_days:
            problems.append(
                f"workbooks_days ({self.workbooks_days}) exceeds campaigns_days ({self.campaigns_days}): "
                "the workbooks go with their campaign folder; lower workbooks_days"
            )
        if problems:
            raise ValueError("retention policy is invalid: " + "; ".join(problems))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | RetentionPolicy) -> RetentionPolicy:
        """Read a policy from DAG params or JSON: keys are the attribute names, numbers may be
        text (a rendered template); an unknown key is refused (a typo would keep data longer
        or shorter than meant).

        :raises ValueError: not a mapping, an unknown key, or an invalid value.
        """
        if isinstance(data, RetentionPolicy):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(
                f"a retention policy must be a mapping, got {type(data).__name__}: with a template, "
                "set render_template_as_native_obj=True on the DAG"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise ValueError(
                f"retention policy has unknown key(s) {', '.join(unknown)}; "
                f"known keys: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {}
        for key, raw in data.items():
            if isinstance(raw, str) and raw.strip().isdigit():
                raw = int(raw.strip())
            elif isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
                raw = int(raw)
            values[str(key)] = raw
        return cls(**values)

    def to_dict(self) -> dict[str, int]:
        """The JSON form (recorded in every report)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class RetentionItem:
    """One thing the policy looked at.

    :param kind: ``snapshot``, ``findings``, ``workbooks``, ``campaign`` or ``evidence``.
    :param target: where it is (path or URL; for workbooks, the campaign folder).
    :param subject: what it is: a sync id, a campaign id, ``campaign_id/run`` for a bundle.
    :param account_id: the account, when known.
    :param since: the time its age is counted from.
    :param action: ``delete`` or ``keep``.
    :param reason: why, in one sentence.
    :param files: for workbooks, the files deleted (or to delete).
    :param error: why the delete failed (only in :attr:`RetentionReport.failed`).
    """

    kind: Kind
    target: str
    subject: str
    account_id: str | None
    since: datetime | None
    action: Action
    reason: str
    files: tuple[str, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "kind": self.kind,
            "target": self.target,
            "subject": self.subject,
            "account_id": self.account_id,
            "since": self.since.isoformat() if self.since else None,
            "action": self.action,
            "reason": self.reason,
            "files": list(self.files),
            "error": self.error,
        }


@dataclass(frozen=True)
class RetentionReport:
    """What :func:`apply_retention` deleted (or would delete) and kept, and why.

    :param now: the time the ages were measured at.
    :param dry_run: nothing was deleted; :attr:`to_delete` is what a real run would delete.
    :param policy: the policy applied.
    :param to_delete: what the policy deletes (in a real run: what it tried to).
    :param kept: what it keeps, each with its reason.
    :param failed: the deletes that failed, with the error (empty in a dry run).
    :param problems: what could not be read (a campaign folder, a bundle index, a summary).
    """

    now: datetime
    dry_run: bool
    policy: RetentionPolicy
    to_delete: tuple[RetentionItem, ...]
    kept: tuple[RetentionItem, ...]
    failed: tuple[RetentionItem, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def deleted(self) -> tuple[RetentionItem, ...]:
        """What a real run deleted (empty in a dry run)."""
        if self.dry_run:
            return ()
        failed = {(i.kind, i.target) for i in self.failed}
        return tuple(i for i in self.to_delete if (i.kind, i.target) not in failed)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per kind: how many to delete, deleted, kept and failed."""
        result: dict[str, dict[str, int]] = {}
        for name, items in (
            ("to_delete", self.to_delete),
            ("deleted", self.deleted),
            ("kept", self.kept),
            ("failed", self.failed),
        ):
            for item in items:
                result.setdefault(item.kind, dict.fromkeys(("to_delete", "deleted", "kept", "failed"), 0))
                result[item.kind][name] += 1
        return result

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what the operator writes to ``report_path``)."""
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "policy": self.policy.to_dict(),
            "counts": self.counts(),
            "to_delete": [i.to_dict() for i in self.to_delete],
            "kept": [i.to_dict() for i in self.kept],
            "failed": [i.to_dict() for i in self.failed],
            "problems": list(self.problems),
        }


def _maker(target: str, subject: str, account_id: str | None, since: datetime | None) -> Any:
    """A function making the :class:`RetentionItem` of one thing, from kind, action and reason."""

    def make(kind: Kind, action: Action, reason: str, files: tuple[str, ...] = ()) -> RetentionItem:
        return RetentionItem(kind, target, subject, account_id, since, action, reason, files)

    return make


@dataclass
class _Plan:
    now: datetime
    policy: RetentionPolicy
    delete: list[tuple[RetentionItem, Any]] = field(default_factory=list)
    kept: list[RetentionItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: (account id, sync id) of the snapshots open campaigns review.
    in_use: dict[tuple[str, str], str] = field(default_factory=dict)
    campaigns_readable: bool = True

    def older(self, since: datetime, days: int) -> bool:
        return self.now - since > timedelta(days=days)

    def add(self, item: RetentionItem, remove: Any = None) -> None:
        if item.action == "delete":
            self.delete.append((item, remove))
        else:
            self.kept.append(item)


def _open_until(campaign: Campaign, grace_days: int) -> date:
    due = campaign.due_date or campaign.created_at.astimezone(UTC).date()
    return due + timedelta(days=grace_days)


def _workbook_files(campaign: Campaign, where: Folder) -> list[tuple[Folder, str]]:
    files = [(where, name) for name in where.files() if name in _all_items_names(campaign)]
    reviewers = where.child(REVIEWERS_DIR)
    files += [(reviewers, name) for name in reviewers.files() if name.endswith(".xlsx")]
    return files


def _all_items_names(campaign: Campaign) -> set[str]:
    return {f"{campaign.campaign_id}-review.csv", f"{campaign.campaign_id}-review.xlsx"}


def _plan_campaigns(plan: _Plan, reviews_path: Any) -> None:
    policy = plan.policy
    for directory in find_campaigns(reviews_path):
        where = folder(directory)
        try:
            campaign = load_campaign(where)
        except (ValueError, KeyError, TypeError) as exc:
            plan.campaigns_readable = False
            plan.problems.append(f"campaign folder {where} cannot be read ({exc}); it is kept")
            continue
        since = campaign.created_at
        open_until = _open_until(campaign, policy.open_campaign_grace_days)
        item = _maker(str(where), campaign.campaign_id, campaign.account_id, since)
        if plan.now.date() <= open_until:
            plan.in_use[(campaign.account_id, campaign.sync_id)] = campaign.campaign_id
            plan.add(
                item(
                    "campaign",
                    "keep",
                    f"open until {open_until.isoformat()} (due date plus grace)",
                )
            )
            continue
        if plan.older(since, policy.campaigns_days):
            plan.add(
                item(
                    "campaign",
                    "delete",
                    f"created more than {policy.campaigns_days} days ago",
                ),
                lambda w=where: w.fs.rm(w.path, recursive=True),
            )
            continue
        plan.add(item("campaign", "keep", f"younger than {policy.campaigns_days} days"))
        files = _workbook_files(campaign, where)
        if not files:
            continue
        names = tuple(f"{w.url_of(n)}" for w, n in files)
        if plan.older(since, policy.workbooks_days):
            plan.add(
                item(
                    "workbooks",
                    "delete",
                    f"campaign created more than {policy.workbooks_days} days ago",
                    files=names,
                ),
                lambda fs=files: [w.fs.rm(w.key(n)) for w, n in fs],
            )
        else:
            plan.add(
                item(
                    "workbooks",
                    "keep",
                    f"younger than {policy.workbooks_days} days",
                    files=names,
                )
            )


def _plan_snapshots(plan: _Plan, store: SnapshotStore) -> None:
    policy = plan.policy
    for account_id in store.accounts():
        snapshots = store.snapshots(account_id)
        latest = {info.sync_id for info in snapshots[-policy.keep_latest_snapshots :]}
        for info in snapshots:
            item = _maker(info.path, info.sync_id, account_id, info.synced_at)
            campaign = plan.in_use.get((account_id, info.sync_id))
            if info.sync_id in latest:
                reason = f"one of the latest {policy.keep_latest_snapshots} complete snapshots of the account"
            elif campaign is not None:
                reason = f"reviewed by open campaign {campaign}"
            elif not plan.older(info.synced_at, policy.snapshots_days):
                reason = f"younger than {policy.snapshots_days} days"
            elif not plan.campaigns_readable:
                reason = (
                    "a campaign folder cannot be read, so which snapshots open campaigns review is unknown"
                )
            else:
                plan.add(
                    item(
                        "snapshot",
                        "delete",
                        f"taken more than {policy.snapshots_days} days ago: table files deleted, "
                        "manifest kept for the hash chain",
                    ),
                    lambda a=account_id, s=info.sync_id: store.prune(
                        a, s, pruned_at=plan.now, reason=f"retention: older than {policy.snapshots_days} days"
                    ),
                )
                continue
            plan.add(item("snapshot", "keep", reason))


def _subfolders(where: Folder, prefix: str) -> list[Folder]:
    if not where.exists():
        return []
    return [
        child for child in where.subfolders() if child.url.rstrip("/").rsplit("/", 1)[-1].startswith(prefix)
    ]


def _plan_findings(plan: _Plan, findings_root: Any) -> None:
    policy = plan.policy
    root = folder(findings_root)
    for account in _subfolders(root, "account_id="):
        account_id = account.url.rstrip("/").rsplit("/", 1)[-1][len("account_id=") :]
        for snapshot in _subfolders(account, "sync_id="):
            sync_id = snapshot.url.rstrip("/").rsplit("/", 1)[-1][len("sync_id=") :]
            try:
                summary = json.loads(snapshot.read_bytes(SUMMARY_FILE))
                synced_at = datetime.fromisoformat(summary["synced_at"])
            except FileNotFoundError:
                plan.problems.append(
                    f"findings folder {snapshot} has no {SUMMARY_FILE} (incomplete); it is kept"
                )
                continue
            except (ValueError, KeyError, TypeError) as exc:
                plan.problems.append(f"{snapshot.url_of(SUMMARY_FILE)} cannot be read ({exc}); it is kept")
                continue
            item = _maker(str(snapshot), sync_id, account_id, synced_at)
            campaign = plan.in_use.get((account_id, sync_id))
            if campaign is not None:
                plan.add(item("findings", "keep", f"used by open campaign {campaign}"))
            elif not plan.campaigns_readable:
                plan.add(
                    item(
                        "findings",
                        "keep",
                        "a campaign folder cannot be read (see problems)",
                    )
                )
            elif plan.older(synced_at, policy.findings_days):
                plan.add(
                    item(
                        "findings",
                        "delete",
                        f"of a snapshot taken more than {policy.findings_days} days ago",
                    ),
                    lambda s=snapshot: _remove_findings(s),
                )
            else:
                plan.add(item("findings", "keep", f"younger than {policy.findings_days} days"))


def _remove_findings(where: Folder) -> None:
    # The summary first: a folder left half deleted is then "no findings", never altered ones.
    where.fs.rm(where.key(SUMMARY_FILE))
    where.fs.rm(where.path, recursive=True)


def _plan_evidence(plan: _Plan, evidence_root: Any) -> None:
    policy = plan.policy
    root = folder(evidence_root)
    if not root.exists():
        return
    for campaign_dir in root.subfolders():
        for bundle in campaign_dir.subfolders():
            name = bundle.url.rstrip("/").rsplit("/", 1)[-1]
            subject = f"{campaign_dir.url.rstrip('/').rsplit('/', 1)[-1]}/{name}"
            if name.startswith("."):
                plan.problems.append(
                    f"{bundle} is a staging or crashed bundle folder; it is kept, inspect it"
                )
                continue
            if not bundle.has_file(INDEX_JSON):
                plan.add(
                    RetentionItem(
                        "evidence",
                        str(bundle),
                        subject,
                        None,
                        None,
                        "keep",
                        f"incomplete bundle (no {INDEX_JSON}): never deleted by the policy, inspect it",
                    )
                )
                continue
            try:
                index = json.loads(bundle.read_bytes(INDEX_JSON))
                created = datetime.fromisoformat(index["created_at"])
                account_id = index.get("account_id")
            except (ValueError, KeyError, TypeError) as exc:
                plan.problems.append(
                    f"{bundle.url_of(INDEX_JSON)} cannot be read ({exc}); the bundle is kept"
                )
                continue
            keep_until = created + timedelta(days=policy.evidence_days)
            if plan.older(created, policy.evidence_days):
                plan.add(
                    RetentionItem(
                        "evidence",
                        str(bundle),
                        subject,
                        account_id,
                        created,
                        "delete",
                        f"older than the audit period of {policy.evidence_days} days",
                    ),
                    lambda b=bundle: b.fs.rm(b.path, recursive=True),
                )
            else:
                plan.add(
                    RetentionItem(
                        "evidence",
                        str(bundle),
                        subject,
                        account_id,
                        created,
                        "keep",
                        f"audit period: kept until {keep_until.date().isoformat()}",
                    )
                )


def apply_retention(
    policy: RetentionPolicy,
    now: datetime,
    *,
    store: Any = None,
    reviews_path: Any = None,
    findings_root: Any = None,
    evidence_root: Any = None,
    dry_run: bool = True,
) -> RetentionReport:
    """Apply ``policy`` to the stores given, at ``now`` (see the module docstring for the rules).

    :param policy: the policy.
    :param now: the time ages are measured at (timezone-aware).
    :param store: the snapshot store (a :class:`~airflow_provider_boomi.dataset.SnapshotStore`
        or its root); ``None``: snapshots are not touched.
    :param reviews_path: the folder of campaign folders; ``None``: no campaign is touched, and
        no snapshot is pruned either (which ones open campaigns review would be unknown).
    :param findings_root: the findings root; ``None``: findings are not touched.
    :param evidence_root: the evidence bundles' root; ``None``: bundles are not touched.
    :param dry_run: list what would be deleted, delete nothing (the default).
    :returns: the report; in a real run, deletes that failed are in ``failed``, not raised.
    :raises ValueError: ``now`` is naive, or ``store`` is given without ``reviews_path``.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware (e.g. datetime.now(UTC)), got {now!r}")
    if store is not None and reviews_path is None:
        raise ValueError(
            "pruning snapshots needs reviews_path: a snapshot an open campaign reviews is never pruned, "
            "and which ones those are is read from the campaign folders"
        )
    plan = _Plan(now.astimezone(UTC), policy)
    if reviews_path is not None and folder(reviews_path).exists():
        _plan_campaigns(plan, reviews_path)
    if store is not None:
        _plan_snapshots(plan, store if isinstance(store, SnapshotStore) else SnapshotStore(store))
    if findings_root is not None:
        resolve_location(findings_root)  # a malformed URL fails here, before anything is deleted
        _plan_findings(plan, findings_root)
    if evidence_root is not None:
        _plan_evidence(plan, evidence_root)
    failed: list[RetentionItem] = []
    if not dry_run:
        for item, remove in plan.delete:
            try:
                remove()
            except Exception as exc:  # one refused delete (a locked object) must not stop the rest
                failed.append(
                    RetentionItem(
                        item.kind,
                        item.target,
                        item.subject,
                        item.account_id,
                        item.since,
                        "delete",
                        item.reason,
                        item.files,
                        f"{type(exc).__name__}: {exc}",
                    )
                )
    return RetentionReport(
        now=plan.now,
        dry_run=dry_run,
        policy=policy,
        to_delete=tuple(item for item, _ in plan.delete),
        kept=tuple(plan.kept),
        failed=tuple(failed),
        problems=tuple(plan.problems),
    )
