"""The catalog records of sample datasets: manifests (kind ``dataset``) and sample types (``sample_type``).

This module owns both document shapes. A dataset version is a record of kind
``dataset`` whose doc is the manifest (:class:`DatasetDoc`): the shard format
tag, the sample type's schema, a reference to the ``sample_type`` record of that
schema, the sample and byte counts, and one entry per shard (key, store version,
count, first sample, bytes, checksum); readers pin those store versions, so a
dataset version never changes. A sample type's schema is recorded once per
fingerprint as a record of kind ``sample_type`` (:class:`SampleTypeDoc`).

Older altakit recorded sample-type schemas as kind ``schema`` (the kind
ingestion's table schemas use): those records, and manifests whose
``schema_ref`` is ``schema:<name>@N``, are still read; new ones are never written.

Example:
    >>> import tempfile, altakit
    >>> from altakit.datasets.samples import SampleField, SampleSchema
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> point = SampleSchema("point", 1, (SampleField("x", "float"),))
    >>> ref = register_sample_type(store, point)
    >>> ref, register_sample_type(store, point) == ref
    ('sample_type:point@1', True)
    >>> read_sample_type(store, ref).schema() == point
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from altakit.catalog import Record, Ref, catalog_of
from altakit.catalog.model import RecordDoc, fits
from altakit.datasets.samples import SCALARS, SampleSchema
from altakit.datasets.shards import FORMATS, IMPORTED
from altakit.errors import ConfigError, CorruptObject, NotFound
from altakit.runs import reads
from altakit.store.base import Store

SAMPLE_TYPE = "sample_type"
DATASET = "dataset"
#: The kind sample-type schemas were recorded under before ``sample_type`` existed (read, never written).
LEGACY_SAMPLE_TYPE = "schema"
#: The link from a manifest to its sample type (a stored relation name).
SCHEMA_LINK = "schema"
_SHARD_ENTRY: dict[str, type] = {
    "key": str,
    "version": str,
    "count": int,
    "first": int,
    "bytes": int,
    "checksum": str,
}


@dataclass(frozen=True)
class SampleTypeDoc(RecordDoc):
    """The document of a ``sample_type`` record: a :class:`SampleSchema` and its fingerprint.

    Example:
        >>> from altakit.datasets.samples import SampleField, SampleSchema
        >>> doc = SampleTypeDoc.of(SampleSchema("p", 1, (SampleField("x", "int"),))).to_doc()
        >>> sorted(doc), SampleTypeDoc.from_doc(doc).schema().name
        (['fields', 'fingerprint', 'name', 'version'], 'p')
    """

    KIND = SAMPLE_TYPE
    name: str
    version: int
    fields: list[Any]
    fingerprint: str

    @classmethod
    def of(cls, schema: SampleSchema) -> SampleTypeDoc:
        """The document recording ``schema``."""
        return cls(**schema.to_doc())

    @classmethod
    def upgrade(cls, doc: dict[str, Any]) -> dict[str, Any]:
        """Schemas without a declared version read as version 1 (as they always have)."""
        doc.setdefault("version", 1)
        return doc

    def check(self, where: str = "") -> None:
        """Field types, then: the fields describe a sample schema whose fingerprint is the stored one."""
        super().check(where)
        schema = self.schema(where)
        if schema.fingerprint != self.fingerprint:
            raise self.corrupt(
                where,
                f"has fingerprint {self.fingerprint!r}, its fields give {schema.fingerprint!r}",
                hint="the stored JSON was changed by hand; register the sample type again",
            )

    def schema(self, where: str = "") -> SampleSchema:
        """The :class:`SampleSchema` this document records."""
        try:
            schema = SampleSchema.from_doc(
                {"name": self.name, "version": self.version, "fields": self.fields}
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self.corrupt(where, f"has malformed fields: {exc!r}") from exc
        for f in schema.fields:
            if f.kind != "array" and f.kind not in SCALARS:
                raise self.corrupt(
                    where,
                    f"field {f.name!r} has unknown kind {f.kind!r}",
                    hint="it was written by a newer altakit: upgrade altakit",
                )
        return schema


def is_sample_type_doc(doc: Any) -> bool:
    """True if a record document has the shape of a sample type's schema.

    Older stores hold such documents under kind ``schema``, next to ingestion's table
    schemas; a reader of ``schema`` records uses this to tell the two apart.

    Example:
        >>> is_sample_type_doc({"name": "p", "version": 1, "fingerprint": "ab", "fields": []})
        True
        >>> is_sample_type_doc({"fields": {"t": "datetime"}, "approved_by": "ana"})
        False
    """
    return (
        isinstance(doc, Mapping)
        and isinstance(doc.get("fingerprint"), str)
        and isinstance(doc.get("fields"), list)
        and all(isinstance(f, Mapping) and "kind" in f for f in doc["fields"])
    )


@dataclass(frozen=True)
class DatasetDoc(RecordDoc):
    """The manifest of a typed-sample dataset version (the document of a ``dataset`` record).

    Example:
        >>> doc = DatasetDoc(FORMATS[0], {"name": "p", "version": 1, "fields": [], "fingerprint": "x"},
        ...                  "sample_type:p@1", 0, 0, [])
        >>> doc.to_doc()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        altakit.errors.CorruptObject: a 'sample_type' record (schema of dataset manifest): has fingerprint ...
    """

    KIND = DATASET
    format: str
    schema: dict[str, Any]
    schema_ref: str
    count: int
    bytes: int
    shards: list[Any]
    description: str | None = ""

    def check(self, where: str = "") -> None:
        """Field types, then: the format is known, the schema and its ref parse, shard entries are whole."""
        super().check(where)
        if self.format not in (*FORMATS, IMPORTED):
            raise self.corrupt(
                where,
                f"has format {self.format!r}, not one of {', '.join(map(repr, (*FORMATS, IMPORTED)))}",
                hint="it was written by a newer altakit: upgrade altakit",
            )
        self.sample_schema(where)
        try:
            ref = Ref.parse(self.schema_ref)
        except ConfigError as exc:
            raise self.corrupt(where, exc.message) from exc
        if ref.kind not in (SAMPLE_TYPE, LEGACY_SAMPLE_TYPE) or ref.version is None:
            raise self.corrupt(
                where,
                f"schema_ref {self.schema_ref!r} is not 'sample_type:<name>@N'",
            )
        for i, entry in enumerate(self.shards):
            bad = not isinstance(entry, dict) or any(
                not fits(entry.get(k), t) for k, t in _SHARD_ENTRY.items()
            )
            if bad:
                raise self.corrupt(
                    where,
                    f"shard entry {i} is not "
                    f"{{{', '.join(f'{k}: {t.__name__}' for k, t in _SHARD_ENTRY.items())}}}: {entry!r}",
                )

    def sample_schema(self, where: str = "") -> SampleSchema:
        """The schema of the stored samples (kept in the manifest itself)."""
        inner = f"schema of {where}" if where else "schema of dataset manifest"
        return SampleTypeDoc.from_doc(self.schema, where=inner).schema(inner)


# ----------------------------------------------------------------- sample types
def register_sample_type(store: Store, schema: SampleSchema) -> str:
    """Record ``schema`` (kind ``sample_type``) unless its fingerprint is already recorded; return its ref."""
    cat = catalog_of(store)
    try:
        existing = cat.versions(SAMPLE_TYPE, schema.name)
    except NotFound:
        existing = []
    for rec in reversed(existing):
        if SampleTypeDoc.from_doc(rec.doc, where=str(rec.ref)).fingerprint == schema.fingerprint:
            return str(rec.ref)
    return str(cat.register(SAMPLE_TYPE, schema.name, SampleTypeDoc.of(schema).to_doc()).ref)


def read_sample_type(store: Store, ref: str | Ref) -> SampleTypeDoc:
    """The sample type a manifest's ``schema_ref`` names (``sample_type:…``, or an older ``schema:…``).

    Raises:
        NotFound: No such record.
        CorruptObject: The record is not a sample type's schema.
    """
    ref = Ref.parse(ref)
    if ref.kind not in (SAMPLE_TYPE, LEGACY_SAMPLE_TYPE):
        raise ConfigError(f"{ref} does not name a sample type", hint="write 'sample_type:<name>@N'")
    rec = catalog_of(store).resolve(ref)
    if ref.kind == LEGACY_SAMPLE_TYPE and not is_sample_type_doc(rec.doc):
        raise CorruptObject(
            f"{rec.ref} is a table schema, not a sample type's",
            ref=str(rec.ref),
            hint="name a sample_type record",
        )
    return SampleTypeDoc.from_doc(rec.doc, where=str(rec.ref))


# ----------------------------------------------------------------- manifests
def register_manifest(
    store: Store,
    name: str,
    manifest: DatasetDoc | Mapping[str, Any],
    *,
    links: Mapping[str, str] | None = None,
) -> Record:
    """Record a dataset version whose doc is ``manifest`` (validated first); returns the catalog Record.

    ``links`` adds lineage (``{"derived_from": "table:sensors@4"}``) to the sample-type link.

    Raises:
        CorruptObject: ``manifest`` is not a valid manifest (nothing is written).
    """
    doc = (
        manifest
        if isinstance(manifest, DatasetDoc)
        else DatasetDoc.from_doc(manifest, where=f"dataset:{name}")
    )
    return catalog_of(store).register(
        DATASET, name, doc.to_doc(), links={**(links or {}), SCHEMA_LINK: doc.schema_ref}
    )


def read_manifest(record: Record) -> DatasetDoc:
    """The manifest of a ``dataset`` record, validated.

    Raises:
        CorruptObject: The record's doc is not a typed-sample manifest.
    """
    return DatasetDoc.from_doc(record.doc, where=str(record.ref))


def resolve_dataset(store: Store, spec: str) -> Record:
    """The catalog Record for ``"name"``, ``"name@3"`` or ``"dataset:name@3"``."""
    name, version = _parse(spec)
    return catalog_of(store).get(DATASET, name, version)


def read_dataset_record(store: Store, spec: str) -> Record:
    """:func:`resolve_dataset` for a read: a run's pin decides an unversioned spec, and the read is noted.

    See :mod:`altakit.runs.reads`.
    """
    name, asked = _parse(spec)
    record = catalog_of(store).get(DATASET, name, reads.resolve(DATASET, name, asked))
    reads.note(record.ref, unversioned=asked is None)
    return record


def _parse(spec: str) -> tuple[str, int | None]:
    name, _, version = spec.removeprefix("dataset:").partition("@")
    if version and not version.isdigit():
        raise ConfigError(f"bad dataset version in {spec!r}", hint="write 'name' or 'name@3'")
    return name, int(version) if version else None
