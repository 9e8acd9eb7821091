"""The embedded default: a versioned store in a local folder.

Each key gets a folder ``<root>/<key>✹/`` holding one file per version, so
resolving the latest version lists only that key's versions, however many
files share its folder. Writes go to ``<root>/.altakit-tmp/`` first, are
fsynced, then renamed into place: a killed writer leaves no partial version,
only a temp file, which a later sweep removes (:mod:`altakit.store.gc`; opening
the store sweeps a few, ``altakit store gc`` all). A key longer than the
filesystem can hold under the root is an :class:`~altakit.errors.InvalidKey`
naming its length and the limit, refused before anything is written.

Example:
    >>> import tempfile
    >>> store = LocalStore(tempfile.mkdtemp())
    >>> store.put("a.txt", b"x").size
    1
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from altakit import faults
from altakit.errors import AccessDenied, ConfigError, NotFound
from altakit.store.base import Store, key_too_long
from altakit.store.credentials import check_store_url
from altakit.store.gc import GRACE, OPEN_SWEEP, sweep_folder, temp_name
from altakit.store.names import SEP
from altakit.store.nested import key_limit, walk_nested
from altakit.store.sources import Source
from altakit.store.stream import FileSpool

TMP = ".altakit-tmp"
#: Crash-test points: ``local.staged`` is after a write's temp file is complete, before its rename.
FAULT_POINTS = ("local.staged",)
#: PATH_MAX where ``pathconf`` cannot say.
_PATH_MAX = 4096


class LocalStore(Store):
    """A store in a local folder (created if missing).

    Args:
        root: The folder.
        fsync: Flush every version to disk before it becomes visible (default True).
        **options: Passed to :class:`~altakit.store.base.Store` (``writer``).
    """

    def __init__(self, root: str | os.PathLike, *, fsync: bool = True, **options: Any) -> None:
        self.root = Path(root).expanduser().resolve()
        super().__init__(self.root.as_uri(), **options)
        self.fsync = fsync
        try:
            (self.root / TMP).mkdir(parents=True, exist_ok=True)
        except PermissionError as exc:
            raise AccessDenied(f"cannot write to {self.root}", hint="choose a folder you own") from exc
        except OSError as exc:
            raise ConfigError(f"cannot use {self.root} as a store: {exc}") from exc
        try:
            path_max = os.pathconf(self.root, "PC_PATH_MAX")
        except (OSError, ValueError):
            path_max = _PATH_MAX
        self._max_key = key_limit(len(str(self.root).encode()), path_max)
        with contextlib.suppress(OSError):  # a read-only user cannot sweep: nothing lost
            sweep_folder(self.temp_folder, grace=GRACE, apply=True, limit=OPEN_SWEEP)

    @property
    def temp_folder(self) -> Path:
        """Where writes are staged (``<root>/.altakit-tmp``); :mod:`altakit.store.gc` sweeps it."""
        return self.root / TMP

    @classmethod
    def from_url(cls, url: str, **options: Any) -> LocalStore:
        """Open ``file:///abs/path`` or a plain path."""
        if url.startswith("file://"):
            check_store_url(url, "file")  # credentials refused, never echoed
            from urllib.parse import unquote, urlparse

            parsed = urlparse(url)
            if parsed.netloc not in ("", "localhost"):
                raise ConfigError(f"file URL {url!r} names a host", hint="use file:///absolute/path")
            url = unquote(parsed.path)
        return cls(url, **options)

    def _path(self, name: str) -> Path:
        key, _, rest = name.partition(SEP)
        return self.root / f"{key}{SEP}" / rest

    def _write(self, name: str, source: Source) -> None:
        staged = self._stage(source)
        try:
            self._commit(staged, name)
        except BaseException:
            self._discard(staged)
            raise

    def _stage(self, source: Source) -> Path:
        """Write ``source`` to a fsynced temp file in the store (invisible to readers)."""
        tmp = self.root / TMP / temp_name()
        try:
            if isinstance(source, Path):
                shutil.copyfile(source, tmp)
                if self.fsync:
                    with open(tmp, "rb+") as f:
                        os.fsync(f.fileno())
            else:
                with open(tmp, "wb") as f:
                    f.write(source)
                    if self.fsync:
                        f.flush()
                        os.fsync(f.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _commit(self, staged: Path, name: str) -> None:
        faults.point("local.staged")
        final = self._path(name)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staged, final)
        except OSError as exc:
            _raise_too_long(exc, name)
            raise

    def _key_limit(self) -> int:
        return self._max_key

    def _discard(self, staged: Path) -> None:
        staged.unlink(missing_ok=True)

    def _open_spool(self) -> FileSpool:
        """Streamed writes go straight to a temp file in the store: commit only renames it."""
        return FileSpool(self.root / TMP / temp_name(), fsync=self.fsync)

    def _open_file(self, name: str) -> BinaryIO:
        return self._open_raw(name, 0)

    def _read_range(self, name: str, start: int, stop: int) -> bytes:
        with self._open_raw(name, 0) as f:
            return os.pread(f.fileno(), stop - start, start)

    def _open_raw(self, name: str, size: int) -> BinaryIO:
        try:
            return open(self._path(name), "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"object {name!r} vanished from {self.url}", name=name) from exc
        except OSError as exc:
            _raise_too_long(exc, name)
            raise

    def _names_of(self, key: str) -> Iterator[str]:
        try:
            entries = os.listdir(self.root / f"{key}{SEP}")
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            _raise_too_long(exc, key)
            raise
        for entry in entries:
            yield f"{key}{SEP}{entry}"

    def _scan(self, prefix: str, recursive: bool) -> Iterator[str]:
        return walk_nested(self._folders, self._names_of, prefix, recursive)

    def _level(self, folder: str, after: str, limit: int) -> tuple[list[tuple[str, list[str] | None]], bool]:
        """One page of a folder: its entry names only (one ``listdir``; the page's smallest names picked
        without sorting the rest; no ``stat`` but for the page's folders), then the versions of the
        page's keys alone. Markers are the entries' names (``<key>✹`` or a folder's name)."""
        base = self.root / folder.rstrip("/")
        try:
            listed = os.listdir(base)
        except (FileNotFoundError, NotADirectoryError):
            return [], False
        entries: list[tuple[str, list[str] | None]] = []
        while True:
            want = limit + 1 - len(entries)
            batch = heapq.nsmallest(want, (n for n in listed if n > after and n != TMP))
            for entry in batch:
                after = entry
                if len(entries) == limit:
                    return entries, True
                if entry.endswith(SEP):
                    entries.append((entry, list(self._names_of(folder + entry[: -len(SEP)]))))
                elif (base / entry).is_dir():  # not a stray file
                    entries.append((entry, None))
            if len(batch) < want:
                return entries, False

    def _folders(self, folder: str) -> list[str]:
        try:
            entries = os.scandir(self.root / folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        with entries:
            return [e.name for e in entries if e.is_dir() and e.name != TMP]

    def _remove(self, name: str) -> None:
        path = self._path(name)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # other versions remain
            path.parent.rmdir()


def _raise_too_long(exc: OSError, name: str) -> None:
    """Raise :class:`~altakit.errors.InvalidKey` if ``exc`` says a path was too long (a filesystem
    stricter than ``PATH_MAX`` says). Not chained: the OSError's message is the full path."""
    if exc.errno == errno.ENAMETOOLONG:
        raise key_too_long(name.partition(SEP)[0], None) from None
