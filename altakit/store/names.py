"""Keys, version ids and object names.

A version of key ``K`` is the immutable object
``K✹<timestamp>_<nonce>~<size>~<checksum>~<writer>``. ``<timestamp>_<nonce>`` is
the version id: a UTC timestamp to the nanosecond (strictly increasing within a
process) and a random nonce, so ids from concurrent writers never collide and
sort into one total order that every reader agrees on. The name also carries
size, checksum (first 128 bits of SHA-256) and writer, so a listing alone
describes every version: no HEAD request, no sidecar that could disagree.

Example:
    >>> v = parse_name("a/b.csv✹20261122T041500123456789Z_0a1b2c3d~5~" + "0" * 32 + "~ana@host")
    >>> v.key, v.size, v.writer
    ('a/b.csv', 5, 'ana@host')
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import mmap
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from altakit.errors import InvalidKey

SEP = "✹"
TOMBSTONE = "deleted"
CATALOG_PREFIX = "_altakit/"
CHECKSUM_HEX = 32
MAX_SEGMENT_BYTES = 120
_FIELD = "~"
_WRITER_RE = re.compile(r"[^A-Za-z0-9._@-]+")
_ID_RE = re.compile(r"^\d{8}T\d{15}Z_[0-9a-f]{8}$")
_lock = threading.Lock()
_last_ns = 0


@dataclass(frozen=True)
class Version:
    """One immutable version of a key.

    Attributes:
        key: The key, e.g. ``"raw/sensors.csv"``.
        id: ``<timestamp>_<nonce>``; ids sort in write order.
        size: Size in bytes (0 for a tombstone).
        checksum: First 32 hex digits of the SHA-256 of the bytes.
        writer: Who wrote it (``user@host`` unless set).
        deleted: True for a tombstone left by ``Store.delete``.
    """

    key: str
    id: str
    size: int
    checksum: str
    writer: str
    deleted: bool = False

    @property
    def timestamp(self) -> datetime:
        """When the version was written (UTC, microsecond precision)."""
        return id_time(self.id)

    @functools.cached_property
    def name(self) -> str:
        """The object name the version is stored under."""
        fields = ("0", TOMBSTONE) if self.deleted else (str(self.size), self.checksum)
        return _FIELD.join((f"{self.key}{SEP}{self.id}", *fields, self.writer))


def checksum(data: bytes | bytearray | memoryview | mmap.mmap) -> str:
    """Checksum as stored in version names."""
    return hashlib.sha256(data).hexdigest()[:CHECKSUM_HEX]


def new_id() -> str:
    """A fresh version id, strictly increasing within this process."""
    global _last_ns
    with _lock:
        ns = max(time.time_ns(), _last_ns + 1)
        _last_ns = ns
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}{frac:09d}Z_{secrets.token_hex(4)}"


def id_time(version_id: str) -> datetime:
    """The UTC time encoded in a version id."""
    base = datetime.strptime(version_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return base.replace(microsecond=int(version_id[15:21]))


def id_for_time(when: datetime) -> str:
    """The smallest id string that sorts after every id written at or before ``when``."""
    if when.tzinfo is None:
        raise InvalidKey("as_of needs a time zone", hint="use datetime.now(UTC) or an aware datetime")
    when = when.astimezone(UTC)
    return when.strftime("%Y%m%dT%H%M%S") + f"{when.microsecond:06d}999Z_~"


def default_writer() -> str:
    """``user@host``, reduced to characters every backend accepts."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # arbitrary UID without a passwd entry
        user = "uid"
    return clean_writer(f"{user}@{socket.gethostname()}")


def clean_writer(writer: str) -> str:
    """Make ``writer`` safe to embed in an object name."""
    return _WRITER_RE.sub("-", writer)[:40] or "unknown"


def validate_key(key: str) -> str:
    """Return ``key`` if it is a valid store key, else raise :class:`InvalidKey`.

    Keys are relative, ``/``-separated paths with no empty, ``.`` or ``..``
    segments, no NUL byte, no ``✹`` and no backslash.
    """
    if not isinstance(key, str):
        raise InvalidKey(f"a key must be a str, not {type(key).__name__}", key=key)
    hint = "use a relative path such as 'raw/data.csv'"
    if not key or key.startswith("/") or key.endswith("/"):
        raise InvalidKey(f"invalid key {key!r}: empty, absolute, or ends with '/'", key=key, hint=hint)
    for bad, what in (("\x00", "a NUL byte"), (SEP, f"the version separator {SEP!r}"), ("\\", "a backslash")):
        if bad in key:
            raise InvalidKey(f"invalid key {key!r}: contains {what}", key=key, hint=hint)
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"invalid key {key!r}: '{segment}' segment", key=key, hint=hint)
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise InvalidKey(
                f"invalid key {key!r}: a segment is over {MAX_SEGMENT_BYTES} bytes",
                key=key,
                hint="shorten the file name",
            )
    if key.startswith(".altakit"):
        raise InvalidKey(f"invalid key {key!r}: '.altakit' is reserved", key=key)
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is a valid listing prefix (``""``, ``"raw/"``, ``"raw/day"`` …)."""
    if not isinstance(prefix, str):
        raise InvalidKey(f"a prefix must be a str, not {type(prefix).__name__}", prefix=prefix)
    segments = prefix.split("/")
    if (
        prefix.startswith("/")
        or any(bad in prefix for bad in ("\x00", SEP, "\\"))
        or any(seg in (".", "..") for seg in segments)
        or "" in segments[:-1]
    ):
        raise InvalidKey(
            f"invalid prefix {prefix!r}", prefix=prefix, hint="use a relative prefix such as 'raw/'"
        )
    return prefix


def validate_id(version_id: str) -> str:
    """Return ``version_id`` if it has the form of a version id."""
    if not isinstance(version_id, str) or not _ID_RE.match(version_id):
        raise InvalidKey(
            f"invalid version id {version_id!r}",
            hint="pass an id from store.versions(key), e.g. '20261122T041500123456789Z_0a1b2c3d'",
        )
    return version_id


def parse_name(name: str) -> Version | None:
    """Parse an object name into a :class:`Version`; ``None`` if it is not one."""
    key, sep, rest = name.rpartition(SEP)
    if not sep:
        return None
    parts = rest.split(_FIELD)
    if len(parts) != 4 or not _ID_RE.match(parts[0]) or "/" in rest:
        return None
    vid, size, digest, writer = parts
    if digest == TOMBSTONE:
        return Version(key, vid, 0, "", writer, deleted=True)
    if not size.isdigit():
        return None
    return Version(key, vid, int(size), digest, writer)
