"""Snapshot locations: sync ids, validated path components, and fsspec resolution.

Layout: ``{output_path}/account_id={account_id}/sync_id={sync_id}/``. The ``key=value`` folder
names are hive partitions, so DuckDB, Spark and pyarrow datasets can read the whole store
and filter by account or snapshot without listing files themselves.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
from fsspec import AbstractFileSystem

# The id rule lives below every layer (the client checks account ids with it too); it is
# public here, with the paths it protects.
from airflow_provider_boomi._rules import MAX_COMPONENT_LENGTH, validate_account_id, validate_path_component

__all__ = [
    "MAX_COMPONENT_LENGTH",
    "Location",
    "local_path_inside",
    "new_sync_id",
    "resolve_location",
    "snapshot_dir",
    "snapshot_location",
    "validate_account_id",
    "validate_path_component",
    "validate_sync_id",
]

_SYNC_ID_TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"


def _require_utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (e.g. datetime.now(UTC)), got naive {value!r}")
    return value.astimezone(UTC)


def new_sync_id(now: datetime | None = None) -> str:
    """Return a new sync id such as ``20261127T163512.048113Z-3fa9c1e07b52``.

    The UTC timestamp (to the microsecond, so two syncs a moment apart still sort in the order
    they started) makes ids sort by time; 12 random hex digits (48 bits) make ids unique: 6 collided
    about once in 130 runs of 500 ids drawn for the same microsecond.

    :param now: the time to encode; a timezone-aware datetime. Defaults to the current time.
    """
    moment = datetime.now(UTC) if now is None else _require_utc(now, "now")
    return f"{moment.strftime(_SYNC_ID_TIME_FORMAT)}-{secrets.token_hex(6)}"


def local_path_inside(root: str | os.PathLike[str], *components: str) -> Path:
    """Return ``root/components...`` resolved, after checking it lies strictly inside ``root``.

    Each component is checked with :func:`validate_path_component`, and the joined path is
    checked again after :meth:`~pathlib.Path.resolve` (symlinks followed), so neither a crafted
    id nor a symlink planted under ``root`` can make a caller write, move or delete outside it.
    Local paths only.

    :raises ValueError: a component is not a safe id, or the resolved path is not inside ``root``.
    """
    if not components:
        raise ValueError("local_path_inside needs at least one component below the root")
    for component in components:
        validate_path_component(component, "path component")
    base = Path(root).resolve()
    target = base.joinpath(*components).resolve()
    if target == base or not target.is_relative_to(base):
        raise ValueError(f"{target} is not inside {base} (a symlink?): refusing to use it")
    return target


def validate_sync_id(sync_id: object) -> str:
    """Return ``sync_id`` if it is safe as a path component, else raise ``ValueError``.

    Ids from :func:`new_sync_id` always pass; other ids are accepted if path-safe (they then only
    sort by time if they were built to).
    """
    return validate_path_component(sync_id, "sync id", where="a snapshot path")


@dataclass(frozen=True)
class Location:
    """A snapshot store root resolved to an fsspec filesystem.

    :ivar fs: the filesystem all reads and writes go through.
    :ivar root: the root as the filesystem's own path (no protocol).
    :ivar url: the root as the user gave it (for messages and returned paths).
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


def snapshot_location(snapshot_path: Any) -> tuple[str, str, str]:
    """The inverse of :func:`snapshot_dir`: ``(store root, account_id, sync_id)`` of a snapshot
    directory ``.../account_id=A/sync_id=S`` (a trailing ``/manifest.json`` is allowed).

    Raises ``ValueError`` when the path is not shaped like a snapshot directory, or its ids are
    not valid (a path is untrusted input: it may come from XCom or a parameter).
    """
    text = _root_string(snapshot_path).rstrip("/")
    if text.endswith("/manifest.json"):
        text = text[: -len("/manifest.json")]
    parts = text.split("/")
    if len(parts) < 3 or not parts[-1].startswith("sync_id=") or not parts[-2].startswith("account_id="):
        raise ValueError(
            f"{text!r} is not a snapshot directory; expected .../account_id=<id>/sync_id=<id> "
            "(the snapshot_path a sync returns)"
        )
    account_id = validate_account_id(parts[-2][len("account_id=") :])
    sync_id = validate_sync_id(parts[-1][len("sync_id=") :])
    return "/".join(parts[:-2]) or "/", account_id, sync_id
