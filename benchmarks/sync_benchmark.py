"""Sync speed against the physical limit of a Boomi account, for three strategies.

Starts the simulator in its own process (``--profile``: ``large``, 10,000 evenly spread users;
``skewed``, 5,000 users all holding Standard User with a long tail of roles and groups; or
``all``) with a rate limit R counted as a token bucket or a strict sliding window
(``--limiter``, reference §g.8) and a latency L per request, then runs, each in a fresh child
process (so peak memory is the strategy's own):

* ``provider``: this package's sync (concurrent chains under one limiter, streaming to Parquet);
* ``sequential``: one request at a time, every chain in turn (how Boomi's own CLI scripts work);
* ``per-resource``: users list, roles and groups, then one grant query per role and one per
  group, sequentially (the per-resource pattern of connector SDKs).

For each it prints API calls, the minimum calls for this account, the longest chain no split
can shorten, wall time, the bound max(minimum calls / R, longest chain x L), wall / bound, 503s
and peak memory. ``--previous`` adds a provider run over a first snapshot written by another
process (planned from the previous snapshot's row counts and diffed against it, as a daily sync
is; its peak memory is its own); ``--repeat N`` repeats provider rows;
``--half-rate`` also runs the provider against a server limited to R/2 while the client is
configured for R, and checks the snapshot is complete.

    python benchmarks/sync_benchmark.py --setting scaled            # R=100/s, L=25 ms (a minute)
    python benchmarks/sync_benchmark.py --setting realistic         # R=10/s, L=250 ms (minutes)
    python benchmarks/sync_benchmark.py --profile all --limiter both --strategies provider --previous
    python benchmarks/sync_benchmark.py --setting both --half-rate --results benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SETTINGS = {"realistic": (10.0, 0.25), "scaled": (100.0, 0.025)}
STRATEGIES = ("provider", "sequential", "per-resource")
PROFILES = ("large", "skewed")
LIMITERS = ("token_bucket", "sliding_window")


def pages(rows: int) -> int:
    """Calls to read ``rows`` rows: Boomi pages by 100 and an empty result is still one call."""
    return max(1, math.ceil(rows / 100))


@dataclass
class AccountShape:
    """Row counts that fix the minimum number of calls and the longest chain."""

    roles: int
    user_roles: int
    groups: int
    group_rows: list[int]
    role_rows: list[int] = field(default_factory=list)  # global-role rows per role

    @property
    def minimum_calls(self) -> int:
        return (
            pages(self.roles) + pages(self.user_roles) + pages(self.groups) + sum(map(pages, self.group_rows))
        )

    @property
    def longest_chain(self) -> int:
        """The longest chain no split can shorten: the group pages then the largest group's
        pages, or the largest role's share of the global-role rows (a ``roleId`` split cannot cut
        one role's rows), or the roles. Without per-role counts: the single global-role chain."""
        group_chain = pages(self.groups) + max(map(pages, self.group_rows), default=0)
        user_chain = max(map(pages, self.role_rows)) if self.role_rows else pages(self.user_roles)
        return max(pages(self.roles), user_chain, group_chain)


# ---- the strategies, each run in a child process -------------------------------------------


def _client(facts: dict[str, Any], rate: float) -> Any:
    from airflow_provider_boomi.client import BoomiClient, ClientConfig

    return BoomiClient(
        ClientConfig(
            base_url=facts["base_url"],
            account_id=facts["account_id"],
            email=facts["email"],
            api_token=facts["token"],
            requests_per_second=rate,
        )
    )


def run_provider(facts: dict[str, Any], rate: float, out: str, split: str) -> dict[str, Any]:
    from airflow_provider_boomi.access.sync import SyncOptions, sync_account

    started = time.monotonic()
    with _client(facts, rate) as client:
        result = sync_account(client, out, options=SyncOptions(split_user_roles=split))  # type: ignore[arg-type]
        stats = client.stats.as_dict()
    wall = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before reading the shape back
    from airflow_provider_boomi.dataset import SnapshotStore

    store = SnapshotStore(out)
    groups = store.read_table(result.account_id, result.sync_id, "group_role_grants", as_="pandas")
    group_ids = store.read_table(result.account_id, result.sync_id, "account_groups", as_="pandas")
    user_roles = store.read_table(result.account_id, result.sync_id, "user_role_grants", as_="pandas")
    per_group = groups.groupby("account_group_id").size().to_dict()
    shape = AccountShape(
        roles=result.row_counts["roles"],
        user_roles=result.row_counts["user_role_grants"],
        groups=result.row_counts["account_groups"],
        group_rows=[int(per_group.get(g, 0)) for g in group_ids.account_group_id],
        role_rows=[int(n) for n in user_roles.groupby("role_id").size()],
    )
    return {
        "calls": stats["calls"],
        "status_503": stats["status_503"],
        "shape": shape.__dict__,
        "rows": result.row_counts,
        "wall": wall,
        "peak_mb": peak_mb,
    }


def run_sequential(facts: dict[str, Any], rate: float, per_resource: bool) -> dict[str, Any]:
    from airflow_provider_boomi.client import QueryFilter

    with _client(facts, rate) as client:
        account = QueryFilter.equals("accountId", facts["account_id"])
        roles = list(client.query("Role"))
        user_rows = list(client.query("AccountUserRole", account))  # users (and, sequentially, grants)
        groups = list(client.query("AccountGroup"))
        rows = len(user_rows)
        if per_resource:  # grants again per role, as an SDK asks each resource for its grants
            rows = 0
            for role in roles:
                f = QueryFilter.all_of(account, QueryFilter.equals("roleId", role["id"]))
                rows += sum(1 for _ in client.query("AccountUserRole", f))
        group_rows = 0
        for group in groups:
            f = QueryFilter.equals("accountGroupId", group["id"])
            group_rows += sum(1 for _ in client.query("AccountGroupUserRole", f))
        stats = client.stats.as_dict()
    return {"calls": stats["calls"], "status_503": stats["status_503"], "rows": {"user_role_grants": rows}}


def child_main(args: argparse.Namespace) -> None:
    facts = json.loads(Path(args.facts).read_text())
    started = time.monotonic()
    if args.child == "provider":
        with tempfile.TemporaryDirectory() as tmp:
            out = args.out or tmp
            if args.previous:
                # The first sync in a process of its own, as yesterday's task was: the measured
                # sync plans from its snapshot, and its peak memory is its own.
                run_child(__file__, "provider", "--facts", args.facts, "--rate", str(args.rate),
                          "--split", args.split, "--out", out)  # fmt: skip
                time.sleep(1.0)  # let the server's window forget the first sync
            outcome = run_provider(facts, args.rate, out, args.split)
    else:
        outcome = run_sequential(facts, args.rate, per_resource=args.child == "per-resource")
    outcome.setdefault("wall", time.monotonic() - started)
    outcome.setdefault("peak_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print("RESULT " + json.dumps(outcome))


# ---- the parent: simulator process, children, table ----------------------------------------


class Simulator:
    """The simulator in its own process, so it never competes with the client for the GIL."""

    def __init__(self, profile: str, limiter: str, rate: float, latency: float, workdir: Path) -> None:
        self.facts_file = workdir / f"sim-{profile}-{limiter}-{rate}-{latency}.json"
        self.facts_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow_provider_boomi.testing.simulator",
                "--profile",
                profile,
                "--rate-limiter",
                limiter,
                "--rate-limit",
                str(rate),
                "--latency",
                str(latency),
                "--ready-file",
                str(self.facts_file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while not self.facts_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read() if self.proc.stderr else b""
                raise RuntimeError("simulator did not start: " + err.decode())
            time.sleep(0.1)
        time.sleep(0.2)  # the ready file is written once listening; let the write finish

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run_child(script: str, strategy: str, *args: str) -> dict[str, Any]:
    """Run ``script --child strategy *args`` in a fresh process; return its RESULT line as a dict."""
    cmd = [sys.executable, script, "--child", strategy, *args]
    done = subprocess.run(
        cmd, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONWARNINGS": "ignore"}
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{strategy} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(lines[-1][len("RESULT ") :]))


def measure(
    setting: str, profile: str, limiter: str, args: argparse.Namespace, workdir: Path
) -> list[dict[str, Any]]:
    rate, latency = SETTINGS[setting]
    rows: list[dict[str, Any]] = []
    shape: AccountShape | None = None
    plan: list[tuple[str, float, float]] = [(s, rate, rate) for s in args.strategies]
    if args.previous and "provider" in args.strategies:
        plan.insert(args.strategies.index("provider") + 1, ("provider@2nd sync", rate, rate))
    if args.half_rate:
        plan.append(("provider@half-rate server", rate, rate / 2))
    for label, client_rate, server_rate in plan:
        for _ in range(args.repeat if label.startswith("provider") else 1):
            sim = Simulator(profile, limiter, server_rate, latency, workdir)
            try:
                strategy = label.split("@")[0]
                extra = ["--previous"] if label == "provider@2nd sync" else []
                outcome = run_child(
                    __file__,
                    strategy,
                    "--facts",
                    str(sim.facts_file),
                    "--rate",
                    str(client_rate),
                    "--split",
                    args.split,
                    *extra,
                )
            finally:
                sim.stop()
            if "shape" in outcome and shape is None:
                shape = AccountShape(**outcome["shape"])
            rows.append(
                {
                    "setting": setting,
                    "profile": profile,
                    "limiter": limiter,
                    "strategy": label,
                    "rate": client_rate,
                    "server_rate": server_rate,
                    "latency": latency,
                    **outcome,
                }
            )
            print(f"  {setting} {profile} {limiter} {label}: {outcome['wall']:.2f}s", file=sys.stderr)
    if shape is None:
        raise RuntimeError("run the provider strategy too: it measures the account's shape")
    for row in rows:
        row["minimum_calls"] = shape.minimum_calls
        row["longest_chain"] = shape.longest_chain
        row["bound"] = max(shape.minimum_calls / row["server_rate"], shape.longest_chain * latency)
        row["ratio"] = row["wall"] / row["bound"]
        row["calls_ratio"] = row["calls"] / shape.minimum_calls
    return rows


HEADER = (
    "| setting | profile | server limiter | strategy | R (client/server) | L | calls | min calls "
    "| calls/min | longest chain | wall s | bound s | wall/bound | 503s | peak MB |"
)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [HEADER, "|" + "---|" * 15]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['profile']} | {r['limiter']} | {r['strategy']} "
            f"| {r['rate']:g}/{r['server_rate']:g} "
            f"| {r['latency'] * 1000:g} ms | {r['calls']} | {r['minimum_calls']} | {r['calls_ratio']:.3f} "
            f"| {r['longest_chain']} | {r['wall']:.2f} | {r['bound']:.2f} "
            f"| {r['ratio']:.2f} | {r['status_503']} | {r['peak_mb']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--setting", choices=[*SETTINGS, "both"], default="scaled")
    parser.add_argument("--profile", choices=[*PROFILES, "all"], default="large")
    parser.add_argument(
        "--limiter",
        choices=[*LIMITERS, "both"],
        default="token_bucket",
        help="how the simulated server counts its rate limit (reference §g.8)",
    )
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    parser.add_argument("--split", choices=["never", "by_role", "auto"], default="auto")
    parser.add_argument("--half-rate", action="store_true", help="also run against a server at R/2")
    parser.add_argument(
        "--previous",
        action="store_true",
        help="also run the provider a second time over its first snapshot "
        "(splits planned from the previous snapshot's row counts)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each provider row (noise)")
    parser.add_argument("--results", type=Path, help="append the table, command and machine to this file")
    parser.add_argument("--child", choices=STRATEGIES, help=argparse.SUPPRESS)
    parser.add_argument("--facts", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    settings = list(SETTINGS) if args.setting == "both" else [args.setting]
    profiles = list(PROFILES) if args.profile == "all" else [args.profile]
    limiters = list(LIMITERS) if args.limiter == "both" else [args.limiter]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for setting in settings:
            for profile in profiles:
                for limiter in limiters:
                    done = measure(setting, profile, limiter, args, Path(tmp))
                    rows += done
                    print(table(done), flush=True)
    if args.results:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        machine = f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        command = "python benchmarks/sync_benchmark.py " + " ".join(sys.argv[1:])
        block = f"\n## Sync, {stamp}\n\nCommand: `{command}`  \nMachine: {machine}\n\n{table(rows)}\n"
        with args.results.open("a") as fh:
            fh.write(block)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
