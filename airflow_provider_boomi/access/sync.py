"""Sync one Boomi account into a complete snapshot.

Boomi answers 100 rows a page, a ``queryToken`` chain is sequential and the rate limit is per
account (DESIGN §5). So the sync runs the independent chains (roles, global role rows, account
groups, and one chain per account group for its group-role rows) concurrently on a thread pool;
every request goes through the client's one limiter for the account, so concurrency fills the
limit instead of exceeding it. Pages flow through a bounded queue to the calling thread, which
turns them into rows and streams them to Parquet: memory holds a few pages plus one small
aggregate per user, not the account.

Users have no endpoint of their own: they are the distinct ``userId`` values of the role rows.

The sync checks itself, because Boomi's documentation leaves open how some answers look
(reference §g): every row is checked against the filter of the chain that read it and dropped
if outside it (a split by ``roleId`` that Boomi ignored or refused falls back to one chain);
rows are unique by Boomi id whatever the chains return; roles named by grants but missing from
``Role/query`` are read by id; a refused page token restarts its chain. What a check caught is
a warning in the manifest; what cannot be made exact fails the sync with no snapshot.
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

from airflow_provider_boomi.access.catalog import RoleSource
from airflow_provider_boomi.access.roles import PrivilegePolicy, RoleCatalog
from airflow_provider_boomi.client import (
    BoomiBadRequestError,
    BoomiClient,
    BoomiError,
    BoomiNotFoundError,
    BoomiPermissionError,
    BoomiQueryTokenError,
    QueryFilter,
    Role,
)
from airflow_provider_boomi.dataset import SnapshotStore, SnapshotWriter
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

# Errors that say "this account has no account groups" on a non-primary account (§g.6): 403,
# or 400/404 "unknown object type", depending on how Boomi answers.
_GROUPS_UNAVAILABLE = (BoomiPermissionError, BoomiBadRequestError, BoomiNotFoundError)


class SyncConsistencyError(RuntimeError):
    """Boomi's answers contradict themselves or an earlier snapshot; no snapshot was written.

    The message names the open question of the API reference (§g) and the setting to change.
    """


@dataclass(frozen=True)
class SyncOptions:
    """How to sync.

    Attributes:
        resources: tables to extract (default all five; ``grant_changes`` follows the grant tables).
        privilege_policy: which roles count as privileged.
        builtin_inheritance: follow ``parentId`` of built-in roles when resolving effective
            privileges (§g.3). Off by default: built-ins keep the privileges Boomi lists.
        max_workers: concurrent query chains; the shared rate limiter caps the request rate, so
            this only needs to cover rate x latency (10/s x 0.25 s = 2.5 in flight).
        account_groups_unavailable: on a 403, 400 or 404 from AccountGroup (a non-primary
            account, §g.6), ``"empty"`` writes empty group tables and flags the manifest;
            ``"fail"`` fails the sync. Either way, an account whose previous snapshot had account
            groups fails: groups that vanish behind an error are not silently lost.
        split_user_roles: ``"never"`` reads all AccountUserRole rows in one sequential chain
            (the fewest calls). ``"by_role"`` reads them in up to 8 chains, each over a share of
            the roles, plus one chain for rows naming roles the Role query did not return, so a
            long chain cannot become the bottleneck (about half a page more per chain).
            ``"auto"`` (default) starts the single chain and splits it only after its first
            three pages all come back full, i.e. when the account has more than 300 global role
            rows (those three calls are then wasted; smaller accounts keep the single chain).
        on_ignored_filter: every row is checked against the filter of the chain that read it.
            A row outside a split chain's ``roleId`` filter means Boomi ignored the term (§g.1);
            a 400 on it means Boomi refuses it. ``"fallback"`` (default) stops the split chains
            and reads the rows in one chain (warned in the manifest); ``"fail"`` fails the sync.
            Rows outside their chain's filter are never written, and no row is written twice.
        max_chain_restarts: how often one chain may start again from its first page after Boomi
            refused its page token (§g.7); beyond that the sync fails.
        progress_interval: seconds between progress lines in the log.
    """

    resources: tuple[str, ...] = ALL_RESOURCES
    privilege_policy: PrivilegePolicy = field(default_factory=PrivilegePolicy)
    builtin_inheritance: bool = False
    max_workers: int = 8
    account_groups_unavailable: Literal["empty", "fail"] = "empty"
    split_user_roles: Literal["never", "by_role", "auto"] = "auto"
    on_ignored_filter: Literal["fallback", "fail"] = "fallback"
    max_chain_restarts: int = 2
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
        if self.account_groups_unavailable not in ("empty", "fail"):
            raise ValueError("account_groups_unavailable must be 'empty' or 'fail'")
        if self.split_user_roles not in ("never", "by_role", "auto"):
            raise ValueError("split_user_roles must be 'never', 'by_role' or 'auto'")
        if self.on_ignored_filter not in ("fallback", "fail"):
            raise ValueError("on_ignored_filter must be 'fallback' or 'fail'")
        if self.max_chain_restarts < 0:
            raise ValueError("max_chain_restarts must be >= 0")


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
    privilege_unknown: bool = False

    @property
    def is_privileged(self) -> bool | None:
        # A user holding a role of unknown privileges is possibly privileged: null, not false.
        return True if self.privileged else (None if self.privilege_unknown else False)


@dataclass(eq=False)
class _Chain:
    """One sequential query chain: what it reads, and how its rows are checked."""

    table: str  # "user_roles", "groups" or "group_roles"
    object_type: str
    query_filter: QueryFilter | None
    group_id: str | None = None
    split: bool = False  # one of the role shares of the global-role rows
    probe: bool = False  # the single global-role chain that may ask to be split
    cancelled: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> str:
        where = f" of group {self.group_id}" if self.group_id else ""
        return f"{self.object_type} chain{where}"


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


@dataclass
class _Checks:
    """What the self-checks dropped, reported once in the manifest's warnings."""

    duplicates: dict[str, int] = field(default_factory=dict)  # table -> rows read again
    outside: dict[str, int] = field(default_factory=dict)  # chain description -> rows
    other_accounts: int = 0
    restarts: list[str] = field(default_factory=list)


class _SyncRun:
    """One sync: fetch threads put messages on a queue; the calling thread writes the tables.

    Messages are ``(kind, chain, payload)``; every chain ends with exactly one terminal message
    (``done``, ``error``, ``split`` or ``cancelled``), so ``running`` counts what is in flight.
    """

    def __init__(
        self,
        client: BoomiClient,
        writer: SnapshotWriter,
        options: SyncOptions,
        previous_groups: int | None,
    ) -> None:
        self.client = client
        self.writer = writer
        self.options = options
        self.previous_groups = previous_groups
        self.account_id = client.config.account_id
        self.chains: frozenset[str] = frozenset().union(*(_CHAINS_FOR[r] for r in options.resources))
        self.pages: queue.Queue[tuple[str, Any, Any]] = queue.Queue(maxsize=_PAGE_QUEUE_SIZE)
        self.cancelled = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=options.max_workers, thread_name_prefix="boomi-sync")
        self.running = 0
        self.progress = _Progress(client, options.progress_interval)
        self.warnings: list[str] = []
        self.roles = RoleSource(
            client, options.privilege_policy, builtin_inheritance=options.builtin_inheritance
        )
        self.catalog: RoleCatalog | None = None
        self.groups: dict[str, Mapping[str, Any]] = {}
        self.account_groups_available = "groups" in self.chains
        self.users: dict[str, _UserAggregate] = {}
        self.split_requested = False
        self.split_chains: list[_Chain] = []
        self.fell_back = False
        self.pending_grants: list[tuple[_Chain, list[Mapping[str, Any]]]] = []  # before the catalog
        self.waiting_for_role: dict[str, list[tuple[_Chain, Mapping[str, Any]]]] = {}
        self.seen_ids: dict[str, set[str]] = {"user_roles": set(), "group_roles": set()}
        self.grant_owner: dict[str, str] = {}  # grant id -> Boomi id, to catch two rows for one grant
        self.unknown_groups: dict[str, int] = {}
        self.checks = _Checks()
        self._rows: dict[str, list[dict[str, Any]]] = {}  # grant rows of the page being written
        self._table_writers: dict[str, Any] = {}

    # ---- fetching (worker threads) -------------------------------------------------------

    def _start(self, chain: _Chain) -> None:
        self.running += 1
        self.pool.submit(self._fetch, chain)

    def _submit(self, kind: str, key: Any, work: Any) -> None:
        """Run ``work()`` on the pool and hand its answer to the writer as ``(kind, key, answer)``."""
        self.running += 1

        def task() -> None:
            try:
                self._put((kind, key, work()))
            except BaseException as exc:
                self._put(("error", key, exc))

        self.pool.submit(task)

    def _put(self, item: tuple[str, Any, Any]) -> None:
        # A bounded put that gives up when the run is cancelled, so no thread blocks forever
        # on a writer that has stopped reading.
        while not self.cancelled.is_set():
            try:
                self.pages.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _fetch(self, chain: _Chain) -> None:
        try:
            self._put(self._read_chain(chain))
        except BaseException as exc:  # handed to the writer thread, which decides
            self._put(("error", chain, exc))

    def _read_chain(self, chain: _Chain) -> tuple[str, _Chain, Any]:
        """Put the chain's pages; return its terminal message."""
        restarts = 0
        while True:
            probed: list[list[dict[str, Any]]] = []
            try:
                for page in self.client.query_pages(chain.object_type, chain.query_filter):
                    if self.cancelled.is_set() or chain.cancelled.is_set():
                        return ("cancelled", chain, None)
                    if chain.probe:
                        # Hold the first pages back: if they are all full, the chain is long enough
                        # to be the bottleneck, and the writer thread restarts it split by role
                        # (these pages are dropped, since the split chains read them again).
                        probed.append(page)
                        if len(page) < _PAGE_SIZE or len(probed) < _PROBE_PAGES:
                            continue
                        return ("split", chain, None)
                    self._put(("page", chain, page))
                for page in probed:  # a short chain: keep what the probe read
                    self._put(("page", chain, page))
                return ("done", chain, None)
            except BoomiQueryTokenError as exc:
                # The token was used up by an attempt whose answer was lost, or it expired
                # (§g.7): the chain starts again; rows read twice are dropped by their Boomi id.
                if restarts >= self.options.max_chain_restarts:
                    raise SyncConsistencyError(
                        f"{chain.describe()}: Boomi refused the page token {restarts + 1} times ({exc}); "
                        "the chain was restarted from its first page "
                        f"{restarts} time(s) (max_chain_restarts={self.options.max_chain_restarts}). "
                        "Reference §g.7: raise max_chain_restarts or lower the load on the account"
                    ) from exc
                restarts += 1
                self._put(("restart", chain, str(exc)))

    # ---- the writer thread ---------------------------------------------------------------

    def run(self) -> None:
        if "roles" in self.chains:
            self._submit("catalog", None, self.roles.read)
        if "user_roles" in self.chains and self.options.split_user_roles != "by_role":
            self._start(
                _Chain(
                    "user_roles",
                    "AccountUserRole",
                    self._account_filter(),
                    probe=self.options.split_user_roles == "auto",
                )
            )
        if "groups" in self.chains:
            self._start(_Chain("groups", "AccountGroup", None))
        try:
            while self.running:
                try:
                    kind, key, payload = self.pages.get(timeout=self.options.progress_interval)
                except queue.Empty:
                    self.progress.log("progress")
                    continue
                self._handle(kind, key, payload)
            self._finish_tables()
        finally:
            self.cancelled.set()
            self.pool.shutdown(wait=True, cancel_futures=True)
            for table_writer in self._table_writers.values():
                table_writer.close()
            self._table_writers.clear()

    def _account_filter(self) -> QueryFilter:
        return QueryFilter.equals("accountId", self.account_id)

    def _handle(self, kind: str, key: Any, payload: Any) -> None:
        if kind == "page":
            self._page(key, payload)
            return
        if kind == "restart":
            self.checks.restarts.append(f"{key.describe()}: {payload}")
            log.warning("Boomi sync: %s restarted from its first page: %s", key.describe(), payload)
            return
        self.running -= 1
        if kind == "catalog":
            self._catalog_ready(payload)
        elif kind == "role":
            self._role_read(key, payload)
        elif kind == "done":
            if key.table == "groups" and not self.groups:
                # Zero groups: a non-primary account (the C1 connector's "empty results").
                self.account_groups_available = False
                if self.previous_groups:
                    self.warnings.append(
                        f"AccountGroup query returned no group, but the previous snapshot has "
                        f"{self.previous_groups}: check that the groups were deleted in Boomi"
                    )
        elif kind == "split":
            self.split_requested = True
            if self.catalog is not None:
                self._start_user_role_chains_by_role()
        elif kind == "error":
            self._chain_failed(key, payload)
        # "cancelled": nothing more to do

    def _page(self, chain: _Chain, page: list[Mapping[str, Any]]) -> None:
        self.progress.page(chain.table, len(page))
        if chain.table == "groups":
            for group in page:
                self._add_group(group)
        elif self.catalog is None and "roles" in self.chains:
            self.pending_grants.append((chain, page))
        else:
            self._write_grants(chain, page)

    def _catalog_ready(self, catalog: RoleCatalog) -> None:
        self.catalog = catalog
        if "roles" in self.options.resources:
            self._table("roles").write_batch([r.as_row() for r in catalog.roles.values()])
        if "user_roles" in self.chains and (
            self.options.split_user_roles == "by_role" or self.split_requested
        ):
            self._start_user_role_chains_by_role()
        for chain, page in self.pending_grants:
            self._write_grants(chain, page)
        self.pending_grants.clear()

    def _role_read(self, role_id: str, role: Role | None) -> None:
        self.catalog = self.roles.include(role_id, role)
        info = self.catalog.get(role_id)
        if info is not None and "roles" in self.options.resources:
            self._table("roles").write_batch([info.as_row()])
        for chain, raw in self.waiting_for_role.pop(role_id, []):
            self._write_grant(chain, raw)
        self._flush_rows()

    def _chain_failed(self, chain: Any, exc: BaseException) -> None:
        if isinstance(chain, _Chain) and chain.table == "groups" and isinstance(exc, _GROUPS_UNAVAILABLE):
            self._groups_unavailable(exc)
            return
        if (
            isinstance(chain, _Chain)
            and chain.split
            and isinstance(exc, BoomiBadRequestError)
            and not isinstance(exc, BoomiQueryTokenError)
        ):
            self._fall_back(f"Boomi refused the split query with HTTP 400 ({exc.boomi_message or exc})")
            return
        raise exc

    def _groups_unavailable(self, exc: BoomiError) -> None:
        status = exc.status
        if self.groups:
            # Refused after some groups were read: not "no groups here" but a broken chain.
            raise exc
        if self.previous_groups:
            raise SyncConsistencyError(
                f"AccountGroup query failed with HTTP {status}, but the previous snapshot of account "
                f"{self.account_id} has {self.previous_groups} account group(s): refusing to write a "
                "snapshot that silently loses them. Check the API user's privileges (reference §g.6); "
                f"Boomi said: {exc}"
            ) from exc
        if self.options.account_groups_unavailable == "fail":
            raise exc
        self.account_groups_available = False
        self.warnings.append(
            f"AccountGroup query was refused (HTTP {status}): treated as a non-primary account without "
            "account groups (reference §g.6); the group tables are empty. Set "
            "account_groups_unavailable='fail' to fail instead."
        )
        log.warning("Boomi sync: %s", self.warnings[-1])

    def _start_user_role_chains_by_role(self) -> None:
        assert self.catalog is not None
        account = self._account_filter()
        role_ids = sorted(self.catalog.roles)
        # A few chains, each over a share of the roles, cut the long chain to a fraction while
        # adding only about half a page per chain (one chain per role would add half a page per
        # role: 30 calls for 60 roles).
        chains = min(_SPLIT_CHAINS, len(role_ids))
        for i in range(chains):
            share = [QueryFilter.equals("roleId", role_id) for role_id in role_ids[i::chains]]
            roles = share[0] if len(share) == 1 else QueryFilter.any_of(*share)
            self.split_chains.append(
                _Chain("user_roles", "AccountUserRole", QueryFilter.all_of(account, roles), split=True)
            )
        # Rows naming a role the Role query did not return would be missed by those chains;
        # one more chain for "none of the known roles" keeps the snapshot complete.
        others = [QueryFilter.not_equals("roleId", role_id) for role_id in role_ids]
        self.split_chains.append(
            _Chain("user_roles", "AccountUserRole", QueryFilter.all_of(account, *others), split=True)
        )
        for chain in self.split_chains:
            self._start(chain)

    def _fall_back(self, reason: str) -> None:
        """The roleId split cannot be trusted (§g.1): read the global-role rows in one chain."""
        if self.fell_back:
            return
        message = (
            f"the global-role rows were read split by roleId, but {reason}: reference §g.1 "
            "(is roleId a filter property of AccountUserRole/query?)"
        )
        if self.options.on_ignored_filter == "fail":
            raise SyncConsistencyError(
                f"{message}. Set on_ignored_filter='fallback' (or split_user_roles='never') to read "
                "them in one chain"
            )
        self.fell_back = True
        for chain in self.split_chains:
            chain.cancelled.set()
        self.warnings.append(
            f"{message}; fell back to one chain of every row (rows are unique by Boomi id). Set "
            "split_user_roles='never' to skip the split for this account"
        )
        log.warning("Boomi sync: %s", self.warnings[-1])
        self._start(_Chain("user_roles", "AccountUserRole", self._account_filter()))

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
                _Chain(
                    "group_roles",
                    "AccountGroupUserRole",
                    QueryFilter.equals("accountGroupId", str(group_id)),
                    group_id=str(group_id),
                )
            )

    # ---- rows ----------------------------------------------------------------------------

    def _user(self, row: Mapping[str, Any]) -> _UserAggregate:
        # Keyed by Boomi's spelling: a server that matches user ids case-sensitively (§g.4) can
        # hold two users whose ids differ only in case, and they are two users.
        user_id = str(row["userId"])
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = _UserAggregate(user_id, row.get("firstName"), row.get("lastName"))
        else:
            user.first_name = user.first_name or row.get("firstName")
            user.last_name = user.last_name or row.get("lastName")
        return user

    def _admitted(self, chain: _Chain, raw: Mapping[str, Any]) -> bool:
        """Whether a row belongs to the chain that read it (§g.1, §g.5)."""
        account = raw.get("accountId")
        if chain.table == "user_roles" and account is not None and str(account) != self.account_id:
            self.checks.other_accounts += 1
            return False
        if chain.query_filter is None or chain.query_filter.admits(raw):
            return True
        where = chain.describe()
        self.checks.outside[where] = self.checks.outside.get(where, 0) + 1
        if chain.split:
            role_id = raw.get("roleId")
            self._fall_back(f"a row of role {role_id} came back from a chain that did not ask for it")
        return False

    def _write_grants(self, chain: _Chain, page: list[Mapping[str, Any]]) -> None:
        for raw in page:
            self._write_grant(chain, raw)
        self._flush_rows()

    def _write_grant(self, chain: _Chain, raw: Mapping[str, Any]) -> None:
        user_id, role_id, boomi_id = raw.get("userId"), raw.get("roleId"), raw.get("id")
        if not user_id or not role_id or not boomi_id:
            self.warnings.append(
                f"skipped a {chain.table} row without userId, roleId or id: {_describe(raw)}"
            )
            return
        if not self._admitted(chain, raw):
            return
        assert self.catalog is not None or "roles" not in self.chains
        role_id = str(role_id)
        if self.catalog is not None and role_id not in self.catalog and "roles" in self.chains:
            # A role Role/query did not list (§g.2): read it before writing its grants, so the
            # grant carries the role's name and the user's privilege is not guessed.
            waiting = self.waiting_for_role.setdefault(role_id, [])
            if not waiting:
                self._submit("role", role_id, lambda: self.roles.fetch(role_id))
            waiting.append((chain, raw))
            return
        seen = self.seen_ids[chain.table]
        if str(boomi_id) in seen:
            self.checks.duplicates[chain.table] = self.checks.duplicates.get(chain.table, 0) + 1
            return
        seen.add(str(boomi_id))
        self._rows.setdefault(chain.table, []).append(self._grant_row(chain, raw, str(user_id), role_id))

    def _grant_row(self, chain: _Chain, raw: Mapping[str, Any], user_id: str, role_id: str) -> dict[str, Any]:
        user = self._user(raw)
        info = self.catalog.get(role_id) if self.catalog is not None else None
        if info is not None and info.is_privileged:
            user.privileged = True
        elif info is None or info.is_privileged is None:
            user.privilege_unknown = True
        role_name = info.name if info is not None else None
        boomi_id = str(raw["id"])
        if chain.table == "user_roles":
            user.global_roles += 1
            row = {
                "grant_id": grant_id(role_entitlement_id(role_id), user_id),
                "boomi_id": boomi_id,
                "user_id": user_id,
                "role_id": role_id,
                "role_name": role_name,
            }
        else:
            group_id = str(raw.get("accountGroupId") or chain.group_id)
            group = self.groups.get(group_id)
            if group is None:
                self.unknown_groups[group_id] = self.unknown_groups.get(group_id, 0) + 1
            user.group_roles += 1
            row = {
                "grant_id": grant_id(group_entitlement_id(group_id, role_id), user_id),
                "boomi_id": boomi_id,
                "user_id": user_id,
                "account_group_id": group_id,
                "account_group_name": group.get("name") if group else None,
                "role_id": role_id,
                "role_name": role_name,
            }
        owner = self.grant_owner.setdefault(str(row["grant_id"]), boomi_id)
        if owner != boomi_id:
            raise SyncConsistencyError(
                f"two different Boomi rows ({owner}, {boomi_id}) are the same grant {row['grant_id']}: "
                "the snapshot would hold it twice. Boomi's answers contradict each other; no snapshot was "
                "written"
            )
        return row

    def _flush_rows(self) -> None:
        for kind, rows in self._rows.items():
            table = "user_role_grants" if kind == "user_roles" else "group_role_grants"
            if rows and table in self.options.resources:
                self._table(table).write_batch(rows)
        self._rows.clear()

    def _table(self, name: str) -> Any:
        table_writer = self._table_writers.get(name)
        if table_writer is None:
            table_writer = self._table_writers[name] = self.writer.open_table(name)
        return table_writer

    def _finish_tables(self) -> None:
        assert not self.waiting_for_role and not self.pending_grants, "rows left unwritten"
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
                        "is_privileged": u.is_privileged,
                        "is_account_member": u.global_roles > 0,
                    }
                    for u in self.users.values()
                ]
            )
        # Tables with no rows still exist in the snapshot, with their exact schema.
        for table in self.options.resources:
            self._table(table).write_batch([])
        self._report()

    def _report(self) -> None:
        """Turn what the self-checks saw into manifest warnings."""
        self.warnings.extend(self.roles.warnings)
        if self.catalog is not None:
            unknown = sorted(r.role_id for r in self.catalog.roles.values() if r.is_privileged is None)
            if unknown:
                self.warnings.append(
                    f"{len(unknown)} role(s) have unknown privileges (is_privileged null, treated as "
                    f"possibly privileged): {', '.join(unknown[:20])}"
                )
        for group_id, count in sorted(self.unknown_groups.items()):
            self.warnings.append(
                f"{count} group-role row(s) name account group {group_id}, "
                "which the AccountGroup query did not return"
            )
        if self.checks.other_accounts:
            self.warnings.append(
                f"{self.checks.other_accounts} AccountUserRole row(s) of other accounts were returned and "
                "ignored (reference §g.5)"
            )
        for where, count in sorted(self.checks.outside.items()):
            self.warnings.append(
                f"{where}: {count} row(s) outside the chain's filter were returned and not written "
                "(Boomi ignored a filter term; reference §g.1)"
            )
        for table, count in sorted(self.checks.duplicates.items()):
            self.warnings.append(
                f"{table}: {count} row(s) read more than once were written once (same Boomi id)"
            )
        self.warnings.extend(
            f"restarted after a refused page token (§g.7): {r}" for r in self.checks.restarts
        )
        spellings: dict[str, list[str]] = {}
        for user_id in self.users:
            spellings.setdefault(user_id.lower(), []).append(user_id)
        for ids in spellings.values():
            if len(ids) > 1:
                self.warnings.append(
                    f"user ids {', '.join(sorted(ids))} differ only in case: Boomi holds them as separate "
                    "users (reference §g.4); their email column is the same"
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


def _previous_group_count(
    output_path: Any, storage_options: dict[str, Any] | None, client: BoomiClient
) -> int | None:
    """Account groups in the latest earlier snapshot that read them (``None``: no such snapshot)."""
    store = SnapshotStore(output_path, storage_options=storage_options)
    for info in reversed(store.snapshots(client.config.account_id)):
        if "account_groups" in info.row_counts:
            return int(info.row_counts["account_groups"])
    return None


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
    run = _SyncRun(client, writer, options, _previous_group_count(output_path, storage_options, client))
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
