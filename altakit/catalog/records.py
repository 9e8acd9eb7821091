"""Catalog records and references: what a record is, and how it is written down.

A :class:`Ref` names a record: ``kind:name@version`` (``dataset:team/sensors@3``),
or ``kind:name`` for the latest version. A :class:`Record` is one immutable
version of a ``(kind, name)``: a JSON document plus typed links to other
records. Records are stored as small JSON documents (see :func:`dump_record`).

Example:
    >>> ref = Ref.parse("dataset:team/sensors@3")
    >>> ref.kind, ref.name, ref.version, str(ref)
    ('dataset', 'team/sensors', 3, 'dataset:team/sensors@3')
    >>> str(Ref("schema", "sensors"))
    'schema:sensors'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from altakit.errors import ConfigError, CorruptObject

if TYPE_CHECKING:
    from altakit.store.base import Store
    from altakit.store.names import Version

#: Record format tag written into every stored record.
FORMAT = "altakit.catalog.record/1"
MAX_NAME = 200
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_RELATION_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_REF_RE = re.compile(r"^(?P<kind>[^:@]+):(?P<name>[^@]+?)(?:@(?P<version>[^@]*))?$")


def check_kind(kind: str) -> str:
    """Return ``kind`` if it is a lowercase identifier, else raise :class:`ConfigError`."""
    if not isinstance(kind, str) or not _KIND_RE.match(kind):
        raise ConfigError(
            f"invalid record kind {kind!r}",
            kind=kind,
            hint="use a lowercase identifier such as 'dataset', 'schema', 'model' or 'run'",
        )
    return kind


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid record name (``sensors``, ``team/sensors``)."""
    hint = "use '/'-separated segments of letters, digits, '.', '_' and '-', e.g. 'team/sensors'"
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise ConfigError(f"invalid record name {name!r}", name=name, hint=hint)
    for segment in name.split("/"):
        if not _SEGMENT_RE.match(segment) or segment in (".", ".."):
            raise ConfigError(f"invalid record name {name!r}: bad segment {segment!r}", name=name, hint=hint)
    return name


def check_version(version: Any) -> int:
    """Return ``version`` if it is a record version number (1, 2, 3 …)."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(
            f"invalid record version {version!r}", hint="versions are whole numbers starting at 1"
        )
    return version


@dataclass(frozen=True)
class Ref:
    """A reference to a record: ``kind:name@version``; ``version=None`` means the latest.

    Example:
        >>> Ref.parse("model:churn") == Ref("model", "churn")
        True
    """

    kind: str
    name: str
    version: int | None = None

    def __post_init__(self) -> None:
        check_kind(self.kind)
        check_name(self.name)
        if self.version is not None:
            check_version(self.version)

    @classmethod
    def parse(cls, text: str | Ref) -> Ref:
        """Parse ``"kind:name@3"`` or ``"kind:name"``; a :class:`Ref` is returned as is.

        Raises:
            ConfigError: The text is not a reference.
        """
        if isinstance(text, Ref):
            return text
        hint = "write a reference as 'kind:name@version' or 'kind:name', e.g. 'dataset:sensors@3'"
        if not isinstance(text, str):
            raise ConfigError(f"a reference must be a str or Ref, not {type(text).__name__}", hint=hint)
        match = _REF_RE.match(text.strip())
        if not match:
            raise ConfigError(f"malformed reference {text!r}", ref=text, hint=hint)
        version = match["version"]
        if version is not None and not (version.isdigit() and version.isascii()):
            raise ConfigError(f"malformed reference {text!r}: bad version {version!r}", ref=text, hint=hint)
        return cls(match["kind"], match["name"], int(version) if version is not None else None)

    def at(self, version: int | None) -> Ref:
        """The same record at another version."""
        return Ref(self.kind, self.name, version)

    def __str__(self) -> str:
        base = f"{self.kind}:{self.name}"
        return base if self.version is None else f"{base}@{self.version}"


@dataclass(frozen=True)
class Record:
    """One immutable version of a catalog entry.

    Attributes:
        kind: What it is (``"dataset"``, ``"schema"``, ``"model"``, ``"run"`` …).
        name: Its name, e.g. ``"team/sensors"``.
        version: 1, 2, 3 … per ``(kind, name)``.
        doc: The JSON document (a dict).
        links: ``(relation, Ref)`` pairs, each Ref with a version.
        created: When it was registered (UTC).
        writer: Who registered it (``user@host``).

    Example:
        >>> rec = Record("dataset", "sensors", 1, {}, (), datetime.now(UTC), "ana@host")
        >>> str(rec.ref)
        'dataset:sensors@1'
    """

    kind: str
    name: str
    version: int
    doc: dict[str, Any]
    links: tuple[tuple[str, Ref], ...] = ()
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    writer: str = ""

    @property
    def ref(self) -> Ref:
        """This record's reference, with its version."""
        return Ref(self.kind, self.name, self.version)

    def link(self, relation: str) -> list[Ref]:
        """The refs linked under ``relation`` (empty if none)."""
        return [ref for rel, ref in self.links if rel == relation]

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object: how ``altakit catalog show`` and the REST API render it.

        Links are grouped by relation, refs and times are strings; the stored
        form is :func:`dump_record`, not this.

        Example:
            >>> rec = Record("model", "churn", 2, {"auc": 0.9}, (("trained_on", Ref("dataset", "s", 3)),),
            ...              datetime(2026, 1, 2, tzinfo=UTC), "ana@host")
            >>> rec.to_json()  # doctest: +NORMALIZE_WHITESPACE
            {'ref': 'model:churn@2', 'kind': 'model', 'name': 'churn', 'version': 2,
             'created': '2026-01-02T00:00:00+00:00', 'writer': 'ana@host',
             'links': {'trained_on': ['dataset:s@3']}, 'doc': {'auc': 0.9}}
        """
        links: dict[str, list[str]] = {}
        for relation, target in self.links:
            links.setdefault(relation, []).append(str(target))
        return {
            "ref": str(self.ref),
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "created": self.created.isoformat(),
            "writer": self.writer,
            "links": links,
            "doc": self.doc,
        }


def check_doc(doc: Any) -> str:
    """Return ``doc`` as canonical JSON; raise :class:`ConfigError` if it is not a JSON object."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"a record doc must be a dict, not {type(doc).__name__}", hint="pass a dict")
    try:
        return json.dumps(dict(doc), sort_keys=True, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"the record doc is not JSON: {exc}",
            hint="use str, int, float, bool, None, list and dict only (convert dates with .isoformat())",
        ) from exc


def check_relation(relation: str) -> str:
    """Return ``relation`` if it is a valid link name (``"trained_on"``, ``"schema"``)."""
    if not isinstance(relation, str) or not _RELATION_RE.match(relation):
        raise ConfigError(
            f"invalid link relation {relation!r}",
            hint="use an identifier such as 'trained_on', 'schema' or 'derived_from'",
        )
    return relation


def flatten_links(links: Mapping[str, Any]) -> list[tuple[str, Ref]]:
    """``{"trained_on": ["dataset:a@1", Ref(...)]}`` as ``[(relation, Ref), ...]`` in the given order."""
    if not isinstance(links, Mapping):
        raise ConfigError(
            "links must be a mapping of relation to ref(s)", hint="links={'schema': 'schema:x@1'}"
        )
    out: list[tuple[str, Ref]] = []
    for relation, targets in links.items():
        check_relation(relation)
        items = [targets] if isinstance(targets, str | Ref) else targets
        if not isinstance(items, Sequence):
            raise ConfigError(
                f"link {relation!r} must be a ref or a list of refs, not {type(targets).__name__}"
            )
        out.extend((relation, Ref.parse(item)) for item in items)
    return out


def dump_record(record: Record) -> bytes:
    """The stored JSON form of ``record``."""
    body = {
        "format": FORMAT,
        "kind": record.kind,
        "name": record.name,
        "version": record.version,
        "doc": record.doc,
        "links": [[rel, str(ref)] for rel, ref in record.links],
        "created": record.created.isoformat(),
        "writer": record.writer,
    }
    return json.dumps(body, sort_keys=True, allow_nan=False, ensure_ascii=False).encode()


def load_record(data: bytes | str) -> Record:
    """Parse the stored JSON form written by :func:`dump_record`, checking every field.

    Raises:
        ValueError: The bytes are not a record: not UTF-8 JSON, another format, or a
            field missing or of the wrong type (the message says which, briefly).

    Example:
        >>> rec = Record("run", "r", 1, {"rows": 3}, (), datetime(2026, 1, 2, tzinfo=UTC), "ana@host")
        >>> load_record(dump_record(rec)) == rec
        True
        >>> load_record(b"PK\\x03\\x04")
        Traceback (most recent call last):
        ...
        ValueError: not JSON: Expecting value at byte 0
    """
    try:
        body = json.loads(data)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        where = f" at byte {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ValueError(f"not JSON: {getattr(exc, 'msg', None) or type(exc).__name__}{where}") from exc
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        found = body.get("format") if isinstance(body, dict) else type(body).__name__
        raise ValueError(f"not a catalog record (format {str(found)[:60]!r})")
    try:
        version = body["version"]
        if isinstance(version, str) and version.isdigit():
            version = int(version)
        links = body["links"]
        if not isinstance(links, list) or not all(isinstance(x, list) and len(x) == 2 for x in links):
            raise ValueError("links are not [relation, ref] pairs")
        record = Record(
            kind=check_kind(body["kind"]),
            name=check_name(body["name"]),
            version=check_version(version),
            doc=body["doc"],
            links=tuple((check_relation(rel), Ref.parse(ref)) for rel, ref in links),
            created=datetime.fromisoformat(body["created"]),
            writer=body["writer"],
        )
    except KeyError as exc:
        raise ValueError(f"field {exc.args[0]!r} is missing") from exc
    except (TypeError, ValueError) as exc:  # ConfigError is a ValueError
        raise ValueError(str(getattr(exc, "message", exc))[:200]) from exc
    if not isinstance(record.doc, dict):
        raise ValueError(f"its doc is a {type(record.doc).__name__}, not an object")
    if not isinstance(record.writer, str) or len(record.writer) > 64:
        raise ValueError("its writer is not a short string")
    return record


#: The command that moves damaged records aside, as hints name it.
REPAIR = "altakit catalog check --repair"


class DamagedRecordWarning(UserWarning):
    """A damaged record was passed over while the index was built (``Catalog.damaged`` lists them)."""


def damaged(store: Store, key: str, ref: Ref | str, why: str) -> CorruptObject:
    """The error for a damaged record: names its key, what is wrong, and the repair command.

    Example:
        >>> import tempfile, altakit
        >>> store = altakit.open_store(tempfile.mkdtemp())
        >>> error = damaged(store, "_altakit/catalog/run/r/@/rec/1.json", Ref("run", "r", 1), "not JSON")
        >>> error.hint  # doctest: +ELLIPSIS
        "the record is damaged: run `altakit catalog check --repair --store file:///...` to move it aside..."
    """
    return CorruptObject(
        f"catalog record {ref} is damaged ({why}): stored at {key!r}",
        key=key,
        ref=str(ref),
        reason=why,
        hint=f"the record is damaged: run `{REPAIR} --store {store.url}` to move it aside "
        "(its bytes are kept under '_altakit/damaged/'); the rest of the catalog works meanwhile",
    )


def read_record(store: Store, key: str, ref: Ref, version: Version | None = None) -> Record:
    """The record ``ref`` stored at ``key``, checked: its bytes verify, parse, and name ``ref``.

    Args:
        store: Where the record lives.
        key: Its store key.
        ref: The record the key belongs to.
        version: Which stored version of ``key`` to read (default: the latest).

    Raises:
        NotFound: No record at ``key``.
        CorruptObject: The record is damaged (see :func:`damaged`).

    Example:
        >>> import tempfile, altakit
        >>> store = altakit.open_store(tempfile.mkdtemp())
        >>> rec = Record("run", "r", 1, {}, (), datetime(2026, 1, 2, tzinfo=UTC), "ana@host")
        >>> key = "_altakit/catalog/run/r/@/rec/1.json"
        >>> _ = store.put(key, dump_record(rec), reserved=True)
        >>> read_record(store, key, rec.ref) == rec
        True
        >>> read_record(store, key, Ref("run", "r", 2))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        altakit.errors.CorruptObject: catalog record run:r@2 is damaged (it holds run:r@1)...
    """
    try:
        data = store.get(key, version)
    except CorruptObject as exc:
        raise damaged(store, key, ref, "its bytes fail their checksum") from exc
    try:
        record = load_record(data)
    except ValueError as exc:
        raise damaged(store, key, ref, str(exc)) from exc
    if record.ref != ref:
        raise damaged(store, key, ref, f"it holds {record.ref}")
    return record
