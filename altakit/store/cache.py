"""A read cache around any store: whole objects in memory, large ones on a local disk.

Versions are immutable, so a cached object is never stale: the cache is keyed
by object name (key, version id, size and checksum) and needs no invalidation.
Small objects (up to ``max_object_bytes``) live in an in-process LRU bounded by
``memory_bytes``; larger ones, when ``disk_dir`` is given, are copied whole into
a folder bounded by ``disk_bytes`` that several processes (DataLoader workers)
may fill at once: entries are written to a temp file and renamed into place, so
a reader sees a whole entry or none, and the least recently used entries are
evicted after every fill. Every entry is checked against its version's checksum
as it is filled and again the first time a process uses it (then a range read
of it is served without reading the rest); an entry that fails, or a full read
that fails its checksum, drops the entry and reads the inner store again, so a
damaged entry heals instead of failing every later read. Version ids a cache
has seen resolve without asking the inner store, so ``store.get(key, version=id)``
of a cached version makes no call to it at all; the latest version and listings
always come from the inner store. Put the cache outermost (around an
:class:`~altakit.store.crypto.EncryptedStore`, not inside one) so it holds
plaintext and decrypts once.

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
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from altakit.errors import AccessDenied, ConfigError, CorruptObject
from altakit.store.base import Store
from altakit.store.names import CHECKSUM_HEX, Version, checksum, parse_name, validate_id
from altakit.store.sources import CHUNK, Source, hash_fd
from altakit.store.wrap import WrappedStore

T = TypeVar("T")
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

    Entries are checked with ``accept(digest)`` (``digest``: the SHA-256 prefix of the
    bytes) when filled, and once per process and entry file before :meth:`open`
    first returns it; an entry that fails is removed.

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
        self._verified: set[tuple[str, int, int]] = set()  # (name, device, inode) checked here
        self.healed = 0  # damaged entries removed

    def path(self, name: str) -> Path:
        """Where the entry for object ``name`` lives."""
        digest = hashlib.sha256(f"{self.namespace}\0{name}".encode()).hexdigest()
        return self.folder / "objects" / digest

    def open(self, name: str, size: int, accept: Callable[[str], bool]) -> BinaryIO | None:
        """The cached entry, or ``None``; an entry that fails its size or ``accept`` is removed.

        The whole entry is hashed the first time this object opens it (per entry
        file: an entry replaced meanwhile is checked again), so a range of it is
        right even when the caller reads no more than that range.
        """
        path = self.path(name)
        try:
            f = open(path, "rb")  # noqa: SIM115 - returned open to the caller
        except FileNotFoundError:
            return None
        st = os.fstat(f.fileno())
        mark = (name, st.st_dev, st.st_ino)
        if st.st_size != size or (mark not in self._verified and not accept(hash_fd(f.fileno())[1])):
            f.close()
            self._remove(path, st)  # damaged: never serve it
            return None
        self._mark(mark)
        with contextlib.suppress(OSError):
            os.utime(path)  # mark as recently used; evictions go by mtime
        return f

    def fill(self, name: str, size: int, source: BinaryIO, accept: Callable[[str], bool]) -> BinaryIO | None:
        """Copy ``size`` bytes from ``source`` into the entry and return it open for reading.

        The bytes are hashed as they are copied. Returns ``None`` (and caches nothing)
        when ``source`` does not hold exactly ``size`` bytes or their digest fails
        ``accept``. Two processes filling one entry both succeed: each renames a
        complete temp file into place.
        """
        tmp = self.folder / "tmp" / f"{os.getpid()}-{secrets.token_hex(8)}"
        h = hashlib.sha256()
        try:
            with open(tmp, "wb") as out:
                copied = 0
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    copied += len(chunk)
                    if copied > size:
                        break
                out.flush()
                os.fsync(out.fileno())
            if copied != size or not accept(h.hexdigest()[:CHECKSUM_HEX]):
                return None
            reader = open(tmp, "rb")  # noqa: SIM115 - stays valid however soon the entry is evicted
            try:
                os.replace(tmp, self.path(name))
            except OSError:
                reader.close()
                raise
        finally:
            tmp.unlink(missing_ok=True)
        st = os.fstat(reader.fileno())
        self._mark((name, st.st_dev, st.st_ino))
        self.evict()
        return reader

    def drop(self, name: str) -> bool:
        """Remove the entry for ``name`` if there is one; True if there was."""
        try:
            self.path(name).unlink()
        except FileNotFoundError:
            return False
        return True

    def _mark(self, mark: tuple[str, int, int]) -> None:
        if len(self._verified) >= _KNOWN_VERSIONS:
            self._verified.clear()
        self._verified.add(mark)

    def _remove(self, path: Path, st: os.stat_result) -> None:
        """Unlink a damaged entry unless another process has put a new one in its place."""
        with contextlib.suppress(OSError):
            now = os.stat(path)
            if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                path.unlink()
                self.healed += 1

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
        self._dropped: set[str] = set()  # names whose disk entry failed a verifying read
        self._lock = threading.Lock()
        # and "healed" (damaged cache entries dropped) once one is
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
        return self._healing(v, lambda: super(CachedStore, self).get(key, v))

    def read_verified(
        self,
        key: str,
        read: Callable[[BinaryIO], T],
        version: str | Version | None = None,
        *,
        as_of: datetime | None = None,
    ) -> T:
        """As :meth:`Store.read_verified`; bytes of a cache entry that fail are read again from ``inner``."""
        v = self.resolve(key, version, as_of=as_of)
        return self._healing(v, lambda: super(CachedStore, self).read_verified(key, read, v))

    def _healing(self, v: Version, read: Callable[[], T]) -> T:
        """``read()``; if its bytes fail their checksum and came from the cache, drop them and retry once."""
        try:
            return read()
        except CorruptObject:
            if v.name not in self._dropped:
                raise  # no cache entry failed: the inner store's bytes are damaged
        return read()

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

    def _forget(self, name: str) -> bool:
        """Drop ``name`` from both caches; True if the disk cache held it."""
        self._memory.drop(name)
        self._odd.discard(name)
        return self._disk is not None and self._disk.drop(name)

    def _count(self, what: str) -> None:
        # diagnostics: no lock on the hot path (threads may lose a count)
        self.stats[what] = self.stats.get(what, 0) + 1

    def _name_checksum(self, version: Version | None, digest: str) -> str:
        """As the inner store's; bytes of ``version`` that fail it drop its cache entry.

        Every verifying read (``get``, ``read_verified``, a whole ``open`` stream) checks
        through here, so the read after a failed one fetches the bytes anew.
        """
        named = self.inner._name_checksum(version, digest)
        if version is not None and named != version.checksum and self._forget(version.name):
            self._count("healed")
            if len(self._dropped) >= _KNOWN_VERSIONS:
                self._dropped.clear()
            self._dropped.add(version.name)
        return named

    def _matcher(self, version: Version) -> Callable[[str], bool]:
        """Whether a SHA-256 prefix is that of ``version``'s bytes (as the inner store names them)."""
        return lambda digest: self.inner._name_checksum(version, digest) == version.checksum

    def _cached(self, version: Version) -> bytes | BinaryIO | None:
        name = version.name
        data = self._memory.get(name)
        if data is not None:
            self._count("memory_hits")
            return data
        if self._disk is not None and version.size > self.max_object_bytes:
            healed = self._disk.healed
            f = self._disk.open(name, version.size, self._matcher(version))
            if self._disk.healed != healed:
                self._count("healed")
            if f is not None:
                self._count("disk_hits")
                return f
        return None

    def _fill(self, version: Version) -> bytes | BinaryIO | None:
        """Fetch a whole object into the cache; ``None`` if it does not belong there."""
        name, size = version.name, version.size
        if name in self._odd:
            return None
        if size <= self.max_object_bytes:
            data = self.inner._read_range(name, 0, size + 1)  # one byte more: catch a longer object
            if len(data) == size and self._matcher(version)(checksum(data)):
                self._memory.put(name, data)  # verified once here, so a memory hit needs no re-hash
                return data
        elif self._disk is not None and size <= self.disk_bytes:
            with self.inner._open_raw(name, size) as source:
                f = self._disk.fill(name, size, source, self._matcher(version))
            if f is not None:
                return f
        else:
            return None
        if len(self._odd) >= _KNOWN_VERSIONS:
            self._odd.clear()
        self._odd.add(name)  # its bytes do not match its name: damaged, or under another wrapper
        return None

    def _lookup(self, version: Version) -> bytes | BinaryIO | None:
        found = self._cached(version)
        if found is None:
            self._count("misses")
            found = self._fill(version)
        return found

    def _read_range(self, name: str, start: int, stop: int) -> bytes:
        version = parse_name(name)
        if version is None:
            return self.inner._read_range(name, start, stop)
        found = self._lookup(version)
        if found is None:
            return self.inner._read_range(name, start, stop)
        if isinstance(found, bytes):
            return found[start:stop]
        with found:
            return os.pread(found.fileno(), max(0, min(stop, version.size) - start), start)

    def _open_raw(self, name: str, size: int) -> BinaryIO:
        version = parse_name(name)
        found = None if version is None or version.size != size else self._lookup(version)
        if found is None:
            return self.inner._open_raw(name, size)
        return io.BytesIO(found) if isinstance(found, bytes) else found
