"""What the landing page shows: every table and sample dataset in a store, with its state.

One row per name: its latest version and when it was written, the rows it holds,
a schema change waiting for review, the quarantined rows still open, and the
models trained on any of its versions (found down the catalog's lineage, through
the sample datasets made from a table). Nothing is written.

Example:
    >>> import tempfile
    >>> from altakit.ingestion import ingest
    >>> store = open_store(tempfile.mkdtemp())
    >>> _ = ingest(("a.csv", b"t,v\\n2024-01-01T00:00:00Z,1\\n"), "line4", store=store)
    >>> [(s.kind, s.name, s.version, s.pending, s.quarantined) for s in overview(store)]
    [('table', 'line4', 1, None, 0)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from altakit.catalog import Ref, catalog_of
from altakit.errors import NotFound
from altakit.store import open_store

if TYPE_CHECKING:
    from altakit.catalog import Catalog, Record
    from altakit.store.base import Store


@dataclass
class DatasetState:
    """One table or sample dataset as the landing page lists it.

    Attributes:
        kind: ``"table"`` (ingested rows, Delta) or ``"dataset"`` (typed samples).
        name: Its name.
        version: Its latest version.
        written: When that version was registered (ISO 8601, UTC).
        rows: Rows (tables: rows the latest ingest added) or samples it holds.
        pending: The summary of a schema change waiting for review (``None``: none).
        quarantined: Quarantined rows still open (tables).
        models: Models trained on any of its versions (``model:name@version``), newest first.
    """

    kind: str
    name: str
    version: int
    written: str
    rows: int | None = None
    pending: str | None = None
    quarantined: int = 0
    models: list[str] = field(default_factory=list)


def overview(store: Store | str | None = None) -> list[DatasetState]:
    """Every table and sample dataset in ``store`` with its state, tables first, by name."""
    from altakit.ingestion.quarantine_log import quarantine
    from altakit.ingestion.review import SchemaRegistry, change_doc

    store = open_store(store)
    cat = catalog_of(store)
    registry = SchemaRegistry(store)
    out = []
    for rec in sorted(cat.list("table"), key=lambda r: r.name):
        pending = registry.pending(rec.name)
        try:
            open_rows = int(quarantine(rec.name, store=store).height)
        except NotFound:
            open_rows = 0
        out.append(
            DatasetState(
                "table",
                rec.name,
                rec.version,
                rec.created.isoformat(timespec="seconds"),
                rows=rec.doc.get("rows_out"),
                pending=change_doc(pending).summary if pending is not None else None,
                quarantined=open_rows,
                models=_models(cat, "table", rec.name),
            )
        )
    for rec in sorted(cat.list("dataset"), key=lambda r: r.name):
        out.append(
            DatasetState(
                "dataset",
                rec.name,
                rec.version,
                rec.created.isoformat(timespec="seconds"),
                rows=rec.doc.get("count"),
                models=_models(cat, "dataset", rec.name),
            )
        )
    return out


def _models(cat: Catalog, kind: str, name: str) -> list[str]:
    """Models made (through any number of links) from any version of ``kind:name``."""
    found: dict[Ref, None] = {}
    versions: list[Record] = cat.versions(kind, name)
    for rec in versions:
        for edge in cat.lineage(Ref(kind, name, rec.version), "down"):
            if edge[0].kind == "model":
                found[edge[0]] = None
    return [str(r) for r in sorted(found, key=lambda r: (r.name, -(r.version or 0)))]
