"""Writing a typed-sample dataset version: samples into shards, then its sample type and manifest.

:func:`write_dataset` encodes each sample (:mod:`altakit.datasets.codec`), writes
the shards (:mod:`altakit.datasets.shards`) under ``datasets/<name>/<write id>/``,
and only then records the sample type and the manifest in the catalog
(:mod:`altakit.datasets.manifest`): a failed write leaves no dataset version.
Everything that can be checked before the first byte is (the name, the shard keys,
the options, the first sample's type), and a write refused or failing later
removes the shards it wrote; a killed one leaves them to ``altakit store gc``
(:mod:`altakit.datasets.gc`).
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
from collections.abc import Iterable, Mapping
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
        samples: Instances of one ``@altakit.sample`` type.
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
    if not isinstance(description, str):
        raise ConfigError(f"description must be a str, not {type(description).__name__}", dataset=name)
    store = open_store(store)
    if links:
        catalog = catalog_of(store)
        links = {rel: str(catalog.resolve(ref).ref) for rel, ref in links.items()}  # pinned, checked
    writer = ShardWriter(store, f"datasets/{name}/{new_id()}/", maxcount, maxsize)
    store.check_writable(f"{writer.prefix}shard-999999.tar")  # the longest shard key fits the store
    samples = iter(samples)
    first = next(samples, _NO_SAMPLE)
    if first is _NO_SAMPLE:
        raise ConfigError(f"no samples to write to dataset {name!r}", dataset=name)
    schema_of(first)  # a sample type, before anything is written
    schema: SampleSchema | None = None
    events = _events(progress, name)
    if events is not None:
        events.start(params={"dataset": name})
    written = 0
    try:
        for i, obj in enumerate(itertools.chain([first], samples)):
            if schema is None:
                schema = schema_of(obj)
                kind = type(obj)
            elif type(obj) is not kind:
                raise ConfigError(
                    f"sample {i} is a {type(obj).__name__}, not a {kind.__name__}",
                    dataset=name,
                    hint="a dataset holds one sample type",
                )
            key = f"{i:09d}"
            try:
                writer.add(key, *encode_parts(obj, schema))
            except DataError as exc:
                exc.fields.update(dataset=name, key=key)
                raise type(exc)(f"dataset {name!r}, sample {key}: {exc.message}", **exc.fields) from exc
            written = i + 1
            if events is not None and written % PROGRESS_EVERY == 0:
                events.progress(written, None, shards=len(writer.shards))
        writer.flush()
    except BaseException as exc:
        _remove_shards(store, writer.shards)
        if events is not None:
            events.end("failed", error=str(exc))
        raise
    if events is not None:
        events.progress(written, written, shards=len(writer.shards))
        events.end("finished", samples=written)
    assert schema is not None  # the first sample gave it
    manifest = DatasetDoc(
        format=FORMAT,
        schema=schema.to_doc(),
        schema_ref=register_sample_type(store, schema),
        count=sum(s["count"] for s in writer.shards),
        bytes=sum(s["bytes"] for s in writer.shards),
        shards=writer.shards,
        description=description,
    )
    record = register_manifest(store, name, manifest, links=links)
    return Dataset.from_record(store, record)


def _remove_shards(store: Store, shards: list[dict[str, Any]]) -> None:
    """Remove the shards of a refused write (no record lists them); what fails here ``store gc`` finds."""
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
