"""Typed record documents: each catalog kind's document shape, owned by one module.

Every record kind (``dataset``, ``sample_type``, ``schema``, ``schema_change``,
``table``, ``model``, ``model_alias``, ``run``) has exactly one module that owns
its shape: a frozen dataclass deriving :class:`RecordDoc`, with ``KIND`` set.
The owner writes through :meth:`RecordDoc.to_doc` (validated) and reads through
:meth:`RecordDoc.from_doc` (validated, with :meth:`RecordDoc.upgrade` turning
shapes written by older altakit versions into today's shape), so a document a
reader does not understand is a typed :class:`~altakit.errors.CorruptObject`
naming the record, never a raw ``KeyError`` three calls later.

Field types are checked from the annotations: ``str``, ``int``, ``float``,
``bool``, ``dict``, ``list``, ``Any``, ``X | None`` and ``Literal[...]``.
Keys a model does not know (written by a newer altakit, or added by hand
through the free-form ``Catalog.register``) are kept in ``extra`` and written
back as they were, so reading and re-writing a document never drops a key.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Note(RecordDoc):
    ...     KIND = "note"
    ...     text: str
    ...     stars: int | None = None
    >>> Note.from_doc({"text": "hi"}).to_doc()
    {'text': 'hi', 'stars': None}
    >>> Note.from_doc({"text": "hi", "mood": "sunny"}).extra
    {'mood': 'sunny'}
    >>> Note.from_doc({"stars": 3})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    altakit.errors.CorruptObject: a 'note' record: lacks 'text'
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypeVar

from altakit.errors import CorruptObject

D = TypeVar("D", bound="RecordDoc")


@dataclasses.dataclass(frozen=True)
class RecordDoc:
    """Base of the typed document of one catalog record kind (see the module docstring)."""

    KIND: ClassVar[str] = ""
    #: Fields written only once set (not None, not empty): keys older documents never had stay absent.
    WHEN_SET: ClassVar[tuple[str, ...]] = ()

    #: Keys this model does not know, kept as they were read (top-level keys of the stored document).
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, kw_only=True)

    @classmethod
    def upgrade(cls, doc: dict[str, Any]) -> dict[str, Any]:
        """Turn a document written in an older shape into today's shape (default: unchanged)."""
        return doc

    @classmethod
    def from_doc(cls: type[D], doc: Mapping[str, Any], *, where: str = "") -> D:
        """The typed document from a stored one (old shapes upgraded), validated.

        Args:
            doc: The record's JSON document.
            where: The record's reference, for error messages (``"run:report@3"``).

        Raises:
            CorruptObject: The document misses a field or has one of the wrong type.
        """
        if not isinstance(doc, Mapping):
            raise cls.corrupt(where, "not a JSON object")
        values = cls.upgrade(dict(doc))
        known = {f.name: f for f in dataclasses.fields(cls) if f.name != "extra"}
        extra = {k: v for k, v in values.items() if k not in known}
        values = {k: v for k, v in values.items() if k in known}
        for f in known.values():
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required and f.name not in values:
                raise cls.corrupt(where, f"lacks {f.name!r}")
        made = cls(**values, extra=extra)
        made.check(where)
        return made

    def check(self, where: str = "") -> None:
        """Raise :class:`CorruptObject` unless every field holds a value of its annotated type."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not fits(value, hints[f.name]):
                raise self.corrupt(where, f"{f.name!r} is {value!r}, not {_describe(hints[f.name])}")

    @classmethod
    def corrupt(cls, where: str, what: str, hint: str | None = None) -> CorruptObject:
        """The error for a stored document of this kind that is not what it should be (``where``: its ref)."""
        at = f" ({where})" if where else ""
        return CorruptObject(f"a {cls.KIND!r} record{at}: {what}", ref=where, hint=hint)

    def to_doc(self) -> dict[str, Any]:
        """The JSON document to register (validated first; :attr:`WHEN_SET` fields left out while unset)."""
        self.check()
        doc = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        extra = doc.pop("extra", None) or {}
        unset = [k for k in self.WHEN_SET if doc[k] is None or doc[k] == {} or doc[k] == []]
        return {**extra, **{k: v for k, v in doc.items() if k not in unset}}

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of this kind's document, derived from the field annotations.

        Fields without a default are required; keys the model does not know are allowed
        (``additionalProperties``: they are kept in ``extra``). Descriptions come from the
        docstring's ``Attributes:`` section. :meth:`check` may refuse more than the schema
        does (a fingerprint that does not match its fields …), never less.

        Example:
            >>> from dataclasses import dataclass
            >>> @dataclass(frozen=True)
            ... class Note(RecordDoc):
            ...     '''A note.
            ...
            ...     Attributes:
            ...         text: What it says.
            ...     '''
            ...     KIND = "note"
            ...     text: str
            ...     stars: int | None = None
            >>> schema = Note.json_schema()
            >>> schema["required"], schema["properties"]["stars"], schema["additionalProperties"]
            (['text'], {'type': ['integer', 'null']}, True)
            >>> schema["properties"]["text"]
            {'type': 'string', 'description': 'What it says.'}
        """
        hints = typing.get_type_hints(cls)
        described = _attributes(cls.__doc__ or "")
        properties: dict[str, Any] = {}
        required: list[str] = []
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            prop = _schema_of(hints[f.name])
            if f.name in described:
                prop["description"] = described[f.name]
            properties[f.name] = prop
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
        summary = (cls.__doc__ or "").strip().split("\n\n")[0]
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": cls.KIND,
            "description": " ".join(summary.split()),
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": True,
        }


def fits(value: Any, hint: Any) -> bool:
    """True if the JSON ``value`` is of the annotated type ``hint`` (see the module docstring)."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, h) for h in typing.get_args(hint))
    if origin is Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    base = origin or hint
    if base is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if base in (dict, Mapping):
        return isinstance(value, dict)
    if base is list:
        return isinstance(value, list)
    return isinstance(value, base)


_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object",
               Mapping: "object", list: "array", type(None): "null"}  # fmt: skip


def _schema_of(hint: Any) -> dict[str, Any]:
    """The JSON Schema of one annotation (the types :func:`fits` checks)."""
    if hint is Any:
        return {}
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        parts = [_schema_of(h) for h in typing.get_args(hint)]
        if all(set(p) == {"type"} and isinstance(p["type"], str) for p in parts):
            return {"type": [p["type"] for p in parts]}
        return {"anyOf": parts}
    if origin is Literal:
        return {"enum": list(typing.get_args(hint))}
    schema: dict[str, Any] = {"type": _JSON_TYPES[origin or hint]}
    args = typing.get_args(hint)
    if origin is list and args and args[0] is not Any:
        schema["items"] = _schema_of(args[0])
    return schema


def _attributes(docstring: str) -> dict[str, str]:
    """``{name: description}`` from a Google-style docstring's ``Attributes:`` section."""
    out: dict[str, str] = {}
    lines = docstring.expandtabs().splitlines()
    inside, indent, name = False, 0, ""
    for line in lines:
        text = line.strip()
        if text == "Attributes:":
            inside, indent = True, len(line) - len(line.lstrip()) + 4
            continue
        if not inside or not text:
            continue
        depth = len(line) - len(line.lstrip())
        if depth < indent:
            break
        if depth == indent and ":" in text:
            name, _, rest = text.partition(":")
            out[name.strip()] = rest.strip()
        elif name:
            out[name] += " " + text
    return out


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
