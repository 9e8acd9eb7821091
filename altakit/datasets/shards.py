"""The WebDataset tar shard format: writing samples into shards, indexing a shard's bytes.

A shard is a plain tar file of ``<key>.mp`` members, one msgpack map per sample
(readable by ``tar``, and decoded by plain ``webdataset``'s default ``.decode()``, which
knows ``.mp``; shards written before used ``<key>.msgpack`` and still read): :class:`ShardWriter` writes them
into a store and describes each one as a manifest entry (key, store version,
count, first sample, bytes, checksum); :func:`index_tar` / :func:`parse_tar`
find the members of a shard held in memory (a :class:`Shard`). The manifest that
lists a dataset version's shards is :mod:`altakit.datasets.manifest`; reading
shard bytes (memory maps, verification, the remote shard cache) is
:mod:`altakit.datasets.fetch`.

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> writer = ShardWriter(store, "datasets/demo/1/", maxcount=2, maxsize=DEFAULT_MAXSIZE)
    >>> for i in range(3):
    ...     writer.add(f"{i:09d}", b"\\x80")  # an empty msgpack map
    >>> writer.flush()
    >>> [(s["key"], s["count"], s["first"]) for s in writer.shards]
    [('datasets/demo/1/shard-000000.tar', 2, 0), ('datasets/demo/1/shard-000001.tar', 1, 2)]
    >>> keys, starts, sizes = parse_tar(store.get(writer.shards[0]["key"]), {})
    >>> keys, sizes
    (['000000000', '000000001'], [1, 1])
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from altakit.errors import ConfigError, DataError
from altakit.store.base import Store

#: The format tag of manifests of shards altakit wrote (byte-identical in stored manifests).
FORMAT = "altakit.shards/1"
#: The format tag of imported plain WebDataset shards (one member per field: :mod:`altakit.datasets.imports`).
IMPORTED = "webdataset/1"
#: The member extension written (webdataset's default decoders unpack ``.mp`` as msgpack).
EXT = "mp"
#: Every member extension read: ``msgpack`` is what older shards hold.
EXTS = ("mp", "msgpack")
BLOCK = 512
#: How to fix a shard that does not parse (the hint of its :class:`~altakit.errors.DataError`).
HINT = (
    "the shard is damaged or was not written as a tar; rewrite the dataset version "
    "(write_dataset) or import the shard again from its source"
)
DEFAULT_MAXCOUNT = 10_000
DEFAULT_MAXSIZE = 256 * 1024 * 1024


# ----------------------------------------------------------------- writing
def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    return info.tobuf(tarfile.USTAR_FORMAT)


class ShardWriter:
    """Write encoded samples into tar shards in ``store`` under ``prefix``.

    Args:
        store: Where the shards go.
        prefix: Key prefix, e.g. ``"datasets/digits/<id>/"``.
        maxcount: Samples per shard at most.
        maxsize: Bytes per shard at most (a single larger sample still gets its own shard).
    """

    def __init__(self, store: Store, prefix: str, maxcount: int, maxsize: int) -> None:
        if maxcount < 1 or maxsize < 1:
            raise ConfigError("maxcount and maxsize must be positive", maxcount=maxcount, maxsize=maxsize)
        self.store, self.prefix, self.maxcount, self.maxsize = store, prefix, maxcount, maxsize
        self.shards: list[dict[str, Any]] = []
        self._buf = io.BytesIO()
        self._count = 0
        self._first = 0

    def add(self, key: str, payload: bytes) -> None:
        """Append one sample (``<key>.mp``)."""
        size = BLOCK + len(payload) + (-len(payload)) % BLOCK
        if self._count and (
            self._count >= self.maxcount or self._buf.tell() + size + 2 * BLOCK > self.maxsize
        ):
            self.flush()
        self._buf.write(_header(f"{key}.{EXT}", len(payload)))
        self._buf.write(payload)
        self._buf.write(b"\0" * ((-len(payload)) % BLOCK))
        self._count += 1

    def flush(self) -> None:
        """Close the current shard and put it into the store."""
        if not self._count:
            return
        self._buf.write(b"\0" * (2 * BLOCK))
        key = f"{self.prefix}shard-{len(self.shards):06d}.tar"
        version = self.store.put(key, self._buf.getbuffer())
        self.shards.append(
            {
                "key": key,
                "version": version.id,
                "count": self._count,
                "first": self._first,
                "bytes": version.size,
                "checksum": version.checksum,
            }
        )
        self._first += self._count
        self._buf = io.BytesIO()
        self._count = 0


# ----------------------------------------------------------------- reading
class Shard:
    """One shard in memory: its sample keys and where each payload lies in ``data``.

    Args:
        name: The shard's store key.
        data: The shard bytes.
        keys: Sample keys, or a function that lists them on first use (the uniform fast index).
        starts: Offset of each payload in ``data``.
        sizes: Size of each payload.
    """

    def __init__(
        self,
        name: str,
        data: bytes,
        keys: list[str] | Callable[[], list[str]],
        starts: Sequence[int] | np.ndarray,
        sizes: Sequence[int] | np.ndarray,
    ) -> None:
        self.name, self.data = name, data
        self._keys = keys
        self.starts = np.asarray(starts, dtype=np.int64)
        self.sizes = np.asarray(sizes, dtype=np.int64)
        #: Per-shard columnar decode (set by :mod:`altakit.datasets.reader`; ``None`` = decode per sample).
        self.columns: Any = None
        self._spans: tuple[list[int], list[int]] | None = None

    @property
    def count(self) -> int:
        """Samples in the shard."""
        return len(self.starts)

    @property
    def keys(self) -> list[str]:
        """Sample keys, in shard order."""
        if callable(self._keys):
            self._keys = self._keys()
        return self._keys

    def spans(self) -> tuple[list[int], list[int]]:
        """``(starts, sizes)`` as Python lists (cached), for per-sample loops."""
        if self._spans is None:
            self._spans = (self.starts.tolist(), self.sizes.tolist())
        return self._spans

    def payload(self, i: int) -> memoryview:
        """The msgpack bytes of sample ``i``."""
        start = int(self.starts[i])
        return memoryview(self.data)[start : start + int(self.sizes[i])]


def index_tar(
    data: bytes, where: dict[str, Any], count: int
) -> tuple[list[str] | Callable[[], list[str]], np.ndarray, np.ndarray]:
    """Like :func:`parse_tar`, vectorized for the common shard of ``count`` equal-sized members.

    When every header matches the first one in size, type, extension and name length (what
    :class:`ShardWriter` writes for fixed-size samples), the members are found with a few NumPy
    comparisons and keys are listed only when asked for; anything else goes to :func:`parse_tar`,
    which gives the same answer (and the same errors) one header at a time.
    """
    found = _uniform_tar(data, count)
    if found is not None:
        return found
    keys, starts, sizes = parse_tar(data, where)
    return keys, np.asarray(starts, dtype=np.int64), np.asarray(sizes, dtype=np.int64)


_SUFFIXES = [np.frombuffer(f".{ext}".encode(), dtype=np.uint8) for ext in EXTS]


def _uniform_tar(data: bytes, count: int) -> tuple[Callable[[], list[str]], np.ndarray, np.ndarray] | None:
    if count < 1 or len(data) < BLOCK:
        return None
    first = data[:BLOCK]
    try:
        size = int(first[124:136].rstrip(b"\0 ").strip() or b"0", 8)
    except ValueError:
        return None
    if size < 0:  # a malformed header: parse_tar says so
        return None
    name_len = first[:100].find(b"\0")
    name_len = 100 if name_len < 0 else name_len
    suffix = next((x for x in _SUFFIXES if first[:name_len].endswith(x.tobytes())), _SUFFIXES[0])
    key_len = name_len - len(suffix)
    stride = BLOCK + size + (-size) % BLOCK
    end = count * stride
    if key_len < 1 or first[156:157] not in (b"0", b"\0") or end + BLOCK > len(data):
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    heads = np.lib.stride_tricks.as_strided(buf, (count, BLOCK), (stride, 1), writeable=False)
    names = heads[:, :key_len]
    ok = (
        not buf[end : end + BLOCK].any()  # the end marker right after the last member
        and (heads[:, 124:136] == heads[0, 124:136]).all()  # same size
        and (heads[:, 156] == heads[0, 156]).all()  # regular files
        and (heads[:, 257:262] == heads[0, 257:262]).all()
        and (heads[0, 257:262].tobytes() != b"ustar" or not heads[:, 345:500].any())  # no prefix
        and (heads[:, key_len:name_len] == suffix).all()
        and (name_len == 100 or not heads[:, name_len].any())
        and bool(((names > 0x20) & (names < 0x7F) & (names != ord(".")) & (names != ord("/"))).all())
    )
    if not ok:
        return None
    starts = np.arange(count, dtype=np.int64) * stride + BLOCK
    sizes = np.full(count, size, dtype=np.int64)

    def keys() -> list[str]:
        text = np.ascontiguousarray(names).tobytes().decode("ascii")
        return [text[i : i + key_len] for i in range(0, len(text), key_len)]

    return keys, starts, sizes


def parse_tar(data: bytes, where: dict[str, Any]) -> tuple[list[str], list[int], list[int]]:
    """Index the ``.mp`` (or older ``.msgpack``) members of a tar held in ``data``: ``(keys, starts, sizes)``.

    Every size read from a header is checked against the bytes there are, so each step moves
    forward by at least one header and a hostile shard ends in an error, never a loop.

    Raises:
        DataError: The tar is truncated or malformed (``where`` names dataset and shard).

    Example:
        >>> parse_tar(_header("a.mp", 1) + b"\\x80" + bytes(511 + 1024), {})
        (['a'], [512], [1])
        >>> bad = bytearray(_header("a.mp", 1) + bytes(1024))
        >>> bad[124:136] = b"-0000001000\\0"
        >>> parse_tar(bytes(bad), {"dataset": "d", "shard": "s.tar"})
        Traceback (most recent call last):
        ...
        altakit.errors.DataError: dataset 'd', shard 's.tar': malformed tar: member 'a.mp' ... size -512 ...
    """
    keys: list[str] = []
    starts: list[int] = []
    sizes: list[int] = []
    pos, end = 0, len(data)
    long_name: str | None = None
    while True:
        if pos + BLOCK > end:
            raise DataError(
                f"{_where(where)}: truncated tar (no end marker)",
                key=keys[-1] if keys else None,
                hint=HINT,
                **where,
            )
        header = data[pos : pos + BLOCK]
        if header.count(0) == BLOCK:
            return keys, starts, sizes
        try:
            size = int(header[124:136].rstrip(b"\0 ").strip() or b"0", 8)
            kind = header[156:157]
            member = header[0:100].split(b"\0", 1)[0].decode()
            prefix = header[345:500].split(b"\0", 1)[0].decode() if header[257:262] == b"ustar" else ""
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(
                f"{_where(where)}: malformed tar header at byte {pos}", hint=HINT, **where
            ) from exc
        if size < 0:
            raise DataError(
                f"{_where(where)}: malformed tar: member {member!r} at byte {pos} has size {size}",
                key=_key(member),
                hint=HINT,
                **where,
            )
        start = pos + BLOCK
        if start + size > end:
            raise DataError(
                f"{_where(where)}: truncated tar in member {member!r}", key=_key(member), hint=HINT, **where
            )
        pos = start + size + (-size) % BLOCK  # > the old pos: every step moves forward
        if kind in (b"0", b"\0"):
            full = long_name or (f"{prefix}/{member}" if prefix else member)
            long_name = None
            key, _, ext = full.rpartition("/")[2].partition(".")
            if ext in EXTS:
                keys.append(full.rpartition("/")[0] + "/" + key if "/" in full else key)
                starts.append(start)
                sizes.append(size)
        elif kind in (b"L", b"x"):
            try:
                text = bytes(data[start : start + size]).decode()
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{_where(where)}: malformed tar: long name at byte {start - BLOCK} is not UTF-8",
                    hint=HINT,
                    **where,
                ) from exc
            if kind == b"L":
                long_name = text.split("\0", 1)[0]
            for line in text.splitlines() if kind == b"x" else ():
                if " path=" in line:
                    long_name = line.split(" path=", 1)[1]


def _key(member: str) -> str:
    return member.rpartition("/")[2].partition(".")[0]


def _where(where: dict[str, Any]) -> str:
    return f"dataset {where.get('dataset')!r}, shard {where.get('shard')!r}"
