"""Schema review: approved schema versions and pending changes, kept in the catalog.

Approved schemas are catalog records of kind ``schema`` named after the dataset
(``schema:sensors@1``, ``@2`` …), each with its fields and who approved it, when,
and why (:class:`SchemaDoc`). A proposed change is a record of kind
``schema_change`` named after the dataset (:class:`SchemaChangeDoc`); every
state it goes through (``pending`` → ``approved`` or ``rejected``) is a new
version of that record, so the whole review history is kept. Approving
registers the proposed schema as the next ``schema`` version; rejecting leaves
the approved schema (and the table) untouched. This module owns both kinds.

Approval is two records, so it is made retry-safe rather than atomic: a schema is
never registered again when the latest approved version already has exactly its
fields (writers of one dataset's schema take turns, so concurrent first ingests
register one version), and a pending change whose schema is already the latest
approved one is completed (:meth:`SchemaRegistry.complete`) by the next approval,
ingest or ``altakit catalog check --repair``.

Older altakit wrote a typed sample type's schema as a ``schema`` record too
(``{"name", "version", "fields": [{"name", "kind", …}], "fingerprint"}``, named
after the sample type); such records are not table schemas and are passed over
(:func:`altakit.datasets.manifest.is_sample_type_doc`).

Example:
    >>> reg = SchemaRegistry(store)  # doctest: +SKIP
    >>> change_doc(reg.pending("sensors")).diff  # doctest: +SKIP
    >>> reg.approve("sensors", by="ana", comment="new humidity sensor")  # doctest: +SKIP
    >>> diff_rows({"added": [{"name": "humidity", "type": "float64", "nullable": True}]})
    [('added', 'humidity', '', 'float64')]
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from altakit import faults
from altakit.catalog import catalog_of
from altakit.catalog.model import RecordDoc
from altakit.datasets.manifest import is_sample_type_doc
from altakit.errors import ConfigError, NotFound
from altakit.ingestion.schema import Diff, Schema, diff
from altakit.ingestion.spec import last_spec

if TYPE_CHECKING:
    from altakit.catalog.records import Record
    from altakit.store.base import Store

SCHEMA = "schema"
CHANGE = "schema_change"
#: Where writers of one dataset's schema versions take turns.
TURNS = "_altakit/ingest/schemas"
#: Fault-injection points (:mod:`altakit.faults`): between the schema record and the change's decision.
FAULT_POINTS = ("schema.registered",)


@dataclass(frozen=True)
class SchemaDoc(RecordDoc):
    """An approved table schema version (catalog kind ``schema``).

    Attributes:
        fields: The columns (:meth:`Schema.to_doc <altakit.ingestion.schema.Schema.to_doc>`).
        approved_by: Who approved it (the ingest's writer when a policy approved it).
        approved_at: When (ISO 8601, UTC).
        comment: Why.

    Example:
        >>> doc = SchemaDoc([{"name": "x", "type": "int64", "nullable": True}], "ana", "2024-01-01")
        >>> doc.schema().names
        ['x']
    """

    KIND = "schema"
    fields: list[Any]
    approved_by: str
    approved_at: str
    comment: str = ""

    def schema(self) -> Schema:
        """The schema these fields describe."""
        return Schema.from_doc(self.fields)


@dataclass(frozen=True)
class SchemaChangeDoc(RecordDoc):
    """One state of a proposed schema change (catalog kind ``schema_change``).

    ``decided_by``, ``decided_at`` and ``comment`` are there once a person decided;
    ``schema_version`` once the change was approved; ``sources``, the ``store:`` sources of the ingest
    that proposed it (what "Ingest again" re-reads after an approval), when it read the store, and
    ``spec``, that ingest's spec (its cleaning steps are what "Ingest again" applies). Keys still
    unset are not written.

    Example:
        >>> d = SchemaChangeDoc("pending", None, [], {}, "no change", "ana", "2024-01-01")
        >>> sorted(d.to_doc())
        ['base_version', 'diff', 'proposed', 'requested_at', 'requested_by', 'status', 'summary']
    """

    KIND = "schema_change"
    WHEN_SET = ("decided_by", "decided_at", "comment", "schema_version", "sources", "spec")  # once set
    status: Literal["pending", "approved", "rejected"]
    base_version: int | None
    proposed: list[Any]
    diff: dict[str, Any]
    summary: str
    requested_by: str
    requested_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    comment: str | None = None
    schema_version: int | None = None
    sources: list[str] = field(default_factory=list)
    spec: dict[str, Any] | None = None


def change_doc(record: Record) -> SchemaChangeDoc:
    """The typed document of a ``schema_change`` record (validated; names the record if it is not one)."""
    return SchemaChangeDoc.from_doc(record.doc, where=str(record.ref))


def diff_rows(diff_doc: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(kind, column, before, after)`` rows of a change's ``diff`` document, for people to read."""
    renamed = diff_doc.get("renamed", {})
    rows = [
        ("added", f["name"], f"renamed from {renamed[f['name']]}" if f["name"] in renamed else "", f["type"])
        for f in diff_doc.get("added", [])
    ]
    rows += [("removed", f["name"], f["type"], "") for f in diff_doc.get("removed", [])]
    for kind in ("changed", "widened"):
        rows += [(kind, c, a, b) for c, a, b in diff_doc.get(kind, [])]
    rows += [
        ("nullability", c, "nullable" if a else "not null", "nullable" if b else "not null")
        for c, a, b in diff_doc.get("nullability", [])
    ]
    return rows


class SchemaRegistry:
    """Approved schemas and pending changes of datasets in one store's catalog.

    Args:
        store: The store whose catalog holds the records.
        catalog: An open catalog of that store (default ``catalog_of(store)``).
    """

    def __init__(self, store: Store, catalog: Any | None = None) -> None:
        self.store = store
        self.catalog = catalog if catalog is not None else catalog_of(store)

    @staticmethod
    def ref(dataset: str, version: int) -> str:
        """The catalog reference of a schema version, ``schema:<dataset>@<version>``."""
        return f"{SCHEMA}:{dataset}@{version}"

    # ---------------------------------------------------------------- approved
    def approved(self, dataset: str, version: int | None = None) -> tuple[Schema, int] | None:
        """The approved schema (latest, or ``version``) and its version; ``None`` if none yet.

        Records a sample type wrote under the same name (older altakit) are passed over.

        Raises:
            NotFound: ``version`` does not exist, or is a sample type's schema.
        """
        if version is not None:
            rec = self.catalog.get(SCHEMA, dataset, version)
            if is_sample_type_doc(rec.doc):
                raise NotFound(
                    f"{rec.ref} is a sample type's schema, not the schema of a table",
                    dataset=dataset,
                    version=version,
                    hint=f"altakit schema show {dataset} lists the table's schema versions",
                )
            return self._parse(rec).schema(), rec.version
        try:
            latest = self.catalog.get(SCHEMA, dataset)
        except NotFound:
            return None
        if is_sample_type_doc(latest.doc):  # a sample type's record is the latest: take the table's
            table_versions = self.history(dataset)
            if not table_versions:
                return None
            latest = table_versions[-1]
        return self._parse(latest).schema(), latest.version

    def history(self, dataset: str) -> list[Record]:
        """Every approved schema version of ``dataset``, oldest first (sample types' records left out)."""
        return [r for r in self.catalog.versions(SCHEMA, dataset) if not is_sample_type_doc(r.doc)]

    def register(self, dataset: str, schema: Schema, *, by: str, comment: str = "") -> int:
        """Register ``schema`` as the next approved version; returns its version.

        When the latest approved version has exactly these fields, that version is returned and
        nothing is registered (writers take turns, so concurrent callers register it once).
        """
        from altakit.ingestion.claims import turn

        with turn(self.store, f"{TURNS}/{dataset}/turn", by, wait=120.0, what="schema registration"):
            latest = self.approved(dataset)
            if latest is not None and latest[0].to_doc() == schema.to_doc():
                return latest[1]
            doc = SchemaDoc(schema.to_doc(), approved_by=by, approved_at=_now(), comment=comment)
            return self.catalog.register(SCHEMA, dataset, doc.to_doc()).version

    # ---------------------------------------------------------------- changes
    def pending(self, dataset: str) -> Record | None:
        """The pending change of ``dataset``, if one awaits review."""
        latest = self._latest_change(dataset)
        return latest if latest is not None and self._change(latest).status == "pending" else None

    def decision(self, dataset: str, proposed: Schema) -> Record | None:
        """The latest decided change (approved or rejected) that proposed exactly ``proposed``."""
        latest = self._latest_change(dataset)
        if latest is None:
            return None
        doc = self._change(latest)
        if doc.status == "pending":
            return None
        return latest if doc.proposed == proposed.to_doc() else None

    def propose(
        self,
        dataset: str,
        base: tuple[Schema, int] | None,
        proposed: Schema,
        *,
        by: str,
        renamed: Mapping[str, str] | None = None,
        sources: Sequence[str] = (),
        spec: Mapping[str, Any] | None = None,
    ) -> Record:
        """Record a pending change (or return the identical one already pending).

        ``renamed``: added columns the reader renamed, new name → the source's (shown in the diff).
        ``sources``: the ``store:`` sources that proposed it (a review ingests them again once approved).
        ``spec``: the proposing ingest's spec (plain data), which that ingest-again applies.

        The same schema proposed again while pending is the same change; a new version of it is
        recorded only when the proposal brings something new: with the same spec, its sources join
        the change's; with another spec, the latest attempt's spec and sources replace them (the
        files are ingested again the way they were last sent).
        """
        store_sources = [s for s in sources if s.startswith("store:")]
        spec_doc = json.loads(json.dumps(dict(spec))) if spec else None  # as the record reads back
        current = self.pending(dataset)
        if current is not None and (doc := self._change(current)).proposed == proposed.to_doc():
            if doc.spec == spec_doc:
                store_sources = list(dict.fromkeys([*doc.sources, *store_sources]))
                if store_sources == doc.sources:
                    return current
            now = {"requested_by": by, "requested_at": _now(), "sources": store_sources, "spec": spec_doc}
            again = SchemaChangeDoc.from_doc({**doc.to_doc(), **now}, where=str(current.ref))
            base_ref = {"base": current.link("base")} if current.link("base") else {}
            return self.catalog.register(CHANGE, dataset, again.to_doc(), links=base_ref)
        d = diff(base[0], proposed) if base else Diff(added=list(proposed.fields))
        d.renamed = {n: o for n, o in (renamed or {}).items() if any(f.name == n for f in d.added)}
        doc = SchemaChangeDoc(
            status="pending",
            base_version=base[1] if base else None,
            proposed=proposed.to_doc(),
            diff=d.to_doc(),
            summary=d.summary(),
            requested_by=by,
            requested_at=_now(),
            sources=store_sources,
            spec=spec_doc,
        )
        links = {"base": self.ref(dataset, base[1])} if base else {}
        return self.catalog.register(CHANGE, dataset, doc.to_doc(), links=links)

    def approve(self, dataset: str, *, by: str, comment: str = "") -> Record:
        """Approve the pending change: it becomes the next schema version.

        Raises:
            NotFound: Nothing is pending for ``dataset``.
        """
        change = self._require_pending(dataset)
        proposed = Schema.from_doc(self._change(change).proposed)
        version = self.register(dataset, proposed, by=by, comment=comment)  # retry-safe: never twice
        faults.point("schema.registered")
        return self._decide(change, "approved", by, comment, schema_version=version)

    def applied_pending(self, dataset: str) -> Record | None:
        """The pending change whose proposed schema is already the latest approved version (an
        approval that died between its two records), if any."""
        change = self.pending(dataset)
        if change is None:
            return None
        latest = self.approved(dataset)
        return change if latest is not None and latest[0].to_doc() == self._change(change).proposed else None

    def complete(self, dataset: str) -> Record | None:
        """Mark :meth:`applied_pending`'s change approved, as its schema record says who approved it
        and why; returns the decision, or ``None`` when no change needs it."""
        change = self.applied_pending(dataset)
        if change is None:
            return None
        latest = self.approved(dataset)
        assert latest is not None
        rec = self.catalog.get(SCHEMA, dataset, latest[1])
        doc = self._parse(rec)
        return self._decide(change, "approved", doc.approved_by, doc.comment, schema_version=rec.version)

    def reject(self, dataset: str, *, by: str, comment: str = "") -> Record:
        """Reject the pending change; the approved schema and the table stay as they are."""
        if not comment:
            raise ConfigError("a rejection needs a comment", hint="say why, so the data owner can fix it")
        return self._decide(self._require_pending(dataset), "rejected", by, comment)

    def changes(self, dataset: str) -> list[Record]:
        """Every state of every change of ``dataset``, oldest first."""
        return self.catalog.versions(CHANGE, dataset)

    def ingest_spec(self, dataset: str) -> dict[str, Any] | None:
        """The spec to ingest the latest change's files again with: the one they were sent with
        (its cleaning steps, time column …), else the dataset's last spec (``None``: neither).

        Example:
            >>> SchemaRegistry(store).ingest_spec("sensors")["steps"]  # doctest: +SKIP
        """
        changes = self.changes(dataset)
        recorded = self._change(changes[-1]).spec if changes else None
        return dict(recorded) if recorded else last_spec(self.store, dataset)

    def _decide(
        self, change: Record, status: str, by: str, comment: str, *, schema_version: int | None = None
    ) -> Record:
        doc = {
            **self._change(change).to_doc(),
            "status": status,
            "decided_by": by,
            "decided_at": _now(),
            "comment": comment,
        }
        if schema_version is not None:
            doc["schema_version"] = schema_version
        decided = SchemaChangeDoc.from_doc(doc, where=str(change.ref))
        return self.catalog.register(CHANGE, change.name, decided.to_doc(), links={"decides": change.ref})

    def _require_pending(self, dataset: str) -> Record:
        change = self.pending(dataset)
        if change is None:
            raise NotFound(f"no schema change of {dataset!r} awaits review", dataset=dataset)
        return change

    def _latest_change(self, dataset: str) -> Record | None:
        try:
            return self.catalog.get(CHANGE, dataset)
        except NotFound:
            return None

    @staticmethod
    def _parse(rec: Record) -> SchemaDoc:
        return SchemaDoc.from_doc(rec.doc, where=str(rec.ref))

    @staticmethod
    def _change(rec: Record) -> SchemaChangeDoc:
        return change_doc(rec)


def _now() -> str:
    return datetime.now(UTC).isoformat()
