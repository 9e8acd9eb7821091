"""Temp files that killed writes leave behind, and sweeping them away.

A store stages every write in a temp folder (``<root>/.altakit-tmp/``) and renames
it into place, so a killed writer leaves no partial version, but it does leave its
temp file. Each temp file is named ``<host>.<pid>.<random>`` (:func:`temp_name`): a
sweep removes a temp file only when it is older than the grace period *and* its
writer is not a running process on this host (files of other hosts, and older files
named by a bare random hex, go by age alone). ``altakit store gc`` sweeps the whole
folder; opening a local store sweeps a bounded number of entries
(:data:`OPEN_SWEEP`), so a store heals without anyone running a command.

Objects no catalog record lists (shards of a killed ``write_dataset``) are the
datasets layer's business: :mod:`altakit.datasets.gc`.

Example:
    >>> import tempfile, os
    >>> from pathlib import Path

from altakit import procs
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "0123abcd").write_bytes(b"left by a killed writer")
    >>> os.utime(folder / "0123abcd", (0, 0))
    >>> [(g.name, g.bytes, g.removed) for g in sweep_folder(folder, grace=3600, apply=True)]
    [('0123abcd', 23, True)]
    >>> live = folder / temp_name()  # this process: a live writer, kept whatever its age
    >>> _ = live.write_bytes(b"x"); os.utime(live, (0, 0))
    >>> sweep_folder(folder, grace=0, apply=True)
    []
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from altakit import procs

#: Seconds a temp file or unreferenced object is left alone (a write may still be running).
GRACE = 24 * 3600.0
#: Temp-folder entries looked at when a store opens (the sweep stays cheap however much is there).
OPEN_SWEEP = 64


@dataclass(frozen=True)
class Garbage:
    """One leftover a sweep found.

    Attributes:
        kind: ``"temp"`` (a temp file of an unfinished write) or ``"orphan"`` (an object no record lists).
        name: The temp file's name, or ``key@version`` of the object.
        bytes: Its size.
        age: Seconds since it was written.
        removed: True when the sweep removed it (sweeps remove only when asked to).

    Example:
        >>> Garbage("temp", "0123abcd", 10, 90000.0).removed
        False
    """

    kind: str
    name: str
    bytes: int
    age: float
    removed: bool = False


def temp_name() -> str:
    """A new temp file name that says which writer it belongs to: ``<host>.<pid>.<random>``.

    Example:
        >>> temp_name().split(".")[1] == str(os.getpid())
        True
    """
    return f"{procs.host_tag()}.{os.getpid()}.{uuid.uuid4().hex}"


def writer_alive(name: str) -> bool:
    """True if temp file ``name`` belongs to a process on this host that is still running.

    Example:
        >>> writer_alive(temp_name()), writer_alive("0123abcd")
        (True, False)
    """
    host, _, rest = name.partition(".")
    pid_text, _, _ = rest.partition(".")
    return pid_text.isdigit() and bool(procs.running_here(host, int(pid_text)))


@dataclass(frozen=True)
class TempEntry:
    """One file in a store's temp folder, as a backend lists it (:meth:`JvmStore.temp_entries`).

    Attributes:
        name: The file's name (:func:`temp_name` for current writers).
        size: Its size in bytes.
        mtime: When it was last written (seconds since the epoch).
        remove: Removes it.
    """

    name: str
    size: int
    mtime: float
    remove: Callable[[], object]


def sweep_entries(
    entries: Iterable[TempEntry], *, grace: float = GRACE, apply: bool = False, limit: int | None = None
) -> list[Garbage]:
    """The temp files among ``entries`` that no running write owns and that are older than ``grace``.

    Args:
        entries: A store's temp files.
        grace: Seconds a temp file is left alone, whoever wrote it.
        apply: Remove what is found (otherwise only report it).
        limit: Look at this many entries at most (the sweep on open); ``None``: all.

    Returns:
        One :class:`Garbage` per stale temp file, ``removed`` set when it was removed.

    Example:
        >>> old = TempEntry("0123abcd", 3, 0.0, lambda: None)
        >>> [g.removed for g in sweep_entries([old], apply=True)]
        [True]
    """
    found: list[Garbage] = []
    now = time.time()
    for seen, entry in enumerate(entries):
        if limit is not None and seen >= limit:
            break
        age = now - entry.mtime
        if age < grace or writer_alive(entry.name):
            continue
        if apply:
            with contextlib.suppress(FileNotFoundError):  # committed or removed meanwhile
                entry.remove()
        found.append(Garbage("temp", entry.name, entry.size, age, apply))
    return sorted(found, key=lambda g: g.name)


def sweep_folder(
    folder: Path, *, grace: float = GRACE, apply: bool = False, limit: int | None = None
) -> list[Garbage]:
    """:func:`sweep_entries` over the files of a local temp ``folder``.

    Example:
        >>> import tempfile
        >>> sweep_folder(Path(tempfile.mkdtemp()) / "missing")
        []
    """
    try:
        scanned = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []

    def entries() -> Iterator[TempEntry]:
        with scanned:
            for entry in scanned:
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # committed or removed meanwhile
                    continue
                yield TempEntry(
                    entry.name, stat.st_size, stat.st_mtime, functools.partial(os.unlink, entry.path)
                )

    return sweep_entries(entries(), grace=grace, apply=apply, limit=limit)


def temp_folder(store: object) -> Path | None:
    """The temp folder of ``store`` (through cache and encryption wrappers), or None if it has none.

    Local stores keep one (``LocalStore.temp_folder``); on S3 an unfinished write is an
    incomplete multipart upload, which a bucket lifecycle rule aborts (``docs/operations.md``).

    Example:
        >>> import tempfile, altakit
        >>> temp_folder(altakit.open_store(tempfile.mkdtemp())).name
        '.altakit-tmp'
    """
    while hasattr(store, "inner"):
        store = store.inner
    folder = getattr(store, "temp_folder", None)
    return folder if isinstance(folder, Path) else None


def sweep_temp(store: object, *, grace: float = GRACE, apply: bool = False) -> list[Garbage]:
    """Stale temp files of ``store`` (see :func:`sweep_folder`); none for stores without a temp folder.

    Example:
        >>> import tempfile, altakit
        >>> sweep_temp(altakit.open_store(tempfile.mkdtemp()), grace=0)
        []
    """
    while hasattr(store, "inner"):
        store = store.inner
    listed = getattr(store, "temp_entries", None)  # a backend that lists its own (the JVM store)
    if listed is not None:
        return sweep_entries(listed(), grace=grace, apply=apply)
    folder = temp_folder(store)
    return [] if folder is None else sweep_folder(folder, grace=grace, apply=apply)
