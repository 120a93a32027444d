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

That list is :func:`account_conn_ids` (the environment variable ``BOOMI_ACCOUNT_CONN_IDS``,
read where the DAG is parsed **and** where its tasks run, since a worker parses the file again),
and :func:`account_task_ids` names one task per connection, refusing ids no task id can be made
of:

.. code-block:: python

    for conn_id, task_id in account_task_ids(account_conn_ids(), prefix="sync_").items():
        BoomiSyncOperator(task_id=task_id, boomi_conn_id=conn_id, pool=boomi_pool(conn_id))

The pools of that list: ``python -m airflow_provider_boomi.operators.pools --from-env``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping

from airflow_provider_boomi._rules import parse_bool

__all__ = [
    "ACCOUNTS_ENV_VAR",
    "DEFAULT_ACCOUNTS",
    "DEFAULT_POOL",
    "POOLS_ENV_VAR",
    "POOL_PREFIX",
    "account_conn_ids",
    "account_task_ids",
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

ACCOUNTS_ENV_VAR = "BOOMI_ACCOUNT_CONN_IDS"
"""The Boomi connection ids a DAG makes one task per account for, comma-separated (read when the
DAG file is parsed: by the DAG processor and again by the worker that runs a task)."""

DEFAULT_ACCOUNTS = ("boomi_default",)
"""The accounts when ``BOOMI_ACCOUNT_CONN_IDS`` is unset: the provider's default connection."""

_MAX_POOL_NAME = 256  # the length Airflow's pool table and REST API accept
_MAX_TASK_ID = 250  # the length Airflow accepts for a task id
# What Airflow accepts in a task id, kept to ASCII: Airflow's own check (``\w``) also takes other
# scripts' letters, which make ids that are hard to type in the CLI and to tell apart.
_TASK_ID_CHARACTER = re.compile(r"[A-Za-z0-9_.-]")


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


def _check_accounts(conn_ids: list[str]) -> None:
    """Refuse a list of accounts with an id listed twice or an id no pool can be named after."""
    seen: set[str] = set()
    for conn_id in conn_ids:
        boomi_pool(conn_id, enabled=True)  # the same refusals as the pool each task will get
        if conn_id in seen:
            raise ValueError(f"the connection {conn_id!r} is listed twice: list each account once")
        seen.add(conn_id)


def account_conn_ids(
    environ: Mapping[str, str] | None = None,
    *,
    default: Iterable[str] = DEFAULT_ACCOUNTS,
    variable: str = ACCOUNTS_ENV_VAR,
) -> list[str]:
    """The Boomi connection ids listed in ``BOOMI_ACCOUNT_CONN_IDS`` (or ``variable``), one per
    account, in order.

    The list is read when the DAG file is parsed, so a DAG can give each account a task and a pool
    of its own (a mapped task cannot, see the module's docstring). Set the variable in the
    environment of the DAG processor **and** of every worker: a worker parses the file again to
    run a task, and a task id missing from its copy of the DAG fails the task.

    :param environ: the environment to read; ``os.environ`` by default.
    :param default: the ids when the variable is unset.
    :param variable: the variable to read: another name lets copies of a DAG each sync a part of
        the accounts.
    :return: the connection ids, surrounding spaces removed.
    :raises ValueError: the variable is set but blank, has an empty entry (a stray comma), lists
        an id twice, or holds an id :func:`boomi_pool` refuses; the message says what to fix.
    """
    env = os.environ if environ is None else environ
    raw = env.get(variable)
    if raw is None:
        conn_ids = list(default)
    elif not raw.strip():
        # Set but blank is most often a deployment template whose value went missing: refusing it
        # beats silently syncing the default account only.
        raise ValueError(
            f"{variable} is set but empty: list the Boomi connection ids, comma-separated "
            f"(e.g. boomi_acme_prod,boomi_acme_emea), or unset it to use {', '.join(default)}"
        )
    else:
        conn_ids = [part.strip() for part in raw.split(",")]
        if "" in conn_ids:
            raise ValueError(
                f"{variable}={raw!r} has an empty entry (entry {conn_ids.index('') + 1}): "
                "remove the stray comma"
            )
    try:
        _check_accounts(conn_ids)
    except ValueError as error:
        raise ValueError(f"{variable}: {error}") from None
    if not conn_ids:
        raise ValueError(f"no Boomi connection id: set {variable} or give a default")
    return conn_ids


def account_task_ids(conn_ids: Iterable[str], *, prefix: str) -> dict[str, str]:
    """One task id per connection id: ``prefix`` and the id, each character a task id cannot hold
    (anything but ASCII letters, digits, ``_``, ``.`` and ``-``) replaced by ``_``.

    A connection id may hold characters a task id may not (``:``, ``/``, ``#``...), so two ids
    can come out as one task id (``boomi:acme`` and ``boomi/acme``); that is refused, since Airflow
    would otherwise reject the DAG with a message about task ids, not about the accounts.

    :param conn_ids: Boomi connection ids, one per account (e.g. :func:`account_conn_ids`).
    :param prefix: put before every task id (``"sync_"``), so none clashes with the DAG's other
        tasks; made of task id characters only.
    :return: ``{connection id: task id}``, in the order given.
    :raises ValueError: an id :func:`boomi_pool` refuses, an id listed twice, two ids giving one
        task id, a task id longer than Airflow accepts, or a bad prefix.
    """
    if not prefix or any(not _TASK_ID_CHARACTER.fullmatch(ch) for ch in prefix):
        raise ValueError(f"the task id prefix {prefix!r} must be ASCII letters, digits, '_', '.' or '-'")
    conn_ids = list(conn_ids)
    _check_accounts(conn_ids)
    task_ids: dict[str, str] = {}
    owner_of: dict[str, str] = {}
    for conn_id in conn_ids:
        task_id = prefix + "".join(ch if _TASK_ID_CHARACTER.fullmatch(ch) else "_" for ch in conn_id)
        if task_id in owner_of:
            raise ValueError(
                f"the connections {owner_of[task_id]!r} and {conn_id!r} both give the task id "
                f"{task_id!r} (characters a task id cannot hold become '_'): rename one of the "
                "connections"
            )
        if len(task_id) > _MAX_TASK_ID:
            raise ValueError(
                f"the task id for connection {conn_id[:40]!r}... would be {len(task_id)} characters; "
                f"Airflow accepts at most {_MAX_TASK_ID}. Use a shorter connection id."
            )
        task_ids[conn_id] = task_id
        owner_of[task_id] = conn_id
    return task_ids


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
    """Print the pools of the connection ids given as arguments, or of ``BOOMI_ACCOUNT_CONN_IDS``
    with ``--from-env``, as JSON for ``airflow pools import``.

    :param argv: the arguments; ``sys.argv[1:]`` by default.
    :return: the exit status: 0, or 2 for a usage error or an id that cannot name a pool.
    """
    args = sys.argv[1:] if argv is None else argv
    if not args or any(a in ("-h", "--help") for a in args):
        print(
            "usage: python -m airflow_provider_boomi.operators.pools CONN_ID [CONN_ID ...] > pools.json\n"
            "       python -m airflow_provider_boomi.operators.pools --from-env > pools.json\n"
            f"           (the ids of {ACCOUNTS_ENV_VAR}, as the example DAGs read them)\n"
            "       airflow pools import pools.json",
            file=sys.stderr,
        )
        return 0 if args else 2
    try:
        if "--from-env" in args:
            if len(args) > 1:
                print(
                    f"error: --from-env reads the ids from {ACCOUNTS_ENV_VAR}: give no ids with it",
                    file=sys.stderr,
                )
                return 2
            args = account_conn_ids()
        print(json.dumps(pool_definitions(args), indent=2))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
