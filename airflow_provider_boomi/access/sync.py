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

import heapq
import itertools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal

from airflow_provider_boomi.access.catalog import RoleSource
from airflow_provider_boomi.access.roles import PrivilegePolicy, RoleCatalog
from airflow_provider_boomi.access.sync_rows import (
    GRANT_TABLE,
    AuditWindow,
    GovernanceRows,
    RowMapper,
    SyncConsistencyError,
    account_group_row,
    describe,
    missing_fields,
    parse_boomi_time,
)
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
from airflow_provider_boomi.dataset import SnapshotInfo, SnapshotStore, SnapshotWriter
from airflow_provider_boomi.dataset.schemas import CORE_TABLES

log = logging.getLogger(__name__)

#: The optional governance resources (schema version 3) and the tables each fills. Off by
#: default: each costs calls of its own, and some need a feature or a privilege (SSO, the audit
#: log, environment management) that an account or its API user may lack.
GOVERNANCE_RESOURCES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "federation": ("user_federation",),
        "sso_config": ("sso_config",),
        "audit_log": ("audit_logins", "audit_access_changes"),
        "account_group_accounts": ("account_group_accounts",),
        "environments": ("environments", "environment_roles"),
        "sub_accounts": ("sub_accounts",),
    }
)

#: What a sync extracts unless told otherwise: the five tables of schema version 2.
DEFAULT_RESOURCES: tuple[str, ...] = CORE_TABLES

#: What a sync can extract; ``resources`` of :class:`SyncOptions` takes any subset.
ALL_RESOURCES: tuple[str, ...] = CORE_TABLES + tuple(GOVERNANCE_RESOURCES)

#: What the sub-account query asks for: every account Boomi lists under the synced one. Account's
#: filter properties are upper case in Boomi's schema (its examples spell them in camel case:
#: docs/open-questions.md g.15), and the schema requires an expression, so "every account" is said
#: as "an account id is present", which every account satisfies. ``STATUS NOT_EQUALS deleted``
#: would also be allowed, but would hide deleted sub-accounts that account groups may still name.
SUB_ACCOUNT_FILTER = QueryFilter.is_not_null("ACCOUNTID")

#: The audit-log record fields a login is recognised by. Boomi does not document which values mark
#: a login (reference §g, AuditLog); these are what an audit of a real account showed.
DEFAULT_LOGIN_MARKERS: Mapping[str, str] = MappingProxyType(
    {"type": "account", "action": "ON_ENTRY", "modifier": "SUCCESS"}
)
#: Fields of AuditLog/query a login marker may name (filterable and present on records).
LOGIN_MARKER_FIELDS: tuple[str, ...] = ("type", "action", "modifier", "level", "source")
#: The record types read as access changes (undocumented as well: see docs/open-questions.md).
DEFAULT_ACCESS_CHANGE_TYPES: tuple[str, ...] = ("user", "role", "accountgroup")
#: Days of the audit log read back from the sync's start: the findings' default dormancy.
DEFAULT_AUDIT_WINDOW_DAYS = 90
_MAX_AUDIT_WINDOW_DAYS = 3660

# Which query chains each table needs. Users are derived from both kinds of grant rows, and
# grant rows carry role and group names, so most tables need more than their own chain.
_CHAINS_FOR: Mapping[str, frozenset[str]] = {
    "roles": frozenset({"roles"}),
    "account_groups": frozenset({"groups"}),
    "user_role_grants": frozenset({"roles", "user_roles"}),
    "group_role_grants": frozenset({"roles", "groups", "group_roles"}),
    "users": frozenset({"roles", "user_roles", "groups", "group_roles"}),
    "federation": frozenset({"federation"}),
    "sso_config": frozenset({"sso_config"}),
    "audit_log": frozenset({"audit_logins", "audit_changes"}),
    "account_group_accounts": frozenset({"groups", "group_accounts"}),
    "environments": frozenset({"environments", "environment_roles"}),
    "sub_accounts": frozenset({"sub_accounts"}),
}

# The resource each governance chain reads for: what becomes unavailable when Boomi refuses it.
_GOVERNANCE_CHAINS: Mapping[str, str] = {
    "federation": "federation",
    "sso_config": "sso_config",
    "audit_logins": "audit_log",
    "audit_changes": "audit_log",
    "group_accounts": "account_group_accounts",
    "environments": "environments",
    "environment_roles": "environments",
    "sub_accounts": "sub_accounts",
}

# Boomi's answers that say "not for this account or this API user": a feature not licensed or a
# privilege missing (403), an object the account does not have (404). The resource is recorded as
# unavailable, never as empty. A GET of the SSO settings may also answer 400 (as bulk GETs of an
# unknown id do, reference b.3) when the account never configured SSO.
_RESOURCE_UNAVAILABLE = (BoomiPermissionError, BoomiNotFoundError)

_PAGE_QUEUE_SIZE = 64  # pages in flight between the fetching threads and the writer
_WRITE_BATCH_ROWS = 2_000  # grant rows buffered per table before they go to the writer
_PAGE_SIZE = 100  # Boomi's page size: a full page means the chain goes on
_PROBE_PAGES = 3  # full pages after which the single AccountUserRole chain is split
_SPLIT_CHAINS = 8  # at most this many chains over shares of the roles (see split_user_roles)
_SPLIT_HEADROOM = 1.5  # planned from row counts: chains enough for 1.5x (total / largest role)
_TELLING_FRACTION = 0.05  # shares smaller in the probe's sample do not estimate the total
_FIRST = math.inf  # priority of the role reads: every grant row waits for the catalog
_EARLY = 1e9  # priority of an early chain's first page (see _Chain.early): after the role reads

# Errors that say "this account has no account groups" on a non-primary account (§g.6): 403,
# or 400/404 "unknown object type", depending on how Boomi answers.
_GROUPS_UNAVAILABLE = (BoomiPermissionError, BoomiBadRequestError, BoomiNotFoundError)


@dataclass(frozen=True)
class SyncOptions:
    """How to sync.

    :ivar resources: what to extract: any of the five tables of :data:`DEFAULT_RESOURCES` (the
        default; ``grant_changes`` follows the grant tables) and the optional
        :data:`GOVERNANCE_RESOURCES` (``federation``, ``sso_config``, ``audit_log``,
        ``account_group_accounts``, ``environments``, ``sub_accounts``). A governance resource
        Boomi refuses (403 or 404) is recorded as unavailable in the manifest
        (``extra["governance"]``) and its tables are left out, never written empty. For
        ``sub_accounts`` the manifest also records what Boomi answered (``sub_accounts``,
        ``own_account_listed``, ``answer``), so "no sub-accounts" is told apart from "refused".
    :ivar audit_window_days: days of the audit log the ``audit_log`` resource reads, back from the
        sync's start (default 90).
    :ivar login_markers: the audit-log fields that mark a login record (default ``type`` account,
        ``action`` ON_ENTRY, ``modifier`` SUCCESS; Boomi does not document them). Any of
        ``type``, ``action``, ``modifier``, ``level``, ``source``.
    :ivar access_change_types: the audit-log ``type`` values read as access changes (default
        ``user``, ``role``, ``accountgroup``; undocumented too).
    :ivar privilege_policy: which roles count as privileged.
    :ivar builtin_inheritance: follow ``parentId`` of built-in roles when resolving effective
        privileges (§g.3). Off by default: built-ins keep the privileges Boomi lists.
    :ivar max_workers: concurrent query chains; the shared rate limiter caps the request rate, so
        this only needs to cover rate x latency (10/s x 0.25 s = 2.5 in flight).
    :ivar account_groups_unavailable: on a 403, 400 or 404 from AccountGroup (a non-primary
        account, §g.6), ``"empty"`` writes empty group tables and flags the manifest;
        ``"fail"`` fails the sync. Either way, an account whose previous snapshot had account
        groups fails: groups that vanish behind an error are not silently lost.
    :ivar split_user_roles: ``"never"`` reads all AccountUserRole rows in one sequential chain
        (the fewest calls). ``"by_role"`` reads them in up to 8 chains, each over a share of
        the roles balanced by rows, plus one chain for rows naming roles the Role query did
        not return, so a long chain cannot become the bottleneck (about half a page more
        per chain). ``"auto"`` (default) splits when the previous snapshot of the account
        had more than 300 global-role rows (shares balanced by its rows per role); without
        one it starts the single chain and splits it only after its first three pages all
        come back full (those three calls are then wasted, and the shares are balanced by
        the roles of those 300 rows; smaller accounts keep the single chain).
    :ivar on_ignored_filter: every row is checked against the filter of the chain that read it.
        A row outside a split chain's ``roleId`` filter means Boomi ignored the term (§g.1);
        a 400 on it means Boomi refuses it. ``"fallback"`` (default) stops the split chains
        and reads the rows in one chain (warned in the manifest); ``"fail"`` fails the sync.
        Rows outside their chain's filter are never written, and no row is written twice.
    :ivar max_chain_restarts: how often one chain may start again from its first page after Boomi
        refused its page token (§g.7); beyond that the sync fails.
    :ivar progress_interval: seconds between progress lines in the log.
    """

    resources: tuple[str, ...] = DEFAULT_RESOURCES
    audit_window_days: int = DEFAULT_AUDIT_WINDOW_DAYS
    login_markers: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LOGIN_MARKERS))
    access_change_types: tuple[str, ...] = DEFAULT_ACCESS_CHANGE_TYPES
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
        if len(set(self.resources)) != len(self.resources):
            raise ValueError(f"resources names a resource twice: {list(self.resources)}")
        days = self.audit_window_days
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= _MAX_AUDIT_WINDOW_DAYS:
            raise ValueError(
                f"audit_window_days must be a whole number of days from 1 to {_MAX_AUDIT_WINDOW_DAYS}, "
                f"got {days!r}"
            )
        markers = self.login_markers
        if (
            not isinstance(markers, Mapping)
            or not markers
            or any(k not in LOGIN_MARKER_FIELDS for k in markers)
            or any(not isinstance(v, str) or not v.strip() for v in markers.values())
        ):
            raise ValueError(
                f"login_markers must map some of {', '.join(LOGIN_MARKER_FIELDS)} to non-empty values "
                f"(for example {dict(DEFAULT_LOGIN_MARKERS)}); got {markers!r}"
            )
        types = self.access_change_types
        if isinstance(types, str) or not types or any(not isinstance(t, str) or not t.strip() for t in types):
            raise ValueError(
                f"access_change_types must be a non-empty list of audit-log types, got {types!r}"
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


@dataclass(frozen=True)
class Previous:
    """Row counts of the account's latest earlier snapshot, to plan this sync's chains.

    :ivar groups: account groups it held (``None``: no earlier snapshot read them).
    :ivar role_rows: global-role rows per role id (``None``: not read).
    :ivar group_rows: group-role rows per account group id (``None``: not read).
    """

    groups: int | None = None
    role_rows: Mapping[str, int] | None = None
    group_rows: Mapping[str, int] | None = None


@dataclass(eq=False)
class _Chain:
    """One sequential query chain: what it reads, and how its rows are checked.

    ``expected_pages`` is what the plan expects it to read (``None``: unknown); the pages it
    has left are its priority, for a worker thread and for the rate limiter's next slot.
    """

    table: str  # "user_roles", "groups", "group_roles" or a governance chain (_GOVERNANCE_CHAINS)
    object_type: str
    query_filter: QueryFilter | None
    group_id: str | None = None
    object_id: str | None = None  # a single GET of this id instead of a query (AccountSSOConfig)
    checked_by: QueryFilter | None = None  # what rows must satisfy, if not query_filter (audit log)
    check_rows: bool = True  # False: the filter has no term a row could contradict (IS_NOT_NULL id)
    split: bool = False  # one of the role shares of the global-role rows
    probe: bool = False  # the single global-role chain that may ask to be split
    expected_pages: float | None = None
    # A chain of about one page whose answer costs the server an unknown effort (a filter no
    # index serves, as the "none of the known roles" chain's): it goes before the others rather
    # than last, so its answer time can never be the run's tail.
    early: bool = False
    pages_read: int = 0  # written by the one thread reading the chain
    cancelled: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> str:
        where = f" of group {self.group_id}" if self.group_id else ""
        return f"{self.object_type} chain{where}"

    sampled: _SampledTotal | None = None  # a share planned from the probe's sample
    fraction: float = 0.0  # of the sampled rows, for a share planned from the sample

    def priority(self) -> float:
        """Its rank for a worker thread and a rate-limiter slot: the pages it has left, or, for
        an ``early`` chain that has read nothing yet, ahead of every chain but the role reads."""
        if self.early and self.pages_read == 0:
            return _EARLY
        return self.pages_left()

    def pages_left(self) -> float:
        """Estimated pages left, at least one: the plan's estimate (from a previous snapshot's
        counts), or, beyond it or unknown, as many as read so far (a chain that has gone on long
        is likely to go on). A share planned from the probe's sample takes the larger of its
        estimate from the sample and that."""
        read = float(self.pages_read)
        if self.sampled is not None:
            return max(1.0, self.fraction * self.sampled.pages() - read, read)
        if self.expected_pages is not None and self.expected_pages > read:
            return max(1.0, self.expected_pages - read)
        return max(1.0, read)


@dataclass(eq=False)
class _SampledTotal:
    """The pages of all global-role rows, estimated while the shares planned from the probe's
    sample read them: a share holding a fraction f of the sample that has read p pages says
    the rows are about p / f pages. Shares too small in the sample to say much are not asked.
    So the largest share (Standard User's, on most accounts) is seen to be long early and gets
    the next slot first, though the sample did not tell how long the rows are."""

    prior_pages: float
    shares: list[_Chain] = field(default_factory=list)

    def add(self, chain: _Chain, fraction: float) -> None:
        chain.sampled, chain.fraction = self, fraction
        self.shares.append(chain)

    def pages(self) -> float:
        told = [c.pages_read / c.fraction for c in self.shares if c.fraction >= _TELLING_FRACTION]
        return max([self.prior_pages, *told])


# ---- messages from the fetching threads to the writer thread ---------------------------------
# Every chain or task ends with exactly one terminal message; _Page and _Restart are not.


@dataclass(frozen=True, slots=True)
class _Page:
    chain: _Chain
    rows: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Restart:
    """The chain's page token was refused (§g.7); it starts again from its first page."""

    chain: _Chain
    reason: str


@dataclass(frozen=True, slots=True)
class _Done:
    chain: _Chain


@dataclass(frozen=True, slots=True)
class _Cancelled:
    chain: _Chain


@dataclass(frozen=True, slots=True)
class _SplitWanted:
    """The probe's first pages were all full: split the chain; ``sample`` are those rows."""

    chain: _Chain
    sample: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _CatalogRead:
    catalog: RoleCatalog


@dataclass(frozen=True, slots=True)
class _RoleRead:
    role_id: str
    role: Role | None


@dataclass(frozen=True, slots=True)
class _Failed:
    chain: _Chain | None  # None: a role read
    error: BaseException


_Message = _Page | _Restart | _Done | _Cancelled | _SplitWanted | _CatalogRead | _RoleRead | _Failed


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

    outside: dict[str, int] = field(default_factory=dict)  # chain description -> rows
    other_accounts: int = 0
    restarts: list[str] = field(default_factory=list)


def balanced_shares(weights: Mapping[str, float], chains: int) -> list[list[str]]:
    """Split role ids into at most ``chains`` shares of about equal weight (rows).

    Largest first, each to the lightest share (ties: the share with fewer roles), so a role
    heavier than an even share sits alone and the others are spread over the rest. Every role
    lands in exactly one share; empty shares are dropped.
    """
    chains = max(1, min(chains, len(weights)))
    heap: list[tuple[float, int, int]] = [(0.0, 0, i) for i in range(chains)]
    shares: list[list[str]] = [[] for _ in range(chains)]
    for role_id in sorted(weights, key=lambda r: (-weights[r], r)):
        load, count, i = heapq.heappop(heap)
        shares[i].append(role_id)
        heapq.heappush(heap, (load + weights[role_id], count + 1, i))
    return [share for share in shares if share]


def split_plan(
    role_ids: Sequence[str], rows_per_role: Mapping[str, float], *, from_counts: bool
) -> tuple[list[list[str]], list[float]]:
    """The role shares of the split global-role chains and the pages each is expected to read.

    ``rows_per_role``: a previous snapshot's rows per role (``from_counts``), or the roles of the
    probe's sample rows. From counts, only as many chains as shorten the longest one (a role's
    own rows cannot be split) with some headroom; from a sample, the full number, since 300
    rows say little about the rest. A role without rows weighs a little, so such roles spread.
    """
    weights = {r: float(rows_per_role.get(r, 0)) + 0.5 for r in role_ids}
    total, heaviest = sum(weights.values()), max(weights.values(), default=1.0)
    chains = _SPLIT_CHAINS
    if from_counts:
        chains = min(_SPLIT_CHAINS, max(2, math.ceil(_SPLIT_HEADROOM * total / heaviest)))
    shares = balanced_shares(weights, chains)
    expected = [sum(weights[r] for r in share) / _PAGE_SIZE for share in shares]
    if not from_counts:
        # A sample gives relative sizes only: scale them to a chain long enough to be worth
        # splitting (the probe's pages times the chains), so the largest share starts first,
        # and every share to at least the probe's pages: the rows are more than the probe read,
        # and a share of roles the sample missed is not known to be short.
        scale = _PROBE_PAGES * _SPLIT_CHAINS * _PAGE_SIZE / max(total, 1.0)
        expected = [max(float(_PROBE_PAGES), e * scale) for e in expected]
    return shares, expected


class _SyncRun:
    """One sync: fetch threads put typed messages on a queue; the calling thread writes the tables.

    Every chain or task ends with exactly one terminal message, so ``running`` counts what is in
    flight. Work waits in a heap: a free worker takes the chain with the most pages left.
    """

    def __init__(
        self,
        client: BoomiClient,
        writer: SnapshotWriter,
        options: SyncOptions,
        previous: Previous,
    ) -> None:
        self.client = client
        self.writer = writer
        self.options = options
        self.previous = previous
        self.account_id = client.config.account_id
        self.chains: frozenset[str] = frozenset().union(*(_CHAINS_FOR[r] for r in options.resources))
        self.pages: queue.Queue[_Message] = queue.Queue(maxsize=_PAGE_QUEUE_SIZE)
        self.cancelled = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=options.max_workers, thread_name_prefix="boomi-sync")
        self._work: list[tuple[float, int, Callable[[], None]]] = []  # heap: (-priority, order, job)
        self._work_lock = threading.Lock()
        self._order = itertools.count()
        self.running = 0
        self.progress = _Progress(client, options.progress_interval)
        self.warnings: list[str] = []
        self.roles = RoleSource(
            client, options.privilege_policy, builtin_inheritance=options.builtin_inheritance
        )
        self.catalog: RoleCatalog | None = None
        self.groups: dict[str, Mapping[str, Any]] = {}
        self.account_groups_available = "groups" in self.chains
        self.mapper = RowMapper()
        self.split_sample: list[dict[str, Any]] | None = None  # the probe asked for a split
        self.split_chains: list[_Chain] = []
        self.fell_back = False
        self.pending_grants: list[tuple[_Chain, list[dict[str, Any]]]] = []  # before the catalog
        self.waiting_for_role: dict[str, list[tuple[_Chain, Mapping[str, Any]]]] = {}
        self.checks = _Checks()
        self._rows: dict[str, list[dict[str, Any]]] = {}  # grant rows of the page being written
        self._table_writers: dict[str, Any] = {}
        self.core_tables = [t for t in CORE_TABLES if t in options.resources]
        self.governance = GovernanceRows()
        # Per governance resource asked for: "synced" unless Boomi refused it, with the reason.
        self.resource_status: dict[str, dict[str, Any]] = {
            r: {"status": "synced", "tables": list(GOVERNANCE_RESOURCES[r])}
            for r in options.resources
            if r in GOVERNANCE_RESOURCES
        }
        self.governance_chains: dict[str, list[_Chain]] = {}
        self.audit: AuditWindow | None = None
        if "audit_log" in options.resources:
            # Whole seconds: Boomi's filter arguments carry no more, and the rows are checked
            # against exactly the window that was asked for.
            end = writer.synced_at.replace(microsecond=0)
            self.audit = AuditWindow(
                start=end - timedelta(days=options.audit_window_days),
                end=end,
                login_markers=dict(options.login_markers),
                change_types=tuple(options.access_change_types),
            )

    # ---- fetching (worker threads) -------------------------------------------------------

    def _schedule(self, priority: float, job: Callable[[], None]) -> None:
        """Queue ``job``; the next free worker runs the queued job of highest priority."""
        self.running += 1
        with self._work_lock:
            heapq.heappush(self._work, (-priority, next(self._order), job))
        self.pool.submit(self._run_next)

    def _run_next(self) -> None:
        with self._work_lock:
            _, _, job = heapq.heappop(self._work)
        job()

    def _start(self, chain: _Chain) -> None:
        self._schedule(chain.priority(), lambda: self._fetch(chain))

    def _submit_roles(self, work: Callable[[], _Message]) -> None:
        """Read roles on the pool, first of all: every grant row waits for the catalog."""

        def task() -> None:
            try:
                with self.client.limiter.priority(_FIRST):
                    message = work()
            except BaseException as exc:
                message = _Failed(None, exc)
            self._put(message)

        self._schedule(_FIRST, task)

    def _put(self, message: _Message) -> None:
        # A bounded put that gives up when the run is cancelled, so no thread blocks forever
        # on a writer that has stopped reading.
        while not self.cancelled.is_set():
            try:
                self.pages.put(message, timeout=0.2)
                return
            except queue.Full:
                continue

    def _fetch(self, chain: _Chain) -> None:
        try:
            with self.client.limiter.priority(chain.priority):
                message = self._read_chain(chain)
        except BaseException as exc:  # handed to the writer thread, which decides
            message = _Failed(chain, exc)
        self._put(message)

    def _read_chain(self, chain: _Chain) -> _Message:
        """Put the chain's pages; return its terminal message."""
        if chain.object_id is not None:
            self._put(_Page(chain, [self.client.get(chain.object_type, chain.object_id)]))
            return _Done(chain)
        restarts = 0
        while True:
            probed: list[list[dict[str, Any]]] = []
            chain.pages_read = 0
            try:
                for page in self.client.query_pages(chain.object_type, chain.query_filter):
                    chain.pages_read += 1
                    if self.cancelled.is_set() or chain.cancelled.is_set():
                        return _Cancelled(chain)
                    if chain.probe:
                        # Hold the first pages back: if they are all full, the chain is long enough
                        # to be the bottleneck, and the writer thread restarts it split by role
                        # (these pages are dropped, since the split chains read them again).
                        probed.append(page)
                        if len(page) < _PAGE_SIZE or len(probed) < _PROBE_PAGES:
                            continue
                        return _SplitWanted(chain, [row for p in probed for row in p])
                    self._put(_Page(chain, page))
                for page in probed:  # a short chain: keep what the probe read
                    self._put(_Page(chain, page))
                return _Done(chain)
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
                self._put(_Restart(chain, str(exc)))

    # ---- the writer thread ---------------------------------------------------------------

    def _previous_user_role_rows(self) -> int | None:
        counts = self.previous.role_rows
        return sum(counts.values()) if counts is not None else None

    def run(self) -> None:
        if "roles" in self.chains:
            self._submit_roles(lambda: _CatalogRead(self.roles.read()))
        if "user_roles" in self.chains:
            self._start_user_roles()
        if "groups" in self.chains:
            self._start(_Chain("groups", "AccountGroup", None, expected_pages=self._group_pages()))
        self._start_governance()
        try:
            while self.running:
                try:
                    message = self.pages.get(timeout=self.options.progress_interval)
                except queue.Empty:
                    self.progress.log("progress")
                    continue
                self._handle(message)
            self._finish_tables()
            # What the checks remembered is not needed to commit: free it before the writer
            # computes grant_changes (the sync's peak memory).
            self.mapper.release()
        finally:
            self.cancelled.set()
            self.pool.shutdown(wait=True, cancel_futures=True)
            for table_writer in self._table_writers.values():
                table_writer.close()
            self._table_writers.clear()

    def _start_governance(self) -> None:
        """Start the chains of the governance resources asked for (account-group coverage starts
        per group, as the groups are read)."""
        if "federation" in self.chains:
            self._start_governance_chain(
                _Chain("federation", "AccountUserFederation", self._account_filter())
            )
        if "sso_config" in self.chains:
            self._start_governance_chain(
                _Chain("sso_config", "AccountSSOConfig", None, object_id=self.account_id)
            )
        if self.audit is not None:
            window = QueryFilter.between("date", self.audit.start, self.audit.end)
            markers = [QueryFilter.equals(k, v) for k, v in self.audit.login_markers.items()]
            types = [QueryFilter.equals("type", t) for t in self.audit.change_types]
            change_types = types[0] if len(types) == 1 else QueryFilter.any_of(*types)
            self._start_governance_chain(
                _Chain(
                    "audit_logins",
                    "AuditLog",
                    QueryFilter.all_of(window, *markers),
                    checked_by=QueryFilter.all_of(*markers),
                )
            )
            self._start_governance_chain(
                _Chain(
                    "audit_changes",
                    "AuditLog",
                    QueryFilter.all_of(window, change_types),
                    checked_by=change_types,
                )
            )
        if "sub_accounts" in self.chains:
            # Rows are checked in _governance_page: QueryFilter.admits reads camel-case fields and
            # Account's properties are upper case, so the one term (an accountId present) is
            # checked by hand.
            self._start_governance_chain(
                _Chain("sub_accounts", "Account", SUB_ACCOUNT_FILTER, check_rows=False)
            )
        if "environments" in self.chains:
            # "Every environment", said in a filter Boomi's schema admits (it requires an
            # expression): every environment has an id. Their roles are read per environment.
            self._start_governance_chain(
                _Chain("environments", "Environment", QueryFilter.is_not_null("id"), check_rows=False)
            )

    def _start_governance_chain(self, chain: _Chain) -> None:
        self.governance_chains.setdefault(_GOVERNANCE_CHAINS[chain.table], []).append(chain)
        self._start(chain)

    def _group_pages(self) -> float | None:
        if self.previous.groups is None:
            return None
        return max(1.0, self.previous.groups / _PAGE_SIZE)

    def _start_user_roles(self) -> None:
        mode = self.options.split_user_roles
        rows = self._previous_user_role_rows()
        if mode == "by_role" or (mode == "auto" and rows is not None and rows > _PROBE_PAGES * _PAGE_SIZE):
            # Split once the roles are known (planned from the previous snapshot's counts).
            self.split_sample = []
            return
        self._start(
            _Chain(
                "user_roles",
                "AccountUserRole",
                self._account_filter(),
                probe=mode == "auto",
                expected_pages=None if rows is None else max(1.0, rows / _PAGE_SIZE),
            )
        )

    def _account_filter(self) -> QueryFilter:
        return QueryFilter.equals("accountId", self.account_id)

    def _handle(self, message: _Message) -> None:
        match message:
            case _Page(chain, rows):
                self._page(chain, rows)
                return
            case _Restart(chain, reason):
                self.checks.restarts.append(f"{chain.describe()}: {reason}")
                log.warning("Boomi sync: %s restarted from its first page: %s", chain.describe(), reason)
                return
        self.running -= 1
        match message:
            case _CatalogRead(catalog):
                self._catalog_ready(catalog)
            case _RoleRead(role_id, role):
                self._role_read(role_id, role)
            case _Done(chain):
                if chain.table == "groups" and not self.groups:
                    # Zero groups: a non-primary account (the C1 connector's "empty results").
                    self.account_groups_available = False
                    if self.previous.groups:
                        self.warnings.append(
                            f"AccountGroup query returned no group, but the previous snapshot has "
                            f"{self.previous.groups}: check that the groups were deleted in Boomi"
                        )
            case _SplitWanted(_, sample):
                self.split_sample = sample
                if self.catalog is not None:
                    self._start_user_role_chains_by_role()
            case _Failed(failed, error):
                self._chain_failed(failed, error)
            case _Cancelled():
                pass

    def _page(self, chain: _Chain, page: list[dict[str, Any]]) -> None:
        self.progress.page(chain.table, len(page))
        if chain.table in _GOVERNANCE_CHAINS:
            self._governance_page(chain, page)
        elif chain.table == "groups":
            rows = [row for row in map(self._add_group, page) if row is not None]
            if rows and "account_groups" in self.options.resources:
                self._table("account_groups").write_batch(rows)
        elif self.catalog is None and "roles" in self.chains:
            self.pending_grants.append((chain, page))
        else:
            self._write_grants(chain, page)

    def _catalog_ready(self, catalog: RoleCatalog) -> None:
        self.catalog = catalog
        if "roles" in self.options.resources:
            self._table("roles").write_batch([r.as_row() for r in catalog.roles.values()])
        if "user_roles" in self.chains and self.split_sample is not None:
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

    def _chain_failed(self, chain: _Chain | None, exc: BaseException) -> None:
        if chain is not None and chain.table in _GOVERNANCE_CHAINS:
            refused = isinstance(exc, _RESOURCE_UNAVAILABLE) or (
                chain.object_id is not None and isinstance(exc, BoomiBadRequestError)
            )
            if refused:
                assert isinstance(exc, BoomiError)
                self._resource_unavailable(_GOVERNANCE_CHAINS[chain.table], chain, exc)
                return
            if (
                chain.table == "sub_accounts"
                and isinstance(exc, BoomiBadRequestError)
                and not isinstance(exc, BoomiQueryTokenError)
            ):
                raise SyncConsistencyError(
                    f"Account/query refused the filter {SUB_ACCOUNT_FILTER.to_expression()} with HTTP 400 "
                    f"({exc.boomi_message or exc}). Boomi's schema spells Account's filter properties in "
                    "upper case and its examples in camel case (docs/open-questions.md g.15); no snapshot "
                    "was written. Sync without the sub_accounts resource until the spelling is settled"
                ) from exc
            raise exc
        if chain is not None and chain.table == "groups" and isinstance(exc, _GROUPS_UNAVAILABLE):
            self._groups_unavailable(exc)
            return
        if (
            chain is not None
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
        if self.previous.groups:
            raise SyncConsistencyError(
                f"AccountGroup query failed with HTTP {status}, but the previous snapshot of account "
                f"{self.account_id} has {self.previous.groups} account group(s): refusing to write a "
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
        # A few chains, each over a share of the roles balanced by rows, cut the long chain to
        # the largest role's rows while adding only about half a page per chain (one chain per
        # role would add half a page per role: 30 calls for 60 roles).
        counts = self.previous.role_rows
        if counts is not None:
            shares, expected = split_plan(role_ids, counts, from_counts=True)
        else:
            sample: dict[str, float] = {}
            for row in self.split_sample or ():
                role_id = str(row.get("roleId"))
                sample[role_id] = sample.get(role_id, 0) + 1
            shares, expected = split_plan(role_ids, sample, from_counts=False)
        # Planned from a sample, the shares' sizes are fractions of a total nobody knows yet:
        # it is estimated from what the shares read as they go (see _SampledTotal).
        sampled = _SampledTotal(sum(expected)) if counts is None else None
        for share, pages in zip(shares, expected, strict=True):
            terms = [QueryFilter.equals("roleId", role_id) for role_id in share]
            roles = terms[0] if len(terms) == 1 else QueryFilter.any_of(*terms)
            chain = _Chain(
                "user_roles",
                "AccountUserRole",
                QueryFilter.all_of(account, roles),
                split=True,
                expected_pages=max(1.0, pages),
            )
            if sampled is not None:
                sampled.add(chain, pages / sampled.prior_pages)
            self.split_chains.append(chain)
        # Rows naming a role the Role query did not return would be missed by those chains;
        # one more chain for "none of the known roles" keeps the snapshot complete.
        others = [QueryFilter.not_equals("roleId", role_id) for role_id in role_ids]
        self.split_chains.append(
            _Chain(
                "user_roles",
                "AccountUserRole",
                QueryFilter.all_of(account, *others),
                split=True,
                expected_pages=1.0,
                early=True,
            )
        )
        # The longest first: a free worker takes the chain with the most pages left anyway.
        for chain in sorted(self.split_chains, key=lambda c: -c.priority()):
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
        rows = self._previous_user_role_rows()
        self._start(
            _Chain(
                "user_roles",
                "AccountUserRole",
                self._account_filter(),
                expected_pages=None if rows is None else max(1.0, rows / _PAGE_SIZE),
            )
        )

    def _add_group(self, group: Mapping[str, Any]) -> dict[str, Any] | None:
        """Remember a group, start its chain, and return its table row (``None``: seen before)."""
        group_id = group.get("id")
        if not group_id or group_id in self.groups:
            return None
        self.groups[str(group_id)] = group
        if "group_roles" in self.chains:
            counts = self.previous.group_rows
            expected = None if counts is None else max(1.0, counts.get(str(group_id), 0) / _PAGE_SIZE)
            self._start(
                _Chain(
                    "group_roles",
                    "AccountGroupUserRole",
                    QueryFilter.equals("accountGroupId", str(group_id)),
                    group_id=str(group_id),
                    expected_pages=expected,
                )
            )
        if "group_accounts" in self.chains and self._available("account_group_accounts"):
            self._start_governance_chain(
                _Chain(
                    "group_accounts",
                    "AccountGroupAccount",
                    QueryFilter.equals("accountGroupId", str(group_id)),
                    group_id=str(group_id),
                )
            )
        return account_group_row(group)

    # ---- rows ----------------------------------------------------------------------------

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

    def _write_grants(self, chain: _Chain, page: list[dict[str, Any]]) -> None:
        for raw in page:
            self._write_grant(chain, raw)
        self._flush_rows()

    def _write_grant(self, chain: _Chain, raw: Mapping[str, Any]) -> None:
        if missing_fields(raw):
            self.warnings.append(f"skipped a {chain.table} row without userId, roleId or id: {describe(raw)}")
            return
        if not self._admitted(chain, raw):
            return
        assert self.catalog is not None or "roles" not in self.chains
        role_id = str(raw["roleId"])
        if self.catalog is not None and role_id not in self.catalog and "roles" in self.chains:
            # A role Role/query did not list (§g.2): read it before writing its grants, so the
            # grant carries the role's name and the user's privilege is not guessed.
            waiting = self.waiting_for_role.setdefault(role_id, [])
            if not waiting:
                self._submit_roles(lambda: _RoleRead(role_id, self.roles.fetch(role_id)))
            waiting.append((chain, raw))
            return
        kind: Literal["user_roles", "group_roles"] = (
            "user_roles" if chain.table == "user_roles" else "group_roles"
        )
        role = self.catalog.get(role_id) if self.catalog is not None else None
        if kind == "user_roles":
            row = self.mapper.grant(kind, raw, role)
        else:
            group_id = str(raw.get("accountGroupId") or chain.group_id)
            row = self.mapper.grant(kind, raw, role, group_id=group_id, group=self.groups.get(group_id))
        if row is not None:
            self._rows.setdefault(kind, []).append(row)

    def _flush_rows(self, *, final: bool = False) -> None:
        """Write the buffered grant rows of a table once there are enough for one batch.

        A batch of a few thousand rows costs the writer one validation instead of one per page.
        """
        for kind, rows in self._rows.items():
            if rows and (final or len(rows) >= _WRITE_BATCH_ROWS):
                table = GRANT_TABLE[kind]
                if table in self.options.resources:
                    self._table(table).write_batch(rows)
                rows.clear()

    def _table(self, name: str) -> Any:
        table_writer = self._table_writers.get(name)
        if table_writer is None:
            table_writer = self._table_writers[name] = self.writer.open_table(name)
        return table_writer

    def _finish_tables(self) -> None:
        assert not self.waiting_for_role and not self.pending_grants, "rows left unwritten"
        self._flush_rows(final=True)
        if "users" in self.options.resources:
            self._table("users").write_batch(list(self.mapper.user_rows()))
        # Tables with no rows still exist in the snapshot, with their exact schema.
        for table in self.core_tables:
            self._table(table).write_batch([])
        self._write_governance()
        self._report()

    # ---- the governance resources ----------------------------------------------------------

    def _available(self, resource: str) -> bool:
        return self.resource_status.get(resource, {}).get("status") == "synced"

    def _resource_unavailable(self, resource: str, chain: _Chain, exc: BoomiError) -> None:
        """Boomi refused a governance resource: record it, stop its other chains, write none of
        its tables (an absent table reads as unknown; an empty one would read as "none")."""
        if not self._available(resource):
            return
        for other in self.governance_chains.get(resource, ()):
            other.cancelled.set()
        reason = f"{chain.describe()} answered HTTP {exc.status}: {exc.boomi_message or exc}"
        self.resource_status[resource] = {
            "status": "unavailable",
            "tables": list(GOVERNANCE_RESOURCES[resource]),
            "reason": reason,
        }
        self.warnings.append(
            f"{resource} is unavailable ({reason}); its tables are not in the snapshot, so what they "
            "would show is unknown (not empty). Check the API user's privileges and the account's "
            "features, or sync without this resource"
        )
        log.warning("Boomi sync: %s", self.warnings[-1])

    def _outside(self, chain: _Chain, raw: Mapping[str, Any], why: str) -> SyncConsistencyError:
        return SyncConsistencyError(
            f"{chain.describe()}: Boomi returned a row outside the filter that was sent ({why}; "
            f"{describe(raw) or 'no ids'}). The answer cannot be trusted to be the rows asked for, "
            "so no snapshot was written; sync without this resource until the filter is honoured"
        )

    def _audit_time(self, chain: _Chain, raw: Mapping[str, Any]) -> Any:
        """The record's time, checked to lie in the window asked for (BETWEEN, both ends in)."""
        assert self.audit is not None
        at = parse_boomi_time(raw.get("date"))
        if at is None:
            raise SyncConsistencyError(
                f"{chain.describe()}: an audit-log record has no readable date ({raw.get('date')!r}); "
                "it cannot be placed in the window. No snapshot was written"
            )
        if not self.audit.contains(at):
            raise self._outside(
                chain,
                raw,
                f"date {raw.get('date')} is outside {self.audit.start.isoformat()} .. "
                f"{self.audit.end.isoformat()}",
            )
        return at

    def _governance_page(self, chain: _Chain, page: list[dict[str, Any]]) -> None:
        resource = _GOVERNANCE_CHAINS[chain.table]
        if not self._available(resource):
            return  # refused elsewhere: the resource writes nothing
        rows = self.governance
        for raw in page:
            if chain.object_id is None and chain.check_rows:
                check = chain.checked_by or chain.query_filter
                if check is not None and not check.admits(raw):
                    raise self._outside(chain, raw, "a filter term does not hold")
            warning: str | None = None
            match chain.table:
                case "federation":
                    warning = rows.add_federation(raw)
                case "sso_config":
                    rows.set_sso(raw)
                case "audit_logins":
                    rows.add_login(raw, self._audit_time(chain, raw))
                case "audit_changes":
                    rows.add_change(raw, self._audit_time(chain, raw))
                case "group_accounts":
                    warning = rows.add_group_account(raw, str(chain.group_id))
                case "environments":
                    known = len(rows.environments)
                    warning = rows.add_environment(raw)
                    if len(rows.environments) > known:
                        self._start_governance_chain(
                            _Chain(
                                "environment_roles",
                                "EnvironmentRole",
                                QueryFilter.equals("environmentId", str(raw["id"])),
                            )
                        )
                case "environment_roles":
                    warning = rows.add_environment_role(raw)
                case "sub_accounts":
                    if not raw.get("accountId"):
                        raise self._outside(
                            chain, raw, "ACCOUNTID IS_NOT_NULL, but the account has no accountId"
                        )
                    warning = rows.add_sub_account(raw, self.account_id)
            if warning is not None:
                self.warnings.append(warning)

    def _write_governance(self) -> None:
        """Write the tables of every governance resource Boomi answered."""
        rows = self.governance
        if self._available("federation"):
            self._table("user_federation").write_batch(
                sorted(rows.federation.values(), key=lambda r: (r["user_id"], r["federation_id"]))
            )
        if self._available("sso_config"):
            self._table("sso_config").write_batch([rows.sso] if rows.sso is not None else [])
        if self._available("audit_log") and self.audit is not None:
            logins, left_out = rows.login_rows(self.mapper.users, self.audit.start)
            self._table("audit_logins").write_batch(logins)
            self._table("audit_access_changes").write_batch(
                sorted(rows.changes.values(), key=lambda r: (r["changed_at"], r["document_id"] or ""))
            )
            self.resource_status["audit_log"].update(
                self.audit.describe(),
                login_events=rows.login_events,
                users_with_login=len(rows.logins),
                access_change_events=len(rows.changes),
            )
            if not rows.login_events:
                self.warnings.append(
                    f"the audit log holds no login record ({self.audit.login_markers}) from "
                    f"{self.audit.start.isoformat()} to {self.audit.end.isoformat()}: nobody's last "
                    "login is known (the findings say dormancy unknown). Check login_markers"
                )
            if left_out:
                self.warnings.append(
                    f"{len(left_out)} user id(s) differ only in case from an id in the login records "
                    f"(reference §g.4) and have no audit_logins row (unknown): {', '.join(left_out[:20])}"
                )
        if self._available("account_group_accounts"):
            self._table("account_group_accounts").write_batch(
                sorted(
                    rows.group_accounts.values(),
                    key=lambda r: (r["account_group_id"], r["covered_account_id"]),
                )
            )
        if self._available("sub_accounts"):
            self._write_sub_accounts()
        if self._available("environments"):
            self._table("environments").write_batch(
                sorted(rows.environments.values(), key=lambda r: r["environment_id"])
            )
            self._table("environment_roles").write_batch(
                sorted(rows.environment_roles.values(), key=lambda r: (r["environment_id"], r["role_id"]))
            )
            unknown = sorted({e for e, _ in rows.environment_roles} - set(rows.environments))
            if unknown:
                self.warnings.append(
                    f"EnvironmentRole objects name {len(unknown)} environment(s) the Environment query "
                    f"did not return: {', '.join(unknown[:20])}"
                )

    def _write_sub_accounts(self) -> None:
        """Write the sub-accounts and record what Boomi's answer was: on an account that is not a
        partner's, Boomi may list nothing or only the account itself (g.15); both are recorded as
        "no sub-accounts", as they say, and neither is taken for a refusal."""
        rows = self.governance
        found = sorted(rows.sub_accounts.values(), key=lambda r: r["sub_account_id"])
        self._table("sub_accounts").write_batch(found)
        if found:
            answer = f"{len(found)} sub-account(s)"
        elif rows.own_account_listed:
            answer = "no sub-accounts: Account/query listed only the account itself"
        else:
            answer = "no sub-accounts: Account/query listed no account"
        self.resource_status["sub_accounts"].update(
            sub_accounts=len(found), own_account_listed=rows.own_account_listed, answer=answer
        )

    def written_tables(self) -> list[str]:
        """The synced tables this run wrote: the manifest's ``resources``."""
        governance = [
            table
            for resource, status in self.resource_status.items()
            if status["status"] == "synced"
            for table in GOVERNANCE_RESOURCES[resource]
        ]
        return self.core_tables + governance

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
        for group_id, count in sorted(self.mapper.unknown_groups.items()):
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
        for table, count in sorted(self.mapper.duplicates.items()):
            self.warnings.append(
                f"{table}: {count} row(s) read more than once were written once (same Boomi id)"
            )
        self.warnings.extend(
            f"restarted after a refused page token (§g.7): {r}" for r in self.checks.restarts
        )
        for ids in self.mapper.case_collisions():
            self.warnings.append(
                f"user ids {', '.join(ids)} differ only in case: Boomi holds them as separate "
                "users (reference §g.4); their email column is the same"
            )
        only_groups = sum(1 for u in self.mapper.users.values() if u.global_roles == 0)
        if only_groups and "users" in self.options.resources:
            log.info(
                "Boomi sync: %d user(s) hold only account-group roles (is_account_member false)", only_groups
            )


def _previous(
    output_path: Any, storage_options: dict[str, Any] | None, client: BoomiClient, options: SyncOptions
) -> Previous:
    """Row counts of the latest earlier snapshot of the account, for planning (§5 of DESIGN).

    The group count guards against groups vanishing behind an error; the per-role and
    per-group row counts only plan the chains, so a snapshot that cannot be read for them
    plans nothing (logged), it never fails the sync.
    """
    store = SnapshotStore(output_path, storage_options=storage_options)
    snapshots = store.snapshots(client.config.account_id)
    groups = next(
        (
            int(i.row_counts["account_groups"])
            for i in reversed(snapshots)
            if "account_groups" in i.row_counts
        ),
        None,
    )
    if not snapshots:
        return Previous(groups=groups)
    latest = snapshots[-1]
    chains = frozenset().union(*(_CHAINS_FOR[r] for r in options.resources))
    role_rows = group_rows = None
    try:
        if (
            "user_roles" in chains
            and options.split_user_roles != "never"
            and "user_role_grants" in latest.row_counts
        ):
            role_rows = _count_by(store, latest, "user_role_grants", "role_id")
        if "group_roles" in chains and "group_role_grants" in latest.row_counts:
            group_rows = _count_by(store, latest, "group_role_grants", "account_group_id")
    except Exception as exc:  # planning only: a sync without a plan is slower, never wrong
        log.warning(
            "Boomi sync: could not read the previous snapshot's row counts (%s); planning without", exc
        )
    return Previous(groups=groups, role_rows=role_rows, group_rows=group_rows)


def _count_by(store: SnapshotStore, info: SnapshotInfo, table: str, column: str) -> dict[str, int]:
    """Rows per value of one column of a table of a snapshot (read as one Arrow column)."""
    values = store.read_table(info.account_id, info.sync_id, table, columns=[column]).column(column)
    counts: dict[str, int] = {}
    for chunk in values.chunks:
        for value in chunk.to_pylist():
            if value is not None:
                counts[value] = counts.get(value, 0) + 1
    return counts


def _provenance(client: BoomiClient, options: SyncOptions) -> dict[str, Any]:
    """Where the snapshot came from and how it was taken: what an auditor tests before relying
    on a report built from it (no secret: the base URL and account, not the credentials)."""
    policy = options.privilege_policy
    return {
        "source": {"api": client.config.base_url, "account_id": client.config.account_id},
        "parameters": {
            "resources": list(options.resources),
            "split_user_roles": options.split_user_roles,
            "on_ignored_filter": options.on_ignored_filter,
            "account_groups_unavailable": options.account_groups_unavailable,
            "builtin_inheritance": options.builtin_inheritance,
            "max_chain_restarts": options.max_chain_restarts,
            "audit_window_days": options.audit_window_days,
            "login_markers": dict(options.login_markers),
            "access_change_types": list(options.access_change_types),
        },
        "privileged_policy": {
            "privileges": sorted(policy.privileges),
            "role_names": sorted(policy.role_names),
        },
    }


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
    run = _SyncRun(client, writer, options, _previous(output_path, storage_options, client, options))
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
            resources=run.written_tables(),
            extra={**_provenance(client, options), "governance": run.resource_status},
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
