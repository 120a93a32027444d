"""The fault matrix: syncs and provisioning batches against the simulator under injected faults.

The rows are :data:`tests.fault_cases.CASES`; each kind of row has one test here with its checks:

* a **sync** under a fault either completes with data identical to a fault-free sync (every
  table's rows compared, ``sync_id``/``synced_at`` excluded) or fails with no manifest, no files
  and an error that names the cause;
* a **provisioning batch** under a fault ends with Boomi's state, the ledger and the results all
  agreeing; a second run of the same batch with the fault gone (what an Airflow retry does)
  completes it, and every change was written to Boomi exactly once;
* a provisioning task **SIGKILLed** midway and retried ends in the right state with one invite;
* two **concurrent syncs** of one account into one path both complete intact.

Each case records what it saw; ``test_reliability_page_is_current`` (last in the module) fails
when ``docs/reliability.md`` no longer matches the cases, and with ``BOOMI_WRITE_DOCS=1`` after a
full run rewrites it with those observations (``make reliability``). Fast settings: the
simulator's rate limit is off and the client backs off for at most 0.1 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_boomi.access.changes import (
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
from airflow_provider_boomi.access.ledger import LedgerWriter, RunContext, read_ledger
from airflow_provider_boomi.access.provisioning import Provisioner, ProvisioningOptions
from airflow_provider_boomi.access.sync import SyncOptions, sync_account
from airflow_provider_boomi.client import BoomiClient, RateLimiter
from airflow_provider_boomi.dataset import SnapshotStore
from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule
from tests.fault_cases import (
    BATCH_CASES,
    CASES,
    CLIENT,
    CONCURRENT_SYNC_CASE,
    KILLED_TASK_CASE,
    PAGE,
    PROFILE,
    SEED,
    SYNC_CASES,
    FaultCase,
    Observation,
    published_observations,
    render_page,
)
from tests.helpers import make_client

REPO = Path(__file__).resolve().parents[2]

# Columns that differ between any two syncs by construction; everything else must be identical.
VOLATILE_COLUMNS = frozenset({"sync_id", "synced_at"})
# What a provisioning error says when Boomi may have carried the write out after all.
MAY_HAVE_APPLIED = ("may or may not have been applied", "outcome is unknown", "probably applied")

#: What each case of this session saw, by case id: the page is written from it.
OBSERVED: dict[str, Observation] = {}

Rows = dict[str, list[Any]]


def _ids(cases: Sequence[FaultCase]) -> list[str]:
    return [case.id for case in cases]


def _record(case: FaultCase, observed: str, started: float) -> None:
    OBSERVED[case.id] = Observation(" ".join(observed.split()), time.monotonic() - started)


def _matrix_client(sim: BoomiSimulator, **overrides: Any) -> BoomiClient:
    """A client with the matrix's settings and a private limiter: the matrix measures faults."""
    return make_client(sim, limiter=RateLimiter(1000.0, burst=100), **{**CLIENT, **overrides})


def _start(make_simulator: Callable[..., BoomiSimulator], case: FaultCase) -> BoomiSimulator:
    return make_simulator(PROFILE, seed=SEED, faults=list(case.faults), **case.simulator)


def _slowest(faults: Iterable[FaultRule]) -> float:
    """How long the slowest ``slow`` fault holds its answer (0 without one), plus a margin."""
    delays = [rule.delay for rule in faults if rule.kind == "slow"]
    return max(delays) + 0.2 if delays else 0.0


def _injected(sim: BoomiSimulator) -> str:
    injected = Counter(r.fault for r in sim.requests if r.fault)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(injected.items())) or "none"


def _short(text: str, limit: int = 150) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- sync -----------------------------------------------------------------------------------------


def _normalise(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _normalise(v)) for k, v in value.items()))
    return value


def _comparable(store: SnapshotStore, account_id: str, sync_id: str, table: str) -> list[Any]:
    """A table's rows with the volatile columns dropped, sorted: equal for equal data."""
    rows = store.read_table(account_id, sync_id, table).to_pylist()
    kept = [
        tuple(sorted((k, _normalise(v)) for k, v in row.items() if k not in VOLATILE_COLUMNS)) for row in rows
    ]
    return sorted(kept, key=repr)


def _snapshot_rows(out: Path, account_id: str) -> Rows:
    """Every table of the one snapshot under ``out``, which must verify."""
    store = SnapshotStore(str(out))
    snapshots = store.snapshots(account_id)
    assert len(snapshots) == 1, f"expected one snapshot under {out}, found {len(snapshots)}"
    info = snapshots[0]
    problems = store.verify(account_id, info.sync_id)
    assert not problems, f"snapshot does not verify: {problems}"
    return {table: _comparable(store, account_id, info.sync_id, table) for table in sorted(info.row_counts)}


def _diff_tables(expected: Rows, got: Rows) -> str | None:
    if set(expected) != set(got):
        return f"tables {sorted(got)} instead of {sorted(expected)}"
    for table in expected:
        if expected[table] != got[table]:
            missing = len(set(expected[table]) - set(got[table]))
            extra = len(set(got[table]) - set(expected[table]))
            sizes = f"{len(got[table])} rows, expected {len(expected[table])}"
            return f"{table}: {missing} row(s) missing, {extra} unexpected ({sizes})"
    return None


def _files_left(out: Path) -> list[str]:
    if not out.exists():
        return []
    return [str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()]


@pytest.fixture(scope="module")
def fault_free(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Mapping[str, Any]], Rows]:
    """The rows of a fault-free sync of a simulator with these settings, synced once per module."""
    cache: dict[tuple[tuple[str, Any], ...], Rows] = {}

    def rows(settings: Mapping[str, Any]) -> Rows:
        key = tuple(sorted(settings.items()))
        if key not in cache:
            out = tmp_path_factory.mktemp("fault-free")
            with (
                BoomiSimulator(PROFILE, seed=SEED, rate_limit=None, **settings) as sim,
                _matrix_client(sim) as client,
            ):
                sync_account(client, str(out))
                cache[key] = _snapshot_rows(out, sim.account_id)
        return cache[key]

    return rows


@pytest.mark.slow
@pytest.mark.parametrize("case", SYNC_CASES, ids=_ids(SYNC_CASES))
def test_sync_under_fault(
    case: FaultCase,
    make_simulator: Callable[..., BoomiSimulator],
    fault_free: Callable[[Mapping[str, Any]], Rows],
    tmp_path: Path,
) -> None:
    """Identical to a fault-free sync, or failed cleanly with an error naming the cause."""
    started = time.monotonic()
    out = tmp_path / "snapshots"
    sim = _start(make_simulator, case)
    error: Exception | None = None
    with _matrix_client(sim, **case.client) as client:
        try:
            sync_account(client, str(out), options=SyncOptions(**case.sync_options))
        except Exception as exc:
            error = exc
        stats = client.stats.as_dict()
    time.sleep(_slowest(case.faults))  # a "slow" answer is recorded once its delay is over
    calls = f"{stats.get('calls', 0)} calls, {stats.get('retries', 0)} retries; injected: {_injected(sim)}"

    if not case.fails_naming:
        assert error is None, f"sync failed: {type(error).__name__}: {_short(str(error))}"
        got = _snapshot_rows(out, sim.account_id)
        difference = _diff_tables(fault_free(case.baseline_settings), got)
        assert difference is None, f"data differs from the fault-free sync: {difference}"
        total = sum(len(rows) for rows in got.values())
        observed = f"completed; {len(got)} tables, {total} rows identical; {calls}"
        if case.groups_flagged:
            observed += f"; {_groups_flagged(out, sim.account_id)}"
        _record(case, observed, started)
        return

    assert error is not None, "the sync completed, but it should have failed"
    message = str(error)
    missing = [word for word in case.fails_naming if word.lower() not in message.lower()]
    assert not missing, f"the error does not name {missing}: {_short(message)}"
    leftover = _files_left(out)
    assert not leftover, f"a failed sync left files behind: {', '.join(leftover[:5])}"
    assert SnapshotStore(str(out)).snapshots(sim.account_id) == [], "a failed sync left a snapshot listed"
    _record(
        case,
        f"failed: {type(error).__name__}: {_short(message, 120)}; no manifest, no files; {calls}",
        started,
    )


def _groups_flagged(out: Path, account_id: str) -> str:
    store = SnapshotStore(str(out))
    info = store.snapshots(account_id)[0]
    manifest = store.manifest(account_id, info.sync_id)
    assert manifest.get("account_groups_available") is False, "manifest does not flag missing groups"
    warnings = manifest.get("warnings") or []
    assert any("403" in w for w in warnings), f"manifest warnings do not mention the 403: {warnings}"
    return "manifest: account_groups_available false, warning names the 403"


# The tables both concurrent snapshots must hold exactly as a fault-free sync does (grant_changes
# differs by design: each diffs against whichever snapshot it found before it).
_CONCURRENT_TABLES = ("users", "roles", "account_groups", "user_role_grants", "group_role_grants")


@pytest.mark.slow
def test_two_syncs_of_one_account_into_one_path_at_once(
    make_simulator: Callable[..., BoomiSimulator],
    fault_free: Callable[[Mapping[str, Any]], Rows],
    tmp_path: Path,
) -> None:
    case = CONCURRENT_SYNC_CASE
    started = time.monotonic()
    out = tmp_path / "snapshots"
    expected_rows = fault_free({})
    errors: list[BaseException] = []
    start = threading.Barrier(2)
    sim = _start(make_simulator, case)

    def one() -> None:
        try:
            with _matrix_client(sim) as client:
                start.wait(timeout=30)
                sync_account(client, str(out))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, f"a concurrent sync failed: {errors[:1]}"
    store = SnapshotStore(str(out))
    snapshots = store.snapshots(sim.account_id)
    assert len(snapshots) == 2, f"the store lists {len(snapshots)} snapshots, not 2"
    assert snapshots[0].sync_id != snapshots[1].sync_id, "both syncs got the same sync_id"
    for info in snapshots:
        problems = store.verify(sim.account_id, info.sync_id)
        assert not problems, f"snapshot {info.sync_id} does not verify: {problems}"
        for table in _CONCURRENT_TABLES:
            rows = _comparable(store, sim.account_id, info.sync_id, table)
            assert rows == expected_rows[table], f"{info.sync_id} {table} differs from the fault-free sync"
    _record(
        case,
        "both completed with distinct sync ids; both verify (sha256, rows, schema); the store lists 2; "
        "users, roles, groups and both grant tables identical to a fault-free sync",
        started,
    )


# --- provisioning -----------------------------------------------------------------------------------


def _email(sim: BoomiSimulator, local: str) -> str:
    return f"{local}@{sim.email.split('@')[1]}"


def _role_id(sim: BoomiSimulator, name: str) -> str:
    role = sim.state.role_by_name(name)
    assert role is not None, f"the simulator has no role {name!r}"
    return str(role["id"])


def _group_id(sim: BoomiSimulator, name: str) -> str:
    ids = [str(g["id"]) for g in sim.state.account_groups() if g["name"] == name]
    assert ids, f"the simulator has no account group {name!r}"
    return ids[0]


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
    sim: BoomiSimulator, changes: Sequence[AccessChange], ledger_path: Path, run_id: str, **client: Any
) -> list[ChangeResult]:
    context = RunContext(account_id=sim.account_id, dag_id="fault_matrix", run_id=run_id, task_id="apply")
    with (
        _matrix_client(sim, **client) as boomi,
        LedgerWriter(str(ledger_path), context=context) as ledger,
    ):
        options = ProvisioningOptions(provisioning_enabled=True)
        return Provisioner(boomi, options, ledger=ledger).apply_all(changes)


def _assert_ledger_matches(ledger_path: Path, run_id: str, results: Sequence[ChangeResult]) -> None:
    frame = read_ledger(str(ledger_path))
    rows = frame[frame["run_id"] == run_id]
    recorded = dict(zip(rows["action_id"], rows["outcome"], strict=True))
    expected = {r.action_id: r.outcome for r in results}
    assert recorded == expected, f"ledger of {run_id} {recorded} differs from the results {expected}"


def _assert_state_matches(
    sim: BoomiSimulator, targets: Sequence[_Target], results: Sequence[ChangeResult], causes: Sequence[str]
) -> tuple[int, int]:
    """Results agree with Boomi's state; failures name their cause. Returns (unknown, failed) counts."""
    unknown = failed = 0
    for i, (target, result) in enumerate(zip(targets, results, strict=True), start=1):
        holds = _holds(sim, target)
        if result.ok:
            assert holds, f"change #{i} is {result.outcome} but Boomi's state does not show it"
            continue
        failed += 1
        error = result.error or ""
        assert any(c.lower() in error.lower() for c in causes), (
            f"change #{i} failed without naming the cause ({' / '.join(causes)}): {_short(error)}"
        )
        if any(p in error for p in MAY_HAVE_APPLIED):
            # Boomi may still be carrying the request out: the error says so, the retry settles it.
            unknown += 1
            continue
        assert not holds, f"change #{i} is {result.outcome} but Boomi's state shows it in place"
    return unknown, failed


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counter.items()))


@pytest.mark.slow
@pytest.mark.parametrize("case", BATCH_CASES, ids=_ids(BATCH_CASES))
def test_provisioning_batch_under_fault(
    case: FaultCase, make_simulator: Callable[..., BoomiSimulator], tmp_path: Path
) -> None:
    """The batch under the fault agrees with Boomi; the fault-free retry completes it exactly once."""
    started = time.monotonic()
    ledger = tmp_path / "ledger"
    sim = _start(make_simulator, case)
    changes = changes_from_records(_batch(sim))
    targets = _targets(sim, changes)
    if case.withdraw_api_privileges:
        sim.set_api_privileges(False)
    first = _run_batch(sim, changes, ledger, "run-1", **case.client)
    # Let a write Boomi was still carrying out land before judging (and be recorded).
    time.sleep(_slowest(case.faults))
    injected = _injected(sim)
    sim.set_faults([])
    if case.withdraw_api_privileges:
        sim.set_api_privileges(True)
    unknown, failed = _assert_state_matches(sim, targets, first, case.causes)
    _assert_ledger_matches(ledger, "run-1", first)
    if case.must_fail_a_change:
        assert failed > 0, "the fault made no change fail; the row does not exercise what it claims"

    second = _run_batch(sim, changes, ledger, "run-2")
    _assert_ledger_matches(ledger, "run-2", second)
    for i, (target, one, two) in enumerate(zip(targets, first, second, strict=True), start=1):
        assert two.outcome in (APPLIED, ALREADY_SATISFIED), f"retry: change #{i} is {two.outcome}"
        assert _holds(sim, target), f"retry: change #{i} is not in Boomi's state"
        if one.outcome == APPLIED:
            assert two.outcome == ALREADY_SATISFIED, f"change #{i} applied again by the retry"
    writes = _processed_writes(sim)
    wanted = _expected_writes(sim, targets)
    assert writes == wanted, f"writes carried out {dict(writes)} differ from one per change {dict(wanted)}"
    invited = [u for u in sim.state.users() if u["userId"].lower() == _email(sim, "ivy.invitee").lower()]
    assert len(invited) == 1, f"the invited user exists {len(invited)} times"

    unknown_note = f" ({unknown} with unknown outcome, said so)" if unknown else ""
    _record(
        case,
        f"run 1: {_counts(Counter(r.outcome for r in first))}{unknown_note}; agree. "
        f"Retry: {_counts(Counter(r.outcome for r in second))}; {sum(writes.values())} writes for "
        f"{sum(wanted.values())} needed; 1 invite; injected: {injected}",
        started,
    )


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


def _task(
    sim: BoomiSimulator, workdir: Path, changes: list[dict[str, Any]], ledger: Path, try_number: int
) -> subprocess.Popen[str]:
    """Start try ``try_number`` of the provisioning task in a process of its own."""
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


@pytest.fixture
def reaped() -> Iterator[list[subprocess.Popen[str]]]:
    """Task processes the test starts; any still running when it ends (a failed check) is killed."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


@pytest.mark.slow
def test_killed_provisioning_task_is_retried_exactly_once(
    make_simulator: Callable[..., BoomiSimulator], tmp_path: Path, reaped: list[subprocess.Popen[str]]
) -> None:
    """SIGKILL a provisioning task midway, then run it again as Airflow's retry would.

    One user's changes are applied in order (users run concurrently). The kill lands the moment
    Boomi has carried out the invitee's second change, before the task could read it back or
    record it; the invite itself was made, verified and recorded just before, and the invitee's
    third change was still to come.
    """
    case = KILLED_TASK_CASE
    started = time.monotonic()
    ledger = tmp_path / "ledger"
    sim = _start(make_simulator, case)
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
    child = _task(sim, tmp_path, records, ledger, try_number=1)
    reaped.append(child)
    deadline = time.monotonic() + 120
    killed = False
    while time.monotonic() < deadline and child.poll() is None:
        if _created(sim, invitee, auditor):
            os.kill(child.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.005)
    child.communicate(timeout=60)
    assert killed, f"the task ended (status {child.returncode}) before it could be killed"
    assert child.returncode == -signal.SIGKILL, f"the task exited with {child.returncode}, not SIGKILL"
    time.sleep(0.5)  # requests already sent when the task died still land: let them
    sim.set_latency(0.0)
    took_effect = {i for i, t in enumerate(targets, start=1) if _holds(sim, t)}
    # Changes 1 and 2 were carried out; change 3 of the same user cannot have started.
    assert {1, 2} <= took_effect and 3 not in took_effect, (
        f"killed at the wrong moment: changes {sorted(took_effect)} took effect"
    )

    retry = _task(sim, tmp_path, records, ledger, try_number=2)
    reaped.append(retry)
    out, err = retry.communicate(timeout=120)
    assert retry.returncode == 0, f"the retry failed ({retry.returncode}): {_short(err[-400:], 300)}"
    summary = json.loads(out.strip().splitlines()[-1])
    outcomes = [o["outcome"] for o in summary["outcomes"]]
    for i, target in enumerate(targets, start=1):
        assert _holds(sim, target), f"after the retry change #{i} is not in Boomi's state"
        wanted = ALREADY_SATISFIED if i in took_effect else APPLIED
        assert outcomes[i - 1] == wanted, f"retry: change #{i} is {outcomes[i - 1]}, expected {wanted}"
    writes = _processed_writes(sim)
    wanted_writes = _expected_writes(sim, targets)
    assert writes == wanted_writes, f"writes {dict(writes)} differ from one per change {dict(wanted_writes)}"
    invites = [u for u in sim.state.users() if u["userId"].lower() == invitee.lower()]
    assert len(invites) == 1, f"the invited user exists {len(invites)} times"

    frame = read_ledger(str(ledger))
    try2 = frame[frame["try_number"] == 2]
    recorded = sorted(zip(try2["user_id"], try2["role_name"], try2["outcome"], strict=True))
    # The retry's results, keyed the same way (the ledger is in completion order).
    expected_rows = sorted(
        (o["user_id"], c.role if not c.role_is_id else None, o["outcome"])
        for o, c in zip(summary["outcomes"], changes, strict=True)
    )
    assert recorded == expected_rows, f"the retry's ledger rows {recorded} differ from {expected_rows}"
    try1 = frame[frame["try_number"] == 1]
    assert set(try1["outcome"]) <= {APPLIED}, f"the killed try recorded {set(try1['outcome'])}"
    on_record = len(try1)
    assert on_record <= len(took_effect), "the killed try recorded more changes than took effect"
    # The invite finished before the second change was sent, so it must be on record.
    invite_rows = try1[(try1["user_id"].str.lower() == invitee.lower()) & (try1["role_name"] == "Developer")]
    assert len(invite_rows) == 1, "the killed try's invite is not in the ledger"

    _record(
        case,
        f"killed with {len(took_effect)} of 6 changes made, {on_record} on record (the invite among them); "
        f"retry: {_counts(Counter(outcomes))}; {sum(writes.values())} writes for "
        f"{sum(wanted_writes.values())} needed; 1 invite",
        started,
    )


# --- the page (last: it is written from what the cases above observed) ----------------------------


def test_reliability_page_is_current() -> None:
    """``docs/reliability.md`` shows every case as defined, with what it saw when it last ran."""
    if os.environ.get("BOOMI_WRITE_DOCS") == "1":
        missing = [case.id for case in CASES if case.id not in OBSERVED]
        assert not missing, (
            f"docs/reliability.md is written from a run in which every case passes; these did not "
            f"pass in this run: {', '.join(missing)} (run the whole module, without -k)"
        )
        PAGE.write_text(render_page(CASES, OBSERVED), encoding="utf-8")
    published = PAGE.read_text(encoding="utf-8")
    assert published == render_page(CASES, published_observations(published)), (
        "docs/reliability.md is stale: run make reliability "
        "(BOOMI_WRITE_DOCS=1 pytest tests/integration/test_fault_matrix.py)"
    )
