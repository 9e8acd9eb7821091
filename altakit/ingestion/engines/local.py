"""The local engine: read, type and clean on one machine with polars.

Each source file is read in blocks (:mod:`altakit.ingestion.readers`); every
block is typed by a :class:`~._shared.Typing` (types are inferred once, from the
first block where a column appears, and the schema policy is decided then), so
later blocks are cast without looking back. Rows that fail to read or to cast go
to quarantine. Cleaning (:mod:`altakit.ingestion.clean`) looks along whole
series (resampling, outliers, gaps), so the typed rows are held in memory and
cleaned as one frame, as long as they fit a share of the memory budget
(:data:`MEMORY_BUDGET` / :data:`COPIES`, measured on the typed blocks, not
guessed from the input's size); they wait in series order
(:class:`~altakit.ingestion.order.SeriesBlocks`), so no whole-input sort is
needed, and two runs of whole series are cleaned on two threads
(:func:`clean_in_parts`). Past the budget, with a series key (``by``), they
spill to disk in series buckets (:mod:`altakit.ingestion.spill`; one series
never spans two buckets, and the bucket count follows the estimated input so
that a bucket fits the same share), then each bucket is cleaned alone and the
cleaned buckets stream into the Delta commit. Peak memory then follows the
budget, not the input, as long as one series fits it. Without a series key the
whole input is one series and is cleaned in memory.

Typing, cleaning and the result (:mod:`._shared`) are the ones the Spark engine
uses too, so both engines produce the same table. This module is an
:class:`~altakit.ingestion.engine.Engine` (its :func:`process`), registered as ``local``.

Example:
    >>> out = process(files, spec, decide, approved=None)  # doctest: +SKIP
    >>> out.rows_in == out.rows_written + out.quarantine.count  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from altakit.datasets.internal import is_internal
from altakit.errors import IngestError
from altakit.ingestion import clean, quarantine, readers
from altakit.ingestion.engine import Sink
from altakit.ingestion.engines._shared import Decide, Processed, Typing, clean_frame
from altakit.ingestion.order import SeriesBlocks
from altakit.ingestion.schema import Schema
from altakit.ingestion.spill import Spill

if TYPE_CHECKING:
    import polars as pl

    from altakit.ingestion.sources import SourceFile
    from altakit.ingestion.spec import IngestSpec

__all__ = ["COPIES", "MAX_BUCKETS", "MEMORY_BUDGET", "clean_frame", "clean_in_parts", "process"]

#: Memory the local engine aims to stay within (bytes); beyond it, typed rows spill to disk.
MEMORY_BUDGET = 1024**3
#: Cleaning holds up to about this many copies of the typed rows (sorting, steps): the rows held
#: in memory are at most ``MEMORY_BUDGET / COPIES``, and so is each spilled bucket (with room).
COPIES = 4
#: At most this many spill buckets (files open at once).
MAX_BUCKETS = 256


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


def process(
    files: Sequence[SourceFile],
    spec: IngestSpec,
    decide: Decide,
    approved: Schema | None,
    *,
    memory_budget: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    sink: Sink | None = None,
) -> Processed:
    """Read, type and clean ``files`` (see the module docstring); the job writes the rows (``sink`` unused).

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
            per_byte = rows_in / max(1, batch.nbytes or min(options.block_bytes, src.path.stat().st_size))
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
        held += int(typed.estimated_size())
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
    data_cols = [c for c in typing.types if not is_internal(c)]

    def reject(rows: pl.DataFrame, reason: str) -> None:
        q.add(quarantine.from_frame(rows, reason, data_cols))

    target = typing.plan.target
    if spill is None:
        frame = blocks.frame(number=clean.SERIES)
        rows_typed = frame.height
        frame, steps = clean_in_parts(frame, spec, reject)
        out = Processed(target.conform(frame), q, rows_in, 0, blank, steps, typing.plan, dict(typing.types))
    else:
        rows_typed, steps, cleaned = _clean_spilled(spill, spec, target, reject)
        out = Processed(None, q, rows_in, 0, blank, steps, typing.plan, dict(typing.types), cleaned, spill)
    out.datetimes = dict(typing.datetimes)
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
        target.conform(frame).write_parquet(out, compression="lz4")
        outputs.append(out)
        del frame
    return rows, clean.merge_reports(reports), outputs
