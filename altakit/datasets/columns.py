"""Columnar decode of a whole shard: one template per payload size, checked with NumPy.

Array fields held in ``.npy`` members (shards of format ``altakit.shards/2``) need no
template: when every sample's member of a field has the same header
(:func:`altakit.datasets.npy.npy_column`), the bodies lie at known offsets. The rest of
this describes the ``.mp`` maps (and the arrays inside them, in older shards).

Samples of one layout (what :func:`altakit.datasets.codec.encode` writes for arrays of
a declared shape and scalars of one width) are byte-for-byte alike except for
the array bodies and the scalar values. :func:`shard_columns` parses the first
sample of each payload size in Python (the *template*), then checks every other
sample of that size against it with a few vectorized comparisons (samples of
the same size but another layout get their own template, up to
:data:`MAX_TEMPLATES` per shard): every byte
that fixes the structure (map and array headers, keys, dtype, shape, the type
byte of each scalar) must be equal, or, for 1-byte ints and bools, of the same
width. A sample that passes parses exactly like its template, so its array
bodies lie at known offsets in the shard buffer and its scalars can be read
with one NumPy view per field.

A batch is then one fancy-index gather per field (:meth:`ShardColumns.take_into`):
no per-sample Python objects (but one per sample for ``str`` / ``bytes``
fields). Anything a template does not cover (``None``, missing or extra keys,
ragged arrays, odd encodings, too many layouts)
makes :func:`shard_columns` return ``None`` and the reader decodes that shard per
sample, which finds and names any bad sample. Both paths deliver the same values.

Example:
    >>> cols = shard_columns(schema, shard)  # doctest: +SKIP
    >>> out = cols.column("image", 2)  # doctest: +SKIP
    >>> cols.take_into("image", np.array([3, 1]), out)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

from altakit.datasets.codec import check_array, container_header
from altakit.datasets.npy import npy_column
from altakit.datasets.samples import SampleField, SampleSchema
from altakit.datasets.shards import Shard
from altakit.errors import DataError

_INTS = {
    0xCC: ">u1",
    0xCD: ">u2",
    0xCE: ">u4",
    0xCF: ">u8",
    0xD0: ">i1",
    0xD1: ">i2",
    0xD2: ">i4",
    0xD3: ">i8",
}
_FLOATS = {0xCA: ">f4", 0xCB: ">f8"}
_STRS = {0xD9: 1, 0xDA: 2, 0xDB: 4}
_BINS = {0xC4: 1, 0xC5: 2, 0xC6: 4}
_INT64_MAX = np.iinfo(np.int64).max
#: Layouts tried per shard before it is left to the per-sample path.
MAX_TEMPLATES = 64
#: Array bodies at least this big are copied one by one straight into the batch (no gather buffer).
BIG_ROW = 64 * 1024


class NotColumnar(Exception):
    """The shard does not fit one template per size (decode it per sample instead)."""


@dataclass
class _Slot:
    """Where one field's value lies in a template payload (offsets relative to the payload)."""

    kind: str  # "array", "fixint", "bool", "num", "text"
    at: int  # the value's first byte (array: first body byte; num/text: first data byte)
    width: int = 0  # num: bytes; text: bytes of the body; array: bytes of the body
    fmt: str = ""  # num: big-endian NumPy dtype
    dtype: str = ""  # array: dtype string as stored
    shape: tuple[int, ...] = ()  # array: shape as stored


@dataclass
class _Template:
    """The structure of one payload: structural bytes and a slot per field."""

    const_at: np.ndarray
    const: np.ndarray
    slots: dict[str, _Slot] = field(default_factory=dict)


@dataclass
class ShardColumns:
    """A whole shard decoded column by column.

    Attributes:
        arrays: Per array field: ``(dtype, shape, absolute offsets of each sample's body)``.
        scalars: Per scalar field: a NumPy array (int, float, bool) or a list (str, bytes).
        windows: Per array field body size: a read-only ``(len - size + 1, size)`` view of the shard.
        specs: Per array field: ``(dtype string, shape)`` as stored.
        buffer: The shard bytes as a read-only ``uint8`` array.
    """

    arrays: dict[str, tuple[np.dtype, tuple[int, ...], np.ndarray]]
    scalars: dict[str, Any]
    windows: dict[int, np.ndarray]
    specs: dict[str, tuple[str, tuple[int, ...]]]
    buffer: np.ndarray

    def take_into(self, name: str, idx: np.ndarray, out: Any, rows: np.ndarray | None = None) -> None:
        """Copy field ``name`` of the samples ``idx`` into rows ``rows`` (default: all) of ``out``.

        ``out`` is a C-contiguous array (array and numeric fields) or a list (``str`` / ``bytes``).
        """
        if name not in self.arrays:
            col = self.scalars[name]
            if isinstance(out, list):
                targets = range(len(out)) if rows is None else rows.tolist()
                for r, i in zip(targets, idx.tolist(), strict=True):
                    out[r] = col[i]
            elif rows is None:
                np.take(col, idx, out=out)
            else:
                out[rows] = col[idx]
            return
        dtype, shape, offsets = self.arrays[name]
        size = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        if size == 0:
            return
        if not out.flags.c_contiguous:
            raise ValueError("take_into needs a C-contiguous output")
        flat = out.reshape(len(out), size // dtype.itemsize).view(np.uint8)
        starts = offsets[idx]
        if size < BIG_ROW:  # one gather from the strided windows (np.take would copy them whole)
            flat[slice(None) if rows is None else rows] = self.windows[size][starts]
            return
        buf = self.buffer
        targets = range(len(starts)) if rows is None else rows.tolist()
        for r, a in zip(targets, starts.tolist(), strict=True):  # big rows: memcpy each
            flat[r] = buf[a : a + size]

    def column(self, name: str, n: int, empty: Any = np.empty) -> Any:
        """An empty output column of ``n`` rows for field ``name`` (made by ``empty(shape, dtype)``)."""
        if name in self.arrays:
            dtype, shape, _ = self.arrays[name]
            return empty((n, *shape), dtype)
        col = self.scalars[name]
        return empty((n,), col.dtype) if isinstance(col, np.ndarray) else [None] * n


def shard_columns(schema: SampleSchema, shard: Shard) -> ShardColumns | None:
    """Decode ``shard`` column by column, or ``None`` if it needs the per-sample path."""
    try:
        return _columns(schema, shard)
    except (NotColumnar, DataError, ValueError, TypeError, IndexError, UnicodeDecodeError, OverflowError):
        return None


def _columns(schema: SampleSchema, shard: Shard) -> ShardColumns:
    buf = np.frombuffer(shard.data, dtype=np.uint8)
    n = shard.count
    sizes, starts = shard.sizes, shard.starts
    uniq = np.unique(sizes)
    groups = [np.arange(n)] if len(uniq) == 1 else [np.flatnonzero(sizes == u) for u in uniq]
    arrays: dict[str, tuple[np.dtype, tuple[int, ...], np.ndarray]] = {}
    specs: dict[str, tuple[str, tuple[int, ...]]] = {}
    ints: dict[str, np.ndarray] = {}
    texts: dict[str, list[Any]] = {}
    inner = [f for f in schema.fields if f.name not in shard.members]  # the fields in the .mp maps
    for f in schema.fields:
        if f.name in shard.members:  # one .npy member per sample: one header for all, or NotColumnar
            try:
                dtype_str, shape, offsets = npy_column(buf, *shard.members[f.name])
            except ValueError as exc:
                raise NotColumnar(str(exc)) from exc
            check_array(f, dtype_str, shape)
            arrays[f.name] = (np.dtype(dtype_str), shape, offsets)
            specs[f.name] = (dtype_str, shape)
        elif f.kind == "array":
            arrays[f.name] = (np.dtype("u1"), (), np.empty(n, dtype=np.int64))
        elif f.kind in ("str", "bytes"):
            texts[f.name] = [None] * n
        else:
            ints[f.name] = np.empty(n, dtype={"int": np.int64, "float": np.float64, "bool": np.bool_}[f.kind])
    pending = list(groups)
    templates = 0
    while pending:
        group = pending.pop()
        templates += 1
        if templates > MAX_TEMPLATES:
            raise NotColumnar("too many different layouts in one shard")
        t = _template(inner, shard.data, int(starts[group[0]]), int(sizes[group[0]]))
        ok = _matches(buf, starts[group], t)
        members = group[ok]
        if not ok.all():
            pending.append(group[~ok])  # a different layout of the same size: its own template
        mstarts = starts[members]
        for f in inner:
            slot = t.slots[f.name]
            at = mstarts + slot.at
            if slot.kind == "array":
                dtype, shape, offsets = arrays[f.name]
                if f.name in specs and specs[f.name] != (slot.dtype, slot.shape):
                    raise NotColumnar("arrays of different dtypes or shapes")
                specs[f.name] = (slot.dtype, slot.shape)
                offsets[members] = at
                arrays[f.name] = (np.dtype(slot.dtype), slot.shape, offsets)
            elif slot.kind == "fixint":
                ints[f.name][members] = buf[at].view(np.int8)
            elif slot.kind == "bool":
                ints[f.name][members] = buf[at] == 0xC3
            elif slot.kind == "num":
                raw = buf[at[:, None] + np.arange(slot.width)[None, :]]
                values = np.ascontiguousarray(raw).view(slot.fmt)[:, 0]
                if slot.fmt == ">u8" and (values > _INT64_MAX).any():
                    raise NotColumnar("uint64 beyond int64")
                ints[f.name][members] = values
            else:
                data, col, width = shard.data, texts[f.name], slot.width
                as_str = f.kind == "str"
                for i, a in zip(members.tolist(), at.tolist(), strict=True):
                    chunk = data[a : a + width]
                    col[i] = chunk.decode() if as_str else chunk
    windows: dict[int, np.ndarray] = {}
    for dtype, shape, _ in arrays.values():
        size = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        if size and size not in windows:
            windows[size] = np.lib.stride_tricks.as_strided(
                buf, (len(buf) - size + 1, size), (1, 1), writeable=False
            )
    return ShardColumns(arrays, {**ints, **texts}, windows, specs, buf)


def _matches(buf: np.ndarray, starts: np.ndarray, t: _Template) -> np.ndarray:
    """Which payloads at ``starts`` (all of the template's size) have exactly its layout."""
    ok = (buf[starts[:, None] + t.const_at[None, :]] == t.const).all(axis=1)
    for slot in t.slots.values():
        if slot.kind == "fixint":
            b = buf[starts + slot.at]
            ok &= (b < 0x80) | (b >= 0xE0)
        elif slot.kind == "bool":
            b = buf[starts + slot.at]
            ok &= (b == 0xC2) | (b == 0xC3)
    return ok


def _template(inner: list[SampleField], data: bytes, start: int, size: int) -> _Template:
    """Parse one payload holding the fields ``inner`` into structural bytes and field slots.

    Raises ``NotColumnar`` if the payload's layout is not covered.
    """
    end = start + size
    pos, count = _header(data, start, 0x80, 0xDE)
    if count != len(inner):
        raise NotColumnar("map size differs from the schema")
    fields = {f.name: f for f in inner}
    const: list[tuple[int, int]] = [(start, pos)]
    slots: dict[str, _Slot] = {}
    for _ in range(count):
        b = data[pos]
        if not 0xA0 <= b <= 0xBF:
            raise NotColumnar("keys must be short strings")
        key_end = pos + 1 + (b & 0x1F)
        name = data[pos + 1 : key_end].decode()
        if name not in fields or name in slots:
            raise NotColumnar("unknown or repeated key")
        const.append((pos, key_end))
        slot, value_end, fixed = _slot(fields[name], data, key_end)
        const.extend(fixed)
        slots[name] = dataclasses.replace(slot, at=slot.at - start)
        pos = value_end
        if pos > end:
            raise NotColumnar("value runs past the payload")
    if pos != end:
        raise NotColumnar("extra bytes after the map")
    at = np.concatenate([np.arange(a, b) for a, b in const]) if const else np.zeros(0, np.int64)
    raw = np.frombuffer(data, dtype=np.uint8)
    return _Template(at - start, raw[at].copy(), slots)


def _slot(f: SampleField, data: bytes, pos: int) -> tuple[_Slot, int, list[tuple[int, int]]]:
    """The slot of field ``f`` whose value starts at ``pos``, the value's end, its structural bytes."""
    b = data[pos]
    if f.kind == "array":
        inner, n = _header(data, pos, 0x90, 0xDC)
        if n != 3:
            raise NotColumnar("an array is [dtype, shape, bytes]")
        dtype_end = _skip_str(data, inner)
        dtype = data[inner:dtype_end]
        shape_end = _skip_ints(data, dtype_end)
        tag = data[shape_end]
        if tag not in _BINS:
            raise NotColumnar("array body is not bin")
        width = _BINS[tag]
        length = int.from_bytes(data[shape_end + 1 : shape_end + 1 + width], "big")
        body = shape_end + 1 + width
        dtype_str = msgpack.unpackb(dtype)
        shape = tuple(msgpack.unpackb(data[dtype_end:shape_end]))
        dt = np.dtype(dtype_str)
        if not isinstance(dtype_str, str) or dt.kind == "O" or dt.hasobject or dt.fields is not None:
            raise NotColumnar("unusual dtype")
        check_array(f, dt.str, shape)
        if dt.str != dtype_str or length != dt.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise NotColumnar("array bytes do not match dtype and shape")
        slot = _Slot("array", body, length, dtype=dtype_str, shape=shape)
        return slot, body + length, [(pos, body)]
    if f.kind == "int":
        if b < 0x80 or b >= 0xE0:
            return _Slot("fixint", pos), pos + 1, []
        if b in _INTS:
            w = int(_INTS[b][-1])
            return _Slot("num", pos + 1, w, _INTS[b]), pos + 1 + w, [(pos, pos + 1)]
    elif f.kind == "float" and b in _FLOATS:
        w = int(_FLOATS[b][-1])
        return _Slot("num", pos + 1, w, _FLOATS[b]), pos + 1 + w, [(pos, pos + 1)]
    elif f.kind == "bool" and b in (0xC2, 0xC3):
        return _Slot("bool", pos), pos + 1, []
    elif f.kind == "str" and (0xA0 <= b <= 0xBF or b in _STRS):
        body, length = (pos + 1, b & 0x1F) if b <= 0xBF else _sized(data, pos, _STRS[b])
        return _Slot("text", body, length), body + length, [(pos, body)]
    elif f.kind == "bytes" and b in _BINS:
        body, length = _sized(data, pos, _BINS[b])
        return _Slot("text", body, length), body + length, [(pos, body)]
    raise NotColumnar(f"field {f.name!r}: encoding not covered")


def _sized(data: bytes, pos: int, width: int) -> tuple[int, int]:
    return pos + 1 + width, int.from_bytes(data[pos + 1 : pos + 1 + width], "big")


def _header(data: bytes, pos: int, fix: int, wide: int) -> tuple[int, int]:
    """``(position after the header, length)`` of a map (fix=0x80) or array (fix=0x90)."""
    pos, length = container_header(data, pos, fix, wide)  # type: ignore[arg-type]
    if length < 0:
        raise NotColumnar("not a map or array")
    return pos, length


def _skip_str(data: bytes, pos: int) -> int:
    b = data[pos]
    if 0xA0 <= b <= 0xBF:
        return pos + 1 + (b & 0x1F)
    if b in _STRS:
        body, length = _sized(data, pos, _STRS[b])
        return body + length
    raise NotColumnar("dtype is not a string")


def _skip_ints(data: bytes, pos: int) -> int:
    """The end of a msgpack array of non-negative ints (a shape)."""
    pos, n = _header(data, pos, 0x90, 0xDC)
    for _ in range(n):
        b = data[pos]
        if b < 0x80:
            pos += 1
        elif b in (0xCC, 0xCD, 0xCE, 0xCF):
            pos += 1 + int(_INTS[b][-1])
        else:
            raise NotColumnar("shape is not a list of non-negative ints")
    return pos
