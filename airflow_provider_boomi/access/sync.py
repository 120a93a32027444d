"""Sync one Boomi account into a complete snapshot.

Boomi answers 100 rows a page, a ``queryToken`` chain is sequential and the rate limit is per
account (DESIGN §5). So the sync runs the independent chains (roles, global role rows, account
groups, and one chain per account group for its group-role rows) concurrently on a thread pool;
every request goes through the client's one limiter for the account, so concurrency fills the
limit instead of exceeding it. Pages flow through a bounded queue to the calling thread, which
turns them into rows and streams them to Parquet: memory holds a few pages plus one small
aggregate per user, not the account.

Users have no endpoint of their own: they are the distinct ``userId`` values of the role rows.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_boomi.access.roles import PrivilegePolicy, RoleCatalog
from airflow_provider_boomi.client import BoomiClient, BoomiPermissionError, QueryFilter
from airflow_provider_boomi.dataset import SnapshotWriter
from airflow_provider_boomi.dataset.grant_ids import grant_id, group_entitlement_id, role_entitlement_id
from airflow_provider_boomi.dataset.schemas import SYNCED_TABLES

log = logging.getLogger(__name__)

#: What a sync can extract; ``resources`` of :class:`SyncOptions` takes any subset.
ALL_RESOURCES: tuple[str, ...] = SYNCED_TABLES

# Which query chains each table needs. Users are derived from both kinds of grant rows, and
# grant rows carry role and group names, so most tables need more than their own chain.
_CHAINS_FOR: Mapping[str, frozenset[str]] = {
    "roles": frozenset({"roles"}),
    "account_groups": frozenset({"groups"}),
    "user_role_grants": frozenset({"roles", "user_roles"}),
    "group_role_grants": frozenset({"roles", "groups", "group_roles"}),
    "users": frozenset({"roles", "user_roles", "groups", "group_roles"}),
}

_PAGE_QUEUE_SIZE = 64  # pages in flight between the fetching threads and the writer
_PAGE_SIZE = 100  # Boomi's page size: a full page means the chain goes on
_PROBE_PAGES = 3  # full pages after which the single AccountUserRole chain is split
_SPLIT_CHAINS = 8  # chains the global-role rows are split into (see split_user_roles)
_PROBE = "probe"  # context of the single AccountUserRole chain in "auto" split mode


@dataclass(frozen=True)
class SyncOptions:
    """How to sync.

    Attributes:
        resources: tables to extract (default all five; ``grant_changes`` follows the grant tables).
        privilege_policy: which roles count as privileged.
        max_workers: concurrent query chains; the shared rate limiter caps the request rate, so
            this only needs to cover rate x latency (10/s x 0.25 s = 2.5 in flight).
        account_groups_forbidden: on a 403 from AccountGroup (a non-primary account), ``"empty"``
            writes empty group tables and flags the manifest; ``"fail"`` fails the sync.
        split_user_roles: ``"never"`` reads all AccountUserRole rows in one sequential chain
            (the fewest calls). ``"by_role"`` reads them in up to 8 chains, each over a share of
            the roles, plus one chain for rows naming roles the Role query did not return, so a
            long chain cannot become the bottleneck (about half a page more per chain).
            ``"auto"`` (default) starts the single chain and splits it only after its first
            three pages all come back full, i.e. when the account has more than 300 global role
            rows (those three calls are then wasted; smaller accounts keep the single chain).
        progress_interval: seconds between progress lines in the log.
    """

    resources: tuple[str, ...] = ALL_RESOURCES
    privilege_policy: PrivilegePolicy = field(default_factory=PrivilegePolicy)
    max_workers: int = 8
    account_groups_forbidden: Literal["empty", "fail"] = "empty"
    split_user_roles: Literal["never", "by_role", "auto"] = "auto"
    progress_interval: float = 10.0

    def __post_init__(self) -> None:
        unknown = [r for r in self.resources if r not in ALL_RESOURCES]
        if unknown or not self.resources:
            raise ValueError(
                f"resources must be a non-empty subset of {', '.join(ALL_RESOURCES)}; "
                f"got {list(self.resources)}"
            )
        if self.max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        if self.account_groups_forbidden not in ("empty", "fail"):
            raise ValueError("account_groups_forbidden must be 'empty' or 'fail'")
        if self.split_user_roles not in ("never", "by_role", "auto"):
            raise ValueError("split_user_roles must be 'never', 'by_role' or 'auto'")


@dataclass(frozen=True)
class SyncResult:
    """What a finished sync produced: small enough for XCom."""

    account_id: str
    sync_id: str
    snapshot_path: str
    manifest_path: str
    row_counts: dict[str, int]
    api_stats: dict[str, Any]
    account_groups_available: bool
    warnings: list[str]
    duration_seconds: float

    def as_xcom(self) -> dict[str, Any]:
        """The operator's return value: pointers and counts, never data or secrets."""
        return {
            "account_id": self.account_id,
            "sync_id": self.sync_id,
            "snapshot_path": self.snapshot_path,
            "manifest_path": self.manifest_path,
            "row_counts": dict(self.row_counts),
        }


@dataclass
class _UserAggregate:
    user_id: str
    first_name: str | None
    last_name: str | None
    global_roles: int = 0
    group_roles: int = 0
    privileged: bool = False


@dataclass
class _Progress:
    """Per-table counters, logged every ``interval`` seconds and once at the end."""

    client: BoomiClient
    interval: float
    started: float = field(default_factory=time.monotonic)
    pages: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    _last_log: float = field(default_factory=time.monotonic)

    def page(self, chain: str, rows: int) -> None:
        self.pages[chain] = self.pages.get(chain, 0) + 1
        self.rows[chain] = self.rows.get(chain, 0) + rows
        if time.monotonic() - self._last_log >= self.interval:
            self.log("progress")

    def log(self, label: str) -> None:
        self._last_log = time.monotonic()
        elapsed = max(time.monotonic() - self.started, 1e-9)
        stats = self.client.stats.as_dict()
        per_chain = ", ".join(
            f"{chain}: {self.pages[chain]} pages / {self.rows.get(chain, 0)} rows"
            for chain in sorted(self.pages)
        )
        log.info(
            "Boomi sync %s after %.1fs: %s; %d requests (%.1f/s), %.1fs of thread time waiting on the "
            "rate limiter, "
            "%d retries, %d throttled (503/429)",
            label,
            elapsed,
            per_chain or "no pages yet",
            stats.get("calls", 0),
            stats.get("calls", 0) / elapsed,
            stats.get("throttle_wait_seconds", 0.0),
            stats.get("retries", 0),
            stats.get("status_503", 0) + stats.get("status_429", 0),
        )


class _SyncRun:
    """One sync: fetch threads put pages on a queue; the calling thread writes them."""

    def __init__(self, client: BoomiClient, writer: SnapshotWriter, options: SyncOptions) -> None:
        self.client = client
        self.writer = writer
        self.options = options
        self.account_id = client.config.account_id
        self.chains: frozenset[str] = frozenset().union(*(_CHAINS_FOR[r] for r in options.resources))
        self.pages: queue.Queue[tuple[str, Any, Any]] = queue.Queue(maxsize=_PAGE_QUEUE_SIZE)
        self.cancelled = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=options.max_workers, thread_name_prefix="boomi-sync")
        self.running = 0
        self.progress = _Progress(client, options.progress_interval)
        self.warnings: list[str] = []
        self.role_rows: list[Mapping[str, Any]] = []
        self.catalog: RoleCatalog | None = None
        self.groups: dict[str, Mapping[str, Any]] = {}
        self.account_groups_available = "groups" in self.chains
        self.users: dict[str, _UserAggregate] = {}
        self.split_requested = False
        self.pending_grants: list[tuple[str, Any, Any]] = []  # grant pages that arrived before the roles
        self.unknown_roles: dict[str, int] = {}
        self.unknown_groups: dict[str, int] = {}
        self._table_writers: dict[str, Any] = {}

    # ---- fetching (worker threads) -------------------------------------------------------

    def _start(
        self, chain: str, object_type: str, query_filter: QueryFilter | None, context: Any = None
    ) -> None:
        self.running += 1
        self.pool.submit(self._fetch, chain, object_type, query_filter, context)

    def _put(self, item: tuple[str, Any, Any]) -> None:
        # A bounded put that gives up when the run is cancelled, so no thread blocks forever
        # on a writer that has stopped reading.
        while not self.cancelled.is_set():
            try:
                self.pages.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _fetch(self, chain: str, object_type: str, query_filter: QueryFilter | None, context: Any) -> None:
        probed: list[list[dict[str, Any]]] = []
        try:
            for page in self.client.query_pages(object_type, query_filter):
                if self.cancelled.is_set():
                    return
                if context == _PROBE:
                    # Hold the first pages back: if they are all full, the chain is long enough to
                    # be the bottleneck, and the writer thread restarts it split by role (these
                    # pages are dropped, since the split chains read them again).
                    probed.append(page)
                    if len(page) < _PAGE_SIZE or len(probed) < _PROBE_PAGES:
                        continue
                    self._put(("split", chain, None))
                    return
                self._put((chain, context, page))
            for page in probed:  # a short chain: keep what the probe read
                self._put((chain, context, page))
            self._put(("done", chain, context))
        except BaseException as exc:  # handed to the writer thread, which decides
            self._put(("error", chain, exc))

    # ---- the writer thread ---------------------------------------------------------------

    def run(self) -> None:
        if "roles" in self.chains:
            self._start("roles", "Role", None)
        if "user_roles" in self.chains and self.options.split_user_roles != "by_role":
            probe = _PROBE if self.options.split_user_roles == "auto" else None
            self._start(
                "user_roles", "AccountUserRole", QueryFilter.equals("accountId", self.account_id), probe
            )
        if "groups" in self.chains:
            self._start("groups", "AccountGroup", None)
        try:
            while self.running:
                try:
                    kind, context, payload = self.pages.get(timeout=self.options.progress_interval)
                except queue.Empty:
                    self.progress.log("progress")
                    continue
                self._handle(kind, context, payload)
            self._finish_tables()
        finally:
            self.cancelled.set()
            self.pool.shutdown(wait=True, cancel_futures=True)
            for table_writer in self._table_writers.values():
                table_writer.close()
            self._table_writers.clear()

    def _handle(self, kind: str, context: Any, payload: Any) -> None:
        if kind == "done":
            self.running -= 1
            self._chain_done(context)
            return
        if kind == "error":
            self.running -= 1
            self._chain_failed(context, payload)
            return
        if kind == "split":
            self.running -= 1
            self.split_requested = True
            if self.catalog is not None:
                self._start_user_role_chains_by_role()
            return
        self.progress.page(kind, len(payload))
        if kind == "roles":
            self.role_rows.extend(payload)
        elif kind == "groups":
            for group in payload:
                self._add_group(group)
        elif self.catalog is None and "roles" in self.chains:
            self.pending_grants.append((kind, context, payload))
        else:
            self._write_grants(kind, context, payload)

    def _chain_done(self, chain: str) -> None:
        if chain == "roles":
            self.catalog = RoleCatalog.from_api_rows(self.role_rows, self.options.privilege_policy)
            if "roles" in self.options.resources:
                self._table("roles").write_batch(
                    [r.as_row() | {"name": r.name or ""} for r in self.catalog.roles.values()]
                )
            if "user_roles" in self.chains and (
                self.options.split_user_roles == "by_role" or self.split_requested
            ):
                self._start_user_role_chains_by_role()
            for kind, context, payload in self.pending_grants:
                self._write_grants(kind, context, payload)
            self.pending_grants.clear()
        elif chain == "groups" and not self.groups:
            # Zero groups: a non-primary account (the C1 connector's "empty results").
            self.account_groups_available = False

    def _chain_failed(self, chain: str, exc: BaseException) -> None:
        if (
            chain == "groups"
            and isinstance(exc, BoomiPermissionError)
            and self.options.account_groups_forbidden == "empty"
        ):
            self.account_groups_available = False
            self.warnings.append(
                "AccountGroup query was refused (403): treated as a non-primary account without account "
                "groups; the group tables are empty. Set account_groups_forbidden='fail' to fail instead."
            )
            log.warning("Boomi sync: %s", self.warnings[-1])
            return
        raise exc

    def _start_user_role_chains_by_role(self) -> None:
        assert self.catalog is not None
        account = QueryFilter.equals("accountId", self.account_id)
        role_ids = sorted(self.catalog.roles)
        # A few chains, each over a share of the roles, cut the long chain to a fraction while
        # adding only about half a page per chain (one chain per role would add half a page per
        # role: 30 calls for 60 roles).
        chains = min(_SPLIT_CHAINS, len(role_ids))
        for i in range(chains):
            share = [QueryFilter.equals("roleId", role_id) for role_id in role_ids[i::chains]]
            roles = share[0] if len(share) == 1 else QueryFilter.any_of(*share)
            self._start("user_roles", "AccountUserRole", QueryFilter.all_of(account, roles))
        # Rows naming a role the Role query did not return would be missed by those chains;
        # one more chain for "none of the known roles" keeps the snapshot complete.
        others = [QueryFilter.not_equals("roleId", role_id) for role_id in role_ids]
        self._start("user_roles", "AccountUserRole", QueryFilter.all_of(account, *others))

    def _add_group(self, group: Mapping[str, Any]) -> None:
        group_id = group.get("id")
        if not group_id or group_id in self.groups:
            return
        self.groups[str(group_id)] = group
        if "account_groups" in self.options.resources:
            self._table("account_groups").write_batch(
                [
                    {
                        "account_group_id": str(group_id),
                        "name": group.get("name"),
                        "default_group": _as_bool(group.get("defaultGroup")),
                        "auto_subscribe_alert_level": group.get("autoSubscribeAlertLevel"),
                    }
                ]
            )
        if "group_roles" in self.chains:
            self._start(
                "group_roles",
                "AccountGroupUserRole",
                QueryFilter.equals("accountGroupId", str(group_id)),
                context=str(group_id),
            )

    # ---- rows ----------------------------------------------------------------------------

    def _user(self, row: Mapping[str, Any]) -> _UserAggregate:
        user_id = str(row["userId"])
        key = user_id.lower()
        user = self.users.get(key)
        if user is None:
            user = self.users[key] = _UserAggregate(user_id, row.get("firstName"), row.get("lastName"))
        else:
            user.first_name = user.first_name or row.get("firstName")
            user.last_name = user.last_name or row.get("lastName")
        return user

    def _role_name(self, role_id: str) -> str | None:
        if self.catalog is None:
            return None
        info = self.catalog.get(role_id)
        if info is None:
            self.unknown_roles[role_id] = self.unknown_roles.get(role_id, 0) + 1
            return None
        return info.name

    def _is_privileged(self, role_id: str) -> bool:
        info = self.catalog.get(role_id) if self.catalog else None
        return bool(info and info.is_privileged)

    def _write_grants(self, kind: str, context: Any, page: list[Mapping[str, Any]]) -> None:
        rows = []
        for raw in page:
            user_id, role_id, boomi_id = raw.get("userId"), raw.get("roleId"), raw.get("id")
            if not user_id or not role_id or not boomi_id:
                self.warnings.append(f"skipped a {kind} row without userId, roleId or id: {_describe(raw)}")
                continue
            user_id, role_id = str(user_id), str(role_id)
            user = self._user(raw)
            privileged = self._is_privileged(role_id)
            user.privileged = user.privileged or privileged
            if kind == "user_roles":
                user.global_roles += 1
                rows.append(
                    {
                        "grant_id": grant_id(role_entitlement_id(role_id), user_id),
                        "boomi_id": str(boomi_id),
                        "user_id": user_id,
                        "role_id": role_id,
                        "role_name": self._role_name(role_id),
                    }
                )
            else:
                group_id = str(raw.get("accountGroupId") or context)
                group = self.groups.get(group_id)
                if group is None:
                    self.unknown_groups[group_id] = self.unknown_groups.get(group_id, 0) + 1
                user.group_roles += 1
                rows.append(
                    {
                        "grant_id": grant_id(group_entitlement_id(group_id, role_id), user_id),
                        "boomi_id": str(boomi_id),
                        "user_id": user_id,
                        "account_group_id": group_id,
                        "account_group_name": group.get("name") if group else None,
                        "role_id": role_id,
                        "role_name": self._role_name(role_id),
                    }
                )
        table = "user_role_grants" if kind == "user_roles" else "group_role_grants"
        if rows and table in self.options.resources:
            self._table(table).write_batch(rows)

    def _table(self, name: str) -> Any:
        table_writer = self._table_writers.get(name)
        if table_writer is None:
            table_writer = self._table_writers[name] = self.writer.open_table(name)
        return table_writer

    def _finish_tables(self) -> None:
        if "users" in self.options.resources:
            self._table("users").write_batch(
                [
                    {
                        "user_id": u.user_id,
                        "email": u.user_id.lower(),
                        "first_name": u.first_name,
                        "last_name": u.last_name,
                        "global_role_count": u.global_roles,
                        "group_role_count": u.group_roles,
                        "is_privileged": u.privileged,
                        "is_account_member": u.global_roles > 0,
                    }
                    for u in self.users.values()
                ]
            )
        # Tables with no rows still exist in the snapshot, with their exact schema.
        for table in self.options.resources:
            self._table(table).write_batch([])
        for role_id, count in sorted(self.unknown_roles.items()):
            self.warnings.append(
                f"{count} grant row(s) name role {role_id}, which the Role query did not return"
            )
        for group_id, count in sorted(self.unknown_groups.items()):
            self.warnings.append(
                f"{count} group-role row(s) name account group {group_id}, "
                "which the AccountGroup query did not return"
            )
        only_groups = sum(1 for u in self.users.values() if u.global_roles == 0)
        if only_groups and "users" in self.options.resources:
            log.info(
                "Boomi sync: %d user(s) hold only account-group roles (is_account_member false)", only_groups
            )


def _as_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def _describe(raw: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}={v!r}" for k, v in raw.items() if k in ("id", "userId", "roleId", "accountGroupId")
    )


def sync_account(
    client: BoomiClient,
    output_path: Any,
    *,
    options: SyncOptions | None = None,
    storage_options: dict[str, Any] | None = None,
    sync_id: str | None = None,
) -> SyncResult:
    """Sync one Boomi account into a new snapshot under ``output_path`` and return where it is.

    The snapshot is complete or absent: if anything fails, what was written is removed, no
    manifest is written and the exception propagates. ``output_path`` is a local path, any
    fsspec URL, or an Airflow ``ObjectStoragePath``.
    """
    options = options or SyncOptions()
    started = time.monotonic()
    writer = SnapshotWriter(
        output_path, client.config.account_id, sync_id=sync_id, storage_options=storage_options
    )
    run = _SyncRun(client, writer, options)
    log.info(
        "Boomi sync of account %s started: sync_id %s, tables %s",
        client.config.account_id,
        writer.sync_id,
        ", ".join(options.resources),
    )
    try:
        run.run()
        manifest = writer.commit(
            api_stats=client.stats.as_dict(),
            warnings=run.warnings,
            account_groups_available=run.account_groups_available,
            resources=list(options.resources),
        )
    except BaseException:
        writer.abort()
        log.error("Boomi sync of account %s failed; no snapshot was written", client.config.account_id)
        raise
    run.progress.log("finished")
    row_counts = manifest.row_counts
    result = SyncResult(
        account_id=client.config.account_id,
        sync_id=writer.sync_id,
        snapshot_path=writer.path,
        manifest_path=writer.manifest_path,
        row_counts=row_counts,
        api_stats=client.stats.as_dict(),
        account_groups_available=run.account_groups_available,
        warnings=list(run.warnings),
        duration_seconds=time.monotonic() - started,
    )
    log.info(
        "Boomi sync of account %s finished in %.1fs: %s; %d API calls; snapshot %s",
        result.account_id,
        result.duration_seconds,
        ", ".join(f"{k}={v}" for k, v in row_counts.items()),
        result.api_stats.get("calls", 0),
        result.snapshot_path,
    )
    return result
