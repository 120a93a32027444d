"""Grant changes between two snapshots.

A change is a grant id present on one side only: ``added`` (in the current snapshot, not the
previous) or ``removed``. Grant ids encode user, role and group, so set difference on the id is
the whole diff; attributes that live beside the id (names, Boomi's opaque id) are not changes
of access and are ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from .errors import SnapshotError, TableNotInSnapshotError
from .schemas import GRANT_CHANGES, GRANT_TABLES

if TYPE_CHECKING:
    from .reader import SnapshotStore

__all__ = ["diff_snapshots", "grant_changes"]

DIFF_COLUMNS: dict[str, tuple[str, ...]] = {
    "user_role_grants": ("grant_id", "user_id", "role_id"),
    "group_role_grants": ("grant_id", "user_id", "role_id", "account_group_id"),
}
"""The only columns a diff reads from each grant table: read just these (memory)."""


def _one_side(
    source: pa.Table,
    other: pa.Table | None,
    *,
    grant_kind: str,
    change_type: str,
    previous_sync_id: str | None,
) -> pa.Table:
    """Rows of ``source`` whose grant id is not in ``other``, shaped as grant_changes columns."""
    if other is not None and other.num_rows:
        keep = pc.invert(pc.is_in(source["grant_id"], value_set=other["grant_id"].combine_chunks()))
        source = source.filter(keep)
    n = source.num_rows
    if "account_group_id" in source.column_names:
        group_ids = source["account_group_id"]
    else:
        group_ids = pa.nulls(n, pa.string())
    return pa.table(
        {
            "grant_id": source["grant_id"],
            "grant_kind": pa.array([grant_kind] * n, pa.string()),
            "change_type": pa.array([change_type] * n, pa.string()),
            "user_id": source["user_id"],
            "role_id": source["role_id"],
            "account_group_id": group_ids,
            "previous_sync_id": pa.array([previous_sync_id] * n, pa.string()),
        }
    )


def _grants(table: pa.Table | None, name: str, side: str) -> pa.Table | None:
    if table is None:
        return None
    missing = [c for c in DIFF_COLUMNS[name] if c not in table.column_names]
    if missing:
        raise ValueError(f"{side} {name} lacks column(s) {', '.join(missing)}")
    columns = DIFF_COLUMNS[name]
    return table.select(list(columns)).cast(
        pa.schema([pa.field(c, pa.string()) for c in columns]),
    )


def grant_changes(
    prev_user_grants: pa.Table | None,
    prev_group_grants: pa.Table | None,
    cur_user_grants: pa.Table,
    cur_group_grants: pa.Table,
    previous_sync_id: str | None,
    *,
    account_id: str,
    sync_id: str,
    synced_at: datetime,
) -> pa.Table:
    """Return the grant_changes table between a previous and the current grants.

    With no previous snapshot (both ``prev_*`` are ``None``) every current grant is ``added`` and
    ``previous_sync_id`` is null. Otherwise grant ids are compared both ways with Arrow's
    ``is_in`` (hash based, no Python loop over rows).

    :param prev_user_grants: user_role_grants of the previous snapshot, or ``None``.
    :param prev_group_grants: group_role_grants of the previous snapshot, or ``None``.
    :param cur_user_grants: user_role_grants of the current snapshot.
    :param cur_group_grants: group_role_grants of the current snapshot.
    :param previous_sync_id: sync id of the previous snapshot (``None`` if there is none).
    :param account_id: account id stamped into the result.
    :param sync_id: sync id of the current snapshot, stamped into the result.
    :param synced_at: the current snapshot's time, stamped into the result.
    :returns: A table with exactly the ``grant_changes`` schema, sorted by change type, grant kind and
        grant id so that equal inputs give byte-identical files.
    """
    if (prev_user_grants is None) != (prev_group_grants is None):
        raise ValueError("pass both previous grant tables or neither")
    if prev_user_grants is None:
        previous_sync_id = None
    prev_u = _grants(prev_user_grants, "user_role_grants", "previous")
    prev_g = _grants(prev_group_grants, "group_role_grants", "previous")
    cur_u = _grants(cur_user_grants, "user_role_grants", "current")
    cur_g = _grants(cur_group_grants, "group_role_grants", "current")
    assert cur_u is not None and cur_g is not None

    parts = [
        _one_side(
            cur_u, prev_u, grant_kind="global_role", change_type="added", previous_sync_id=previous_sync_id
        ),
        _one_side(
            cur_g, prev_g, grant_kind="group_role", change_type="added", previous_sync_id=previous_sync_id
        ),
    ]
    if prev_u is not None and prev_g is not None:
        parts += [
            _one_side(
                prev_u,
                cur_u,
                grant_kind="global_role",
                change_type="removed",
                previous_sync_id=previous_sync_id,
            ),
            _one_side(
                prev_g,
                cur_g,
                grant_kind="group_role",
                change_type="removed",
                previous_sync_id=previous_sync_id,
            ),
        ]
    changes = pa.concat_tables(parts)
    if changes.num_rows:
        order = pc.sort_indices(
            changes,
            sort_keys=[("change_type", "ascending"), ("grant_kind", "ascending"), ("grant_id", "ascending")],
        )
        changes = changes.take(order)
    n = changes.num_rows
    leading = {
        "account_id": pa.array([account_id] * n, pa.string()),
        "sync_id": pa.array([sync_id] * n, pa.string()),
        "synced_at": pa.array([synced_at] * n, GRANT_CHANGES.field("synced_at").type),
    }
    columns = [leading[f.name] if f.name in leading else changes[f.name] for f in GRANT_CHANGES]
    return pa.Table.from_arrays(columns, schema=GRANT_CHANGES)


def diff_snapshots(store: SnapshotStore, account_id: str, old_sync_id: str, new_sync_id: str) -> pa.Table:
    """Return grant_changes between any two complete snapshots of one account.

    ``old_sync_id`` plays the previous snapshot and ``new_sync_id`` the current one (pass them
    the other way round to diff backwards). The result is stamped with the new snapshot's
    account id, sync id and synced_at, and ``previous_sync_id = old_sync_id``.

    :raises SnapshotNotFoundError: either snapshot is not complete.
    :raises TableNotInSnapshotError: either snapshot lacks a grant table.
    """
    old_manifest = store.load_manifest(account_id, old_sync_id)
    new_manifest = store.load_manifest(account_id, new_sync_id)
    for manifest in (old_manifest, new_manifest):
        missing = [t for t in GRANT_TABLES if t not in manifest.tables]
        if missing:
            raise TableNotInSnapshotError(
                f"snapshot {manifest.sync_id} of account {account_id} does not include "
                f"{' and '.join(missing)}; diff needs both grant tables"
            )
    user_cols = list(DIFF_COLUMNS["user_role_grants"])
    group_cols = list(DIFF_COLUMNS["group_role_grants"])
    try:
        return grant_changes(
            store.read_table(account_id, old_sync_id, "user_role_grants", columns=user_cols),
            store.read_table(account_id, old_sync_id, "group_role_grants", columns=group_cols),
            store.read_table(account_id, new_sync_id, "user_role_grants", columns=user_cols),
            store.read_table(account_id, new_sync_id, "group_role_grants", columns=group_cols),
            old_sync_id,
            account_id=account_id,
            sync_id=new_sync_id,
            synced_at=new_manifest.synced_at,
        )
    except ValueError as exc:  # pragma: no cover - only reachable with files altered by hand
        raise SnapshotError(f"cannot diff {old_sync_id} and {new_sync_id}: {exc}") from exc
