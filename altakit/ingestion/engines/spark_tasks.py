"""What the Spark engine's tasks run on the executors: read and type a file, then clean and write a bucket.

Rows never pass through Spark's JVM (no Arrow → row conversion, no cache, no JVM shuffle): each
task reads and writes Parquet itself, and hands Spark only small *meta* rows (``_kind``, ``_raw``
JSON, ``_line`` count), which the driver collects.

1. :func:`read_task` (one source file each): fetch it (:func:`~altakit.ingestion.sources.fetch`),
   read, type and quarantine it with the local engine's code; write the rejected rows as one
   quarantine file and the typed rows as one *spill* file (Arrow IPC) per bucket of series (a series always
   lands in the same bucket: :func:`bucket_of`). Metas: ``c`` counts, ``h`` checksum, ``g``
   quarantine file, ``p`` spill file, ``e`` a typed error.
2. :func:`write_task` (one bucket each): read the bucket's spill files (those of the winning read
   attempts only, in source order), clean them with :func:`~._shared.clean_frame` as the local
   engine does, write the table's file and the steps' quarantine file. Metas: ``f``, ``g``, ``s``, ``e``.

Every file an attempt writes is named ``part-<ingest id>-<task attempt>-…``
(:func:`altakit.datasets.delta_files.write_file`): the files no commit lists — spill files, a
retried attempt's — are swept by the job. Each module-level function here runs in a Python worker.

Example:
    >>> bucket_of([("s1",), ("s2",), ("s1",)], 4)[0] == bucket_of([("s1",)], 4)[0]
    True
"""

from __future__ import annotations

import contextlib
import json
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit import errors, faults
from altakit.datasets import delta_files
from altakit.datasets.internal import is_internal
from altakit.errors import AltakitError, IngestError
from altakit.ingestion import quarantine, readers, sources
from altakit.ingestion.engine import Sink
from altakit.ingestion.engines._shared import Decide, Typing, clean_frame
from altakit.ingestion.schema import Plan, Schema, dtype_of
from altakit.ingestion.sources import SourceFile

if TYPE_CHECKING:
    import pyarrow as pa

    from altakit.ingestion.spec import IngestSpec

KIND = "_kind"
#: A source file as the driver hands it to a reading task: one row each.
LISTING = {
    "order": "long", "name": "string", "path": "string", "checksum": "string", "size": "long",
    "given": "string", "url": "string", "key": "string", "version": "string", "sha128": "string",
    "whole": "boolean",
}  # fmt: skip


def arrow_type(tname: str) -> pa.DataType:
    """The Arrow type a planned column type (``"datetime[us, UTC]"``, ``"int64"`` …) is written as."""
    import pyarrow as pa

    if tname.startswith("datetime"):
        tz = tname[len("datetime[") : -1].partition(", ")[2] or None
        return pa.timestamp("us", tz=tz)
    return {
        "string": pa.string(), "bool": pa.bool_(), "date": pa.date32(), "float64": pa.float64(),
        "float32": pa.float32(), "int64": pa.int64(), "int32": pa.int32(), "int16": pa.int16(),
        "int8": pa.int8(),
    }.get(tname, pa.string())  # fmt: skip


def row_schema(types: dict[str, str]) -> pa.Schema:
    """Typed or rejected rows: ``_source``, ``_line``, ``_reason``, ``_raw`` and the data columns."""
    import pyarrow as pa

    fields = [pa.field("_source", pa.string()), pa.field("_line", pa.int64())]
    fields += [pa.field("_reason", pa.string()), pa.field("_raw", pa.string())]
    return pa.schema(fields + [pa.field(c, arrow_type(t)) for c, t in types.items()])


def conform(frame: Any, schema: pa.Schema) -> Any:
    """``frame`` with exactly ``schema``'s columns (missing ones null), cast to its types."""
    import polars as pl

    missing = [f.name for f in schema if f.name not in frame.columns]
    frame = frame.with_columns(pl.lit(None).alias(name) for name in missing)
    out = pl.from_arrow(frame.select(schema.names).to_arrow().cast(schema))
    assert isinstance(out, pl.DataFrame)
    return out


def meta_schema() -> pa.Schema:
    """What every task returns to the driver: one small row per fact."""
    import pyarrow as pa

    return pa.schema(
        [pa.field(KIND, pa.string()), pa.field("_raw", pa.string()), pa.field("_line", pa.int64())]
    )


def meta(kind: str, raw: str, n: int = 0) -> pa.RecordBatch:
    """One meta row."""
    import pyarrow as pa

    return pa.RecordBatch.from_pylist([{KIND: kind, "_raw": raw, "_line": n}], schema=meta_schema())


def load(text: str) -> AltakitError:
    """The typed error a task raised (:meth:`~altakit.errors.AltakitError.to_json`; else an IngestError)."""
    return errors.from_json(text, IngestError)


def listing_row(order: int, f: SourceFile) -> tuple[Any, ...]:
    """``f`` as a row of :data:`LISTING` (its checksum stays empty where a task computes it)."""
    st = f.stored
    checksum = f.digest if isinstance(f.digest, str) else ("" if st is not None else f.checksum)
    where = (st.url, st.key, st.version, st.checksum, st.whole) if st else (None, None, None, None, None)
    return (order, f.name, str(f.path), checksum, f.size, f.given, *where)


def source_of(row: dict[str, Any], stores: dict[str, Any]) -> SourceFile:
    """The :class:`SourceFile` a listing row describes (``stores``: the sources' stores by URL)."""
    stored = None
    if row["url"] is not None:
        url = row["url"]
        stored = sources.Stored(url, row["key"], row["version"], row["sha128"], row["whole"], stores[url])
    return SourceFile(
        row["name"], Path(row["path"]), row["checksum"], row["size"], origin="store" if stored else "path",
        given=row["given"] or "", stored=stored,
    )  # fmt: skip


def task_name(stage: str) -> str:
    """``<stage><partition>-a<attempt id>``: unique per task attempt (retried and speculative ones too)."""
    from pyspark import TaskContext

    ctx = TaskContext.get()
    return f"{stage}{ctx.partitionId()}-a{ctx.taskAttemptId()}" if ctx is not None else f"{stage}-driver"


def bucket_of(keys: list[tuple[Any, ...]], buckets: int) -> list[int]:
    """The bucket of each series key: the same in every process (CRC-32 of its ``repr``)."""
    return [zlib.crc32(repr(k).encode()) % buckets for k in keys]


def quarantine_file(rows: Any, sink: Sink, task: str) -> pa.RecordBatch:
    """Write quarantine ``rows`` (source names as recorded, the ingest id) as one file: its meta row."""
    import polars as pl

    from altakit.datasets import tables

    rows = rows.select(quarantine.COLUMNS).with_columns(
        pl.col("_source").replace(sink.names), pl.lit(sink.ingest_id).alias(tables.INGEST_COLUMN)
    )
    written = delta_files.write_file(sink.quarantine, rows.to_arrow(), sink.ingest_id, task)
    reasons = dict(quarantine.reason_counts(rows))
    return meta("g", json.dumps({"file": written.to_json(), "reasons": reasons}), rows.height)


class _Spill:
    """One Arrow IPC file (LZ4) per bucket, written block by block (bounded memory) into the table folder."""

    def __init__(self, sink: Sink, task: str, schema: pa.Schema) -> None:
        self.fs, self.root = delta_files.filesystem(sink.table)
        self.prefix = f"{delta_files.PREFIX}{sink.ingest_id}-{task}"
        self.schema = schema
        self.open: dict[int, tuple[str, Any, Any]] = {}
        self.rows: dict[int, int] = {}

    def write(self, bucket: int, table: pa.Table) -> None:
        import pyarrow as pa

        if bucket not in self.open:
            self.fs.create_dir(self.root, recursive=True)
            path = f"{self.prefix}-b{bucket}-{uuid.uuid4().hex[:8]}{delta_files.SPILL}"
            stream = self.fs.open_output_stream(f"{self.root}/{path}")
            options = pa.ipc.IpcWriteOptions(compression="lz4")
            self.open[bucket] = (path, stream, pa.ipc.new_file(stream, self.schema, options=options))
            self.rows[bucket] = 0
        self.open[bucket][2].write_table(table.cast(self.schema))
        self.rows[bucket] += table.num_rows

    def close(self) -> list[tuple[int, str, int]]:
        """Finish every file: ``(bucket, path, rows)``."""
        done = []
        for bucket, (path, stream, writer) in self.open.items():
            writer.close()
            stream.close()
            done.append((bucket, path, self.rows[bucket]))
        self.open.clear()
        return done

    def abort(self) -> None:
        """Close what is still open after an error (the files are swept with the ingest's others)."""
        for _, stream, writer in self.open.values():
            with contextlib.suppress(Exception):
                writer.close()
            with contextlib.suppress(Exception):
                stream.close()
        self.open.clear()


def read_task(
    batches: Iterator[pa.RecordBatch], state: tuple[Any, ...], stores: dict[str, Any], sink: Sink,
    types: dict[str, str], buckets: int,
) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """Read, type and quarantine the listed source files; spill their typed rows by bucket (see above)."""
    import tempfile

    spec, approved, plan, known, nullable, datetimes, ordered = state
    worker = Typing(spec, approved, _fixed(plan))
    worker.types, worker.nullable, worker.datetimes, worker.plan = known, nullable, datetimes, plan
    # the plan is fixed: a value that needs a wider type is quarantined, never widened
    worker.ordered, worker.widen = ordered, False
    try:
        for rb in batches:
            for row in rb.to_pylist():
                with tempfile.TemporaryDirectory(prefix="altakit-task-") as work:
                    src = source_of(row, stores)
                    yield from _read_one(worker, src, Path(work), row["order"], sink, types, buckets)
    except AltakitError as exc:  # to the driver as data, so the caller gets the typed error
        yield meta("e", exc.to_json())


def _read_one(
    worker: Typing, src: SourceFile, work: Path, order: int, sink: Sink, types: dict[str, str], buckets: int
) -> Iterator[pa.RecordBatch]:
    import polars as pl
    import pyarrow as pa

    spec = worker.spec
    if src.stored is not None:
        src = sources.fetch(src, work, spec.unpack_limits())
        yield meta("h", json.dumps([src.name, src.checksum]))  # the record's checksum, from the bytes read
    schema = row_schema(types)
    data_schema = pa.schema([f for f in schema if f.name not in ("_reason", "_raw")])
    task = task_name("r")
    spill = _Spill(sink, task, data_schema)
    keys = list(spec.by)
    rejected: list[Any] = []
    counts = {"rows": 0, "blank": 0, "r": 0, "q": 0, "d": 0}
    try:
        _spill_batches(worker, src, keys, buckets, spill, rejected, counts, schema, data_schema)
    except BaseException:
        spill.abort()
        raise
    if rejected:
        yield quarantine_file(pl.concat(rejected), sink, task)
    for bucket, path, rows in spill.close():
        yield meta("p", json.dumps({"bucket": bucket, "path": path, "order": order}), rows)
    yield meta("c", json.dumps(counts))


def _spill_batches(
    worker: Typing, src: SourceFile, keys: list[str], buckets: int, spill: _Spill, rejected: list[Any],
    counts: dict[str, int], schema: pa.Schema, data_schema: pa.Schema,
) -> None:  # fmt: skip
    """Read, type and quarantine ``src`` block by block; its typed rows go to ``spill`` by bucket."""
    import polars as pl

    for batch in readers.read_file(src, worker.spec.read_options()):
        counts["rows"] += batch.data.height
        counts["blank"] += batch.blank_lines
        if batch.bad.height:
            rejected.append(conform(batch.bad, schema))
            counts["r"] += batch.bad.height
        if not batch.data.columns[2:]:
            continue
        typed, bad = worker.apply(batch.data)
        if bad.height:
            rejected.append(conform(bad, schema))
            counts["q"] += bad.height
        if not typed.height:
            continue
        counts["d"] += typed.height
        typed = conform(typed, data_schema)
        if not keys:
            spill.write(0, typed.to_arrow())
            continue
        series = typed.select(keys).unique(maintain_order=True)
        series = series.with_columns(pl.Series("_bucket", bucket_of(series.rows(), buckets), pl.Int64))
        routed = typed.join(series, on=keys, how="left", nulls_equal=True, maintain_order="left")
        for (bucket,), part in routed.partition_by("_bucket", as_dict=True).items():
            spill.write(int(bucket), part.drop("_bucket").to_arrow())  # type: ignore[call-overload]


def _fixed(plan: Plan) -> Decide:
    def decide(observed: Schema) -> Plan:
        raise IngestError(
            "a later part of the input has columns the first block lacked",
            columns=observed.names,
            hint="ingest it with the local engine, or split the input by layout",
        )

    return decide


def write_task(
    batches: Iterator[pa.RecordBatch], spec: IngestSpec, plan: Plan, sink: Sink, types: dict[str, str],
    target: dict[str, str],
) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """Clean each listed bucket (its spill files, in order); write the table's file and the quarantine's."""
    for rb in batches:
        for row in rb.to_pylist():
            try:
                yield from _write_bucket(json.loads(row["paths"]), spec, plan, sink, types, target)
            except AltakitError as exc:
                yield meta("e", exc.to_json())


def _write_bucket(
    paths: list[str], spec: IngestSpec, plan: Plan, sink: Sink, types: dict[str, str], target: dict[str, str]
) -> Iterator[pa.RecordBatch]:
    import polars as pl
    import pyarrow as pa

    fs, root = delta_files.filesystem(sink.table)
    parts = []
    for path in paths:
        with fs.open_input_file(f"{root}/{path}") as f:
            part = pl.from_arrow(pa.ipc.open_file(f).read_all())
        assert isinstance(part, pl.DataFrame)
        parts.append(part)
    frame = pl.concat(parts)
    data_cols = [c for c in types if not is_internal(c)]
    rejected: list[Any] = []
    frame, steps = clean_frame(
        frame, spec, lambda rows, why: rejected.append(quarantine.from_frame(rows, why, data_cols))
    )
    task = task_name("w")
    yield meta("s", json.dumps([s.to_dict() for s in steps]))
    frame = frame.drop("_source", "_line", strict=False).with_columns(
        pl.col(c).cast(dtype_of(t)) for c, t in target.items() if c in frame.columns
    )
    frame = plan.target.conform(frame)
    if frame.height:
        faults.point("spark.task_writing")  # a task attempt killed here leaves no file
        written = delta_files.write_file(sink.table, frame.to_arrow(), sink.ingest_id, task)
        yield meta("f", written.to_json(), frame.height)
    if rejected:
        yield quarantine_file(pl.concat(rejected), sink, task)
    faults.point("spark.task_written")  # ... and one killed here a file no commit lists
