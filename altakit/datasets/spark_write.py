"""Typed samples written from Spark: each partition writes its own shards, the driver only the manifest.

:func:`write_dataset_from_spark` turns the rows of a Spark DataFrame into samples of a
``@sample`` type — one column per field, by name (:func:`sample_from_row`), or the
caller's ``to_sample`` — and writes a dataset version the way :func:`altakit.write_dataset`
does, spread over the executors:

1. ``mapInArrow`` runs one task per partition; it encodes its rows with the codec and
   writes them into shards of its own through the store's own client
   (:func:`altakit.datasets.write.write_shards`), under
   ``datasets/<name>/<write id>/p<partition>-a<attempt>-shard-NNNNNN.tar``: unique per
   task attempt, retried and speculative ones too;
2. the task hands the driver one row: its shard entries (key, store version, count,
   bytes, checksum). No data row travels to the driver;
3. the driver lists the shards of the attempts Spark collected, in partition order, in
   one manifest (:func:`altakit.datasets.write.record_dataset`, through
   :mod:`altakit.datasets.manifest`), and removes every other shard under the write's
   prefix: a killed, failed or retried attempt's. A driver killed before the manifest
   leaves shards no record lists, which ``altakit store gc`` removes
   (:mod:`altakit.datasets.gc`), as it does for a killed local write; so does a
   speculative attempt Spark has not stopped yet when the driver sweeps.

The samples are the local path's: the sample at a position holds the same bytes as the
one ``write_dataset((sample_from_row(Type, r) for r in rows), ...)`` writes for the same
rows (the same schema, sample type record and encoding), and in the same order — the
manifest lists partition 0's shards first, so the dataset's order is the DataFrame's
(what ``df.collect()`` returns). Only the sample keys differ: a task does not know how
many rows the partitions before it hold, so a key is ``<partition>-<position in it>``
(``00003-000000012``) where the local path numbers samples from 0 (``000000012``); keys
stay unique and sort in dataset order. An :class:`~altakit.errors.AltakitError` raised in a
task (a value that disagrees with its field) comes back to the caller as that typed error.

A table version is a source too: :func:`table_frame` gives its rows as a DataFrame, each
task reading one of the version's Parquet files (the Delta log names them) through the
store's own credentials; Spark shapes them (windows of a sensor, joins) and
:func:`write_dataset_from_spark` writes the samples, linked ``derived_from`` the version.

Why a function of its own rather than :func:`altakit.write_dataset` taking a DataFrame:
rows carry no sample type, so it is named; the DataFrame's columns are checked against it
before any task runs; and the work runs on the cluster, which a pyspark user wants to see
in the call (as with ``ray.data.from_spark`` or petastorm's converters). ``write_dataset``
refuses a DataFrame, naming this function, instead of iterating it on the driver.
Everything that needs pyspark imports it inside the function (the caller brings the
DataFrame and its session): importing this module loads no Spark.

Example:
    >>> from altakit.datasets.spark_write import write_dataset_from_spark
    >>> df = spark.read.parquet("readings/")  # doctest: +SKIP
    >>> ds = write_dataset_from_spark(df, "readings", Reading, store=store)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from altakit import errors, faults
from altakit.catalog.records import check_name
from altakit.datasets.dataset import Dataset
from altakit.datasets.samples import SampleSchema, build_type, is_sample_type, schema_of
from altakit.datasets.shards import DEFAULT_MAXCOUNT, DEFAULT_MAXSIZE, ShardWriter
from altakit.datasets.write import (
    check_options,
    is_spark_frame,
    record_dataset,
    remove_shards,
    write_prefix,
    write_shards,
)
from altakit.errors import AltakitError, ConfigError, DataError
from altakit.store.base import Store
from altakit.store.names import new_id
from altakit.store.registry import open_store

if TYPE_CHECKING:
    import pyarrow as pa

    from altakit.datasets.tables import Location

#: Points where a test kills a task attempt (its Python worker): before and after it wrote its shards.
FAULT_POINTS = ("spark.dataset_writing", "spark.dataset_written")
#: What each task hands the driver: one row per partition that had rows.
RESULT = "partition int, kind string, body string"


def write_dataset_from_spark(
    df: Any,
    name: str,
    sample_type: type,
    *,
    store: Store | str | None = None,
    to_sample: Callable[[dict[str, Any]], Any] | None = None,
    maxcount: int = DEFAULT_MAXCOUNT,
    maxsize: int = DEFAULT_MAXSIZE,
    description: str = "",
    links: Mapping[str, str] | None = None,
) -> Dataset:
    """Write a Spark DataFrame's rows as a new version of dataset ``name``; the executors write the shards.

    Args:
        df: A Spark DataFrame (classic or Spark Connect); each partition writes its own shards.
        name: Dataset name (``"digits"``, ``"team/digits"``).
        sample_type: The ``@altakit.sample`` type of the samples.
        store: A store or URL (default: the project store); the tasks write through a copy of it, so
            every executor must reach it (a shared folder, S3).
        to_sample: A row (``dict`` of column → value, as Arrow gives it) → a ``sample_type`` instance
            (it travels to the executors). Default: :func:`sample_from_row`, one column per field by name.
        maxcount: Samples per shard at most.
        maxsize: Bytes per shard at most.
        description: Free text kept in the manifest.
        links: Lineage of the new version, relation to ref (``{"derived_from": "table:sensors@4"}``).

    Returns:
        The new version as an :class:`altakit.datasets.dataset.Dataset`.

    Raises:
        ConfigError: ``df`` is no Spark DataFrame, ``sample_type`` no sample type, a field without a
            column (and not optional), a bad option, or no rows.
        DataError: A value disagrees with its field (naming the dataset and the sample key), or a
            Spark task failed; no manifest is recorded and the shards written are removed.

    Example:
        >>> import numpy as np, altakit
        >>> @altakit.sample
        ... class Reading:
        ...     x: np.ndarray
        ...     label: int
        >>> df = spark.createDataFrame([([1.0, 2.0], 0)], "x array<double>, label long")  # doctest: +SKIP
        >>> write_dataset_from_spark(df, "readings", Reading, store=store)  # doctest: +SKIP
        Dataset('readings@1', 2 samples)
    """
    check_name(name)
    if not is_spark_frame(df):
        raise ConfigError(
            f"dataset {name!r}: {type(df).__name__} is not a Spark DataFrame",
            dataset=name,
            hint="write samples of a local iterable with altakit.write_dataset",
        )
    if not is_sample_type(sample_type):
        raise ConfigError(
            f"{sample_type!r} is not a sample type", hint="decorate the class with @altakit.sample"
        )
    schema = schema_of(sample_type)
    store, pinned = check_options(store, name, description, links)
    prefix = write_prefix(name, new_id())
    ShardWriter(store, prefix, maxcount, maxsize)  # the options, before any task runs
    store.check_writable(f"{prefix}{task_prefix(99_999, 2**63 - 1)}shard-999999.tar")  # the longest key
    if to_sample is None:
        columns = set(df.columns)
        missing = [f.name for f in schema.fields if f.name not in columns and not f.optional]
        if missing:
            raise ConfigError(
                f"dataset {name!r}: the DataFrame has no column {missing[0]!r} for field {missing[0]!r}",
                dataset=name,
                hint=f"its columns: {sorted(columns)}; rename one (df.withColumnRenamed) or pass to_sample",
            )
        df = df.select(*[f.name for f in schema.fields if f.name in columns])
    task = _PartitionWriter(store, prefix, name, schema, to_sample, maxcount, maxsize)
    try:
        rows = df.mapInArrow(task, RESULT).collect()
    except Exception as exc:
        sweep(store, prefix)
        raise DataError(
            f"dataset {name!r}: a Spark task failed: {_first_line(exc)}",
            dataset=name,
            hint="see the Spark error above; no version was recorded and the written shards were removed",
        ) from exc
    shards: list[tuple[int, list[dict[str, Any]]]] = []
    for part, kind, body in rows:
        if kind == "e":
            sweep(store, prefix)
            raise _load_error(body)
        shards.append((int(part), json.loads(body)))
    entries = [s for _, listed in sorted(shards, key=lambda p: p[0]) for s in listed]
    sweep(store, prefix, keep={(s["key"], s["version"]) for s in entries})
    if not entries:
        raise ConfigError(f"no rows to write to dataset {name!r}", dataset=name)
    try:
        return record_dataset(store, name, schema, entries, description=description, links=pinned)
    except BaseException:
        remove_shards(store, entries)
        raise


def sample_from_row(sample_type: type | SampleSchema, row: Mapping[str, Any]) -> Any:
    """The sample of one row: each field from the column of its name (a missing column is ``None``).

    An array field takes the column's (nested) list as ``np.asarray`` does, as the field's
    declared dtype; a flat list whose length is the size of a fully declared shape is reshaped
    to it (images stored flat). Scalars stay as they are (the codec checks them). Given a
    :class:`SampleSchema`, the sample is of the type :func:`~altakit.datasets.samples.build_type`
    rebuilds from it (it encodes to the same bytes).

    Raises:
        DataError: An array value that is not a rectangular list of numbers of the field's dtype.

    Example:
        >>> from typing import Annotated
        >>> from altakit.datasets.samples import Array, sample
        >>> @sample
        ... class Image:
        ...     pixels: Annotated[np.ndarray, Array("uint8", (2, 2))]
        ...     label: int
        >>> s = sample_from_row(Image, {"pixels": [1, 2, 3, 4], "label": 7})
        >>> s.pixels.tolist(), s.label
        ([[1, 2], [3, 4]], 7)
    """
    schema = sample_type if isinstance(sample_type, SampleSchema) else schema_of(sample_type)
    cls = build_type(schema) if isinstance(sample_type, SampleSchema) else sample_type
    values: dict[str, Any] = {}
    for f in schema.fields:
        value = row.get(f.name)
        if value is not None and f.kind == "array":
            value = _array(f.name, f.dtype, f.shape, value)
        values[f.name] = value
    return cls(**values)


def _array(name: str, dtype: str | None, shape: tuple[int | None, ...] | None, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value)
        if arr.dtype.kind == "O":
            raise ValueError("missing values or rows of different lengths")
        if dtype is not None:
            arr = np.asarray(value, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataError(
            f"field {name!r}: {value!r:.80} is no array of {dtype or 'numbers'}: {exc}", field=name
        ) from exc
    if shape is not None and None not in shape and arr.ndim == 1 != len(shape):
        full = tuple(int(n) for n in shape if n is not None)
        if arr.size == math.prod(full):
            arr = arr.reshape(full)
    return arr


def task_prefix(partition: int, attempt: int) -> str:
    """The start of a task attempt's shard names: ``p<partition>-a<attempt>-``.

    Example:
        >>> task_prefix(3, 17)
        'p00003-a17-'
    """
    return f"p{partition:05d}-a{attempt}-"


def sweep(
    store: Store, prefix: str, keep: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset()
) -> list[str]:
    """Remove every stored version under a write's ``prefix`` not in ``keep``; returns their ``key@version``.

    What a killed, failed or retried task attempt wrote: no collected result lists it.

    Example:
        >>> import tempfile, altakit
        >>> store = altakit.open_store(tempfile.mkdtemp())
        >>> a = store.put("datasets/p/w1/p00000-a1-shard-000000.tar", b"kept")
        >>> b = store.put("datasets/p/w1/p00000-a2-shard-000000.tar", b"a retried attempt's")
        >>> [n.split("@")[0] for n in sweep(store, "datasets/p/w1/", {(a.key, a.id)})]
        ['datasets/p/w1/p00000-a2-shard-000000.tar']
    """
    gone = []
    for latest in store.list(prefix):
        for v in store.versions(latest.key):
            if v.deleted or (v.key, v.id) in keep:
                continue
            store.purge(v.key, v)
            gone.append(f"{v.key}@{v.id}")
    return sorted(gone)


def table_frame(session: Any, spec: str, *, store: Store | str | None = None) -> Any:
    """One version of an ingested table as a Spark DataFrame, its Parquet files read by the tasks.

    The driver asks the Delta log which files make up the version (``"sensors@4"``; ``"sensors"``:
    the latest, or the version a run is pinned to, noted on the run as :func:`~altakit.read_table`
    does); one task per file reads it through pyarrow with the store's own credentials (S3 too, no
    Hadoop connector), in the order the log lists them. Shape it into samples with Spark (windows,
    joins) and write them with :func:`write_dataset_from_spark`, linking ``derived_from`` the version.

    Raises:
        NotFound: No such table or version.
        ConfigError: A partitioned table (altakit writes none).

    Example:
        >>> df = table_frame(spark, "sensors@2", store=store)  # doctest: +SKIP
        >>> write_dataset_from_spark(windows(df), "sensor-windows", Window, store=store,
        ...                          links={"derived_from": "table:sensors@2"})  # doctest: +SKIP
    """
    import pyarrow as pa
    from deltalake import DeltaTable
    from pyspark.sql.pandas.types import from_arrow_schema

    from altakit.catalog.records import Ref
    from altakit.datasets import tables
    from altakit.runs import reads

    opened = open_store(store)
    name, asked = tables.parse_spec(spec)
    record, doc = tables.version_doc(opened, name, reads.resolve(tables.TABLE, name, asked))
    loc = tables.location(opened, name)
    delta = DeltaTable(loc.uri, version=doc.delta_version, storage_options=loc.storage_options)
    if delta.metadata().partition_columns:
        raise ConfigError(f"table {name!r} is partitioned", hint="read it with altakit.read_table")
    schema = pa.schema([pa.field(f.name, _plain(f.type)) for f in pa.schema(delta.schema().to_arrow())])
    root = loc.uri.rstrip("/")
    files = [uri.removeprefix("file://")[len(root) + 1 :] for uri in delta.file_uris()]
    reads.note(Ref(tables.TABLE, name, record.ref.version), unversioned=asked is None)
    reader = _FileReader(loc, files, schema)
    return session.range(0, len(files), numPartitions=max(1, len(files))).mapInArrow(
        reader, from_arrow_schema(schema)
    )


def _plain(t: Any) -> Any:
    """The Arrow type Spark reads: large and view strings, binaries and lists as their plain kind."""
    import pyarrow as pa

    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_plain(t.value_type))
    return t


@dataclass(frozen=True)
class _FileReader:
    """The task reading a table version's files: ids → the files' rows, in the version's schema."""

    loc: Location
    files: list[str]
    schema: pa.Schema

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from altakit.datasets.delta_files import filesystem

        fs, root = filesystem(self.loc)
        for batch in batches:
            for i in batch.column(0).to_pylist():
                table = pq.read_table(f"{root}/{self.files[i]}", filesystem=fs)
                columns = [
                    table.column(f.name).cast(f.type) if f.name in table.column_names
                    else pa.nulls(table.num_rows, f.type)  # a column added by a later commit
                    for f in self.schema
                ]  # fmt: skip
                yield from pa.Table.from_arrays(columns, schema=self.schema).to_batches()


@dataclass(frozen=True)
class _PartitionWriter:
    """The task: one partition's rows → samples → its own shards; yields their entries (or a typed error)."""

    store: Store
    prefix: str
    name: str
    schema: SampleSchema
    to_sample: Callable[[dict[str, Any]], Any] | None
    maxcount: int
    maxsize: int

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        part, attempt = (ctx.partitionId(), ctx.taskAttemptId()) if ctx is not None else (0, 0)
        writer = ShardWriter(
            self.store, f"{self.prefix}{task_prefix(part, attempt)}", self.maxcount, self.maxsize
        )
        rows = (row for batch in batches for row in batch.to_pylist())
        try:
            faults.point("spark.dataset_writing")  # an attempt killed here leaves no shard
            _, written = write_shards(
                map(self._sample, rows), writer, self.name, key=f"{part:05d}-{{:09d}}".format
            )
        except AltakitError as exc:  # to the driver as data, so the caller gets the typed error
            remove_shards(self.store, writer.shards)
            yield _row(part, "e", exc.to_json())
            return
        except BaseException:
            remove_shards(self.store, writer.shards)
            raise
        faults.point("spark.dataset_written")  # ... and one killed here shards no manifest lists
        if written:
            yield _row(part, "s", json.dumps(writer.shards))

    def _sample(self, row: dict[str, Any]) -> Any:
        if self.to_sample is None:
            return sample_from_row(self.schema, row)
        obj = self.to_sample(row)
        if not (is_sample_type(type(obj)) and schema_of(obj) == self.schema):
            raise ConfigError(
                f"to_sample gave a {type(obj).__name__}, not a {self.schema.name} sample",
                dataset=self.name,
                hint="return instances of the sample_type given to write_dataset_from_spark",
            )
        return obj


def _row(part: int, kind: str, body: str) -> pa.RecordBatch:
    import pyarrow as pa

    return pa.RecordBatch.from_pylist(
        [{"partition": part, "kind": kind, "body": body}],
        schema=pa.schema([("partition", pa.int32()), ("kind", pa.string()), ("body", pa.string())]),
    )


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if "Error" in line or "Exception" in line]
    return (useful or lines or [type(exc).__name__])[-1][:300]


def _load_error(text: str) -> AltakitError:
    """The typed error a task raised (:meth:`~altakit.errors.AltakitError.to_json`; else a DataError)."""
    return errors.from_json(text, DataError)
