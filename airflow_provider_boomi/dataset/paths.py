"""Snapshot locations: sync ids, validated path components, and fsspec resolution.

Layout: ``{output_path}/account_id={account_id}/sync_id={sync_id}/``. The ``key=value`` folder
names are hive partitions, so DuckDB, Spark and pyarrow datasets can read the whole store
and filter by account or snapshot without listing files themselves.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fsspec
from fsspec import AbstractFileSystem

__all__ = [
    "Location",
    "new_sync_id",
    "resolve_location",
    "snapshot_dir",
    "validate_account_id",
    "validate_sync_id",
]

_SYNC_ID_TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_SYNC_ID_RE = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{12}$")
# Characters that would change the meaning of a path (traversal, separators, hive partition
# syntax) or of a glob/URL built from it. Whitespace is refused because it is invisible in
# logs and a common copy-paste accident.
_FORBIDDEN_CHARS = {"/": "'/'", "\\": "'\\'", "=": "'='", "*": "'*'", "?": "'?'", "[": "'['", "]": "']'"}


def _require_utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (e.g. datetime.now(UTC)), got naive {value!r}")
    return value.astimezone(UTC)


def new_sync_id(now: datetime | None = None) -> str:
    """Return a new sync id such as ``20261127T163512.048113Z-3fa9c1e07b52``.

    The UTC timestamp (to the microsecond, so two syncs a moment apart still sort in the order
    they started) makes ids sort by time; 12 random hex digits (48 bits) make ids unique: 6 collided
    about once in 130 runs of 500 ids drawn for the same microsecond.

    Args:
        now: the time to encode; a timezone-aware datetime. Defaults to the current time.
    """
    moment = datetime.now(UTC) if now is None else _require_utc(now, "now")
    return f"{moment.strftime(_SYNC_ID_TIME_FORMAT)}-{secrets.token_hex(6)}"


def _validate_component(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} is empty; pass the Boomi {what} (e.g. 'acme-Q7R2ZK')")
    problems = [label for char, label in _FORBIDDEN_CHARS.items() if char in value]
    if any(ch.isspace() for ch in value):
        problems.append("whitespace")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        problems.append("control characters")
    if value in {".", ".."} or ".." in value:
        problems.append("'..'")
    if problems:
        raise ValueError(
            f"{what} {value!r} cannot be used in a snapshot path: it contains {', '.join(problems)}. "
            f"Use the {what} exactly as Boomi shows it, without path separators, spaces, '=' or '..'."
        )
    return value


def validate_account_id(account_id: object) -> str:
    """Return ``account_id`` if it is safe as a path component, else raise ``ValueError``.

    Refused: empty, ``/``, ``\\``, ``..``, ``=``, whitespace, control and glob characters.
    """
    return _validate_component(account_id, "account id")


def validate_sync_id(sync_id: object) -> str:
    """Return ``sync_id`` if it is safe as a path component, else raise ``ValueError``.

    Ids from :func:`new_sync_id` always pass; other ids are accepted if path-safe (they then only
    sort by time if they were built to).
    """
    return _validate_component(sync_id, "sync id")


def is_generated_sync_id(sync_id: str) -> bool:
    """Return whether ``sync_id`` has the shape :func:`new_sync_id` produces."""
    return bool(_SYNC_ID_RE.match(sync_id))


@dataclass(frozen=True)
class Location:
    """A snapshot store root resolved to an fsspec filesystem.

    Attributes:
        fs: the filesystem all reads and writes go through.
        root: the root as the filesystem's own path (no protocol).
        url: the root as the user gave it (for messages and returned paths).
    """

    fs: AbstractFileSystem
    root: str
    url: str

    def fs_path(self, *parts: str) -> str:
        """Join ``parts`` under the root, in the filesystem's path syntax."""
        # A root of "/" (or "" on object stores) must not produce "//" or lose its leading slash.
        base = self.root.rstrip("/")
        if not base:
            return ("/" if self.root.startswith("/") else "") + "/".join(parts)
        return "/".join([base, *parts])

    def url_path(self, *parts: str) -> str:
        """Join ``parts`` under the root, as a user-facing URL or path."""
        return "/".join([self.url, *parts])


def _root_string(output_path: Any) -> str:
    if isinstance(output_path, str):
        text = output_path
    elif isinstance(output_path, os.PathLike):
        text = os.fspath(output_path)
        if isinstance(text, bytes):
            text = text.decode()
    else:
        # Duck typing for airflow.sdk.ObjectStoragePath / universal_pathlib UPath, whose str() is
        # the full URL. We must not import Airflow here.
        text = str(output_path)
    if not text:
        raise ValueError("output_path is empty; pass a local directory or a URL such as s3://bucket/boomi")
    # Keep a bare root like "/" or "memory://" intact; strip trailing separators otherwise so
    # joins do not produce "//".
    stripped = text.rstrip("/")
    return stripped if stripped and not stripped.endswith(":") else text


def resolve_location(output_path: Any, storage_options: dict[str, Any] | None = None) -> Location:
    """Resolve ``output_path`` to a :class:`Location`.

    Accepts a local path, any fsspec URL (``file://``, ``memory://``, ``s3://`` ...), an
    ``os.PathLike``, or an object with an fsspec ``fs`` and a ``path`` attribute (Airflow's
    ``ObjectStoragePath``): its already-configured filesystem is used, so credentials from the
    Airflow connection apply.
    """
    if isinstance(output_path, Location):
        return output_path
    url = _root_string(output_path)
    obj_fs = getattr(output_path, "fs", None)
    obj_path = getattr(output_path, "path", None)
    if isinstance(obj_fs, AbstractFileSystem) and isinstance(obj_path, str) and not storage_options:
        return Location(fs=obj_fs, root=obj_path, url=url)
    fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
    return Location(fs=fs, root=root, url=url)


def snapshot_dir(output_path: Any, account_id: str, sync_id: str) -> str:
    """Return ``{output_path}/account_id={account_id}/sync_id={sync_id}`` after validating both ids.

    ``output_path`` may be anything :func:`resolve_location` accepts; the result keeps its URL
    form (``s3://bucket/x/account_id=.../sync_id=...``).
    """
    validate_account_id(account_id)
    validate_sync_id(sync_id)
    return f"{_root_string(output_path)}/account_id={account_id}/sync_id={sync_id}"
