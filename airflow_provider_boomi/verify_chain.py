"""Verify the tamper-evidence chains of a snapshot store and a provisioning ledger.

Usage::

    python -m airflow_provider_boomi.verify_chain --snapshots s3://audit/boomi/snapshots \\
        [--account acme-Q7R2ZK] --ledger s3://audit/boomi/ledger [--anchor <sha256>] [--json]

Exit status: 0 when every chain checked is intact (forks are reported but are not breaks),
1 when anything is broken (or an ``--anchor`` is no longer in the chain), 2 when the command
cannot run (a wrong path, nothing to verify, bad arguments). Credentials for object storage come
from the environment the storage library reads (``AWS_*`` for S3) or ``--storage-option``.

Snapshots pruned by the retention policy (``airflow_provider_boomi.retention``) keep their
manifests: they are listed as pruned, and their deleted table files are not breaks as long as
the pruning record names the manifest there.

The checks themselves are ``dataset.chain.verify_manifest_chain`` and
``access.ledger.verify_ledger_chain``; this module only parses arguments and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from airflow_provider_boomi._rules import is_flag_word, parse_bool
from airflow_provider_boomi.access.ledger import verify_ledger_chain
from airflow_provider_boomi.dataset import SnapshotStore, validate_account_id
from airflow_provider_boomi.dataset.chain import (
    BREAK_KINDS,
    ChainResult,
    anchors_missing,
    verify_manifest_chain,
)
from airflow_provider_boomi.dataset.manifest import validate_sha256

__all__ = ["main", "parse_storage_options", "run"]

EXIT_INTACT = 0
EXIT_BROKEN = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """The command cannot run as asked; the message says what to fix."""


def parse_storage_options(pairs: Sequence[str]) -> dict[str, Any]:
    """Turn ``key=value`` strings into fsspec options: whole numbers become ints, flag words
    (``true``, ``false``...) booleans, anything else stays text.

    :param pairs: the ``--storage-option`` values.
    :raises UsageError: a pair without ``=`` or with an empty key.
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--storage-option {pair!r}: expected key=value, e.g. endpoint_url=http://...")
        if value.strip().isdigit():
            options[key.strip()] = int(value)
        elif is_flag_word(value):
            options[key.strip()] = parse_bool(value, key)
        else:
            options[key.strip()] = value
    return options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_boomi.verify_chain",
        description=(
            "Verify the hash chains of Boomi access snapshots (manifest to manifest, manifest to "
            "table files) and of the provisioning ledger (part to part). Prints the head hash of "
            "each chain: record it (in the evidence or the ticket) and pass it back with --anchor "
            "next time to prove the newest links were not removed."
        ),
    )
    parser.add_argument("--snapshots", metavar="URL", help="snapshot store root (local path or fsspec URL)")
    parser.add_argument(
        "--account",
        metavar="ID",
        action="append",
        default=[],
        help="account to verify (repeatable; default: every account in the store)",
    )
    parser.add_argument(
        "--ledger", metavar="URL", help="provisioning ledger directory (local path or fsspec URL)"
    )
    parser.add_argument(
        "--anchor",
        metavar="SHA256",
        action="append",
        default=[],
        help="a head hash recorded by an earlier verification; it must still be in a chain (repeatable)",
    )
    parser.add_argument(
        "--storage-option",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="fsspec option for both paths, e.g. endpoint_url=https://... or anon=false (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the report")
    return parser


def _results(args: argparse.Namespace, options: dict[str, Any]) -> list[ChainResult]:
    if args.account and not args.snapshots:
        raise UsageError("--account needs --snapshots (the store the account's snapshots are in)")
    if not args.snapshots and not args.ledger:
        raise UsageError("give --snapshots, --ledger, or both: there is nothing to verify")
    results: list[ChainResult] = []
    if args.snapshots:
        store = SnapshotStore(args.snapshots, storage_options=options or None)
        accounts = [validate_account_id(a) for a in args.account] or store.accounts()
        if not accounts:
            raise UsageError(
                f"no snapshot manifests under {args.snapshots}: check the path (it is the store root, "
                "the folder holding account_id=... folders)"
            )
        for account in accounts:
            result = verify_manifest_chain(store, account)
            if result.files == 0:
                raise UsageError(f"account {account} has no snapshots under {args.snapshots}")
            results.append(result)
    if args.ledger:
        try:
            results.append(verify_ledger_chain(args.ledger, storage_options=options))
        except FileNotFoundError as exc:
            raise UsageError(str(exc)) from None
    return results


def _describe(result: ChainResult) -> str:
    if result.chain == "snapshots":
        return f"Snapshot chain of account {result.account_id} in {result.location}"
    return f"Ledger chain in {result.location}"


def _write_report(results: Sequence[ChainResult], missing_anchors: Sequence[str], out: TextIO) -> None:
    for result in results:
        print(_describe(result), file=out)
        unit = "snapshots" if result.chain == "snapshots" else "parts"
        before = len(result.unchained_before_start)
        print(
            f"  checked: {result.files} {unit} ({result.chained} chained, {before} unchained "
            f"(before chaining began)), {result.links_checked} links verified"
            + (
                f", {result.data_files_checked} table files against their manifests"
                if result.chain == "snapshots"
                else f", {result.rows} rows"
            ),
            file=out,
        )
        if result.pruned:
            print(
                f"  pruned by the retention policy: {len(result.pruned)} snapshot(s), table files "
                f"deleted on purpose, manifests kept and verified: {', '.join(result.pruned)}",
                file=out,
            )
        head = result.head
        if head is not None:
            print(f"  head: {head.name}  sha256 {head.sha256}", file=out)
            print(
                "        (record this hash in the evidence or the ticket; pass it as --anchor later)",
                file=out,
            )
        else:
            print("  head: none (no chained file yet)", file=out)
        for fork in result.forks:
            start = fork.predecessor or "(start of the chain)"
            print(
                f"  fork (concurrent writers, not a break): {', '.join(fork.successors)} all follow {start}",
                file=out,
            )
        for other in result.heads[:-1]:
            print(f"  other branch head: {other.name}  sha256 {other.sha256}", file=out)
        for item in result.breaks:
            print(f"  BREAK [{item.kind}] {item.file}", file=out)
            print(f"        {item.message}", file=out)
            if item.expected is not None or item.found is not None:
                print(f"        expected {item.expected or '-'}, found {item.found or '(missing)'}", file=out)
        print(f"  result: {'intact' if result.intact else f'BROKEN ({len(result.breaks)} breaks)'}", file=out)
    for anchor in missing_anchors:
        print(
            f"BREAK [anchor_missing] the recorded head {anchor} is in no chain checked: the newest "
            "links were deleted or replaced since it was recorded",
            file=out,
        )
    broken = sum(len(r.breaks) for r in results) + len(missing_anchors)
    if broken:
        kinds = sorted({b.kind for r in results for b in r.breaks})
        print(
            f"BROKEN: {broken} break(s). Kinds: " + "; ".join(f"{k}: {BREAK_KINDS[k]}" for k in kinds),
            file=out,
        )
    else:
        print("INTACT: every chain checked verifies.", file=out)


def run(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``) and return its exit status.

    :param argv: the arguments.
    :param out: where the report goes (default standard output).
    :param err: where usage errors go (default standard error).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)
    try:
        options = parse_storage_options(args.storage_option)
        anchors = [validate_sha256(a.strip().lower(), "--anchor") for a in args.anchor]
        results = _results(args, options)
    except (UsageError, ValueError) as exc:
        print(f"verify_chain: {exc}", file=err)
        return EXIT_USAGE
    missing = anchors_missing(results, anchors)
    intact = all(r.intact for r in results) and not missing
    if args.json:
        document = {
            "intact": intact,
            "chains": [r.to_dict() for r in results],
            "anchors_missing": missing,
        }
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        _write_report(results, missing, out)
    return EXIT_INTACT if intact else EXIT_BROKEN


def main() -> None:
    """Entry point of ``python -m airflow_provider_boomi.verify_chain``."""
    sys.exit(run())


if __name__ == "__main__":
    main()
