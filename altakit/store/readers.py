"""Raw object streams: seekable readers over a backend, and the reader that verifies a version.

:class:`SeekableReader` holds a position within a known size; backends add
``readinto`` (:class:`RangeReader` builds it on a ``_read_range`` function, the
S3, JVM and encrypted stores bring their own). :class:`VerifiedReader` wraps
any of them for ``Store.open``: it checks the size on every read and the
checksum after a full sequential read, raising
:class:`~altakit.errors.CorruptObject` (see :func:`verify`).

Example:
    >>> import io
    >>> data = b"hello world"
    >>> raw = RangeReader(lambda name, start, stop: data[start:stop], "greeting", len(data))
    >>> with io.BufferedReader(raw) as f:
    ...     _ = f.seek(6); f.read()
    b'world'
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any, BinaryIO, cast

from altakit.errors import CorruptObject
from altakit.store.names import CHECKSUM_HEX, Version

#: ``read_range(name, start, stop)``: bytes ``[start, stop)`` of object ``name``.
ReadRange = Callable[[str, int, int], bytes]


def verify(v: Version, size: int, digest: str | None) -> None:
    """Raise :class:`CorruptObject` unless ``size`` (and ``digest``, if given) match version ``v``.

    Example:
        >>> v = Version("a", "20261122T041500123456789Z_0a1b2c3d", 3, "0" * 32, "ana@host")
        >>> verify(v, 3, None)
        >>> verify(v, 2, None)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        altakit.errors.CorruptObject: object ... has 2 bytes, expected 3 ...
    """
    if size != v.size:
        raise CorruptObject(
            f"object {v.name!r} has {size} bytes, expected {v.size}",
            name=v.name,
            key=v.key,
            hint="the stored object is truncated or damaged; read an older version",
        )
    if digest is not None and digest != v.checksum:
        raise CorruptObject(
            f"object {v.name!r} fails its checksum",
            name=v.name,
            key=v.key,
            hint="the stored bytes were changed after writing; read an older version",
        )


class SeekableReader(io.RawIOBase):
    """Base of the raw object streams: a position within ``size``; subclasses add ``readinto``.

    Example:
        >>> class Zeros(SeekableReader):
        ...     def readinto(self, b):
        ...         n = max(0, min(len(b), self.size - self.pos)); b[:n] = bytes(n); self.pos += n; return n
        >>> Zeros(4).read()
        b'\\x00\\x00\\x00\\x00'
    """

    def __init__(self, size: int) -> None:
        self.size, self.pos = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self.pos, self.size)[whence]
        self.pos = max(0, base + offset)
        return self.pos


class RangeReader(SeekableReader):
    """A seekable raw stream over object ``name`` built on a backend's ``_read_range``.

    Args:
        read_range: The backend's ``_read_range``.
        name: The object's name.
        size: The object's size in bytes.
    """

    def __init__(self, read_range: ReadRange, name: str, size: int) -> None:
        super().__init__(size)
        self.read_range, self.name = read_range, name

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.pos)
        if n <= 0:
            return 0
        data = self.read_range(self.name, self.pos, self.pos + n)
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


class VerifiedReader(io.RawIOBase):
    """Checks size on every read and the checksum after a full sequential read.

    Args:
        version: The version being read (its size and checksum are the truth).
        raw: A seekable binary stream over the version's object.
        name_checksum: Turns ``(version, SHA-256 prefix)`` into the checksum field its name
            carries (the store's ``_name_checksum``); default: the prefix itself.
    """

    def __init__(
        self,
        version: Version,
        raw: BinaryIO,
        name_checksum: Callable[[Version, str], str] | None = None,
    ) -> None:
        self.version, self.raw = version, raw
        self.name_checksum = name_checksum
        self.pos = 0
        self.hash: Any = hashlib.sha256()  # None once a seek breaks the sequence

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self.pos, self.version.size)[whence]
        target = max(0, base + offset)
        if target != self.pos:
            self.hash = None
            self.raw.seek(target)
            self.pos = target
        return self.pos

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self.version.size - self.pos)
        if want <= 0:
            if self.raw.read(1):
                verify(self.version, self.version.size + 1, None)
            return 0
        view = memoryview(buffer)[:want]
        n = cast(io.BufferedIOBase, self.raw).readinto(view)  # a BinaryIO that can readinto
        if not n:
            verify(self.version, self.pos, None)  # shorter than its name says
        if self.hash is not None:
            self.hash.update(view[:n])
        self.pos += n
        if self.pos == self.version.size and self.hash is not None:
            digest = self.hash.hexdigest()[:CHECKSUM_HEX]
            if self.name_checksum is not None:
                digest = self.name_checksum(self.version, digest)
            verify(self.version, self.pos, digest)
            self.hash = None
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()
