"""Writing a typed-sample dataset version: samples into shards, then its sample type and manifest.

:func:`write_dataset` encodes each sample (:mod:`altakit.datasets.codec`), writes
the shards (:mod:`altakit.datasets.shards`) under ``datasets/<name>/<write id>/``,
and only then records the sample type and the manifest in the catalog
(:mod:`altakit.datasets.manifest`): a failed write leaves no dataset version.
Everything that can be checked before the first byte is (the name, the shard keys,
the options, the first sample's type), and a write refused or failing later
removes the shards it wrote; a killed one leaves them to ``altakit store gc``
(:mod:`altakit.datasets.gc`). Its parts serve every writer of shards:
:func:`write_shards` (samples into one writer's shards: the whole dataset here, one
partition in a Spark task, :mod:`altakit.datasets.spark_write`), :func:`record_dataset`
(the manifest of shards written anywhere) and :func:`remove_shards`.
Progress goes to the event stream (a tqdm bar by default).

Example:
    >>> import altakit, numpy as np
    >>> @altakit.sample
    ... class Row:
    ...     x: np.ndarray
    ...     y: int
    >>> rows = (Row(np.ones(3), i) for i in range(10))
    >>> ds = altakit.write_dataset(rows, "rows", store=store)  # doctest: +SKIP
    >>> len(ds)  # doctest: +SKIP
    10
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from altakit.catalog import catalog_of
from altakit.catalog.records import check_name
from altakit.datasets.codec import encode_parts
from altakit.datasets.dataset import Dataset
from altakit.datasets.manifest import DatasetDoc, register_manifest, register_sample_type
from altakit.datasets.samples import SampleSchema, schema_of
from altakit.datasets.shards import DEFAULT_MAXCOUNT, DEFAULT_MAXSIZE, FORMAT, ShardWriter
from altakit.errors import ConfigError, DataError
from altakit.events import EventStream, TqdmProgress
from altakit.store.base import Store
from altakit.store.names import new_id
from altakit.store.registry import open_store

#: Samples between two ``progress`` events while writing.
PROGRESS_EVERY = 1024
_NO_SAMPLE = object()


def write_dataset(
    samples: Iterable[Any],
    name: str,
    *,
    store: Store | str | None = None,
    maxcount: int = DEFAULT_MAXCOUNT,
    maxsize: int = DEFAULT_MAXSIZE,
    description: str = "",
    progress: bool | EventStream = True,
    links: Mapping[str, str] | None = None,
) -> Dataset:
    """Write typed samples as a new version of dataset ``name``.

    Args:
        samples: Instances of one ``@altakit.sample`` type (a Spark DataFrame is refused: write it with
            :func:`altakit.datasets.spark_write.write_dataset_from_spark`, whose tasks write the shards).
        name: Dataset name (``"digits"``, ``"team/digits"``).
        store: A store or URL (default: the project store).
        maxcount: Samples per shard at most.
        maxsize: Bytes per shard at most.
        description: Free text kept in the manifest.
        progress: True for a progress bar (terminal or notebook), or an
            :class:`~altakit.events.EventStream` to report ``progress`` (samples written) on.
        links: Lineage of the new version, relation to ref (``{"derived_from": "table:sensors@4"}``);
            the refs must exist (checked before anything is written).

    Returns:
        The new version as an :class:`altakit.datasets.dataset.Dataset`.

    Raises:
        ConfigError: A bad name or option, no samples, or samples of more than one type (no
            manifest is recorded, and the shards written are removed).
        DataError: A sample disagrees with its type (naming the dataset and the sample key).

    Example:
        >>> import tempfile, numpy as np
        >>> from altakit.datasets.samples import sample
        >>> @sample
        ... class Row:
        ...     x: np.ndarray
        ...     y: int
        >>> store = tempfile.mkdtemp()
        >>> ds = write_dataset((Row(np.ones(3), i) for i in range(10)), "rows", store=store, progress=False)
        >>> ds.version, len(ds), ds.manifest["schema_ref"]
        (1, 10, 'sample_type:Row@1')
    """
    check_name(name)
    if is_spark_frame(samples):
        raise ConfigError(
            f"dataset {name!r}: samples is a Spark DataFrame, not samples",
            dataset=name,
            hint="write it with altakit.datasets.spark_write.write_dataset_from_spark(df, name, SampleType)",
        )
    store, links = check_options(store, name, description, links)
    writer = ShardWriter(store, write_prefix(name, new_id()), maxcount, maxsize)
    store.check_writable(f"{writer.prefix}shard-999999.tar")  # the longest shard key fits the store
    samples = iter(samples)
    first = next(samples, _NO_SAMPLE)
    if first is _NO_SAMPLE:
        raise ConfigError(f"no samples to write to dataset {name!r}", dataset=name)
    schema_of(first)  # a sample type, before anything is written
    events = _events(progress, name)
    report = None
    if events is not None:
        events.start(params={"dataset": name})
        stream = events

        def report(n: int) -> None:
            stream.progress(n, None, shards=len(writer.shards))

    try:
        schema, written = write_shards(itertools.chain([first], samples), writer, name, progress=report)
    except BaseException as exc:
        remove_shards(store, writer.shards)
        if events is not None:
            events.end("failed", error=str(exc))
        raise
    if events is not None:
        events.progress(written, written, shards=len(writer.shards))
        events.end("finished", samples=written)
    assert schema is not None  # the first sample gave it
    return record_dataset(store, name, schema, writer.shards, description=description, links=links)


def is_spark_frame(obj: Any) -> bool:
    """True for a Spark DataFrame (classic or Spark Connect), told apart without importing pyspark.

    Example:
        >>> is_spark_frame([1, 2])
        False
    """
    return type(obj).__module__.startswith("pyspark.sql") and hasattr(obj, "mapInArrow")


def write_prefix(name: str, write_id: str) -> str:
    """Where one write of dataset ``name`` puts its shards: ``datasets/<name>/<write id>/``.

    Example:
        >>> write_prefix("digits", "w1")
        'datasets/digits/w1/'
    """
    return f"datasets/{name}/{write_id}/"


def check_options(
    store: Store | str | None, name: str, description: str, links: Mapping[str, str] | None
) -> tuple[Store, dict[str, str] | None]:
    """The store, and ``links`` with each ref pinned to its version (checked before anything is written).

    Raises:
        ConfigError: ``description`` is not text.
        NotFound: A linked ref does not exist.

    Example:
        >>> import tempfile
        >>> store, links = check_options(tempfile.mkdtemp(), "rows", "", None)
        >>> links is None
        True
    """
    if not isinstance(description, str):
        raise ConfigError(f"description must be a str, not {type(description).__name__}", dataset=name)
    opened = open_store(store)
    if not links:
        return opened, None
    catalog = catalog_of(opened)
    return opened, {rel: str(catalog.resolve(ref).ref) for rel, ref in links.items()}  # pinned, checked


def write_shards(
    samples: Iterable[Any],
    writer: ShardWriter,
    name: str,
    *,
    kind: type | None = None,
    key: Callable[[int], str] = "{:09d}".format,
    progress: Callable[[int], None] | None = None,
) -> tuple[SampleSchema | None, int]:
    """Encode ``samples`` into ``writer``'s shards and flush the last one (no record is written).

    What a write of the whole dataset does on the driver, and what each Spark task does with its
    partition's samples (under a prefix of its own): the caller lists ``writer.shards`` in a manifest
    (:func:`record_dataset`), or removes them (:func:`remove_shards`) when this raises.

    Args:
        samples: Instances of one sample type.
        writer: Where the shards go.
        name: The dataset (named in errors).
        kind: The sample type every sample must be (default: the first sample's).
        key: The key of the sample at a position (default: the position, 9 digits).
        progress: Called with the samples written every :data:`PROGRESS_EVERY` samples.

    Returns:
        ``(schema, samples written)``; the schema is ``None`` when there was no sample.

    Raises:
        ConfigError: A sample that is not a sample type, or not of ``kind``.
        DataError: A sample disagrees with its type (naming the dataset and the sample key).

    Example:
        >>> import tempfile, altakit
        >>> from altakit.datasets.samples import sample
        >>> @sample
        ... class P:
        ...     n: int
        >>> writer = ShardWriter(altakit.open_store(tempfile.mkdtemp()), "datasets/p/1/", 2, DEFAULT_MAXSIZE)
        >>> schema, n = write_shards((P(i) for i in range(3)), writer, "p", key="k{}".format)
        >>> schema.name, n, [s["count"] for s in writer.shards]
        ('P', 3, [2, 1])
    """
    schema = None if kind is None else schema_of(kind)
    written = 0
    for i, obj in enumerate(samples):
        if kind is None:
            schema, kind = schema_of(obj), type(obj)
        elif type(obj) is not kind:
            raise ConfigError(
                f"sample {i} is a {type(obj).__name__}, not a {kind.__name__}",
                dataset=name,
                hint="a dataset holds one sample type",
            )
        k = key(i)
        try:
            writer.add(k, *encode_parts(obj, schema))
        except DataError as exc:
            exc.fields.update(dataset=name, key=k)
            raise type(exc)(f"dataset {name!r}, sample {k}: {exc.message}", **exc.fields) from exc
        written = i + 1
        if progress is not None and written % PROGRESS_EVERY == 0:
            progress(written)
    writer.flush()
    return schema, written


def record_dataset(
    store: Store,
    name: str,
    schema: SampleSchema,
    shards: Sequence[Mapping[str, Any]],
    *,
    description: str = "",
    links: Mapping[str, str] | None = None,
) -> Dataset:
    """Record the sample type and the manifest listing ``shards`` (in order): the new version.

    ``first`` of each shard entry is renumbered from the counts, so shards written by several
    writers (each counting from 0) list the dataset's samples in manifest order.

    Example:
        >>> import tempfile, altakit
        >>> from altakit.datasets.samples import sample
        >>> @sample
        ... class P:
        ...     n: int
        >>> store = altakit.open_store(tempfile.mkdtemp())
        >>> writer = ShardWriter(store, "datasets/p/1/", 2, DEFAULT_MAXSIZE)
        >>> schema, _ = write_shards((P(i) for i in range(3)), writer, "p")
        >>> ds = record_dataset(store, "p", schema, writer.shards)
        >>> len(ds), [s["first"] for s in ds.manifest["shards"]]
        (3, [0, 2])
    """
    entries, first = [], 0
    for shard in shards:
        entries.append({**shard, "first": first})
        first += int(shard["count"])
    manifest = DatasetDoc(
        format=FORMAT,
        schema=schema.to_doc(),
        schema_ref=register_sample_type(store, schema),
        count=first,
        bytes=sum(int(s["bytes"]) for s in entries),
        shards=entries,
        description=description,
    )
    record = register_manifest(store, name, manifest, links=links)
    return Dataset.from_record(store, record)


def remove_shards(store: Store, shards: Iterable[Mapping[str, Any]]) -> None:
    """Remove the shards of a refused write (no record lists them); what fails here ``store gc`` finds.

    Example:
        >>> import tempfile, altakit
        >>> store = altakit.open_store(tempfile.mkdtemp())
        >>> v = store.put("datasets/p/1/shard-000000.tar", b"x")
        >>> remove_shards(store, [{"key": v.key, "version": v.id}])
        >>> store.list("datasets/")
        []
    """
    for shard in shards:
        with contextlib.suppress(Exception):
            store.purge(shard["key"], shard["version"])


def _events(progress: bool | EventStream, name: str) -> EventStream | None:
    """The stream to report on: the caller's, a new one feeding a tqdm bar, or none."""
    if isinstance(progress, EventStream):
        return progress
    if not progress:
        return None
    stream = EventStream(f"writing {name}")
    stream.subscribe(TqdmProgress(unit=" samples", leave=False))
    return stream
