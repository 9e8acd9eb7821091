"""What both engines share, so they produce the same table: typing, cleaning, conforming, the result.

:class:`Typing` types blocks of text rows consistently across an ingest
(types are inferred once, from the first block where a column appears, and the
schema policy is decided then, so later blocks are cast without looking back,
except that a block with values that need a wider type widens the column
through the policy, :mod:`~altakit.ingestion.widening` — where the policy refuses the
widening (``add_new_columns``, ``fail``), those values go to quarantine instead; the day/month order of
a date column is decided from every value of that first block and checked on
later ones, :func:`~altakit.ingestion.datetimes.decide`);
:func:`clean_frame` runs the spec's cleaning steps over typed rows;
:meth:`Schema.conform <altakit.ingestion.schema.Schema.conform>` selects the target
schema's columns; :class:`Processed` is what an engine hands to the job's writer. The
local engine runs them in-process, the Spark engine inside its tasks.

Example:
    >>> from altakit.ingestion.schema import Field, Schema
    >>> reconcile({"x": "int64", "y": "int64"}, Schema([Field("x", "float64"), Field("y", "bool")]))
    {'x': 'float64', 'y': 'int64'}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit.datasets.internal import is_internal
from altakit.errors import IngestError, SchemaChangePending, SchemaError
from altakit.ingestion import clean, datetimes, fastcast, quarantine
from altakit.ingestion.schema import INT_TYPES, RESCUED, Field, Plan, Schema, cast, infer, normalize_nulls
from altakit.ingestion.widening import beyond_float, widened

if TYPE_CHECKING:
    import polars as pl

    from altakit.datasets.delta_files import DataFile
    from altakit.ingestion.spec import IngestSpec

#: Called with the observed schema; returns the policy's plan (or raises to stop the ingest).
Decide = Callable[[Schema], Plan]
#: Inferred types that fit an approved type without loss: the approved type is kept.
_SAFE = {
    ("int64", "float64"),
    ("int32", "int64"),
    ("int16", "int64"),
    ("int8", "int64"),
    ("float32", "float64"),
}


@dataclass
class Processed:
    """What an engine hands to the writer.

    Attributes:
        frame: Cleaned rows with the target schema's columns (``None`` when spilled).
        quarantine: Rejected rows.
        rows_in: Data rows read (blank lines not counted).
        rows_written: Input rows that reached the table (before resampling aggregates them).
        blank_lines: Blank lines skipped.
        steps: What each cleaning step changed.
        plan: The schema policy's decision.
        types: The type name of every column read.
        spilled: Cleaned buckets on disk (large inputs with a series key), written by :meth:`data`.
        spill: The spill that holds them (removed by :meth:`close`).
        datetimes: Each text datetime column's order or format as the typing decided it
            (:attr:`Typing.datetimes`; recorded in the version for a replay).
        files: Data files an engine's tasks wrote into the table's folder for the :class:`Sink`
            (``frame`` is then None): the job commits them; None when the job writes the rows.
        quarantine_files: Likewise for the quarantine table (its rows are counted in ``quarantine``).
    """

    frame: pl.DataFrame | None
    quarantine: quarantine.Quarantine
    rows_in: int
    rows_written: int
    blank_lines: int
    steps: list[clean.StepReport]
    plan: Plan
    types: dict[str, str] = field(default_factory=dict)
    spilled: list[Path] = field(default_factory=list)
    spill: Any = None
    datetimes: dict[str, str | None] = field(default_factory=dict)
    files: list[DataFile] | None = None
    quarantine_files: list[DataFile] | None = None

    @property
    def rows_out(self) -> int:
        """Rows the commit adds."""
        if self.files is not None:
            return sum(f.rows for f in self.files)
        if self.frame is not None:
            return self.frame.height
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.spilled)

    def data(self) -> Any:
        """The rows to write, as Arrow (a table, or a stream over the spilled buckets)."""
        if self.frame is not None:
            return self.frame.to_arrow()
        import pyarrow.dataset as ds

        return ds.dataset([str(p) for p in self.spilled], format="parquet").scanner().to_reader()

    def close(self) -> None:
        """Remove the spill files."""
        if self.spill is not None:
            self.spill.cleanup()
            self.spill = None


def reconcile(inferred: dict[str, str], approved: Schema | None) -> dict[str, str]:
    """Use the approved type where the inferred one fits into it without loss (int64 into float64 …)."""
    if approved is None:
        return inferred
    out = {}
    for col, tname in inferred.items():
        old = approved.get(col)
        fits = old is not None and (old.dtype == "string" or (tname, old.dtype) in _SAFE)
        out[col] = old.dtype if fits and old is not None else tname
    return out


class Typing:
    """Types blocks of text rows consistently across an ingest.

    Args:
        spec: The ingest spec (datetime options, inference threshold).
        approved: The approved schema, if any.
        decide: The schema policy callback.
    """

    def __init__(self, spec: IngestSpec, approved: Schema | None, decide: Decide) -> None:
        self.spec, self.approved, self.decide = spec, approved, decide
        self.types: dict[str, str] = {}
        self.nullable: dict[str, bool] = {}
        self.datetimes: dict[str, str | None] = {}
        self.formats: dict[str, tuple[list[str], bool]] = {}  # detected datetime formats, for fast_cast
        self.plan: Plan | None = None
        self.huge: set[str] = set()  # integer columns holding a value beyond 2**53 (no float widening)
        self.ordered: set[str] = set()  # datetime columns whose day/month order their values decided
        self.widen = True  # False: values that need a wider type are quarantined (Spark tasks)
        self.refused: dict[str, str] = {}  # widenings the schema policy refused (asked once)

    def learn(self, df: pl.DataFrame) -> None:
        """Infer types of columns not seen before and (re)decide the schema plan."""
        new = [c for c in df.columns if not is_internal(c) and c not in self.types]
        if not new and self.plan is not None:
            return
        wanted = {c: f for c, f in self.spec.datetime_columns().items() if c in new}
        types, dts = infer(
            df.select(new), datetimes=wanted, tz=self.spec.tz, threshold=self.spec.infer_threshold
        )
        schema = df.schema  # once: each df.schema / df.columns is linear in the columns
        for col, tname in reconcile(types, self.approved).items():
            self.types[col] = tname
            self.nullable[col] = df.get_column(col).null_count() > 0
            if tname.startswith("datetime") and schema[col] == _string():
                self.datetimes[col] = self._order(df, col, dts.get(col))
        observed = Schema([Field(c, t, self.nullable[c]) for c, t in self.types.items()])
        self.plan = self.decide(observed)

    def _order(self, df: pl.DataFrame, col: str, fmt: str | None) -> str | None:
        """A detected datetime column's day/month order, from every value of this (first) block."""
        if fmt is not None:
            return fmt
        values = df.get_column(col).drop_nulls().str.strip_chars()
        order = datetimes.decide(values, column=col, dayfirst=self.spec.dayfirst, source=_source(df))
        if order != datetimes.AUTO and self.spec.dayfirst is None:
            self.ordered.add(col)
        return order

    def apply(self, df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Type one block: ``(typed rows, quarantine rows)``.

        Once every column is known, text blocks take :func:`~altakit.ingestion.fastcast.fast_cast`,
        which gives the same rows as normalizing and casting here. A block with rows that do not
        fit is looked at again (:meth:`_adapt`): a column whose values need a wider type is widened
        (:mod:`~altakit.ingestion.widening`, through the schema policy) and the block typed again.

        Raises:
            AmbiguousValues: A date column's order cannot be decided, or its values contradict it.
        """
        typed, bad = self._cast(df)
        if bad.height and self._adapt(df):
            typed, bad = self._cast(df)
        if any(t in INT_TYPES for t in self.types.values()):
            self.huge |= beyond_float(typed, self.types)
        return typed, bad

    def _adapt(self, df: pl.DataFrame) -> bool:
        """Widen columns and settle date orders for a block with rows that did not fit; True if changed."""
        changed = False
        schema = df.schema
        for col, fmt in self.datetimes.items():
            if col not in schema or fmt not in (datetimes.AUTO, *self._checked(col)):
                continue
            values = df.get_column(col).drop_nulls().str.strip_chars()
            if fmt == datetimes.AUTO:  # no earlier row holds a slash date: this block may decide
                order = datetimes.decide(values, column=col, dayfirst=self.spec.dayfirst, source=_source(df))
                if order != datetimes.AUTO:
                    self.datetimes[col], changed = order, True
                    self.formats.pop(col, None)
                    if self.spec.dayfirst is None:  # decided by values: a later contradiction is an error
                        self.ordered.add(col)
            elif datetimes.order_of(values) not in (None, "ambiguous", fmt):  # the other order, too
                raise datetimes.ambiguity(values, column=col, source=_source(df), mixed=True)
        if not self.widen or self.plan is None:
            return changed
        wider = {c: t for c, t in widened(df, self.types, self.huge).items() if self.refused.get(c) != t}
        if wider:
            before = {f.name: f.dtype for f in self.plan.target.fields}
            types = self.types | wider
            try:
                self.plan = self.decide(Schema([Field(c, t, self.nullable[c]) for c, t in types.items()]))
            except SchemaError as exc:
                if isinstance(exc, SchemaChangePending):  # the policy asks for a review: that is the answer
                    raise
                self.refused.update(wider)  # the policy refuses it: the values that need it are quarantined
                return changed
            self.types = types
            after = {f.name: f.dtype for f in self.plan.target.fields}
            changed = changed or any(before.get(c) != after.get(c) for c in wider)
        return changed

    def _checked(self, col: str) -> tuple[str, ...]:
        return (datetimes.DAYFIRST, datetimes.MONTHFIRST) if col in self.ordered else ()

    def _cast(self, df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        known = self.plan is not None and all(is_internal(c) or c in self.types for c in df.columns)
        if not known:
            df = normalize_nulls(df)
            self.learn(df)
        plan = self.plan
        assert plan is not None
        df = df.drop([c for c in plan.drop if c in df.columns])
        target = {f.name: f.dtype for f in plan.target.fields if f.name != RESCUED}
        present = df.schema
        types = {c: target.get(c, t) for c, t in self.types.items() if c in present and c not in plan.rescue}
        dts = {c: self.datetimes.get(c) for c, t in types.items() if t.startswith("datetime")}
        rescue = [c for c in plan.rescue if c in df.columns] if plan.target.get(RESCUED) else None
        with quarantine.excerpts(self.spec.value_excerpt):  # how much of a value reasons quote
            if known and rescue is None and fastcast.supported(df, types, dts):
                return fastcast.fast_cast(
                    df, types, dts, tz=self.spec.tz, source_tz=self.spec.source_tz, formats=self.formats
                )
            if known:
                df = normalize_nulls(df)
            return cast(
                df, types, datetimes=dts, tz=self.spec.tz, source_tz=self.spec.source_tz, rescue=rescue
            )


def _source(df: pl.DataFrame) -> str | None:
    """The file a block came from (for errors)."""
    if "_source" in df.columns and df.height:
        return str(df.get_column("_source")[0])
    return None


def _string() -> Any:
    import polars as pl

    return pl.String


def clean_frame(
    frame: pl.DataFrame,
    spec: IngestSpec,
    reject: Callable[[pl.DataFrame, str], None],
    *,
    presorted: bool = False,
) -> tuple[pl.DataFrame, list[clean.StepReport]]:
    """Run the spec's cleaning steps over typed rows (``presorted``: in series order already).

    Raises:
        IngestError: The spec names a time or series column the rows lack.
    """
    ctx = clean.Context(time=spec.time, by=list(spec.by), reject=reject)
    for col in [spec.time, *spec.by]:
        if col and col not in frame.columns and frame.height:
            raise IngestError(f"the spec names column {col!r}, which the input lacks", column=col)
    reports = []
    if spec.steps:
        frame = frame if presorted else clean.sort_series(frame, ctx)
        ctx.presorted = True
        frame = clean.number_series(frame, ctx)
    for step_spec in spec.steps:
        step = clean.build_step(step_spec)
        frame, report = step.apply(frame, ctx)
        reports.append(report)
    return frame.drop(ctx.series) if ctx.series else frame, reports
