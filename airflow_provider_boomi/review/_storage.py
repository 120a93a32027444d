"""Where review files live: a local folder, any fsspec URL, or an ``ObjectStoragePath``.

Campaign folders and evidence bundles are written and read through one small interface, so the
same code serves a local disk and an object store. The rules:

- A folder is given by the user (a path, a URL such as ``s3://bucket/boomi/reviews``, or an
  object with ``fs`` and ``path`` attributes such as Airflow's ``ObjectStoragePath``, duck-typed:
  Airflow is never imported here). Below it, only names checked by
  :func:`~airflow_provider_boomi.dataset.paths.validate_path_component` are joined, so on an
  object store every key written stays under the folder's prefix.
- On a local disk a file is written under a hidden temporary name and renamed into place, so
  readers never see half a file; on an object store one PUT of the whole object is atomic.
- Credentials for a URL come from the filesystem's own configuration (for S3: the
  ``AWS_*`` environment variables, ``~/.aws``, or fsspec's ``FSSPEC_S3_*`` variables); an
  ``ObjectStoragePath`` brings the filesystem of its Airflow connection.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from airflow_provider_boomi.dataset.paths import Location, resolve_location, validate_path_component

__all__ = ["Folder", "folder"]


@dataclass(frozen=True)
class Folder:
    """A folder on a local disk or an object store.

    :ivar fs: the filesystem reads and writes go through.
    :ivar path: the folder in the filesystem's own path syntax (no protocol).
    :ivar url: the folder as the user gave it (a local path or a URL), for messages and XCom.
    """

    fs: AbstractFileSystem
    path: str
    url: str

    @property
    def is_local(self) -> bool:
        """Whether the folder is on the local disk (then :attr:`local` is its path)."""
        return isinstance(self.fs, LocalFileSystem)

    @property
    def local(self) -> Path:
        """The local path of the folder (only when :attr:`is_local`)."""
        return Path(self.path)

    @property
    def location(self) -> Location:
        """The same folder as a :class:`~airflow_provider_boomi.dataset.paths.Location`."""
        return Location(fs=self.fs, root=self.path, url=self.url)

    def child(self, *names: str, what: str = "name") -> Folder:
        """The folder ``names`` below this one; every name must be a safe path component."""
        for name in names:
            validate_path_component(name, what, where=self.url)
        return Folder(fs=self.fs, path=self._join(*names), url="/".join([self.url.rstrip("/"), *names]))

    def _join(self, *names: str) -> str:
        base = self.path.rstrip("/")
        if not base:
            return ("/" if self.path.startswith("/") else "") + "/".join(names)
        return "/".join([base, *names])

    def key(self, name: str) -> str:
        """The filesystem path of file ``name`` in this folder (``name`` is validated)."""
        validate_path_component(name, "file name", where=self.url)
        return self._join(name)

    def url_of(self, name: str) -> str:
        """File ``name`` as the user-facing path or URL (a local path stays a plain path)."""
        return str(self.local / name) if self.is_local else f"{self.url.rstrip('/')}/{name}"

    def exists(self) -> bool:
        """Whether the folder exists (on an object store: whether any object has its prefix)."""
        if self.is_local:
            return self.local.is_dir()
        self.fs.invalidate_cache(self.path)
        return bool(self.fs.isdir(self.path))

    def has_file(self, name: str) -> bool:
        """Whether file ``name`` exists in this folder."""
        if self.is_local:
            return (self.local / name).is_file()
        key = self.key(name)
        self.fs.invalidate_cache(key)
        return bool(self.fs.isfile(key))

    def read_bytes(self, name: str) -> bytes:
        """The bytes of file ``name`` (``FileNotFoundError`` if missing)."""
        if self.is_local:
            return (self.local / name).read_bytes()
        return bytes(self.fs.cat_file(self.key(name)))

    def make(self) -> None:
        """Create the folder on a local disk; object stores have no folders to create."""
        if self.is_local:
            self.local.mkdir(parents=True, exist_ok=True)

    def write_bytes(self, name: str, data: bytes) -> str:
        """Write file ``name`` whole, atomically where the store allows; return its path or URL.

        Local: written to ``.{name}.<random>.tmp`` and renamed over ``name``. Object store: one
        PUT of the whole object, which readers see entirely or not at all.
        """
        key = self.key(name)
        if self.is_local:
            self.make()
            tmp = self.local / f".{name}.{secrets.token_hex(4)}.tmp"
            try:
                tmp.write_bytes(data)
                os.replace(tmp, self.local / name)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        else:
            self.fs.pipe_file(key, data)
            self.fs.invalidate_cache(self.path)
        return self.url_of(name)

    def files(self) -> list[str]:
        """The names of the files directly in this folder, sorted (none if it does not exist)."""
        if self.is_local:
            if not self.local.is_dir():
                return []
            return sorted(p.name for p in self.local.iterdir() if p.is_file())
        self.fs.invalidate_cache(self.path)
        try:
            entries = self.fs.ls(self.path, detail=True)
        except FileNotFoundError:
            return []
        return sorted(
            str(e["name"]).rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "file"
        )

    def subfolders(self) -> list[Folder]:
        """The folders directly below this one, sorted by name."""
        if self.is_local:
            return [self.child_unchecked(p.name) for p in sorted(self.local.iterdir()) if p.is_dir()]
        self.fs.invalidate_cache(self.path)
        entries = self.fs.ls(self.path, detail=True)
        names = sorted(
            str(e["name"]).rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory"
        )
        return [self.child_unchecked(n) for n in names]

    def child_unchecked(self, name: str) -> Folder:
        """A folder listed below this one (its name came from the store itself, not from input)."""
        if self.is_local:
            return Folder(fs=self.fs, path=str(self.local / name), url=str(Path(self.url) / name))
        return Folder(fs=self.fs, path=self._join(name), url=f"{self.url.rstrip('/')}/{name}")

    def __str__(self) -> str:
        return str(self.local) if self.is_local else self.url


def folder(where: Any) -> Folder:
    """Resolve a folder given as a local path, an fsspec URL, an ``ObjectStoragePath`` (or
    anything with an fsspec ``fs`` and a ``path``), a :class:`Folder` or a ``Location``."""
    if isinstance(where, Folder):
        return where
    if isinstance(where, str | os.PathLike) and "://" not in os.fspath(where):
        # A plain local path: no URL parsing (fsspec would read "::" in a name as a chain).
        text = str(os.fspath(where))
        if not text:
            raise ValueError("the path is empty; pass a local folder or a URL such as s3://bucket/boomi")
        return Folder(fs=LocalFileSystem(), path=text, url=text)
    location = resolve_location(where)
    if isinstance(location.fs, LocalFileSystem):
        # A local folder keeps the form the user gave (relative paths stay relative to the cwd
        # the caller meant); "file://" URLs become plain paths.
        local = location.root if "://" in location.url else location.url
        return Folder(fs=location.fs, path=local, url=local)
    return Folder(fs=location.fs, path=location.root, url=location.url)


def lineage_dataset(url: str) -> tuple[str, str]:
    """OpenLineage ``(namespace, name)`` of a file: ``("s3://bucket", "key")`` for a URL,
    ``("file", "/path")`` for a local path."""
    if "://" in url:
        scheme, rest = url.split("://", 1)
        if scheme != "file":
            bucket, _, key = rest.partition("/")
            return f"{scheme}://{bucket}", key
        return "file", rest
    return "file", url
