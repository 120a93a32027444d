"""The fault matrix's cases, and the page they make (``docs/reliability.md``).

DESIGN §7 promises that a snapshot is complete or absent, that transient failures are retried
within bounds, that anything else fails at once naming its cause, and that provisioning never
loses or doubles a change. Each :class:`FaultCase` here is one row of the matrix: what it
injects into the simulator and what it promises. ``tests/integration/test_fault_matrix.py``
runs every case as a parametrised test with the checks of its kind, and writes the page from
the definitions below and what each case observed (``BOOMI_WRITE_DOCS=1``, or ``make
reliability``); the same test fails when the published page no longer matches the definitions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_boomi.testing.simulator import FaultRule

PAGE = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"

# The kinds of row; each is one test function of tests/integration/test_fault_matrix.py.
SYNC = "sync"
CONCURRENT_SYNCS = "sync x2"
BATCH = "provisioning batch"
KILLED_TASK = "provisioning task (the operator, 6 changes)"

#: The simulator every case starts from: the demo account (13 roles, 151 role rows, 222
#: group-role rows), its rate limit off, faults with a probability drawn from this seed so runs
#: repeat.
PROFILE = "demo"
SEED = 0

#: The client of every case: a private limiter fast enough not to matter (the matrix measures
#: faults, not pacing), short backoffs, and enough retries that a storm cannot exhaust them by
#: chance. A case's ``client`` overrides these (the read-timeout rows shorten ``timeout``).
CLIENT = {
    "requests_per_second": 1000.0,
    "max_retries": 8,
    "timeout": 5.0,
    "max_retry_time": 60.0,
    "backoff_initial": 0.01,
    "backoff_max": 0.1,
}

#: Words an error must contain to name a lost or refused credential (any case).
AUTH_WORDS = ("HTTP 401", "credentials")
#: A short client timeout, below the 1 s a ``slow`` fault holds its answer.
SHORT_TIMEOUT = {"timeout": 0.3}


@dataclass(frozen=True)
class FaultCase:
    """One row of the fault matrix.

    :param id: the pytest id and the page's first column.
    :param fault: what goes wrong, as the page says it.
    :param kind: :data:`SYNC`, :data:`CONCURRENT_SYNCS`, :data:`BATCH` or :data:`KILLED_TASK`.
    :param faults: the simulator's fault rules for the faulty run.
    :param simulator: further simulator settings of the run (``primary``, ``groups_mode``...).
    :param baseline: simulator settings of the fault-free sync the data must equal; ``None``:
        those of the run without its faults.
    :param sync_options: ``SyncOptions`` fields of the sync.
    :param client: client settings over :data:`CLIENT`.
    :param fails_naming: a sync that must fail: words its error must contain (case-insensitive).
        Empty: the sync must complete with the baseline's data.
    :param groups_flagged: the completed sync's manifest must flag missing account groups and
        name the 403 in a warning.
    :param causes: a batch: a failed change's error must contain one of these.
    :param must_fail_a_change: a batch: the fault must make at least one change fail (else the
        row would not exercise what it claims).
    :param withdraw_api_privileges: a batch: the user loses API access before the faulty run and
        gets it back before the retry.
    :param promise: the expected column, when the kind's usual promise does not say it.
    """

    id: str
    fault: str
    kind: str
    faults: tuple[FaultRule, ...] = ()
    simulator: Mapping[str, Any] = field(default_factory=dict)
    baseline: Mapping[str, Any] | None = None
    sync_options: Mapping[str, Any] = field(default_factory=dict)
    client: Mapping[str, Any] = field(default_factory=dict)
    fails_naming: tuple[str, ...] = ()
    groups_flagged: bool = False
    causes: tuple[str, ...] = ()
    must_fail_a_change: bool = True
    withdraw_api_privileges: bool = False
    promise: str | None = None

    @property
    def expected(self) -> str:
        """What the row promises (the page's expected column)."""
        if self.promise is not None:
            return self.promise
        if self.kind == SYNC and self.fails_naming:
            return (
                f"fails; no manifest, no files; the error names the cause ({' / '.join(self.fails_naming)})"
            )
        return _PROMISES[self.kind]

    @property
    def baseline_settings(self) -> Mapping[str, Any]:
        """Simulator settings of the fault-free sync this case's data must equal."""
        return self.simulator if self.baseline is None else self.baseline


_PROMISES = {
    SYNC: "completes; every table identical to a fault-free sync",
    CONCURRENT_SYNCS: "both complete; both snapshots verify; the store lists both",
    BATCH: (
        "run 1: state, ledger and results agree; failures name the cause. Retry: completes the batch; "
        "each change written exactly once; one invite"
    ),
    KILLED_TASK: (
        "retry ends in the right state; each change applied exactly once; invited user created once; "
        "ledger shows the retry's already_satisfied"
    ),
}


def _sync(id: str, fault: str, *faults: FaultRule, **fields: Any) -> FaultCase:
    return FaultCase(id, fault, SYNC, faults=faults, **fields)


def _batch(id: str, fault: str, *faults: FaultRule, **fields: Any) -> FaultCase:
    return FaultCase(id, fault, BATCH, faults=faults, **fields)


SYNC_CASES: tuple[FaultCase, ...] = (
    _sync("sync-baseline", "none (baseline)", promise="completes; the reference data"),
    _sync(
        "sync-503-storm",
        "503 storm: 30% of all requests, up to 40",
        FaultRule("503", probability=0.3, count=40),
    ),
    _sync(
        "sync-429-retry-after",
        "429 with Retry-After: 0.05 s, 10 requests",
        FaultRule("429", count=10, retry_after=0.05),
    ),
    _sync("sync-500-burst", "500 burst: 8 requests in a row", FaultRule("500", after=3, count=8)),
    _sync(
        "sync-502-504",
        "502 and 504 gateway errors, 4 each",
        FaultRule("502", after=2, count=4),
        FaultRule("504", after=6, count=4),
    ),
    _sync(
        "sync-dropped-connections",
        "dropped connections: 30% of requests, up to 12",
        FaultRule("drop", probability=0.3, count=12),
    ),
    _sync(
        "sync-read-timeout-query",
        "read timeouts: 4 first-page queries answer after 1 s (client timeout 0.3 s)",
        FaultRule("slow", operation="query", after=1, count=4, delay=1.0),
        client=SHORT_TIMEOUT,
    ),
    _sync(
        "sync-read-timeout-querymore",
        "read timeouts on queryMore: 2 pages answer after 1 s (client timeout 0.3 s)",
        FaultRule("slow", operation="queryMore", count=2, delay=1.0),
        client=SHORT_TIMEOUT,
    ),
    _sync(
        "sync-malformed-json",
        "malformed JSON: 3 truncated 200 answers",
        FaultRule("malformed", after=2, count=3),
    ),
    _sync(
        "sync-malformed-json-every-role-query",
        "malformed JSON on every Role query",
        FaultRule("malformed", object_type="Role"),
        fails_naming=("Role query", "not valid JSON"),
    ),
    _sync(
        "sync-token-revoked",
        "token stops working midway (401 from the 6th request on)",
        FaultRule("401", after=5),
        fails_naming=AUTH_WORDS,
    ),
    _sync(
        "sync-403-groups-default",
        "403 on account groups (non-primary account), default options",
        simulator={"primary": False, "groups_mode": "forbidden"},
        baseline={"primary": False, "groups_mode": "empty"},
        groups_flagged=True,
        promise=(
            "completes; group tables empty and the manifest flags it; data identical to a sync of "
            "the same account answering 'no groups'"
        ),
    ),
    _sync(
        "sync-403-groups-fail",
        "403 on account groups, account_groups_unavailable='fail'",
        simulator={"primary": False, "groups_mode": "forbidden"},
        sync_options={"account_groups_unavailable": "fail"},
        fails_naming=("HTTP 403", "AccountGroup", "primary"),
    ),
    _sync(
        "sync-querymore-400",
        "page chain breaks: queryMore answers 400 Invalid query token",
        # Every queryToken is void a microsecond after it is issued (long before the client can
        # present it): the simulator's own path to Boomi's "Invalid query token." answer.
        simulator={"query_tokens": "expiring", "query_token_ttl": 1e-6},
        fails_naming=("queryMore", "HTTP 400", "Invalid query token"),
    ),
    _sync(
        "sync-querymore-500",
        "page chain breaks: queryMore answers 500 persistently",
        FaultRule("500", operation="queryMore"),
        fails_naming=("queryMore", "HTTP 500", "gave up after"),
    ),
    _sync(
        "sync-503-forever",
        "503 that never ends (rate limit never recovers)",
        FaultRule("503"),
        fails_naming=("HTTP 503", "requests_per_second"),
    ),
)

CONCURRENT_SYNC_CASE = FaultCase(
    "sync-twice-at-once", "two syncs of one account into one path at once", CONCURRENT_SYNCS
)

#: The batch of every provisioning row: assign, invite a new user, revoke, revoke a user's last
#: role, add and remove a group role (``tests/integration/test_fault_matrix.py`` builds it).
BATCH_CASES: tuple[FaultCase, ...] = (
    _batch(
        "batch-503-storm",
        "503 storm: 30% of all requests, up to 20",
        FaultRule("503", probability=0.3, count=20),
        must_fail_a_change=False,
    ),
    _batch(
        "batch-500-on-writes",
        "500 burst on writes: 2 creates, 1 delete",
        FaultRule("500", operation="create", count=2),
        FaultRule("500", operation="delete", count=1),
        causes=("HTTP 500",),
    ),
    _batch(
        "batch-500-on-reads",
        "500 burst on reads: 6 queries",
        FaultRule("500", operation="query", after=2, count=6),
        must_fail_a_change=False,
    ),
    _batch(
        "batch-dropped-writes",
        "dropped connections on writes: 2 creates, 1 delete",
        FaultRule("drop", operation="create", count=2),
        FaultRule("drop", operation="delete", count=1),
        causes=("no usable response",),
    ),
    _batch(
        "batch-read-timeout-on-creates",
        "read timeout on 2 creates: Boomi applies them after the client gave up (timeout 0.3 s)",
        FaultRule("slow", operation="create", count=2, delay=1.0),
        causes=("no usable response",),
        client=SHORT_TIMEOUT,
    ),
    _batch(
        "batch-read-timeouts-on-reads",
        "read timeouts on reads: 4 queries answer after 1 s (timeout 0.3 s)",
        FaultRule("slow", operation="query", after=2, count=4, delay=1.0),
        client=SHORT_TIMEOUT,
        # On a loaded machine an ordinary write may miss the short timeout too: that change then
        # fails naming the timeout, and the retry must still settle it exactly once.
        causes=("no usable response",),
        must_fail_a_change=False,
    ),
    _batch(
        "batch-malformed-creates",
        "malformed JSON answering 2 creates",
        FaultRule("malformed", operation="create", count=2),
        causes=("not valid JSON",),
    ),
    _batch(
        "batch-token-revoked",
        "token stops working midway (401 from the 12th request on)",
        FaultRule("401", after=11),
        causes=AUTH_WORDS,
    ),
    _batch(
        "batch-api-privileges-withdrawn",
        "403: API privileges withdrawn before the batch",
        withdraw_api_privileges=True,
        causes=("HTTP 403", "API Access"),
    ),
)

KILLED_TASK_CASE = FaultCase(
    "task-killed-and-retried",
    "provisioning task SIGKILLed between a write and its read-back (after an invite), then retried",
    KILLED_TASK,
)

#: Every row, in the page's order.
CASES: tuple[FaultCase, ...] = (*SYNC_CASES, CONCURRENT_SYNC_CASE, *BATCH_CASES, KILLED_TASK_CASE)


# --- the page ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """What one case saw in the run that wrote the page.

    :param text: the observed column (one line).
    :param seconds: how long the case took.
    """

    text: str
    seconds: float


NOT_RUN = Observation("(not run since this row changed: run make reliability)", 0.0)

_HEADER = """\
# Reliability: the fault matrix

<!-- Written by tests/integration/test_fault_matrix.py (make reliability); do not edit by hand. -->

DESIGN §7 promises that a snapshot is complete or absent, that transient failures are retried
within bounds, that anything else fails at once with a message saying what to fix, and that
provisioning neither loses nor doubles a change. The fault matrix tries each promise against the
[simulator](simulator.md) with one injected fault at a time and records what it saw:

- **sync**: completes with every table's rows identical to a fault-free sync (`sync_id` and
  `synced_at` excluded), or fails leaving no manifest and no files, with an error naming the cause;
- **provisioning batch** (assign, invite a new user, revoke, revoke a last role, add and remove a
  group role): after the faulty run Boomi's state, the ledger and the results agree, and every
  failure names its cause; a second run with the fault gone (an Airflow retry) completes the
  batch, and counting the writes Boomi carried out shows each change made exactly once;
- **killed task**: the real operator in a subprocess, SIGKILLed the moment Boomi carried out a
  write and before the task could read it back or record it (it had invited a user just before),
  then run again as try 2.

A write whose answer is lost (read timeout, dropped connection, 5xx, unreadable body) is never
re-sent: the provisioner reads the state back. When Boomi is still carrying the write out at that
moment the change is reported failed with "may or may not have been applied", and the retry
finds it `already_satisfied` — the "read timeout on creates" row shows exactly that.

Each row is a case of `tests/integration/test_fault_matrix.py` (defined in `tests/fault_cases.py`)
and runs in `make test`: a row that fails fails the suite. `make reliability` (or
`BOOMI_WRITE_DOCS=1 pytest tests/integration/test_fault_matrix.py`) runs them all and rewrites
this page with what each saw; the suite fails when the page no longer matches the cases.
"""


def _tenths(seconds: float) -> float:
    # The sum is of the seconds as the rows print them, so a page read back renders the same.
    return float(f"{seconds:.1f}")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_page(cases: Sequence[FaultCase], observed: Mapping[str, Observation]) -> str:
    """``docs/reliability.md``: the promises, the settings, and one row per case.

    :param cases: the rows, in order.
    :param observed: what each case saw, by case id; a case without one shows :data:`NOT_RUN`.
    """
    client = ", ".join(f"{key} {value}" for key, value in CLIENT.items())
    seen = [observed.get(case.id, NOT_RUN) for case in cases]
    lines = [
        _HEADER,
        f"Settings: profile `{PROFILE}`, seed {SEED}, simulator rate limit off; client {client}.",
        "",
        f"The run that wrote this page: {len(cases)} rows, every one passing, "
        f"{sum(_tenths(o.seconds) for o in seen):.1f} s of cases.",
        "",
        "| case | fault | operation | expected | observed | s |",
        "|---|---|---|---|---|---|",
    ]
    for case, observation in zip(cases, seen, strict=True):
        lines.append(
            f"| `{case.id}` | {_cell(case.fault)} | {_cell(case.kind)} | {_cell(case.expected)} | "
            f"{_cell(observation.text)} | {observation.seconds:.1f} |"
        )
    lines.append("")
    return "\n".join(lines)


_ROW = re.compile(r"^\| `(?P<id>[^`]+)` \|")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def published_observations(page: str) -> dict[str, Observation]:
    """The observed column and seconds of every row of a page :func:`render_page` wrote.

    Rendering the cases with these gives the page back exactly when the page is current.
    """
    observed: dict[str, Observation] = {}
    for line in page.splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        cells = [cell.strip() for cell in _UNESCAPED_PIPE.split(line)[1:-1]]
        if len(cells) != 6:
            continue  # not a row of this table's shape: the comparison reports the page stale
        try:
            seconds = float(cells[5])
        except ValueError:
            continue
        observed[match["id"]] = Observation(cells[4].replace("\\|", "|"), seconds)
    return observed
