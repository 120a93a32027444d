"""One Boomi account, one task at a time: the per-account Airflow pool.

Boomi's rate limit is per account, and every task runs in its own process with its own limiter
(``client.ratelimit``), so two tasks calling one account at once each pace themselves at the full
rate and together exceed it. Airflow serialises tasks with a **pool** of one slot: every task
that calls Boomi for an account gets that account's pool, whichever DAG it is in and whichever
worker runs it (the scheduler, not the worker, hands out pool slots, so this holds on the
Celery and Kubernetes executors too).

:func:`boomi_pool` is the one naming rule, used by the example DAGs and by your own:

.. code-block:: python

    BoomiSyncOperator(task_id="sync", boomi_conn_id="boomi_acme", pool=boomi_pool("boomi_acme"))

Create each pool once, with one slot (a task in a pool that does not exist is never scheduled):

.. code-block:: bash

    airflow pools set boomi:boomi_acme 1 "Boomi account of boomi_acme: one task at a time"
    # or, for many accounts at once:
    python -m airflow_provider_boomi.operators.pools boomi_acme boomi_emea > pools.json
    airflow pools import pools.json

Turning it off: set the environment variable ``BOOMI_ACCOUNT_POOLS=false`` where DAGs are parsed
(the DAG processor), or pass ``enabled=False``; :func:`boomi_pool` then returns Airflow's
``default_pool`` and tasks are no longer serialised per account.

Limit: the pool is decided when the DAG file is parsed, not per run. Pools are not templated, and
a mapped task (``.partial().expand()``) has one pool for all its instances (Airflow 3.3 takes a
task instance's pool from the partial arguments when it creates the instance; a ``pool`` passed
to ``expand`` changes only the worker's copy, never what the scheduler counts). So a DAG whose
connection id is a run parameter is serialised with the pool of the parameter's default, and a
mapped task over several accounts cannot be given one pool per account: generate one task per
account from a list known when the file is parsed instead (``docs/scale.md``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping

from airflow_provider_boomi._rules import parse_bool

__all__ = [
    "DEFAULT_POOL",
    "POOLS_ENV_VAR",
    "POOL_PREFIX",
    "boomi_pool",
    "boomi_pools_enabled",
    "pool_definitions",
]

POOL_PREFIX = "boomi:"
"""Every per-account pool is ``boomi:<connection id>``. The colon keeps the names apart from
pools a team already has, and a connection id never starts with ``boomi:`` by accident."""

POOLS_ENV_VAR = "BOOMI_ACCOUNT_POOLS"
"""The switch: ``false`` (or ``no``, ``off``, ``0``) turns per-account pools off."""

DEFAULT_POOL = "default_pool"
"""Airflow's own pool, which always exists: where tasks go when per-account pools are off."""

_MAX_POOL_NAME = 256  # the length Airflow's pool table and REST API accept


def boomi_pools_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether per-account pools are on: ``BOOMI_ACCOUNT_POOLS`` unset or true.

    :param environ: the environment to read; ``os.environ`` by default.
    :raises ValueError: the variable holds something other than a true or false word.
    """
    env = os.environ if environ is None else environ
    return parse_bool(env.get(POOLS_ENV_VAR), POOLS_ENV_VAR, default=True)


def boomi_pool(conn_id: str, *, enabled: bool | None = None) -> str:
    """The pool every task calling Boomi through ``conn_id`` should run in.

    Give all tasks that call one account the same connection id (one connection per account, as
    ``docs/scale.md`` recommends) and therefore the same pool.

    :param conn_id: the Boomi connection id, as written in the DAG (not a template: pools are
        decided when the DAG is parsed).
    :param enabled: force pools on or off; ``None`` reads ``BOOMI_ACCOUNT_POOLS``.
    :return: ``boomi:<conn_id>``, or ``default_pool`` when per-account pools are off.
    :raises ValueError: the connection id is empty, a Jinja template, or too long for a pool name.
    """
    if not isinstance(conn_id, str) or not conn_id.strip():
        raise ValueError(f"boomi_pool needs a Boomi connection id, got {conn_id!r}")
    if conn_id != conn_id.strip() or any(mark in conn_id for mark in ("{{", "{%", "}}")):
        raise ValueError(
            f"boomi_pool needs the connection id itself, got {conn_id!r}: Airflow decides a task's "
            "pool when the DAG file is parsed, before any template is rendered. Write the id "
            "(e.g. the default of the DAG's boomi_conn_id parameter)."
        )
    name = POOL_PREFIX + conn_id
    if len(name) > _MAX_POOL_NAME:
        raise ValueError(
            f"the pool name for connection {conn_id[:40]!r}... would be {len(name)} characters; "
            f"Airflow accepts at most {_MAX_POOL_NAME}. Use a shorter connection id."
        )
    if not (boomi_pools_enabled() if enabled is None else enabled):
        return DEFAULT_POOL
    return name


def pool_definitions(conn_ids: Iterable[str]) -> dict[str, dict[str, object]]:
    """The pools for ``conn_ids``, one slot each, in the format of ``airflow pools import``.

    :param conn_ids: Boomi connection ids, one per account.
    :return: ``{pool name: {"slots": 1, "description": ..., "include_deferred": False}}``.
        Deferred tasks hold no slot: the JIT DAG's wait does not block the account for hours.
    :raises ValueError: a connection id :func:`boomi_pool` refuses, or no connection id at all.
    """
    pools: dict[str, dict[str, object]] = {}
    for conn_id in conn_ids:
        pools[boomi_pool(conn_id, enabled=True)] = {
            "slots": 1,
            "description": f"Boomi account of connection {conn_id}: one task at a time",
            "include_deferred": False,
        }
    if not pools:
        raise ValueError("pool_definitions needs at least one Boomi connection id")
    return pools


def main(argv: list[str] | None = None) -> int:
    """Print the pools of the connection ids given as arguments, as JSON for ``airflow pools import``."""
    args = sys.argv[1:] if argv is None else argv
    if not args or any(a in ("-h", "--help") for a in args):
        print(
            "usage: python -m airflow_provider_boomi.operators.pools CONN_ID [CONN_ID ...] > pools.json\n"
            "       airflow pools import pools.json",
            file=sys.stderr,
        )
        return 0 if args else 2
    try:
        print(json.dumps(pool_definitions(args), indent=2))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
