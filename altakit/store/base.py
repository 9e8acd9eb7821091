"""The Store: versioned objects on top of a handful of backend primitives.

A backend implements five primitives (``_write``, ``_read_range``, ``_scan``,
``_remove`` and optionally ``_open_raw`` / ``_names_of`` / ``_copy`` for speed);
this base class derives versioning, "as of" reads, listing by pattern,
verification, copy and delete once for every backend. The plumbing lives
beside it: :mod:`~altakit.store.readers` (raw and verifying streams),
:mod:`~altakit.store.sources` (write sources, spooling, hashing) and
:mod:`~altakit.store.stream` (streamed writes).

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> v1 = store.put("notes/a.txt", b"hello")
    >>> v2 = store.put("notes/a.txt", b"hello again")
    >>> store.get("notes/a.txt"), store.get("notes/a.txt", version=v1.id)
    (b'hello again', b'hello')
"""

from __future__ import annotations

import abc
import fnmatch
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, TypeVar

from altakit.errors import ConfigError, InvalidKey, NotFound
from altakit.store.names import (
    CATALOG_PREFIX,
    SEP,
    Version,
    checksum,
    clean_writer,
    default_writer,
    id_for_time,
    new_id,
    parse_name,
    validate_id,
    validate_key,
    validate_prefix,
)
from altakit.store.readers import RangeReader, VerifiedReader, verify
from altakit.store.sources import Background, Source, hash_fd, hash_file, spooled
from altakit.store.stream import MemorySpool, Spool, VersionWriter

T = TypeVar("T")

#: What ``put`` accepts: bytes-like data, a path, or a readable binary file.
Data = bytes | bytearray | memoryview | os.PathLike | IO[bytes]
#: Buffer in front of ``Store.open`` streams: small, so a seek and a short read stay cheap.
READ_BUFFER = 1024 * 1024
#: Objects this large are hashed on a second thread while the backend stages them.
PARALLEL_HASH_FROM = 4 * 1024 * 1024


#: What ``Store._level`` returns entries as: ``(marker, None)`` for a folder, ``(marker, names)`` for a key.
Entries = list[tuple[str, list[str] | None]]


@dataclass
class Page:
    """One page of a folder listing (:meth:`Store.list_page`).

    Attributes:
        prefix: The folder listed (``""`` or ending with ``/``).
        folders: Sub-folders on this page, as full prefixes ending with ``/``.
        keys: The latest version of each key on this page.
        next: The cursor of the next page, ``None`` after the last.
    """

    prefix: str
    folders: list[str]
    keys: list[Version]
    next: str | None


class Store(abc.ABC):
    """A versioned object store. Open one with :func:`altakit.open_store`.

    Args:
        url: The URL the store was opened with (kept for pickling and display).
        writer: Name recorded as the writer of new versions (default ``user@host``).
    """

    def __init__(self, url: str, *, writer: str | None = None) -> None:
        self.url = url
        self.writer = clean_writer(writer) if writer else default_writer()

    @property
    def plain_checksums(self) -> bool:
        """Whether ``Version.checksum`` is the first 32 hex digits of the bytes' SHA-256 (an encrypted
        store names an HMAC instead)."""
        return True

    # ---------------------------------------------------------------- primitives
    @abc.abstractmethod
    def _write(self, name: str, source: Source) -> None:
        """Create object ``name`` atomically from bytes or a local file."""

    @abc.abstractmethod
    def _read_range(self, name: str, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` of object ``name`` (fewer only if it is shorter)."""

    @abc.abstractmethod
    def _scan(self, prefix: str, recursive: bool) -> Iterator[str]:
        """Names of all objects whose name starts with ``prefix``.

        With ``recursive=False`` only names with no ``/`` after ``prefix``.
        """

    @abc.abstractmethod
    def _remove(self, name: str) -> None:
        """Physically remove object ``name`` (used by ``purge`` only)."""

    def _names_of(self, key: str) -> Iterator[str]:
        """Names of all versions of ``key``."""
        return self._scan(f"{key}✹", recursive=False)

    def _open_raw(self, name: str, size: int) -> BinaryIO:
        """A seekable binary stream over object ``name``."""
        return io.BufferedReader(RangeReader(self._read_range, name, size), buffer_size=1024 * 1024)

    def _stage(self, source: Source) -> Any:
        """Begin writing ``source`` where no reader sees it; runs while the checksum is computed.

        The default stages nothing and leaves all the work to :meth:`_commit`.
        """
        return source

    def _commit(self, staged: Any, name: str) -> None:
        """Make a staged write visible atomically as object ``name``."""
        self._write(name, staged)

    def _discard(self, staged: Any) -> None:
        """Clean up a staged write that will not be committed."""

    def _open_spool(self) -> Spool:
        """Where :meth:`open_writer` collects bytes until commit (default: memory, then ``_stage``)."""
        return MemorySpool(self._stage)

    def _open_file(self, name: str) -> BinaryIO | None:
        """Object ``name`` as an open local file holding exactly its bytes, or None (the default)."""
        return None

    def _copy(self, src: str, dst: str) -> None:
        """Copy object ``src`` to the new name ``dst`` (override for server-side copy)."""
        version = parse_name(src)
        assert version is not None
        with self._open_raw(src, version.size) as raw, spooled(raw) as (path, _, _):
            self._write(dst, path)

    def close(self) -> None:
        """Release connections or processes; the store reopens them lazily on use."""

    # ------------------------------------------------------------------- writing
    def put(self, key: str, data: Data, *, reserved: bool = False) -> Version:
        """Write a new version of ``key``.

        Args:
            key: Where to write, e.g. ``"raw/day1.csv"``.
            data: Bytes, a ``pathlib.Path`` to a local file, or a readable binary file.
            reserved: Allow a key under the reserved prefix ``_altakit/`` (see :meth:`check_writable`).

        Returns:
            The new :class:`Version`.

        Raises:
            InvalidKey: A malformed key, or a key under ``_altakit/`` without ``reserved=True``.

        Example:
            >>> v = store.put("raw/day1.csv", Path("day1.csv"))  # doctest: +SKIP
        """
        self.check_writable(key, reserved=reserved)
        if isinstance(data, bytes | bytearray | memoryview):
            view = memoryview(data)
            return self._put(key, view, view.nbytes, lambda: checksum(view))
        if isinstance(data, str):
            raise ConfigError(
                "put() got a str; it is ambiguous",
                key=key,
                hint="pass pathlib.Path(...) for a file, or text.encode() for its bytes",
            )
        if isinstance(data, os.PathLike):
            path = Path(data)
            if not path.is_file():
                raise NotFound(f"no such file {str(path)!r}", path=str(path))
            size = path.stat().st_size

            def digest() -> str:
                hashed_size, hashed = hash_file(path)
                if hashed_size != size:
                    raise ConfigError(f"{str(path)!r} changed while it was being stored", key=key)
                return hashed

            return self._put(key, path, size, digest)
        if hasattr(data, "read"):
            with spooled(data) as (path, size, hashed):
                return self._put(key, path, size, lambda: hashed)
        raise ConfigError(f"put() cannot store a {type(data).__name__}", key=key)

    def _put(self, key: str, source: Source, size: int, digest: Callable[[], str]) -> Version:
        """Stage ``source`` while its checksum is computed, then commit it under its version name."""
        if size < PARALLEL_HASH_FROM:
            digested, staged = digest(), self._stage(source)
        else:  # hashing releases the GIL: stage (write a temp file, upload …) on the other core
            hasher = Background(digest)
            staged = self._stage(source)
            digested = hasher.result()
        version = self._new_version(key, size, digested)
        try:
            self._commit(staged, version.name)
        except BaseException:
            self._discard(staged)
            raise
        return version

    def open_writer(self, key: str, *, reserved: bool = False) -> VersionWriter:
        """A write-only binary file whose bytes become a new version of ``key`` when it closes.

        For producers that write a stream (``torch.save``, ``zipfile``): the bytes are
        staged where no reader sees them and hashed on a second thread as they pass,
        so nothing is held twice and the checksum is ready when the producer is done.
        Leaving the ``with`` block normally commits (the new version is then in
        ``f.version``); an exception, ``f.abort()`` or a killed process commits nothing.

        Example:
            >>> with store.open_writer("models/net.pt") as f:  # doctest: +SKIP
            ...     torch.save(model.state_dict(), f)
            >>> f.version  # doctest: +SKIP
        """
        self.check_writable(key, reserved=reserved)
        return VersionWriter(self, key, self._open_spool())

    def delete(self, key: str, *, reserved: bool = False) -> Version:
        """Delete ``key`` by writing a tombstone version; older versions stay readable."""
        self.check_writable(key, reserved=reserved)
        self.info(key)  # NotFound if missing or already deleted
        version = Version(key, new_id(), 0, "", self.writer, deleted=True)
        self._write(version.name, b"")
        return version

    def copy(
        self, src: str, dst: str, *, version: str | Version | None = None, reserved: bool = False
    ) -> Version:
        """Copy a version of ``src`` (latest by default) to a new version of ``dst``."""
        self.check_writable(dst, reserved=reserved)
        source = self.resolve(src, version)
        # the source's name already holds the checksum as this store names it: keep it as is
        target = Version(dst, new_id(), source.size, source.checksum, self.writer)
        self._copy(source.name, target.name)
        return target

    def purge(self, key: str, version: str | Version, *, reserved: bool = False) -> None:
        """Physically remove one version (retention policies only; prefer ``delete``)."""
        self.check_writable(key, reserved=reserved)
        self._remove(self.resolve(key, version).name)

    # ------------------------------------------------------------------- reading
    def versions(self, key: str) -> list[Version]:
        """Every version of ``key``, oldest first, tombstones included."""
        validate_key(key)  # not the length limit: a key written before stays readable
        found = (parse_name(name) for name in self._names_of(key))
        return sorted((v for v in found if v is not None and v.key == key), key=lambda v: v.id)

    def resolve(
        self, key: str, version: str | Version | None = None, *, as_of: datetime | None = None
    ) -> Version:
        """The version a read of ``key`` would see.

        Args:
            key: The key.
            version: A version id or :class:`Version`; ``None`` for the latest.
            as_of: The latest version written at or before this aware datetime.

        Raises:
            NotFound: No such key or version, or the key is deleted at that point.
        """
        if isinstance(version, Version):
            if version.key != key:
                raise ConfigError(f"version {version.id} belongs to {version.key!r}, not {key!r}")
            return version
        history = self.versions(key)
        if version is not None:
            validate_id(version)
            for v in history:
                if v.id == version:
                    return v
            raise NotFound(f"{key!r} has no version {version!r}", key=key, version=version)
        if as_of is not None:
            bound = id_for_time(as_of)
            history = [v for v in history if v.id < bound]
        if not history:
            when = f" as of {as_of.isoformat()}" if as_of else ""
            raise NotFound(f"no such key {key!r}{when} in {self.url}", key=key, url=self.url)
        latest = history[-1]
        if latest.deleted:
            raise NotFound(
                f"{key!r} was deleted (version {latest.id})",
                key=key,
                hint="read an older version with version=… from store.versions(key)",
            )
        return latest

    def info(
        self, key: str, version: str | Version | None = None, *, as_of: datetime | None = None
    ) -> Version:
        """The :class:`Version` a read of ``key`` would see (same as :meth:`resolve`)."""
        return self.resolve(key, version, as_of=as_of)

    def exists(self, key: str) -> bool:
        """True if ``key`` has a latest version that is not a tombstone."""
        try:
            self.resolve(key)
        except NotFound:
            return False
        return True

    def get(self, key: str, version: str | Version | None = None, *, as_of: datetime | None = None) -> bytes:
        """All bytes of a version of ``key``, verified against its size and checksum."""
        v = self.resolve(key, version, as_of=as_of)
        data = self._read_range(v.name, 0, v.size)
        self._verify(v, len(data), checksum(data))
        return data

    def read_verified(
        self,
        key: str,
        read: Callable[[BinaryIO], T],
        version: str | Version | None = None,
        *,
        as_of: datetime | None = None,
    ) -> T:
        """``read(file)`` over a version of ``key``, returned only if its bytes verify.

        ``read`` gets a seekable binary file over the version while a second thread
        checks size and checksum, so the time is about the longer of the two instead
        of their sum. If ``read`` fails on bytes that fail their checksum, the
        :class:`~altakit.errors.CorruptObject` is raised instead of its error.

        Raises:
            NotFound: No such key or version.
            CorruptObject: The bytes fail their size or checksum.

        Example:
            >>> load = lambda f: torch.load(f, weights_only=True)  # doctest: +SKIP
            >>> state = store.read_verified("ckpt/state", load)  # doctest: +SKIP
        """
        v = self.resolve(key, version, as_of=as_of)
        file = self._open_file(v.name)
        if file is None:  # the bytes in memory, hashed while ``read`` parses them
            data = self._read_range(v.name, 0, v.size)
            hasher = Background(lambda: (len(data), checksum(data)))
            file = io.BytesIO(data)
        else:  # hash the file through a map of it: no copy, no shared file position
            hasher = Background(lambda: hash_fd(file.fileno()))
        with file:
            try:
                result = read(file)
            except Exception:
                self._verify(v, *hasher.result())  # damaged bytes explain the failure best
                raise
            finally:
                hasher.thread.join()  # it reads the file: close it only after
        self._verify(v, *hasher.result())
        return result

    def open(
        self, key: str, version: str | Version | None = None, *, as_of: datetime | None = None
    ) -> BinaryIO:
        """A seekable binary file over a version of ``key``; large objects stream.

        Size is checked on every read; the checksum is checked when the file is
        read from start to end without seeking.

        Example:
            >>> with store.open("raw/day1.csv") as f:  # doctest: +SKIP
            ...     header = f.readline()
        """
        v = self.resolve(key, version, as_of=as_of)
        reader = VerifiedReader(v, self._open_raw(v.name, v.size), self._name_checksum)
        return io.BufferedReader(reader, buffer_size=READ_BUFFER)

    def list(self, prefix: str = "", pattern: str | None = None, recursive: bool = True) -> list[Version]:
        """Latest versions of the keys under ``prefix``, sorted by key.

        Args:
            prefix: A key prefix such as ``"images/"``.
            pattern: A glob on the file name (``"*.png"``), or on the whole key if it holds ``/``.
            recursive: Include keys in sub-folders of ``prefix``.

        Deleted keys and the catalog's reserved prefix are left out.
        """
        validate_prefix(prefix)
        latest: dict[str, Version] = {}
        for name in self._scan(prefix, recursive):
            v = parse_name(name)
            if v is None or (v.key in latest and latest[v.key].id > v.id):
                continue
            latest[v.key] = v
        hide_catalog = not prefix.startswith(CATALOG_PREFIX)
        out = []
        for key in sorted(latest):
            v = latest[key]
            if v.deleted or (hide_catalog and key.startswith(CATALOG_PREFIX)):
                continue
            if pattern and not fnmatch.fnmatchcase(
                key if "/" in pattern else key.rsplit("/", 1)[-1], pattern
            ):
                continue
            out.append(v)
        return out

    def list_page(self, prefix: str = "", cursor: str | None = None, limit: int = 200) -> Page:
        """One page of one folder level: its sub-folders and the latest version of its keys.

        Paged in the backend's order (names sorted by code point); the page's ``next`` is the
        opaque cursor of the next page (``None`` after the last). A backend lists one page without
        reading the rest of the folder's keys (:meth:`_level`). Deleted keys and, at the root, the
        catalog's reserved ``_altakit/`` folder are left out, so a page may hold fewer entries.

        Args:
            prefix: ``""`` (the root) or a folder ending with ``/``.
            cursor: ``next`` of the previous page; ``None`` for the first.
            limit: Folders plus keys per page at most (1 … 1000).

        Example:
            >>> import tempfile, altakit
            >>> store = altakit.open_store(tempfile.mkdtemp())
            >>> _ = [store.put(k, b"x") for k in ("a/1", "a/2", "b/c/d", "top")]
            >>> page = store.list_page("", limit=2)
            >>> page.folders, [v.key for v in page.keys], page.next is not None
            (['a/', 'b/'], [], True)
            >>> [v.key for v in store.list_page("", page.next).keys]
            ['top']
        """
        validate_prefix(prefix)
        if prefix and not prefix.endswith("/"):
            raise InvalidKey(f"invalid folder {prefix!r}: a folder ends with '/'", prefix=prefix)
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ConfigError(f"limit={limit!r} is out of range", hint="ask for 1 … 1000 entries a page")
        if cursor is not None and (not isinstance(cursor, str) or len(cursor) > 2048 or "\x00" in cursor):
            raise ConfigError("malformed cursor", hint="pass the next value of the previous page")
        entries, more = self._level(prefix, cursor or "", limit)
        page = Page(prefix, [], [], entries[-1][0] if more and entries else None)
        for marker, names in entries:
            if names is None:
                if prefix or f"{marker.rstrip('/')}/" != CATALOG_PREFIX:
                    page.folders.append(prefix + marker.rstrip("/") + "/")
                continue
            found = [v for v in map(parse_name, names) if v is not None]
            if found:
                latest = max(found, key=lambda v: v.id)
                if not latest.deleted:
                    page.keys.append(latest)
        return page

    def _level(self, folder: str, after: str, limit: int) -> tuple[Entries, bool]:
        """Up to ``limit`` entries of ``folder`` whose marker sorts after ``after``, and whether more follow.

        An entry is ``(marker, None)`` for a sub-folder or ``(marker, names)`` for a key with the
        names of its versions; markers are the backend's opaque, ordered cursors. This default
        scans the whole folder tree (override it: local and S3 read one page only).
        """
        entries: dict[str, list[str] | None] = {}
        for name in self._scan(folder, True):
            rest = name[len(folder) :]
            head, slash, _ = rest.partition("/")
            if slash and SEP not in head:
                entries[head + "/"] = None
            else:
                key_marker = rest.partition(SEP)[0] + SEP
                listed = entries.setdefault(key_marker, [])
                if listed is not None:
                    listed.append(name)
        markers = sorted(m for m in entries if m > after)
        return [(m, entries[m]) for m in markers[:limit]], len(markers) > limit

    # ------------------------------------------------------------------- helpers
    def check_writable(self, key: str, *, reserved: bool = False) -> str:
        """Return ``key`` if a write may go there, else raise :class:`~altakit.errors.InvalidKey`.

        ``_altakit/`` (:data:`~altakit.store.names.CATALOG_PREFIX`) holds altakit's own
        objects (catalog records, version-number claims, ingest claims); one foreign object
        there could make every catalog read fail, so ``put``, ``open_writer``, ``delete``,
        ``copy`` (its target) and ``purge`` refuse it. altakit's own modules write there
        explicitly, with ``reserved=True``. Reading and listing it stays open to everyone.

        Example:
            >>> import tempfile, altakit
            >>> store = altakit.open_store(tempfile.mkdtemp())
            >>> store.put("_altakit/catalog/x", b"{}")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            altakit.errors.InvalidKey: key '_altakit/catalog/x' is under the reserved prefix '_altakit/'...
            >>> store.put("_altakit/catalog/x", b"{}", reserved=True).key
            '_altakit/catalog/x'
        """
        self._check_key(key)
        if not reserved and key.startswith(CATALOG_PREFIX):
            raise InvalidKey(
                f"key {key!r} is under the reserved prefix {CATALOG_PREFIX!r}, which holds altakit's catalog",
                key=key,
                hint="choose a key outside '_altakit/'; register catalog records with catalog.register() "
                "(altakit's own modules write there with reserved=True)",
            )
        return key

    def _key_limit(self) -> int | None:
        """The longest key, in UTF-8 bytes, this backend can hold (``None``: no limit known)."""
        return None

    def _check_key(self, key: str) -> str:
        """``validate_key`` plus the backend's length limit, checked before anything is written."""
        validate_key(key)
        limit = self._key_limit()
        if limit is not None and len(key.encode()) > limit:
            raise key_too_long(key, limit)
        return key

    def _new_version(self, key: str, size: int, digest: str) -> Version:
        return Version(key, new_id(), size, self._name_checksum(None, digest), self.writer)

    def _name_checksum(self, version: Version | None, digest: str) -> str:
        """The checksum field a name carries for bytes whose SHA-256 prefix is ``digest``.

        ``version`` is the version being verified (``None``: a new one being named).
        Plain stores name versions by the digest itself; an encrypted store by a keyed
        MAC of it (:meth:`EncryptedStore._name_checksum
        <altakit.store.crypto.EncryptedStore._name_checksum>`), so that a name confirms no
        guess of the bytes to whoever lacks the key. Wrappers forward to their inner store.
        """
        return digest

    def _verify(self, v: Version, size: int, digest: str | None) -> None:
        """:func:`~altakit.store.readers.verify` with ``digest`` named as this store names it."""
        verify(v, size, None if digest is None else self._name_checksum(v, digest))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def key_too_long(key: str, limit: int | None) -> InvalidKey:
    """The error for a key longer than a backend can hold: its length and the limit, no path.

    Example:
        >>> key_too_long("a/" * 200 + "b", 300).fields["limit"]
        300
    """
    size = len(key.encode())
    shown = f"{key[:40]}…" if len(key) > 40 else key
    where = f"the {limit}-byte limit" if limit else "what the filesystem allows"
    return InvalidKey(
        f"key {shown!r} is {size} bytes long, over {where} of this store",
        key=key,
        key_bytes=size,
        limit=limit,
        hint="use a shorter key: fewer or shorter folder names",
    )
