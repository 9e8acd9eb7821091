"""Schema review: approved schema versions and pending changes, kept in the catalog.

Approved schemas are catalog records of kind ``schema`` named after the dataset
(``schema:sensors@1``, ``@2`` …), each with its fields and who approved it, when,
and why. A proposed change is a record of kind ``schema_change`` named after
the dataset; every state it goes through (``pending`` → ``approved`` or
``rejected``) is a new version of that record, so the whole review history is
kept. Approving registers the proposed schema as the next ``schema`` version;
rejecting leaves the approved schema (and the table) untouched.

Example:
    >>> reg = SchemaRegistry(store)  # doctest: +SKIP
    >>> reg.pending("sensors").doc["diff"]  # doctest: +SKIP
    >>> reg.approve("sensors", by="ana", comment="new humidity sensor")  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from altakit.catalog import catalog_of
from altakit.errors import ConfigError, NotFound
from altakit.ingestion.schema import Diff, Schema, diff

if TYPE_CHECKING:
    from altakit.catalog.records import Record
    from altakit.store.base import Store

SCHEMA = "schema"
CHANGE = "schema_change"


class SchemaRegistry:
    """Approved schemas and pending changes of datasets in one store's catalog.

    Args:
        store: The store whose catalog holds the records.
        catalog: An open catalog of that store (default ``catalog_of(store)``).
    """

    def __init__(self, store: Store, catalog: Any | None = None) -> None:
        self.store = store
        self.catalog = catalog if catalog is not None else catalog_of(store)

    # ---------------------------------------------------------------- approved
    def approved(self, dataset: str, version: int | None = None) -> tuple[Schema, int] | None:
        """The approved schema (latest, or ``version``) and its version; ``None`` if none yet."""
        try:
            rec = self.catalog.get(SCHEMA, dataset, version)
        except NotFound:
            if version is not None:
                raise
            return None
        return Schema.from_doc(rec.doc["fields"]), rec.version

    def history(self, dataset: str) -> list[Record]:
        """Every approved schema version of ``dataset``, oldest first."""
        return self.catalog.versions(SCHEMA, dataset)

    def register(self, dataset: str, schema: Schema, *, by: str, comment: str = "") -> int:
        """Register ``schema`` as the next approved version; returns its version."""
        doc = {"fields": schema.to_doc(), "approved_by": by, "approved_at": _now(), "comment": comment}
        return self.catalog.register(SCHEMA, dataset, doc).version

    # ---------------------------------------------------------------- changes
    def pending(self, dataset: str) -> Record | None:
        """The pending change of ``dataset``, if one awaits review."""
        latest = self._latest_change(dataset)
        return latest if latest is not None and latest.doc["status"] == "pending" else None

    def decision(self, dataset: str, proposed: Schema) -> Record | None:
        """The latest decided change (approved or rejected) that proposed exactly ``proposed``."""
        latest = self._latest_change(dataset)
        if latest is None or latest.doc["status"] == "pending":
            return None
        return latest if latest.doc["proposed"] == proposed.to_doc() else None

    def propose(self, dataset: str, base: tuple[Schema, int] | None, proposed: Schema, *, by: str) -> Record:
        """Record a pending change (or return the identical one already pending)."""
        current = self.pending(dataset)
        if current is not None and current.doc["proposed"] == proposed.to_doc():
            return current
        d = diff(base[0], proposed) if base else Diff(added=list(proposed.fields))
        doc = {
            "status": "pending",
            "base_version": base[1] if base else None,
            "proposed": proposed.to_doc(),
            "diff": d.to_doc(),
            "summary": d.summary(),
            "requested_by": by,
            "requested_at": _now(),
        }
        links = {"base": f"{SCHEMA}:{dataset}@{base[1]}"} if base else {}
        return self.catalog.register(CHANGE, dataset, doc, links=links)

    def approve(self, dataset: str, *, by: str, comment: str = "") -> Record:
        """Approve the pending change: it becomes the next schema version.

        Raises:
            NotFound: Nothing is pending for ``dataset``.
        """
        change = self._require_pending(dataset)
        version = self.register(dataset, Schema.from_doc(change.doc["proposed"]), by=by, comment=comment)
        return self._decide(change, "approved", by, comment, schema_version=version)

    def reject(self, dataset: str, *, by: str, comment: str = "") -> Record:
        """Reject the pending change; the approved schema and the table stay as they are."""
        if not comment:
            raise ConfigError("a rejection needs a comment", hint="say why, so the data owner can fix it")
        return self._decide(self._require_pending(dataset), "rejected", by, comment)

    def changes(self, dataset: str) -> list[Record]:
        """Every state of every change of ``dataset``, oldest first."""
        return self.catalog.versions(CHANGE, dataset)

    def _decide(self, change: Record, status: str, by: str, comment: str, **extra: Any) -> Record:
        doc = {**change.doc, "status": status, "decided_by": by, "decided_at": _now(), "comment": comment}
        doc.update(extra)
        return self.catalog.register(CHANGE, change.name, doc, links={"decides": change.ref})

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


def _now() -> str:
    return datetime.now(UTC).isoformat()
