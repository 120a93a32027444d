"""Failure records: a failed sync leaves a note in the store instead of a silent gap.

A sync that fails writes no snapshot (the writer removes what it wrote). Without a trace, the
missing night would only show as a hole found later, if anyone looks. So the sync operator
writes one small JSON file per failure under ``{store}/account_id={id}/failures/{name}.json``;
:meth:`SnapshotStore.failures <airflow_provider_boomi.dataset.SnapshotStore.failures>` lists
them and :meth:`SnapshotStore.gaps <airflow_provider_boomi.dataset.SnapshotStore.gaps>` puts
them inside the holes they explain.

A record is written once and never changed (new files only, so write-once buckets accept it).
The error message must be scrubbed of credentials by the caller, which knows them: this layer
does not know the Boomi client.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .manifest import format_time, parse_time
from .paths import new_sync_id, resolve_location, validate_account_id, validate_sync_id
from .storage import write_whole

__all__ = [
    "FAILURES_DIR",
    "MAX_ERROR_MESSAGE_CHARS",
    "FailureRecord",
    "write_failure_record",
]

FAILURES_DIR = "failures"
"""The folder under ``account_id=<id>/`` that holds failure records."""

MAX_ERROR_MESSAGE_CHARS = 4_000
"""Longer error messages are cut (with a marker): a record is a note, not a log."""

_RECORD_KIND = "boomi_sync_failure"


@dataclass(frozen=True)
class FailureRecord:
    """One failed sync of one account.

    :ivar account_id: the Boomi account the sync was for.
    :ivar sync_id: the id the failed snapshot would have had (also the record's file name).
    :ivar started_at: when the sync started.
    :ivar failed_at: when it failed.
    :ivar error_type: the exception's class, module-qualified (``airflow_provider_boomi.client...``).
    :ivar error_message: the exception's message, credentials scrubbed by the caller.
    :ivar dag_id: the Airflow DAG, when run by Airflow.
    :ivar run_id: the DAG run.
    :ivar task_id: the task (with its map index for a mapped task, e.g. ``sync[2]``).
    :ivar try_number: the task try that failed.
    :ivar path: where the record is stored (set when read back or written; not part of the file).
    """

    account_id: str
    sync_id: str
    started_at: datetime
    failed_at: datetime
    error_type: str
    error_message: str
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    try_number: int | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        validate_account_id(self.account_id)
        validate_sync_id(self.sync_id)
        for name in ("started_at", "failed_at"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"FailureRecord.{name} must be timezone-aware, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (what the record file holds)."""
        return {
            "kind": _RECORD_KIND,
            "account_id": self.account_id,
            "sync_id": self.sync_id,
            "started_at": format_time(self.started_at),
            "failed_at": format_time(self.failed_at),
            "error_type": self.error_type,
            "error_message": self.error_message,
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "task_id": self.task_id,
            "try_number": self.try_number,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str | None = None) -> FailureRecord:
        """Build from the JSON form; raises ``ValueError``/``KeyError``/``TypeError`` when malformed."""
        if data.get("kind") != _RECORD_KIND:
            raise ValueError(f"not a sync failure record (kind {data.get('kind')!r})")
        try_number = data.get("try_number")
        return cls(
            account_id=str(data["account_id"]),
            sync_id=str(data["sync_id"]),
            started_at=parse_time(data["started_at"]),
            failed_at=parse_time(data["failed_at"]),
            error_type=str(data["error_type"]),
            error_message=str(data["error_message"]),
            dag_id=_optional_text(data.get("dag_id")),
            run_id=_optional_text(data.get("run_id")),
            task_id=_optional_text(data.get("task_id")),
            try_number=int(try_number) if try_number is not None else None,
            path=path,
        )


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _clip(message: str) -> str:
    if len(message) <= MAX_ERROR_MESSAGE_CHARS:
        return message
    return (
        message[:MAX_ERROR_MESSAGE_CHARS] + f" [... {len(message) - MAX_ERROR_MESSAGE_CHARS} characters cut]"
    )


def write_failure_record(
    output_path: Any,
    account_id: str,
    *,
    error: BaseException,
    error_message: str,
    started_at: datetime,
    sync_id: str | None = None,
    failed_at: datetime | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    try_number: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> FailureRecord:
    """Write the record of a failed sync into the snapshot store and return it.

    :param output_path: the store root the sync was writing to (anything
        :func:`~airflow_provider_boomi.dataset.paths.resolve_location` accepts).
    :param account_id: the account of the sync.
    :param error: the exception that failed the sync (its class is recorded).
    :param error_message: its message with every credential already removed (the caller knows
        the credentials; see ``client.errors.scrub_secrets``). Cut at
        :data:`MAX_ERROR_MESSAGE_CHARS`.
    :param started_at: when the sync started (timezone-aware).
    :param sync_id: the id the snapshot would have had; a new one when ``None``. It names the file.
    :param failed_at: when it failed; default now.
    :param dag_id: the Airflow DAG, if any.
    :param run_id: the DAG run, if any.
    :param task_id: the task, if any.
    :param try_number: the task try, if any.
    :param storage_options: fsspec options for ``output_path``.
    :raises FileExistsError: a record with this sync id exists already (records are never replaced).
    """
    failed = datetime.now(UTC) if failed_at is None else failed_at
    record = FailureRecord(
        account_id=account_id,
        sync_id=sync_id if sync_id is not None else new_sync_id(failed),
        started_at=started_at,
        failed_at=failed,
        error_type=f"{type(error).__module__}.{type(error).__qualname__}",
        error_message=_clip(error_message),
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        try_number=try_number,
    )
    location = resolve_location(output_path, storage_options)
    folder = location.fs_path(f"account_id={record.account_id}", FAILURES_DIR)
    target = f"{folder}/{record.sync_id}.json"
    if location.fs.exists(target):
        raise FileExistsError(f"failure record {target} exists already; records are never replaced")
    location.fs.makedirs(folder, exist_ok=True)
    data = json.dumps(record.to_dict(), indent=2, ensure_ascii=False) + "\n"
    write_whole(location.fs, target, data.encode("utf-8"))
    url = location.url_path(f"account_id={record.account_id}", FAILURES_DIR, f"{record.sync_id}.json")
    return dataclasses.replace(record, path=url)
