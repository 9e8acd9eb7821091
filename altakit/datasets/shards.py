"""The WebDataset tar shard format: writing samples into shards, indexing a shard's bytes.

A shard (format ``altakit.shards/2``) is a plain tar file; a sample is a ``<key>.mp``
member (a msgpack map of its scalar fields) followed by one ``<key>.<field>.npy`` member
per array field (``np.save`` bytes), so ``tar`` lists it, plain ``webdataset``'s default
``.decode()`` gives a dict and NumPy arrays, and ``np.load`` opens an array member. The
field of an array member is everything between the key's first ``.`` and the final
``.npy`` (``<key>.a.b.npy`` is field ``a.b``). Shards written before still read: format
``altakit.shards/1`` held the arrays inside the map (``[dtype, shape, bytes]``), in
``<key>.mp`` or, older, ``<key>.msgpack`` members. :class:`ShardWriter` writes shards
into a store and describes each one as a manifest entry (key, store version,
count, first sample, bytes, checksum); :func:`index_shard` / :func:`parse_tar`
find the members of a shard held in memory (a :class:`Shard`). The manifest that
lists a dataset version's shards is :mod:`altakit.datasets.manifest`; reading
shard bytes (memory maps, verification, the remote shard cache) is
:mod:`altakit.datasets.fetch`.

Example:
    >>> import tempfile, altakit
    >>> import numpy as np
    >>> from altakit.datasets.npy import npy_bytes
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> writer = ShardWriter(store, "datasets/demo/1/", maxcount=2, maxsize=DEFAULT_MAXSIZE)
    >>> for i in range(3):
    ...     writer.add(f"{i:09d}", b"\\x81\\xa1n\\x05", [("x", npy_bytes(np.arange(3)))])  # {"n": 5}, x
    >>> writer.flush()
    >>> [(s["key"], s["count"], s["first"]) for s in writer.shards]
    [('datasets/demo/1/shard-000000.tar', 2, 0), ('datasets/demo/1/shard-000001.tar', 1, 2)]
    >>> data = store.get(writer.shards[0]["key"])
    >>> shard = Shard("s", data, *index_shard(data, {}, 2))
    >>> shard.keys, shard.doc(1)["n"], shard.doc(1)["x"][:2]
    (['000000000', '000000001'], 5, ['<i8', [3]])
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from altakit.datasets.codec import unpack, unpack_views
from altakit.datasets.npy import NPY, npy_value
from altakit.errors import ConfigError, DataError
from altakit.store.base import Store

#: The format tag of manifests of shards altakit writes (byte-identical in stored manifests).
FORMAT = "altakit.shards/2"
#: Every format tag of shards altakit wrote: ``/1`` held arrays inside the ``.mp`` map.
FORMATS = (FORMAT, "altakit.shards/1")
#: The format tag of imported plain WebDataset shards (one member per field: :mod:`altakit.datasets.imports`).
IMPORTED = "webdataset/1"
#: The member extension of a sample's map (webdataset's default decoders unpack ``.mp`` as msgpack).
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
#: Per array field held in ``.npy`` members: ``(starts, sizes)`` per sample (start ``-1``: absent).
Members = dict[str, tuple[np.ndarray, np.ndarray]]
#: What indexing a shard finds: ``(keys or a function listing them, starts, sizes, members)``.
Index = tuple[list[str] | Callable[[], list[str]], np.ndarray, np.ndarray, Members]


# ----------------------------------------------------------------- writing
def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    try:
        return info.tobuf(tarfile.USTAR_FORMAT)
    except ValueError:  # a name over 100 bytes: a GNU long-name header (what tar and tarfile read)
        return info.tobuf(tarfile.GNU_FORMAT)


def _padded(size: int) -> int:
    return size + (-size) % BLOCK


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

    def add(self, key: str, payload: bytes, arrays: Sequence[tuple[str, bytes]] = ()) -> None:
        """Append one sample: ``<key>.mp`` holding ``payload``, then ``<key>.<field>.npy`` per array."""
        members = [(f"{key}.{EXT}", payload), *((f"{key}.{name}{NPY}", body) for name, body in arrays)]
        heads = [_header(name, len(body)) for name, body in members]
        size = sum(len(head) + _padded(len(body)) for head, (_, body) in zip(heads, members, strict=True))
        if self._count and (
            self._count >= self.maxcount or self._buf.tell() + size + 2 * BLOCK > self.maxsize
        ):
            self.flush()
        for head, (_, body) in zip(heads, members, strict=True):
            self._buf.write(head)
            self._buf.write(body)
            self._buf.write(b"\0" * ((-len(body)) % BLOCK))
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
        starts: Offset of each payload (the ``.mp`` map) in ``data``.
        sizes: Size of each payload.
        members: Per array field held in ``.npy`` members: ``(starts, sizes)`` of each sample's
            member in ``data`` (start ``-1``: the sample has none).
    """

    def __init__(
        self,
        name: str,
        data: bytes,
        keys: list[str] | Callable[[], list[str]],
        starts: Sequence[int] | np.ndarray,
        sizes: Sequence[int] | np.ndarray,
        members: Members | None = None,
    ) -> None:
        self.name, self.data = name, data
        self._keys = keys
        self.starts = np.asarray(starts, dtype=np.int64)
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.members: Members = members or {}
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
        """The msgpack bytes of sample ``i`` (its ``.mp`` map; arrays in ``.npy`` members are not in it)."""
        start = int(self.starts[i])
        return memoryview(self.data)[start : start + int(self.sizes[i])]

    def doc(self, i: int, views: bool = False) -> dict[str, Any]:
        """Sample ``i`` as one map: its ``.mp`` fields and each ``.npy`` member as ``[dtype, shape, bytes]``.

        With ``views`` array bytes stay views into the shard (no copy).

        Raises:
            DataError: The map or a member is corrupt, or a field is both in the map and a member.
        """
        if views:
            doc = unpack_views(self.data, int(self.starts[i]), int(self.sizes[i]))
        else:
            doc = unpack(self.payload(i))
        for name, (starts, sizes) in self.members.items():
            start = int(starts[i])
            if start >= 0:
                if name in doc:
                    raise DataError(f"field {name!r} is both in the map and an .npy member", field=name)
                try:
                    doc[name] = npy_value(self.data, start, int(sizes[i]), views)
                except DataError as exc:
                    raise DataError(f"field {name!r}: {exc.message}", field=name) from exc
        return doc


def index_tar(
    data: bytes, where: dict[str, Any], count: int
) -> tuple[list[str] | Callable[[], list[str]], np.ndarray, np.ndarray]:
    """:func:`index_shard` without the ``.npy`` members: ``(keys, starts, sizes)`` of the ``.mp`` maps."""
    return index_shard(data, where, count)[:3]


def index_shard(data: bytes, where: dict[str, Any], count: int) -> Index:
    """Like :func:`walk_tar`, vectorized for the common shard of ``count`` samples of one layout.

    When every sample's members match the first sample's in size, type, extension and name
    length (what :class:`ShardWriter` writes for fixed-size samples), the members are found
    with a few NumPy comparisons and keys are listed only when asked for; anything else goes
    to :func:`walk_tar`, which gives the same answer (and the same errors) one header at a time.
    """
    found = _uniform_tar(data, count)
    if found is not None:
        return found
    keys, starts, sizes, members = walk_tar(data, where)
    return keys, np.asarray(starts, dtype=np.int64), np.asarray(sizes, dtype=np.int64), members


_MAPS = tuple(f".{ext}".encode() for ext in EXTS)


def _layout(data: bytes) -> tuple[int, list[tuple[int, int, int, bytes]]] | None:
    """The first sample's members ``(offset, size, name length, suffix)`` and its key length, if plain."""
    layout: list[tuple[int, int, int, bytes]] = []
    key = b""
    pos = 0
    while pos + BLOCK <= len(data):
        head = data[pos : pos + BLOCK]
        name_len = head[:100].find(b"\0")
        name_len = 100 if name_len < 0 else name_len
        name = head[:name_len]
        dot = name.find(b".")
        if layout and (dot < 1 or name[:dot] != key):
            break  # the next sample, or the end marker
        try:
            size = int(head[124:136].rstrip(b"\0 ").strip() or b"0", 8)
        except ValueError:
            return None
        if dot < 1 or size < 0 or head[156:157] not in (b"0", b"\0"):  # parse_tar names what is wrong
            return None
        key = name[:dot]
        layout.append((pos, size, name_len, name[dot:]))
        pos += BLOCK + _padded(size)
    suffixes = [x[3] for x in layout]
    if (
        not layout
        or not all(x.isascii() for x in suffixes)
        or suffixes[0] not in _MAPS
        or len(set(suffixes)) != len(suffixes)
    ):
        return None
    if not all(x.endswith(NPY.encode()) and len(x) > len(NPY) + 1 for x in suffixes[1:]):
        return None
    return len(key), layout


def _uniform_tar(data: bytes, count: int) -> Index | None:
    if count < 1 or len(data) < BLOCK:
        return None
    found = _layout(data)
    if found is None:
        return None
    key_len, layout = found
    last = layout[-1]
    stride = last[0] + BLOCK + _padded(last[1])  # one sample's members
    end = count * stride
    if end + BLOCK > len(data):
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    ok = not buf[end : end + BLOCK].any()  # the end marker right after the last member
    names = np.empty((0, key_len), np.uint8)
    spans: list[tuple[np.ndarray, np.ndarray]] = []
    for at, size, name_len, suffix in layout:
        if not ok:
            return None
        heads = np.lib.stride_tricks.as_strided(buf[at:], (count, BLOCK), (stride, 1), writeable=False)
        ok = (
            (heads[:, 124:136] == heads[0, 124:136]).all()  # same size
            and (heads[:, 156] == heads[0, 156]).all()  # regular files
            and (heads[:, 257:262] == heads[0, 257:262]).all()
            and (heads[0, 257:262].tobytes() != b"ustar" or not heads[:, 345:500].any())  # no prefix
            and (heads[:, key_len:name_len] == np.frombuffer(suffix, np.uint8)).all()
            and (name_len == 100 or not heads[:, name_len].any())
        )
        if not len(names):
            names = heads[:, :key_len]
            ok = ok and bool(
                ((names > 0x20) & (names < 0x7F) & (names != ord(".")) & (names != ord("/"))).all()
            )
        else:
            ok = ok and bool((heads[:, :key_len] == names).all())  # the same key in every member
        spans.append((np.arange(count, dtype=np.int64) * stride + at + BLOCK, np.full(count, size, np.int64)))
    if not ok:
        return None

    def keys() -> list[str]:
        text = np.ascontiguousarray(names).tobytes().decode("ascii")
        return [text[i : i + key_len] for i in range(0, len(text), key_len)]

    members = {
        x[3][1 : -len(NPY)].decode("ascii"): span for x, span in zip(layout[1:], spans[1:], strict=True)
    }
    return keys, spans[0][0], spans[0][1], members


def parse_tar(data: bytes, where: dict[str, Any]) -> tuple[list[str], list[int], list[int]]:
    """Index the ``.mp`` (or older ``.msgpack``) members of a tar held in ``data``: ``(keys, starts, sizes)``.

    :func:`walk_tar` without the ``.npy`` members.

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
    keys, starts, sizes, _ = walk_tar(data, where)
    return keys, starts, sizes


def walk_tar(data: bytes, where: dict[str, Any]) -> tuple[list[str], list[int], list[int], Members]:
    """Index a shard one header at a time: ``(keys, starts, sizes)`` of the maps, and the ``.npy`` members.

    A sample starts at its ``<key>.mp`` (or ``.msgpack``) member; its ``<key>.<field>.npy``
    members follow it. Other members are passed over. Every size read from a header is checked
    against the bytes there are, so each step moves forward by at least one header and a hostile
    shard ends in an error, never a loop.

    Raises:
        DataError: The tar is truncated or malformed, or an ``.npy`` member does not follow its
            sample's map (``where`` names dataset and shard).
    """
    keys: list[str] = []
    starts: list[int] = []
    sizes: list[int] = []
    found: dict[str, dict[int, tuple[int, int]]] = {}
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
            return keys, starts, sizes, _members(found, len(keys))
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
        pos = start + _padded(size)  # > the old pos: every step moves forward
        if kind in (b"0", b"\0"):
            full = long_name or (f"{prefix}/{member}" if prefix else member)
            long_name = None
            folder, _, base = full.rpartition("/")
            key, _, ext = base.partition(".")
            key = f"{folder}/{key}" if folder else key
            if ext in EXTS:
                keys.append(key)
                starts.append(start)
                sizes.append(size)
            elif ext.endswith(NPY) and len(ext) > len(NPY):
                field = found.setdefault(ext[: -len(NPY)], {})
                if not keys or keys[-1] != key or len(keys) - 1 in field:
                    raise DataError(
                        f"{_where(where)}: member {full!r} does not follow its sample's .{EXT} member",
                        key=key,
                        hint=HINT,
                        **where,
                    )
                field[len(keys) - 1] = (start, size)
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


def _members(found: dict[str, dict[int, tuple[int, int]]], count: int) -> Members:
    members: Members = {}
    for name, spans in found.items():
        starts = np.full(count, -1, dtype=np.int64)
        sizes = np.zeros(count, dtype=np.int64)
        for i, (start, size) in spans.items():
            starts[i], sizes[i] = start, size
        members[name] = (starts, sizes)
    return members


def _key(member: str) -> str:
    return member.rpartition("/")[2].partition(".")[0]


def _where(where: dict[str, Any]) -> str:
    return f"dataset {where.get('dataset')!r}, shard {where.get('shard')!r}"
