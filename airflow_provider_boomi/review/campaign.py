"""Access-review campaigns: one review item per grant of a snapshot, with flags and reviewers.

A campaign is built from one complete snapshot (global and group grants, users, roles and the
grant changes) and, optionally, the earlier campaigns of the same account, which tell which
grants are new since the last review and which were never reviewed at all, and the findings of
that same snapshot (:mod:`airflow_provider_boomi.findings`), which flag the items a reviewer
must look at first and can route each user's items to their manager. It is plain data;
:mod:`.output` writes the reviewer files and :mod:`.decisions` reads the answers back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Literal

from airflow_provider_boomi.dataset import SnapshotError, SnapshotStore, TableNotInSnapshotError
from airflow_provider_boomi.dataset.diff import diff_snapshots
from airflow_provider_boomi.dataset.paths import validate_path_component
from airflow_provider_boomi.findings.routing import finding_labels_by_grant, managers_by_user
from airflow_provider_boomi.findings.schema import KINDS, UNKNOWN_KINDS
from airflow_provider_boomi.findings.store import (
    FindingsNotFoundError,
    StoredFindings,
    list_findings,
    read_findings,
)

from ._records import DECISIONS_FILE, recorded_rows
from ._storage import folder
from .definition import CampaignDefinition
from .owners import DEFAULT_OWNER_PRECEDENCE, Owners, ReviewerRouting

__all__ = [
    "CAMPAIGN_FILE",
    "DECISIONS_FILE",
    "FLAGGED_KINDS",
    "GLOBAL_ROLE",
    "GROUP_ROLE",
    "REVIEWED_TABLES",
    "Campaign",
    "FindingsMismatchError",
    "ReviewItem",
    "SnapshotTooOldError",
    "build_campaign",
    "find_campaigns",
    "load_campaign",
    "validate_campaign_id",
]

#: Campaign metadata and items, written last into a campaign directory.
CAMPAIGN_FILE = "campaign.json"

CAMPAIGN_FORMAT_VERSION = 1

GrantKind = Literal["global_role", "group_role"]
#: ``grant_kind`` of a global role grant (an AccountUserRole).
GLOBAL_ROLE: Final = "global_role"
#: ``grant_kind`` of a role held through an account group (an AccountGroupUserRole).
GROUP_ROLE: Final = "group_role"
#: The snapshot tables a campaign reads: a snapshot without one of them cannot be reviewed.
REVIEWED_TABLES: Final[tuple[str, ...]] = ("users", "roles", "user_role_grants", "group_role_grants")


#: The finding kinds that flag review items, in the order of the findings' ``KINDS``: all but
#: the ``*_unknown`` kinds, which record a missing input (the report counts those instead).
FLAGGED_KINDS: Final[tuple[str, ...]] = tuple(kind for kind in KINDS if kind not in UNKNOWN_KINDS)


class SnapshotTooOldError(SnapshotError):
    """The latest snapshot is older than the campaign accepts (``max_snapshot_age_hours``)."""


class FindingsMismatchError(ValueError):
    """The findings given to a campaign are not those of the snapshot it reviews (or are missing)."""


def validate_campaign_id(campaign_id: str) -> str:
    """Return ``campaign_id`` if usable in file names, else raise ``ValueError``.

    The id becomes a folder and file names, so it follows the one rule for ids that become
    paths (:func:`~airflow_provider_boomi.dataset.paths.validate_path_component`).
    """
    return validate_path_component(campaign_id, "campaign_id", where="file and folder names")


@dataclass(frozen=True)
class ReviewItem:
    """One grant to review.

    :ivar item_id: the grant id (baton convention), unique within a campaign.
    :ivar grant_kind: ``global_role`` or ``group_role``.
    :ivar user_id: Boomi userId.
    :ivar email: lower-cased email (may be ``None`` if the snapshot has no user row).
    :ivar name: first and last name.
    :ivar role_id: Boomi role id.
    :ivar role_name: role name, when known.
    :ivar account_group_id: account group id (group grants only).
    :ivar account_group_name: account group name (group grants only).
    :ivar is_privileged: the role is privileged.
    :ivar is_new: not in the previous campaign, or added since the previous snapshot.
    :ivar never_reviewed: no earlier campaign recorded a decision for this grant id.
    :ivar only_via_group: the user holds no global role; all their access is through groups.
    :ivar reviewer: who should decide (see :class:`~.owners.ReviewerRouting`; ``None`` if
        nobody matched, or if the only possible reviewers are the item's own user).
    :ivar routed_from: the reviewer the rules named first when that was the item's own user
        (a self-review), whom the item was taken from; ``None`` otherwise.
    :ivar findings: what the findings of the snapshot say about this grant, one label each
        (``leaver``, ``sod_conflict: <rule>``, ``dormant``...; see
        :func:`~airflow_provider_boomi.findings.routing.finding_labels_by_grant`); empty
        without findings.
    :ivar via_manager: the reviewer named first was the user's manager from the identity source.
    """

    item_id: str
    grant_kind: GrantKind
    user_id: str
    email: str | None
    name: str
    role_id: str
    role_name: str | None
    account_group_id: str | None
    account_group_name: str | None
    is_privileged: bool
    is_new: bool
    never_reviewed: bool
    only_via_group: bool
    reviewer: str | None
    routed_from: str | None = None
    findings: tuple[str, ...] = ()
    via_manager: bool = False

    @property
    def role_label(self) -> str:
        """Role name, or its id when the name is unknown."""
        return self.role_name or self.role_id

    @property
    def group_label(self) -> str:
        """Group name (or id) for group grants, empty for global grants."""
        return self.account_group_name or self.account_group_id or ""

    @property
    def finding_kinds(self) -> tuple[str, ...]:
        """The kinds of :attr:`findings` (``sod_conflict: <rule>`` is kind ``sod_conflict``)."""
        return tuple(dict.fromkeys(label.split(":", 1)[0] for label in self.findings))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in ``campaign.json``."""
        data = asdict(self)
        data["findings"] = list(self.findings)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewItem:
        """Rebuild from :meth:`to_dict` (items written before findings existed have none)."""
        values: dict[str, Any] = {name: data.get(name) for name in cls.__dataclass_fields__}
        values["findings"] = tuple(str(label) for label in data.get("findings") or ())
        values["via_manager"] = bool(data.get("via_manager", False))
        return cls(**values)


@dataclass(frozen=True)
class Campaign:
    """An access-review campaign over one snapshot.

    :ivar campaign_id: id used in file names and in the ``reason`` of every change.
    :ivar account_id: Boomi account id.
    :ivar sync_id: the snapshot reviewed.
    :ivar synced_at: the snapshot's time.
    :ivar created_at: when the campaign was built.
    :ivar items: one item per grant, sorted by user, kind, group and role.
    :ivar changes: grant changes since the previous snapshot (dicts with ``change_type``,
        ``grant_kind``, ``grant_id``, ``user_id``, ``email``, ``role_id``, ``role_name``,
        ``account_group_id``, ``account_group_name``).
    :ivar previous_sync_id: the snapshot the changes are relative to: the one the previous
        campaign reviewed when there is one, else the previous snapshot (``None`` for the
        first).
    :ivar previous_campaign_id: the campaign ``is_new`` is relative to, if any.
    :ivar completeness: evidence of completeness and accuracy of the reviewed snapshot, for the
        report and the evidence bundle: ``source`` (API and account), ``extraction``
        (start, end, snapshot time), ``parameters`` and ``privileged_policy`` of the sync,
        ``tables`` (rows in the manifest, rows the campaign read, ``reconciled``, sha256),
        ``warnings`` of the manifest, ``api_stats``, and ``roles`` (each role's
        description and privileges).
    :ivar definition: the :class:`~.definition.CampaignDefinition` it was built from, as a dict
        (``None`` for a campaign built from an owners mapping alone).
    :ivar due_date: the last day to decide (``None``: no due date).
    :ivar attestation_required: whether decisions must carry a proven reviewer identity even
        when read from the all-items workbook (per-reviewer workbooks always need one
        unless the reader is told otherwise; see :func:`~.decisions.read_decisions`).
    :ivar findings: the findings the items were flagged with (``None``: none were given):
        ``sync_id`` (always the campaign's), ``path``, ``computed_at``, ``as_of``,
        ``counts`` (findings per kind in the snapshot), ``unknown_users`` (users per
        ``*_unknown`` kind: inputs that were missing), ``route_to_manager``.
    """

    campaign_id: str
    account_id: str
    sync_id: str
    synced_at: datetime
    created_at: datetime
    items: tuple[ReviewItem, ...]
    changes: tuple[Mapping[str, Any], ...] = field(default=())
    previous_sync_id: str | None = None
    previous_campaign_id: str | None = None
    completeness: Mapping[str, Any] = field(default_factory=dict)
    definition: Mapping[str, Any] | None = None
    due_date: date | None = None
    attestation_required: bool = False
    findings: Mapping[str, Any] | None = None

    def item(self, item_id: str) -> ReviewItem:
        """The item with id ``item_id`` (``KeyError`` if none)."""
        return self._index[item_id]

    @property
    def _index(self) -> dict[str, ReviewItem]:
        cached = self.__dict__.get("_index_cache")
        if cached is None:
            cached = {item.item_id: item for item in self.items}
            object.__setattr__(self, "_index_cache", cached)
        return cached

    def finding_counts(self) -> dict[str, int]:
        """Items flagged per finding kind (:data:`FLAGGED_KINDS`, every kind listed)."""
        counts = dict.fromkeys(FLAGGED_KINDS, 0)
        for item in self.items:
            for kind in item.finding_kinds:
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    def summary(self) -> dict[str, int]:
        """Counts for reports and logs; with findings, ``with_findings`` (items flagged) and one
        ``finding_<kind>`` count of flagged items per kind."""
        items = self.items
        per_kind = (
            {f"finding_{kind}": count for kind, count in self.finding_counts().items()}
            if self.findings is not None
            else {}
        )
        return {
            "items": len(items),
            "users": len({i.user_id for i in items}),
            "global_grants": sum(i.grant_kind == GLOBAL_ROLE for i in items),
            "group_grants": sum(i.grant_kind == GROUP_ROLE for i in items),
            "privileged": sum(i.is_privileged for i in items),
            "new": sum(i.is_new for i in items),
            "never_reviewed": sum(i.never_reviewed for i in items),
            "only_via_group_users": len({i.user_id for i in items if i.only_via_group}),
            "without_reviewer": sum(i.reviewer is None for i in items),
            "reviewers": len({i.reviewer.casefold() for i in items if i.reviewer}),
            # Self-reviews: sent to the fallback reviewer, or left without anyone to review
            # them (the fallback was the user too) -- those need a person named, loudly.
            "self_reviews_rerouted": sum(i.routed_from is not None and i.reviewer is not None for i in items),
            "self_reviews_without_reviewer": sum(
                i.routed_from is not None and i.reviewer is None for i in items
            ),
            "changes_added": sum(c.get("change_type") == "added" for c in self.changes),
            "changes_removed": sum(c.get("change_type") == "removed" for c in self.changes),
            "via_manager": sum(i.via_manager for i in items),
            "with_findings": sum(bool(i.findings) for i in items),
            **per_kind,
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the campaign (metadata, items and changes)."""
        return {
            "format_version": CAMPAIGN_FORMAT_VERSION,
            "campaign_id": self.campaign_id,
            "account_id": self.account_id,
            "sync_id": self.sync_id,
            "synced_at": self.synced_at.isoformat(),
            "created_at": self.created_at.isoformat(),
            "previous_sync_id": self.previous_sync_id,
            "previous_campaign_id": self.previous_campaign_id,
            "item_count": len(self.items),
            "summary": self.summary(),
            "items": [item.to_dict() for item in self.items],
            "changes": [dict(c) for c in self.changes],
            "completeness": dict(self.completeness),
            "definition": dict(self.definition) if self.definition is not None else None,
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "attestation_required": self.attestation_required,
            "findings": dict(self.findings) if self.findings is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Campaign:
        """Rebuild from :meth:`to_dict` (``campaign.json``)."""
        version = int(data.get("format_version", 1))
        if version > CAMPAIGN_FORMAT_VERSION:
            raise ValueError(f"campaign format {version} is newer than this package reads")
        return cls(
            # campaign.json is a file anyone with the folder can edit: its ids become paths.
            campaign_id=validate_campaign_id(str(data["campaign_id"])),
            account_id=str(data["account_id"]),
            sync_id=str(data["sync_id"]),
            synced_at=datetime.fromisoformat(data["synced_at"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            items=tuple(ReviewItem.from_dict(i) for i in data.get("items", [])),
            changes=tuple(data.get("changes", [])),
            previous_sync_id=data.get("previous_sync_id"),
            previous_campaign_id=data.get("previous_campaign_id"),
            completeness=dict(data.get("completeness") or {}),
            definition=data.get("definition"),
            due_date=date.fromisoformat(data["due_date"]) if data.get("due_date") else None,
            # Campaigns written before attestation existed had none to require.
            attestation_required=bool(data.get("attestation_required", False)),
            findings=data.get("findings"),
        )


def load_campaign(campaign_dir: Any) -> Campaign:
    """Read the campaign written by :func:`~.output.write_campaign` into ``campaign_dir``.

    ``campaign_dir`` is a local folder, an fsspec URL (``s3://bucket/reviews/<id>``) or an
    ``ObjectStoragePath``.

    :raises FileNotFoundError: the directory has no ``campaign.json``.
    """
    where = folder(campaign_dir)
    if not where.has_file(CAMPAIGN_FILE):
        raise FileNotFoundError(
            f"{where.url_of(CAMPAIGN_FILE)} does not exist; is {where} a campaign directory?"
        )
    return Campaign.from_dict(json.loads(where.read_bytes(CAMPAIGN_FILE).decode("utf-8")))


def find_campaigns(path: Any) -> list[Any]:
    """Campaign directories at ``path``: itself if it holds ``campaign.json``, else its children.

    ``path`` is a local folder (the result is then a list of :class:`~pathlib.Path`), an fsspec
    URL or an ``ObjectStoragePath`` (the result is then a list of folders whose ``str()`` is
    their URL; each can be passed to :func:`load_campaign`).
    """
    root = folder(path)
    found = [root] if root.has_file(CAMPAIGN_FILE) else None
    if found is None:
        if not root.exists():
            raise FileNotFoundError(f"previous campaigns directory {root} does not exist")
        found = [child for child in root.subfolders() if child.has_file(CAMPAIGN_FILE)]
    # Local folders as Paths, as ever; on an object store the folders keep their filesystem
    # (an ObjectStoragePath's connection), and str() of each is its URL.
    return [child.local if child.is_local else child for child in found]


def _reviewed_ids(campaign_dir: Any) -> set[str]:
    return {str(row["item_id"]) for row in recorded_rows(campaign_dir) if row.get("decision")}


def _history(
    previous_campaign_dir: Any, account_id: str, campaign_id: str, sync_id: str
) -> tuple[Campaign | None, set[str]]:
    """(latest earlier campaign, grant ids decided in any earlier campaign) of the account."""
    if previous_campaign_dir is None:
        return None, set()
    earlier: list[tuple[Campaign, Any]] = []
    for directory in find_campaigns(previous_campaign_dir):
        campaign = load_campaign(directory)
        # Only earlier campaigns of this account count; a rebuilt campaign with the same id
        # must not count as its own history.
        if (
            campaign.account_id == account_id
            and campaign.campaign_id != campaign_id
            and campaign.sync_id <= sync_id
        ):
            earlier.append((campaign, directory))
    reviewed: set[str] = set()
    for _, directory in earlier:
        reviewed |= _reviewed_ids(directory)
    latest = max(earlier, key=lambda pair: (pair[0].sync_id, pair[0].created_at), default=None)
    return (latest[0] if latest else None), reviewed


def _read(store: SnapshotStore, account_id: str, sync_id: str, table: str) -> list[dict[str, Any]]:
    try:
        return store.read_table(account_id, sync_id, table).to_pylist()
    except TableNotInSnapshotError as exc:
        raise SnapshotError(
            f"snapshot {sync_id} cannot be reviewed: it does not include {table!r} "
            "(take a full sync, without resources=[...])"
        ) from exc


def _sort_key(item: ReviewItem) -> tuple[str, ...]:
    return (item.user_id.casefold(), item.grant_kind, item.group_label.casefold(), item.role_label.casefold())


def _latest_reviewable(store: SnapshotStore, account_id: str) -> str:
    """The newest complete snapshot holding every table a campaign reads.

    A snapshot of a few resources only (``resources=[...]``) is complete but cannot be
    reviewed; the newest full one is taken instead (and its age is checked like any other).
    """
    snapshots = store.snapshots(account_id)
    for info in reversed(snapshots):
        if all(table in info.row_counts for table in REVIEWED_TABLES):
            return info.sync_id
    if snapshots:
        raise SnapshotError(
            f"no complete snapshot of account {account_id} in {store.path} includes "
            f"{', '.join(REVIEWED_TABLES)}; take a full sync (without resources=[...])"
        )
    raise SnapshotError(f"no complete snapshot of account {account_id} in {store.path}")


def _check_age(manifest: Any, max_age_hours: float | None, now: datetime) -> None:
    if max_age_hours is None:
        return
    age = now - manifest.finished_at
    if age.total_seconds() > max_age_hours * 3600:
        hours = age.total_seconds() / 3600
        raise SnapshotTooOldError(
            f"snapshot {manifest.sync_id} of account {manifest.account_id} finished "
            f"{manifest.finished_at.isoformat()}, {hours:.1f} hours ago, more than "
            f"max_snapshot_age_hours={max_age_hours:g}; run the sync first (its schedule may "
            "have stopped), or raise max_snapshot_age_hours on purpose"
        )


def _findings_of(findings: Any, account_id: str, sync_id: str) -> StoredFindings:
    """The findings of exactly the reviewed snapshot, from a findings root or as given.

    :raises FindingsMismatchError: they are of another account or snapshot, or the root holds
        none for this snapshot (the message names the snapshots it does hold).
    """
    if not isinstance(findings, StoredFindings):
        try:
            return read_findings(findings, account_id, sync_id)
        except FindingsNotFoundError as exc:
            held = list_findings(findings, account_id)
            hint = (
                f"it holds findings of snapshot(s) {', '.join(held[-3:])} (latest last)"
                if held
                else "it holds no findings of this account"
            )
            raise FindingsMismatchError(
                f"the campaign reviews snapshot {sync_id} of account {account_id}, but the findings "
                f"root {findings} has no findings of it ({exc}); {hint}: compute the findings of "
                f"snapshot {sync_id} first (BoomiFindingsOperator), or review the snapshot the "
                "findings are of"
            ) from exc
    table_ids = {str(v) for v in findings.findings.column("sync_id").unique().to_pylist()}
    table_ids |= {str(v) for v in findings.identities.column("sync_id").unique().to_pylist()}
    if (findings.account_id, findings.sync_id) != (account_id, sync_id) or table_ids - {sync_id}:
        theirs = ", ".join(sorted(table_ids | {findings.sync_id}))
        raise FindingsMismatchError(
            f"the findings are of snapshot {theirs} of account {findings.account_id}, but the "
            f"campaign reviews snapshot {sync_id} of account {account_id}: flags from another "
            "snapshot would be wrong; give the findings of the reviewed snapshot"
        )
    return findings


def _findings_record(stored: StoredFindings, route_to_manager: bool) -> dict[str, Any]:
    """What ``campaign.json`` records of the findings the campaign used."""
    kinds = stored.findings.column("kind").to_pylist()
    users = stored.findings.column("user_id").to_pylist()
    return {
        "sync_id": stored.sync_id,
        "path": stored.path,
        "computed_at": stored.summary.get("computed_at"),
        "as_of": stored.summary.get("as_of"),
        "counts": {kind: kinds.count(kind) for kind in KINDS},
        "unknown_users": {
            kind: len({u for k, u in zip(kinds, users, strict=True) if k == kind})
            for kind in sorted(UNKNOWN_KINDS)
        },
        "route_to_manager": route_to_manager,
    }


def build_campaign(
    store_or_path: SnapshotStore | str | Path,
    account_id: str,
    sync_id: str | None = None,
    *,
    owners: Mapping[str, str] | None = None,
    default_reviewer: str | None = None,
    previous_campaign_dir: Any = None,
    campaign_id: str | None = None,
    created_at: datetime | None = None,
    definition: CampaignDefinition | Mapping[str, Any] | None = None,
    fallback_reviewer: str | None = None,
    owner_precedence: str | None = None,
    max_snapshot_age_hours: float | None = None,
    require_attestation: bool = False,
    findings: Any = None,
    route_to_manager: bool = False,
) -> Campaign:
    """Build a review campaign from one snapshot.

    The policy comes either from a ``definition`` (what a recurring campaign covers, who
    reviews and by when) or, as before definitions existed, from ``owners`` and the reviewer
    arguments; not both. Either way a reviewer never reviews their own access: an item whose
    reviewer is the item's user (same email, any case) goes to the fallback reviewer (the
    default reviewer when there is none); if that is the user too, the item has no reviewer.
    Both are recorded on the item (``routed_from``) and counted in :meth:`Campaign.summary`.
    The whole order (manager, owners, default, self-review) is :class:`~.owners.ReviewerRouting`.

    With findings (the ``findings`` argument, or a definition's ``findings_path``), each item
    carries the labels of the findings about its grant (:attr:`ReviewItem.findings`), the
    campaign records which findings it used (:attr:`Campaign.findings`), and the report gets
    a Findings section. They must be the findings of the reviewed snapshot: any other is
    refused (:class:`FindingsMismatchError`).

    :param store_or_path: a :class:`~airflow_provider_boomi.dataset.SnapshotStore` or its root
        path/URL.
    :param account_id: Boomi account id.
    :param sync_id: the snapshot to review; default the latest complete one that includes every
        table a campaign reads (:data:`REVIEWED_TABLES`).
    :param owners: role/group id or name -> reviewer (see :class:`~.owners.Owners`).
    :param default_reviewer: reviewer of grants no owner matches.
    :param previous_campaign_dir: a campaign directory, or a directory of campaign directories
        (local, an fsspec URL or an ``ObjectStoragePath``).
        The latest earlier campaign of the account defines ``is_new``; the recorded
        decisions of every earlier one define ``never_reviewed``. Without it,
        every grant is ``never_reviewed`` and ``is_new`` comes from the grant changes only.
    :param campaign_id: default ``uar-{account_id}-{sync_id}`` (with a definition:
        ``{name}-{account_id}-{sync_id}``), so that rebuilding (an Airflow retry) yields
        the same id.
    :param created_at: default now (UTC); also the time the snapshot's age is measured at, and
        the start the due date counts from.
    :param definition: a :class:`~.definition.CampaignDefinition` (or its mapping form): its
        owners, reviewers, precedence, kinds, ``only_privileged``, due date, maximum
        snapshot age and attestation rule apply; ``account_id`` must be one of its
        accounts when it lists any.
    :param fallback_reviewer: without a definition: reviewer of self-reviews.
    :param owner_precedence: without a definition: see :class:`~.owners.Owners`.
    :param max_snapshot_age_hours: without a definition: refuse an older snapshot (default: any
        age).
    :param require_attestation: without a definition: whether decisions read from the
        all-items workbook must carry a proven identity too (default false, as before
        per-reviewer workbooks existed).
    :param findings: the findings of the reviewed snapshot: a
        :class:`~airflow_provider_boomi.findings.StoredFindings`, or the findings root
        they were written to (local, fsspec URL or ``ObjectStoragePath``). With a
        definition, instead of its ``findings_path``.
    :param route_to_manager: without a definition: route each user's items to their manager
        from the identity source of ``findings`` (required then).
    :returns: The :class:`Campaign`; write its files with :func:`~.output.write_campaign`.
    :raises SnapshotError: no complete snapshot, or one without users, roles or grant tables.
    :raises SnapshotTooOldError: the snapshot finished longer ago than the maximum age.
    :raises FindingsMismatchError: the findings are not those of the reviewed snapshot.
    :raises ValueError: a definition together with owner arguments, an account the definition
        does not cover, or an invalid owners mapping or definition; ``route_to_manager``
        without findings.
    """
    now = (created_at or datetime.now(UTC)).astimezone(UTC)
    if definition is not None:
        definition = CampaignDefinition.from_mapping(definition)
        given = [
            name
            for name, value in (
                ("owners", owners),
                ("default_reviewer", default_reviewer),
                ("fallback_reviewer", fallback_reviewer),
                ("owner_precedence", owner_precedence),
                ("max_snapshot_age_hours", max_snapshot_age_hours),
                ("route_to_manager", route_to_manager),
                ("findings", findings is not None and definition.findings_path),
            )
            if value
        ]
        if given:
            raise ValueError(
                f"{', '.join(given)} given with a campaign definition; put them in the definition"
            )
        if definition.account_ids and account_id not in definition.account_ids:
            raise ValueError(
                f"account {account_id} is not one of the accounts of campaign definition "
                f"{definition.name!r} ({', '.join(definition.account_ids)})"
            )
        resolver = definition.owners_resolver()
        fallback = definition.fallback_reviewer
        findings = findings if findings is not None else definition.findings_path
        route_to_manager = definition.route_to_manager
        max_age: float | None = definition.max_snapshot_age_hours
        kinds = definition.grant_kinds
        only_privileged = definition.only_privileged
        attestation_required = definition.require_attestation
        id_prefix = definition.name
    else:
        resolver = Owners(owners, default_reviewer, owner_precedence or DEFAULT_OWNER_PRECEDENCE)
        fallback = fallback_reviewer
        max_age = max_snapshot_age_hours
        kinds = frozenset({GLOBAL_ROLE, GROUP_ROLE})
        only_privileged = False
        attestation_required = require_attestation
        id_prefix = "uar"
    if route_to_manager and findings is None:
        raise ValueError(
            "route_to_manager needs the findings of the snapshot: the managers come from the "
            "identity source they were computed with"
        )
    store = store_or_path if isinstance(store_or_path, SnapshotStore) else SnapshotStore(store_or_path)
    if sync_id is None:
        sync_id = _latest_reviewable(store, account_id)
    manifest = store.load_manifest(account_id, sync_id)
    _check_age(manifest, max_age, now)
    stored = _findings_of(findings, account_id, sync_id) if findings is not None else None
    labels = finding_labels_by_grant(stored.findings) if stored is not None else {}
    routing = ReviewerRouting(
        resolver,
        fallback,
        managers_by_user(stored.identities) if stored is not None and route_to_manager else None,
    )
    campaign_id = validate_campaign_id(
        campaign_id or re.sub(r"[^A-Za-z0-9._-]", "-", f"{id_prefix}-{account_id}-{sync_id}")
    )
    previous, reviewed = _history(previous_campaign_dir, account_id, campaign_id, sync_id)
    previous_ids = {item.item_id for item in previous.items} if previous else None

    users = {u["user_id"]: u for u in _read(store, account_id, sync_id, "users")}
    roles = {r["role_id"]: r for r in _read(store, account_id, sync_id, "roles")}
    global_grants = _read(store, account_id, sync_id, "user_role_grants")
    group_grants = _read(store, account_id, sync_id, "group_role_grants")
    changes, changes_since = _changes_since(store, account_id, sync_id, manifest.previous_sync_id, previous)
    added = {c["grant_id"] for c in changes if c["change_type"] == "added"}
    with_global = {g["user_id"] for g in global_grants}

    def make(grant: Mapping[str, Any], kind: GrantKind) -> ReviewItem:
        user = users.get(grant["user_id"], {})
        role = roles.get(grant["role_id"], {})
        name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
        group_id = grant.get("account_group_id")
        group_name = grant.get("account_group_name")
        role_name = grant.get("role_name") or role.get("name")
        grant_id = grant["grant_id"]
        email = user.get("email") or grant["user_id"].lower()
        privileged = _possibly_privileged(role)
        route = routing.route(
            user_id=grant["user_id"],
            email=email,
            role_id=grant["role_id"],
            role_name=role_name,
            account_group_id=group_id,
            account_group_name=group_name,
            is_privileged=privileged,
        )
        return ReviewItem(
            item_id=grant_id,
            grant_kind=kind,
            user_id=grant["user_id"],
            email=email,
            name=name,
            role_id=grant["role_id"],
            role_name=role_name,
            account_group_id=group_id,
            account_group_name=group_name,
            is_privileged=privileged,
            is_new=grant_id in added or (previous_ids is not None and grant_id not in previous_ids),
            never_reviewed=grant_id not in reviewed,
            only_via_group=grant["user_id"] not in with_global,
            reviewer=route.reviewer,
            routed_from=route.routed_from,
            findings=labels.get(grant_id, ()),
            via_manager=route.via_manager,
        )

    items = [make(g, GLOBAL_ROLE) for g in global_grants] + [make(g, GROUP_ROLE) for g in group_grants]
    items = [i for i in items if i.grant_kind in kinds and (i.is_privileged or not only_privileged)]
    items.sort(key=_sort_key)
    group_names = {g["account_group_id"]: g["account_group_name"] for g in group_grants}
    change_rows = tuple(_describe_change(c, users, roles, group_names) for c in changes)
    return Campaign(
        campaign_id=campaign_id,
        account_id=account_id,
        sync_id=sync_id,
        synced_at=manifest.synced_at,
        created_at=now,
        items=tuple(items),
        # Without an earlier snapshot every grant is "added": that is the baseline, not a change.
        changes=change_rows if changes_since else (),
        previous_sync_id=changes_since,
        previous_campaign_id=previous.campaign_id if previous else None,
        completeness=_completeness(
            manifest,
            {
                "users": len(users),
                "roles": len(roles),
                "user_role_grants": len(global_grants),
                "group_role_grants": len(group_grants),
            },
            roles,
        ),
        definition=definition.to_dict() if definition is not None else None,
        due_date=definition.due_date(now.date()) if definition is not None else None,
        attestation_required=attestation_required,
        findings=_findings_record(stored, route_to_manager) if stored is not None else None,
    )


def _completeness(
    manifest: Any, rows_read: Mapping[str, int], roles: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Completeness and accuracy of the reviewed snapshot: what an auditor tests first.

    Every table the campaign read is reconciled with the manifest (rows written by the sync
    against rows read back here), and the manifest's own record of where and how the snapshot
    was taken is carried along (snapshots written before this record existed have none).
    """
    extra = dict(manifest.extra or {})
    tables = {}
    for name, read in rows_read.items():
        entry = manifest.tables.get(name)
        tables[name] = {
            "rows_manifest": entry.rows if entry else None,
            "rows_read": read,
            "reconciled": entry is not None and entry.rows == read,
            "sha256": entry.sha256 if entry else None,
        }
    return {
        "source": extra.get("source", {"account_id": manifest.account_id}),
        "extraction": {
            "started_at": manifest.started_at.isoformat(),
            "finished_at": manifest.finished_at.isoformat(),
            "synced_at": manifest.synced_at.isoformat(),
            "producer": dict(manifest.producer),
        },
        "parameters": extra.get("parameters", {"resources": list(manifest.resources)}),
        "privileged_policy": extra.get("privileged_policy"),
        "tables": tables,
        "warnings": list(manifest.warnings),
        "api_stats": dict(manifest.api_stats),
        "roles": [
            {
                "role_id": role_id,
                "name": role.get("name"),
                "description": role.get("description"),
                "privileges": _as_list(role.get("privileges")),
                "effective_privileges": _as_list(role.get("effective_privileges")),
                "is_privileged": role.get("is_privileged"),
            }
            for role_id, role in sorted(roles.items(), key=lambda kv: (str(kv[1].get("name")), kv[0]))
        ],
    }


def _as_list(value: Any) -> list[str] | None:
    return None if value is None else [str(v) for v in value]


def _changes_since(
    store: SnapshotStore,
    account_id: str,
    sync_id: str,
    previous_snapshot: str | None,
    previous: Campaign | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The grant changes a reviewer should see, and the snapshot they are relative to.

    Relative to the snapshot the previous campaign reviewed, when there is one and it is still
    in the store: the changes *since the last review*, including what that review's decisions
    revoked (a snapshot taken after applying them sits in between and would hide them).
    Otherwise relative to the previous snapshot (its ``grant_changes``); ``None`` with the
    first snapshot, whose changes (every grant added) mark items new but are not shown.
    """
    if previous is not None and previous.sync_id != sync_id:
        try:
            return diff_snapshots(store, account_id, previous.sync_id, sync_id).to_pylist(), previous.sync_id
        except SnapshotError:
            pass  # the reviewed snapshot is gone (or lacks a grant table): fall back below
    try:
        # The first snapshot's grant_changes list every grant as added: new, but not a change.
        changes = store.read_table(account_id, sync_id, "grant_changes").to_pylist()
    except TableNotInSnapshotError:
        return [], None
    return changes, previous_snapshot


def _describe_change(
    change: Mapping[str, Any],
    users: Mapping[str, Mapping[str, Any]],
    roles: Mapping[str, Mapping[str, Any]],
    group_names: Mapping[str, Any],
) -> dict[str, Any]:
    user = users.get(change["user_id"], {})
    role = roles.get(change["role_id"], {})
    group_id = change.get("account_group_id")
    return {
        "change_type": change["change_type"],
        "grant_kind": change["grant_kind"],
        "grant_id": change["grant_id"],
        "user_id": change["user_id"],
        # A removed user has no row in this snapshot; the id is their login email anyway.
        "email": user.get("email") or change["user_id"].lower(),
        "role_id": change["role_id"],
        "role_name": role.get("name"),
        "account_group_id": group_id,
        "account_group_name": group_names.get(group_id) if group_id else None,
        "is_privileged": _possibly_privileged(role),
    }


def _possibly_privileged(role: Mapping[str, Any]) -> bool:
    """A role is flagged unless the snapshot says it is not privileged: a role missing from the
    snapshot, or with unknown privileges (null), is possibly privileged and is never filtered out."""
    return role.get("is_privileged") is not False
