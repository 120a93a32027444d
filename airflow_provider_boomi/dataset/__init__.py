"""The snapshot store: Arrow schemas, the atomic snapshot writer, the reader and diffs.

Plain pyarrow + fsspec; no Airflow import, so snapshots can be written and read from any
script. See ``docs/data-model.md`` for the layout and every column.
"""

from __future__ import annotations

from .conform import Rows, conform
from .diff import diff_snapshots, grant_changes
from .errors import (
    SchemaMismatchError,
    SnapshotError,
    SnapshotNotFoundError,
    SnapshotStateError,
    TableNotInSnapshotError,
)
from .grant_ids import (
    GrantKind,
    ParsedGrant,
    grant_id,
    group_entitlement_id,
    parse_grant_id,
    role_entitlement_id,
)
from .manifest import MANIFEST_FILE, Manifest, TableEntry
from .paths import new_sync_id, snapshot_dir, snapshot_location, validate_account_id, validate_sync_id
from .reader import SnapshotInfo, SnapshotStore
from .schemas import GRANT_TABLES, SCHEMA_VERSION, SYNCED_TABLES, TABLES, empty_table, schema_for
from .writer import ROW_GROUP_ROWS, SnapshotWriter, TableWriter

__all__ = [
    "GRANT_TABLES",
    "MANIFEST_FILE",
    "ROW_GROUP_ROWS",
    "SCHEMA_VERSION",
    "SYNCED_TABLES",
    "TABLES",
    "GrantKind",
    "Manifest",
    "ParsedGrant",
    "Rows",
    "SchemaMismatchError",
    "SnapshotError",
    "SnapshotInfo",
    "SnapshotNotFoundError",
    "SnapshotStateError",
    "SnapshotStore",
    "SnapshotWriter",
    "TableEntry",
    "TableNotInSnapshotError",
    "TableWriter",
    "conform",
    "diff_snapshots",
    "empty_table",
    "grant_changes",
    "grant_id",
    "group_entitlement_id",
    "new_sync_id",
    "parse_grant_id",
    "role_entitlement_id",
    "schema_for",
    "snapshot_dir",
    "snapshot_location",
    "validate_account_id",
    "validate_sync_id",
]
