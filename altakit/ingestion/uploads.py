"""Uploads received in pieces: spooled to a temp file, hashed as they arrive, kept in the store.

A browser sends a large file in chunks (a dashboard's upload widget); an
:class:`UploadSpool` writes each chunk to a local temp file and hashes it on the way,
so memory stays bounded whatever the file's size. A ``check(name, size)`` callback
(the dashboards' type and size limits) runs before the first byte and again after
every chunk with the size so far: the upload stops the moment a limit is passed.
:meth:`UploadSpool.keep` stores the file as a raw version under
:func:`upload_key` (``uploads/<first 16 hex of its SHA-256>/<name>``; one version per
content, so the same file uploaded twice is stored once) and returns the key.
A spool that is discarded, or not kept, leaves nothing behind; the temp file of
a process killed mid-upload is removed by the next spool in that folder once it
has not changed for :data:`STALE_SECONDS`.

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> with UploadSpool("day1.csv") as spool:
    ...     _ = spool.write(b"ts,value\\n")
    ...     _ = spool.write(b"2026-12-07 10:00,1.5\\n")
    ...     key = spool.keep(store)
    >>> key
    'uploads/fb43f3d2b3c95ada/day1.csv'
    >>> store.get(key)
    b'ts,value\\n2026-12-07 10:00,1.5\\n'
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from altakit.errors import ConfigError

if TYPE_CHECKING:
    from altakit.store import Store

#: Where uploads are kept in the store: ``uploads/<first 16 hex of their SHA-256>/<file name>``.
UPLOADS = "uploads/"

#: A temp file not written for this long belongs to an upload whose process died (a live one grows).
STALE_SECONDS = 24 * 3600
_PREFIX, _SUFFIX = "altakit-upload-", ".part"

#: ``check(name, size)``: raises when an upload of ``size`` bytes so far may not go on.
Check = Callable[[str, int], None]


def upload_name(name: str) -> str:
    """The file name an upload is kept under: the last part of what the browser sent.

    Example:
        >>> upload_name("C:\\\\exports\\\\line4.csv"), upload_name("a/b/day1.csv"), upload_name("..")
        ('line4.csv', 'day1.csv', 'upload')
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return base if base.strip(".") else "upload"


def upload_key(name: str, sha256: str) -> str:
    """The store key of an upload named ``name`` whose SHA-256 (hex) is ``sha256``.

    Example:
        >>> upload_key("day1.csv", "ab" * 32)
        'uploads/abababababababab/day1.csv'
    """
    return f"{UPLOADS}{sha256[:16]}/{upload_name(name)}"


def _remove(path: str) -> None:
    Path(path).unlink(missing_ok=True)


def sweep_stale(folder: str | None = None, older_than: float = STALE_SECONDS) -> list[Path]:
    """Remove this user's upload temp files in ``folder`` not written for ``older_than`` seconds.

    Example:
        >>> import tempfile
        >>> sweep_stale(tempfile.mkdtemp())
        []
    """
    import time

    root = Path(folder or tempfile.gettempdir())
    limit, gone = time.time() - older_than, []
    for part in root.glob(f"{_PREFIX}*{_SUFFIX}"):
        try:
            info = part.stat()
            if info.st_uid == os.getuid() and info.st_mtime < limit:
                part.unlink()
                gone.append(part)
        except OSError:  # gone already, or another user's
            continue
    return gone


class UploadSpool:
    """One upload arriving in chunks: a temp file and a running SHA-256.

    Args:
        name: The file's name as the browser gave it.
        size: The size the browser announced (``None``: unknown); :meth:`keep` refuses a file that
            ended shorter or longer.
        check: The limits: called with ``(name, size)`` before the first chunk (the announced size)
            and after each chunk (the bytes so far); what it raises stops the upload and discards it.
        folder: Where the temp file goes (default: the system's temp folder).

    Attributes:
        size: Bytes received so far.
    """

    def __init__(
        self, name: str, size: int | None = None, *, check: Check | None = None, folder: str | None = None
    ) -> None:
        self.name = upload_name(name)
        self.expected = size
        self.size = 0
        self._check = check
        self._hash = hashlib.sha256()
        if check is not None:
            check(self.name, size or 0)
        sweep_stale(folder)
        fd, path = tempfile.mkstemp(prefix=_PREFIX, suffix=_SUFFIX, dir=folder)
        self.path = Path(path)
        self._file = os.fdopen(fd, "wb")
        self._cleanup = weakref.finalize(self, _remove, path)  # a spool dropped unkept leaves nothing

    @property
    def sha256(self) -> str:
        """The SHA-256 (hex) of the bytes received so far."""
        return self._hash.hexdigest()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append a chunk; the bytes received so far. A limit passed discards the upload and raises."""
        if self._file.closed:
            raise ConfigError(f"the upload of {self.name} was already finished or discarded", name=self.name)
        view = memoryview(data).cast("B")
        if self._check is not None:
            try:
                self._check(self.name, self.size + view.nbytes)
            except BaseException:
                self.discard()
                raise
        self._file.write(view)
        self._hash.update(view)
        self.size += view.nbytes
        return self.size

    def keep(self, store: Store) -> str:
        """Store the upload (once per content) under :func:`upload_key` and return the key.

        The temp file is removed whether or not storing works.

        Raises:
            ConfigError: The file ended at another size than the browser announced.
        """
        try:
            self._file.close()
            if self.expected is not None and self.size != self.expected:
                raise ConfigError(
                    f"the upload of {self.name} ended after {self.size} of {self.expected} bytes",
                    name=self.name,
                    hint="pick the file again",
                )
            key = upload_key(self.name, self.sha256)
            if not store.exists(key):
                store.put(key, self.path)
            return key
        finally:
            self._cleanup()

    def discard(self) -> None:
        """Drop what arrived (a cancelled upload, a new pick, a limit passed)."""
        self._file.close()
        self._cleanup()

    def __enter__(self) -> UploadSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()
