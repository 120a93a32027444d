"""Loading one snapshot into a warehouse target, idempotently.

A load is one transaction: create what is missing, delete every row of the snapshot's
``(account_id, sync_id)``, insert its tables, and record it in ``boomi_snapshots``. Loading the
same snapshot twice (an Airflow retry, a backfill) therefore replaces it and never duplicates
rows, and a failed load leaves the warehouse exactly as it was.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from airflow_provider_boomi.dataset import TABLES, SnapshotError, SnapshotStore, snapshot_location

from .schema import ensure_tables
from .tables import SNAPSHOTS_TABLE, WAREHOUSE_TABLES, snapshots_columns
from .targets import WarehouseTarget
from .views import create_views as _create_views  # ``create_views`` is an argument below

__all__ = ["LoadResult", "load_snapshot", "loaded_snapshots"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadResult:
    """What :func:`load_snapshot` loaded.

    :param account_id: Boomi account id.
    :param sync_id: snapshot id.
    :param synced_at: the snapshot's time.
    :param loaded_at: when the load committed its rows (UTC).
    :param rows: rows inserted per snapshot table (``users``, ``roles``...); tables the snapshot
        does not include are absent.
    :param replaced: ``True`` when the snapshot had been loaded before and was replaced.
    :param seconds: wall time of the load.
    """

    account_id: str
    sync_id: str
    synced_at: datetime
    loaded_at: datetime
    rows: Mapping[str, int] = field(hash=False)
    replaced: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-friendly dict (what an operator would return through XCom)."""
        return {
            "account_id": self.account_id,
            "sync_id": self.sync_id,
            "synced_at": self.synced_at.isoformat(),
            "loaded_at": self.loaded_at.isoformat(),
            "rows": dict(self.rows),
            "replaced": self.replaced,
        }


def _resolve_source(
    snapshot: Any, account_id: str | None, sync_id: str | None
) -> tuple[SnapshotStore, str, str]:
    """(store, account_id, sync_id) from a store + ids, or a snapshot directory path."""
    if isinstance(snapshot, SnapshotStore):
        if account_id is None:
            raise ValueError("account_id is required when loading from a SnapshotStore")
        if sync_id is None:
            latest = snapshot.latest(account_id)
            if latest is None:
                raise SnapshotError(f"no complete snapshot of account {account_id} in {snapshot.path}")
            sync_id = latest.sync_id
        return snapshot, account_id, sync_id
    root, dir_account, dir_sync = snapshot_location(snapshot)
    for given, found, what in ((account_id, dir_account, "account_id"), (sync_id, dir_sync, "sync_id")):
        if given is not None and given != found:
            raise ValueError(f"{what} {given!r} does not match the snapshot directory's {found!r}")
    return SnapshotStore(root), dir_account, dir_sync


def load_snapshot(
    target: WarehouseTarget,
    snapshot: SnapshotStore | str | os.PathLike[str],
    account_id: str | None = None,
    sync_id: str | None = None,
    *,
    create_views: bool = True,
    verify: bool = False,
) -> LoadResult:
    """Load one complete snapshot into ``target``; loading it again replaces it.

    :param target: a :class:`~.targets.DuckDBTarget`, :class:`~.targets.SqlAlchemyTarget` or
        :class:`~.targets.DbApiTarget`.
    :param snapshot: a snapshot directory (``.../account_id=A/sync_id=S``, local or any fsspec
        URL), or a :class:`~airflow_provider_boomi.dataset.SnapshotStore`.
    :param account_id: required with a store; checked against the directory otherwise.
    :param sync_id: with a store, the snapshot to load (default: the latest complete one).
    :param create_views: (re)create the analytics views after the load, in the same transaction.
    :param verify: check every file's sha256 against the manifest before loading (slower; for
        audit pipelines that must prove the evidence was unaltered).
    :returns: a :class:`LoadResult` with the rows inserted per table.
    :raises SnapshotError: the snapshot is missing or incomplete, fails verification, or the
        warehouse has tables of an incompatible shape. Nothing is changed then.
    """
    started = time.monotonic()
    store, account_id, sync_id = _resolve_source(snapshot, account_id, sync_id)
    manifest = store.load_manifest(account_id, sync_id)
    if verify:
        problems = store.verify(account_id, sync_id)
        if problems:
            raise SnapshotError(f"snapshot {sync_id} failed verification: " + "; ".join(problems))
    # Read everything before opening the transaction: a slow object store must not hold
    # warehouse locks.
    data = {name: store.read_table(account_id, sync_id, name) for name in TABLES if name in manifest.tables}

    rows: dict[str, int] = {}
    with target.transaction() as session:
        ensure_tables(target, session)
        snapshots = target.qualified(SNAPSHOTS_TABLE)
        key = (account_id, sync_id)
        # The snapshot row goes first: on PostgreSQL its primary key makes a concurrent load of
        # the same snapshot wait for this one and then fail, instead of both inserting rows.
        replaced = bool(
            session.fetchall(f"SELECT 1 FROM {snapshots} WHERE account_id = ? AND sync_id = ?", key)
        )
        session.execute(f"DELETE FROM {snapshots} WHERE account_id = ? AND sync_id = ?", key)
        loaded_at = datetime.now(UTC)
        columns = [c for c, _, _ in snapshots_columns(session.dialect)]
        values: list[Any] = [
            account_id,
            sync_id,
            manifest.synced_at,
            loaded_at,
            manifest.schema_version,
            manifest.previous_sync_id,
            manifest.account_groups_available,
        ]
        values += [manifest.tables[name].rows if name in manifest.tables else None for name in TABLES]
        marks = ", ".join("?" * len(columns))
        session.execute(f"INSERT INTO {snapshots} ({', '.join(columns)}) VALUES ({marks})", values)
        for name in TABLES:
            table = target.qualified(WAREHOUSE_TABLES[name])
            # Also for tables this snapshot lacks: a reload must not keep rows of an earlier
            # load of the same sync id.
            session.execute(f"DELETE FROM {table} WHERE account_id = ? AND sync_id = ?", key)
            if name in data:
                rows[name] = session.insert_arrow(table, data[name])
        if create_views:
            _create_views(target, session)
    result = LoadResult(
        account_id=account_id,
        sync_id=sync_id,
        synced_at=manifest.synced_at,
        loaded_at=loaded_at,
        rows=MappingProxyType(rows),
        replaced=replaced,
        seconds=time.monotonic() - started,
    )
    log.info(
        "Loaded snapshot %s of account %s into %r (%s)%s",
        sync_id,
        account_id,
        target,
        rows,
        " replacing the earlier load" if replaced else "",
    )
    return result


def loaded_snapshots(target: WarehouseTarget, account_id: str | None = None) -> list[tuple[str, str]]:
    """(account_id, sync_id) of every loaded snapshot, oldest first; empty before any load.

    Lets a DAG load only what is new: ``{s.sync_id for s in store.snapshots(a)} - loaded``.
    """
    with target.transaction() as session:
        ensure_tables(target, session)
        sql = f"SELECT account_id, sync_id FROM {target.qualified(SNAPSHOTS_TABLE)}"
        params: tuple[str, ...] = ()
        if account_id is not None:
            sql += " WHERE account_id = ?"
            params = (account_id,)
        found = session.fetchall(sql + " ORDER BY synced_at, sync_id", params)
    return [(str(a), str(s)) for a, s in found]
