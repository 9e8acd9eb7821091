"""Replay quarantined rows once a person has fixed them, or discard them on purpose.

:func:`replay` takes open quarantine entries (:mod:`.quarantine_log`), fixed either in a frame
(the one :func:`~.quarantine_log.quarantine` returns, edited in a notebook) or by a mapping (a
datetime ``formats`` per column, corrected ``values`` per column), types them with the engine's own
code (:func:`~altakit.ingestion.schema.normalize_nulls`, :func:`~altakit.ingestion.schema.cast`
into the approved schema's types, then its columns in order with :meth:`Schema.conform`) and then:

1. appends the rows that fit as one Delta commit to the dataset's table;
2. logs every entry it tried: ``replayed``, or ``failed`` with the new reason (the entry stays
   open, showing that reason);
3. registers the new dataset version (``table:<dataset>@N``, :class:`~altakit.datasets.tables.TableDoc`
   with ``replay``: who, when, comment, the fix and the entries), linked ``replayed_from`` the
   versions whose ingests quarantined the rows, and to its ``schema``.

The order keeps every row, and a kill anywhere adds none twice: the table's commit (1) carries
the version's record and names the replay (:func:`~altakit.ingestion.reconcile.commit_metadata`), so
the next replay (or ingest, or ``altakit catalog check --repair``) of a replay that died after it
writes the missing log rows and registers the version (:mod:`altakit.ingestion.reconcile`) instead
of leaving its entries open to be appended again. The commit points are :data:`FAULT_POINTS`.
Cleaning steps that look along a series (resampling,
gap filling, outliers) are not re-run over a handful of replayed rows, where they would judge a row
without its series; the typing and the approved schema are the ingest's. A text datetime column is
read in the day/month order (or format) the quarantining ingest decided and recorded in its version
(:attr:`~altakit.datasets.tables.TableDoc.datetimes`); for versions written before that was recorded,
the replayed values and the spec's ``dayfirst`` decide it, and a row they leave undecided stays open
with a reason asking for ``formats`` (the order is never guessed).

Replays of one dataset take turns (a claim in the store; a second one at the same time gets
:class:`~altakit.errors.Conflict`); ingests run alongside, since Delta appends do not conflict.
Entries already replayed or discarded are passed over, so replaying twice adds nothing.

Example:
    >>> import altakit
    >>> rows = altakit.quarantine("sensors", store=store)  # doctest: +SKIP
    >>> rows = rows.with_columns(temperature=pl.lit("21.5"))  # doctest: +SKIP
    >>> replay("sensors", rows, comment="typo in the logger", store=store).version  # doctest: +SKIP
    3
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from altakit import faults
from altakit.datasets import tables
from altakit.errors import AltakitError, ConfigError, NotFound
from altakit.ingestion import quarantine_log as qlog
from altakit.ingestion.claims import turn
from altakit.ingestion.quarantine import summaries
from altakit.ingestion.reconcile import commit_metadata, in_flight, reconcile, write_log
from altakit.ingestion.schema import RESCUED
from altakit.store import open_store

if TYPE_CHECKING:
    import polars as pl

    from altakit.ingestion.schema import Schema
    from altakit.store.base import Store

__all__ = ["FAULT_POINTS", "LOCKS", "ReplayReport", "discard", "replay"]

#: Store prefix of the claims replays take on a dataset (one replay of a dataset at a time).
LOCKS = "_altakit/ingest/replays"
#: A replay's commit points, in order (:mod:`altakit.faults`).
FAULT_POINTS = ("replay.table_committed", "replay.log_committed")
_NOT_FIXED = "not fixed: the row was quarantined as raw text; fill in its columns"


@dataclass
class ReplayReport:
    """The outcome of a :func:`replay` or a :func:`discard`.

    Attributes:
        dataset: Dataset name.
        status: ``written`` (a new version), ``failed`` (no row fitted), ``discarded`` or
            ``unchanged`` (nothing open to act on).
        version: The new dataset version, if written.
        delta_version: Its Delta commit.
        replay_id: The replay's id (the version's ``ingest_id``; the log's ``_replay``).
        replayed: Entries written to the table.
        failed: Entries that still do not fit, with the new reason (they stay open).
        discarded: Entries discarded.
        skipped: Entries asked for that were no longer open (replayed or discarded before).
    """

    dataset: str
    status: str = "unchanged"
    version: int | None = None
    delta_version: int | None = None
    replay_id: str = ""
    replayed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    discarded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)

    def __str__(self) -> str:
        where = f" v{self.version}" if self.version else ""
        return (
            f"{self.dataset}: {self.status}{where} replayed={len(self.replayed)} failed={len(self.failed)} "
            f"discarded={len(self.discarded)} skipped={len(self.skipped)}"
        )


def replay(
    dataset: str,
    rows: Any = None,
    *,
    formats: Mapping[str, str] | None = None,
    values: Mapping[str, Mapping[str, str | None]] | None = None,
    entries: Sequence[str] | None = None,
    reason: str | None = None,
    ingest: str | int | None = None,
    by: str | None = None,
    comment: str = "",
    store: Store | str | None = None,
) -> ReplayReport:
    """Write fixed quarantine rows to the table as a new version (see the module docstring).

    Args:
        dataset: The dataset name.
        rows: Fixed rows: a polars or pandas frame with ``_entry`` and the columns to replay (as
            :func:`~.quarantine_log.quarantine` gives them); without it, the open entries as they are.
        formats: A datetime format per column (chrono syntax, ``epoch_s``, ``epoch_ms``).
        values: Corrected text per column: ``{"temp": {"12,5": "12.5"}}``.
        entries: Only these entries (``_entry`` names).
        reason: Only entries whose reason contains this text.
        ingest: Only entries of this ingest (its id, or the dataset version it wrote).
        by: Who replays (default: the store's writer).
        comment: Why; kept in the catalog record and the log.
        store: The store (default: the project store).

    Raises:
        NotFound: ``rows`` or ``entries`` name entries the dataset's quarantine lacks, or there is
            no approved schema.
        ConfigError: ``rows`` lacks ``_entry``, or a fix names a column the schema lacks.
        Conflict: Another replay of the dataset is running.

    Example:
        >>> replay("sensors", formats={"ts": "%d.%m.%Y %H:%M"}, reason="'ts'", store=store)  # doctest: +SKIP
    """
    import polars as pl

    st = open_store(store)
    name = tables.check_dataset(dataset)
    who = by or st.writer
    fixed = _frame(rows)
    with _turn(st, name, who):
        reconcile(st, name, writer=who)  # a replay (or ingest) that died after its commit
        open_, report = _select(st, name, fixed, entries, reason, ingest)
        if open_.height == 0:
            return report
        schema, schema_version = _approved(st, name)
        cols = [f.name for f in schema.fields if f.name != RESCUED]
        for what, given in (("formats", formats), ("values", values)):
            unknown = sorted(set(given or {}) - set(cols))
            if unknown:
                raise ConfigError(
                    f"{what} name columns {unknown} that the schema of {name!r} lacks",
                    dataset=name,
                    hint=f"the columns are: {', '.join(cols)}",
                )
        from altakit.ingestion.spec import dataset_policy

        policy = dataset_policy(st, name)
        extra = "rescue" if schema.get(RESCUED) is not None else "drop" if policy == "ignore" else "fail"
        text, why = _texts(open_, fixed, cols, values or {}, extra)
        ingest_of = dict(zip(open_.get_column("_entry"), open_.get_column(tables.INGEST_COLUMN), strict=True))
        typed, failed = _type(text, schema, name, st, formats or {}, ingest_of)
        failed.update(why)
        report.replay_id = uuid.uuid4().hex
        report.failed = {e: failed[e] for e in open_.get_column("_entry") if e in failed}
        ok = typed.filter(~pl.col("_source").is_in(list(failed)))
        report.replayed = ok.get_column("_source").to_list()
        fix = {"formats": dict(formats or {}), "values": {c: dict(v) for c, v in (values or {}).items()}}
        meta = {"altakit.ingest": report.replay_id, "altakit.writer": who, "altakit.replay": "true"}
        loc = tables.location(st, name)
        at = datetime.now(UTC)
        with in_flight(report.replay_id):  # should registering fail, the next call reconciles the commit
            if ok.height:
                doc, links = _version(st, name, report, open_, schema_version, who, at, comment, fix, loc)
                carried = commit_metadata(report.replay_id, who, doc, links, **{"altakit.replay": "true"})
                conformed = schema.conform(ok)
                report.delta_version = tables.write(loc, conformed, merge_schema=True, metadata=carried)
                faults.point("replay.table_committed")
            tried_cols = text.drop("_source", "_line", RESCUED, strict=False)
            tried = dict(zip(text.get_column("_source"), tried_cols.to_dicts(), strict=True))
            log: list[tuple[str, str, str | None, str | None]] = [
                (e, "replayed", None, None) for e in report.replayed
            ]
            log += [(e, "failed", r, json.dumps(tried.get(e, {}))) for e, r in report.failed.items()]
            write_log(st, name, log, report.replay_id, who, at, comment, meta)
            report.status = "written" if ok.height else "failed"
            if ok.height:
                faults.point("replay.log_committed")
                assert report.delta_version is not None
                doc = dataclasses.replace(doc, delta_version=report.delta_version)
                report.version = tables.register_version(st, name, doc, links=links).version
    return report


def discard(
    dataset: str,
    entries: Sequence[str] | Any,
    *,
    reason: str,
    reason_contains: str | None = None,
    by: str | None = None,
    store: Store | str | None = None,
) -> ReplayReport:
    """Close quarantine entries on purpose, with a reason; they count as discarded, never as lost.

    Args:
        dataset: The dataset name.
        entries: ``_entry`` names, or a frame with an ``_entry`` column.
        reason: Why (required).
        reason_contains: Only those of ``entries`` whose quarantine reason contains this text (the
            filter :func:`replay` takes as ``reason``).
        by: Who (default: the store's writer).
        store: The store (default: the project store).

    Raises:
        ConfigError: No reason given.
        NotFound: An entry is not in the dataset's quarantine.

    Example:
        >>> discard("sensors", ["3f…:0"], reason="test rows from the bench", store=store)  # doctest: +SKIP
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(
            "a discard needs a reason", hint="say why the rows are dropped, e.g. reason='test data'"
        )
    st = open_store(store)
    name = tables.check_dataset(dataset)
    who = by or st.writer
    frame = _frame(entries) if not isinstance(entries, (list, tuple)) else None
    ids = list(entries) if frame is None else None
    with _turn(st, name, who):
        open_, report = _select(st, name, frame, ids, reason_contains, None)
        if open_.height == 0:
            return report
        report.replay_id = uuid.uuid4().hex
        report.discarded = open_.get_column("_entry").to_list()
        meta = {"altakit.ingest": report.replay_id, "altakit.writer": who, "altakit.discard": "true"}
        log = [(e, "discarded", reason, None) for e in report.discarded]
        write_log(st, name, log, report.replay_id, who, datetime.now(UTC), reason, meta)
        report.status = "discarded"
    return report


# ------------------------------------------------------------------ steps
def _frame(rows: Any) -> pl.DataFrame | None:
    """``rows`` as a polars frame with ``_entry`` (pandas converted), or ``None``."""
    import polars as pl

    if rows is None:
        return None
    if not isinstance(rows, pl.DataFrame):
        try:
            rows = pl.from_pandas(rows)
        except (TypeError, ValueError, ImportError) as exc:
            raise ConfigError(
                f"rows must be a polars or pandas frame, not {type(rows).__name__}",
                hint="pass the frame altakit.quarantine(...) returned, edited",
            ) from exc
    if "_entry" not in rows.columns:
        raise ConfigError(
            "the rows to replay lack the '_entry' column that names each quarantine entry",
            hint="edit the frame altakit.quarantine(...) returns and keep its _entry column",
        )
    return rows


def _select(
    store: Store,
    name: str,
    fixed: pl.DataFrame | None,
    ids: Sequence[str] | None,
    reason: str | None,
    ingest: str | int | None,
) -> tuple[pl.DataFrame, ReplayReport]:
    """The open entries asked for (with their text columns) and a report naming those passed over."""
    import polars as pl

    found = qlog.entries(store, name)
    wanted = fixed.get_column("_entry").cast(pl.String).to_list() if fixed is not None else ids
    report = ReplayReport(name)
    if wanted is not None:
        missing = sorted(set(wanted) - set(found.get_column("_entry")))
        if missing:
            raise NotFound(
                f"the quarantine of {name!r} has no entries {missing[:5]}{' …' if len(missing) > 5 else ''}",
                dataset=name,
                entries=missing,
                hint=f"altakit quarantine ls {name} lists them",
                ui_hint="refresh the quarantined rows: another person may have replayed or discarded them",
            )
        found = found.filter(pl.col("_entry").is_in(list(wanted)))
        report.skipped = found.filter(pl.col("_state") != "open").get_column("_entry").to_list()
    found = found.filter(pl.col("_state") == "open")
    if reason is not None:
        found = found.filter(pl.col("_reason").str.contains(reason, literal=True))
    if ingest is not None:
        found = found.filter(pl.col(tables.INGEST_COLUMN) == qlog.ingest_id(store, name, ingest))
    return found, report


def _approved(store: Store, name: str) -> tuple[Schema, int]:
    from altakit.ingestion.review import SchemaRegistry

    approved = SchemaRegistry(store).approved(name)
    if approved is None:
        raise NotFound(
            f"dataset {name!r} has no approved schema to replay rows into",
            dataset=name,
            hint=f"altakit schema approve {name}",
            ui_hint="approve the dataset's schema on the schema review page first",
        )
    return approved


def _texts(
    open_: pl.DataFrame,
    fixed: pl.DataFrame | None,
    cols: list[str],
    values: Mapping[str, Mapping[str, Any]],
    extra: str = "fail",
) -> tuple[pl.DataFrame, dict[str, str]]:
    """The text row to type per entry (``_source``: the entry, ``_line``: its position) and early failures.

    Values come from ``fixed`` (its columns of the schema, as text) where given, else from the last
    failed try or the quarantined ``_raw``; then ``values`` replaces text per column. Fields the
    schema lacks go as the ingest's policy says: ``extra="rescue"`` into ``_rescued_data`` (JSON),
    ``"drop"`` (policy ``ignore``) nowhere, ``"fail"`` keep the row in quarantine with the reason.
    """
    import polars as pl

    given = [c for c in cols if fixed is not None and c in fixed.columns and c not in qlog.META_COLUMNS]
    edits: dict[str, dict[str, Any]] = {}
    if fixed is not None and given:
        text = fixed.select("_entry", *(pl.col(c).cast(pl.String) for c in given))
        edits = {r["_entry"]: r for r in text.to_dicts()}
    rows: dict[str, list[Any]] = {c: [] for c in cols}
    rescued: list[str | None] = []
    names, failed = [], {}
    for entry, tried, raw in open_.select("_entry", "_tried", "_raw").iter_rows():
        raw_fields, tried_fields = qlog.fields_of(raw), qlog.fields_of(tried)  # a try keeps schema columns
        both = raw_fields is not None or tried_fields is not None
        fields = {**(raw_fields or {}), **(tried_fields or {})} if both else None
        more = {k: v for k, v in (fields or {}).items() if k not in cols and v is not None}
        if entry in edits:
            fields = {**(fields or {}), **{c: edits[entry][c] for c in given}}
        if fields is None or not any(fields.get(c) is not None for c in cols):
            failed[entry] = _NOT_FIXED
        elif more and extra == "fail":
            failed[entry] = f"columns {sorted(more)} are not in the approved schema"
        rescued.append(json.dumps(more) if more and extra == "rescue" else None)
        names.append(entry)
        for c in cols:
            v = (fields or {}).get(c)
            v = v if v is None or isinstance(v, str) else json.dumps(v)
            rows[c].append(values[c].get(v, v) if c in values and v is not None else v)
    frame = pl.DataFrame(
        {"_source": names, "_line": list(range(len(names))), **rows},
        schema={"_source": pl.String, "_line": pl.Int64, **dict.fromkeys(cols, pl.String)},
    )
    if extra == "rescue":
        frame = frame.with_columns(pl.Series(RESCUED, rescued, dtype=pl.String))
    return frame, failed


def _type(
    text: pl.DataFrame,
    schema: Schema,
    name: str,
    store: Store,
    formats: Mapping[str, str],
    ingest_of: Mapping[str, str | None],
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Type the text rows into the approved schema as an ingest does; failures by entry.

    A datetime column is read as ``formats`` says, else in the order or format the ingest that
    quarantined the row recorded (:attr:`~altakit.datasets.tables.TableDoc.datetimes`), else in the
    spec's format, else in the order the replayed values decide (:func:`_order`). Rows are typed
    per ingest, since two ingests may have read the same column in different orders.
    """
    import polars as pl

    from altakit.ingestion.schema import cast, normalize_nulls
    from altakit.ingestion.spec import IngestSpec, last_spec

    spec = IngestSpec.load(last_spec(store, name) or {})
    types = {f.name: f.dtype for f in schema.fields if f.name in text.columns}
    known = spec.datetime_columns()
    recorded = {d.ingest_id: d.datetimes for _, d in tables.version_docs(store, name)}
    group = pl.Series("_ingest", [ingest_of.get(e) or "" for e in text.get_column("_source")])
    parts, failed, undecided = [], {}, {}
    for part in text.with_columns(group).partition_by("_ingest", include_key=False):
        ingest_id = ingest_of.get(part.get_column("_source")[0]) or ""
        dts: dict[str, str | None] = {}
        for c, t in types.items():
            if not t.startswith("datetime"):
                continue
            fmt = formats.get(c) or recorded.get(ingest_id, {}).get(c) or known.get(c)
            if fmt is None:
                fmt, why = _order(part, c, spec.dayfirst)
                undecided.update(why)
            dts[c] = fmt
        try:
            typed, bad = cast(
                normalize_nulls(part), types, datetimes=dts, tz=spec.tz, source_tz=spec.source_tz
            )
        except AltakitError as exc:  # e.g. values the given format contradicts: the part's rows fail
            failed.update(dict.fromkeys(part.get_column("_source"), str(exc)))
            continue
        parts.append(typed)
        failed.update(dict(zip(bad.get_column("_source"), bad.get_column("_reason"), strict=True)))
    failed.update(undecided)  # their reason, rather than the unparseable value's
    typed = pl.concat(parts, how="diagonal_relaxed") if parts else text.clear()
    return typed, failed


def _order(part: pl.DataFrame, column: str, dayfirst: bool | None) -> tuple[str, dict[str, str]]:
    """The order ``column``'s slash dates are read in when nothing recorded it (versions written
    before orders were recorded): decided from the replayed values and the spec's ``dayfirst``,
    never guessed. Values that leave it undecided fail (their entries stay open, the reason says
    to pass ``formats``); the others are read under :data:`~altakit.ingestion.datetimes.AUTO`.

    Example:
        >>> import polars as pl
        >>> part = pl.DataFrame({"_source": ["a:0", "a:1"], "ts": ["13/01/2024", "05/06/2024"]})
        >>> _order(part, "ts", None)
        ('dayfirst', {})
        >>> _order(part.tail(1), "ts", None)[1]["a:1"][:40]
        "the dates of column 'ts' fit both day-fi"
        >>> _order(part.tail(1), "ts", False)
        ('monthfirst', {})
    """
    import polars as pl

    from altakit.errors import AmbiguousValues
    from altakit.ingestion import datetimes

    values = part.get_column(column).drop_nulls().str.strip_chars()
    try:
        return datetimes.decide(values, column=column, dayfirst=dayfirst), {}
    except AmbiguousValues:
        slash = part.filter(pl.col(column).str.strip_chars().str.contains(datetimes.SLASH_DATE))
        why = (
            f"the dates of column {column!r} fit both day-first and month-first, and the ingest that "
            f"quarantined the row recorded no order; replay with formats={{{column!r}: 'dayfirst'}} "
            "(or 'monthfirst', or a format such as '%d/%m/%Y')"
        )
        return datetimes.AUTO, dict.fromkeys(slash.get_column("_source"), why)


def _version(
    store: Store,
    name: str,
    report: ReplayReport,
    open_: pl.DataFrame,
    schema_version: int,
    who: str,
    at: datetime,
    comment: str,
    fix: dict[str, Any],
    loc: tables.Location,
) -> tuple[tables.TableDoc, dict[str, Any]]:
    """The replay's dataset version (its ``delta_version`` still unknown) and links: ``schema`` and
    ``replayed_from`` the versions it came from."""
    import polars as pl

    from altakit.ingestion.review import SchemaRegistry
    from altakit.ingestion.spec import last_spec

    done = open_.filter(pl.col("_entry").is_in(report.replayed))
    sources = sorted({v for v in done.get_column("_ingest_version").to_list() if v is not None})
    doc = tables.TableDoc(
        delta_version=-1,
        quarantine_version=None,
        uri=tables.recorded_uri(store, loc),
        ingest_id=report.replay_id,
        sources=[],
        rows_in=len(report.replayed),
        rows_written=len(report.replayed),
        rows_quarantined=0,  # the rows that still fail stay open in the quarantine of their own ingest
        rows_out=len(report.replayed),
        steps=[],
        quarantine_reasons={},
        engine="replay",
        spec=last_spec(store, name) or {},
        replay={
            "by": who,
            "at": at.isoformat(),
            "comment": comment,
            "fix": fix,
            "entries": report.replayed,
            "failed": len(report.failed),
            "failed_reasons": summaries(Counter(report.failed.values())),
        },
    )
    links: dict[str, Any] = {"schema": SchemaRegistry.ref(name, schema_version)}
    if sources:
        links["replayed_from"] = [f"{tables.TABLE}:{name}@{v}" for v in sources]
    return doc, links


@contextlib.contextmanager
def _turn(store: Store, name: str, who: str) -> Iterator[None]:
    """Hold the dataset's replay turn: the first live claim (:func:`~altakit.ingestion.claims.turn`;
    the claim of a replay whose process is gone from this host is passed over at once).

    Raises:
        Conflict: Another replay of the dataset is running.
    """
    with turn(store, f"{LOCKS}/{name}", who, what="replay of the quarantine"):
        yield
