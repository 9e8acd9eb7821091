"""The Spark engine: the same spec on Spark (local mode, a standalone cluster, or Spark Connect).

The driver reads the first block of every source file to infer the types and
decide the schema policy, exactly as the local engine does, then fixes them.
Of a big CSV store key the driver holds only the first blocks
(:data:`READS_STORE`): the executors read the sources themselves. Then two
stages of tasks (:mod:`.spark_tasks`), each a ``mapInArrow`` whose tasks read
and write Parquet themselves and hand the driver small meta rows only — no data
row passes through Spark's JVM or the driver:

1. one task per source file fetches it from the store with the store's own
   client (:func:`~altakit.ingestion.sources.fetch`; a local path is read where
   it is: on a cluster, a shared filesystem), hashes it for the record, reads,
   types and quarantines it with the local engine's code
   (:class:`~._shared.Typing`), and writes its typed rows as one *spill* file per
   bucket of series into the table's folder. Spark cannot widen a column after
   planning: a later value that needs a wider type (``3.5`` in a column of
   integers) is quarantined, where the local engine widens the column;
2. one task per bucket cleans its series with :func:`~._shared.clean_frame` as
   the local engine does, from the spill files of the winning read attempts, and
   writes the table's and the quarantine's Parquet files
   (:mod:`altakit.datasets.delta_files`); the job commits each table in one
   transaction, then sweeps what no commit lists (spill files, a retried or
   killed attempt's). Both engines produce the same table for the same input.

An :class:`~altakit.errors.AltakitError` raised in a task (``AmbiguousValues`` …)
comes back to the caller as that typed error, not as a Spark exception.
Bytes handed to ``ingest`` (not a path or store key) stay on the driver's disk:
on a cluster, store them first (the dashboards do). This module is an
:class:`~altakit.ingestion.engine.Engine` (its :func:`process`), registered as
``spark``; pyspark is imported only when a session starts.

Example:
    >>> report = altakit.ingest("raw/*.csv", "sensors", spec, store=store, engine="spark")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from altakit.errors import IngestError
from altakit.ingestion import clean, readers
from altakit.ingestion.engine import Sink
from altakit.ingestion.engines import spark_tasks as tasks
from altakit.ingestion.engines._shared import Decide, Processed, Typing
from altakit.ingestion.engines.spark_session import CONNECT_RETRY, session, stop_all, unavailable
from altakit.ingestion.quarantine import Quarantine
from altakit.ingestion.schema import Plan, Schema, normalize_nulls
from altakit.ingestion.sources import SourceFile

if TYPE_CHECKING:
    from altakit.datasets.delta_files import DataFile
    from altakit.ingestion.spec import IngestSpec

#: The executors fetch store sources themselves: the job copies only a sample of each to the driver.
READS_STORE = True

__all__ = ["CONNECT_RETRY", "FAULT_POINTS", "READS_STORE", "WRITES_FILES", "process", "session", "stop_all"]

#: The tasks write the table's files (the job hands :func:`process` a sink and commits them).
WRITES_FILES = True
#: Points where a test kills a task attempt (the Python worker): before and after it wrote its files.
FAULT_POINTS = ("spark.task_writing", "spark.task_written")


def process(
    files: Sequence[SourceFile],
    spec: IngestSpec,
    decide: Decide,
    approved: Schema | None,
    *,
    progress: Callable[[int, int | None], None] | None = None,
    sink: Sink | None = None,
) -> Processed:
    """Read, type and clean ``files`` on Spark (see the module docstring).

    ``progress`` is called once, when both stages are done (the tasks report nothing finer).
    The tasks write the table's and the quarantine's Parquet files into the ``sink``'s folders
    and the driver gets their add actions and counts only.

    Raises:
        ServiceUnavailable: The Spark Connect server does not answer (also mid-run, after retries).
        IngestError: No sink was given (the job always gives one), or a task's typed error.
    """
    with unavailable(spec.spark_master or "local[2]"):
        return _process(files, spec, decide, approved, progress, sink)


def _process(
    files: Sequence[SourceFile],
    spec: IngestSpec,
    decide: Decide,
    approved: Schema | None,
    progress: Callable[[int, int | None], None] | None,
    sink: Sink | None = None,
) -> Processed:
    if sink is None:
        raise IngestError("the Spark engine writes through the job's sink", hint="run it with altakit.ingest")
    typing = Typing(spec, approved, decide)
    options = spec.read_options()
    for frame in _first_blocks(files, options):  # types and the schema plan, from each file's first block
        typing.learn(frame)
    if typing.plan is None:
        raise IngestError("the input holds no columns", hint="check the file and its format")
    plan = typing.plan
    target = {f.name: f.dtype for f in plan.target.fields}
    typed_cols = {
        c: target.get(c, t) for c, t in typing.types.items() if c not in plan.drop and c not in plan.rescue
    }
    if plan.target.get("_rescued_data"):
        typed_cols["_rescued_data"] = "string"
    state = (
        spec,
        approved,
        plan,
        dict(typing.types),
        dict(typing.nullable),
        dict(typing.datetimes),
        set(typing.ordered),
    )
    stores = {f.stored.url: f.stored.store for f in files if f.stored is not None}
    spark = session(spec.spark_master)
    from pyspark.sql.pandas.types import from_arrow_schema

    meta = from_arrow_schema(tasks.meta_schema())
    buckets = _buckets(spark, files) if spec.by else 1
    listing = spark.createDataFrame(
        [tasks.listing_row(i, f) for i, f in enumerate(files)],
        ", ".join(f"{c} {t}" for c, t in tasks.LISTING.items()),
    ).repartition(max(1, len(files)))
    read = listing.mapInArrow(
        lambda b: tasks.read_task(b, state, stores, sink, typed_cols, buckets), meta
    ).collect()
    result = _Result()
    spills = result.add(read)
    _checksums(files, result.hashes)
    if spills:
        keyed = [(b, json.dumps([p for _, p in sorted(spills[b])])) for b in sorted(spills)]
        jobs = spark.createDataFrame(keyed, "bucket long, paths string").repartition(len(keyed))
        write = lambda b: tasks.write_task(b, spec, plan, sink, typed_cols, target)  # noqa: E731
        result.add(jobs.mapInArrow(write, meta).collect(), cleaning=True)
    return _account(result, plan, typing, progress)


#: Source bytes per bucket of series, at most (a bucket's rows are cleaned in one task's memory).
BUCKET_BYTES = 256 * 1024 * 1024


def _buckets(spark: Any, files: Sequence[SourceFile]) -> int:
    """Buckets of series: Spark's shuffle partitions, more for a big input (:data:`BUCKET_BYTES`)."""
    total = sum(f.size for f in files)
    return max(2, int(spark.conf.get("spark.sql.shuffle.partitions") or 4), -(-total // BUCKET_BYTES))


def _first_blocks(files: Sequence[SourceFile], options: Any, ahead: int = 2) -> Iterator[Any]:
    """Each file's first block with data (nulls normalised), in file order; read ``ahead`` at a time
    on threads (polars parses without the GIL), so at most that many blocks are held."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    def first(src: SourceFile) -> Any:
        for batch in readers.read_file(replace(src, stored=None), options):  # a sample may be all it has
            return normalize_nulls(batch.data) if batch.data.columns[2:] else None
        return None

    with ThreadPoolExecutor(ahead, thread_name_prefix="altakit-sample") as pool:
        pending: deque[Any] = deque()
        for i, src in enumerate([*files, *[None] * ahead]):
            if src is not None:
                pending.append(pool.submit(first, src))
            ready = pending.popleft().result() if pending and (i >= ahead - 1 or src is None) else None
            if ready is not None:
                yield ready


@dataclass
class _Result:
    """What the tasks reported (their meta rows), added up."""

    counts: dict[str, int] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    files: list[DataFile] = field(default_factory=list)
    quarantine_files: list[DataFile] = field(default_factory=list)
    quarantine: Quarantine = field(default_factory=Quarantine)
    step_bad: int = 0
    spilled: int = 0
    steps: list[list[clean.StepReport]] = field(default_factory=list)

    def add(self, rows: list[Any], *, cleaning: bool = False) -> dict[int, list[tuple[int, str]]]:
        """Add the meta rows of one stage; returns its spill files: bucket → ``[(source order, path)]``.

        Raises:
            AltakitError: The first typed error a task reported.
        """
        from altakit.datasets import delta_files

        spills: dict[int, list[tuple[int, str]]] = {}
        for kind, raw, n in ((r[0], r[1], int(r[2] or 0)) for r in rows):
            if kind == "e":
                raise tasks.load(raw)
            if kind == "c":
                for k, v in json.loads(raw).items():
                    self.counts[k] = self.counts.get(k, 0) + v
            elif kind == "h":
                name, digest = json.loads(raw)
                self.hashes[name] = digest
            elif kind == "p":
                self.spilled += n
                doc = json.loads(raw)
                spills.setdefault(doc["bucket"], []).append((doc["order"], doc["path"]))
            elif kind == "f":
                self.files.append(delta_files.DataFile.from_json(raw))
            elif kind == "g":
                doc = json.loads(raw)
                self.quarantine_files.append(delta_files.DataFile.from_json(doc["file"]))
                self.quarantine.add_written(doc["reasons"])
                self.step_bad += n if cleaning else 0
            elif kind == "s":
                self.steps.append([clean.StepReport(**d) for d in json.loads(raw)])
        return spills


def _checksums(files: Sequence[SourceFile], reported: dict[str, str]) -> None:
    """Give each sampled store source the SHA-256 its reading task computed (checked against the store's)."""
    for f in files:
        if f.stored is None or f.stored.whole or not isinstance(f.digest, Future) or f.digest.done():
            continue
        full = reported.get(f.name, "")
        if not full.startswith(f.stored.checksum):
            raise IngestError(
                f"{f.name}: the bytes read on Spark are not the version the ingest resolved",
                source=f.name,
                hint="this is a bug in altakit, or the store's bytes are damaged: run altakit catalog check",
            )
        f.digest.set_result(full)


def _account(
    result: _Result, plan: Plan, typing: Typing, progress: Callable[[int, int | None], None] | None
) -> Processed:
    """The :class:`Processed` of the run, its row accounting checked (nothing is guessed)."""
    c = result.counts
    typed_rows, reader_bad, typing_bad, kept = c.get("rows", 0), c.get("r", 0), c.get("q", 0), c.get("d", 0)
    rows_in = typed_rows + reader_bad
    rows_written = kept - result.step_bad
    quarantined = result.quarantine.count
    if typed_rows != kept + typing_bad or rows_in != rows_written + quarantined or result.spilled != kept:
        raise IngestError(
            f"row accounting broke on Spark: {rows_in} read, {rows_written} written, "
            f"{quarantined} quarantined, {result.spilled} of {kept} typed rows spilled",
            hint="this is a bug in altakit; please report it with the input",
        )
    if progress is not None:
        progress(rows_in, rows_in)
    return Processed(
        None,
        result.quarantine,
        rows_in,
        rows_written,
        c.get("blank", 0),
        clean.merge_reports(result.steps),
        plan,
        dict(typing.types),
        datetimes=dict(typing.datetimes),
        files=result.files,
        quarantine_files=result.quarantine_files,
    )
