"""The Spark engine: the same spec on Spark (local mode here; Spark Connect or a cluster in production).

The driver reads the first block of every source file to infer the types and
decide the schema policy, exactly as the local engine does, then fixes them.
Of a big CSV or NDJSON store key the driver holds only the first blocks
(:data:`READS_STORE`): the executors read the sources themselves.
Spark does the rest, with data moving as Arrow record batches:

1. ``mapInArrow`` over the source files: each task fetches one file from the
   store with the store's own client (:func:`~altakit.ingestion.sources.fetch`;
   a local path is read where it is: on a cluster, a shared filesystem), hashes
   it for the record, and reads, types and quarantines it with the code the local
   engine runs (:class:`~._shared.Typing`).
   Spark cannot widen a column after planning (the tasks' output schema is fixed
   by then): a later value that needs a wider type (``3.5`` in a column of
   integers) is quarantined, where the local engine widens the column;
2. ``groupBy(<series key>).applyInArrow``: each task cleans whole series with
   the shared :func:`~._shared.clean_frame`;
3. given the job's :class:`~._shared.Sink` (an ingest always gives one), the
   same tasks write the cleaned rows, and the rejected ones, as Parquet files
   straight into the Delta table's folder (:mod:`altakit.datasets.delta_files`)
   and hand the driver only add actions and counts; the job commits each table
   in one transaction. A killed or retried task attempt's files are listed by
   no collected result: they are swept. Without a sink the rows come back to
   the driver as Arrow and the job writes them. Both engines produce the same
   table for the same input.

An :class:`~altakit.errors.AltakitError` raised in a task (``AmbiguousValues`` …)
comes back to the caller as that typed error, not as a Spark exception.
Bytes handed to ``ingest`` (not a path or store key) stay on the driver's disk:
on a cluster, store them first (the dashboards do). No data row travels to the
driver when it writes through the sink. This module is an
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

from altakit import errors, faults
from altakit.datasets.internal import is_internal
from altakit.errors import AltakitError, IngestError
from altakit.ingestion import clean, quarantine, readers, sources
from altakit.ingestion.engine import Sink
from altakit.ingestion.engines._shared import Decide, Processed, Typing, clean_frame
from altakit.ingestion.engines.spark_session import CONNECT_RETRY, session, stop_all, unavailable
from altakit.ingestion.quarantine import Quarantine
from altakit.ingestion.schema import Plan, Schema, dtype_of, normalize_nulls
from altakit.ingestion.sources import SourceFile

if TYPE_CHECKING:
    import pyarrow as pa

    from altakit.datasets.delta_files import DataFile
    from altakit.ingestion.spec import IngestSpec

#: The executors fetch store sources themselves: the job copies only a sample of each to the driver.
READS_STORE = True

__all__ = ["CONNECT_RETRY", "FAULT_POINTS", "READS_STORE", "WRITES_FILES", "process", "session", "stop_all"]

_KIND = "_kind"
#: The tasks write the table's files (the job hands :func:`process` a sink and commits them).
WRITES_FILES = True
#: Points where a test kills a task attempt (the Python worker): before and after it wrote its files.
FAULT_POINTS = ("spark.task_writing", "spark.task_written")


def _arrow_type(tname: str) -> pa.DataType:
    import pyarrow as pa

    if tname.startswith("datetime"):
        tz = tname[len("datetime[") : -1].partition(", ")[2] or None
        return pa.timestamp("us", tz=tz)
    return {
        "string": pa.string(), "bool": pa.bool_(), "date": pa.date32(), "float64": pa.float64(),
        "float32": pa.float32(), "int64": pa.int64(), "int32": pa.int32(), "int16": pa.int16(),
        "int8": pa.int8(),
    }.get(tname, pa.string())  # fmt: skip


def _schema(types: dict[str, str]) -> pa.Schema:
    import pyarrow as pa

    fields = [
        pa.field(_KIND, pa.string()),
        pa.field("_source", pa.string()),
        pa.field("_line", pa.int64()),
        pa.field("_reason", pa.string()),
        pa.field("_raw", pa.string()),
    ]
    return pa.schema(fields + [pa.field(c, _arrow_type(t)) for c, t in types.items()])


def _to_batches(frame: Any, kind: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    import polars as pl

    frame = frame.with_columns(pl.lit(kind).alias(_KIND))
    missing = [f for f in schema if f.name not in frame.columns]
    frame = frame.with_columns(pl.lit(None).alias(f.name) for f in missing)
    table = frame.select(schema.names).to_arrow().cast(schema)
    yield from table.to_batches()


#: A source file as the driver hands it to a reading task: one row each.
_LISTING = {
    "name": "string", "path": "string", "checksum": "string", "size": "long", "given": "string",
    "url": "string", "key": "string", "version": "string", "sha128": "string", "whole": "boolean",
}  # fmt: skip


def _row(f: SourceFile) -> tuple[Any, ...]:
    st = f.stored
    checksum = f.digest if isinstance(f.digest, str) else ("" if st is not None else f.checksum)
    where = (st.url, st.key, st.version, st.checksum, st.whole) if st else (None, None, None, None, None)
    return (f.name, str(f.path), checksum, f.size, f.given, *where)


def _source(row: dict[str, Any], stores: dict[str, Any]) -> SourceFile:
    """The :class:`SourceFile` a listing row (:func:`_row`) describes, on the task's side.

    ``stores``: the sources' stores by URL (pickled with the task: no connection travels).
    """
    from pathlib import Path

    stored = None
    if row["url"] is not None:
        url = row["url"]
        stored = sources.Stored(url, row["key"], row["version"], row["sha128"], row["whole"], stores[url])
    origin = "store" if stored is not None else "path"
    return SourceFile(
        row["name"], Path(row["path"]), row["checksum"], row["size"], origin=origin, given=row["given"] or "",
        stored=stored,
    )  # fmt: skip


def _checksums(files: Sequence[SourceFile], reported: list[Any]) -> None:
    """Give each sampled store source the SHA-256 its reading task computed (checked against the store's)."""
    digests = dict(reported)
    for f in files:
        if f.stored is None or f.stored.whole or not isinstance(f.digest, Future) or f.digest.done():
            continue
        full = digests.get(f.name, "")
        if not full.startswith(f.stored.checksum):
            raise IngestError(
                f"{f.name}: the bytes read on Spark are not the version the ingest resolved",
                source=f.name,
                hint="this is a bug in altakit, or the store's bytes are damaged: run altakit catalog check",
            )
        f.digest.set_result(full)


def _dump(exc: AltakitError) -> str:
    """An error raised in a Spark task, as JSON text for the driver (:func:`_load`)."""
    return json.dumps(
        {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint, "fields": exc.fields},
        default=str,
    )


def _load(text: str) -> AltakitError:
    """The typed error a Spark task raised (its class from :mod:`altakit.errors`; else an IngestError)."""
    doc = json.loads(text)
    cls = getattr(errors, doc["type"], None)
    if not (isinstance(cls, type) and issubclass(cls, AltakitError)):
        cls = IngestError
    return cls(doc["message"], hint=doc["hint"], **doc["fields"])


def _fixed(plan: Plan) -> Decide:
    def decide(observed: Schema) -> Plan:
        raise IngestError(
            "a later part of the input has columns the first block lacked",
            columns=observed.names,
            hint="ingest it with the local engine, or split the input by layout",
        )

    return decide


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

    ``progress`` is called once, when Spark has read every row (its tasks report nothing finer).
    With a ``sink``, the tasks write the table's and the quarantine's Parquet files themselves
    and the driver gets their add actions and counts only (:func:`_written`).

    Raises:
        ServiceUnavailable: The Spark Connect server does not answer (also mid-run, after retries).
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
    import polars as pl

    typing = Typing(spec, approved, decide)
    options = spec.read_options()
    for src in files:  # the driver decides types and the schema plan from each file's first block
        for batch in readers.read_file(replace(src, stored=None), options):  # a sample may be all it has
            if batch.data.columns[2:]:
                typing.learn(normalize_nulls(batch.data))
            break
    if typing.plan is None:
        raise IngestError("the input holds no columns", hint="check the file and its format")
    plan = typing.plan
    target = {f.name: f.dtype for f in plan.target.fields}
    typed_cols = {
        c: target.get(c, t) for c, t in typing.types.items() if c not in plan.drop and c not in plan.rescue
    }
    if plan.target.get("_rescued_data"):
        typed_cols["_rescued_data"] = "string"
    schema = _schema(typed_cols)
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

    spark_schema = from_arrow_schema(schema)

    def read_task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        s_spec, s_approved, s_plan, types, nullable, datetimes, ordered = state
        worker = Typing(s_spec, s_approved, _fixed(s_plan))
        worker.types, worker.nullable, worker.datetimes, worker.plan = types, nullable, datetimes, s_plan
        # the plan is fixed: a value that needs a wider type is quarantined, never widened
        worker.ordered, worker.widen = ordered, False
        try:
            yield from read_files(worker, batches)
        except AltakitError as exc:  # to the driver as data, so the caller gets the typed error
            yield from _to_batches(pl.DataFrame({"_raw": [_dump(exc)]}), "e", schema)

    def read_files(worker: Typing, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import tempfile
        from pathlib import Path

        for rb in batches:
            for row in rb.to_pylist():
                with tempfile.TemporaryDirectory(prefix="altakit-task-") as work:
                    yield from read_one(worker, _source(row, stores), Path(work))

    def read_one(worker: Typing, src: SourceFile, work: Any) -> Iterator[pa.RecordBatch]:
        s_spec = worker.spec
        if src.stored is not None:
            src = sources.fetch(src, work, s_spec.unpack_limits())
            digest = pl.DataFrame({"_source": [src.name], "_raw": [src.checksum]})
            yield from _to_batches(digest, "h", schema)  # the record's checksum, from the bytes read
        for batch in readers.read_file(src, s_spec.read_options()):
            yield from _to_batches(batch.bad, "r", schema)
            counted = pl.DataFrame(
                {"_line": [batch.data.height], "_raw": [str(batch.blank_lines)]},
                schema={"_line": pl.Int64, "_raw": pl.String},
            )
            yield from _to_batches(counted, "n", schema)  # rows read, for the accounting
            if batch.data.columns[2:]:
                typed, bad = worker.apply(batch.data)
                yield from _to_batches(bad, "q", schema)
                yield from _to_batches(typed, "d", schema)

    import pyarrow.compute as pc

    listing = spark.createDataFrame(
        [_row(f) for f in files], ", ".join(f"{c} {t}" for c, t in _LISTING.items())
    ).repartition(max(1, len(files)))
    read = listing.mapInArrow(read_task, spark_schema).cache()
    try:
        counts = {k: n for k, n in read.groupBy(_KIND).count().collect()}
        if counts.get("e"):
            raise _load(read.filter(f"{_KIND} = 'e'").select("_raw").first()[0])
        if counts.get("h"):
            _checksums(files, read.filter(f"{_KIND} = 'h'").select("_source", "_raw").collect())
        markers = read.filter(f"{_KIND} = 'n'").select("_line", "_raw").collect()
        typed_rows = sum(int(m[0]) for m in markers)
        blank = sum(int(m[1]) for m in markers)
        data = read.filter(f"{_KIND} = 'd'")
        data_cols = [c for c in typed_cols if not is_internal(c)]

        def clean_task(table: pa.Table) -> pa.Table:

            import pyarrow as pa

            arrived = pl.from_arrow(table)
            assert isinstance(arrived, pl.DataFrame)
            frame = arrived.drop(_KIND, "_reason", "_raw")
            rejected: list[Any] = []

            def reject(rows: Any, reason: str) -> None:
                rejected.append(quarantine.from_frame(rows, reason, data_cols))

            try:
                frame, steps = clean_frame(frame, state[0], reject)
            except AltakitError as exc:
                info = pl.DataFrame({"_raw": [_dump(exc)]})
                return pa.Table.from_batches(list(_to_batches(info, "e", schema)), schema=schema)
            out = list(_to_batches(frame, "d", schema))
            for part in rejected:
                out.extend(_to_batches(part, "o", schema))
            info = pl.DataFrame({"_raw": [json.dumps([s.to_dict() for s in steps])]})
            out.extend(_to_batches(info, "s", schema))
            return pa.Table.from_batches(out, schema=schema)

        keys = list(spec.by)
        if sink is not None:
            written = _written(read, data, counts, sink, state, target, keys, schema)
            return _account(written, counts, typed_rows, blank, plan, typing, progress)
        parts = [read.filter(f"{_KIND} IN ('r', 'q')").toArrow()]
        if counts.get("d"):
            grouped = data.groupBy(*keys) if keys else data.groupBy()
            parts.append(grouped.applyInArrow(clean_task, spark_schema).toArrow())
            errors = parts[-1].filter(pc.equal(parts[-1].column(_KIND), "e"))
            if errors.num_rows:
                raise _load(errors.column("_raw")[0].as_py())
    finally:
        read.unpersist()
    import pyarrow as pa

    result = pl.from_arrow(pa.concat_tables([p.cast(schema) for p in parts]))
    assert isinstance(result, pl.DataFrame)
    kind = pl.col(_KIND)
    q = Quarantine()
    q.add(result.filter(kind.is_in(["r", "q", "o"])).sort("_source", "_line").select(quarantine.COLUMNS))
    frame = result.filter(kind == "d").drop(_KIND, "_reason", "_raw", "_source", "_line")
    steps = clean.merge_reports(
        [
            [clean.StepReport(**d) for d in json.loads(doc)]
            for doc in result.filter(kind == "s").get_column("_raw")
        ]
    )
    reader_bad, typing_bad = int(counts.get("r", 0)), int(counts.get("q", 0))
    step_bad = int(result.filter(kind == "o").height)
    rows_in = typed_rows + reader_bad
    rows_written = int(counts.get("d", 0)) - step_bad
    if typed_rows != int(counts.get("d", 0)) + typing_bad:
        raise IngestError(
            f"row accounting broke on Spark: {typed_rows} typed, "
            f"{counts.get('d', 0)} kept, {typing_bad} rejected",
            hint="this is a bug in altakit; please report it with the input",
        )
    frame = frame.with_columns(pl.col(c).cast(dtype_of(t)) for c, t in target.items() if c in frame.columns)
    if progress is not None:
        progress(rows_in, rows_in)
    return Processed(
        plan.target.conform(frame),
        q,
        rows_in,
        rows_written,
        blank,
        steps,
        plan,
        dict(typing.types),
        datetimes=dict(typing.datetimes),
    )


@dataclass
class _Written:
    """What the writing tasks report: files, quarantine files and counts, steps."""

    files: list[DataFile] = field(default_factory=list)
    quarantine_files: list[DataFile] = field(default_factory=list)
    quarantine: Quarantine = field(default_factory=Quarantine)
    step_bad: int = 0
    steps: list[list[clean.StepReport]] = field(default_factory=list)


def _meta_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [pa.field(_KIND, pa.string()), pa.field("_raw", pa.string()), pa.field("_line", pa.int64())]
    )


def _meta(kind: str, raw: str, n: int = 0) -> pa.RecordBatch:
    import pyarrow as pa

    return pa.RecordBatch.from_pylist([{_KIND: kind, "_raw": raw, "_line": n}], schema=_meta_schema())


def _task_name(stage: str) -> str:
    """``<stage><partition>-a<attempt id>``: unique per task attempt (retried and speculative ones too)."""
    from pyspark import TaskContext

    ctx = TaskContext.get()
    return f"{stage}{ctx.partitionId()}-a{ctx.taskAttemptId()}" if ctx is not None else f"{stage}-driver"


def _quarantine_file(rows: Any, sink: Sink, task: str) -> pa.RecordBatch:
    """Write quarantine ``rows`` (source names as recorded, the ingest id) as one file: its meta row."""
    import polars as pl

    from altakit.datasets import delta_files, tables

    rows = rows.select(quarantine.COLUMNS).with_columns(
        pl.col("_source").replace(sink.names), pl.lit(sink.ingest_id).alias(tables.INGEST_COLUMN)
    )
    written = delta_files.write_file(sink.quarantine, rows.to_arrow(), sink.ingest_id, task)
    reasons = dict(quarantine.reason_counts(rows))
    return _meta("g", json.dumps({"file": written.to_json(), "reasons": reasons}), rows.height)


def _written(
    read: Any, data: Any, counts: dict[str, int], sink: Sink, state: tuple[Any, ...],
    target: dict[str, str], keys: list[str], schema: pa.Schema,
) -> _Written:  # fmt: skip
    """Run the writing tasks: the readers' quarantine rows, then cleaning and writing each series."""
    import polars as pl
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema

    from altakit.datasets import delta_files

    meta = from_arrow_schema(_meta_schema())
    data_cols = [c for c in schema.names if c not in (_KIND, "_source", "_line", "_reason", "_raw")]
    data_cols = [c for c in data_cols if not is_internal(c)]
    spec, plan = state[0], state[2]

    def write_rejected(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        frames = [
            f for f in (pl.from_arrow(rb) for rb in batches) if isinstance(f, pl.DataFrame) and f.height
        ]
        if frames:
            yield _quarantine_file(pl.concat(frames), sink, _task_name("q"))

    def write_series(table: pa.Table) -> pa.Table:
        arrived = pl.from_arrow(table)
        assert isinstance(arrived, pl.DataFrame)
        frame = arrived.drop(_KIND, "_reason", "_raw")
        rejected: list[Any] = []
        try:
            frame, steps = clean_frame(
                frame, spec, lambda rows, why: rejected.append(quarantine.from_frame(rows, why, data_cols))
            )
        except AltakitError as exc:
            return pa.Table.from_batches([_meta("e", _dump(exc))])
        task = _task_name("d")
        out = [_meta("s", json.dumps([s.to_dict() for s in steps]))]
        frame = frame.drop("_source", "_line", strict=False).with_columns(
            pl.col(c).cast(dtype_of(t)) for c, t in target.items() if c in frame.columns
        )
        frame = plan.target.conform(frame)
        if frame.height:
            faults.point("spark.task_writing")  # a task attempt killed here leaves no file
            out.append(
                _meta(
                    "f",
                    delta_files.write_file(sink.table, frame.to_arrow(), sink.ingest_id, task).to_json(),
                    frame.height,
                )
            )
        if rejected:
            out.append(_quarantine_file(pl.concat(rejected), sink, task))
        faults.point("spark.task_written")  # ... and one killed here a file no commit lists
        return pa.Table.from_batches(out, schema=_meta_schema())

    rows = []
    if counts.get("r") or counts.get("q"):
        rows += read.filter(f"{_KIND} IN ('r', 'q')").mapInArrow(write_rejected, meta).collect()
    cleaned = []
    if counts.get("d"):
        grouped = data.groupBy(*keys) if keys else data.groupBy()
        cleaned = grouped.applyInArrow(write_series, meta).collect()
    result = _Written()
    for row, from_cleaning in [(r, False) for r in rows] + [(r, True) for r in cleaned]:
        kind, raw, n = row[0], row[1], int(row[2] or 0)
        if kind == "e":
            raise _load(raw)
        if kind == "f":
            result.files.append(delta_files.DataFile.from_json(raw))
        elif kind == "g":
            doc = json.loads(raw)
            result.quarantine_files.append(delta_files.DataFile.from_json(doc["file"]))
            result.quarantine.add_written(doc["reasons"])
            result.step_bad += n if from_cleaning else 0
        elif kind == "s":
            result.steps.append([clean.StepReport(**d) for d in json.loads(raw)])
    return result


def _account(
    written: _Written, counts: dict[str, int], typed_rows: int, blank: int, plan: Plan, typing: Typing,
    progress: Callable[[int, int | None], None] | None,
) -> Processed:  # fmt: skip
    """The :class:`Processed` of a writing run, its row accounting checked (nothing is guessed)."""
    reader_bad, typing_bad = int(counts.get("r", 0)), int(counts.get("q", 0))
    rows_in = typed_rows + reader_bad
    rows_written = int(counts.get("d", 0)) - written.step_bad
    quarantined = written.quarantine.count
    if typed_rows != int(counts.get("d", 0)) + typing_bad or rows_in != rows_written + quarantined:
        raise IngestError(
            f"row accounting broke on Spark: {rows_in} read, "
            f"{rows_written} written, {quarantined} quarantined",
            hint="this is a bug in altakit; please report it with the input",
        )
    if progress is not None:
        progress(rows_in, rows_in)
    return Processed(
        None,
        written.quarantine,
        rows_in,
        rows_written,
        blank,
        clean.merge_reports(written.steps),
        plan,
        dict(typing.types),
        datetimes=dict(typing.datetimes),
        files=written.files,
        quarantine_files=written.quarantine_files,
    )
