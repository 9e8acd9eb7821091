"""Typed samples: dataclasses with array fields, encoded with msgpack.

``@sample`` turns a class into a sample type. Fields may be NumPy arrays (any
dtype but object, any shape; declare dtype and shape with :class:`Array` to have
them checked), ``int``, ``float``, ``bool``, ``str``, ``bytes``, or ``X | None``.
A sample encodes to one msgpack map ``{field: value}``; an array is the list
``[dtype, shape, raw bytes]`` (little-endian ``numpy`` dtype string), so plain
``msgpack`` and plain ``webdataset`` read it too.

The :class:`Schema` of a type (name, declared version, fields) has a stable
``fingerprint``; datasets record it in the catalog, and :func:`build_type`
rebuilds a sample type from it when the original class is not importable.

Example:
    >>> import numpy as np
    >>> from typing import Annotated
    >>> @sample
    ... class Digit:
    ...     image: Annotated[np.ndarray, Array("uint8", (8, 8))]
    ...     label: int
    >>> raw = encode(Digit(np.zeros((8, 8), np.uint8), 3))
    >>> decode(schema_of(Digit), raw)["label"]
    3
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import msgpack
import numpy as np

from altakit.errors import ConfigError, DataError

T = TypeVar("T")
SCALARS: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str, "bytes": bytes}
_TYPE_NAMES = {v: k for k, v in SCALARS.items()}
_ATTR = "__altakit_schema__"


@dataclass(frozen=True)
class Array:
    """Declared dtype and shape of an array field (``None`` = any; ``None`` in shape = any length).

    Example:
        >>> Array("float32", (None, 3)).shape
        (None, 3)
    """

    dtype: str | None = None
    shape: tuple[int | None, ...] | None = None


@dataclass(frozen=True)
class Field:
    """One field of a schema: ``kind`` is ``"array"`` or a scalar name (``"int"`` …)."""

    name: str
    kind: str
    optional: bool = False
    dtype: str | None = None
    shape: tuple[int | None, ...] | None = None

    def to_doc(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        doc: dict[str, Any] = {"name": self.name, "kind": self.kind, "optional": self.optional}
        if self.kind == "array":
            doc["dtype"] = self.dtype
            doc["shape"] = None if self.shape is None else list(self.shape)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Field:
        """Inverse of :meth:`to_doc`."""
        shape = doc.get("shape")
        return cls(
            doc["name"],
            doc["kind"],
            bool(doc.get("optional")),
            doc.get("dtype"),
            None if shape is None else tuple(shape),
        )


@dataclass(frozen=True)
class Schema:
    """The identity of a sample type: ``name``, declared ``version`` and ``fields``."""

    name: str
    version: int
    fields: tuple[Field, ...]

    @property
    def fingerprint(self) -> str:
        """Stable hash of name, version and fields (16 hex digits)."""
        body = json.dumps(self.to_doc(with_fingerprint=False), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise ConfigError(f"schema {self.name!r} has no field {name!r}", schema=self.name, field=name)

    def to_doc(self, *, with_fingerprint: bool = True) -> dict[str, Any]:
        """A JSON-ready dict, as recorded in the catalog (kind ``"schema"``)."""
        doc: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "fields": [f.to_doc() for f in self.fields],
        }
        if with_fingerprint:
            doc["fingerprint"] = self.fingerprint
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Schema:
        """Inverse of :meth:`to_doc`."""
        return cls(doc["name"], int(doc.get("version", 1)), tuple(Field.from_doc(f) for f in doc["fields"]))


def sample(cls: type[T] | None = None, *, name: str | None = None, version: int = 1) -> Any:
    """Make ``cls`` a sample type (a dataclass, if it is not one yet).

    Args:
        cls: The class (when used as ``@sample``).
        name: Schema name (default: the class name).
        version: Declared schema version; bump it when the meaning of a field changes.

    Example:
        >>> @sample(name="point", version=2)
        ... class Point:
        ...     x: float
        ...     note: str | None = None
        >>> schema_of(Point).version
        2
    """

    caller = sys._getframe(1)  # resolve string annotations where the class was written (doctests, functions)
    namespace = {**caller.f_globals, **caller.f_locals}

    def wrap(klass: type[T]) -> type[T]:
        if not dataclasses.is_dataclass(klass):
            klass = dataclass(klass)
        hints = typing.get_type_hints(klass, localns=namespace, include_extras=True)
        fields = tuple(_field(f.name, hints[f.name], klass) for f in dataclasses.fields(klass))
        setattr(klass, _ATTR, Schema(name or klass.__name__, version, fields))
        return klass

    return wrap(cls) if cls is not None else wrap


def is_sample_type(obj: Any) -> bool:
    """True if ``obj`` is a class made by :func:`sample` (or :func:`build_type`)."""
    return isinstance(obj, type) and isinstance(getattr(obj, _ATTR, None), Schema)


def schema_of(obj: Any) -> Schema:
    """The :class:`Schema` of a sample type or instance."""
    schema = getattr(obj, _ATTR, None)
    if not isinstance(schema, Schema):
        raise ConfigError(f"{obj!r} is not a sample type", hint="decorate the class with @altakit.sample")
    return schema


def _field(name: str, hint: Any, owner: type) -> Field:
    optional = False
    spec = Array()
    if typing.get_origin(hint) is typing.Annotated:
        hint, *extras = typing.get_args(hint)
        spec = next((e for e in extras if isinstance(e, Array)), spec)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise ConfigError(f"{owner.__name__}.{name}: unions other than X | None are not supported")
        optional, hint = True, args[0]
        if typing.get_origin(hint) is typing.Annotated:
            hint, *extras = typing.get_args(hint)
            spec = next((e for e in extras if isinstance(e, Array)), spec)
    if hint is np.ndarray or typing.get_origin(hint) is np.ndarray:
        dtype = None if spec.dtype is None else np.dtype(spec.dtype).str
        if dtype is not None and np.dtype(dtype).kind == "O":
            raise ConfigError(f"{owner.__name__}.{name}: object arrays cannot be stored")
        return Field(name, "array", optional, dtype, spec.shape)
    if hint in _TYPE_NAMES:
        return Field(name, _TYPE_NAMES[hint], optional)
    raise ConfigError(
        f"{owner.__name__}.{name}: type {hint!r} is not supported in a sample",
        hint="use np.ndarray, int, float, bool, str, bytes, or X | None",
    )


# ----------------------------------------------------------------- encoding
def encode(obj: Any, schema: Schema | None = None) -> bytes:
    """Encode a sample to msgpack bytes, checking it against its schema."""
    schema = schema or schema_of(obj)
    out: dict[str, Any] = {}
    for f in schema.fields:
        value = getattr(obj, f.name)
        if value is None:
            if not f.optional:
                raise DataError(f"field {f.name!r} is None but not optional", field=f.name)
            out[f.name] = None
        elif f.kind == "array":
            arr = np.asarray(value)
            check_array(f, arr.dtype.str, arr.shape)
            arr = np.ascontiguousarray(arr)
            out[f.name] = [arr.dtype.str, list(arr.shape), arr.tobytes()]
        else:
            out[f.name] = _scalar(f, value)
    return msgpack.packb(out, use_bin_type=True)


def _scalar(f: Field, value: Any) -> Any:
    want = SCALARS[f.kind]
    if isinstance(value, np.generic):
        value = value.item()
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        raise DataError(f"field {f.name!r} should be {f.kind}, got {type(value).__name__}", field=f.name)
    return value


def check_array(f: Field, dtype: str, shape: Sequence[int]) -> None:
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
    pos, n = _container(buf, start, 0x80, 0xDE)
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
    inner, n = _container(buf, pos, 0x90, 0xDC)
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


def _container(buf: memoryview, pos: int, fix: int, wide: int) -> tuple[int, int]:
    """``(position after the header, length)`` of a map (fix=0x80) or array (fix=0x90); -1 if not one."""
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
        inner, n = _container(buf, pos, fix, wide)
        if n >= 0:
            for _ in range(n * per):
                inner = _skip(buf, inner)
            return inner
    raise DataError(f"corrupt msgpack: unsupported type byte 0x{b:02x}")


def decode(schema: Schema, raw: bytes | memoryview) -> dict[str, Any]:
    """Decode and check one sample into ``{field: value}`` (arrays as NumPy)."""
    doc = unpack(raw)
    return {f.name: _value(f, doc) for f in schema.fields}


def _value(f: Field, doc: dict[str, Any]) -> Any:
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


def decode_columns(schema: Schema, docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
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


def _first_bad(f: Field, values: list[Any]) -> int:
    for i, v in enumerate(values):
        try:
            _scalar(f, v)
        except DataError:
            return i
    return -1


def _array_column(f: Field, values: list[Any], n: int) -> Any:
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
    out = []
    for i, v in enumerate(values):
        try:
            out.append(_value(f, {f.name: v}))
        except DataError as exc:
            exc.fields["index"] = i
            raise
    return out


def column_error_index(exc: DataError) -> int:
    """The sample index inside a batch that a :func:`decode_columns` error refers to (-1: unknown)."""
    return int(exc.fields.get("index", -1))


# ----------------------------------------------------------------- rebuilding
_REBUILT: dict[str, type] = {}


def build_type(schema: Schema | dict[str, Any]) -> type:
    """A sample type rebuilt from a stored schema (cached per fingerprint; instances pickle).

    Example:
        >>> P = build_type({"name": "p", "version": 1, "fields": [{"name": "x", "kind": "int"}]})
        >>> P(x=1)
        p(x=1)
    """
    if isinstance(schema, dict):
        schema = Schema.from_doc(schema)
    key = schema.fingerprint
    if key in _REBUILT:
        return _REBUILT[key]
    specs: list[tuple[str, Any, Any]] = []
    for f in schema.fields:
        hint: Any = np.ndarray if f.kind == "array" else SCALARS[f.kind]
        if f.kind == "array":
            hint = typing.Annotated[hint, Array(f.dtype, f.shape)]
        if f.optional:
            specs.append((f.name, hint | None, dataclasses.field(default=None)))
        else:
            specs.append((f.name, hint, dataclasses.field()))
    # dataclasses need fields without defaults first; keep stored order otherwise
    specs.sort(key=lambda s: s[2].default is not dataclasses.MISSING)
    cls = dataclasses.make_dataclass(schema.name, specs, namespace={"__reduce__": _reduce_rebuilt})
    setattr(cls, _ATTR, schema)
    _REBUILT[key] = cls
    return cls


def _reduce_rebuilt(self: Any) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    schema = schema_of(self)
    return _make_rebuilt, (schema.to_doc(), {f.name: getattr(self, f.name) for f in schema.fields})


def _make_rebuilt(doc: dict[str, Any], values: dict[str, Any]) -> Any:
    return build_type(doc)(**values)


def make(cls: type[T], values: dict[str, Any]) -> T:
    """An instance of sample type ``cls`` from decoded ``values`` (no re-validation)."""
    return cls(**values)
