"""Writing a small file whole: visible complete or not at all, on any fsspec filesystem.

On a local filesystem the data goes to a temporary name in the same directory, is fsynced, and
is renamed over the target (``os.replace``: atomic on POSIX and Windows). Object stores have no
atomic rename (fsspec's ``mv`` is copy + delete), but a single PUT of a small object is atomic
there: the object is visible whole or not at all. So on any non-local filesystem the data is
written with one ``pipe_file`` call. Neither path deletes anything that was ever visible, which
keeps the pattern compatible with write-once (object-lock) buckets.

Used for ``manifest.json`` (its presence makes a snapshot exist) and for failure records.
"""

from __future__ import annotations

import contextlib
import os
import secrets

from fsspec import AbstractFileSystem

__all__ = ["is_local", "write_whole"]


def is_local(fs: AbstractFileSystem) -> bool:
    """Whether ``fs`` is the local filesystem (where ``os`` calls reach the same files)."""
    protocol = fs.protocol
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return "file" in protocols or "local" in protocols


def write_whole(fs: AbstractFileSystem, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old state or all of ``data``, never part.

    :param fs: the filesystem ``path`` belongs to.
    :param path: the target, in the filesystem's own path syntax; its directory must exist
        locally (object stores have none to create).
    :param data: the complete content.
    """
    if not is_local(fs):
        # One PUT: object stores make a single object visible whole or not at all.
        fs.pipe_file(path, data)
        return
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        # Only left behind when the write or the rename failed.
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
