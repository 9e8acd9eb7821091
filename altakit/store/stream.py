"""Streamed writes: a version's bytes pass once, hashed on a second thread as they go.

:meth:`Store.open_writer <altakit.store.base.Store.open_writer>` returns a
:class:`VersionWriter`, a write-only file for producers that write a stream
(``torch.save``, ``zipfile`` …). Its bytes collect in a :class:`Spool` where no
reader sees them (a file in the local store's temp folder; part-sized buffers for
S3, see :mod:`altakit.store.s3_parts`; memory for other backends) while a second
thread hashes them, so the checksum is ready when the producer finishes. Closing
the writer names the version by size and checksum and commits it atomically; a
writer that fails, is aborted or is killed commits nothing.

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> with store.open_writer("notes/a.txt") as f:
    ...     _ = f.write(b"streamed ")
    ...     _ = f.write(b"bytes")
    >>> store.get("notes/a.txt", version=f.version.id)
    b'streamed bytes'
"""

from __future__ import annotations

import abc
import hashlib
import io
import mmap
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from altakit.store.names import CHECKSUM_HEX, Version

#: The hashing thread catches up in steps this large: few GIL hand-offs with the producer.
HASH_STEP = 16 * 1024 * 1024
#: A large write is hashed from the caller's memory in pieces this large (its wait on return).
JOB_STEP = 4 * 1024 * 1024
#: Writes smaller than this are gathered first (fewer syscalls and copies).
SMALL_WRITE = 64 * 1024


class Spool(abc.ABC):
    """Collects a streamed version's bytes until commit, hashing them on a second thread.

    hashlib releases the GIL, so the hash runs on another core while the producer
    makes the next bytes. Subclasses say where the bytes go (:meth:`_append`),
    how to hash a span of them (:meth:`_hash_span`) and what commit gets (:meth:`finish`).
    A write of :data:`HASH_STEP` bytes or more is hashed from the caller's memory
    while it is appended, so even one huge write costs no second pass; once it is
    appended the write returns at the next :data:`JOB_STEP` and the hashing thread
    goes on from the spool's own copy, so what the producer does next (or an fsync)
    overlaps the rest of the hash.
    """

    def __init__(self) -> None:
        self.size = 0
        self._hashed = 0  # written by the hashing thread only
        self._hash = hashlib.sha256()
        self._job: memoryview | None = None  # a large write, hashed from the caller's memory
        self._job_stored = False  # the large write is appended: its memory must be let go
        self._done = False
        self._error: BaseException | None = None
        self._cv = threading.Condition()
        self._thread = threading.Thread(target=self._follow, name="altakit-hash", daemon=True)
        self._thread.start()

    def write(self, view: memoryview) -> None:
        """Append bytes (copied or written before this returns)."""
        if view.nbytes < HASH_STEP:
            self._append_or_fail(view)
            with self._cv:
                self.size += view.nbytes
                if self.size - self._hashed >= HASH_STEP:
                    self._cv.notify()
            return
        with self._cv:
            self._job, self._job_stored = view, False
            self._cv.notify()
        try:
            self._append_or_fail(view)
        finally:
            with self._cv:
                self._job_stored = True
                while self._job is not None:  # the caller's memory is only ours until we return
                    self._cv.wait()
        with self._cv:
            self.size += view.nbytes

    def _append_or_fail(self, view: memoryview) -> None:
        try:
            self._append(view)
        except BaseException as exc:  # part of it may be stored: this spool can never commit
            self._error = exc
            raise

    def checksum(self) -> str:
        """The checksum of everything written (waits for the hashing thread)."""
        self._stop()
        if self._error is not None:
            raise self._error
        return self._hash.hexdigest()[:CHECKSUM_HEX]

    @abc.abstractmethod
    def finish(self) -> Any:
        """Stop writing; return what the store's ``_commit`` takes."""

    def discard(self) -> None:
        """Drop everything written."""
        self._stop()

    @abc.abstractmethod
    def _append(self, view: memoryview) -> None: ...

    @abc.abstractmethod
    def _hash_span(self, start: int, stop: int) -> None:
        """Hash bytes ``[start, stop)`` of what was appended (any offsets)."""

    def _end(self) -> None:
        """No more bytes: let the hashing thread do the rest without waiting for it."""
        with self._cv:
            self._done = True
            self._cv.notify()

    def _stop(self) -> None:
        self._end()
        self._thread.join()

    def _follow(self) -> None:
        while True:
            with self._cv:
                while not self._done and self._job is None and self.size - self._hashed < HASH_STEP:
                    self._cv.wait()
                stop, done, job = self.size, self._done, self._job
            extra = 0  # bytes of a large write hashed from the caller's memory
            try:
                if stop > self._hashed and self._error is None:
                    self._hash_span(self._hashed, stop)
                if job is not None and self._error is None:
                    extra = self._hash_job(job)  # the bytes after ``stop``, being appended meanwhile
            except BaseException as exc:  # raised by checksum()
                self._error = exc
            with self._cv:
                self._hashed = stop + extra
                if job is not None:
                    self._job = None
                    self._cv.notify_all()
            if done:
                return

    def _hash_job(self, job: memoryview) -> int:
        """Hash a large write from the caller's memory until it is appended; returns bytes hashed."""
        pos = 0
        while pos < job.nbytes:
            with self._cv:
                if self._job_stored:
                    break  # the rest is hashed from the spool's copy, after the writer returns
            with job[pos : pos + JOB_STEP] as piece:
                self._hash.update(piece)
            pos += min(JOB_STEP, job.nbytes - pos)
        return pos


class MemorySpool(Spool):
    """Bytes in memory, joined at the end and handed to ``stage`` (the store's ``_stage``)."""

    def __init__(self, stage: Callable[[bytes], Any]) -> None:
        self._stage = stage
        self._chunks: list[bytes] = []
        self._next = self._pos = 0  # first chunk not hashed yet, and where it starts
        super().__init__()

    def finish(self) -> Any:
        return self._stage(self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks))

    def _stop(self) -> None:
        super()._stop()
        self._chunks = []  # the hashing thread is done with them

    def _append(self, view: memoryview) -> None:
        self._chunks.append(view.tobytes())

    def _hash_span(self, start: int, stop: int) -> None:
        # ``stop`` ends a chunk; ``start`` may fall inside one (a large write hashed in part)
        while self._pos < stop:
            chunk = self._chunks[self._next]
            end = self._pos + len(chunk)
            if end > start:
                with memoryview(chunk) as whole, whole[max(0, start - self._pos) :] as rest:
                    self._hash.update(rest)
            self._next += 1
            self._pos = end


class FileSpool(Spool):
    """Bytes written to a new local file; the hashing thread maps what is written so far.

    Args:
        path: The file to create (it must not exist); the staged handle is this path.
        fsync: Flush the file to disk in :meth:`finish`.
    """

    def __init__(self, path: Path, *, fsync: bool) -> None:
        self.path, self.fsync = path, fsync
        # read-write: the hashing thread maps the file through the same descriptor
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        super().__init__()

    def finish(self) -> Path:
        self._end()  # the tail is hashed while the file is flushed
        try:
            if self.fsync:
                os.fsync(self._fd)
            self._stop()  # the hashing thread maps the file: close it only after
        except BaseException:
            self.discard()
            raise
        self._close()
        return self.path

    def discard(self) -> None:
        super().discard()
        self._close()
        self.path.unlink(missing_ok=True)

    def _close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def _append(self, view: memoryview) -> None:
        while view.nbytes:
            view = view[os.write(self._fd, view) :]

    def _hash_span(self, start: int, stop: int) -> None:
        base = start - start % mmap.ALLOCATIONGRANULARITY
        with (
            mmap.mmap(self._fd, stop - base, offset=base, access=mmap.ACCESS_READ) as mapped,
            memoryview(mapped) as whole,
            whole[start - base :] as span,
        ):
            self._hash.update(span)


class Committer(Protocol):
    """What a :class:`VersionWriter` needs of its store (a :class:`~altakit.store.base.Store` is one)."""

    def _new_version(self, key: str, size: int, digest: str) -> Version: ...

    def _commit(self, staged: Any, name: str) -> None: ...

    def _discard(self, staged: Any) -> None: ...


class VersionWriter(io.BufferedIOBase):
    """A write-only stream whose bytes become one new version of a key when it closes.

    Made by :meth:`Store.open_writer <altakit.store.base.Store.open_writer>`. The
    version is committed by :meth:`close` (or leaving a ``with`` block normally) and
    is then in :attr:`version`; an exception inside the ``with`` block, :meth:`abort`
    or garbage collection of an unclosed writer discards the bytes. Not seekable.

    Example:
        >>> with store.open_writer("models/net.pt") as f:  # doctest: +SKIP
        ...     torch.save(model.state_dict(), f)
        >>> f.version.size  # doctest: +SKIP
    """

    def __init__(self, store: Committer, key: str, spool: Spool) -> None:
        super().__init__()
        self.store, self.key = store, key
        self.version: Version | None = None
        self._spool: Spool | None = spool
        self._small = bytearray()
        self._size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._size

    def write(self, data: Any) -> int:
        """Append ``data`` (any bytes-like object); returns its length."""
        if self._spool is None:
            raise ValueError("write to a closed version writer")
        view = memoryview(data).cast("B")
        n = view.nbytes
        if n < SMALL_WRITE:
            self._small += view
            if len(self._small) >= SMALL_WRITE:
                self._drain()
        else:
            self._drain()
            self._spool.write(view)
        self._size += n
        return n

    def close(self) -> None:
        """Commit the bytes written as a new version (once; a second call does nothing)."""
        spool, self._spool = self._spool, None
        if spool is None:
            super().close()
            return
        try:
            if self._small:
                spool.write(memoryview(self._small))
            staged = spool.finish()
            digest = spool.checksum()
        except BaseException:
            spool.discard()
            super().close()
            raise
        version = self.store._new_version(self.key, self._size, digest)
        try:
            self.store._commit(staged, version.name)
        except BaseException:
            self.store._discard(staged)
            raise
        finally:
            super().close()
        self.version = version

    def abort(self) -> None:
        """Discard everything written; nothing becomes visible."""
        spool, self._spool = self._spool, None
        if spool is not None:
            spool.discard()
        super().close()

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        self.abort()  # never commit bytes nobody closed

    def _drain(self) -> None:
        if self._small and self._spool is not None:
            self._spool.write(memoryview(self._small))
            self._small = bytearray()
