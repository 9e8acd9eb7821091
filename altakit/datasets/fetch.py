"""Fetch shard bytes: local shards memory-mapped, verified once per unchanged version.

A shard the store holds as a local file (``Store._open_file``: the local store)
is mapped read-only (no copy: the batch gathers read the page cache directly).
With ``verify=True`` its SHA-256 is checked the first time a version is read and
then trusted while the file is unchanged: the check is recorded under the
version name and the file's identity (device, inode, size, mtime, ctime), in
this process and as an empty marker file in a private folder next to the shard
cache, so DataLoader workers and later runs share it. Any change to the file (a
rewrite, a damaged byte written in place) changes its ctime and the shard is
verified again. ``altakit dataset verify`` reads with ``trust=False`` and
re-checks every byte.

Remote shards stream through a bounded local cache (content-addressed by
checksum, shared by DataLoader workers through a file lock), verified when
they enter it and size-checked when read from it.

Example:
    >>> fetcher = ShardFetcher(store, None, 0)  # doctest: +SKIP
    >>> shard = fetcher.fetch("digits", ds.manifest["shards"][0])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any

from altakit.datasets.shards import Members, Shard, _where, index_shard
from altakit.errors import CorruptObject, DataError, NotFound
from altakit.store.base import Store
from altakit.store.names import checksum

CACHE_ENV = "ALTAKIT_SHARD_CACHE"
_seen: dict[str, set[str]] = {}  # marker folder -> records known to this process


def cache_base() -> Path:
    """``$ALTAKIT_SHARD_CACHE`` or ``<tmp>/altakit-shard-cache``."""
    return Path(os.environ.get(CACHE_ENV) or os.path.join(tempfile.gettempdir(), "altakit-shard-cache"))


def default_cache_dir(store: Store) -> Path | None:
    """No cache for local stores; :func:`cache_base` for the others."""
    return None if store.url.startswith("file:") else cache_base()


class Trust:
    """Which shard versions were verified, per unchanged file (this process and a marker folder).

    Args:
        folder: Marker folder, used only if it is this user's and not writable by others.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder if folder is not None and _private(folder) else None
        self._seen = _seen.setdefault(str(folder), set())

    @staticmethod
    def key(ident: str, st: os.stat_result) -> str:
        """The record of the version named ``ident`` as the file described by ``st``."""
        found = (ident, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        return hashlib.sha256(repr(found).encode()).hexdigest()[:40]

    def __contains__(self, key: str) -> bool:
        return key in self._seen or (self.folder is not None and (self.folder / key).exists())

    def add(self, key: str) -> None:
        """Record a verified version (the marker is best effort)."""
        self._seen.add(key)
        if self.folder is not None:
            with contextlib.suppress(OSError):
                (self.folder / key).touch()


def _private(folder: Path) -> bool:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = folder.stat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def map_file(f: Any) -> tuple[Any, os.stat_result]:
    """A read-only map of an open file (``b""`` when empty) and the file's stat."""
    st = os.fstat(f.fileno())
    data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if st.st_size else b""
    return data, st


class ShardFetcher:
    """Fetch shard bytes from a store, through a bounded local cache for remote stores.

    Args:
        store: The store.
        cache_dir: Local cache folder; ``None`` = no cache (the default for local stores).
        cache_bytes: Evict least recently used shards beyond this many bytes.
        verify: Check the bytes against the store's checksum (else the size only).
        trust: Skip the check for a version already verified while its file is unchanged.
    """

    def __init__(
        self,
        store: Store,
        cache_dir: str | os.PathLike | None,
        cache_bytes: int,
        verify: bool = True,
        trust: bool = True,
    ) -> None:
        self.store, self.cache_bytes, self.verify = store, cache_bytes, verify
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        base = self.cache_dir if self.cache_dir is not None else cache_base()
        self.trust = Trust(base / f"verified-{os.getuid()}") if trust else None
        self.downloads = 0
        self.cache_hits = 0
        self.verified = 0  # shard versions hashed by this fetcher
        self._lock = threading.Lock()  # shards are fetched on two threads

    def fetch(self, dataset: str, entry: dict[str, Any]) -> Shard:
        """Read and index one manifest shard entry."""
        where = {"dataset": dataset, "shard": entry["key"]}
        try:
            data = self._bytes(entry)
        except CorruptObject as exc:
            raise DataError(f"{_where(where)}: {exc.message}", **where) from exc
        except NotFound as exc:
            raise DataError(
                f"{_where(where)}: shard missing from the store ({exc.message})", **where
            ) from exc
        if len(data) != entry["bytes"]:
            raise DataError(f"{_where(where)}: {len(data)} bytes, manifest says {entry['bytes']}", **where)
        members: Members = {}
        if "members" not in entry:
            keys, starts, sizes, members = index_shard(data, where, int(entry["count"]))
        else:  # an imported plain WebDataset shard: one member per field
            from altakit.datasets.members import transcode

            data, keys, starts, sizes = transcode(data, where, entry["members"])
        if len(starts) != entry["count"]:
            raise DataError(
                f"{_where(where)}: {len(starts)} samples, manifest says {entry['count']}",
                key=keys[-1] if isinstance(keys, list) and keys else None,
                hint="the manifest disagrees with the shard; rewrite the dataset version",
                **where,
            )
        return Shard(entry["key"], data, keys, starts, sizes, members)

    def _bytes(self, entry: dict[str, Any]) -> Any:
        if self.cache_dir is not None:
            return self._cached(entry)
        with self._lock:
            self.downloads += 1
        version = self.store.resolve(entry["key"], entry["version"])
        file = self.store._open_file(version.name)  # a local file (local store): map it, no copy
        if file is not None:
            with file as f:
                data, st = map_file(f)
                if st.st_size == version.size:  # else fetch() names the size mismatch
                    self._check(version.name, version.checksum, data, f)
            return data
        if self.verify:
            return self.store.get(entry["key"], version)
        return self.store._read_range(version.name, 0, version.size)  # size checked by fetch()

    def _check(self, ident: str, expected: str, data: Any, f: Any) -> None:
        """Verify ``data`` (all of open file ``f``) against ``expected`` unless trusted; record it."""
        if not self.verify:
            return
        key = Trust.key(ident, os.fstat(f.fileno()))
        if self.trust is not None and key in self.trust:
            return
        if checksum(data) != expected:
            raise CorruptObject(
                f"object {ident!r} fails its checksum",
                name=ident,
                hint="the stored bytes were changed after writing; read an older version",
            )
        with self._lock:
            self.verified += 1
        if self.trust is not None and Trust.key(ident, os.fstat(f.fileno())) == key:  # unchanged meanwhile
            self.trust.add(key)

    def _cached(self, entry: dict[str, Any]) -> Any:
        assert self.cache_dir is not None
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        path = self.cache_dir / f"{entry['checksum']}-{entry['bytes']}.tar"
        data = self._hit(path)
        if data is not None:
            return data
        with open(self.cache_dir / f"{path.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one download per shard across workers
            try:
                data = self._hit(path)
                if data is not None:
                    return data
                data = self.store.get(entry["key"], entry["version"])  # verified on the way in
                with self._lock:
                    self.downloads += 1
                fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".part")
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self._evict(keep=path)
        return data

    def _hit(self, path: Path) -> Any:
        """The cached shard (verified when it was cached; fetch() checks its size), or ``None``."""
        try:  # another thread or worker may evict it between any two calls
            os.utime(path)
            with open(path, "rb") as f:
                data, _ = map_file(f)
        except FileNotFoundError:
            return None
        with self._lock:
            self.cache_hits += 1
        return data

    def _evict(self, keep: Path) -> None:
        assert self.cache_dir is not None
        files = []
        for p in self.cache_dir.glob("*.tar"):
            try:
                st = p.stat()
            except FileNotFoundError:  # evicted meanwhile by another thread or worker
                continue
            files.append((st.st_mtime, st.st_size, p))
        total = sum(size for _, size, _ in files)
        for _, size, p in sorted(files):
            if total <= self.cache_bytes:
                break
            if p != keep:
                p.unlink(missing_ok=True)
                total -= size
