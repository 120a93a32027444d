"""Apply access changes to Boomi with its rules and the project's safeguards (DESIGN §6).

Every change follows the same path:

1. refused unless provisioning is enabled (a dry run is always allowed);
2. its role and account group are resolved by id or name (one Role query and at most one
   AccountGroup query per :class:`Provisioner`);
3. roles whose id is not a canonical UUID are refused (Boomi's API cannot assign them);
4. the current state is read, so a retried task never duplicates an invite or a row;
5. the change is made, then verified by reading the state back;
6. the result is recorded in the ledger.

When a create or delete ends without a definite answer (timeout, dropped connection, 5xx, an
unreadable reply) the request is never sent again: the state is read back and decides whether
the change took effect.

**Batched reads.** Steps 4 and 5 read several users at once. The users of a batch are taken in
groups of ``read_batch_size`` and each group runs in rounds: round ``k`` applies every user's
``k``-th change. A round begins with one ``AccountUserRole/query`` for the group,
``accountId EQUALS <account> and (userId EQUALS a or userId EQUALS b ...)``, which holds both
the read-back of the previous round's writes and the state the round decides from; the writes
follow, one user per thread. So a user with one change costs one write plus a share of two
reads. Every row of the answer is checked against the filter (:meth:`QueryFilter.admits`,
``userId`` compared without case unless Boomi matches it case-sensitively): a row outside it
means Boomi did not serve the grouping, so the answer is discarded, nothing is decided from it,
and every user is read alone from then on (a warning in :attr:`Provisioner.warnings` and the
log). A 400 for the grouping does the same. On a case-sensitive Boomi (§g.4) each user is asked
for under Boomi's own spelling, found as without batching, and rows are matched to users by
exact spelling.

Group-role changes (``add_group_role``, ``remove_group_role``) are read the same way, one more
query per account group the round's changes name: ``AccountGroupUserRole/query`` with
``accountGroupId EQUALS <group> and (userId EQUALS a or ...)``, before the writes and again as
their read-back, each row checked against that filter (a row of another group or another user:
the answer is discarded and the group rows of every user are read alone from then on, with a
warning naming AccountGroupUserRole; a 400 does the same; the grouping of global-role reads is
judged apart, since Boomi may serve one and not the other). A user with no row in the group yet
is found, and Boomi's spelling of them taken, from the round's global read. A group write Boomi
refused (400 or 404) re-reads the user alone in the group, and is decided again when their rows
there changed since the batched read, as below.

When the batched read is trusted, and when a user is read again alone, just before acting:

* trusted: whether a role is held (assign and revoke decide from it; a write that Boomi then
  refuses is handled below), and whether Standard User is held. The floor makes the second
  safe at any age: this provider never deletes Standard User, except a revoke of Standard User
  itself with ``allow_standard_user_revoke`` (below), so "held" stays true until the DELETE
  that relies on it;
* read again alone, right before the decision: a revoke of Standard User, the one revoke that
  can remove a user's last role; it is refused as the last role from that fresh read;
* read at the moment of the decision, never from a batch: the last-administrator check, which is
  about the other users (one query of every administrative row of the account);
* read again alone after a write Boomi refused (400 or 404) that was decided from a batched
  read: if the user's rows differ from the batched read, the state changed meanwhile and the
  change is decided again from the fresh read (once; the ledger's side effects say so);
  otherwise the refusal stands as it would have without batching;
* read again alone before reporting: a change the batched read-back does not show (or whose
  read-back failed or was discarded);
* unsettled writes still stop the user's later changes, which the rounds make simple: a user's
  next change starts only after the previous one is settled.

:class:`CallCounts` (:attr:`Provisioner.calls`) counts every call by the reason for it.

**Offboarding** (``offboard_user``) is the one action that deletes Standard User and so removes
the user from the account; :meth:`Provisioner._offboard` describes its guards and its order.
It reads the user alone, never from a batched read.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from airflow_provider_boomi.access.catalog import RoleSource
from airflow_provider_boomi.access.changes import (
    ADD_GROUP_ROLE,
    ALREADY_SATISFIED,
    APPLIED,
    ASSIGN_ROLE,
    FAILED,
    GROUP_ACTIONS,
    OFFBOARD_USER,
    PLANNED,
    REFUSED,
    REMOVE_GROUP_ROLE,
    REVOKE_ROLE,
    USER_NOT_FOUND,
    AccessChange,
    ChangeResult,
)
from airflow_provider_boomi.access.ledger import LedgerWriter, new_action_id
from airflow_provider_boomi.access.roles import (
    STANDARD_USER_ROLE_NAME,
    RoleCatalog,
    RoleInfo,
    is_assignable_role_id,
)
from airflow_provider_boomi.access.validation import validate_changes
from airflow_provider_boomi.client import (
    AccountGroup,
    AccountGroupUserRole,
    AccountUserRole,
    BoomiAuthenticationError,
    BoomiBadRequestError,
    BoomiClient,
    BoomiError,
    BoomiNotFoundError,
    BoomiPermissionError,
    QueryFilter,
)

__all__ = [
    "DEFAULT_MAX_CHANGES",
    "DEFAULT_READ_BATCH_SIZE",
    "MAX_READ_BATCH_SIZE",
    "AmbiguousUserError",
    "CallCounts",
    "Provisioner",
    "ProvisioningOptions",
    "ResolutionError",
    "TooManyChangesError",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_CHANGES = 25
"""A batch larger than this is refused unless ``max_changes`` is raised explicitly."""

DEFAULT_READ_BATCH_SIZE = 25
"""Users read in one batched query by default.

Boomi answers 100 rows a page, and a user holds a few global roles (Standard User and one to
three more; 2.5 on average in the simulator's 10,000-user account), so 25 users' rows fill about
two thirds of one page: the read costs one call, as the read of one user does. A larger group
saves little more (every further page is a call of its own), while it lengthens a filter whose
size Boomi documents no limit for and widens the time between a read and the writes decided from
it; a smaller one spends more calls on half-empty pages.
"""
MAX_READ_BATCH_SIZE = 200
"""The largest ``read_batch_size`` accepted: an ``or`` of more terms than this has no page to gain
and is more likely to meet a limit Boomi does not document."""

_DISABLED_MESSAGE = (
    "provisioning is disabled for this Boomi connection: set the connection extra "
    '"provisioning_enabled": true to allow changes (dry_run=True previews without it)'
)
_MAX_LISTED = 15  # candidates named in an "unknown role/group" message

# Errors that prove Boomi refused the request outright, so re-reading state cannot change the
# verdict and the same error would come back for the read.
_NO_REREAD = (BoomiAuthenticationError, BoomiPermissionError)
# Errors that are a definite "no" from Boomi (as opposed to an unknown outcome).
_DEFINITE = (BoomiBadRequestError, BoomiNotFoundError, *_NO_REREAD)
_ADMIN_PRIVILEGE = "ACCOUNT_ADMIN"
_PAGE_ROWS = 100  # Boomi answers a query 100 rows a page (reference b.2)
_Row = TypeVar("_Row")
# The verification of a change whose write may still take effect: the user's later changes in
# the batch are skipped.
_UNSETTLED = "unsettled: the write may still take effect"
_OFFBOARDING_PASSES = 5
"""Passes of an offboarding over the user's rows: the planned deletes, Standard User, the read
that finds nothing left, and two more for rows another run adds meanwhile."""


class ResolutionError(LookupError):
    """A role or account group named in a change is unknown or ambiguous."""


class AmbiguousUserError(ResolutionError):
    """Boomi holds one email under more than one spelling (a case-sensitive Boomi, §g.4)."""


def _refuse_ambiguous(typed: str, spellings: set[str]) -> None:
    if len(spellings) > 1:
        raise AmbiguousUserError(
            f"user id {typed!r} matches {len(spellings)} users Boomi holds separately: "
            f"{', '.join(sorted(spellings))} (their ids differ only in case; reference §g.4). Nothing was "
            "changed: give the exact spelling of the user meant"
        )


class TooManyChangesError(ValueError):
    """A batch is larger than ``max_changes``; nothing was sent to Boomi."""


@dataclass(frozen=True)
class ProvisioningOptions:
    """The guards around every change.

    :param provisioning_enabled: changes are refused unless true (the connection extra).
    :param dry_run: read state and plan, change nothing (allowed even when disabled).
    :param max_changes: the largest batch :meth:`Provisioner.apply_all` accepts.
    :param user_id_matching: how Boomi matches ``userId`` in filters (reference §g.4):
        ``"detect"`` (default: asked once per provisioner, two reads), ``"insensitive"`` or
        ``"sensitive"`` (then the user's spelling is found by one scan of the account's rows).
    :param allow_own_user: allow changes to the connection's own user (refused by default: the
        integration would change, or lose, the access every later call needs).
    :param allow_standard_user_revoke: allow revoking Standard User (refused by default: it is
        the floor that keeps a user in the account whatever else runs at once; even with this
        set, revoking it as the user's last role is refused).
    :param allow_user_removal: allow ``offboard_user`` changes, which remove a user from the
        account (every global role, Standard User included, and every role in the account's
        groups). Refused by default, dry runs included, so that a plan an approver sees is the
        plan that runs.
    :param offboard_without_groups: offboard even when the account's groups cannot be read
        (403, 400 or 404 on AccountGroup/query, §g.6: an account without the groups feature, or
        an API user without Account Group Management). Refused by default, because the user's
        group roles could then not be found, and the user reported removed while a group role
        kept them in; set it only where the account has no groups, and the result says that
        group roles were not checked.
    :param max_workers: users whose changes are applied concurrently. Every request still goes
        through the account's one rate limiter, so this only fills the limit (rate x latency
        requests in flight); changes to one user always run in order, on one thread.
    :param read_batch_size: users whose global roles (or whose rows in one account group) are
        read in one query (an ``or`` of ``userId EQUALS`` terms), before the writes and again to
        verify them. ``1`` reads each user alone (as before batching). See
        :data:`DEFAULT_READ_BATCH_SIZE` for the default.
    """

    provisioning_enabled: bool = False
    dry_run: bool = False
    max_changes: int = DEFAULT_MAX_CHANGES
    max_workers: int = 8
    read_batch_size: int = DEFAULT_READ_BATCH_SIZE
    user_id_matching: Literal["detect", "insensitive", "sensitive"] = "detect"
    allow_own_user: bool = False
    allow_standard_user_revoke: bool = False
    allow_user_removal: bool = False
    offboard_without_groups: bool = False

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_changes, bool)
            or not isinstance(self.max_changes, int)
            or self.max_changes < 1
        ):
            raise ValueError(f"max_changes must be an integer >= 1, got {self.max_changes!r}")
        if (
            isinstance(self.max_workers, bool)
            or not isinstance(self.max_workers, int)
            or self.max_workers < 1
        ):
            raise ValueError(f"max_workers must be an integer >= 1, got {self.max_workers!r}")
        if (
            isinstance(self.read_batch_size, bool)
            or not isinstance(self.read_batch_size, int)
            or not 1 <= self.read_batch_size <= MAX_READ_BATCH_SIZE
        ):
            raise ValueError(
                f"read_batch_size must be an integer from 1 to {MAX_READ_BATCH_SIZE}, "
                f"got {self.read_batch_size!r}"
            )
        if self.user_id_matching not in ("detect", "insensitive", "sensitive"):
            raise ValueError(
                "user_id_matching must be 'detect', 'insensitive' or 'sensitive', "
                f"got {self.user_id_matching!r}"
            )


class CallCounts:
    """The calls a :class:`Provisioner` made, by the reason it made them (thread-safe).

    Attributes: ``writes`` (the creates and deletes the changes ask for), ``safety_writes``
    (Standard User assignments of the floor), ``batched_reads`` (pages of the reads of several
    users' global roles, before the writes and to verify them), ``safety_reads`` (pages the
    safeguards need: the last-administrator query, a user read alone before Standard User is
    revoked or after a write Boomi refused, the read-back of a change that a batched read-back
    did not show, and the read-back of an unknown outcome) and ``single_reads`` (pages read for
    one user where no batched read serves: users who hold only group roles in other groups, the
    reads of an offboarding, the account groups an offboarding covers, and every user once the
    batched read is found ignored or refused). Batched reads of users' rows in one account group
    count as ``batched_reads`` too. The role catalog and the
    detection of userId matching are not counted here.
    """

    FIELDS = ("writes", "safety_writes", "batched_reads", "safety_reads", "single_reads")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.FIELDS, 0)

    def add(self, kind: str, calls: int = 1) -> None:
        """Count ``calls`` more of ``kind`` (one of :attr:`FIELDS`)."""
        with self._lock:
            self._counts[kind] += calls

    def get(self, kind: str) -> int:
        """The count of ``kind`` so far."""
        with self._lock:
            return self._counts[kind]

    def as_dict(self) -> dict[str, int]:
        """A consistent snapshot of every counter."""
        with self._lock:
            return dict(self._counts)

    def __repr__(self) -> str:
        return f"CallCounts({self.as_dict()!r})"


@dataclass(frozen=True)
class _Known:
    """A user's global-role rows in this account, as one read showed them.

    ``batched``: the read covered several users (its answer may be some seconds old by the time a
    change is decided from it); false for a read of this user alone. ``spelling``: the id the read
    asked for, Boomi's own spelling on a case-sensitive Boomi (``None``: the id as typed).
    ``error``: the user cannot be resolved (two spellings, §g.4).
    """

    rows: tuple[AccountUserRole, ...]
    batched: bool
    spelling: str | None = None
    error: AmbiguousUserError | None = None


@dataclass(frozen=True)
class _GroupKnown:
    """A user's rows in the account group ``group_id``, as one read showed them (the other
    fields as :class:`_Known`)."""

    group_id: str
    rows: tuple[AccountGroupUserRole, ...]
    batched: bool
    spelling: str | None = None
    error: AmbiguousUserError | None = None


_K = TypeVar("_K", _Known, _GroupKnown)  # what one read showed of a user: global or group rows


@dataclass
class _Pending:
    """A write Boomi accepted, waiting for its read-back (batched with other users' read-backs).

    ``holds`` decides from a user's rows whether the change is in place (and the row id proving
    it); ``note`` is the verification recorded when it is.
    """

    draft: _Draft
    spelling: str
    exact: bool
    # Given the user's global-role rows, or (``group_id`` set) their rows in that group.
    holds: Callable[[Sequence[Any]], tuple[bool, str | None]]
    note: str
    group_id: str | None = None


@dataclass(frozen=True)
class _Removal:
    """One row an offboarding deletes: a global role row (``group_id`` ``None``) or a group role row."""

    row_id: str
    role_id: str | None
    group_id: str | None

    @classmethod
    def of(cls, row: AccountUserRole | AccountGroupUserRole) -> _Removal:
        group_id = row.account_group_id if isinstance(row, AccountGroupUserRole) else None
        return cls(str(row.id), row.role_id, group_id)

    def holds(self, role_id: str) -> bool:
        """Whether this is a global row of ``role_id``."""
        return self.group_id is None and _same_id(self.role_id, role_id)

    def describe(
        self, role_name: Callable[[str | None], str | None], group_name: Callable[[str | None], str | None]
    ) -> str:
        role = role_name(self.role_id) or self.role_id
        if self.group_id is None:
            return f"{role} (global)"
        return f"{role} in group {group_name(self.group_id) or self.group_id}"


class _StateChanged(Exception):
    """A write decided from a batched read was refused, and the user's rows have changed since:
    the change is decided again from ``known``, a read of this user alone."""

    def __init__(self, known: _Known | _GroupKnown, why: str) -> None:
        super().__init__(why)
        self.known = known
        self.why = why


@dataclass
class _Draft:
    """A result under construction: filled in step by step, frozen by :meth:`finish`."""

    change: AccessChange
    dry_run: bool
    action_id: str = field(default_factory=new_action_id)
    role_id: str | None = None
    role_name: str | None = None
    account_group_id: str | None = None
    account_group_name: str | None = None
    state_before: str | None = None
    side_effects: list[str] = field(default_factory=list)
    boomi_id: str | None = None

    def unresolved(self) -> _Draft:
        """Fill role and group from the change as written (no lookup was made)."""
        ref = self.change.role or None
        if self.change.role_is_id or is_assignable_role_id(ref):
            self.role_id = ref
        else:
            self.role_name = ref
        group = self.change.account_group or None
        if self.change.account_group_is_id:
            self.account_group_id = group
        else:
            self.account_group_name = group
        return self

    def finish(
        self, outcome: str, *, error: str | None = None, verification: str | None = None
    ) -> ChangeResult:
        return ChangeResult(
            action_id=self.action_id,
            action=self.change.action,
            user_id=self.change.user_id,
            role_id=self.role_id,
            role_name=self.role_name,
            account_group_id=self.account_group_id,
            account_group_name=self.account_group_name,
            dry_run=self.dry_run,
            state_before=self.state_before,
            outcome=outcome,
            side_effects=tuple(self.side_effects),
            boomi_id=self.boomi_id,
            error=error,
            verification=verification,
            reason=self.change.reason,
        )


def _same_user(a: str | None, b: str) -> bool:
    # Boomi user ids are emails; Boomi treats them case-insensitively, and a reviewer's file
    # may well spell one with different case than Boomi stores it.
    return a is not None and a.strip().lower() == b.strip().lower()


def _same_id(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


class Provisioner:
    """Applies :class:`AccessChange` objects to one Boomi account.

    Plain Python: the operators wrap it, and scripts can use it directly::

        with LedgerWriter("/data/ledger") as ledger:
            options = ProvisioningOptions(provisioning_enabled=True)
            provisioner = Provisioner(client, options, ledger=ledger)
            results = provisioner.apply_all(
                [AccessChange(action="revoke_role", user_id="dana@acme.example", role="Auditor")]
            )

    Roles and groups are read once per instance; create a new instance for a fresh view.

    :param client: the account's client.
    :param options: the guards.
    :param ledger: where every result is recorded (optional; the caller closes it).
    """

    def __init__(
        self,
        client: BoomiClient,
        options: ProvisioningOptions | None = None,
        *,
        ledger: LedgerWriter | None = None,
    ) -> None:
        self._client = client
        self.options = options or ProvisioningOptions()
        self._ledger = ledger
        self._catalog: RoleCatalog | None = None
        self._role_source: RoleSource | None = None
        self._groups: list[AccountGroup] | None = None
        self._matching: str | None = None  # detected userId matching (§g.4)
        self._spellings: dict[str, set[str]] | None = None  # lower-cased id -> Boomi's spellings
        self._group_spellings: dict[str, set[str]] | None = None  # the same, from group-role rows
        self._record_lock = threading.Lock()
        self._catalog_lock = threading.Lock()
        # Off once Boomi ignores or refuses the grouping, per object: Boomi may serve it on one
        # and not the other.
        self._batching = self.options.read_batch_size > 1
        self._group_batching = self.options.read_batch_size > 1
        self.calls = CallCounts()
        """The calls made so far, by reason (:class:`CallCounts`)."""
        self.warnings: list[str] = []
        """What the provisioner worked around (e.g. a batched read Boomi did not serve as a
        filter), in the order it happened; each is also logged at WARNING."""

    # --- public -----------------------------------------------------------------------------------

    def apply(self, change: AccessChange) -> ChangeResult:
        """Validate and apply one change; record it in the ledger.

        :raises ProvisioningInputError: the change is invalid (nothing was sent to Boomi).
        """
        return self.apply_all([change])[0]

    def apply_all(self, changes: Sequence[AccessChange]) -> list[ChangeResult]:
        """Validate every change, then apply them: each user's changes in the given order.

        Order matters when several changes touch one user (assign a role, then revoke another:
        the revoke sees the new role and needs no Standard User safeguard), so one user's
        changes run in sequence on one thread; different users' changes run concurrently
        (``max_workers``) under the account's rate limiter. A change that fails does not stop
        the others. Results come back in the order of ``changes``.

        :raises ProvisioningInputError: a change is invalid (nothing was sent to Boomi).
        :raises TooManyChangesError: more than ``max_changes`` changes (nothing was sent;
            every change is recorded as ``refused`` in the ledger).
        """
        changes = list(changes)
        validate_changes(changes)
        results: list[ChangeResult] = []
        try:
            if len(changes) > self.options.max_changes:
                message = (
                    f"batch of {len(changes)} changes exceeds max_changes={self.options.max_changes}; "
                    f"nothing was sent to Boomi. Raise max_changes to at least {len(changes)} if this "
                    "batch is intended, or split it"
                )
                for change in changes:
                    self._record(
                        _Draft(change, self.options.dry_run).unresolved().finish(REFUSED, error=message)
                    )
                raise TooManyChangesError(message)
            results = self._apply_by_user(changes)
        finally:
            # A run that fails halfway must still leave the changes it made on record.
            if self._ledger is not None:
                self._ledger.flush()
        return results

    def _apply_by_user(self, changes: Sequence[AccessChange]) -> list[ChangeResult]:
        by_user: dict[str, list[int]] = {}
        for index, change in enumerate(changes):
            by_user.setdefault(change.user_id.strip().lower(), []).append(index)
        results: list[ChangeResult | None] = [None] * len(changes)
        users = list(by_user)
        size = self.options.read_batch_size
        groups = [users[start : start + size] for start in range(0, len(users), size)]
        workers = min(self.options.max_workers, len(users)) or 1
        # Two pools, so that a group waiting for its writes never holds a thread a write needs:
        # the groups' coordinators (one read, then the writes, then one read-back, in rounds) and
        # the writes of every group.
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="boomi-provision") as writers:

            def run(group: list[str]) -> None:
                self._apply_group(group, by_user, changes, results, writers)

            coordinators = min(workers, len(groups))
            if coordinators <= 1:
                for group in groups:
                    run(group)
            else:
                with ThreadPoolExecutor(
                    max_workers=coordinators, thread_name_prefix="boomi-provision-batch"
                ) as pool:
                    for future in [pool.submit(run, group) for group in groups]:
                        future.result()
        return [result for result in results if result is not None]

    def _apply_group(
        self,
        users: list[str],
        by_user: dict[str, list[int]],
        changes: Sequence[AccessChange],
        results: list[ChangeResult | None],
        writers: ThreadPoolExecutor,
    ) -> None:
        """Apply the changes of a group of users in rounds: round ``k`` applies each user's
        ``k``-th change. A round starts with one batched read of the users whose next change
        needs their global roles and of the users whose last write awaits its read-back (the
        read-back of one round is the state the next round decides from), and one batched read
        per account group of the users whose next change or awaited read-back is in that group;
        then it writes."""
        queues = {user: deque(by_user[user]) for user in users}
        known: dict[str, _Known] = {}
        group_known: dict[str, _GroupKnown] = {}
        pending: dict[str, tuple[int, _Pending]] = {}
        unsettled: dict[str, ChangeResult] = {}

        def done(index: int, result: ChangeResult) -> None:
            self._record(result)
            results[index] = result

        while pending or any(queues.values()):
            wanted = {
                user: changes[index].user_id
                for user, (index, waiting) in pending.items()
                if waiting.group_id is None
            }
            wanted_in: dict[str, dict[str, str]] = {}  # group id -> user key -> user id typed
            # Users of group changes whose global rows matter only if the group holds none of
            # theirs: user key -> (the change's group id, the user id typed).
            unless_in_group: dict[str, tuple[str | None, str]] = {}
            for user, (index, awaited) in pending.items():
                if awaited.group_id is not None:
                    wanted_in.setdefault(awaited.group_id, {})[user] = changes[index].user_id
            for user, queue in queues.items():
                if not queue:
                    continue
                change = changes[queue[0]]
                if not self._reads_state_of(change, skipped=user in unsettled):
                    continue
                # A user awaiting a read-back is read for it already, in that write's object (a
                # group's read-back is one group's); the next change may need the other object.
                awaiting = pending[user][1] if user in pending else None
                needs_global = user not in known and (awaiting is None or awaiting.group_id is not None)
                if change.action not in GROUP_ACTIONS:
                    if needs_global:
                        wanted[user] = change.user_id
                    continue
                group_id = self._group_of(change)
                if needs_global:
                    unless_in_group[user] = (group_id, change.user_id)
                held = group_known.get(user)
                if (
                    (awaiting is None or awaiting.group_id is None)
                    and group_id is not None
                    and (held is None or not _same_id(held.group_id, group_id))
                ):
                    wanted_in.setdefault(group_id, {})[user] = change.user_id
            fresh: dict[str, _Known] = {}
            fresh_in: dict[str, _GroupKnown] = {}
            try:
                for group_id, typed_by_user in wanted_in.items():
                    fresh_in.update(self._read_group_known(group_id, typed_by_user))
                if unless_in_group and self.user_id_matching() == "insensitive":
                    # A row in the group shows Boomi holds the user and how it spells them; without
                    # one, their global rows do. (A case-sensitive Boomi's spellings come from the
                    # scans of the account, so there the global rows are not needed.)
                    for user, (group_id, typed) in unless_in_group.items():
                        in_group = fresh_in.get(user) or group_known.get(user)
                        if in_group is None or not in_group.rows or not _same_id(in_group.group_id, group_id):
                            wanted[user] = typed
                if wanted:
                    fresh = self._read_known(wanted)
            except BoomiError as exc:
                # Detecting userId matching or a spelling scan failed: each change then reads
                # alone, and fails with its own error.
                log.warning("reading users before their changes failed: %s", exc)
            for user, (index, waiting) in list(pending.items()):
                if waiting.group_id is None:
                    result, after = self._settle(waiting, fresh.get(user))
                    if after is not None:
                        known[user] = after
                else:
                    result, group_after = self._settle_in_group(waiting, fresh_in.get(user))
                    if group_after is not None:
                        group_known[user] = group_after
                done(index, result)
                del pending[user]
            for user in wanted:
                if user in fresh and user not in known:
                    known[user] = fresh[user]
            for user, read in fresh_in.items():
                if user not in group_known:
                    group_known[user] = read
            step = [(user, queue.popleft()) for user, queue in queues.items() if queue]
            futures = [
                writers.submit(
                    self._step,
                    changes[index],
                    known.get(user),
                    unsettled.get(user),
                    group_known.get(user),
                )
                for user, index in step
            ]
            for (user, index), future in zip(step, futures, strict=True):
                outcome = future.result()
                if isinstance(outcome, _Pending):
                    pending[user] = (index, outcome)
                    known.pop(user, None)
                    group_known.pop(user, None)
                    continue
                done(index, outcome)
                if outcome.verification == _UNSETTLED:
                    unsettled[user] = outcome
                if outcome.outcome in (APPLIED, FAILED):
                    # It may have written: the rows read before are stale.
                    known.pop(user, None)
                    group_known.pop(user, None)

    def _reads_state_of(self, change: AccessChange, *, skipped: bool) -> bool:
        """Whether ``change`` will be decided from its user's rows (so the batched reads should
        include the user): not when it is refused or skipped before any read."""
        if skipped or change.action not in (ASSIGN_ROLE, REVOKE_ROLE, *GROUP_ACTIONS):
            return False
        if not self.options.provisioning_enabled and not self.options.dry_run:
            return False
        return self.options.allow_own_user or not _same_user(change.user_id, self._client.config.email)

    def _group_of(self, change: AccessChange) -> str | None:
        """The id of the account group a group change names (``None``: not a group change, or a
        group that does not resolve, which the change itself then reports)."""
        if change.action not in GROUP_ACTIONS or not change.account_group:
            return None
        try:
            return self.resolve_account_group(change.account_group, is_id=change.account_group_is_id).id
        except (ResolutionError, BoomiError):
            return None

    def _step(
        self,
        change: AccessChange,
        known: _Known | None,
        unsettled: ChangeResult | None,
        group_known: _GroupKnown | None = None,
    ) -> ChangeResult | _Pending:
        """One change of one user, or its skip when an earlier write of the user is unsettled."""
        if unsettled is None:
            return self._apply_one(change, known, group_known)
        # A write to this user may still land: deciding the next change from a state that is
        # about to change is how a user loses more than asked. The task's retry re-reads
        # everything and settles it.
        return (
            _Draft(change, self.options.dry_run)
            .unresolved()
            .finish(
                FAILED,
                error=(
                    f"skipped: the earlier change {unsettled.action} {unsettled.role_name or ''} "
                    f"for this user ended with an unknown outcome ({unsettled.error}); check the "
                    "user in Boomi, then retry (every change re-reads the state first)"
                ),
            )
        )

    def resolve_role(self, reference: str, *, is_id: bool = False) -> RoleInfo:
        """The role with this id or (unless ``is_id``) this name.

        :raises ResolutionError: unknown or ambiguous, with the candidates in the message.
        """
        catalog = self._roles()
        ref = reference.strip()
        by_id = [r for r in catalog.roles.values() if _same_id(r.role_id, ref)]
        if by_id:
            return by_id[0]
        account = self._client.config.account_id
        if is_id or is_assignable_role_id(ref):
            fetched = self._role_by_id(ref)
            if fetched is not None:
                return fetched
        if is_id:
            raise ResolutionError(
                f"no role with id {ref!r} in account {account} "
                f"(the Role query returned {len(catalog)} roles; check the id or give the role name)"
            )
        matches = catalog.by_name(ref) or [
            r for r in catalog.roles.values() if (r.name or "").lower() == ref.lower()
        ]
        if len(matches) == 1:
            return matches[0]
        if matches:
            listed = ", ".join(f"{r.role_id} ({'built-in' if r.is_builtin else 'custom'})" for r in matches)
            raise ResolutionError(
                f"role name {ref!r} is ambiguous in account {account}: {len(matches)} roles carry it: "
                f"{listed}. Give the role id instead"
            )
        names = sorted({r.name for r in catalog.roles.values() if r.name})
        close = difflib.get_close_matches(ref, names, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(repr(n) for n in close)}?" if close else ""
        raise ResolutionError(
            f"no role named {ref!r} in account {account}.{hint} Known roles: {_listing(names)}"
        )

    def resolve_account_group(self, reference: str, *, is_id: bool = False) -> AccountGroup:
        """The account group with this id or (unless ``is_id``) this name.

        :raises ResolutionError: unknown or ambiguous, with the candidates in the message.
        """
        groups = self._account_groups()
        ref = reference.strip()
        account = self._client.config.account_id
        by_id = [g for g in groups if _same_id(g.id, ref)]
        if by_id:
            return by_id[0]
        if not groups:
            raise ResolutionError(
                f"account {account} has no account groups (they exist only on primary accounts), "
                f"so group {ref!r} cannot be used"
            )
        if is_id:
            raise ResolutionError(f"no account group with id {ref!r} in account {account}")
        matches = [g for g in groups if g.name == ref] or [
            g for g in groups if (g.name or "").lower() == ref.lower()
        ]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise ResolutionError(
                f"account group name {ref!r} is ambiguous in account {account}: {len(matches)} groups carry "
                f"it: {', '.join(str(g.id) for g in matches)}. Give the account group id instead"
            )
        names = sorted({g.name for g in groups if g.name})
        raise ResolutionError(
            f"no account group named {ref!r} in account {account}. Known groups: {_listing(names)}"
        )

    # --- one change -------------------------------------------------------------------------------

    def _apply_one(
        self, change: AccessChange, known: _Known | None = None, group_known: _GroupKnown | None = None
    ) -> ChangeResult | _Pending:
        """One change: a final result, or a write awaiting its read-back.

        ``known``: the user's global-role rows from a read made for this round; ``group_known``:
        their rows in an account group, likewise (used only when it is the change's group).
        ``None``: the change reads what it needs itself.
        """
        draft = _Draft(change, self.options.dry_run)
        if not self.options.provisioning_enabled and not self.options.dry_run:
            return draft.unresolved().finish(REFUSED, error=_DISABLED_MESSAGE)
        if change.action == OFFBOARD_USER:
            return self._offboard(draft)
        try:
            role = self.resolve_role(change.role, is_id=change.role_is_id)
            draft.role_id, draft.role_name = role.role_id, role.name
            group: AccountGroup | None = None
            if change.action in GROUP_ACTIONS:
                group = self.resolve_account_group(
                    change.account_group or "", is_id=change.account_group_is_id
                )
                draft.account_group_id, draft.account_group_name = group.id, group.name
        except ResolutionError as exc:
            draft.unresolved()
            return draft.finish(FAILED, error=str(exc))
        except BoomiError as exc:
            draft.unresolved()
            return draft.finish(FAILED, error=f"could not read roles or account groups: {exc}")
        if not self.options.allow_own_user and _same_user(change.user_id, self._client.config.email):
            return draft.finish(
                REFUSED,
                error=(
                    f"{change.user_id} is the connection's own user: changing its access could cut off "
                    "this integration (every later call, sync and verification needs it). Make the change "
                    "in Boomi's UI, or set allow_own_user=True if it is intended"
                ),
            )
        if not role.is_assignable:
            return draft.finish(
                REFUSED,
                error=(
                    f"role {role.name!r} has id {role.role_id!r}, which is not a canonical UUID: Boomi's API "
                    "cannot assign or revoke such roles, so they are excluded (change it in the Boomi UI)"
                ),
            )
        try:
            if change.action == ASSIGN_ROLE:
                try:
                    return self._assign(draft, role, known)
                except _StateChanged as changed:
                    draft.side_effects.append(changed.why)
                    draft.boomi_id = None
                    assert isinstance(changed.known, _Known)
                    return self._assign(draft, role, changed.known)
            if change.action == REVOKE_ROLE:
                try:
                    return self._revoke(draft, role, known)
                except _StateChanged as changed:
                    draft.side_effects.append(changed.why)
                    draft.boomi_id = None
                    assert isinstance(changed.known, _Known)
                    return self._revoke(draft, role, changed.known)
            assert group is not None and group.id is not None
            in_group = group_known if group_known and _same_id(group_known.group_id, group.id) else None
            apply_in_group = (
                self._add_group_role if change.action == ADD_GROUP_ROLE else self._remove_group_role
            )
            try:
                return apply_in_group(draft, role, group.id, known, in_group)
            except _StateChanged as changed:
                draft.side_effects.append(changed.why)
                draft.boomi_id = None
                assert isinstance(changed.known, _GroupKnown)
                return apply_in_group(draft, role, group.id, known, changed.known)
        except AmbiguousUserError as exc:
            return draft.finish(REFUSED, error=str(exc))
        except ResolutionError as exc:
            return draft.finish(FAILED, error=str(exc))
        except BoomiError as exc:
            # A read failed (before or after the change); the handlers catch write failures.
            return draft.finish(FAILED, error=str(exc))
        raise AssertionError(f"unhandled action {change.action!r}")  # validation rejects unknown actions

    # --- users -----------------------------------------------------------------------------------

    # Boomi may match userId case-sensitively or not (reference §g.4): a filtered query for a
    # spelling other than Boomi's finds nothing on a case-sensitive server, and recording that
    # as "not held" would leave the access in place. So every change first resolves the user to
    # the spelling(s) Boomi stores, and never decides from a spelling it merely typed.

    def user_id_matching(self) -> str:
        """``"insensitive"`` or ``"sensitive"``: as configured, or detected once (two reads).

        Detection takes one user id of the account, asks for it in the other case, and sees
        whether Boomi finds it.
        """
        configured = self.options.user_id_matching
        if configured != "detect":
            return configured
        with self._catalog_lock:
            if self._matching is None:
                self._matching = self._detect_user_id_matching()
            return self._matching

    def _detect_user_id_matching(self) -> str:
        sample: str | None = None
        for page in self._client.query_pages("AccountUserRole", self._account_filter()):
            for row in self._in_account(AccountUserRole.from_api(r) for r in page):
                if row.user_id and row.user_id.swapcase() != row.user_id:
                    sample = row.user_id
                    break
            break  # the first page is enough
        if sample is None:
            return "insensitive"  # no user in the account, so no spelling to mistake
        other = sample.swapcase()
        found = self._client.query_account_user_roles(
            QueryFilter.all_of(self._account_filter(), QueryFilter.equals("userId", other))
        )
        # Only Boomi's own spelling coming back proves case-insensitive matching: a row spelt as
        # asked would be another user that a case-sensitive Boomi holds separately.
        matching = "insensitive" if any(r.user_id == sample for r in found) else "sensitive"
        log.info(
            "Boomi matches userId %s in account %s (asked for %s as %s)",
            "case-insensitively" if matching == "insensitive" else "case-sensitively",
            self._client.config.account_id,
            sample,
            other,
        )
        return matching

    def _account_filter(self) -> QueryFilter:
        return QueryFilter.equals("accountId", self._client.config.account_id)

    def _in_account(self, rows: Iterable[AccountUserRole]) -> list[AccountUserRole]:
        # A userId query may also return the user's rows in other accounts (§g.5): they must not
        # count towards "the user's last role" here.
        account = self._client.config.account_id
        return [r for r in rows if r.account_id is None or r.account_id == account]

    def _account_spellings(self) -> dict[str, set[str]]:
        """Every spelling of every user id holding a global role here (one scan, cached)."""
        with self._catalog_lock:
            if self._spellings is None:
                spellings: dict[str, set[str]] = {}
                rows = self._client.query_account_user_roles(self._account_filter())
                for row in self._in_account(rows):
                    if row.user_id:
                        spellings.setdefault(row.user_id.lower(), set()).add(row.user_id)
                self._spellings = spellings
            return self._spellings

    def _resolve_user(self, typed: str, known: _Known | None = None) -> tuple[str, list[AccountUserRole]]:
        """Boomi's spelling of ``typed`` and the user's global-role rows in this account.

        ``known``: the rows a read of this round already holds (then no call is made). Without
        it: on a case-insensitive Boomi one filtered query gives both; on a case-sensitive one,
        the spelling comes from a scan of the account's rows (once per provisioner), then the
        rows of that spelling are read. Two stored spellings of one email are refused.

        :raises AmbiguousUserError: Boomi holds the user id under more than one spelling.
        """
        if known is not None:
            if known.error is not None:
                raise known.error
            rows = list(known.rows)
            spellings = {r.user_id for r in rows if r.user_id}
            _refuse_ambiguous(typed, spellings)
            return next(iter(spellings), known.spelling or typed), rows
        if self.user_id_matching() == "sensitive":
            spellings = self._account_spellings().get(typed.strip().lower(), set())
            _refuse_ambiguous(typed, spellings)
            spelling = next(iter(spellings), typed)
            return spelling, self._user_rows(spelling, exact=True, kind="single_reads")
        rows = self._user_rows(typed, exact=False, kind="single_reads")
        spellings = {r.user_id for r in rows if r.user_id}
        _refuse_ambiguous(typed, spellings)
        return next(iter(spellings), typed), rows

    def _user_rows(self, user_id: str, *, exact: bool, kind: str) -> list[AccountUserRole]:
        """The global-role rows of one user in this account (pages counted as ``kind``)."""
        query = QueryFilter.all_of(self._account_filter(), QueryFilter.equals("userId", user_id))
        rows = self._in_account(self._counted(self._client.query_account_user_roles(query), kind))
        if exact:
            return [r for r in rows if r.user_id == user_id]
        return [r for r in rows if _same_user(r.user_id, user_id)]

    def _counted(self, rows: Iterable[_Row], kind: str) -> Iterator[_Row]:
        """The rows of one query, its calls counted as ``kind``: the query, then one ``queryMore``
        for each further page of Boomi's 100 rows."""
        self.calls.add(kind)
        for number, row in enumerate(rows):
            if number and number % _PAGE_ROWS == 0:
                self.calls.add(kind)
            yield row

    # --- batched reads ----------------------------------------------------------------------------

    def _read_known(self, typed_by_user: dict[str, str]) -> dict[str, _Known]:
        """The global-role rows of several users, ``read_batch_size`` users a query.

        Each query is ``accountId EQUALS <account> and (userId EQUALS a or userId EQUALS b
        ...)`` (one user: no ``or``), and every row that comes back is checked against it
        (:meth:`QueryFilter.admits`): a row outside the filter means Boomi ignored the grouping,
        so that read is discarded and, if it grouped several users, batching stops for this
        provisioner (a warning says so). A user missing from the answer is one whose read failed
        or was discarded: their change reads them alone, as without batching.

        On a case-sensitive Boomi (§g.4) each user is asked for under the spelling Boomi stores
        (from the scan of the account's rows, as a change read alone does), and rows are matched
        to users by exact spelling, so two spellings of one email are never merged; a user with
        two stored spellings gets no read, and their changes are refused as ambiguous.
        """
        sensitive = self.user_id_matching() == "sensitive"
        known: dict[str, _Known] = {}
        terms: dict[str, str] = {}  # user key -> the userId asked for
        for user, typed in typed_by_user.items():
            if sensitive:
                spellings = self._account_spellings().get(user, set())
                if len(spellings) > 1:
                    try:
                        _refuse_ambiguous(typed, spellings)
                    except AmbiguousUserError as exc:
                        known[user] = _Known((), batched=False, error=exc)
                    continue
                terms[user] = next(iter(spellings), typed)
            else:
                terms[user] = typed
        users = list(terms)
        while users:
            # Once Boomi is found not to serve the grouping, the rest are read one by one.
            size = self.options.read_batch_size if self._batching else 1
            group = {user: terms[user] for user in users[:size]}
            users = users[size:]
            read = self._read_group(group, sensitive=sensitive)
            if read is not None:
                known.update(read)
        return known

    def _read_group(self, group: dict[str, str], *, sensitive: bool) -> dict[str, _Known] | None:
        """One query for the users of ``group`` (key -> userId asked for); ``None``: no answer
        to decide from (the read failed, or Boomi ignored or refused the filter)."""
        asked = [QueryFilter.equals("userId", user_id) for user_id in group.values()]
        users_filter = asked[0] if len(asked) == 1 else QueryFilter.any_of(*asked)
        query = QueryFilter.all_of(self._account_filter(), users_filter)
        fold = () if sensitive else ("userId",)
        owner = {(u if sensitive else u.lower()): key for key, u in group.items()}
        rows: dict[str, list[AccountUserRole]] = {key: [] for key in group}
        account = self._client.config.account_id
        try:
            for row in self._counted(self._client.query_account_user_roles(query), "batched_reads"):
                if row.account_id is not None and row.account_id != account:
                    continue  # another account's row (§g.5): never this account's state
                if not query.admits(row.to_api(), fold=fold):
                    if len(group) > 1:
                        self._stop_batching(
                            f"a row of user {row.user_id} came back from a read that did not ask for it"
                        )
                    return None  # the rest of the answer would be more of the same: stop reading
                key = owner.get((row.user_id or "") if sensitive else (row.user_id or "").lower())
                if key is not None:
                    rows[key].append(row)
        except BoomiBadRequestError as exc:
            if len(group) > 1:
                self._stop_batching(f"Boomi refused the read with HTTP {exc.status} ({exc})")
            return None
        except BoomiError as exc:
            log.warning("batched read of %d user(s) failed (%s); each is read alone", len(group), exc)
            return None
        batched = len(group) > 1
        return {
            key: _Known(tuple(found), batched=batched, spelling=group[key] if sensitive else None)
            for key, found in rows.items()
        }

    def _stop_batching(self, why: str, object_type: str = "AccountUserRole") -> None:
        """Read each user alone from now on (for ``object_type``'s reads), and say so: Boomi did
        not serve the ``or`` of userId terms as a filter (ignored or refused; see the open
        questions)."""
        with self._catalog_lock:
            if object_type == "AccountUserRole":
                if not self._batching:
                    return
                self._batching = False
            else:
                if not self._group_batching:
                    return
                self._group_batching = False
            message = (
                f"{object_type}/query with userId terms grouped by 'or' is not served as a filter "
                f"in account {self._client.config.account_id}: {why}. That read was discarded and "
                "every user is now read alone (exact, one read per user instead of one per "
                f"{self.options.read_batch_size}); set read_batch_size=1 to skip the batched read "
                "for this account"
            )
            self.warnings.append(message)
        log.warning("%s", message)

    def _settle(self, pending: _Pending, fresh: _Known | None) -> tuple[ChangeResult, _Known | None]:
        """The outcome of an accepted write from its read-back, and the user's rows after it.

        The batched read-back decides when it shows the change in place. When it does not, or
        it is missing (the read failed, was discarded, or the user is ambiguous now), the user is
        read alone before the change is reported.
        """

        def read_alone() -> _Known:
            rows = self._user_rows(pending.spelling, exact=pending.exact, kind="safety_reads")
            return _Known(tuple(rows), batched=False, spelling=pending.spelling)

        return self._settle_from(pending, fresh, read_alone)

    def _settle_in_group(
        self, pending: _Pending, fresh: _GroupKnown | None
    ) -> tuple[ChangeResult, _GroupKnown | None]:
        """:meth:`_settle` for a write to an account group: decided by the batched read of the
        group when it shows the change, else by a read of this user's rows in the group alone."""
        group_id = pending.group_id
        assert group_id is not None
        if fresh is not None and not _same_id(fresh.group_id, group_id):
            fresh = None

        def read_alone() -> _GroupKnown:
            rows = self._group_rows(group_id, pending.spelling, exact=pending.exact, kind="safety_reads")
            return _GroupKnown(group_id, tuple(rows), batched=False, spelling=pending.spelling)

        return self._settle_from(pending, fresh, read_alone)

    def _settle_from(
        self, pending: _Pending, fresh: _K | None, read_alone: Callable[[], _K]
    ) -> tuple[ChangeResult, _K | None]:
        """The rule of :meth:`_settle` for either kind of rows: ``fresh`` decides if it shows the
        change in place, else ``read_alone`` (called by the verification, and again if it retries)."""
        draft = pending.draft
        if fresh is not None and fresh.error is None:
            holds, boomi_id = pending.holds(fresh.rows)
            if holds:
                draft.boomi_id = draft.boomi_id or boomi_id
                return draft.finish(APPLIED, verification=pending.note), fresh
        after: _K | None = None

        def check() -> tuple[bool, str | None]:
            nonlocal after
            after = read_alone()
            return pending.holds(after.rows)

        return self._verify(draft, check, pending.note), after

    def _read_group_known(self, group_id: str, typed_by_user: dict[str, str]) -> dict[str, _GroupKnown]:
        """Several users' rows in one account group, ``read_batch_size`` users a query:
        ``accountGroupId EQUALS <group> and (userId EQUALS a or userId EQUALS b ...)``.

        The rules of :meth:`_read_known`: every row is checked against the filter (a row of
        another group or another user discards the read and, if it grouped several users, stops
        the grouping of AccountGroupUserRole reads for this provisioner, with a warning; a 400
        for the grouping does the same); on a case-sensitive Boomi each user is asked for under
        Boomi's spelling (from the scans of the account's global and group rows) and rows are
        matched by exact spelling; a user with two stored spellings gets no read, and their
        change is refused as ambiguous. A user missing from the answer reads alone.
        """
        sensitive = self.user_id_matching() == "sensitive"
        known: dict[str, _GroupKnown] = {}
        terms: dict[str, str] = {}  # user key -> the userId asked for
        for user, typed in typed_by_user.items():
            if not sensitive:
                terms[user] = typed
                continue
            spellings = set(self._account_spellings().get(user, ())) | set(
                self._group_directory().get(user, ())
            )
            try:
                _refuse_ambiguous(typed, spellings)
            except AmbiguousUserError as exc:
                known[user] = _GroupKnown(group_id, (), batched=False, error=exc)
                continue
            terms[user] = next(iter(spellings), typed)
        users = list(terms)
        while users:
            size = self.options.read_batch_size if self._group_batching else 1
            chunk = {user: terms[user] for user in users[:size]}
            users = users[size:]
            read = self._read_group_chunk(group_id, chunk, sensitive=sensitive)
            if read is None:
                continue
            for user, rows in read.items():
                known[user] = _GroupKnown(
                    group_id,
                    tuple(rows),
                    batched=len(chunk) > 1,
                    spelling=chunk[user] if sensitive else None,
                )
        return known

    def _read_group_chunk(
        self, group_id: str, chunk: dict[str, str], *, sensitive: bool
    ) -> dict[str, list[AccountGroupUserRole]] | None:
        """One query for the users of ``chunk`` (key -> userId asked for) in one group; ``None``:
        no answer to decide from (the read failed, or Boomi ignored or refused the filter)."""
        asked = [QueryFilter.equals("userId", user_id) for user_id in chunk.values()]
        users_filter = asked[0] if len(asked) == 1 else QueryFilter.any_of(*asked)
        query = QueryFilter.all_of(QueryFilter.equals("accountGroupId", group_id), users_filter)
        fold = () if sensitive else ("userId",)
        owner = {(u if sensitive else u.lower()): key for key, u in chunk.items()}
        rows: dict[str, list[AccountGroupUserRole]] = {key: [] for key in chunk}
        try:
            answer = self._client.query_account_group_user_roles(query)
            for row in self._counted(answer, "batched_reads"):
                if not query.admits(row.to_api(), fold=fold):
                    if len(chunk) > 1:
                        self._stop_batching(
                            f"a row of user {row.user_id} in account group {row.account_group_id} came back "
                            f"from a read of group {group_id} that did not ask for it",
                            "AccountGroupUserRole",
                        )
                    return None  # the rest of the answer would be more of the same: stop reading
                key = owner.get((row.user_id or "") if sensitive else (row.user_id or "").lower())
                if key is not None:
                    rows[key].append(row)
        except BoomiBadRequestError as exc:
            if len(chunk) > 1:
                self._stop_batching(
                    f"Boomi refused the read with HTTP {exc.status} ({exc})", "AccountGroupUserRole"
                )
            return None
        except BoomiError as exc:
            log.warning(
                "batched read of %d user(s) in account group %s failed (%s); each is read alone",
                len(chunk),
                group_id,
                exc,
            )
            return None
        return rows

    def _refused_write(
        self,
        draft: _Draft,
        exc: BoomiError,
        known: _Known | None,
        user_id: str,
        holds: Callable[[Sequence[AccountUserRole]], tuple[bool, str | None]],
        what: str,
    ) -> ChangeResult:
        """The outcome of a create or delete that raised.

        When Boomi refused a write decided from a batched read (400 or 404), the user is read
        alone: if their rows changed since the batched read, the change is decided again from
        that read (:class:`_StateChanged`); if not, the refusal stands as it would have without
        batching. Every other error is decided by reading the state back (:meth:`_after_error`).
        """
        exact = self.user_id_matching() == "sensitive"

        def read_alone() -> list[AccountUserRole]:
            return self._user_rows(user_id, exact=exact, kind="safety_reads")

        return self._refused_from(draft, exc, known, read_alone, holds, what, "roles")

    def _refused_from(
        self,
        draft: _Draft,
        exc: BoomiError,
        known: _K | None,
        read_alone: Callable[[], Sequence[Any]],
        holds: Callable[[Sequence[Any]], tuple[bool, str | None]],
        what: str,
        whose: str,
    ) -> ChangeResult:
        """The rule of :meth:`_refused_write` for either kind of rows (``whose``: the user's
        "roles", or "roles in the group", for the message)."""
        if (
            known is not None
            and known.batched
            and isinstance(exc, _DEFINITE)
            and not isinstance(exc, _NO_REREAD)
        ):
            try:
                now = read_alone()
            except BoomiError as read_exc:
                return draft.finish(FAILED, error=f"{exc}; reading the user back failed too ({read_exc})")
            if _row_keys(now) != _row_keys(known.rows):
                raise _StateChanged(
                    replace(known, rows=tuple(now), batched=False),
                    f"Boomi refused the first attempt ({exc.status}): the user's {whose} had changed since "
                    "the batched read; decided again from a read of this user alone",
                )
            return self._after_error(draft, exc, lambda: holds(now), what)
        return self._after_error(draft, exc, lambda: holds(read_alone()), what)

    def _group_spelling(self, typed: str) -> str | None:
        """Boomi's spelling of a user seen in this account's group-role rows, or ``None``.

        AccountGroupUserRole has no accountId, so rows are scoped by this account's group ids.
        On a case-insensitive Boomi one ``userId`` query finds any spelling; on a
        case-sensitive one only a scan of the groups can (once per provisioner, cached).
        """
        groups = self._group_ids()
        if not groups:
            return None
        if self.user_id_matching() == "sensitive":
            spellings = set(self._group_directory().get(typed.strip().lower(), ()))
        else:
            query = QueryFilter.equals("userId", typed)
            rows = self._counted(self._client.query_account_group_user_roles(query), "single_reads")
            spellings = {
                r.user_id
                for r in rows
                if r.user_id and r.account_group_id in groups and _same_user(r.user_id, typed)
            }
        _refuse_ambiguous(typed, spellings)
        return next(iter(spellings), None)

    def _group_ids(self) -> set[str]:
        """This account's group ids; none on an account without groups (403/400/404, §g.6)."""
        try:
            return {g.id for g in self._account_groups() if g.id}
        except (BoomiPermissionError, BoomiBadRequestError, BoomiNotFoundError):
            return set()

    def _groups_unreadable(self) -> str | None:
        """Why this account's groups cannot be read (403/400/404, §g.6), or ``None`` if they can."""
        try:
            self._account_groups()
        except (BoomiPermissionError, BoomiBadRequestError, BoomiNotFoundError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def _group_directory(self) -> dict[str, set[str]]:
        """Every spelling of every user id in this account's group-role rows (one scan, cached)."""
        groups = sorted(self._group_ids())
        with self._catalog_lock:
            if self._group_spellings is None:
                spellings: dict[str, set[str]] = {}
                for group_id in groups:
                    query = QueryFilter.equals("accountGroupId", group_id)
                    for row in self._client.query_account_group_user_roles(query):
                        if row.user_id and _same_id(row.account_group_id, group_id):
                            spellings.setdefault(row.user_id.lower(), set()).add(row.user_id)
                self._group_spellings = spellings
            return self._group_spellings

    # --- global roles -----------------------------------------------------------------------------

    def _assign(self, draft: _Draft, role: RoleInfo, known: _Known | None) -> ChangeResult | _Pending:
        typed = draft.change.user_id
        user_id, rows = self._resolve_user(typed, known)
        existing = _find(rows, role.role_id)
        if existing is not None:
            draft.state_before, draft.boomi_id = "present", existing.id
            return draft.finish(ALREADY_SATISFIED, verification="role already held; no call made")
        group_spelling = None if rows else self._group_spelling(typed)
        if group_spelling is not None:
            # A user who holds only group roles already exists: reuse Boomi's spelling of them,
            # or the assignment would invite a twin on a case-sensitive Boomi.
            user_id = group_spelling
            draft.state_before = "absent (user holds only group roles)"
        elif not rows:
            draft.state_before = "absent (user not in account)"
            notify = "with" if draft.change.notify_user else "without"
            draft.side_effects.append(
                f"{'would invite' if draft.dry_run else 'invited'} new user {user_id} ({notify} email)"
            )
        else:
            draft.state_before = "absent"
        if draft.dry_run:
            return draft.finish(PLANNED, verification="dry run: nothing sent")

        def holds(after: Sequence[AccountUserRole]) -> tuple[bool, str | None]:
            row = _find(after, role.role_id)
            return row is not None, row.id if row else None

        self.calls.add("writes")
        try:
            created = self._client.create_account_user_role(
                user_id,
                role.role_id,
                first_name=draft.change.first_name,
                last_name=draft.change.last_name,
                notify_user=draft.change.notify_user,
            )
        except BoomiError as exc:
            return self._refused_write(draft, exc, known, user_id, holds, "the role row")
        draft.boomi_id = created.id
        return self._pending(draft, user_id, holds, "read back: role row present")

    def _pending(
        self,
        draft: _Draft,
        user_id: str,
        holds: Callable[[Sequence[Any]], tuple[bool, str | None]],
        note: str,
        *,
        group_id: str | None = None,
    ) -> _Pending:
        return _Pending(draft, user_id, self.user_id_matching() == "sensitive", holds, note, group_id)

    def _revoke(self, draft: _Draft, role: RoleInfo, known: _Known | None) -> ChangeResult | _Pending:
        typed = draft.change.user_id
        user_id, rows = self._resolve_user(typed, known)
        exact = self.user_id_matching() == "sensitive"
        if known is not None and known.batched and rows and self._is_standard_user(role):
            # Revoking Standard User is the one revoke that can remove the user's last role (the
            # floor keeps every other revoke from it): decide it from a read of this user alone,
            # made now, not from a batched read that may be seconds old.
            rows = self._user_rows(user_id, exact=exact, kind="safety_reads")
            known = _Known(tuple(rows), batched=False, spelling=known.spelling)
        target = _find(rows, role.role_id)
        if target is None:
            if not rows and self._group_spelling(typed) is None:
                draft.state_before = "user not found"
                return draft.finish(
                    USER_NOT_FOUND,
                    error=(
                        f"Boomi holds no user {typed!r} in account {self._client.config.account_id} under "
                        "any spelling it matches: nothing was revoked. Check the user id"
                    ),
                    verification="no role row of this user in the account; no call made",
                )
            draft.state_before = "absent" if rows else "absent (user holds only group roles)"
            return draft.finish(ALREADY_SATISFIED, verification="role not held; no call made")
        draft.boomi_id = target.id
        last_role = len(rows) == 1
        draft.state_before = "present (last role)" if last_role else "present"
        if user_id != typed:
            draft.side_effects.append(f"user resolved to Boomi's spelling {user_id}")
        standard: RoleInfo | None = self._standard_user()
        assert standard is not None
        if _same_id(standard.role_id, role.role_id):
            refusal = self._standard_user_refusal(user_id, last_role)
            if refusal is not None:
                return draft.finish(REFUSED, error=refusal)
            standard = None  # the floor itself goes, by explicit opt-in
        refusal = self._last_administrator_refusal(user_id, role)
        if refusal is not None:
            return draft.finish(REFUSED, error=refusal)
        # The floor (DESIGN §6): every revoke leaves Standard User in place, assigning it first
        # (without email) when the user lacks it. Two revokes of one user running at once in
        # different processes then cannot leave the user with no global role, with no lock:
        # neither ever deletes Standard User. (So a batched read that shows Standard User held
        # stays true until this revoke's DELETE, whatever its age: see the module docstring.)
        if standard is not None and _find(rows, standard.role_id) is None:
            effect = (
                f"{STANDARD_USER_ROLE_NAME} ({standard.role_id}) without email, "
                "so the user keeps a global role"
            )
            if draft.dry_run:
                draft.side_effects.append(f"would assign {effect}")
            else:
                failure = self._keep_user_in_account(draft, user_id, standard)
                if failure is not None:
                    return failure
                draft.side_effects.append(f"assigned {effect}")
        if draft.dry_run:
            return draft.finish(PLANNED, verification="dry run: nothing sent")
        kept = standard

        def holds(after: Sequence[AccountUserRole]) -> tuple[bool, str | None]:
            gone = _find(after, role.role_id) is None
            present = kept is None or _find(after, kept.role_id) is not None
            return gone and present, target.id

        self.calls.add("writes")
        try:
            self._client.delete("AccountUserRole", str(target.id))
        except BoomiError as exc:
            return self._refused_write(draft, exc, known, user_id, holds, "the role row's removal")
        kept_note = f"; {STANDARD_USER_ROLE_NAME} present" if standard else ""
        return self._pending(draft, user_id, holds, f"read back: role row absent{kept_note}")

    def _is_standard_user(self, role: RoleInfo) -> bool:
        try:
            return _same_id(self._standard_user().role_id, role.role_id)
        except ResolutionError:
            return False  # the revoke itself reports the missing Standard User

    def _standard_user_refusal(self, user_id: str, last_role: bool) -> str | None:
        """Why Standard User may not be revoked from ``user_id`` (``None``: it may)."""
        if last_role:
            return (
                f"{STANDARD_USER_ROLE_NAME} is the last global role of {user_id}: revoking it would remove "
                "the user from the account, and users are never deleted. Assign another role first if "
                "the user should keep access with a different role"
            )
        if not self.options.allow_standard_user_revoke:
            return (
                f"{STANDARD_USER_ROLE_NAME} is the floor that keeps {user_id} in the account whatever else "
                "runs at once, so it is not revoked (set allow_standard_user_revoke=True to revoke it while "
                "the user holds other roles; that opt-in is not safe against concurrent revokes)"
            )
        return None

    def _last_administrator_refusal(self, user_id: str, role: RoleInfo) -> str | None:
        """Refuse to revoke the account's last administrator (``None``: others remain).

        An administrator holds a global role with ACCOUNT_ADMIN among its effective privileges.
        A role of unknown privileges counts as administrative when it is the one revoked, and
        not when it is what another user holds: the check errs towards keeping access.
        """
        if role.effective_privileges is not None and _ADMIN_PRIVILEGE not in role.effective_privileges:
            return None
        admin_roles = sorted(
            r.role_id
            for r in self._roles().roles.values()
            if r.effective_privileges is not None and _ADMIN_PRIVILEGE in r.effective_privileges
        )
        if not admin_roles:
            return None  # nothing known to compare with; Boomi keeps its own last-admin rule
        terms = [QueryFilter.equals("roleId", r) for r in admin_roles]
        roles_filter = terms[0] if len(terms) == 1 else QueryFilter.any_of(*terms)
        query = QueryFilter.all_of(self._account_filter(), roles_filter)
        # Checked client-side too: Boomi may ignore the roleId term (§g.1). Read at the moment of
        # the decision, never from a batched read: it is about the other users.
        rows = self._counted(self._client.query_account_user_roles(query), "safety_reads")
        others = {
            r.user_id.lower()
            for r in self._in_account(rows)
            if r.user_id and r.role_id in admin_roles and not _same_user(r.user_id, user_id)
        }
        if others:
            return None
        return (
            f"{user_id} is the account's last administrator (no other user holds a role with "
            f"{_ADMIN_PRIVILEGE}): revoking {role.name or role.role_id} would leave nobody to administer "
            f"account {self._client.config.account_id}. Give another user an administrator role first"
        )

    def _keep_user_in_account(self, draft: _Draft, user_id: str, standard: RoleInfo) -> ChangeResult | None:
        """The Standard User safeguard: grant Standard User (no email) before the last role goes.

        ``user_id`` is Boomi's spelling. Returns a failed result when Standard User could not be
        confirmed, in which case nothing is deleted and the user keeps the role being revoked.
        """
        self.calls.add("safety_writes")
        try:
            self._client.create_account_user_role(user_id, standard.role_id, notify_user=False)
            return None
        except BoomiError as exc:
            if not isinstance(exc, _NO_REREAD):
                # A 400 here is most often the state changing under a batched read (someone
                # assigned Standard User meanwhile): this read of the user alone settles it.
                exact = self.user_id_matching() == "sensitive"
                try:
                    after = self._user_rows(user_id, exact=exact, kind="safety_reads")
                    if _find(after, standard.role_id) is not None:
                        draft.side_effects.append(
                            f"{STANDARD_USER_ROLE_NAME} assignment ended with an unknown outcome "
                            f"({exc.__class__.__name__}); read back shows it in place"
                        )
                        return None
                except BoomiError as read_exc:
                    return draft.finish(
                        FAILED,
                        error=(
                            f"assigning {STANDARD_USER_ROLE_NAME} before revoking the last role failed "
                            f"({exc}) and reading the state back failed too ({read_exc}); nothing was deleted"
                        ),
                    )
            return draft.finish(
                FAILED,
                error=(
                    f"assigning {STANDARD_USER_ROLE_NAME} before revoking the last role failed: {exc}. "
                    "Nothing was deleted; the user keeps the role"
                ),
                verification="read back: Standard User absent; role row kept",
            )

    def _standard_user(self) -> RoleInfo:
        candidates = [r for r in self._roles().by_name(STANDARD_USER_ROLE_NAME) if r.is_assignable]
        # A custom role may reuse the name; the built-in one is what Boomi's safeguard means.
        builtin = [r for r in candidates if r.is_builtin]
        chosen = builtin or candidates
        if not chosen:
            raise ResolutionError(
                f"the {STANDARD_USER_ROLE_NAME!r} role is not among the account's roles, so the last role "
                "of a user cannot be revoked safely"
            )
        return chosen[0]

    # --- group roles ------------------------------------------------------------------------------

    def _group_user(
        self, typed: str, group_id: str, known: _Known | None, in_group: _GroupKnown | None
    ) -> tuple[str, list[AccountGroupUserRole], bool]:
        """Boomi's spelling of the user, their rows in this group, and whether Boomi holds the
        user in this account at all (globally or in one of its groups).

        ``in_group``: the user's rows in this group from a read of the round (``None``: read
        for this user alone); ``known``: their global-role rows likewise, which spare the global
        read when the group holds no row of the user.
        """
        if in_group is not None and in_group.error is not None:
            raise in_group.error
        if self.user_id_matching() == "sensitive":
            key = typed.strip().lower()
            spellings = set(self._account_spellings().get(key, ())) | set(
                self._group_directory().get(key, ())
            )
            _refuse_ambiguous(typed, spellings)
            spelling = next(iter(spellings), typed)
            if in_group is not None:
                return spelling, list(in_group.rows), bool(spellings)
            return spelling, self._group_rows(group_id, spelling, exact=True), bool(spellings)
        rows = list(in_group.rows) if in_group else self._group_rows(group_id, typed, exact=False)
        spellings = {r.user_id for r in rows if r.user_id}
        _refuse_ambiguous(typed, spellings)
        if spellings:
            return next(iter(spellings)), rows, True
        spelling, account_rows = self._resolve_user(typed, known)
        if account_rows:
            return spelling, rows, True
        group_spelling = self._group_spelling(typed)
        return group_spelling or typed, rows, group_spelling is not None

    def _group_rows(
        self, group_id: str, user_id: str, *, exact: bool, kind: str = "single_reads"
    ) -> list[AccountGroupUserRole]:
        """The user's rows in one account group, read for this user alone (pages counted as
        ``kind``); every row checked client-side."""
        query = QueryFilter.all_of(
            QueryFilter.equals("accountGroupId", group_id), QueryFilter.equals("userId", user_id)
        )
        rows = self._counted(self._client.query_account_group_user_roles(query), kind)
        return [
            r
            for r in rows
            if _same_id(r.account_group_id, group_id)
            and (r.user_id == user_id if exact else _same_user(r.user_id, user_id))
        ]

    def _add_group_role(
        self,
        draft: _Draft,
        role: RoleInfo,
        group_id: str,
        known: _Known | None,
        in_group: _GroupKnown | None,
    ) -> ChangeResult | _Pending:
        user_id, rows, _ = self._group_user(draft.change.user_id, group_id, known, in_group)
        existing = _find(rows, role.role_id)
        if existing is not None:
            draft.state_before, draft.boomi_id = "present", existing.id
            return draft.finish(ALREADY_SATISFIED, verification="group role already held; no call made")
        draft.state_before = "absent"
        if draft.dry_run:
            return draft.finish(PLANNED, verification="dry run: nothing sent")

        def holds(after: Sequence[AccountGroupUserRole]) -> tuple[bool, str | None]:
            row = _find(after, role.role_id)
            return row is not None, row.id if row else None

        self.calls.add("writes")
        try:
            created = self._client.create_account_group_user_role(group_id, user_id, role.role_id)
        except BoomiError as exc:
            return self._refused_group_write(
                draft, exc, in_group, group_id, user_id, holds, "the group role row"
            )
        draft.boomi_id = created.id
        return self._pending(draft, user_id, holds, "read back: group role row present", group_id=group_id)

    def _remove_group_role(
        self,
        draft: _Draft,
        role: RoleInfo,
        group_id: str,
        known: _Known | None,
        in_group: _GroupKnown | None,
    ) -> ChangeResult | _Pending:
        typed = draft.change.user_id
        user_id, rows, found = self._group_user(typed, group_id, known, in_group)
        target = _find(rows, role.role_id)
        if target is None:
            if not found:
                draft.state_before = "user not found"
                return draft.finish(
                    USER_NOT_FOUND,
                    error=(
                        f"Boomi holds no user {typed!r} in account {self._client.config.account_id} or its "
                        "account groups under any spelling it matches: nothing was removed. Check the user id"
                    ),
                    verification="no row of this user; no call made",
                )
            draft.state_before = "absent"
            return draft.finish(ALREADY_SATISFIED, verification="group role not held; no call made")
        draft.state_before, draft.boomi_id = "present", target.id
        if draft.dry_run:
            return draft.finish(PLANNED, verification="dry run: nothing sent")

        def holds(after: Sequence[AccountGroupUserRole]) -> tuple[bool, str | None]:
            return _find(after, role.role_id) is None, target.id

        self.calls.add("writes")
        try:
            self._client.delete("AccountGroupUserRole", str(target.id))
        except BoomiError as exc:
            return self._refused_group_write(
                draft, exc, in_group, group_id, user_id, holds, "the group role row's removal"
            )
        return self._pending(draft, user_id, holds, "read back: group role row absent", group_id=group_id)

    def _refused_group_write(
        self,
        draft: _Draft,
        exc: BoomiError,
        in_group: _GroupKnown | None,
        group_id: str,
        user_id: str,
        holds: Callable[[Sequence[AccountGroupUserRole]], tuple[bool, str | None]],
        what: str,
    ) -> ChangeResult:
        """The outcome of a group-role create or delete that raised: as :meth:`_refused_write`,
        with the user's rows in the group."""
        exact = self.user_id_matching() == "sensitive"

        def read_alone() -> list[AccountGroupUserRole]:
            return self._group_rows(group_id, user_id, exact=exact, kind="safety_reads")

        return self._refused_from(draft, exc, in_group, read_alone, holds, what, "roles in the group")

    # --- offboarding ------------------------------------------------------------------------------

    def _offboard(self, draft: _Draft) -> ChangeResult:
        """Remove a user from the account: every global role row and every group role row.

        Guards, in order, each a ``refused`` result before any write: ``allow_user_removal``
        (dry runs too); the connection's own user (always, whatever ``allow_own_user`` says:
        the integration would lose the access every later call needs, the verification of this
        offboarding included); two stored spellings of the user (§g.4); a held role whose id is
        not a canonical UUID (the API cannot delete it, so the user could only be half removed);
        the account's last administrator (the check of :meth:`_last_administrator_refusal`,
        read at the moment of the decision). A user Boomi holds under no spelling ends
        ``user_not_found``.

        Order. The user's rows are read alone: global role rows (``accountId`` and ``userId``),
        and group role rows (``userId``, kept only in this account's groups); every row is
        checked against what was asked. When the user lacks Standard User it is assigned first
        (without email). Then every row but Standard User is deleted, the rows are read again,
        and only when nothing else is left is Standard User deleted, and the rows read once
        more. Standard User, held until the last delete, is what keeps a revoke running at the
        same time in another process from putting the user back: a revoke assigns it only when
        it reads it missing, and by then this offboarding has deleted everything. Rows that
        appear meanwhile are deleted on the next pass (at most :data:`_OFFBOARDING_PASSES`
        passes); a row still present right after its delete stops the offboarding, which then
        ends ``failed`` naming what is left (Standard User kept, so the user stays visibly in
        the account).

        Ledger: one row per delete (``revoke_role`` or ``remove_group_role``, outcome decided by
        the read that follows it), then this summary row; all carry the change's reason. The
        accounts other than this one that the user's groups cover are reported
        (``sub_accounts``), never changed.
        """
        change = draft.change
        account = self._client.config.account_id
        if not self.options.allow_user_removal:
            return draft.finish(
                REFUSED,
                error=(
                    f"offboard_user removes {change.user_id} from account {account} (every global role, "
                    "Standard User included, and every role in its account groups) and needs an explicit "
                    "allowance: set allow_user_removal=True on the operator (ProvisioningOptions in a "
                    "script) if removing this user is intended"
                ),
            )
        if _same_user(change.user_id, self._client.config.email):
            return draft.finish(
                REFUSED,
                error=(
                    f"{change.user_id} is the connection's own user: offboarding it would remove the access "
                    "this integration runs on (the verification of this offboarding and every later call "
                    "would fail, and nothing here could repair it), so it is refused even with "
                    "allow_own_user. Remove the user in Boomi's UI, signed in as another administrator"
                ),
            )
        unreadable = self._groups_unreadable()
        if unreadable is not None:
            if not self.options.offboard_without_groups:
                return draft.finish(
                    REFUSED,
                    error=(
                        f"account {account}'s groups cannot be read ({unreadable}; §g.6), so the roles "
                        f"{change.user_id} holds in them cannot be found and the user could not be shown "
                        "removed: give the API user Account Group Management, or, if the account has no "
                        "account groups, set offboard_without_groups=True"
                    ),
                )
            draft.side_effects.append(
                f"account groups unreadable ({unreadable}): group roles not checked (offboard_without_groups)"
            )
        exact = self.user_id_matching() == "sensitive"
        try:
            spelling, rows, group_rows = self._offboarding_rows(change.user_id)
        except AmbiguousUserError as exc:
            return draft.finish(REFUSED, error=str(exc))
        except BoomiError as exc:
            return draft.finish(FAILED, error=f"reading the user's roles failed, nothing was removed: {exc}")
        if not rows and not group_rows:
            draft.state_before = "user not found"
            return draft.finish(
                USER_NOT_FOUND,
                error=(
                    f"Boomi holds no role of user {change.user_id!r} in account {account} or its account "
                    "groups under any spelling it matches: nothing was removed. Check the user id (a user "
                    "offboarded earlier reads the same way: the ledger has that offboarding)"
                ),
                verification="no row of this user; no call made",
            )
        draft.state_before = f"present: {len(rows)} global role(s), {len(group_rows)} group role(s)"
        if spelling != change.user_id:
            draft.side_effects.append(f"user resolved to Boomi's spelling {spelling}")
        try:
            held = {row.role_id: self._held_role(row.role_id) for row in rows if row.role_id}
            role_ids = [r.role_id for r in rows] + [r.role_id for r in group_rows]
            excluded = sorted(
                {
                    self._held_role(role_id).name or role_id
                    for role_id in role_ids
                    if role_id and not is_assignable_role_id(role_id)
                }
            )
            if excluded:
                return draft.finish(
                    REFUSED,
                    error=(
                        f"{spelling} holds role(s) {', '.join(map(repr, excluded))} whose id is not a "
                        "canonical UUID: Boomi's API cannot remove them, so the offboarding would leave the "
                        "user half removed. Remove those roles in Boomi's UI, then offboard the user"
                    ),
                )
            administrative = next(
                (
                    role
                    for role in held.values()
                    if role.effective_privileges is None or _ADMIN_PRIVILEGE in role.effective_privileges
                ),
                None,
            )
            if administrative is not None:
                refusal = self._last_administrator_refusal(spelling, administrative)
                if refusal is not None:
                    return draft.finish(REFUSED, error=refusal)
            sub_accounts, unknown_coverage = self._sub_accounts({r.account_group_id for r in group_rows})
        except BoomiError as exc:
            return draft.finish(
                FAILED, error=f"reading roles or account groups failed, nothing was removed: {exc}"
            )
        draft.side_effects.extend(self._coverage_notes(group_rows, sub_accounts, unknown_coverage))
        try:
            standard: RoleInfo | None = self._standard_user()
        except ResolutionError:
            standard = None  # nothing to keep first; the deletes do not need it
        lacks_standard = standard is not None and bool(rows) and _find(rows, standard.role_id) is None
        planned = [_Removal.of(r) for r in group_rows] + [_Removal.of(r) for r in rows]
        if draft.dry_run:
            if lacks_standard:
                assert standard is not None
                draft.side_effects.append(
                    f"would assign {STANDARD_USER_ROLE_NAME} ({standard.role_id}) without email first and "
                    "delete it last"
                )
            grants = [
                self._removal_result(draft, r, PLANNED, verification="dry run: nothing sent") for r in planned
            ]
            return self._offboarding_result(
                draft, grants, sub_accounts, PLANNED, verification="dry run: nothing sent"
            )
        if lacks_standard:
            assert standard is not None
            failure = self._keep_user_in_account(draft, spelling, standard)
            if failure is not None:
                return replace(
                    failure,
                    error=f"offboarding stopped before any delete: {failure.error}",
                    sub_accounts=tuple(sub_accounts),
                )
            draft.side_effects.append(
                f"assigned {STANDARD_USER_ROLE_NAME} ({standard.role_id}) without email first: it is deleted "
                "last, so a revoke running at the same time (which assigns it only when missing) cannot put "
                "the user back after the offboarding"
            )
        return self._remove_rows(
            draft, spelling, exact, planned, standard, sub_accounts, assigned_standard=lacks_standard
        )

    def _remove_rows(
        self,
        draft: _Draft,
        spelling: str,
        exact: bool,
        present: list[_Removal],
        standard: RoleInfo | None,
        sub_accounts: list[str],
        *,
        assigned_standard: bool,
    ) -> ChangeResult:
        """The passes of an offboarding (see :meth:`_offboard`): delete, read, until no row is left."""
        grants: list[ChangeResult] = []
        expected = {r.row_id for r in present}
        deleted: set[str] = set()  # row ids deleted (and read back absent) by an earlier pass
        appeared: list[str] = []
        unsettled = False
        for number in range(_OFFBOARDING_PASSES):
            if not present:
                return self._offboarding_result(
                    draft,
                    grants,
                    sub_accounts,
                    APPLIED,
                    verification=(
                        f"read back: no global role and no group role of the user left in account "
                        f"{self._client.config.account_id} and its account groups"
                    ),
                    appeared=appeared,
                )
            if number:
                # Rows no read of this offboarding showed before, or back after their delete: another
                # run added them. (Standard User this offboarding assigned first is expected.)
                appeared += [
                    r.describe(self._role_name, self._group_name)
                    for r in present
                    if r.row_id in deleted
                    or (
                        r.row_id not in expected
                        and not (assigned_standard and standard is not None and r.holds(standard.role_id))
                    )
                ]
                expected.update(r.row_id for r in present)
            # Standard User goes last, only once a read shows nothing else left (see _offboard).
            others = [r for r in present if standard is None or not r.holds(standard.role_id)]
            batch = others or present
            attempts = [(removal, self._delete_removal(removal)) for removal in batch]
            try:
                after = self._offboarding_read(spelling, exact)
            except BoomiError as exc:
                for removal, error in attempts:
                    grants.append(self._decided_removal(draft, removal, error, still_present=None))
                unsettled = unsettled or any(
                    error is not None and not isinstance(error, _DEFINITE) for _, error in attempts
                )
                return self._offboarding_result(
                    draft,
                    grants,
                    sub_accounts,
                    FAILED,
                    error=(
                        f"reading the user's rows back failed ({exc}): what was deleted is in the ledger; "
                        "check the user in Boomi, then offboard again (it re-reads everything first)"
                    ),
                    verification=_UNSETTLED if unsettled else "not verified: reading back failed",
                    appeared=appeared,
                )
            left_ids = {r.row_id for r in after}
            for removal, error in attempts:
                result = self._decided_removal(
                    draft, removal, error, still_present=removal.row_id in left_ids
                )
                grants.append(result)
                unsettled = unsettled or result.verification == _UNSETTLED
                if result.ok:
                    deleted.add(removal.row_id)
            stuck = [removal for removal, _ in attempts if removal.row_id in left_ids]
            if stuck:
                return self._offboarding_result(
                    draft,
                    grants,
                    sub_accounts,
                    FAILED,
                    error=(
                        f"{len(stuck)} delete(s) did not take effect, so the offboarding stopped"
                        + (f" before deleting {STANDARD_USER_ROLE_NAME}" if others else "")
                        + f"; left: {self._left(after)}. Retry the offboarding (it re-reads everything first)"
                    ),
                    verification=_UNSETTLED if unsettled else f"read back: {len(after)} row(s) left",
                    appeared=appeared,
                )
            present = after
        return self._offboarding_result(
            draft,
            grants,
            sub_accounts,
            FAILED,
            error=(
                "the user's roles kept changing while they were removed (another run is changing this "
                f"user): after {_OFFBOARDING_PASSES} passes, left: {self._left(present)}. Stop the other "
                "run, then offboard again"
            ),
            verification=f"read back: {len(present)} row(s) left",
            appeared=appeared,
        )

    def _offboarding_rows(self, typed: str) -> tuple[str, list[AccountUserRole], list[AccountGroupUserRole]]:
        """Boomi's spelling of the user, their global role rows here and their group role rows in
        this account's groups, read for this user alone.

        :raises AmbiguousUserError: Boomi holds the user id under more than one spelling.
        """
        if self.user_id_matching() == "sensitive":
            key = typed.strip().lower()
            spellings = set(self._account_spellings().get(key, ())) | set(
                self._group_directory().get(key, ())
            )
            _refuse_ambiguous(typed, spellings)
            spelling = next(iter(spellings), typed)
            return (
                spelling,
                self._user_rows(spelling, exact=True, kind="single_reads"),
                self._user_group_rows(spelling, exact=True),
            )
        rows = self._user_rows(typed, exact=False, kind="single_reads")
        group_rows = self._user_group_rows(typed, exact=False)
        spellings = {r.user_id for r in rows if r.user_id} | {r.user_id for r in group_rows if r.user_id}
        _refuse_ambiguous(typed, spellings)
        return next(iter(spellings), typed), rows, group_rows

    def _offboarding_read(self, spelling: str, exact: bool) -> list[_Removal]:
        """Every row of the user left in this account and its groups, read now (safety reads)."""
        rows = self._user_rows(spelling, exact=exact, kind="safety_reads")
        group_rows = self._user_group_rows(spelling, exact=exact, kind="safety_reads")
        return [_Removal.of(r) for r in group_rows] + [_Removal.of(r) for r in rows]

    def _user_group_rows(
        self, user_id: str, *, exact: bool, kind: str = "single_reads"
    ) -> list[AccountGroupUserRole]:
        """The user's group role rows in this account's groups: one ``userId`` query, each row
        checked client-side (the object has no accountId, so the groups scope it)."""
        groups = {g.lower() for g in self._group_ids()}
        if not groups:
            return []
        query = QueryFilter.equals("userId", user_id)
        rows = self._counted(self._client.query_account_group_user_roles(query), kind)
        return [
            r
            for r in rows
            if r.id
            and (r.account_group_id or "").lower() in groups
            and (r.user_id == user_id if exact else _same_user(r.user_id, user_id))
        ]

    def _held_role(self, role_id: str) -> RoleInfo:
        """The role of a held row: from the catalog, else ``GET Role/{id}``, else a role whose
        name and privileges are unknown (which the last-administrator check counts as
        administrative)."""
        known = self._roles().get(role_id) or self._role_by_id(role_id)
        if known is not None:
            return known
        return RoleInfo(
            role_id=role_id,
            name=None,
            description=None,
            parent_role_id=None,
            owner_account_id=None,
            privileges=None,
            effective_privileges=None,
            is_builtin=None,
            is_privileged=None,
            is_assignable=is_assignable_role_id(role_id),
        )

    def _role_name(self, role_id: str | None) -> str | None:
        if role_id is None:
            return None
        role = self._roles().get(role_id)
        return role.name if role is not None else None

    def _group_name(self, group_id: str | None) -> str | None:
        if group_id is None:  # a global role: no group to name (and none to read)
            return None
        return next((g.name for g in self._account_groups() if _same_id(g.id, group_id)), None)

    def _sub_accounts(self, group_ids: Iterable[str | None]) -> tuple[list[str], list[str]]:
        """The accounts other than this one that ``group_ids`` cover (``AccountGroupAccount``),
        and the groups whose coverage could not be read (403, 400... : reported, not guessed)."""
        account = self._client.config.account_id
        covered: set[str] = set()
        unknown: list[str] = []
        for group_id in sorted(g for g in group_ids if g):
            query = QueryFilter.equals("accountGroupId", group_id)
            try:
                rows = list(self._counted(self._client.query("AccountGroupAccount", query), "single_reads"))
            except BoomiError as exc:
                unknown.append(f"{self._group_name(group_id) or group_id} ({exc.__class__.__name__})")
                continue
            covered.update(
                str(r["accountId"])
                for r in rows
                if _same_id(str(r.get("accountGroupId") or ""), group_id) and r.get("accountId")
            )
        return sorted(covered - {account}), unknown

    def _coverage_notes(
        self, group_rows: Sequence[AccountGroupUserRole], sub_accounts: Sequence[str], unknown: Sequence[str]
    ) -> list[str]:
        notes = []
        if sub_accounts:
            groups = sorted(
                {self._group_name(r.account_group_id) or str(r.account_group_id) for r in group_rows}
            )
            notes.append(
                f"the user's group roles reached sub-account(s) {', '.join(sub_accounts)} through account "
                f"group(s) {', '.join(groups)}: those group roles are removed here, but roles the user holds "
                "in those accounts themselves are not changed; check them with each account's connection"
            )
        if unknown:
            notes.append(
                f"which accounts group(s) {', '.join(unknown)} cover could not be read: the user may reach "
                "sub-accounts through them; check them in Boomi"
            )
        return notes

    def _delete_removal(self, removal: _Removal) -> BoomiError | None:
        """Send one DELETE; the error it raised, if any (the next read decides the outcome)."""
        self.calls.add("writes")
        object_type = "AccountUserRole" if removal.group_id is None else "AccountGroupUserRole"
        try:
            self._client.delete(object_type, removal.row_id)
        except BoomiError as exc:
            return exc
        return None

    def _decided_removal(
        self, offboarding: _Draft, removal: _Removal, error: BoomiError | None, *, still_present: bool | None
    ) -> ChangeResult:
        """The ledger row of one delete, decided by the read that followed it (``None``: it failed)."""
        if still_present is None:
            if error is None:
                return self._removal_result(
                    offboarding,
                    removal,
                    APPLIED,
                    verification="not verified: Boomi accepted the delete but reading it back failed",
                )
            unsettled = not isinstance(error, _DEFINITE)
            return self._removal_result(
                offboarding, removal, FAILED, error=str(error), verification=_UNSETTLED if unsettled else None
            )
        if not still_present:
            if error is None:
                return self._removal_result(
                    offboarding, removal, APPLIED, verification="read back: row absent"
                )
            if isinstance(error, _DEFINITE):
                # Boomi said no, yet the row is gone: another run removed it meanwhile.
                return self._removal_result(
                    offboarding,
                    removal,
                    ALREADY_SATISFIED,
                    verification=(
                        f"Boomi refused the delete ({error.status}) but read back shows the row absent"
                    ),
                )
            return self._removal_result(
                offboarding,
                removal,
                APPLIED,
                verification=(
                    f"outcome unknown after {error.__class__.__name__}; read back shows the row absent"
                ),
            )
        if error is None:
            return self._removal_result(
                offboarding,
                removal,
                FAILED,
                error="Boomi accepted the delete but reading the state back still shows the row",
                verification="read back: row present",
            )
        if isinstance(error, _DEFINITE):
            return self._removal_result(
                offboarding, removal, FAILED, error=str(error), verification="read back: row present"
            )
        return self._removal_result(
            offboarding,
            removal,
            FAILED,
            error=f"{error}; read back: row present yet",
            verification=_UNSETTLED,
        )

    def _removal_result(
        self,
        offboarding: _Draft,
        removal: _Removal,
        outcome: str,
        *,
        error: str | None = None,
        verification: str | None = None,
    ) -> ChangeResult:
        """One delete of an offboarding, as the ledger row it becomes."""
        change = AccessChange(
            action=REVOKE_ROLE if removal.group_id is None else REMOVE_GROUP_ROLE,
            user_id=offboarding.change.user_id,
            role=removal.role_id or "",
            account_group=removal.group_id,
            reason=offboarding.change.reason,
            role_is_id=True,
            account_group_is_id=True,
        )
        draft = _Draft(change, offboarding.dry_run)
        draft.role_id, draft.role_name = removal.role_id, self._role_name(removal.role_id)
        draft.account_group_id, draft.account_group_name = (
            removal.group_id,
            self._group_name(removal.group_id),
        )
        draft.state_before, draft.boomi_id = "present", removal.row_id
        draft.side_effects.append(f"part of offboard_user {offboarding.action_id}")
        result = draft.finish(outcome, error=error, verification=verification)
        self._record(result)
        return result

    def _offboarding_result(
        self,
        draft: _Draft,
        grants: Sequence[ChangeResult],
        sub_accounts: Sequence[str],
        outcome: str,
        *,
        error: str | None = None,
        verification: str | None = None,
        appeared: Sequence[str] = (),
    ) -> ChangeResult:
        """The summary row of an offboarding (recorded by the caller, after its deletes' rows)."""
        if appeared:
            draft.side_effects.append(
                f"removed {len(appeared)} row(s) that appeared during the offboarding (another run "
                f"changed the user meanwhile): {', '.join(appeared)}"
            )
        done = sum(1 for g in grants if g.outcome in (APPLIED, ALREADY_SATISFIED))
        if grants and not draft.dry_run:
            draft.side_effects.append(f"{done} of {len(grants)} delete(s) in effect")
        result = draft.finish(outcome, error=error, verification=verification)
        return replace(result, grants=tuple(grants), sub_accounts=tuple(sub_accounts))

    def _left(self, removals: Sequence[_Removal]) -> str:
        return ", ".join(r.describe(self._role_name, self._group_name) for r in removals) or "nothing"

    # --- verification and unknown outcomes --------------------------------------------------------

    def _verify(self, draft: _Draft, check: Callable[[], tuple[bool, str | None]], note: str) -> ChangeResult:
        try:
            holds, boomi_id = check()
        except BoomiError as exc:
            # Boomi answered the write with success, so the change is made; only the proof is
            # missing. Reporting it failed would put a change the account now has on record as
            # never made (and a 401/403 mid-batch is exactly when this happens).
            return draft.finish(
                APPLIED,
                verification=f"not verified: Boomi accepted the change but reading it back failed ({exc})",
            )
        draft.boomi_id = draft.boomi_id or boomi_id
        if holds:
            return draft.finish(APPLIED, verification=note)
        return draft.finish(
            FAILED,
            error="Boomi accepted the call but reading the state back does not show the change",
            verification="read back: change not in place",
        )

    def _after_error(
        self, draft: _Draft, exc: BoomiError, check: Callable[[], tuple[bool, str | None]], what: str
    ) -> ChangeResult:
        """Decide the outcome of a write that raised, by reading the state (never by re-sending)."""
        if isinstance(exc, _NO_REREAD):
            return draft.finish(FAILED, error=str(exc))
        try:
            holds, boomi_id = check()
        except BoomiError as read_exc:
            return draft.finish(
                FAILED,
                error=(
                    f"{exc}; reading the state back failed too ({read_exc}), so the outcome is unknown: "
                    "check the user's access in Boomi before retrying"
                ),
                verification=_UNSETTLED,
            )
        if not holds:
            if isinstance(exc, _DEFINITE):
                return draft.finish(FAILED, error=str(exc), verification=f"read back: {what} not in place")
            # No definite answer: the write may still land after this read (a DELETE that timed
            # out here can be applied a second later), so the user's state is not settled.
            return draft.finish(
                FAILED, error=f"{exc}; read back: {what} not in place yet", verification=_UNSETTLED
            )
        draft.boomi_id = boomi_id or draft.boomi_id
        if isinstance(exc, _DEFINITE):
            # Boomi said no, yet the state holds: another actor made the same change meanwhile.
            return draft.finish(
                ALREADY_SATISFIED,
                verification=f"Boomi refused the call ({exc.status}) but read back shows {what} in place",
            )
        return draft.finish(
            APPLIED,
            verification=f"outcome unknown after {exc.__class__.__name__}; read back shows {what} in place",
        )

    # --- catalogs ---------------------------------------------------------------------------------

    # Read lazily (a refused change needs no call at all) and once, under a lock, because the
    # worker threads of a batch share them.

    def _roles(self) -> RoleCatalog:
        with self._catalog_lock:
            if self._catalog is None:
                # Complete whichever way Role/query lists roles (§g.2): the safeguard needs the
                # built-in Standard User, and resolving by name needs every role.
                self._role_source = RoleSource(self._client)
                self._catalog = self._role_source.read()
            return self._catalog

    def _role_by_id(self, role_id: str) -> RoleInfo | None:
        """A role no listing returned, read with ``GET Role/{id}`` (``None``: Boomi has none)."""
        self._roles()
        with self._catalog_lock:
            assert self._role_source is not None
            role = self._role_source.fetch(role_id)
            if role is None:
                return None
            self._catalog = self._role_source.include(role_id, role)
            return self._catalog.get(role_id)

    def _account_groups(self) -> list[AccountGroup]:
        with self._catalog_lock:
            if self._groups is None:
                self._groups = list(self._client.query_account_groups())
            return self._groups

    # --- ledger -----------------------------------------------------------------------------------

    def _record(self, result: ChangeResult) -> None:
        level = logging.WARNING if not result.ok else logging.INFO
        log.log(
            level,
            "%s %s role=%s group=%s -> %s%s%s",
            result.action,
            result.user_id,
            result.role_name or result.role_id,
            result.account_group_name or result.account_group_id or "-",
            result.outcome,
            f" side effects: {'; '.join(result.side_effects)}" if result.side_effects else "",
            f" error: {result.error}" if result.error else "",
        )
        if self._ledger is not None:
            with self._record_lock:  # the ledger's buffer is shared by the worker threads
                self._ledger.record(result)
                if not result.dry_run and result.outcome in (APPLIED, FAILED):
                    # A change that may have written to Boomi goes to storage before the next
                    # one starts: a task killed outright (SIGKILL, OOM, a lost worker) runs no
                    # finally block, and the buffer would take its record of the change with it.
                    self._ledger.flush()


def _find(
    rows: Sequence[AccountUserRole] | Sequence[AccountGroupUserRole], role_id: str
) -> AccountUserRole | AccountGroupUserRole | None:
    for row in rows:
        if _same_id(row.role_id, role_id):
            return row
    return None


def _row_keys(
    rows: Iterable[AccountUserRole] | Iterable[AccountGroupUserRole],
) -> set[tuple[str | None, str | None]]:
    """A user's rows as comparable facts: which rows (Boomi ids) hold which roles."""
    return {(r.id, (r.role_id or "").lower()) for r in rows}


def _listing(names: Sequence[str]) -> str:
    if not names:
        return "(none)"
    shown = ", ".join(repr(n) for n in names[:_MAX_LISTED])
    more = f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
    return shown + more
