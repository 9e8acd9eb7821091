"""The sample codec: a msgpack map per sample, arrays as ``.npy`` members or ``[dtype, shape, bytes]``.

A sample encodes (:func:`encode_parts`) to one msgpack map ``{field: value}`` of its
scalar fields and one ``np.save`` member per array field (:mod:`altakit.datasets.npy`), so
plain ``webdataset`` and ``np.load`` read it too. Inside a map (shards written before,
:func:`encode`) an array is the list ``[dtype, shape, raw bytes]`` (the ``numpy`` dtype
string, byte order included); readers turn ``.npy`` members into that same value. :func:`decode` checks one
sample against its :class:`~altakit.datasets.samples.SampleSchema`;
:func:`unpack_views` and :func:`decode_columns` are the batch fast path (array
bytes stay views into the shard, one stacked array per field).

Example:
    >>> import numpy as np
    >>> from typing import Annotated
    >>> from altakit.datasets.samples import Array, sample, schema_of
    >>> @sample
    ... class Digit:
    ...     image: Annotated[np.ndarray, Array("uint8", (8, 8))]
    ...     label: int
    >>> raw = encode(Digit(np.zeros((8, 8), np.uint8), 3))
    >>> decode(schema_of(Digit), raw)["label"]
    3
    >>> decode_columns(schema_of(Digit), [unpack(raw), unpack(raw)])["image"].shape
    (2, 8, 8)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack
import numpy as np

from altakit.datasets.npy import contiguous, member_field, npy_bytes
from altakit.datasets.samples import SCALARS, SampleField, SampleSchema, schema_of
from altakit.errors import DataError


def encode(obj: Any, schema: SampleSchema | None = None) -> bytes:
    """Encode a sample to one msgpack map (arrays inside, as ``[dtype, shape, bytes]``), checking it.

    The layout of ``altakit.shards/1``; shards written now use :func:`encode_parts`.
    """
    payload, _ = _encode(obj, schema or schema_of(obj), members=False)
    return payload


def encode_parts(obj: Any, schema: SampleSchema | None = None) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Encode a sample as its ``.mp`` map and one ``.npy`` member per array field, checking it.

    Returns ``(msgpack map of the other fields, [(field, np.save bytes)])``; an array field that is
    ``None`` stays in the map as ``None``, and one whose name cannot be a member name
    (:func:`~altakit.datasets.npy.member_field`) stays in the map as ``[dtype, shape, bytes]``.

    Example:
        >>> import numpy as np
        >>> from typing import Annotated
        >>> from altakit.datasets.samples import Array, sample
        >>> @sample
        ... class Pixel:
        ...     rgb: Annotated[np.ndarray, Array("uint8", (3,))]
        ...     label: int
        >>> payload, arrays = encode_parts(Pixel(np.array([1, 2, 3], np.uint8), 5))
        >>> unpack(payload), [name for name, _ in arrays]
        ({'label': 5}, ['rgb'])
    """
    return _encode(obj, schema or schema_of(obj), members=True)


def _encode(obj: Any, schema: SampleSchema, members: bool) -> tuple[bytes, list[tuple[str, bytes]]]:
    out: dict[str, Any] = {}
    arrays: list[tuple[str, bytes]] = []
    for f in schema.fields:
        value = getattr(obj, f.name)
        if value is None:
            if not f.optional:
                raise DataError(f"field {f.name!r} is None but not optional", field=f.name)
            out[f.name] = None
        elif f.kind == "array":
            arr = np.asarray(value)
            check_array(f, arr.dtype.str, arr.shape)
            if members and member_field(f.name):
                arrays.append((f.name, npy_bytes(arr)))
            else:
                out[f.name] = [arr.dtype.str, list(arr.shape), contiguous(arr).tobytes()]
        else:
            out[f.name] = _scalar(f, value)
    return msgpack.packb(out, use_bin_type=True), arrays


def _scalar(f: SampleField, value: Any) -> Any:
    want = SCALARS[f.kind]
    if isinstance(value, np.generic):
        value = value.item()
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        raise DataError(f"field {f.name!r} should be {f.kind}, got {type(value).__name__}", field=f.name)
    return value


def check_array(f: SampleField, dtype: str, shape: Sequence[int]) -> None:
    """Raise :class:`DataError` if ``dtype`` / ``shape`` disagree with field ``f``."""
    if np.dtype(dtype).kind == "O":
        raise DataError(f"field {f.name!r}: object arrays cannot be stored", field=f.name)
    if f.dtype is not None and dtype != f.dtype:
        raise DataError(f"field {f.name!r} has dtype {dtype}, schema says {f.dtype}", field=f.name)
    if f.shape is not None and (
        len(shape) != len(f.shape)
        or any(w is not None and w != s for w, s in zip(f.shape, shape, strict=True))
    ):
        raise DataError(f"field {f.name!r} has shape {tuple(shape)}, schema says {f.shape}", field=f.name)


def unpack(raw: bytes | memoryview) -> dict[str, Any]:
    """The msgpack map of one encoded sample (``DataError`` if it is not one)."""
    try:
        doc = msgpack.unpackb(raw, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types
        raise DataError(f"corrupt msgpack: {exc}") from exc
    if not isinstance(doc, dict):
        raise DataError(f"a sample must be a msgpack map, got {type(doc).__name__}")
    return doc


def unpack_views(data: bytes | memoryview, start: int, size: int) -> dict[str, Any]:
    """Like :func:`unpack` for one sample inside ``data``, but array bytes stay views into ``data``.

    For large samples this saves a copy per array (msgpack copies every ``bin``).
    Anything unusual (ext types, nested maps) is handed to msgpack.
    """
    buf = memoryview(data)
    end = start + size
    pos, n = container_header(buf, start, 0x80, 0xDE)
    if n < 0:
        return unpack(buf[start:end])
    doc: dict[str, Any] = {}
    for _ in range(n):
        key_end = _skip(buf, pos)
        key = msgpack.unpackb(buf[pos:key_end])
        value_end = _skip(buf, key_end)
        if value_end > end:
            raise DataError("corrupt msgpack: value runs past the sample")
        doc[key] = _array_view(buf, key_end, value_end) or msgpack.unpackb(buf[key_end:value_end])
        pos = value_end
    if pos != end:
        raise DataError("corrupt msgpack: extra bytes after the sample")
    return doc


def _array_view(buf: memoryview, pos: int, end: int) -> list[Any] | None:
    inner, n = container_header(buf, pos, 0x90, 0xDC)
    if n != 3:
        return None
    shape_at = _skip(buf, inner)
    bin_at = _skip(buf, shape_at)
    tag = buf[bin_at]
    if tag not in (0xC4, 0xC5, 0xC6):
        return None
    width = {0xC4: 1, 0xC5: 2, 0xC6: 4}[tag]
    length = int.from_bytes(buf[bin_at + 1 : bin_at + 1 + width], "big")
    body = bin_at + 1 + width
    if body + length != end:
        return None
    return [msgpack.unpackb(buf[inner:shape_at]), msgpack.unpackb(buf[shape_at:bin_at]), buf[body:end]]


def container_header(buf: memoryview, pos: int, fix: int, wide: int) -> tuple[int, int]:
    """``(position after the header, length)`` of a msgpack map (fix=0x80) or array (0x90); -1 if neither."""
    b = buf[pos]
    if fix <= b <= fix + 0x0F:
        return pos + 1, b & 0x0F
    if b == wide:
        return pos + 3, int.from_bytes(buf[pos + 1 : pos + 3], "big")
    if b == wide + 1:
        return pos + 5, int.from_bytes(buf[pos + 1 : pos + 5], "big")
    return pos, -1


_FIXED = {0xC0: 1, 0xC2: 1, 0xC3: 1, 0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9,
          0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9, 0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18}  # fmt: skip
_SIZED = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}


def _skip(buf: memoryview, pos: int) -> int:
    """The position just after the msgpack value at ``pos``."""
    try:
        b = buf[pos]
    except IndexError:
        raise DataError("corrupt msgpack: truncated sample") from None
    if b <= 0x7F or b >= 0xE0:
        return pos + 1
    if 0xA0 <= b <= 0xBF:
        return pos + 1 + (b & 0x1F)
    if b in _FIXED:
        return pos + _FIXED[b]
    if b in _SIZED:
        width = _SIZED[b]
        return pos + 1 + width + int.from_bytes(buf[pos + 1 : pos + 1 + width], "big")
    for fix, wide, per in ((0x90, 0xDC, 1), (0x80, 0xDE, 2)):
        inner, n = container_header(buf, pos, fix, wide)
        if n >= 0:
            for _ in range(n * per):
                inner = _skip(buf, inner)
            return inner
    raise DataError(f"corrupt msgpack: unsupported type byte 0x{b:02x}")


def decode(schema: SampleSchema, raw: bytes | memoryview | dict[str, Any]) -> dict[str, Any]:
    """Decode and check one sample (msgpack bytes, or a map already unpacked) into ``{field: value}``."""
    doc = raw if isinstance(raw, dict) else unpack(raw)
    return {f.name: decode_field(f, doc) for f in schema.fields}


def decode_field(f: SampleField, doc: dict[str, Any]) -> Any:
    """The checked value of field ``f`` in an unpacked sample ``doc`` (``DataError`` if it is bad)."""
    if f.name not in doc:
        if f.optional:
            return None
        raise DataError(f"missing field {f.name!r}", field=f.name)
    value = doc[f.name]
    if value is None:
        if not f.optional:
            raise DataError(f"field {f.name!r} is None but not optional", field=f.name)
        return None
    if f.kind != "array":
        return _scalar(f, value)
    try:
        dtype, shape, data = value
        arr = np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape)
    except (TypeError, ValueError) as exc:
        raise DataError(f"field {f.name!r} is not a valid array: {exc}", field=f.name) from exc
    check_array(f, arr.dtype.str, arr.shape)
    return arr


def decode_columns(schema: SampleSchema, docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Check unpacked samples and gather each field into one column.

    Arrays of one shape become one stacked array ``(n, *shape)`` built from a
    single buffer (no per-sample array objects); scalars become NumPy arrays,
    strings and bytes lists. Ragged arrays and optional fields with ``None``
    stay lists.
    """
    n = len(docs)
    cols: dict[str, Any] = {}
    for f in schema.fields:
        name = f.name
        try:
            values = [d[name] for d in docs]
        except KeyError:
            values = [d.get(name) for d in docs]
            if not f.optional:
                bad = next(i for i, d in enumerate(docs) if name not in d)
                raise DataError(f"missing field {name!r}", field=name, index=bad) from None
        if f.kind == "array":
            cols[name] = _array_column(f, values, n)
        elif f.kind in _NUMERIC and None not in values:
            dtype, ok = _NUMERIC[f.kind]
            if not all(type(v) in ok for v in values):
                raise DataError(f"field {name!r} should be {f.kind}", field=name, index=_first_bad(f, values))
            try:
                cols[name] = np.array(values, dtype=dtype)
            except OverflowError:
                bad = next(i for i, v in enumerate(values) if not -(2**63) <= v < 2**63)
                raise DataError(f"field {name!r} is out of the int64 range", field=name, index=bad) from None
        else:
            cols[name] = [None if v is None else _scalar(f, v) for v in values]
    return cols


_NUMERIC: dict[str, tuple[Any, tuple[type, ...]]] = {
    "int": (np.int64, (int,)),
    "float": (np.float64, (float, int)),
    "bool": (np.bool_, (bool,)),
}


def _first_bad(f: SampleField, values: list[Any]) -> int:
    for i, v in enumerate(values):
        try:
            _scalar(f, v)
        except DataError:
            return i
    return -1


def _array_column(f: SampleField, values: list[Any], n: int) -> Any:
    if n == 0:
        shape = tuple(s or 0 for s in (f.shape or ()))
        return np.zeros((0, *shape), dtype=np.dtype(f.dtype or "u1"))
    first = values[0]
    try:
        dtype, shape = first[0], first[1]
        if all(v is not None and v[0] == dtype and v[1] == shape for v in values):
            check_array(f, dtype, shape)
            dt = np.dtype(dtype)
            if isinstance(first[2], memoryview):  # large samples: one copy, straight into the batch
                out = np.empty((n, *shape), dtype=dt)
                flat = out.reshape(n, -1)
                for k, v in enumerate(values):
                    flat[k] = np.frombuffer(v[2], dtype=dt)
                return out
            return np.frombuffer(b"".join([v[2] for v in values]), dtype=dt).reshape((n, *shape))
    except (TypeError, ValueError, IndexError):
        pass
    items: list[Any] = []
    for i, v in enumerate(values):
        try:
            items.append(decode_field(f, {f.name: v}))
        except DataError as exc:
            exc.fields["index"] = i
            raise
    return items


def column_error_index(exc: DataError) -> int:
    """The sample index inside a batch that a :func:`decode_columns` error refers to (-1: unknown)."""
    return int(exc.fields.get("index", -1))
