"""A provisioning batch of 1,000 changes against the rate limit, for two strategies.

The simulator (``large`` profile) runs in its own process at rate R with latency L. The batch
assigns a role to 500 users who lack it and revokes a role from 500 other users who keep at
least one more (each user appears once). Every change needs three calls by the rules: read the
user's current rows, write (create or delete), read back to verify; a revoke of a user who
lacks Standard User first assigns it (the floor that keeps concurrent revokes safe). So the
batch's own bound is max(minimum calls / R, longest per-user chain x L) with minimum calls =
3 x changes + 1 (the role catalog) + 2 (detecting how Boomi matches user ids) + the floor's
creates. Strategies, each in a fresh child process against a fresh simulator:

* ``provider``: ``Provisioner.apply_all`` (users concurrently, each user's changes in order);
* ``sequential``: the same rules one request at a time (``max_workers=1``).

    python benchmarks/provisioning_benchmark.py --setting scaled
    python benchmarks/provisioning_benchmark.py --setting both --results benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from sync_benchmark import SETTINGS, Simulator, run_child  # noqa: E402

STRATEGIES = {"provider": 8, "sequential": 1}
CALLS_PER_CHANGE = 3


def build_batch(size: int, seed: int = 0) -> tuple[list[dict[str, str]], int]:
    """Changes for the ``large`` profile, computed from the same seeded state the server has,
    and how many of the revoked users lack Standard User (the floor every revoke leaves in
    place costs them one create each).

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
    return changes, floor_creates


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
        provisioning_enabled=True, max_changes=len(changes), max_workers=STRATEGIES[args.child]
    )
    started = time.monotonic()
    with BoomiClient(config) as client:
        results = Provisioner(client, options).apply_all(changes)
        stats = client.stats.as_dict()
    wall = time.monotonic() - started
    outcomes: dict[str, int] = {}
    for result in results:
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    print(
        "RESULT "
        + json.dumps(
            {
                "calls": stats["calls"],
                "status_503": stats["status_503"],
                "wall": wall,
                "outcomes": outcomes,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


HEADER = "| setting | strategy | R | L | changes | outcomes | calls | min calls | wall s | bound s | wall/bound | 503s |"  # noqa: E501


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--setting", choices=[*SETTINGS, "both"], default="scaled")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--strategies", nargs="+", choices=list(STRATEGIES), default=list(STRATEGIES))
    parser.add_argument("--results", type=Path, help="append the table, command and machine to this file")
    parser.add_argument("--child", choices=list(STRATEGIES), help=argparse.SUPPRESS)
    parser.add_argument("--facts", help=argparse.SUPPRESS)
    parser.add_argument("--batch", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    changes, floor_creates = build_batch(args.size)
    # Read, write and read back per change; the role catalog; two reads that detect how Boomi
    # matches user ids (§g.4); one Standard User create per revoked user who lacks it.
    minimum = CALLS_PER_CHANGE * len(changes) + 1 + 2 + floor_creates
    longest_chain = CALLS_PER_CHANGE + (1 if floor_creates else 0)  # every user appears once
    lines = [HEADER, "|" + "---|" * 12]
    settings = list(SETTINGS) if args.setting == "both" else [args.setting]
    with tempfile.TemporaryDirectory() as tmp:
        batch = Path(tmp) / "batch.json"
        batch.write_text(json.dumps(changes))
        for setting in settings:
            rate, latency = SETTINGS[setting]
            bound = max(minimum / rate, longest_chain * latency)
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
                    )
                finally:
                    sim.stop()
                outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))
                line = (
                    f"| {setting} | {strategy} | {rate:g}/s | {latency * 1000:g} ms | {len(changes)} "
                    f"| {outcomes} "
                    f"| {r['calls']} | {minimum} | {r['wall']:.1f} | {bound:.1f} | {r['wall'] / bound:.2f} "
                    f"| {r['status_503']} |"
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
