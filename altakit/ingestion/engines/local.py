"""The local engine: read, type and clean on one machine with polars.

Each source file is read in blocks (:mod:`.readers`); every block is typed by a
:class:`Typing` (types are inferred once, from the first block where a column
appears, and the schema policy is decided then), so later blocks are cast
without looking back. Rows that fail to read or to cast go to quarantine.
Cleaning (:mod:`.clean`) looks along whole series (resampling, outliers, gaps),
so the typed rows are held in memory and cleaned as one frame, as long as they
fit a share of the memory budget (:data:`MEMORY_BUDGET` / :data:`COPIES`,
measured on the typed blocks, not guessed from the input's size); they wait in
series order (:class:`~.order.SeriesBlocks`), so no whole-input sort is needed,
and two runs of whole series are cleaned on two threads (:func:`clean_in_parts`).
Past the budget, with a series key (``by``), they spill to disk in series
buckets (:mod:`.spill`; one series never spans two buckets, and the bucket
count follows the estimated input so that a bucket fits the same share), then
each bucket is cleaned alone and the cleaned buckets stream into the Delta
commit. Peak memory then follows the budget, not the input, as long as one
series fits it. Without a series key the whole input is one series and is
cleaned in memory.

:class:`Typing` and :func:`clean_frame` are shared with the Spark engine, so
both engines produce the same table.

Example:
    >>> out = process(files, spec, decide, approved=None)  # doctest: +SKIP
    >>> out.rows_in == out.rows_written + out.quarantine.count  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit.errors import IngestError
from altakit.ingestion import clean, fastcast, quarantine, readers
from altakit.ingestion.order import SeriesBlocks
from altakit.ingestion.schema import RESCUED, Field, Plan, Schema, cast, infer, normalize_nulls
from altakit.ingestion.spill import Spill

if TYPE_CHECKING:
    import polars as pl

    from altakit.ingestion.job import IngestSpec

#: Called with the observed schema; returns the policy's plan (or raises to stop the ingest).
Decide = Callable[[Schema], Plan]
#: Memory the local engine aims to stay within (bytes); beyond it, typed rows spill to disk.
MEMORY_BUDGET = 1024**3
#: Cleaning holds up to about this many copies of the typed rows (sorting, steps): the rows held
#: in memory are at most ``MEMORY_BUDGET / COPIES``, and so is each spilled bucket (with room).
COPIES = 4
#: At most this many spill buckets (files open at once).
MAX_BUCKETS = 256
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
        spilled: Cleaned buckets on disk (large inputs with a series key), written by :meth:`data`.
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

    @property
    def rows_out(self) -> int:
        """Rows the commit adds."""
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
        fits = old is not None and (old.type == "string" or (tname, old.type) in _SAFE)
        out[col] = old.type if fits and old is not None else tname
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

    def learn(self, df: pl.DataFrame) -> None:
        """Infer types of columns not seen before and (re)decide the schema plan."""
        new = [c for c in df.columns if not c.startswith("_") and c not in self.types]
        if not new and self.plan is not None:
            return
        wanted = {c: f for c, f in self.spec.datetime_columns().items() if c in new}
        types, dts = infer(
            df.select(new), datetimes=wanted, tz=self.spec.tz, threshold=self.spec.infer_threshold
        )
        for col, tname in reconcile(types, self.approved).items():
            self.types[col] = tname
            self.nullable[col] = df.get_column(col).null_count() > 0
            if tname.startswith("datetime") and df.schema[col] == _string():
                self.datetimes[col] = dts.get(col)
        observed = Schema([Field(c, t, self.nullable[c]) for c, t in self.types.items()])
        self.plan = self.decide(observed)

    def apply(self, df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Type one block: ``(typed rows, quarantine rows)``.

        Once every column is known, text blocks take :func:`~altakit.ingestion.fastcast.fast_cast`,
        which gives the same rows as normalizing and casting here.
        """
        known = self.plan is not None and all(c.startswith("_") or c in self.types for c in df.columns)
        if not known:
            df = normalize_nulls(df)
            self.learn(df)
        plan = self.plan
        assert plan is not None
        df = df.drop([c for c in plan.drop if c in df.columns])
        target = {f.name: f.type for f in plan.target.fields if f.name != RESCUED}
        types = {
            c: target.get(c, t) for c, t in self.types.items() if c in df.columns and c not in plan.rescue
        }
        dts = {c: self.datetimes.get(c) for c, t in types.items() if t.startswith("datetime")}
        rescue = [c for c in plan.rescue if c in df.columns] if plan.target.get(RESCUED) else None
        if known and rescue is None and fastcast.supported(df, types, dts):
            return fastcast.fast_cast(
                df, types, dts, tz=self.spec.tz, source_tz=self.spec.source_tz, formats=self.formats
            )
        if known:
            df = normalize_nulls(df)
        return cast(df, types, datetimes=dts, tz=self.spec.tz, source_tz=self.spec.source_tz, rescue=rescue)


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
    """Run the spec's cleaning steps over typed rows (``presorted``: in series order already)."""
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


def clean_in_parts(
    frame: pl.DataFrame,
    spec: IngestSpec,
    reject: Callable[[pl.DataFrame, str], None],
    *,
    parts: int = 2,
    min_rows: int = 1_000_000,
) -> tuple[pl.DataFrame, list[clean.StepReport]]:
    """:func:`clean_frame` over series-ordered rows, cut into ``parts`` runs of whole series, on threads.

    Every step looks within one series only, so cleaning runs of whole series apart and joining
    them in order gives the same rows; reports are added up and rejected rows handed on in order.
    Rows need the :data:`~altakit.ingestion.clean.SERIES` numbering (:meth:`.SeriesBlocks.frame`);
    without it, or below ``min_rows``, the frame is cleaned in one piece.
    """
    from concurrent.futures import ThreadPoolExecutor

    import polars as pl

    if not spec.steps or clean.SERIES not in frame.columns or frame.height < max(2, min_rows):
        return clean_frame(frame, spec, reject, presorted=True)
    sid = frame.get_column(clean.SERIES)
    cuts = sorted(
        {int(sid.search_sorted(sid[frame.height * k // parts], side="left")) for k in range(1, parts)} - {0}
    )
    if not cuts:
        return clean_frame(frame, spec, reject, presorted=True)
    bounds = list(zip([0, *cuts], [*cuts, frame.height], strict=True))
    rejected: list[list[tuple[pl.DataFrame, str]]] = [[] for _ in bounds]

    def run(k: int) -> tuple[pl.DataFrame, list[clean.StepReport]]:
        a, b = bounds[k]
        return clean_frame(
            frame.slice(a, b - a), spec, lambda rows, why: rejected[k].append((rows, why)), presorted=True
        )

    with ThreadPoolExecutor(len(bounds), thread_name_prefix="altakit-clean") as pool:
        done = list(pool.map(run, range(len(bounds))))
    for rows_why in rejected:
        for rows, why in rows_why:
            reject(rows, why)
    out = pl.concat([f for f, _ in done], how="vertical_relaxed", rechunk=False)
    return out, clean.merge_reports([steps for _, steps in done])


def _series_blocks(spec: IngestSpec) -> SeriesBlocks:
    """Where typed blocks wait: put into series order when there are steps to clean them."""
    return SeriesBlocks(clean.Context(time=spec.time, by=list(spec.by)) if spec.steps else clean.Context())


def conform(frame: pl.DataFrame, target: Schema) -> pl.DataFrame:
    """Select the target schema's columns in order; missing ones become typed nulls."""
    import polars as pl

    dtypes = target.polars()
    return frame.select(
        (pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)) for c, t in dtypes.items()
    )


def process(
    files: Sequence[readers.SourceFile],
    spec: IngestSpec,
    decide: Decide,
    approved: Schema | None,
    *,
    memory_budget: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Processed:
    """Read, type and clean ``files`` (see the module docstring).

    ``memory_budget`` (bytes, default :data:`MEMORY_BUDGET`) bounds the typed rows held in memory
    (a :data:`COPIES` th of it); ``progress(rows_read, estimated_total_rows)`` is called after every
    block read.
    """
    q = quarantine.Quarantine()
    typing = Typing(spec, approved, decide)
    blocks = _series_blocks(spec)
    rows_in = blank = held = 0
    options = spec.read_options()
    # where a row came from matters only to steps that may still quarantine it; otherwise free it early
    keep_position = any(step.get("action") == "quarantine" for step in spec.steps)
    total = sum(f.path.stat().st_size for f in files)
    limit = (MEMORY_BUDGET if memory_budget is None else memory_budget) // COPIES
    spill: Spill | None = None
    per_byte: float | None = None  # rows per input byte, from the first block: the estimate's basis
    for src, batch in readers.read_ahead(files, options):
        rows_in += batch.data.height + batch.bad.height
        if per_byte is None and rows_in:
            per_byte = rows_in / max(1, min(options.block_bytes, src.path.stat().st_size))
        estimate = max(rows_in, round(total * per_byte)) if per_byte else rows_in
        if progress is not None:
            progress(rows_in, estimate if per_byte else None)
        blank += batch.blank_lines
        q.add(batch.bad)
        if batch.data.height == 0 and not batch.data.columns[2:]:
            continue
        typed, bad = typing.apply(batch.data)
        q.add(bad)
        typed = typed if keep_position else typed.drop("_source", "_line")
        held += typed.estimated_size()
        if spill is None and spec.by and held > limit:
            # over the budget: bucket by series on disk, so each bucket cleans within it
            spill = Spill(spec.by, min(MAX_BUCKETS, -(-2 * held * estimate // max(1, rows_in * limit))))
            for part in blocks.take():
                spill.add(part)
        if spill is not None:
            spill.add(typed)
        else:
            blocks.add(typed)
    if typing.plan is None:
        if spill is not None:
            spill.cleanup()
        raise IngestError("the input holds no columns", hint="check the file and its format")
    data_cols = [c for c in typing.types if not c.startswith("_")]

    def reject(rows: pl.DataFrame, reason: str) -> None:
        q.add(quarantine.from_frame(rows, reason, data_cols))

    target = typing.plan.target
    if spill is None:
        frame = blocks.frame(number=clean.SERIES)
        rows_typed = frame.height
        frame, steps = clean_in_parts(frame, spec, reject)
        out = Processed(conform(frame, target), q, rows_in, 0, blank, steps, typing.plan, dict(typing.types))
    else:
        rows_typed, steps, cleaned = _clean_spilled(spill, spec, target, reject)
        out = Processed(None, q, rows_in, 0, blank, steps, typing.plan, dict(typing.types), cleaned, spill)
    out.rows_written = rows_typed - sum(int(s.detail.get("rows_quarantined", 0)) for s in steps)
    if rows_in != out.rows_written + q.count:
        out.close()
        raise IngestError(
            f"row accounting broke: {rows_in} in, {out.rows_written} written, {q.count} quarantined",
            hint="this is a bug in altakit; please report it with the input",
        )
    return out


def _clean_spilled(
    spill: Spill, spec: IngestSpec, target: Schema, reject: Callable[[pl.DataFrame, str], None]
) -> tuple[int, list[clean.StepReport], list[Path]]:
    """Clean each bucket alone; memory is bounded by the largest bucket, not the input.

    A bucket whose pieces each hold one series is put in series order piece by piece, as the
    in-memory path does (no sort), and cleaned in parts; one that mixes series is sorted.
    """
    rows, reports, outputs = 0, [], []
    for k, bucket in enumerate(spill.buckets()):
        pieces = bucket.series()
        if spec.steps and pieces is not None:
            blocks = _series_blocks(spec)
            for key, piece in pieces:
                blocks.put(key, piece)
            frame = blocks.frame(number=clean.SERIES)
        else:
            keys = all(c in bucket.frame.columns for c in [spec.time, *spec.by] if c)
            ctx = clean.Context(time=spec.time, by=list(spec.by))
            frame = clean.sort_series(bucket.frame, ctx) if spec.steps and keys else bucket.frame
        del bucket, pieces
        rows += frame.height
        frame, steps = clean_in_parts(frame, spec, reject)
        reports.append(steps)
        out = Path(spill.folder.name) / f"clean-{k}.parquet"
        conform(frame, target).write_parquet(out, compression="lz4")
        outputs.append(out)
        del frame
    return rows, clean.merge_reports(reports), outputs
