"""A store as an fsspec filesystem: ``altakit://<key>`` URLs for pandas, polars, pyarrow and papermill.

``altakit://raw/day1.csv`` names the latest version of ``raw/day1.csv`` in the
default store (:func:`altakit.config.default_store_url`), or in the store given
as ``storage_options={"store": "<store url>" or a Store}``. Reads accept
``altakit://raw/day1.csv@<version id>``. A file opened for writing is buffered
in a local temp file and becomes one new version when it is closed: nothing is
visible before, and a write abandoned by an exception leaves no version.
Directories are derived from keys (``a/b/c.csv`` makes ``a`` and ``a/b``).

Example:
    >>> import pandas as pd  # doctest: +SKIP
    >>> opts = {"store": "./data/store"}  # doctest: +SKIP
    >>> pd.DataFrame({"x": [1]}).to_csv("altakit://t/x.csv", storage_options=opts)  # doctest: +SKIP
    >>> fs = StoreFileSystem(store="./data/store")  # doctest: +SKIP
    >>> old = fs.info("t/x.csv")["version"]  # doctest: +SKIP
    >>> pd.read_csv(f"altakit://t/x.csv@{old}", storage_options=opts)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from fsspec.spec import AbstractFileSystem

from altakit.errors import AlreadyExists, ConfigError, CorruptObject, InvalidKey, NotFound
from altakit.store.base import Store
from altakit.store.names import Version, validate_key

PROTOCOL = "altakit"
_VERSION_RE = re.compile(r"^\d{8}T\d{15}Z_[0-9a-f]{8}$")
_stores: dict[tuple[int, str, str], Store] = {}
_stores_lock = threading.Lock()


def split_version(path: str) -> tuple[str, str | None]:
    """Split ``"key@<version id>"`` into ``(key, id)``; ``(path, None)`` without a version.

    Example:
        >>> split_version("a/b.csv@20261122T041500123456789Z_0a1b2c3d")
        ('a/b.csv', '20261122T041500123456789Z_0a1b2c3d')
        >>> split_version("team@corp/b.csv")
        ('team@corp/b.csv', None)
    """
    key, sep, vid = path.rpartition("@")
    if sep and _VERSION_RE.match(vid):
        return key, vid
    return path, None


def clear_store_cache() -> None:
    """Forget the stores opened from URLs by :class:`StoreFileSystem` (closing them)."""
    with _stores_lock:
        stores = list(_stores.values())
        _stores.clear()
    for store in stores:
        store.close()


def _store_for(url: str | None, options: dict[str, Any]) -> Store:
    """The store at ``url`` (default store if None), opened once per process and options."""
    from altakit.config import default_store_url
    from altakit.store.registry import open_store

    url = str(url) if url is not None else default_store_url()
    cache_key = (os.getpid(), url, repr(sorted(options.items())))
    with _stores_lock:
        store = _stores.get(cache_key)
        if store is None:
            store = _stores[cache_key] = open_store(url, **options)
    return store


class StoreFileSystem(AbstractFileSystem):
    """fsspec filesystem over a versioned :class:`~altakit.store.base.Store`.

    Args:
        store: A :class:`Store`, a store URL, or None for the default store.
        store_options: Options for :func:`altakit.open_store` when ``store`` is a URL
            (``endpoint_url`` …).
        **storage_options: Passed to :class:`fsspec.spec.AbstractFileSystem`.

    Example:
        >>> import tempfile, altakit
        >>> fs = StoreFileSystem(store=altakit.open_store(tempfile.mkdtemp()))
        >>> fs.pipe_file("a/b.txt", b"hi")
        >>> fs.ls("a", detail=False), fs.cat_file("altakit://a/b.txt", start=1)
        (['a/b.txt'], b'i')
    """

    protocol = PROTOCOL
    root_marker = ""
    # Instances are not cached by fsspec: its cache keys on repr(), which does not tell
    # two stores with the same URL apart (e.g. encrypted with different keys).
    # Stores opened from URLs are reused instead (see clear_store_cache).
    cachable = False

    def __init__(
        self,
        store: Store | str | os.PathLike | None = None,
        *,
        store_options: dict[str, Any] | None = None,
        **storage_options: Any,
    ) -> None:
        super().__init__(store=store, store_options=store_options, **storage_options)
        if isinstance(store, Store):
            if store_options:
                raise ConfigError(
                    "store_options apply to a store URL, not to an open Store",
                    hint="pass the options to altakit.open_store instead",
                )
            self.store = store
        elif store is None or isinstance(store, str | os.PathLike):
            self.store = _store_for(None if store is None else os.fspath(store), store_options or {})
        else:
            raise ConfigError(
                f"storage option 'store' must be a Store or a store URL, not {type(store).__name__}",
                hint='e.g. storage_options={"store": "s3://bucket/prefix"}',
            )

    # ------------------------------------------------------------------ paths
    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
        for prefix in (f"{PROTOCOL}://", f"{PROTOCOL}::"):
            if path.startswith(prefix):
                path = path[len(prefix) :]
        return path.strip("/")

    def unstrip_protocol(self, name: str) -> str:
        """``altakit://<name>``."""
        return f"{PROTOCOL}://{self._strip_protocol(name)}"

    def _version(self, path: str) -> Version:
        key, vid = split_version(self._strip_protocol(path))
        return self.store.resolve(key, vid)

    def _file_info(self, v: Version, name: str | None = None) -> dict[str, Any]:
        return {
            "name": name or v.key,
            "size": v.size,
            "type": "file",
            "key": v.key,
            "version": v.id,
            "checksum": v.checksum,
            "writer": v.writer,
            "created": v.timestamp,
            "mtime": v.timestamp,
        }

    @staticmethod
    def _dir_info(name: str) -> dict[str, Any]:
        return {"name": name, "size": 0, "type": "directory"}

    def _versions_under(self, path: str) -> list[Version]:
        if path:
            validate_key(path)  # a directory path obeys the key rules too (no '..')
        return self.store.list(prefix=f"{path}/" if path else "")

    # ---------------------------------------------------------------- listing
    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        """Files and derived directories directly under ``path``; a file lists itself."""
        path = self._strip_protocol(path)
        entries: dict[tuple[str, str], dict[str, Any]] = {}
        start = len(path) + 1 if path else 0
        for v in self._versions_under(path):
            head, sep, _ = v.key[start:].partition("/")
            if sep:
                name = f"{path}/{head}" if path else head
                entries.setdefault((name, "directory"), self._dir_info(name))
            else:
                entries[(v.key, "file")] = self._file_info(v)
        if not entries and path:  # the root of an empty store is an empty directory
            entries[(path, "file")] = self.info(path)  # NotFound if neither
        out = [entries[k] for k in sorted(entries)]
        return out if detail else [e["name"] for e in out]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """Details of a file (``size``, ``version``, ``checksum``, ``created`` …) or directory."""
        path = self._strip_protocol(path)
        if not path:
            return self._dir_info("")
        key, vid = split_version(path)
        try:
            return self._file_info(self.store.resolve(key, vid), name=path)
        except NotFound as exc:
            if vid is None and self._versions_under(path):
                return self._dir_info(path)
            raise NotFound(f"no such file or directory {self.unstrip_protocol(path)!r}", key=path) from exc

    def exists(self, path: str, **kwargs: Any) -> bool:
        """True for a file (latest version not deleted, or the given version) or a directory."""
        try:
            self.info(path)
        except (NotFound, InvalidKey):
            return False
        return True

    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Every file under ``path`` (and its directories with ``withdirs``), from one listing.

        As in fsspec's :meth:`~fsspec.spec.AbstractFileSystem.find`, ``maxdepth``
        counts levels below ``path`` (1: its direct children), and with
        ``withdirs`` every directory up to ``maxdepth`` is listed, including those
        whose files all lie deeper, and ``path`` itself when it is a directory.
        """
        if maxdepth is not None and maxdepth < 1:
            raise ValueError("maxdepth must be at least 1")
        path = self._strip_protocol(path)
        out: dict[str, dict[str, Any]] = {}
        if path:
            try:
                v = self._version(path)
                out[path] = self._file_info(v, name=path)
            except (NotFound, InvalidKey):
                pass
        base = path.count("/") + 1 if path else 0
        for v in self._versions_under(path):
            parts = v.key.split("/")
            depth = len(parts) - base  # 1: directly under path
            if maxdepth is None or depth <= maxdepth:
                out[v.key] = self._file_info(v)
            if withdirs:
                # the directories on the way to the key, down to maxdepth levels below path
                last = len(parts) if maxdepth is None else min(len(parts), base + maxdepth + 1)
                if path:
                    out.setdefault(path, self._dir_info(path))
                for i in range(base + 1, last):
                    name = "/".join(parts[:i])
                    out.setdefault(name, self._dir_info(name))
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    def modified(self, path: str) -> datetime:
        """When the version a read of ``path`` sees was written (UTC)."""
        return self._version(path).timestamp

    created = modified

    def checksum(self, path: str) -> int:
        """The version's checksum as an int (changes with every new content)."""
        return int(self._version(path).checksum or "0", 16)

    def ukey(self, path: str) -> str:
        """Unique id of the version a read of ``path`` sees."""
        return self._version(path).id

    # ---------------------------------------------------------------- reading
    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        path = self._strip_protocol(path)
        if mode == "rb":
            key, vid = split_version(path)
            return self.store.open(key, vid)
        if mode in ("wb", "xb"):
            key = self._writable_key(path)
            if mode == "xb" and self.store.exists(key):
                raise AlreadyExists(
                    f"{self.unstrip_protocol(key)} exists", key=key, hint="open with mode 'wb'"
                )
            return TempFileWriter(self.store, key, autocommit=autocommit)
        raise ConfigError(
            f"mode {mode!r} is not supported by altakit:// files",
            hint="use 'rb', 'wb' or 'xb' (versions are immutable; to append, read, then write a new version)",
        )

    def open(self, path: str, mode: str = "rb", compression: str | None = None, **kwargs: Any) -> Any:
        """Open a version for reading (``rb``: streaming, seekable) or a new version for writing.

        An exception inside ``with fs.open(path, "w")`` (text or binary) discards the version.
        """
        if "b" in mode or "r" in mode or compression is not None:
            return super().open(path, mode, compression=compression, **kwargs)
        text = {k: kwargs.pop(k) for k in ("encoding", "errors", "newline") if k in kwargs}
        text.setdefault("encoding", "utf-8")
        return _TextTempFileWriter(super().open(path, mode.replace("t", "") + "b", **kwargs), **text)

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        """Bytes of a version, or of the range ``[start, end)`` (negative counts from the end)."""
        v = self._version(path)
        if start is None and end is None:
            return self.store.get(v.key, v)
        start = 0 if start is None else (max(0, v.size + start) if start < 0 else start)
        end = v.size if end is None else (max(0, v.size + end) if end < 0 else min(end, v.size))
        if start >= end:
            return b""
        data = self.store._read_range(v.name, start, end)
        if len(data) != end - start:
            raise CorruptObject(
                f"object {v.name!r} is shorter than its name says",
                name=v.name,
                key=v.key,
                hint="the stored object is truncated; read an older version",
            )
        return data

    # ---------------------------------------------------------------- writing
    def _writable_key(self, path: str) -> str:
        key, vid = split_version(path)
        if vid is not None:
            raise InvalidKey(
                f"cannot write to version {vid} of {key!r}: versions are immutable",
                key=key,
                hint=f"write to {self.unstrip_protocol(key)} to create a new version",
            )
        return validate_key(key)

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Write ``value`` as a new version of ``path``."""
        key = self._writable_key(self._strip_protocol(path))
        if mode == "create" and self.store.exists(key):
            raise AlreadyExists(f"{self.unstrip_protocol(key)} exists", key=key)
        self.store.put(key, value)

    def put_file(
        self, lpath: str, rpath: str, callback: Any = None, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        """Upload a local file as a new version of ``rpath`` (directories are derived: skipped)."""
        if os.path.isdir(lpath):
            return
        key = self._writable_key(self._strip_protocol(rpath))
        if mode == "create" and self.store.exists(key):
            raise AlreadyExists(f"{self.unstrip_protocol(key)} exists", key=key)
        self.store.put(key, Path(lpath))

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy a version of ``path1`` (latest, or ``@id``) to a new version of ``path2``."""
        v = self._version(path1)
        self.store.copy(v.key, self._writable_key(self._strip_protocol(path2)), version=v)

    def rm_file(self, path: str) -> None:
        """Delete a key by writing a tombstone; older versions stay readable with ``@id``."""
        path = self._strip_protocol(path)
        key, vid = split_version(path)
        if vid is not None:
            raise InvalidKey(
                f"cannot delete version {vid} of {key!r} through fsspec",
                key=key,
                hint="delete the key (a tombstone) or use store.purge(key, version) for retention",
            )
        self.store.delete(key)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete files (tombstones); with ``recursive`` every file under a directory."""
        paths = path if isinstance(path, list) else [path]
        for p in paths:
            p = self._strip_protocol(p)
            if self.isdir(p):
                if not recursive:
                    raise IsADirectoryError(f"{self.unstrip_protocol(p)} is a directory; pass recursive=True")
                for key in self.find(p, maxdepth=maxdepth):
                    self.rm_file(key)
            else:
                self.rm_file(p)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """No-op: directories exist while keys under them do."""

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """No-op: directories exist while keys under them do."""

    def rmdir(self, path: str) -> None:
        """No-op: a directory vanishes when its last key is deleted."""


class TempFileWriter(io.BufferedIOBase):
    """An ``altakit://`` file opened for writing: buffered in a local temp file, one new version on close.

    Unlike :class:`altakit.store.stream.VersionWriter` (``store.open_writer``, a
    forward-only stream) it is seekable, so zip and Excel writers work, and it
    can wait for an fsspec transaction. ``close()`` stores it with ``store.put``.
    An exception inside ``with`` or a file dropped without ``close()`` discards
    it. With ``autocommit=False`` (fsspec transactions) ``close()`` keeps the
    bytes until ``commit()``.

    Attributes:
        version: The new :class:`Version` once committed, else None.
    """

    def __init__(self, store: Store, key: str, *, autocommit: bool = True) -> None:
        super().__init__()
        self.store, self.key, self.autocommit = store, key, autocommit
        self.version: Version | None = None
        fd, name = tempfile.mkstemp(prefix="altakit-write-")
        self._path: Path | None = Path(name)
        self._file = open(fd, "w+b")  # noqa: SIM115 - closed by close()/discard()

    @property
    def name(self) -> str:
        return f"{PROTOCOL}://{self.key}"

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed file")
        return self._file.write(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        """Store the bytes as a new version (or keep them for ``commit`` in a transaction)."""
        if self.closed:
            return
        try:
            self._file.close()
            if self.autocommit and self._path is not None:
                self.commit()
        finally:
            super().close()

    def commit(self) -> None:
        """Store the written bytes as a new version of the key (once)."""
        if self._path is None:
            return
        if not self._file.closed:
            self._file.close()
        try:
            self.version = self.store.put(self.key, self._path)
        finally:
            self._drop()

    def discard(self) -> None:
        """Throw the written bytes away; no version is created."""
        if not self._file.closed:
            self._file.close()
        self._drop()
        if not self.closed:
            super().close()

    def _drop(self) -> None:
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            self.discard()
        self.close()

    def __del__(self) -> None:
        # dropped without close(): never store a partial version
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.discard()


class _TextTempFileWriter(io.TextIOWrapper):
    """Text mode over :class:`TempFileWriter`: an exception inside ``with`` discards."""

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            cast(TempFileWriter, self.buffer).discard()
        super().__exit__(exc_type, *rest)


class PapermillHandler:
    """papermill I/O for ``altakit://`` notebook paths (entry point ``papermill.io``).

    Paths use the default store (``$ALTAKIT_STORE``); an input may carry ``@<version id>``.
    Each save of the output notebook is a new version; the last is the finished run.

    Example:
        >>> import papermill  # doctest: +SKIP
        >>> papermill.execute_notebook("altakit://nb/in.ipynb", "altakit://runs/out.ipynb")  # doctest: +SKIP
    """

    @classmethod
    def _fs(cls) -> StoreFileSystem:
        return StoreFileSystem()

    @classmethod
    def read(cls, path: str) -> str:
        """The notebook's text."""
        return cls._fs().cat_file(path).decode("utf-8")

    @classmethod
    def write(cls, buf: str, path: str) -> None:
        """Store ``buf`` as a new version."""
        cls._fs().pipe_file(path, buf.encode("utf-8"))

    @classmethod
    def listdir(cls, path: str) -> list[str]:
        """``altakit://`` URLs directly under ``path``."""
        fs = cls._fs()
        return [fs.unstrip_protocol(name) for name in fs.ls(path, detail=False)]

    @classmethod
    def pretty_path(cls, path: str) -> str:
        return path
