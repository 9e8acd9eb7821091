"""Typed samples: dataclasses with array fields, and the schema that names them.

``@sample`` turns a class into a sample type. Fields may be NumPy arrays (any
dtype but object, any shape; declare dtype and shape with :class:`Array` to have
them checked), ``int``, ``float``, ``bool``, ``str``, ``bytes``, or ``X | None``.

The :class:`SampleSchema` of a type (name, declared version, fields) has a stable
``fingerprint``; datasets record it in the catalog (kind ``sample_type``, see
:mod:`altakit.datasets.manifest`), and :func:`build_type` rebuilds a sample type
from it when the original class is not importable. How a sample becomes bytes
is :mod:`altakit.datasets.codec`.

Example:
    >>> import numpy as np
    >>> from typing import Annotated
    >>> @sample
    ... class Digit:
    ...     image: Annotated[np.ndarray, Array("uint8", (8, 8))]
    ...     label: int
    >>> [(f.name, f.kind, f.shape) for f in schema_of(Digit).fields]
    [('image', 'array', (8, 8)), ('label', 'int', None)]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from altakit.errors import ConfigError

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
class SampleField:
    """One field of a sample schema: ``kind`` is ``"array"`` or a scalar name (``"int"`` …)."""

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
    def from_doc(cls, doc: dict[str, Any]) -> SampleField:
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
class SampleSchema:
    """The identity of a sample type: ``name``, declared ``version`` and ``fields``.

    Example:
        >>> s = SampleSchema("p", 1, (SampleField("x", "int"),))
        >>> SampleSchema.from_doc(s.to_doc()) == s, len(s.fingerprint)
        (True, 16)
    """

    name: str
    version: int
    fields: tuple[SampleField, ...]

    @property
    def fingerprint(self) -> str:
        """Stable hash of name, version and fields (16 hex digits)."""
        body = json.dumps(self.to_doc(with_fingerprint=False), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def field(self, name: str) -> SampleField:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise ConfigError(f"schema {self.name!r} has no field {name!r}", schema=self.name, field=name)

    def to_doc(self, *, with_fingerprint: bool = True) -> dict[str, Any]:
        """A JSON-ready dict, as recorded in the catalog (kind ``"sample_type"``)."""
        doc: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "fields": [f.to_doc() for f in self.fields],
        }
        if with_fingerprint:
            doc["fingerprint"] = self.fingerprint
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> SampleSchema:
        """Inverse of :meth:`to_doc`."""
        return cls(
            doc["name"], int(doc.get("version", 1)), tuple(SampleField.from_doc(f) for f in doc["fields"])
        )


def sample(cls: type[T] | None = None, *, name: str | None = None, version: int = 1) -> Any:
    """Make ``cls`` a sample type (a dataclass, if it is not one yet).

    Args:
        cls: The class (when used as ``@sample``).
        name: Sample type name (default: the class name).
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
        declared = dataclasses.fields(typing.cast(Any, klass))
        fields = tuple(_field(f.name, hints[f.name], klass) for f in declared)
        setattr(klass, _ATTR, SampleSchema(name or klass.__name__, version, fields))
        return klass

    return wrap(cls) if cls is not None else wrap


def is_sample_type(obj: Any) -> bool:
    """True if ``obj`` is a class made by :func:`sample` (or :func:`build_type`)."""
    return isinstance(obj, type) and isinstance(getattr(obj, _ATTR, None), SampleSchema)


def schema_of(obj: Any) -> SampleSchema:
    """The :class:`SampleSchema` of a sample type or instance."""
    schema = getattr(obj, _ATTR, None)
    if not isinstance(schema, SampleSchema):
        raise ConfigError(f"{obj!r} is not a sample type", hint="decorate the class with @altakit.sample")
    return schema


def _field(name: str, hint: Any, owner: type) -> SampleField:
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
        return SampleField(name, "array", optional, dtype, spec.shape)
    if hint in _TYPE_NAMES:
        return SampleField(name, _TYPE_NAMES[hint], optional)
    raise ConfigError(
        f"{owner.__name__}.{name}: type {hint!r} is not supported in a sample",
        hint="use np.ndarray, int, float, bool, str, bytes, or X | None",
    )


# ----------------------------------------------------------------- rebuilding
_REBUILT: dict[str, type] = {}


def build_type(schema: SampleSchema | dict[str, Any]) -> type:
    """A sample type rebuilt from a stored schema (cached per fingerprint; instances pickle).

    Example:
        >>> P = build_type({"name": "p", "version": 1, "fields": [{"name": "x", "kind": "int"}]})
        >>> P(x=1)
        p(x=1)
    """
    if isinstance(schema, dict):
        schema = SampleSchema.from_doc(schema)
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
