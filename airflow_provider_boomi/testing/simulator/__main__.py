"""Command line: serve a simulated Boomi account until SIGTERM/SIGINT.

    python -m airflow_provider_boomi.testing.simulator --profile demo --port 8765

Prints ``BOOMI_BASE_URL=``, ``BOOMI_ACCOUNT_ID=``, ``BOOMI_EMAIL=``, ``BOOMI_TOKEN=`` and
``AIRFLOW_CONN_BOOMI_DEFAULT='<json>'`` (shell-evaluable), then serves.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .config import GROUPS_MODES
from .faults import FaultRule
from .profiles import PROFILES
from .simulator import BoomiSimulator


def _rate(value: str) -> float | None:
    return None if value.lower() in ("none", "off", "0") else float(value)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    p = argparse.ArgumentParser(
        prog="boomi-simulator", description="Serve a simulated Boomi Platform API account on loopback."
    )
    p.add_argument("--profile", choices=PROFILES, default="demo", help="account to generate (default demo)")
    p.add_argument("--seed", type=int, default=0, help="seed for names and ids (default 0)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="TCP port (default 0: any free port)")
    p.add_argument("--rate-limit", type=_rate, default=10.0, help="requests/s, 0 or none: unlimited")
    p.add_argument("--rate-limit-status", type=int, choices=(503, 429), default=503)
    p.add_argument("--retry-after", type=float, default=None, help="Retry-After seconds on throttling")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    p.add_argument("--latency-jitter", type=float, default=0.0, help="latency variation, a fraction")
    p.add_argument("--groups-mode", choices=GROUPS_MODES, default="empty", help="non-primary accounts")
    p.add_argument("--account-id", default=None)
    p.add_argument("--email", default=None)
    p.add_argument("--token", default=None)
    p.add_argument("--no-api-privileges", action="store_true", help="every call answers 403")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        type=FaultRule.parse,
        metavar="KIND[:k=v,...]",
        help="inject a fault, e.g. 503:count=5,object=Role,op=query,after=2,p=0.5,retry_after=1",
    )
    p.add_argument(
        "--ready-file",
        default=None,
        help="write the connection facts to this JSON file once listening",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGTERM/SIGINT; returns the exit code (0)."""
    args = build_parser().parse_args(argv)
    sim = BoomiSimulator(
        profile=args.profile,
        seed=args.seed,
        rate_limit=args.rate_limit,
        latency=args.latency,
        account_id=args.account_id,
        port=args.port,
        faults=args.fault,
        groups_mode=args.groups_mode,
        api_privileges=not args.no_api_privileges,
        token=args.token,
        email=args.email,
        host=args.host,
        latency_jitter=args.latency_jitter,
        rate_limit_status=args.rate_limit_status,
        retry_after=args.retry_after,
    )
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with sim:
        facts = {
            "base_url": sim.base_url,
            "account_id": sim.account_id,
            "email": sim.email,
            "token": sim.token,
            "connection_json": sim.connection_json(),
        }
        print(f"BOOMI_BASE_URL={sim.base_url}")
        print(f"BOOMI_ACCOUNT_ID={sim.account_id}")
        print(f"BOOMI_EMAIL={sim.email}")
        print(f"BOOMI_TOKEN={sim.token}")
        print(f"AIRFLOW_CONN_BOOMI_DEFAULT='{sim.connection_json()}'", flush=True)
        if args.ready_file:
            tmp = f"{args.ready_file}.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(facts, fh)
            os.replace(tmp, args.ready_file)  # readers never see a half-written file
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
