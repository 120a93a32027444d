"""Command line: serve a simulated Boomi account until SIGTERM/SIGINT.

    python -m airflow_provider_boomi.testing.simulator --profile demo --port 8765

Prints ``BOOMI_BASE_URL=``, ``BOOMI_ACCOUNT_ID=``, ``BOOMI_EMAIL=``, ``BOOMI_TOKEN=`` and
``AIRFLOW_CONN_BOOMI_DEFAULT='<json>'`` (shell-evaluable), then serves.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any, get_type_hints

from .config import SimulatorConfig
from .simulator import BoomiSimulator


def _add_setting(parser: argparse.ArgumentParser, f: dataclasses.Field[Any], hint: Any) -> None:
    """One ``SimulatorConfig`` field as a command-line option, from the field's metadata.

    Options default to "not given" (``argparse.SUPPRESS``) so that only what the user typed reaches
    ``BoomiSimulator`` as explicit settings: a ``--dialect`` preset then fills the rest.
    """
    meta = f.metadata
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    dest = meta.get("dest") or f.name
    flag = meta.get("flag")
    common: dict[str, Any] = {"dest": dest, "default": argparse.SUPPRESS}
    if hint is bool:
        if default is True:  # the option switches the feature off
            parser.add_argument(flag or f"--no-{f.name.replace('_', '-')}", action="store_false",
                                help=meta["help"], **common)  # fmt: skip
        else:
            parser.add_argument(flag or f"--{f.name.replace('_', '-')}", action="store_true",
                                help=meta["help"], **common)  # fmt: skip
        return
    if hint == bool | None:
        parser.add_argument(flag or f"--{f.name.replace('_', '-')}", action=argparse.BooleanOptionalAction,
                            help=meta["help"], **common)  # fmt: skip
        return
    parse = meta.get("parse") or type(default)
    options: dict[str, Any] = {"type": parse, "help": f"{meta['help']} (default: {default})", **common}
    if isinstance(default, list):
        options.update(action="append", help=meta["help"])
    if meta.get("choices"):
        options["choices"] = meta["choices"]
    if meta.get("metavar"):
        options["metavar"] = meta["metavar"]
    parser.add_argument(flag or f"--{f.name.replace('_', '-')}", **options)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser: one option per ``SimulatorConfig`` field, plus ``--ready-file``."""
    p = argparse.ArgumentParser(
        prog="boomi-simulator", description="Serve a simulated Boomi Platform API account on loopback."
    )
    hints = get_type_hints(SimulatorConfig)
    for f in dataclasses.fields(SimulatorConfig):
        if f.metadata.get("cli", False):
            _add_setting(p, f, hints[f.name])
    p.add_argument(
        "--ready-file",
        default=None,
        help="write the connection facts to this JSON file once listening",
    )
    return p


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``SimulatorConfig`` settings the command line gave explicitly, keyed by field name."""
    settings: dict[str, Any] = {}
    for f in dataclasses.fields(SimulatorConfig):
        dest = f.metadata.get("dest") or f.name
        if hasattr(args, dest):
            settings[f.name] = getattr(args, dest)
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGTERM/SIGINT; returns the exit code (0)."""
    args = build_parser().parse_args(argv)
    sim = BoomiSimulator(**settings_from_args(args))
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
