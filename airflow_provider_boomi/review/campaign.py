"""Access-review campaigns: one review item per grant of a snapshot, with flags and reviewers.

A campaign is built from one complete snapshot (global and group grants, users, roles and the
grant changes) and, optionally, the earlier campaigns of the same account, which tell which
grants are new since the last review and which were never reviewed at all. It is plain data;
:mod:`.output` writes the reviewer files and :mod:`.decisions` reads the answers back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from airflow_provider_boomi.dataset import SnapshotError, SnapshotStore, TableNotInSnapshotError
from airflow_provider_boomi.dataset.diff import diff_snapshots
from airflow_provider_boomi.dataset.paths import validate_path_component

from ._storage import folder
from .owners import Owners

__all__ = [
    "CAMPAIGN_FILE",
    "DECISIONS_FILE",
    "Campaign",
    "ReviewItem",
    "build_campaign",
    "find_campaigns",
    "load_campaign",
    "validate_campaign_id",
]

#: Campaign metadata and items, written last into a campaign directory.
CAMPAIGN_FILE = "campaign.json"
#: Validated decisions of a campaign (see :func:`~.decisions.record_decisions`).
DECISIONS_FILE = "decisions.json"

CAMPAIGN_FORMAT_VERSION = 1

GrantKind = Literal["global_role", "group_role"]


def validate_campaign_id(campaign_id: str) -> str:
    """Return ``campaign_id`` if usable in file names, else raise ``ValueError``.

    The id becomes a folder and file names, so it follows the one rule for ids that become
    paths (:func:`~airflow_provider_boomi.dataset.paths.validate_path_component`).
    """
    return validate_path_component(campaign_id, "campaign_id", where="file and folder names")


@dataclass(frozen=True)
class ReviewItem:
    """One grant to review.

    Attributes:
        item_id: the grant id (baton convention), unique within a campaign.
        grant_kind: ``global_role`` or ``group_role``.
        user_id: Boomi userId.
        email: lower-cased email (may be ``None`` if the snapshot has no user row).
        name: first and last name.
        role_id: Boomi role id.
        role_name: role name, when known.
        account_group_id: account group id (group grants only).
        account_group_name: account group name (group grants only).
        is_privileged: the role is privileged.
        is_new: not in the previous campaign, or added since the previous snapshot.
        never_reviewed: no earlier campaign recorded a decision for this grant id.
        only_via_group: the user holds no global role; all their access is through groups.
        reviewer: who should decide, from the owners mapping (``None`` if nobody matched).
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

    @property
    def role_label(self) -> str:
        """Role name, or its id when the name is unknown."""
        return self.role_name or self.role_id

    @property
    def group_label(self) -> str:
        """Group name (or id) for group grants, empty for global grants."""
        return self.account_group_name or self.account_group_id or ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in ``campaign.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewItem:
        """Rebuild from :meth:`to_dict`."""
        values: dict[str, Any] = {name: data.get(name) for name in cls.__dataclass_fields__}
        return cls(**values)


@dataclass(frozen=True)
class Campaign:
    """An access-review campaign over one snapshot.

    Attributes:
        campaign_id: id used in file names and in the ``reason`` of every change.
        account_id: Boomi account id.
        sync_id: the snapshot reviewed.
        synced_at: the snapshot's time.
        created_at: when the campaign was built.
        items: one item per grant, sorted by user, kind, group and role.
        changes: grant changes since the previous snapshot (dicts with ``change_type``,
            ``grant_kind``, ``grant_id``, ``user_id``, ``email``, ``role_id``, ``role_name``,
            ``account_group_id``, ``account_group_name``).
        previous_sync_id: the snapshot the changes are relative to: the one the previous
            campaign reviewed when there is one, else the previous snapshot (``None`` for the
            first).
        previous_campaign_id: the campaign ``is_new`` is relative to, if any.
        completeness: evidence of completeness and accuracy of the reviewed snapshot, for the
            report and the evidence bundle: ``source`` (API and account), ``extraction``
            (start, end, snapshot time), ``parameters`` and ``privileged_policy`` of the sync,
            ``tables`` (rows in the manifest, rows the campaign read, ``reconciled``, sha256),
            ``warnings`` of the manifest, ``api_stats``, and ``roles`` (each role's privileges).
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

    def summary(self) -> dict[str, int]:
        """Counts for reports and logs."""
        items = self.items
        return {
            "items": len(items),
            "users": len({i.user_id for i in items}),
            "global_grants": sum(i.grant_kind == "global_role" for i in items),
            "group_grants": sum(i.grant_kind == "group_role" for i in items),
            "privileged": sum(i.is_privileged for i in items),
            "new": sum(i.is_new for i in items),
            "never_reviewed": sum(i.never_reviewed for i in items),
            "only_via_group_users": len({i.user_id for i in items if i.only_via_group}),
            "without_reviewer": sum(i.reviewer is None for i in items),
            "reviewers": len({i.reviewer for i in items if i.reviewer}),
            "changes_added": sum(c.get("change_type") == "added" for c in self.changes),
            "changes_removed": sum(c.get("change_type") == "removed" for c in self.changes),
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
        )


def load_campaign(campaign_dir: Any) -> Campaign:
    """Read the campaign written by :func:`~.output.write_campaign` into ``campaign_dir``.

    ``campaign_dir`` is a local folder, an fsspec URL (``s3://bucket/reviews/<id>``) or an
    ``ObjectStoragePath``.

    Raises:
        FileNotFoundError: the directory has no ``campaign.json``.
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
    where = folder(campaign_dir)
    if not where.has_file(DECISIONS_FILE):
        return set()
    data = json.loads(where.read_bytes(DECISIONS_FILE).decode("utf-8"))
    return {str(d["item_id"]) for d in data.get("decisions", []) if d.get("decision")}


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
) -> Campaign:
    """Build a review campaign from one snapshot.

    Args:
        store_or_path: a :class:`~airflow_provider_boomi.dataset.SnapshotStore` or its root
            path/URL.
        account_id: Boomi account id.
        sync_id: the snapshot to review; default the latest complete one.
        owners: role/group id or name -> reviewer (see :class:`~.owners.Owners`).
        default_reviewer: reviewer of grants no owner matches.
        previous_campaign_dir: a campaign directory, or a directory of campaign directories
            (local, an fsspec URL or an ``ObjectStoragePath``).
            The latest earlier campaign of the account defines ``is_new``; the
            ``decisions.json`` of every earlier one defines ``never_reviewed``. Without it,
            every grant is ``never_reviewed`` and ``is_new`` comes from the grant changes only.
        campaign_id: default ``uar-{account_id}-{sync_id}``, so that rebuilding (an Airflow
            retry) yields the same id.
        created_at: default now (UTC).

    Returns:
        The :class:`Campaign`; write its files with :func:`~.output.write_campaign`.

    Raises:
        SnapshotError: no complete snapshot, or one without users, roles or grant tables.
    """
    store = store_or_path if isinstance(store_or_path, SnapshotStore) else SnapshotStore(store_or_path)
    if sync_id is None:
        latest = store.latest(account_id)
        if latest is None:
            raise SnapshotError(f"no complete snapshot of account {account_id} in {store.path}")
        sync_id = latest.sync_id
    manifest = store.load_manifest(account_id, sync_id)
    campaign_id = validate_campaign_id(
        campaign_id or re.sub(r"[^A-Za-z0-9._-]", "-", f"uar-{account_id}-{sync_id}")
    )
    resolver = Owners(owners, default_reviewer)
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
        return ReviewItem(
            item_id=grant_id,
            grant_kind=kind,
            user_id=grant["user_id"],
            email=user.get("email") or grant["user_id"].lower(),
            name=name,
            role_id=grant["role_id"],
            role_name=role_name,
            account_group_id=group_id,
            account_group_name=group_name,
            is_privileged=_possibly_privileged(role),
            is_new=grant_id in added or (previous_ids is not None and grant_id not in previous_ids),
            never_reviewed=grant_id not in reviewed,
            only_via_group=grant["user_id"] not in with_global,
            reviewer=resolver.reviewer_for(
                role_id=grant["role_id"],
                role_name=role_name,
                account_group_id=group_id,
                account_group_name=group_name,
            ),
        )

    items = [make(g, "global_role") for g in global_grants] + [make(g, "group_role") for g in group_grants]
    items.sort(key=_sort_key)
    group_names = {g["account_group_id"]: g["account_group_name"] for g in group_grants}
    change_rows = tuple(_describe_change(c, users, roles, group_names) for c in changes)
    return Campaign(
        campaign_id=campaign_id,
        account_id=account_id,
        sync_id=sync_id,
        synced_at=manifest.synced_at,
        created_at=(created_at or datetime.now(UTC)).astimezone(UTC),
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
