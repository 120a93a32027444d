"""The fault matrix: syncs and provisioning batches run against the simulator under injected faults.

DESIGN §7 promises that a snapshot is complete or absent and that provisioning never loses or
doubles a change. This script tries each promise under one fault at a time and tabulates what it
saw, so the promises are evidence, not prose:

* a **sync** under a fault either completes with data identical to a fault-free sync (every
  table's rows compared, ``sync_id``/``synced_at`` excluded) or fails with no manifest, no files
  and an error that names the cause;
* a **provisioning batch** under a fault ends with Boomi's state, the ledger and the results all
  agreeing; a second run of the same batch with the fault gone (what an Airflow retry does)
  completes it, and every change was written to Boomi exactly once;
* a provisioning task **SIGKILLed** midway and retried ends in the right state with one invite;
* two **concurrent syncs** of one account into one path both complete intact.

Run ``python scripts/fault_matrix.py`` to rewrite ``docs/reliability.md``; the test suite runs the
same :func:`run_matrix` (``tests/integration/test_fault_matrix.py``). Exit status 1 if any row fails.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO))

from airflow_provider_boomi.access.changes import (  # noqa: E402
    ADD_GROUP_ROLE,
    ALREADY_SATISFIED,
    APPLIED,
    ASSIGN_ROLE,
    REMOVE_GROUP_ROLE,
    REVOKE_ROLE,
    AccessChange,
    ChangeResult,
    changes_from_records,
)
from airflow_provider_boomi.access.ledger import LedgerWriter, RunContext, read_ledger  # noqa: E402
from airflow_provider_boomi.access.provisioning import Provisioner, ProvisioningOptions  # noqa: E402
from airflow_provider_boomi.access.sync import SyncOptions, sync_account  # noqa: E402
from airflow_provider_boomi.client import BoomiClient, ClientConfig, RateLimiter  # noqa: E402
from airflow_provider_boomi.dataset import SnapshotStore  # noqa: E402
from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule  # noqa: E402
from airflow_provider_boomi.testing.simulator.paging import CursorStore  # noqa: E402

__all__ = ["MatrixRow", "MatrixSettings", "main", "render_markdown", "run_matrix"]

DOC_PATH = REPO / "docs" / "reliability.md"

# Columns that differ between any two syncs by construction; everything else must be identical.
_VOLATILE_COLUMNS = frozenset({"sync_id", "synced_at"})
# Words an error must contain to "name the cause" (checked case-insensitively).
_AUTH_WORDS = ("HTTP 401", "credentials")
_MAY_HAVE_APPLIED = ("may or may not have been applied", "outcome is unknown", "probably applied")


@dataclass(frozen=True)
class MatrixSettings:
    """How hard to push. The defaults are the fast settings the test suite uses.

    :param profile: simulator profile (``demo``: 13 roles, 151 role rows, 222 group-role rows).
    :param seed: simulator seed (faults with a probability draw from it, so runs repeat).
    :param backoff_initial: client backoff cap for the first retry, seconds.
    :param backoff_max: largest client backoff cap, seconds.
    :param max_retries: client retries after the first attempt.
    :param timeout: client per-request timeout, seconds (the read-timeout rows use a shorter one).
    :param include_kill: run the SIGKILL row (it starts two Python subprocesses importing Airflow).
    """

    profile: str = "demo"
    seed: int = 0
    backoff_initial: float = 0.01
    backoff_max: float = 0.1
    max_retries: int = 8
    timeout: float = 5.0
    include_kill: bool = True


@dataclass(frozen=True)
class MatrixRow:
    """One line of the matrix."""

    fault: str
    operation: str
    expected: str
    observed: str
    passed: bool


class CheckFailed(AssertionError):
    """A scenario saw something other than what it expected (the message says what)."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# --- clients ----------------------------------------------------------------------------------------


def _client(sim: BoomiSimulator, settings: MatrixSettings, **overrides: Any) -> BoomiClient:
    """A client with a private limiter: the matrix measures faults, not pacing."""
    options: dict[str, Any] = {
        "base_url": sim.base_url,
        "account_id": sim.account_id,
        "email": sim.email,
        "api_token": sim.token,
        "requests_per_second": 1000.0,
        "max_retries": settings.max_retries,
        "timeout": settings.timeout,
        "max_retry_time": 60.0,
        "backoff_initial": settings.backoff_initial,
        "backoff_max": settings.backoff_max,
    }
    options.update(overrides)
    return BoomiClient(ClientConfig(**options), limiter=RateLimiter(1000.0, burst=100))


def _simulator(settings: MatrixSettings, **kwargs: Any) -> BoomiSimulator:
    kwargs.setdefault("profile", settings.profile)
    return BoomiSimulator(seed=settings.seed, rate_limit=None, **kwargs)


def _slowest(faults: Iterable[FaultRule]) -> float:
    """How long the slowest ``slow`` fault holds its answer (0 without one), plus a margin."""
    delays = [rule.delay for rule in faults if rule.kind == "slow"]
    return max(delays) + 0.2 if delays else 0.0


def _short(text: str, limit: int = 150) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- sync ---------------------------------------------------------------------------------------------


def _normalise(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _normalise(v)) for k, v in value.items()))
    return value


def _snapshot_rows(out: Path, account_id: str) -> dict[str, list[Any]]:
    """Every table of the one snapshot under ``out``, volatile columns dropped, rows sorted."""
    store = SnapshotStore(str(out))
    snapshots = store.snapshots(account_id)
    _check(len(snapshots) == 1, f"expected one snapshot under {out}, found {len(snapshots)}")
    info = snapshots[0]
    problems = store.verify(account_id, info.sync_id)
    _check(not problems, f"snapshot does not verify: {problems}")
    tables: dict[str, list[Any]] = {}
    for table in sorted(info.row_counts):
        rows = store.read_table(account_id, info.sync_id, table).to_pylist()
        kept = [
            tuple(sorted((k, _normalise(v)) for k, v in row.items() if k not in _VOLATILE_COLUMNS))
            for row in rows
        ]
        tables[table] = sorted(kept, key=repr)
    return tables


def _no_snapshot_left(out: Path) -> str | None:
    """None when nothing of a snapshot remains under ``out``, else what was found."""
    if not out.exists():
        return None
    leftovers = [p for p in out.rglob("*") if p.is_file()]
    if leftovers:
        return f"left behind: {', '.join(str(p.relative_to(out)) for p in leftovers[:5])}"
    return None


def _diff_tables(expected: dict[str, list[Any]], got: dict[str, list[Any]]) -> str | None:
    if set(expected) != set(got):
        return f"tables {sorted(got)} instead of {sorted(expected)}"
    for table in expected:
        if expected[table] != got[table]:
            missing = len(set(expected[table]) - set(got[table]))
            extra = len(set(got[table]) - set(expected[table]))
            sizes = f"{len(got[table])} rows, expected {len(expected[table])}"
            return f"{table}: {missing} row(s) missing, {extra} unexpected ({sizes})"
    return None


@dataclass
class _Baselines:
    """Fault-free snapshots, computed once per simulator shape."""

    settings: MatrixSettings
    workdir: Path
    _cache: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    def rows(self, key: str, sim_kwargs: dict[str, Any]) -> dict[str, list[Any]]:
        if key not in self._cache:
            out = self.workdir / f"baseline-{key}"
            with _simulator(self.settings, **sim_kwargs) as sim, _client(sim, self.settings) as client:
                sync_account(client, str(out))
                self._cache[key] = _snapshot_rows(out, sim.account_id)
        return self._cache[key]


def _sync_case(
    ctx: _Context,
    *,
    fault: str,
    faults: Sequence[FaultRule] = (),
    expect_failure: Sequence[str] | None = None,
    sim_kwargs: dict[str, Any] | None = None,
    baseline_key: str = "demo",
    baseline_kwargs: dict[str, Any] | None = None,
    options: SyncOptions | None = None,
    client_overrides: dict[str, Any] | None = None,
    prepare: Callable[[BoomiSimulator], None] | None = None,
    expected: str | None = None,
    check_manifest: Callable[[Path, str], str | None] | None = None,
) -> MatrixRow:
    """Sync once under ``faults``: identical to the baseline, or failed cleanly naming the cause."""
    sim_kwargs = dict(sim_kwargs or {})
    if expect_failure is None:
        expected = expected or "completes; every table identical to a fault-free sync"
    else:
        expected = expected or (
            f"fails; no manifest, no files; the error names the cause ({' / '.join(expect_failure)})"
        )
    out = ctx.fresh_dir("sync")
    with _simulator(ctx.settings, faults=faults, **sim_kwargs) as sim:
        if prepare is not None:
            prepare(sim)
        error: BaseException | None = None
        with _client(sim, ctx.settings, **(client_overrides or {})) as client:
            try:
                sync_account(client, str(out), options=options)
            except Exception as exc:
                error = exc
            stats = client.stats.as_dict()
        time.sleep(_slowest(faults))  # a "slow" answer is recorded once its delay is over
        injected = Counter(r.fault for r in sim.requests if r.fault)
        account_id = sim.account_id
    faults_seen = ", ".join(f"{n} {kind}" for kind, n in sorted(injected.items())) or "none"
    calls = f"{stats.get('calls', 0)} calls, {stats.get('retries', 0)} retries; injected: {faults_seen}"
    if expect_failure is None:
        _check(error is None, f"sync failed: {type(error).__name__}: {_short(str(error))}")
        expected_rows = ctx.baselines.rows(baseline_key, baseline_kwargs or sim_kwargs)
        got = _snapshot_rows(out, account_id)
        difference = _diff_tables(expected_rows, got)
        _check(difference is None, f"data differs from the fault-free sync: {difference}")
        extra = check_manifest(out, account_id) if check_manifest else None
        total = sum(len(rows) for rows in got.values())
        observed = f"completed; {len(got)} tables, {total} rows identical; {calls}"
        if extra:
            observed += f"; {extra}"
        return MatrixRow(fault, "sync", expected, observed, True)
    _check(error is not None, "the sync completed, but it should have failed")
    message = str(error)
    missing = [w for w in expect_failure if w.lower() not in message.lower()]
    _check(not missing, f"the error does not name {missing}: {_short(message)}")
    leftover = _no_snapshot_left(out)
    _check(leftover is None, f"a failed sync left files behind ({leftover})")
    _check(SnapshotStore(str(out)).snapshots(account_id) == [], "a failed sync left a snapshot listed")
    observed = f"failed: {type(error).__name__}: {_short(message, 120)}; no manifest, no files; {calls}"
    return MatrixRow(fault, "sync", expected, observed, True)


def _groups_flagged(out: Path, account_id: str) -> str | None:
    store = SnapshotStore(str(out))
    info = store.snapshots(account_id)[0]
    manifest = store.manifest(account_id, info.sync_id)
    _check(manifest.get("account_groups_available") is False, "manifest does not flag missing groups")
    warnings = manifest.get("warnings") or []
    _check(any("403" in w for w in warnings), f"manifest warnings do not mention the 403: {warnings}")
    return "manifest: account_groups_available false, warning names the 403"


def _expire_query_tokens(sim: BoomiSimulator) -> None:
    """Every queryToken is forgotten as soon as it is issued: each queryMore answers 400.

    The simulator has no fault kind for a 400, so its cursor store is swapped for one that keeps
    no cursors: the same code path Boomi's "Invalid query token." answer comes from.
    """
    sim._dispatcher.router.cursors = CursorStore(max_cursors=0)


def _concurrent_syncs(ctx: _Context, *, fault: str) -> MatrixRow:
    """Two syncs of one account into one path at the same moment."""
    out = ctx.fresh_dir("concurrent")
    expected_rows = ctx.baselines.rows("demo", {})
    errors: list[BaseException] = []
    start = threading.Barrier(2)
    with _simulator(ctx.settings) as sim:

        def one() -> None:
            try:
                with _client(sim, ctx.settings) as client:
                    start.wait(timeout=30)
                    sync_account(client, str(out))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        account_id = sim.account_id
    _check(not errors, f"a concurrent sync failed: {errors[:1]}")
    store = SnapshotStore(str(out))
    snapshots = store.snapshots(account_id)
    _check(len(snapshots) == 2, f"the store lists {len(snapshots)} snapshots, not 2")
    _check(snapshots[0].sync_id != snapshots[1].sync_id, "both syncs got the same sync_id")
    for info in snapshots:
        problems = store.verify(account_id, info.sync_id)
        _check(not problems, f"snapshot {info.sync_id} does not verify: {problems}")
        for table in ("users", "roles", "account_groups", "user_role_grants", "group_role_grants"):
            rows = store.read_table(account_id, info.sync_id, table).to_pylist()
            kept = sorted(
                (
                    tuple(sorted((k, _normalise(v)) for k, v in row.items() if k not in _VOLATILE_COLUMNS))
                    for row in rows
                ),
                key=repr,
            )
            _check(kept == expected_rows[table], f"{info.sync_id} {table} differs from the fault-free sync")
    return MatrixRow(
        fault,
        "sync x2",
        "both complete; both snapshots verify; the store lists both",
        "both completed with distinct sync ids; both verify (sha256, rows, schema); the store lists 2; "
        "grant tables identical to a fault-free sync",
        True,
    )


# --- provisioning -------------------------------------------------------------------------------------


def _email(sim: BoomiSimulator, local: str) -> str:
    return f"{local}@{sim.email.split('@')[1]}"


def _role_id(sim: BoomiSimulator, name: str) -> str:
    role = sim.state.role_by_name(name)
    if role is None:
        raise CheckFailed(f"the simulator has no role {name!r}")
    return str(role["id"])


def _group_id(sim: BoomiSimulator, name: str) -> str:
    for group in sim.state.account_groups():
        if group["name"] == name:
            return str(group["id"])
    raise CheckFailed(f"the simulator has no account group {name!r}")


def _batch(sim: BoomiSimulator) -> list[dict[str, Any]]:
    """Six changes covering every write path: assign, invite, revoke, last-role revoke, group add/remove."""
    grouped = next(
        r
        for r in sim.state.group_roles()
        if r["userId"].lower() not in {_email(sim, "zoe.angstrom").lower(), _email(sim, "li.lei").lower()}
    )
    return [
        {"action": ASSIGN_ROLE, "user_id": _email(sim, "zoe.angstrom"), "role": "Auditor"},
        {
            "action": ASSIGN_ROLE,
            "user_id": _email(sim, "ivy.invitee"),
            "role": "Auditor",
            "first_name": "Ivy",
            "last_name": "Invitee",
        },
        {"action": REVOKE_ROLE, "user_id": _email(sim, "li.lei"), "role": "Dashboard Viewer"},
        {"action": REVOKE_ROLE, "user_id": _email(sim, "jose.nino"), "role": "Developer"},
        {
            "action": ADD_GROUP_ROLE,
            "user_id": _email(sim, "zoe.angstrom"),
            "role": "Operator",
            "account_group": "Sandbox",
        },
        {
            "action": REMOVE_GROUP_ROLE,
            "user_id": grouped["userId"],
            "role_id": grouped["roleId"],
            "account_group_id": grouped["accountGroupId"],
        },
    ]


@dataclass(frozen=True)
class _Target:
    """A change resolved to ids: what it writes and what must hold afterwards."""

    action: str
    user: str  # lower-cased
    role_id: str
    group_id: str | None
    row_id: str | None  # the row a revoke/remove deletes
    last_role: bool  # a revoke of the user's last role: Standard User is assigned first


def _targets(sim: BoomiSimulator, changes: Sequence[AccessChange]) -> list[_Target]:
    user_rows = sim.state.user_roles()
    group_rows = sim.state.group_roles()
    targets = []
    for change in changes:
        role_id = change.role if change.role_is_id else _role_id(sim, change.role)
        group_id: str | None = None
        if change.account_group:
            group_id = (
                change.account_group if change.account_group_is_id else _group_id(sim, change.account_group)
            )
        user = change.user_id.lower()
        row_id = None
        last = False
        if change.action == REVOKE_ROLE:
            held = [r for r in user_rows if r["userId"].lower() == user]
            row_id = next(str(r["id"]) for r in held if r["roleId"] == role_id)
            last = len(held) == 1
        elif change.action == REMOVE_GROUP_ROLE:
            row_id = next(
                str(r["id"])
                for r in group_rows
                if r["userId"].lower() == user and r["roleId"] == role_id and r["accountGroupId"] == group_id
            )
        targets.append(_Target(change.action, user, role_id, group_id, row_id, last))
    return targets


def _holds(sim: BoomiSimulator, target: _Target) -> bool:
    """Whether Boomi's state shows the change in place."""
    if target.group_id is None:
        rows = [r for r in sim.state.user_roles() if r["userId"].lower() == target.user]
        present = any(r["roleId"] == target.role_id for r in rows)
        if target.action == ASSIGN_ROLE:
            return present
        # A revoke holds when the role is gone and the user is still in the account.
        return not present and bool(rows)
    present = any(
        r["userId"].lower() == target.user
        and r["roleId"] == target.role_id
        and r["accountGroupId"] == target.group_id
        for r in sim.state.group_roles()
    )
    return present if target.action == ADD_GROUP_ROLE else not present


def _processed_writes(sim: BoomiSimulator) -> Counter[tuple[str, ...]]:
    """Writes that Boomi carried out, keyed by what they changed.

    A write counts when its handler ran and succeeded: status 200 and no fault replaced the answer
    (a ``slow`` fault delays the answer but the write still happens).
    """
    counts: Counter[tuple[str, ...]] = Counter()
    for record in sim.requests:
        if record.operation not in ("create", "delete") or record.status != 200:
            continue
        if record.fault not in (None, "slow"):
            continue
        if record.operation == "delete":
            counts[("delete", record.path.rsplit("/", 1)[-1])] += 1
            continue
        body = record.request_body if isinstance(record.request_body, dict) else {}
        counts[
            (
                "create",
                str(body.get("userId", "")).lower(),
                str(body.get("roleId", "")),
                str(body.get("accountGroupId", "")),
            )
        ] += 1
    return counts


def _expected_writes(sim: BoomiSimulator, targets: Sequence[_Target]) -> Counter[tuple[str, ...]]:
    standard = _role_id(sim, "Standard User")
    expected: Counter[tuple[str, ...]] = Counter()
    for t in targets:
        if t.action in (ASSIGN_ROLE, ADD_GROUP_ROLE):
            expected[("create", t.user, t.role_id, t.group_id or "")] += 1
        else:
            expected[("delete", str(t.row_id))] += 1
            if t.last_role:
                expected[("create", t.user, standard, "")] += 1
    return expected


def _run_batch(
    sim: BoomiSimulator,
    settings: MatrixSettings,
    changes: Sequence[AccessChange],
    ledger_path: Path,
    run_id: str,
    **client_overrides: Any,
) -> list[ChangeResult]:
    context = RunContext(account_id=sim.account_id, dag_id="fault_matrix", run_id=run_id, task_id="apply")
    with (
        _client(sim, settings, **client_overrides) as client,
        LedgerWriter(str(ledger_path), context=context) as ledger,
    ):
        options = ProvisioningOptions(provisioning_enabled=True)
        return Provisioner(client, options, ledger=ledger).apply_all(changes)


def _ledger_matches(ledger_path: Path, run_id: str, results: Sequence[ChangeResult]) -> None:
    frame = read_ledger(str(ledger_path))
    rows = frame[frame["run_id"] == run_id]
    recorded = dict(zip(rows["action_id"], rows["outcome"], strict=True))
    expected = {r.action_id: r.outcome for r in results}
    _check(recorded == expected, f"ledger of {run_id} {recorded} differs from the results {expected}")


def _state_matches(
    sim: BoomiSimulator, targets: Sequence[_Target], results: Sequence[ChangeResult], causes: Sequence[str]
) -> tuple[int, int]:
    """Results agree with Boomi's state; failures name their cause. Returns (unknown, failed) counts."""
    unknown = failed = 0
    for i, (target, result) in enumerate(zip(targets, results, strict=True), start=1):
        holds = _holds(sim, target)
        if result.ok:
            _check(holds, f"change #{i} is {result.outcome} but Boomi's state does not show it")
            continue
        failed += 1
        error = result.error or ""
        _check(
            any(c.lower() in error.lower() for c in causes),
            f"change #{i} failed without naming the cause ({' / '.join(causes)}): {_short(error)}",
        )
        if any(p in error for p in _MAY_HAVE_APPLIED):
            # Boomi may still be carrying the request out: the error says so, the retry settles it.
            unknown += 1
            continue
        _check(not holds, f"change #{i} is {result.outcome} but Boomi's state shows it in place")
    return unknown, failed


def _provisioning_case(
    ctx: _Context,
    *,
    fault: str,
    faults: Sequence[FaultRule] = (),
    causes: Sequence[str] = (),
    expect_failures: bool = True,
    client_overrides: dict[str, Any] | None = None,
    prepare: Callable[[BoomiSimulator], None] | None = None,
    restore: Callable[[BoomiSimulator], None] | None = None,
) -> MatrixRow:
    """Run the batch under ``faults``, check agreement, run it again fault-free, check exactly-once."""
    expected = (
        "run 1: state, ledger and results agree; failures name the cause. Retry: completes the batch; "
        "each change written exactly once; one invite"
    )
    ledger = ctx.fresh_dir("ledger")
    with _simulator(ctx.settings, faults=faults) as sim:
        changes = changes_from_records(_batch(sim))
        targets = _targets(sim, changes)
        if prepare is not None:
            prepare(sim)
        first = _run_batch(sim, ctx.settings, changes, ledger, "run-1", **(client_overrides or {}))
        # Let a write Boomi was still carrying out land before judging (and be recorded).
        time.sleep(_slowest(faults))
        injected = Counter(r.fault for r in sim.requests if r.fault)
        sim.set_faults([])
        if restore is not None:
            restore(sim)
        unknown, failed = _state_matches(sim, targets, first, causes)
        _ledger_matches(ledger, "run-1", first)
        if expect_failures:
            _check(failed > 0, "the fault made no change fail; the row does not exercise what it claims")
        second = _run_batch(sim, ctx.settings, changes, ledger, "run-2")
        _ledger_matches(ledger, "run-2", second)
        for i, (target, one, two) in enumerate(zip(targets, first, second, strict=True), start=1):
            _check(two.outcome in (APPLIED, ALREADY_SATISFIED), f"retry: change #{i} is {two.outcome}")
            _check(_holds(sim, target), f"retry: change #{i} is not in Boomi's state")
            if one.outcome == APPLIED:
                _check(two.outcome == ALREADY_SATISFIED, f"change #{i} applied again by the retry")
        writes = _processed_writes(sim)
        wanted = _expected_writes(sim, targets)
        _check(
            writes == wanted, f"writes carried out {dict(writes)} differ from one per change {dict(wanted)}"
        )
        invited = [u for u in sim.state.users() if u["userId"].lower() == _email(sim, "ivy.invitee").lower()]
        _check(len(invited) == 1, f"the invited user exists {len(invited)} times")
    first_counts = Counter(r.outcome for r in first)
    second_counts = Counter(r.outcome for r in second)
    faults_seen = ", ".join(f"{n} {kind}" for kind, n in sorted(injected.items())) or "none"
    observed = (
        f"run 1: {_counts(first_counts)}"
        + (f" ({unknown} with unknown outcome, said so)" if unknown else "")
        + f"; agree. Retry: {_counts(second_counts)}; {sum(writes.values())} writes for "
        f"{sum(wanted.values())} needed; 1 invite; injected: {faults_seen}"
    )
    return MatrixRow(fault, "provisioning batch", expected, observed, True)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counter.items()))


# The "task" a worker runs: the real operator, as Airflow would call it, in its own process.
_CHILD = """
import json, sys, types
from airflow_provider_boomi.operators.provisioning import BoomiApplyAccessChangesOperator

params = json.loads(sys.argv[1])
ti = types.SimpleNamespace(
    dag_id="fault_matrix", run_id="manual__kill", task_id="apply", try_number=params["try_number"],
    xcom_push=lambda **kwargs: None,
)
operator = BoomiApplyAccessChangesOperator(
    task_id="apply", changes=params["changes"], ledger_path=params["ledger"]
)
print(json.dumps(operator.execute({"ti": ti})))
"""


def _child(sim: BoomiSimulator, workdir: Path, changes: list[dict[str, Any]], ledger: Path, try_number: int):
    conn = sim.connection_dict(provisioning_enabled=True)
    conn["extra"]["requests_per_second"] = 1000
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_CONN_BOOMI_DEFAULT": json.dumps(conn),
            "AIRFLOW_HOME": str(workdir / "airflow-home"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        }
    )
    params = {"changes": changes, "ledger": str(ledger), "try_number": try_number}
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(params)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _created(sim: BoomiSimulator, user: str, role_id: str) -> bool:
    """Whether Boomi has carried out a create of ``role_id`` for ``user``."""
    return any(
        r.operation == "create"
        and r.status == 200
        and isinstance(r.request_body, dict)
        and str(r.request_body.get("userId", "")).lower() == user.lower()
        and r.request_body.get("roleId") == role_id
        for r in sim.requests
    )


def _killed_and_retried(ctx: _Context, *, fault: str) -> MatrixRow:
    """SIGKILL a provisioning task midway, then run it again as Airflow's retry would.

    One user's changes are applied in order (users run concurrently). The kill lands the moment
    Boomi has carried out the invitee's second change, before the task could read it back or
    record it; the invite itself was made, verified and recorded just before, and the invitee's
    third change was still to come.
    """
    ledger = ctx.fresh_dir("kill-ledger")
    with _simulator(ctx.settings) as sim:
        invitee = _email(sim, "kim.killed")
        records = [
            {"action": ASSIGN_ROLE, "user_id": invitee, "role": "Developer", "first_name": "Kim"},
            {"action": ASSIGN_ROLE, "user_id": invitee, "role": "Auditor"},
            {"action": ASSIGN_ROLE, "user_id": invitee, "role": "Operator"},
            {"action": ASSIGN_ROLE, "user_id": _email(sim, "zoe.angstrom"), "role": "Auditor"},
            {
                "action": ADD_GROUP_ROLE,
                "user_id": _email(sim, "zoe.angstrom"),
                "role": "Operator",
                "account_group": "Sandbox",
            },
            {"action": REVOKE_ROLE, "user_id": _email(sim, "li.lei"), "role": "Dashboard Viewer"},
        ]
        changes = changes_from_records(records)
        targets = _targets(sim, changes)
        auditor = _role_id(sim, "Auditor")
        # Slow answers leave time to kill between a write and its read-back.
        sim.set_latency(0.3)
        child = _child(sim, ctx.workdir, records, ledger, try_number=1)
        deadline = time.monotonic() + 120
        killed = False
        while time.monotonic() < deadline and child.poll() is None:
            if _created(sim, invitee, auditor):
                os.kill(child.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.005)
        child.communicate(timeout=60)
        _check(killed, f"the task ended (status {child.returncode}) before it could be killed")
        _check(child.returncode == -signal.SIGKILL, f"the task exited with {child.returncode}, not SIGKILL")
        time.sleep(0.5)  # requests already sent when the task died still land: let them
        sim.set_latency(0.0)
        took_effect = {i for i, t in enumerate(targets, start=1) if _holds(sim, t)}
        # Changes 1 and 2 were carried out; change 3 of the same user cannot have started.
        _check(
            {1, 2} <= took_effect and 3 not in took_effect,
            f"killed at the wrong moment: changes {sorted(took_effect)} took effect",
        )
        retry = _child(sim, ctx.workdir, records, ledger, try_number=2)
        out, err = retry.communicate(timeout=120)
        _check(retry.returncode == 0, f"the retry failed ({retry.returncode}): {_short(err[-400:], 300)}")
        summary = json.loads(out.strip().splitlines()[-1])
        outcomes = [o["outcome"] for o in summary["outcomes"]]
        for i, target in enumerate(targets, start=1):
            _check(_holds(sim, target), f"after the retry change #{i} is not in Boomi's state")
            wanted = ALREADY_SATISFIED if i in took_effect else APPLIED
            _check(outcomes[i - 1] == wanted, f"retry: change #{i} is {outcomes[i - 1]}, expected {wanted}")
        writes = _processed_writes(sim)
        wanted_writes = _expected_writes(sim, targets)
        _check(
            writes == wanted_writes, f"writes {dict(writes)} differ from one per change {dict(wanted_writes)}"
        )
        invites = [u for u in sim.state.users() if u["userId"].lower() == invitee.lower()]
        _check(len(invites) == 1, f"the invited user exists {len(invites)} times")
        frame = read_ledger(str(ledger))
        try2 = frame[frame["try_number"] == 2]
        key = ["user_id", "role_name"]
        recorded = sorted(zip(*(try2[k] for k in [*key, "outcome"]), strict=True))
        # The retry's results, keyed the same way (the ledger is in completion order).
        expected_rows = sorted(
            (o["user_id"], c.role if not c.role_is_id else None, o["outcome"])
            for o, c in zip(summary["outcomes"], changes, strict=True)
        )
        _check(recorded == expected_rows, f"the retry's ledger rows {recorded} differ from {expected_rows}")
        try1 = frame[frame["try_number"] == 1]
        _check(set(try1["outcome"]) <= {APPLIED}, f"the killed try recorded {set(try1['outcome'])}")
        on_record = len(try1)
        _check(on_record <= len(took_effect), "the killed try recorded more changes than took effect")
        # The invite finished before the second change was sent, so it must be on record.
        invite_rows = try1[
            (try1["user_id"].str.lower() == invitee.lower()) & (try1["role_name"] == "Developer")
        ]
        _check(len(invite_rows) == 1, "the killed try's invite is not in the ledger")
    return MatrixRow(
        fault,
        "provisioning task (the operator, 6 changes)",
        "retry ends in the right state; each change applied exactly once; invited user created once; "
        "ledger shows the retry's already_satisfied",
        f"killed with {len(took_effect)} of 6 changes made, {on_record} on record (the invite among them); "
        "retry: "
        f"{_counts(Counter(outcomes))}; {sum(writes.values())} writes for {sum(wanted_writes.values())} "
        "needed; 1 invite",
        True,
    )


# --- the matrix ------------------------------------------------------------------------------------------


@dataclass
class _Context:
    settings: MatrixSettings
    workdir: Path
    baselines: _Baselines
    _n: int = 0

    def fresh_dir(self, prefix: str) -> Path:
        self._n += 1
        return self.workdir / f"{prefix}-{self._n}"


def _scenarios(ctx: _Context) -> Iterable[tuple[str, str, Callable[..., MatrixRow]]]:
    """(fault, operation, run) for every row, in table order; ``run(fault=...)`` gives the row."""
    timeout = {"timeout": 0.3}
    sync = partial(_sync_case, ctx)
    batch = partial(_provisioning_case, ctx)
    yield "none (baseline)", "sync", partial(sync, expected="completes; the reference data")
    yield (
        "503 storm: 30% of all requests, up to 40",
        "sync",
        partial(sync, faults=[FaultRule("503", probability=0.3, count=40)]),
    )
    yield (
        "429 with Retry-After: 0.05 s, 10 requests",
        "sync",
        partial(sync, faults=[FaultRule("429", count=10, retry_after=0.05)]),
    )
    yield "500 burst: 8 requests in a row", "sync", partial(sync, faults=[FaultRule("500", after=3, count=8)])
    yield (
        "502 and 504 gateway errors, 4 each",
        "sync",
        partial(sync, faults=[FaultRule("502", after=2, count=4), FaultRule("504", after=6, count=4)]),
    )
    yield (
        "dropped connections: 30% of requests, up to 12",
        "sync",
        partial(sync, faults=[FaultRule("drop", probability=0.3, count=12)]),
    )
    yield (
        "read timeouts: 4 first-page queries answer after 1 s (client timeout 0.3 s)",
        "sync",
        partial(
            sync,
            faults=[FaultRule("slow", operation="query", after=1, count=4, delay=1.0)],
            client_overrides=timeout,
        ),
    )
    yield (
        "read timeouts on queryMore: 2 pages answer after 1 s (client timeout 0.3 s)",
        "sync",
        partial(
            sync,
            faults=[FaultRule("slow", operation="queryMore", count=2, delay=1.0)],
            client_overrides=timeout,
        ),
    )
    yield (
        "malformed JSON: 3 truncated 200 answers",
        "sync",
        partial(sync, faults=[FaultRule("malformed", after=2, count=3)]),
    )
    yield (
        "malformed JSON on every Role query",
        "sync",
        partial(
            sync,
            faults=[FaultRule("malformed", object_type="Role")],
            expect_failure=("Role query", "not valid JSON"),
        ),
    )
    yield (
        "token stops working midway (401 from the 6th request on)",
        "sync",
        partial(sync, faults=[FaultRule("401", after=5)], expect_failure=_AUTH_WORDS),
    )
    yield (
        "403 on account groups (non-primary account), default options",
        "sync",
        partial(
            sync,
            sim_kwargs={"primary": False, "groups_mode": "forbidden"},
            baseline_key="non-primary",
            baseline_kwargs={"primary": False, "groups_mode": "empty"},
            expected=(
                "completes; group tables empty and the manifest flags it; data identical to a sync of "
                "the same account answering 'no groups'"
            ),
            check_manifest=_groups_flagged,
        ),
    )
    yield (
        "403 on account groups, account_groups_unavailable='fail'",
        "sync",
        partial(
            sync,
            sim_kwargs={"primary": False, "groups_mode": "forbidden"},
            options=SyncOptions(account_groups_unavailable="fail"),
            expect_failure=("HTTP 403", "AccountGroup", "primary"),
        ),
    )
    yield (
        "page chain breaks: queryMore answers 400 Invalid query token",
        "sync",
        partial(
            sync,
            prepare=_expire_query_tokens,
            expect_failure=("queryMore", "HTTP 400", "Invalid query token"),
        ),
    )
    yield (
        "page chain breaks: queryMore answers 500 persistently",
        "sync",
        partial(
            sync,
            faults=[FaultRule("500", operation="queryMore")],
            expect_failure=("queryMore", "HTTP 500", "gave up after"),
        ),
    )
    yield (
        "503 that never ends (rate limit never recovers)",
        "sync",
        partial(sync, faults=[FaultRule("503")], expect_failure=("HTTP 503", "requests_per_second")),
    )
    yield "two syncs of one account into one path at once", "sync x2", partial(_concurrent_syncs, ctx)

    # Provisioning: the batch of _batch() under one fault at a time, then a fault-free retry.
    operation = "provisioning batch"
    yield (
        "503 storm: 30% of all requests, up to 20",
        operation,
        partial(batch, faults=[FaultRule("503", probability=0.3, count=20)], expect_failures=False),
    )
    yield (
        "500 burst on writes: 2 creates, 1 delete",
        operation,
        partial(
            batch,
            faults=[
                FaultRule("500", operation="create", count=2),
                FaultRule("500", operation="delete", count=1),
            ],
            causes=("HTTP 500",),
        ),
    )
    yield (
        "500 burst on reads: 6 queries",
        operation,
        partial(batch, faults=[FaultRule("500", operation="query", after=2, count=6)], expect_failures=False),
    )
    yield (
        "dropped connections on writes: 2 creates, 1 delete",
        operation,
        partial(
            batch,
            faults=[
                FaultRule("drop", operation="create", count=2),
                FaultRule("drop", operation="delete", count=1),
            ],
            causes=("no usable response",),
        ),
    )
    yield (
        "read timeout on 2 creates: Boomi applies them after the client gave up (timeout 0.3 s)",
        operation,
        partial(
            batch,
            faults=[FaultRule("slow", operation="create", count=2, delay=1.0)],
            causes=("no usable response",),
            client_overrides=timeout,
        ),
    )
    yield (
        "read timeouts on reads: 4 queries answer after 1 s (timeout 0.3 s)",
        operation,
        partial(
            batch,
            faults=[FaultRule("slow", operation="query", after=2, count=4, delay=1.0)],
            client_overrides=timeout,
            # On a loaded machine an ordinary write may miss the short timeout too: that change
            # then fails naming the timeout, and the retry must still settle it exactly once.
            causes=("no usable response",),
            expect_failures=False,
        ),
    )
    yield (
        "malformed JSON answering 2 creates",
        operation,
        partial(
            batch, faults=[FaultRule("malformed", operation="create", count=2)], causes=("not valid JSON",)
        ),
    )
    yield (
        "token stops working midway (401 from the 12th request on)",
        operation,
        partial(batch, faults=[FaultRule("401", after=11)], causes=_AUTH_WORDS),
    )
    yield (
        "403: API privileges withdrawn before the batch",
        operation,
        partial(
            batch,
            prepare=lambda sim: sim.set_api_privileges(False),
            restore=lambda sim: sim.set_api_privileges(True),
            causes=("HTTP 403", "API Access"),
        ),
    )
    if ctx.settings.include_kill:
        yield (
            "provisioning task SIGKILLed between a write and its read-back (after an invite), then retried",
            "provisioning task",
            partial(_killed_and_retried, ctx),
        )


def run_matrix(settings: MatrixSettings | None = None, workdir: str | Path | None = None) -> list[MatrixRow]:
    """Run every scenario and return one row each; a scenario that breaks becomes a failing row."""
    settings = settings or MatrixSettings()
    with tempfile.TemporaryDirectory(prefix="boomi-fault-matrix-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        ctx = _Context(settings, root, _Baselines(settings, root))
        rows: list[MatrixRow] = []
        for fault, operation, run in _scenarios(ctx):
            try:
                rows.append(run(fault=fault))
            except Exception as exc:
                detail = str(exc) if isinstance(exc, CheckFailed) else traceback.format_exc(limit=3)
                rows.append(
                    MatrixRow(fault, operation, "(see the script)", _short(f"FAILED: {detail}", 400), False)
                )
        return rows


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_markdown(rows: Sequence[MatrixRow], settings: MatrixSettings, seconds: float) -> str:
    """``docs/reliability.md``: the promises, how they were tried, and the matrix."""
    passed = sum(r.passed for r in rows)
    lines = [
        "# Reliability: the fault matrix",
        "",
        "<!-- Written by scripts/fault_matrix.py; do not edit by hand. -->",
        "",
        "DESIGN §7 promises that a snapshot is complete or absent, that transient failures are retried",
        "within bounds, that anything else fails at once with a message saying what to fix, and that",
        "provisioning neither loses nor doubles a change. `scripts/fault_matrix.py` tries each promise",
        "against the [simulator](simulator.md) with one injected fault at a time and records what it saw:",
        "",
        "- **sync**: completes with every table's rows identical to a fault-free sync (`sync_id` and",
        "  `synced_at` excluded), or fails leaving no manifest and no files, with an error naming the cause;",
        "- **provisioning batch** (assign, invite a new user, revoke, revoke a last role, add and remove a",
        "  group role): after the faulty run Boomi's state, the ledger and the results agree, and every",
        "  failure names its cause; a second run with the fault gone (an Airflow retry) completes the",
        "  batch, and counting the writes Boomi carried out shows each change made exactly once;",
        "- **killed task**: the real operator in a subprocess, SIGKILLed the moment Boomi carried out a",
        "  write and before the task could read it back or record it (it had invited a user just before),",
        "  then run again as try 2.",
        "",
        "A write whose answer is lost (read timeout, dropped connection, 5xx, unreadable body) is never",
        "re-sent: the provisioner reads the state back. When Boomi is still carrying the write out at that",
        'moment the change is reported failed with "may or may not have been applied", and the retry',
        'finds it `already_satisfied` — the "read timeout on creates" row shows exactly that.',
        "",
        f"Settings: profile `{settings.profile}`, seed {settings.seed}, simulator rate limit off, client "
        f"backoff {settings.backoff_initial} to {settings.backoff_max} s, {settings.max_retries} retries, "
        f"timeout {settings.timeout} s.",
        "",
        f"Result: **{passed} of {len(rows)} rows pass** in {seconds:.0f} s.",
        "",
        "Re-run with `python scripts/fault_matrix.py` (writes this page); the test suite runs the same",
        "matrix in `tests/integration/test_fault_matrix.py`.",
        "",
        "| fault | operation | expected | observed | pass |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        mark = "✅" if row.passed else "❌"
        lines.append(
            f"| {_cell(row.fault)} | {_cell(row.operation)} | {_cell(row.expected)} | "
            f"{_cell(row.observed)} | {mark} |"
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the matrix, print it, write ``docs/reliability.md``; 1 if any row fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DOC_PATH, help="where to write the Markdown")
    parser.add_argument("--no-kill", action="store_true", help="skip the SIGKILL row (no subprocesses)")
    args = parser.parse_args(argv)
    settings = MatrixSettings(include_kill=not args.no_kill)
    started = time.monotonic()
    rows = run_matrix(settings)
    text = render_markdown(rows, settings, time.monotonic() - started)
    args.output.write_text(text, encoding="utf-8")
    for row in rows:
        print(f"{'PASS' if row.passed else 'FAIL'}  {row.operation:<12} {row.fault}\n      {row.observed}")
    print(f"{sum(r.passed for r in rows)} of {len(rows)} rows pass; wrote {args.output}")
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
