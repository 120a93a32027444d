"""A provisioning batch of 1,000 changes against the rate limit, for two strategies.

The simulator (``large`` profile) runs in its own process at rate R with latency L. The batch
assigns a role to 500 users who lack it and revokes a role from 500 other users who keep at
least one more (each user appears once). Every change needs three calls by the rules: read the
user's current rows, write (create or delete), read back to verify. So the batch's own bound
is max(minimum calls / R, longest per-user chain x L) with minimum calls = 3 x changes + 1 (the
role catalog). Strategies, each in a fresh child process against a fresh simulator:

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


def build_batch(size: int, seed: int = 0) -> list[dict[str, str]]:
    """Changes for the ``large`` profile, computed from the same seeded state the server has."""
    from airflow_provider_boomi.testing.simulator import BoomiSimulator

    state = BoomiSimulator(profile="large", seed=seed, rate_limit=None).state
    auditor = state.role_by_name("Auditor")
    assert auditor is not None
    roles_of: dict[str, list[str]] = {}
    for row in state.user_roles():
        roles_of.setdefault(row["userId"], []).append(row["roleId"])
    users = sorted(roles_of)
    half = size // 2
    assign = [u for u in users if auditor["id"] not in roles_of[u]][:half]
    taken = set(assign)
    revoke = [u for u in users if u not in taken and len(roles_of[u]) >= 2][: size - half]
    changes = [
        {"action": "assign_role", "user_id": u, "role_id": auditor["id"], "notify_user": "false"}
        for u in assign
    ]
    changes += [{"action": "revoke_role", "user_id": u, "role_id": roles_of[u][0]} for u in revoke]
    return changes


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
    changes = build_batch(args.size)
    minimum = CALLS_PER_CHANGE * len(changes) + 1
    longest_chain = CALLS_PER_CHANGE  # every user appears once in the batch
    lines = [HEADER, "|" + "---|" * 12]
    settings = list(SETTINGS) if args.setting == "both" else [args.setting]
    with tempfile.TemporaryDirectory() as tmp:
        batch = Path(tmp) / "batch.json"
        batch.write_text(json.dumps(changes))
        for setting in settings:
            rate, latency = SETTINGS[setting]
            bound = max(minimum / rate, longest_chain * latency)
            for strategy in args.strategies:
                sim = Simulator("large", rate, latency, Path(tmp))
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
