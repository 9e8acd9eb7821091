"""What a store writes from, and how those bytes are hashed.

A backend's ``_write`` gets a :data:`Source`: the bytes themselves, or a local
file to copy from. The helpers here read a source in chunks
(:func:`iter_chunks`), copy it into an open file (:func:`copy_source`), turn a
readable stream into a local file hashed on the way (:class:`spooled`), and
hash an open file without copying it (:func:`hash_fd`), on a second thread when
that overlaps other work (:class:`Background`).

Example:
    >>> [bytes(c) for c in iter_chunks(b"abcde", size=2)]
    [b'ab', b'cd', b'e']
    >>> import io
    >>> with spooled(io.BytesIO(b"hello")) as (path, size, digest):
    ...     path.read_bytes(), size, len(digest)
    (b'hello', 5, 32)
"""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from altakit.store.names import CHECKSUM_HEX, checksum

#: What a backend's ``_write`` receives: the bytes, or a local file to copy from.
Source = bytes | memoryview | Path
#: Chunk size for copies and streamed uploads.
CHUNK = 8 * 1024 * 1024


def iter_chunks(source: Source, size: int = CHUNK) -> Iterator[bytes | memoryview]:
    """Yield a ``_write`` source in chunks of ``size`` bytes (for backends that stream)."""
    if isinstance(source, Path):
        with open(source, "rb") as f:
            while chunk := f.read(size):
                yield chunk
    else:
        view = memoryview(source)
        for start in range(0, view.nbytes, size):
            yield view[start : start + size]


def copy_source(source: Source, dest: IO[bytes]) -> None:
    """Write a ``_write`` source into an open binary file.

    Example:
        >>> import io
        >>> out = io.BytesIO(); copy_source(b"abc", out); out.getvalue()
        b'abc'
    """
    if isinstance(source, Path):
        with open(source, "rb") as f:
            shutil.copyfileobj(f, dest, CHUNK)
    else:
        dest.write(source)


class spooled:  # lowercase: used like a function, ``with spooled(f) as (path, size, digest)``
    """Copy a readable file into a temp file, hashing on the way: ``(path, size, checksum)``.

    The temp file is removed when the ``with`` block ends.

    Args:
        src: A readable binary file.
    """

    def __init__(self, src: IO[bytes]) -> None:
        self.src = src

    def __enter__(self) -> tuple[Path, int, str]:
        fd, name = tempfile.mkstemp(prefix="altakit-")
        self.path = Path(name)
        h = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := self.src.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
        return self.path, size, h.hexdigest()[:CHECKSUM_HEX]

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


def hash_fd(fd: int) -> tuple[int, str]:
    """Size and checksum of an open file, whatever its position."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0, checksum(b"")
    with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as view:  # no copies: ~20% faster
        return size, checksum(view)


def hash_file(path: Path) -> tuple[int, str]:
    """Size and checksum of a local file."""
    with open(path, "rb") as f:
        return hash_fd(f.fileno())


class Background:
    """Run a function on a plain thread (fork-safe, unlike a shared pool) and collect its result.

    Example:
        >>> Background(lambda: 6 * 7).result()
        42
    """

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self.value = fn()
        except BaseException as exc:  # handed to the caller by result()
            self.error = exc

    def result(self) -> Any:
        """The function's return value (waits for it); its exception is raised here."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value
