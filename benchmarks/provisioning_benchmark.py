"""A provisioning batch of 1,000 changes against the rate limit, for two strategies.

The simulator (``large`` profile) runs in its own process at rate R with latency L. The batch
assigns a role to 500 users who lack it and revokes a role from 500 other users who keep at
least one more (each user appears once). What the rules need, counted from the simulator's
seeded state before the run:

* writes: one create or delete per change, plus one Standard User create for each revoked user
  who lacks it (the floor that keeps concurrent revokes safe: a write the safety rules need);
* safety reads: none for this batch (no administrative role and no Standard User is revoked, so
  neither the last-administrator query nor the re-read before a Standard User revoke is due);
* batched reads: the users' global roles read ``read_batch_size`` users a query before the
  writes, and again to verify them: per group, its rows in pages of 100 (an empty answer is
  still one call), before and after;
* setup: the role catalog (one page) and the detection of how Boomi matches user ids (two reads).

``--kind group`` runs a batch of group changes instead: one account group role (Auditor in the
Sandbox group) added to ``--size`` users who have logged in, hold global roles and no row in
that group. Per group of users the rules need their global rows (one batched read: they hold no
row in the group yet, so these show that Boomi holds them and how it spells them), their rows in
the group before the writes (one batched read, empty) and after (one batched read); setup also
reads the account groups (two pages of the profile's 200 groups).

The bound is max(their sum / R, the longest chain of one group x L); each count is printed,
with what the provider counted for it (``Provisioner.calls``). Strategies, each in a fresh child
process against a fresh simulator:

* ``provider``: ``Provisioner.apply_all`` (groups of users concurrently, each group in rounds);
* ``sequential``: the same rules one request at a time (``max_workers=1``).

    python benchmarks/provisioning_benchmark.py --setting scaled
    python benchmarks/provisioning_benchmark.py --setting both --results benchmarks/RESULTS.md
    python benchmarks/provisioning_benchmark.py --kind group --setting scaled --strategies provider
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from sync_benchmark import SETTINGS, Simulator, pages, run_child  # noqa: E402

from airflow_provider_boomi.access.provisioning import DEFAULT_READ_BATCH_SIZE  # noqa: E402

STRATEGIES = {"provider": 8, "sequential": 1}
SETUP_CALLS = 3  # the role catalog (one page of the large profile's 60 roles) and two detection reads
GROUP_SETUP_CALLS = SETUP_CALLS + 2  # and the account groups (two pages of the profile's 200)
GROUP = "Sandbox"  # the account group of ``--kind group``


@dataclass(frozen=True)
class Needed:
    """The calls the batch needs, by reason (see the module docstring)."""

    writes: int
    floor_writes: int
    batched_reads: int
    longest_chain: int
    setup: int = SETUP_CALLS

    @property
    def total(self) -> int:
        return self.writes + self.floor_writes + self.batched_reads + self.setup


def build_batch(size: int, seed: int = 0) -> tuple[list[dict[str, str]], int, list[tuple[str, int, int]]]:
    """Changes for the ``large`` profile, computed from the same seeded state the server has;
    how many of the revoked users lack Standard User (the floor every revoke leaves in place
    costs them one create each); and each user with their global-role rows before and after.

    The connection's own user is left out (changes to it are refused), and so are revokes of
    Standard User (the floor itself) and of administrative roles (their last-administrator check
    is a query of its own; the sync benchmark's numbers are not about that rule).
    """
    from airflow_provider_boomi.testing.simulator import BoomiSimulator

    state = BoomiSimulator(profile="large", seed=seed, rate_limit=None).state
    auditor = state.role_by_name("Auditor")
    standard = state.role_by_name("Standard User")
    assert auditor is not None and standard is not None
    admin_roles = {
        r["id"] for r in state.roles() if "ACCOUNT_ADMIN" in {p["name"] for p in r["Privileges"]["Privilege"]}
    }
    roles_of: dict[str, list[str]] = {}
    for row in state.user_roles():
        roles_of.setdefault(row["userId"], []).append(row["roleId"])
    users = sorted(u for u in roles_of if u != state.api_user_id)
    half = size // 2
    assign = [u for u in users if auditor["id"] not in roles_of[u]][:half]
    taken = set(assign)

    def revocable(user: str) -> list[str]:
        return [r for r in roles_of[user] if r != standard["id"] and r not in admin_roles]

    revoke = [u for u in users if u not in taken and len(roles_of[u]) >= 2 and revocable(u)][: size - half]
    changes = [
        {"action": "assign_role", "user_id": u, "role_id": auditor["id"], "notify_user": "false"}
        for u in assign
    ]
    changes += [{"action": "revoke_role", "user_id": u, "role_id": revocable(u)[0]} for u in revoke]
    floor_creates = sum(1 for u in revoke if standard["id"] not in roles_of[u])
    rows_before = {u: len(roles_of[u]) for u in [*assign, *revoke]}
    rows_after = {u: rows_before[u] + 1 for u in assign}
    rows_after.update({u: rows_before[u] - 1 + (standard["id"] not in roles_of[u]) for u in revoke})
    return changes, floor_creates, [(u, rows_before[u], rows_after[u]) for u in [*assign, *revoke]]


def build_group_batch(size: int, seed: int = 0) -> tuple[list[dict[str, str]], list[tuple[str, int]]]:
    """``size`` additions of Auditor in :data:`GROUP`, from the seeded state the server has, and
    each user with their global-role rows (read before the writes: see the module docstring)."""
    from airflow_provider_boomi.testing.simulator import BoomiSimulator

    state = BoomiSimulator(profile="large", seed=seed, rate_limit=None).state
    auditor = state.role_by_name("Auditor")
    assert auditor is not None
    group_id = next(g["id"] for g in state.account_groups() if g["name"] == GROUP)
    inside = {r["userId"] for r in state.group_roles() if r["accountGroupId"] == group_id}
    global_rows: dict[str, int] = {}
    for row in state.user_roles():
        global_rows[row["userId"]] = global_rows.get(row["userId"], 0) + 1
    # Boomi adds to a group only users who have logged in.
    eligible = sorted(
        u["userId"]
        for u in state.users()
        if u["hasLoggedIn"] and u["userId"] in global_rows and u["userId"] not in inside
    )
    users = [u for u in eligible if u != state.api_user_id][:size]
    assert len(users) == size, f"only {len(users)} users can be added to {GROUP}"
    changes = [
        {"action": "add_group_role", "user_id": u, "role_id": auditor["id"], "account_group": GROUP}
        for u in users
    ]
    return changes, [(u, global_rows[u]) for u in users]


def needed_group_calls(
    changes: list[dict[str, str]], users: list[tuple[str, int]], batch_size: int
) -> Needed:
    """The calls the rules need for a ``--kind group`` batch with groups of ``batch_size`` users:
    per group, its global rows, its (empty) rows in the account group, and one read-back of one
    new row a user."""
    reads = 0
    for start in range(0, len(users), batch_size):
        group = users[start : start + batch_size]
        reads += pages(sum(rows for _, rows in group)) + pages(0) + pages(len(group))
    per_worker = math.ceil(min(batch_size, len(users)) / STRATEGIES["provider"])
    return Needed(len(changes), 0, reads, 3 + per_worker, GROUP_SETUP_CALLS)


def needed_calls(
    changes: list[dict[str, str]], floor_creates: int, users: list[tuple[str, int, int]], batch_size: int
) -> Needed:
    """The calls the rules need with groups of ``batch_size`` users, in the batch's order (each
    user has one change: one round per group, one read before and one read-back after)."""
    reads = 0
    for start in range(0, len(users), batch_size):
        group = users[start : start + batch_size]
        reads += pages(sum(before for _, before, _ in group)) + pages(sum(after for _, _, after in group))
    # One group's chain: its read, each user's writes one after another on the busiest worker
    # (the floor's create, then the change's write), its read-back.
    per_worker = math.ceil(min(batch_size, len(users)) / STRATEGIES["provider"])
    return Needed(len(changes), floor_creates, reads, 2 + 2 * per_worker)


def child_main(args: argparse.Namespace) -> None:
    from airflow_provider_boomi.access.changes import changes_from_records
    from airflow_provider_boomi.access.provisioning import Provisioner, ProvisioningOptions
    from airflow_provider_boomi.client import BoomiClient, ClientConfig

    facts = json.loads(Path(args.facts).read_text())
    changes = changes_from_records(json.loads(Path(args.batch).read_text()))
    config = ClientConfig(
        base_url=facts["base_url"],
        account_id=facts["account_id"],
        email=facts["email"],
        api_token=facts["token"],
        requests_per_second=args.rate,
    )
    options = ProvisioningOptions(
        provisioning_enabled=True,
        max_changes=len(changes),
        max_workers=STRATEGIES[args.child],
        read_batch_size=args.read_batch_size,
    )
    started = time.monotonic()
    with BoomiClient(config) as client:
        provisioner = Provisioner(client, options)
        results = provisioner.apply_all(changes)
        stats = client.stats.as_dict()
        counted = provisioner.calls.as_dict()
    wall = time.monotonic() - started
    outcomes: dict[str, int] = {}
    for result in results:
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    print(
        "RESULT "
        + json.dumps(
            {
                "calls": stats["calls"],
                "counted": counted,
                "warnings": provisioner.warnings,
                "status_503": stats["status_503"],
                "wall": wall,
                "outcomes": outcomes,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


HEADER = (
    "| setting | strategy | R | L | B | changes | outcomes | calls | writes | floor writes | safety reads "
    "| batched reads | other | needed calls | wall s | bound s | wall/bound | 503s |"
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--setting", choices=[*SETTINGS, "both"], default="scaled")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--strategies", nargs="+", choices=list(STRATEGIES), default=list(STRATEGIES))
    parser.add_argument(
        "--read-batch-size", type=int, default=DEFAULT_READ_BATCH_SIZE, help="users read in one query"
    )
    parser.add_argument(
        "--kind",
        choices=["global", "group"],
        default="global",
        help="global: assigns and revokes of global roles; group: additions to one account group",
    )
    parser.add_argument("--results", type=Path, help="append the table, command and machine to this file")
    parser.add_argument("--child", choices=list(STRATEGIES), help=argparse.SUPPRESS)
    parser.add_argument("--facts", help=argparse.SUPPRESS)
    parser.add_argument("--batch", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    if args.kind == "group":
        changes, group_users = build_group_batch(args.size)
        need = needed_group_calls(changes, group_users, args.read_batch_size)
    else:
        changes, floor_creates, users = build_batch(args.size)
        need = needed_calls(changes, floor_creates, users, args.read_batch_size)
    print(
        f"needed: {need.writes} writes + {need.floor_writes} Standard User creates + 0 safety reads + "
        f"{need.batched_reads} batched reads + {need.setup} setup = {need.total} calls "
        f"(read_batch_size={args.read_batch_size})",
        flush=True,
    )
    lines = [HEADER, "|" + "---|" * 18]
    settings = list(SETTINGS) if args.setting == "both" else [args.setting]
    with tempfile.TemporaryDirectory() as tmp:
        batch = Path(tmp) / "batch.json"
        batch.write_text(json.dumps(changes))
        for setting in settings:
            rate, latency = SETTINGS[setting]
            bound = max(need.total / rate, need.longest_chain * latency)
            for strategy in args.strategies:
                sim = Simulator("large", "token_bucket", rate, latency, Path(tmp))
                try:
                    r = run_child(
                        __file__,
                        strategy,
                        "--facts",
                        str(sim.facts_file),
                        "--batch",
                        str(batch),
                        "--rate",
                        str(rate),
                        "--read-batch-size",
                        str(args.read_batch_size),
                    )
                finally:
                    sim.stop()
                for warning in r["warnings"]:
                    print(f"warning: {warning}", flush=True)
                counted = r["counted"]
                # What the provisioner does not count itself: the catalog and the detection.
                other = r["calls"] - sum(counted.values())
                outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))
                line = (
                    f"| {setting} ({args.kind}) | {strategy} | {rate:g}/s | {latency * 1000:g} ms "
                    f"| {args.read_batch_size} "
                    f"| {len(changes)} | {outcomes} | {r['calls']} "
                    f"| {counted['writes']} ({need.writes}) "
                    f"| {counted['safety_writes']} ({need.floor_writes}) "
                    f"| {counted['safety_reads']} (0) "
                    f"| {counted['batched_reads'] + counted['single_reads']} ({need.batched_reads}) "
                    f"| {other} ({need.setup}) | {need.total} "
                    f"| {r['wall']:.1f} | {bound:.1f} | {r['wall'] / bound:.2f} | {r['status_503']} |"
                )
                lines.append(line)
                print(line, flush=True)
    if args.results:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        machine = f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        command = "python benchmarks/provisioning_benchmark.py " + " ".join(sys.argv[1:])
        table = "\n".join(lines)
        with args.results.open("a") as fh:
            fh.write(
                f"\n## Provisioning batch, {stamp}\n\nCommand: `{command}`  \nMachine: {machine}\n\n{table}\n"
            )


if __name__ == "__main__":
    main()
