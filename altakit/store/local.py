"""The embedded default: a versioned store in a local folder.

Each key gets a folder ``<root>/<key>✹/`` holding one file per version, so
resolving the latest version lists only that key's versions, however many
files share its folder. Writes go to ``<root>/.altakit-tmp/`` first, are
fsynced, then renamed into place: a killed writer leaves no partial version.

Example:
    >>> import tempfile
    >>> store = LocalStore(tempfile.mkdtemp())
    >>> store.put("a.txt", b"x").size
    1
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from altakit.errors import AccessDenied, ConfigError, NotFound
from altakit.store.base import Store
from altakit.store.names import SEP
from altakit.store.nested import walk_nested
from altakit.store.sources import Source
from altakit.store.stream import FileSpool

TMP = ".altakit-tmp"


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

    @classmethod
    def from_url(cls, url: str, **options: Any) -> LocalStore:
        """Open ``file:///abs/path`` or a plain path."""
        if url.startswith("file://"):
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
        tmp = self.root / TMP / uuid.uuid4().hex
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
        final = self._path(name)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, final)

    def _discard(self, staged: Path) -> None:
        staged.unlink(missing_ok=True)

    def _open_spool(self) -> FileSpool:
        """Streamed writes go straight to a temp file in the store: commit only renames it."""
        return FileSpool(self.root / TMP / uuid.uuid4().hex, fsync=self.fsync)

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

    def _names_of(self, key: str) -> Iterator[str]:
        try:
            entries = os.listdir(self.root / f"{key}{SEP}")
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            yield f"{key}{SEP}{entry}"

    def _scan(self, prefix: str, recursive: bool) -> Iterator[str]:
        return walk_nested(self._folders, self._names_of, prefix, recursive)

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
