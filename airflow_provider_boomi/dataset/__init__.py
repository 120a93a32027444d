"""The snapshot store: Arrow schemas, the atomic snapshot writer, the reader and diffs.

Plain pyarrow + fsspec; no Airflow import, so snapshots can be written and read from any
script. See ``docs/data-model.md`` for the layout and every column.
"""

from __future__ import annotations

from .chain import ChainBreak, ChainFork, ChainHead, ChainResult, verify_manifest_chain
from .conform import Rows, conform
from .diff import diff_snapshots, grant_changes
from .errors import (
    SchemaMismatchError,
    SnapshotError,
    SnapshotNotFoundError,
    SnapshotStateError,
    TableNotInSnapshotError,
)
from .failures import FailureRecord, write_failure_record
from .grant_ids import (
    GrantKind,
    ParsedGrant,
    grant_id,
    group_entitlement_id,
    parse_grant_id,
    role_entitlement_id,
)
from .manifest import MANIFEST_FILE, Manifest, ManifestLink, TableEntry
from .paths import new_sync_id, snapshot_dir, snapshot_location, validate_account_id, validate_sync_id
from .reader import FileProblem, Gap, ManifestFile, SnapshotInfo, SnapshotStore
from .schemas import (
    CORE_TABLES,
    GOVERNANCE_TABLES,
    GRANT_TABLES,
    SCHEMA_VERSION,
    SYNCED_TABLES,
    TABLES,
    empty_table,
    schema_for,
)
from .writer import ROW_GROUP_ROWS, SnapshotWriter, TableWriter

__all__ = [
    "CORE_TABLES",
    "GOVERNANCE_TABLES",
    "GRANT_TABLES",
    "MANIFEST_FILE",
    "ROW_GROUP_ROWS",
    "SCHEMA_VERSION",
    "SYNCED_TABLES",
    "TABLES",
    "ChainBreak",
    "ChainFork",
    "ChainHead",
    "ChainResult",
    "FailureRecord",
    "FileProblem",
    "Gap",
    "GrantKind",
    "Manifest",
    "ManifestFile",
    "ManifestLink",
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
    "verify_manifest_chain",
    "write_failure_record",
]
