"""What the landing page shows: every table and sample dataset in a store, with its state.

One row per name: its latest version and when it was written, the rows it holds
(a table's: the record counts of its Delta files at that version, from the Delta log —
no row is read —, so rows every ingest and quarantine replay added), a schema change
waiting for review, the quarantined rows still open, and the
models trained on any of its versions (found down the catalog's lineage, through
the sample datasets made from a table). Nothing is written.

Example:
    >>> import tempfile
    >>> from altakit.ingestion import ingest
    >>> store = open_store(tempfile.mkdtemp())
    >>> _ = ingest(("a.csv", b"t,v\\n2024-01-01T00:00:00Z,1\\n"), "line4", store=store)
    >>> two = b"t,v\\n2024-01-02T00:00:00Z,2\\n2024-01-03T00:00:00Z,3\\n"
    >>> _ = ingest(("b.csv", two), "line4", store=store)
    >>> [(s.kind, s.name, s.version, s.rows, s.pending, s.quarantined) for s in overview(store)]
    [('table', 'line4', 2, 3, None, 0)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from altakit.catalog import Ref, catalog_of
from altakit.errors import ConfigError, NotFound
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
        rows: Rows (tables: every row of that version) or samples it holds (``None``: unknown).
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
                rows=table_rows(store, rec.name, _newest_commit(cat, rec.name)),
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


@dataclass
class TrainingColumns:
    """The columns of a table version a model can learn from, as the training page offers them.

    Neither the time column nor a series column (the ingest spec's ``time`` and ``by``) is offered.

    Attributes:
        targets: Numeric, true/false and text columns (a text target is a class to predict), in the
            table's order.
        features: The numeric and true/false ones: a model's inputs are those that are not its target.
        default: The target offered first: the first numeric column, else the first target.
    """

    targets: list[str]
    features: list[str]
    default: str | None


def training_columns(spec: str, store: Store | str | None = None) -> TrainingColumns:
    """What a model can learn from in table version ``spec`` (``"line4"``, ``"line4@2"``); no row is read.

    Raises:
        NotFound: No such table or version.

    Example:
        >>> import tempfile
        >>> from altakit.ingestion import ingest
        >>> store = open_store(tempfile.mkdtemp())
        >>> csv = b"ts,machine,fault,temp,hum\\n2024-01-01T00:00:00Z,7,none,1.5,40\\n"
        >>> _ = ingest(("a.csv", csv), "l", {"time": "ts", "by": ["machine"]}, store=store)
        >>> found = training_columns("l@1", store)
        >>> found.targets, found.features, found.default
        (['fault', 'temp', 'hum'], ['temp', 'hum'], 'temp')
    """
    from altakit.datasets.from_table import table_columns
    from altakit.datasets.tables import parse_spec, version_doc

    store = open_store(store)
    name, version = parse_spec(spec)
    _, doc = version_doc(store, name, version)
    skip = {doc.spec.get("time"), *(doc.spec.get("by") or [])}
    types = table_columns(f"{name}@{version}" if version is not None else name, store=store)
    kept = {c: t for c, t in types.items() if c not in skip}
    numeric = [c for c, t in kept.items() if t.startswith(("Float", "Int", "UInt", "Boolean"))]
    targets = [c for c, t in kept.items() if c in numeric or t.startswith(("String", "Utf8", "Categorical"))]
    return TrainingColumns(targets, numeric, numeric[0] if numeric else next(iter(targets), None))


def table_rows(store: Store, name: str, delta_version: int | None = None) -> int | None:
    """The rows table ``name`` holds at ``delta_version`` (default: its latest), read from its Delta log.

    The sum of the record counts the log keeps for each of that version's files (a file written
    without them has its Parquet footer read); no row is read. ``None`` when the store holds no
    tables (neither local nor S3) or the table has no commit.

    Example:
        >>> import tempfile
        >>> from altakit.ingestion import ingest
        >>> store = open_store(tempfile.mkdtemp())
        >>> two = b"t,v\\n2024-01-01T00:00:00Z,1\\n2024-01-02T00:00:00Z,2\\n"
        >>> _ = ingest(("a.csv", two), "l", store=store)
        >>> table_rows(store, "l"), table_rows(store, "nothing")
        (2, None)
    """
    import pyarrow as pa
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    from altakit.datasets.tables import location

    try:
        loc = location(store, name)
        table = DeltaTable(loc.uri, version=delta_version, storage_options=loc.storage_options)
    except (ConfigError, TableNotFoundError):
        return None
    counts = pa.table(table.get_add_actions(flatten=True)).column("num_records").to_pylist()
    if any(n is None for n in counts):  # a file without statistics: its footer counts
        return int(table.to_pyarrow_dataset().count_rows())
    return int(sum(counts))


def _newest_commit(cat: Catalog, name: str) -> int | None:
    """The newest Delta version any version of table ``name`` names, as ``read_table`` reads it:
    concurrent ingests may register their versions out of commit order."""
    commits = [
        v.doc["delta_version"]
        for v in cat.versions("table", name)
        if isinstance(v.doc.get("delta_version"), int)
    ]
    return max(commits, default=None)


def _models(cat: Catalog, kind: str, name: str) -> list[str]:
    """Models made (through any number of links) from any version of ``kind:name``."""
    found: dict[Ref, None] = {}
    versions: list[Record] = cat.versions(kind, name)
    for rec in versions:
        for edge in cat.lineage(Ref(kind, name, rec.version), "down"):
            if edge[0].kind == "model":
                found[edge[0]] = None
    return [str(r) for r in sorted(found, key=lambda r: (r.name, -(r.version or 0)))]
