"""The open quarantine: every quarantined row as an entry, and what became of it.

The quarantine table (``<dataset>.quarantine``) is append-only history: each ingest adds the rows it
rejected (``_source``, ``_line``, ``_reason``, ``_raw``, ``_ingest``) in one Delta commit, and those
rows are never rewritten. What a person does with them later is recorded in a second append-only
Delta table beside it, the *log* (``<dataset>.quarantine-log``, columns :data:`LOG_COLUMNS`): one
row per entry and action, with the state ``replayed``, ``discarded`` or ``failed`` (a replay that
still did not fit; its ``_reason`` is the new reason and ``_raw`` the values it tried).

Why a log table rather than rewriting the quarantine or adding status rows to it: the quarantine
table is what ``read_table(..., quarantine=True)`` and :func:`~altakit.datasets.tables.read_quarantine`
read (a version's quarantine must read back as it was written), Delta appends never conflict with
each other (an ingest and a replay commit at the same time and both land; a delete/rewrite would
conflict with a concurrent ingest's append), and the log keeps who did what and when.

An entry is named by its ingest and its rank among that ingest's rows sorted by source, line,
reason and raw text (``<ingest id>:<rank>``); an ingest's rows never change, so the name is stable.
The state of an entry is its latest log row's (none: ``open``; ``failed`` counts as open, with
the newer reason; a discarded entry shows the reason it was discarded for). So exactly:
quarantined = replayed + open + discarded (:func:`accounting`).

Example:
    >>> import altakit
    >>> altakit.quarantine("sensors", store=store)  # doctest: +SKIP
    >>> accounting("sensors", store=store)  # doctest: +SKIP
    {'quarantined': 3, 'replayed': 1, 'open': 1, 'discarded': 1}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from altakit.datasets import tables
from altakit.errors import ConfigError, CorruptObject
from altakit.store import open_store

if TYPE_CHECKING:
    import polars as pl

    from altakit.store.base import Store

__all__ = [
    "LOG_COLUMNS",
    "META_COLUMNS",
    "STATES",
    "accounting",
    "entries",
    "ingest_id",
    "log_schema",
    "quarantine",
]

#: What can become of an entry (``open`` is the absence of a closing log row).
STATES = ("open", "replayed", "discarded", "failed")
#: The log table's columns.
LOG_COLUMNS = ("_entry", "_state", "_reason", "_raw", "_replay", "_by", "_at", "_comment")
#: The columns :func:`quarantine` puts before the data columns.
META_COLUMNS = ("_entry", "_state", "_ingest", "_ingest_version", "_source", "_line", "_reason", "_raw")
_SORT = ["_source", "_line", "_reason", "_raw"]


def log_schema() -> dict[str, Any]:
    """The polars schema of the log table (:data:`LOG_COLUMNS`)."""
    import polars as pl

    text = pl.String
    stamp = pl.Datetime("us", "UTC")
    return dict(zip(LOG_COLUMNS, (text, text, text, text, text, text, stamp, text), strict=True))


def entries(store: Store, dataset: str) -> pl.DataFrame:
    """Every quarantined row of ``dataset`` as an entry with its current state.

    Columns: :data:`META_COLUMNS` (``_raw`` as quarantined) plus ``_tried`` (the values the last
    failed replay tried, JSON, or null). ``_ingest_version`` is the dataset version whose ingest
    quarantined the row (null when its catalog record is missing).

    Raises:
        CorruptObject: The log names entries the quarantine table lacks.
    """
    import polars as pl

    rows = tables.read_table(dataset, store=store, quarantine=True)
    if tables.INGEST_COLUMN not in rows.columns:  # written before ingests were named: one per commit
        rows = rows.with_columns(pl.lit("").alias(tables.INGEST_COLUMN))
    rows = rows.sort([tables.INGEST_COLUMN, *_SORT], nulls_last=True)
    rank = pl.int_range(pl.len()).over(tables.INGEST_COLUMN).cast(pl.String)
    rows = rows.with_columns(pl.concat_str([pl.col(tables.INGEST_COLUMN), pl.lit(":"), rank]).alias("_entry"))
    docs = tables.version_docs(store, dataset)
    versions = pl.DataFrame(
        {
            tables.INGEST_COLUMN: [d.ingest_id for _, d in docs],
            "_ingest_version": [r.version for r, _ in docs],
        },
        schema={tables.INGEST_COLUMN: pl.String, "_ingest_version": pl.Int64},
    )
    rows = rows.join(versions, on=tables.INGEST_COLUMN, how="left")
    log = read_log(store, dataset)
    latest = (
        log.with_row_index("_order")
        .sort(["_at", "_order"])
        .group_by("_entry", maintain_order=True)
        .last()
        .select("_entry", pl.col("_state").alias("_last"), pl.col("_reason").alias("_why"), "_raw")
        .rename({"_raw": "_tried"})
    )
    unknown = latest.join(rows.select("_entry"), on="_entry", how="anti")
    if unknown.height:
        raise CorruptObject(
            f"the quarantine log of {dataset!r} names {unknown.height} entries its quarantine table lacks "
            f"(e.g. {unknown['_entry'][0]})",
            dataset=dataset,
            hint="the quarantine table was changed by hand; restore it from its Delta history",
        )
    rows = rows.join(latest, on="_entry", how="left")
    failed = pl.col("_last") == "failed"
    return rows.select(
        "_entry",
        pl.when(pl.col("_last").is_null() | failed).then(pl.lit("open")).otherwise("_last").alias("_state"),
        tables.INGEST_COLUMN,
        "_ingest_version",
        "_source",
        "_line",
        pl.when(pl.col("_why").is_not_null()).then("_why").otherwise("_reason").alias("_reason"),
        "_raw",
        pl.when(failed).then("_tried").otherwise(None).alias("_tried"),
    )


def read_log(store: Store, dataset: str) -> pl.DataFrame:
    """The log table's rows (empty, with :func:`log_schema`, before the first replay or discard)."""
    import polars as pl
    from deltalake import DeltaTable

    loc = tables.location(store, dataset, log=True)
    if not DeltaTable.is_deltatable(loc.uri, storage_options=loc.storage_options):
        return pl.DataFrame(schema=log_schema())
    frame = pl.from_arrow(DeltaTable(loc.uri, storage_options=loc.storage_options).to_pyarrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def quarantine(
    dataset: str,
    *,
    store: Store | str | None = None,
    state: Literal["open", "replayed", "discarded", "all"] = "open",
    ingest: str | int | None = None,
    as_: Literal["polars", "pandas"] = "polars",
) -> Any:
    """The quarantined rows of a dataset, by ingest, reason, source file and line; open ones by default.

    Each row is an entry (:data:`META_COLUMNS`: its name ``_entry``, ``_state``, the ``_ingest``
    and dataset version (``_ingest_version``) that quarantined it, ``_source``, ``_line``,
    ``_reason`` — the newest, after a failed replay — and ``_raw`` as quarantined), followed by
    the approved schema's columns as text, filled from the row (or from what its last failed
    replay tried). Edit those columns and hand the frame to :func:`altakit.ingestion.replay.replay`.
    A row quarantined as raw text (a ragged CSV line, an unparseable JSON line) has empty columns:
    fill them in from ``_raw``.

    Args:
        dataset: The dataset name.
        store: The store (default: the project store).
        state: ``"open"`` (default), ``"replayed"``, ``"discarded"`` or ``"all"``.
        ingest: Only rows of this ingest: its id, or the dataset version it wrote.
        as_: ``"polars"`` or ``"pandas"``.

    Raises:
        ConfigError: Bad ``state`` or ``as_``.
        NotFound: ``ingest`` names no version of the dataset.

    Example:
        >>> import altakit
        >>> altakit.quarantine("sensors", store=store).select("_source", "_line", "_reason")  # doctest: +SKIP
    """
    import polars as pl

    if state not in ("open", "replayed", "discarded", "all"):
        raise ConfigError(f"state must be open, replayed, discarded or all, not {state!r}")
    if as_ not in ("polars", "pandas"):
        raise ConfigError(f"as_ must be 'polars' or 'pandas', not {as_!r}")
    st = open_store(store)
    name = tables.check_dataset(dataset)
    frame = entries(st, name)
    if state != "all":
        frame = frame.filter(pl.col("_state") == state)
    if ingest is not None:
        frame = frame.filter(pl.col(tables.INGEST_COLUMN) == ingest_id(st, name, ingest))
    out = expand(frame, data_columns(st, name)).drop("_tried")
    return out.to_pandas() if as_ == "pandas" else out


def ingest_id(store: Store, dataset: str, ingest: str | int) -> str:
    """The id of an ingest given as its id or as the dataset version it wrote.

    Raises:
        NotFound: ``ingest`` is a version the dataset lacks.

    Example:
        >>> ingest_id(store, "sensors", 2)  # doctest: +SKIP
        '3f9c…'
    """
    return tables.version_doc(store, dataset, ingest)[1].ingest_id if isinstance(ingest, int) else ingest


def data_columns(store: Store, dataset: str) -> list[str]:
    """The approved schema's columns (altakit's own, such as ``_rescued_data``, left out)."""
    from altakit.ingestion.review import SchemaRegistry
    from altakit.ingestion.schema import RESCUED

    approved = SchemaRegistry(store).approved(dataset)
    return [] if approved is None else [c for c in approved[0].names if c != RESCUED]


def fields_of(raw: str | None) -> dict[str, Any] | None:
    """The fields of a quarantined row's ``_raw`` when it holds them as a JSON object, else ``None``.

    Example:
        >>> fields_of('{"t": "1", "x": null}'), fields_of("1,2,3")
        ({'t': '1', 'x': None}, None)
    """
    if raw is None or not raw.startswith("{"):
        return None
    try:
        found = json.loads(raw)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def expand(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """``frame`` with one text column per name in ``columns``, filled from ``_tried`` or ``_raw``.

    A data column whose name is one of :data:`META_COLUMNS` is not added (its value stays in ``_raw``;
    fix it with a replay's ``values``).
    """
    import polars as pl

    cols = [c for c in columns if c not in META_COLUMNS and c != "_tried"]
    values: dict[str, list[str | None]] = {c: [] for c in cols}
    for tried, raw in zip(frame.get_column("_tried"), frame.get_column("_raw"), strict=True):
        found = fields_of(tried) or fields_of(raw) or {}
        for c in cols:
            v = found.get(c)
            values[c].append(None if v is None else v if isinstance(v, str) else json.dumps(v))
    return frame.with_columns(pl.Series(c, values[c], dtype=pl.String) for c in cols)


def accounting(dataset: str, *, store: Store | str | None = None) -> dict[str, int]:
    """Quarantined rows of ``dataset`` by state: ``quarantined = replayed + open + discarded``.

    The rows of every ingest with a catalog record are also checked against what the record says it
    quarantined (an ingest still between its commits has none yet; its rows count all the same).

    Raises:
        CorruptObject: The quarantine table and the catalog disagree.

    Example:
        >>> accounting("sensors", store=store)  # doctest: +SKIP
        {'quarantined': 3, 'replayed': 1, 'open': 1, 'discarded': 1}
    """
    st = open_store(store)
    name = tables.check_dataset(dataset)
    found = entries(st, name)
    counts = {s: 0 for s in ("replayed", "open", "discarded")}
    counts.update({str(s): int(n) for s, n in found.get_column("_state").value_counts().iter_rows()})
    total = sum(counts.values())
    held = found.get_column("_ingest_version").is_not_null().sum()
    recorded = sum(d.rows_quarantined for _, d in tables.version_docs(st, name) if d.replay is None)
    if recorded != held:
        raise CorruptObject(
            f"the quarantine table of {name!r} holds {held} rows of recorded ingests, "
            f"their records {recorded}",
            dataset=name,
            hint="an ingest died between its commits; `altakit table history` shows the versions",
        )
    return {"quarantined": total, **counts}
