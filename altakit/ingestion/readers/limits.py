"""Limits on unpacking: how far a received input may expand, and where unpacked bytes are written.

:class:`UnpackLimits` caps the bytes all inputs of one ingest may unpack to and the
bytes one input may unpack to per byte received (a decompression bomb); a
:class:`Budget` per received input counts what its decompression streams
produce (:func:`copy_bounded`) and what archives declare before anything is read
(:meth:`Budget.check`). Writes into the work folder go through :func:`write_chunk`,
so a full temp folder is an :class:`UnpackLimitExceeded`, never an ``OSError``
that reads as a damaged input. :mod:`altakit.ingestion.sources` does the unpacking.

Example:
    >>> UnpackLimits(max_bytes=1_000_000, max_ratio=100).allows(received=100, unpacked=20_000)
    True
    >>> UnpackLimits(max_bytes=1_000_000, max_ratio=100, floor=1_000).allows(received=100, unpacked=20_000)
    False
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from altakit.errors import IngestError

if TYPE_CHECKING:
    from altakit.events import EventStream


#: Most bytes the inputs of one ingest may unpack to, together (spec: ``max_unpacked_bytes``).
MAX_UNPACKED = 16 * 1024**3
#: Most bytes unpacked per byte received (beyond :data:`RATIO_FLOOR`): more is a decompression bomb
#: (spec: ``max_unpack_ratio``).
MAX_RATIO = 100
#: Unpacked bytes below which any ratio is fine (small files compress well).
RATIO_FLOOR = 64 * 1024**2
#: Free bytes the temp folder keeps: an unpack or copy that would leave less stops with a typed error.
MIN_FREE = 64 * 1024**2


@dataclass(frozen=True)
class UnpackLimits:
    """How far received inputs may unpack (see the module docstring).

    Attributes:
        max_bytes: Most bytes all inputs of one call may unpack to, archive members and nesting
            levels together (the spec's ``max_unpacked_bytes``).
        max_ratio: Most bytes one input may unpack to per byte received, beyond ``floor`` (the
            spec's ``max_unpack_ratio``).
        floor: Unpacked bytes below which any ratio is fine (small files compress well).

    Example:
        >>> UnpackLimits(max_ratio=10).allows(received=1_000, unpacked=5_000)
        True
    """

    max_bytes: int = 0
    max_ratio: float = 0
    floor: int = 0

    def __post_init__(self) -> None:
        # 0: the module's default, looked up when made (tests and admins may change the constants)
        object.__setattr__(self, "max_bytes", self.max_bytes or MAX_UNPACKED)
        object.__setattr__(self, "max_ratio", self.max_ratio or MAX_RATIO)
        object.__setattr__(self, "floor", self.floor or min(RATIO_FLOOR, self.max_bytes))

    def allows(self, *, received: int, unpacked: int, total: int = 0) -> bool:
        """Whether ``received`` bytes unpacking to ``unpacked`` (all inputs: ``total``) is within limits."""
        over_ratio = unpacked > self.floor and unpacked > self.max_ratio * max(1, received)
        return not over_ratio and max(unpacked, total) <= self.max_bytes


class UnpackLimitExceeded(IngestError):
    """An input unpacks past :class:`UnpackLimits`: a bomb, or more than the temp folder holds."""


#: Files resolved between two ``progress`` events (at most about 100 events per call).
PROGRESS_STEPS = 100


@dataclass
class Tally:
    """What one :func:`resolve_sources` call has unpacked so far, and where it reports progress."""

    limits: UnpackLimits
    events: EventStream | None = None
    unpacked: int = 0
    reported: int = -1

    def report(self, done: int, total: int, *, force: bool = False) -> None:
        if self.events is None or done == self.reported:
            return
        if force or done - self.reported >= max(1, total // PROGRESS_STEPS):
            self.reported = done
            self.events.progress(done, total, stage="resolve")


def new_file(workdir: Path, kind: str) -> Path:
    """A new, empty file in ``workdir`` named after what it holds."""
    fd, name = tempfile.mkstemp(prefix=f"{kind}-", dir=workdir)
    os.close(fd)
    return Path(name)


def copy_in(src: IO[bytes], workdir: Path, kind: str, name: str) -> Path:
    """Copy a stream into a new file in ``workdir`` (a full disk is a typed error)."""
    path = new_file(workdir, kind)
    try:
        with open(path, "wb") as dst:
            while chunk := src.read(1024 * 1024):
                write_chunk(dst, chunk, name, workdir)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def write_all(path: Path, data: bytes, name: str) -> None:
    try:
        with open(path, "wb") as dst:
            write_chunk(dst, data, name, path.parent)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_chunk(dst: IO[bytes], chunk: bytes, name: str, workdir: Path) -> None:
    """Write ``chunk``; a full temp folder is an :class:`UnpackLimitExceeded`, not an ``OSError``."""
    try:
        dst.write(chunk)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise
        raise _disk_full(name) from exc
    if shutil.disk_usage(workdir).free < MIN_FREE:
        raise _disk_full(name)


def _disk_full(name: str) -> UnpackLimitExceeded:
    return UnpackLimitExceeded(
        f"{name}: the temp folder ran out of space while the input was unpacked or copied",
        source=name,
        limit="disk",
        hint="free space in the temp folder (or point TMPDIR at a larger disk), or lower the spec's "
        "max_unpacked_bytes so such inputs are refused early",
    )


@dataclass
class Budget:
    """What one received input may unpack to (see :class:`UnpackLimits`)."""

    name: str
    received: int
    tally: Tally
    unpacked: int = 0

    def take(self, n: int) -> None:
        self.unpacked += n
        self.tally.unpacked += n
        self.check(self.unpacked, self.tally.unpacked)

    def check(self, unpacked: int, total: int, declared: bool = False) -> None:
        """Raise :class:`UnpackLimitExceeded` unless ``unpacked`` (all inputs: ``total``) is within limits."""
        limits = self.tally.limits
        if limits.allows(received=self.received, unpacked=unpacked, total=total):
            return
        by_ratio = total <= limits.max_bytes
        what = "declares" if declared else "unpacks to"
        detail = (
            f"more than {limits.max_ratio:g}x its {self.received:,} bytes"
            if by_ratio
            else f"more than the limit of {limits.max_bytes:,} bytes"
        )
        key = "max_unpack_ratio" if by_ratio else "max_unpacked_bytes"
        raise UnpackLimitExceeded(
            f"{self.name}: {what} {detail} (a decompression bomb?); refused before unpacking further",
            source=self.name,
            limit=key,
            received=self.received,
            unpacked=max(unpacked, total),
            hint=f"inputs may unpack to {limits.max_ratio:g}x their size and {limits.max_bytes:,} bytes "
            f"in all; if the file is genuine, raise the spec's {key} (e.g. `{key}: "
            f"{_raised(limits, key)}`), or unpack it yourself and ingest the files",
        )


def _raised(limits: UnpackLimits, key: str) -> str:
    return f"{limits.max_ratio * 10:g}" if key == "max_unpack_ratio" else f"{limits.max_bytes * 4}"


def copy_bounded(src: IO[bytes], workdir: Path, kind: str, budget: Budget) -> Path:
    """Copy a decompressing stream into a new file, within ``budget``."""
    path = new_file(workdir, kind)
    try:
        with open(path, "wb") as dst:
            while chunk := src.read(1024 * 1024):
                budget.take(len(chunk))
                write_chunk(dst, chunk, budget.name, workdir)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
