"""A read cache around any store: whole objects in memory, large ones on a local disk.

Versions are immutable, so a cached object is never stale: the cache is keyed
by object name (key, version id, size and checksum) and needs no invalidation.
Small objects (up to ``max_object_bytes``) live in an in-process LRU bounded by
``memory_bytes``; larger ones, when ``disk_dir`` is given, are copied whole into
a folder bounded by ``disk_bytes`` that several processes (DataLoader workers)
may fill at once: entries are written to a temp file and renamed into place, so
a reader sees a whole entry or none, and the least recently used entries are
evicted after every fill. Version ids a cache has seen resolve without asking
the inner store, so ``store.get(key, version=id)`` of a cached version makes no
call to it at all; the latest version and listings always come from the inner
store. Put the cache outermost (around an :class:`~altakit.store.crypto.EncryptedStore`,
not inside one) so it holds plaintext and decrypts once.

Example:
    >>> import tempfile
    >>> from altakit.store.local import LocalStore
    >>> store = CachedStore(LocalStore(tempfile.mkdtemp()), memory_bytes=64 << 20)
    >>> v = store.put("a.txt", b"hello")
    >>> store.get("a.txt", version=v.id), store.get("a.txt", version=v.id)  # the second is a hit
    (b'hello', b'hello')
    >>> store.stats["memory_hits"]
    1
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
import threading
import time
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from altakit.errors import AccessDenied, ConfigError
from altakit.store.base import Store
from altakit.store.names import Version, checksum, parse_name, validate_id
from altakit.store.sources import CHUNK, Source
from altakit.store.wrap import WrappedStore

GiB = 1 << 30
_KNOWN_VERSIONS = 65536
_STALE_TMP_S = 3600.0


class _MemoryLRU:
    """Whole objects by name, least recently used evicted beyond ``capacity`` bytes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self.items: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, name: str) -> bytes | None:
        # no lock on the hit path: each OrderedDict call is atomic under the GIL, and an entry
        # evicted between the two calls is simply not moved
        data = self.items.get(name)
        if data is not None:
            with contextlib.suppress(KeyError):
                self.items.move_to_end(name)
        return data

    def put(self, name: str, data: bytes) -> None:
        if len(data) > self.capacity:
            return
        with self.lock:
            old = self.items.pop(name, None)
            self.used -= len(old) if old is not None else 0
            self.items[name] = data
            self.used += len(data)
            while self.used > self.capacity:
                _, evicted = self.items.popitem(last=False)
                self.used -= len(evicted)

    def drop(self, name: str) -> None:
        with self.lock:
            old = self.items.pop(name, None)
            self.used -= len(old) if old is not None else 0


class DiskCache:
    """Whole objects as files in ``folder``, bounded by ``capacity`` bytes across processes.

    Args:
        folder: The cache folder (created if missing); several processes may share it.
        capacity: Total bytes kept; least recently used entries go first.
        namespace: Separates stores sharing one folder (the inner store's URL).

    Example:
        >>> cache = DiskCache(Path(tempfile.mkdtemp()), 1 << 20, "file:///data")  # doctest: +SKIP
    """

    def __init__(self, folder: Path, capacity: int, namespace: str) -> None:
        self.folder = Path(folder).expanduser()
        self.capacity = capacity
        self.namespace = namespace
        try:
            (self.folder / "objects").mkdir(parents=True, exist_ok=True)
            (self.folder / "tmp").mkdir(exist_ok=True)
        except PermissionError as exc:
            raise AccessDenied(
                f"cannot write the cache folder {self.folder}", hint="pick one you own"
            ) from exc
        except OSError as exc:
            raise ConfigError(f"cannot use {self.folder} as a cache folder: {exc}") from exc

    def path(self, name: str) -> Path:
        """Where the entry for object ``name`` lives."""
        digest = hashlib.sha256(f"{self.namespace}\0{name}".encode()).hexdigest()
        return self.folder / "objects" / digest

    def open(self, name: str, size: int) -> BinaryIO | None:
        """The cached entry, or ``None``; an entry of the wrong size counts as missing."""
        path = self.path(name)
        try:
            f = open(path, "rb")  # noqa: SIM115 - returned open to the caller
        except FileNotFoundError:
            return None
        if os.fstat(f.fileno()).st_size != size:
            f.close()
            path.unlink(missing_ok=True)  # damaged: never serve it
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # mark as recently used; evictions go by mtime
        return f

    def fill(self, name: str, size: int, source: BinaryIO) -> BinaryIO | None:
        """Copy ``size`` bytes from ``source`` into the entry and return it open for reading.

        Returns ``None`` (and caches nothing) when ``source`` does not hold exactly
        ``size`` bytes. Two processes filling one entry both succeed: each renames a
        complete temp file into place.
        """
        tmp = self.folder / "tmp" / f"{os.getpid()}-{secrets.token_hex(8)}"
        try:
            with open(tmp, "wb") as out:
                copied = 0
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                    copied += len(chunk)
                    if copied > size:
                        break
                out.flush()
                os.fsync(out.fileno())
            if copied != size:
                return None
            reader = open(tmp, "rb")  # noqa: SIM115 - stays valid however soon the entry is evicted
            try:
                os.replace(tmp, self.path(name))
            except OSError:
                reader.close()
                raise
        finally:
            tmp.unlink(missing_ok=True)
        self.evict()
        return reader

    def drop(self, name: str) -> None:
        """Remove the entry for ``name`` if there is one."""
        self.path(name).unlink(missing_ok=True)

    def usage(self) -> int:
        """Bytes held by complete entries."""
        return sum(size for _, size, _ in self._entries())

    def _entries(self) -> list[tuple[float, int, Path]]:
        out = []
        with os.scandir(self.folder / "objects") as it:
            for entry in it:
                try:
                    st = entry.stat()
                except FileNotFoundError:  # evicted by another process meanwhile
                    continue
                out.append((st.st_mtime, st.st_size, Path(entry.path)))
        return out

    def evict(self) -> None:
        """Remove least recently used entries until the folder is within capacity."""
        entries = sorted(self._entries())
        used = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if used <= self.capacity:
                break
            path.unlink(missing_ok=True)
            used -= size
        now = time.time()
        with os.scandir(self.folder / "tmp") as it:  # temp files of killed fillers
            for entry in it:
                try:
                    if now - entry.stat().st_mtime > _STALE_TMP_S:
                        os.unlink(entry.path)
                except FileNotFoundError:
                    pass


class CachedStore(WrappedStore):
    """Cache reads of ``inner``: small objects in memory, large ones on disk.

    Args:
        inner: The store to cache.
        memory_bytes: Bound of the in-memory cache (per process).
        max_object_bytes: Largest object kept in memory; larger ones go to disk.
        disk_dir: Folder of the disk cache for large objects (none by default);
            processes may share it.
        disk_bytes: Bound of the disk cache.

    Raises:
        ConfigError: A bound is negative.

    Example:
        >>> s3 = open_store("s3://bucket/team")  # doctest: +SKIP
        >>> store = CachedStore(s3, disk_dir="/tmp/altakit-cache")  # doctest: +SKIP
    """

    def __init__(
        self,
        inner: Store,
        memory_bytes: int = GiB,
        max_object_bytes: int = 16 << 20,
        disk_dir: str | os.PathLike | None = None,
        disk_bytes: int = 8 * GiB,
    ) -> None:
        super().__init__(inner)
        for label, value in (
            ("memory_bytes", memory_bytes),
            ("max_object_bytes", max_object_bytes),
            ("disk_bytes", disk_bytes),
        ):
            if not isinstance(value, int) or value < 0:
                raise ConfigError(
                    f"{label}={value!r} must be a whole number of bytes >= 0", hint="e.g. 1 << 30"
                )
        self.memory_bytes = memory_bytes
        self.max_object_bytes = min(max_object_bytes, memory_bytes)
        self.disk_bytes = disk_bytes
        self.disk_dir = None if disk_dir is None else Path(disk_dir).expanduser().resolve()
        self._setup()

    def _setup(self) -> None:
        self._memory = _MemoryLRU(self.memory_bytes)
        self._disk = DiskCache(self.disk_dir, self.disk_bytes, self.inner.url) if self.disk_dir else None
        self._known: OrderedDict[tuple[str, str], Version] = OrderedDict()
        self._odd: set[str] = set()  # names whose bytes do not match the size in the name
        self._lock = threading.Lock()
        self.stats: dict[str, int] = {"memory_hits": 0, "disk_hits": 0, "misses": 0}

    def __getstate__(self) -> dict[str, Any]:
        # a worker starts with an empty memory cache; the disk cache folder is shared
        keep = ("inner", "url", "writer", "memory_bytes", "max_object_bytes", "disk_bytes", "disk_dir")
        return {k: self.__dict__[k] for k in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setup()

    def clear(self) -> None:
        """Forget the memory cache and the version ids seen (the disk cache stays)."""
        self._setup()

    # ------------------------------------------------------------- versions
    def _remember(self, versions: list[Version]) -> None:
        with self._lock:
            for v in versions:
                self._known[(v.key, v.id)] = v
                self._known.move_to_end((v.key, v.id))
            while len(self._known) > _KNOWN_VERSIONS:
                self._known.popitem(last=False)

    def versions(self, key: str) -> list[Version]:
        found = super().versions(key)
        self._remember(found)
        return found

    def resolve(
        self, key: str, version: str | Version | None = None, *, as_of: datetime | None = None
    ) -> Version:
        """As :meth:`Store.resolve`; a version id seen before resolves without the inner store."""
        if isinstance(version, str) and as_of is None:
            with self._lock:
                known = self._known.get((key, validate_id(version)))
            if known is not None:
                return known
        return super().resolve(key, version, as_of=as_of)

    def get(self, key: str, version: str | Version | None = None, *, as_of: datetime | None = None) -> bytes:
        """As :meth:`Store.get`; a version already in memory returns without any further work."""
        if type(version) is str and as_of is None:  # the hot path: a known id, bytes in memory
            known = self._known.get((key, version))  # a plain dict read is atomic under the GIL
            data = self._memory.get(known.name) if known is not None else None
            if data is not None:
                self._count("memory_hits")
                return data
        v = self.resolve(key, version, as_of=as_of)
        data = self._memory.get(v.name)
        if data is not None:
            self._count("memory_hits")
            return data
        return super().get(key, v)

    # ------------------------------------------------------------- primitives
    def _write(self, name: str, source: Source) -> None:
        self._forget(name)  # only ever true when a version is overwritten on purpose (tests, repair)
        self.inner._write(name, source)
        version = parse_name(name)
        if version is not None:
            self._remember([version])

    def _remove(self, name: str) -> None:
        self._forget(name)
        version = parse_name(name)
        if version is not None:
            with self._lock:
                self._known.pop((version.key, version.id), None)
        self.inner._remove(name)

    def _forget(self, name: str) -> None:
        self._memory.drop(name)
        self._odd.discard(name)
        if self._disk is not None:
            self._disk.drop(name)

    def _count(self, what: str) -> None:
        self.stats[what] += 1  # diagnostics: no lock on the hot path (threads may lose a count)

    def _cached(self, name: str, size: int) -> bytes | BinaryIO | None:
        data = self._memory.get(name)
        if data is not None:
            self._count("memory_hits")
            return data
        if self._disk is not None and size > self.max_object_bytes:
            f = self._disk.open(name, size)
            if f is not None:
                self._count("disk_hits")
                return f
        return None

    def _fill(self, name: str, size: int) -> bytes | BinaryIO | None:
        """Fetch a whole object into the cache; ``None`` if it does not belong there."""
        if name in self._odd:
            return None
        if size <= self.max_object_bytes:
            data = self.inner._read_range(name, 0, size + 1)  # one byte more: catch a longer object
            version = parse_name(name)
            if len(data) == size and version is not None and checksum(data) == version.checksum:
                self._memory.put(name, data)  # verified once here, so a memory hit needs no re-hash
                return data
        elif self._disk is not None and size <= self.disk_bytes:
            with self.inner._open_raw(name, size) as source:
                f = self._disk.fill(name, size, source)
            if f is not None:
                return f
        else:
            return None
        if len(self._odd) >= _KNOWN_VERSIONS:
            self._odd.clear()
        self._odd.add(name)  # its bytes do not match its name: damaged, or under another wrapper
        return None

    def _lookup(self, name: str, size: int) -> bytes | BinaryIO | None:
        found = self._cached(name, size)
        if found is None:
            self._count("misses")
            found = self._fill(name, size)
        return found

    def _read_range(self, name: str, start: int, stop: int) -> bytes:
        version = parse_name(name)
        if version is None:
            return self.inner._read_range(name, start, stop)
        found = self._lookup(name, version.size)
        if found is None:
            return self.inner._read_range(name, start, stop)
        if isinstance(found, bytes):
            return found[start:stop]
        with found:
            return os.pread(found.fileno(), max(0, min(stop, version.size) - start), start)

    def _open_raw(self, name: str, size: int) -> BinaryIO:
        found = self._lookup(name, size)
        if found is None:
            return self.inner._open_raw(name, size)
        return io.BytesIO(found) if isinstance(found, bytes) else found
