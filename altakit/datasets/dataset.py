"""Datasets: a version of typed samples in shards, with map / filter / batch stages.

``load_dataset("digits@2", store=store)`` returns a :class:`Dataset`. Iterating
it yields typed samples in manifest order; ``len()`` comes from the manifest.
Stages are plain generator functions with pre-bound arguments (picklable for
DataLoader workers when the functions are module-level) applied in the order
written. ``batches()`` decodes whole batches columnar (the fast path behind
``.torch()`` and ``.tensorflow()``).

Example:
    >>> ds = altakit.load_dataset("digits", store=store)  # doctest: +SKIP
    >>> small = ds.filter(is_small).map(normalize)  # doctest: +SKIP
    >>> for batch in ds.batches(256, shuffle=True, seed=1):  # doctest: +SKIP
    ...     batch["image"].shape
    (256, 8, 8)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

from altakit.catalog import Record
from altakit.datasets.codec import decode
from altakit.datasets.fetch import default_cache_dir
from altakit.datasets.lenses import LensRegistry, lenses_of
from altakit.datasets.manifest import read_dataset_record, read_manifest
from altakit.datasets.plan import EpochPlan
from altakit.datasets.reader import Batch, BatchReader, Source, collate
from altakit.datasets.samples import SampleSchema, build_type, is_sample_type, schema_of
from altakit.errors import ConfigError, DataError
from altakit.store.base import Store
from altakit.store.registry import open_store

Stage = tuple[str, Any]


def load_dataset(
    spec: str,
    store: Store | str | None = None,
    *,
    sample_type: type | None = None,
    on_error: str = "raise",
    cache_dir: str | None = "default",
    cache_bytes: int = 4 * 1024**3,
    prefetch: int = 2,
    verify: bool = True,
) -> Dataset:
    """Open a dataset version from the catalog.

    Args:
        spec: ``"name"`` (latest), ``"name@3"`` or ``"dataset:name@3"``.
        store: A store or URL (default: the project store).
        sample_type: The sample class to decode into (must match the stored schema);
            default: a type rebuilt from the stored schema.
        on_error: ``"raise"`` (default) or ``"skip"`` bad samples, counting them.
        cache_dir: Local shard cache for remote stores (``None``: no cache).
        cache_bytes: Bound of the shard cache.
        prefetch: Shards fetched ahead on a background thread.
        verify: Check shards against their SHA-256 checksums: a local shard version the first time
            it is read, and again only if its file changes (see :mod:`altakit.datasets.fetch`); a remote
            shard when it enters the shard cache, or on every read without a cache. ``False``: sizes
            only.

    Example:
        >>> ds = load_dataset("digits@2", store=store)  # doctest: +SKIP
    """
    store = open_store(store)
    record = read_dataset_record(store, spec)
    return Dataset.from_record(
        store,
        record,
        sample_type=sample_type,
        on_error=on_error,
        cache_dir=cache_dir,
        cache_bytes=cache_bytes,
        prefetch=prefetch,
        verify=verify,
    )


class Dataset:
    """One version of a sample dataset. Build with :func:`load_dataset` or ``write_dataset``."""

    def __init__(
        self,
        source: Source,
        manifest: dict[str, Any],
        *,
        version: int | None = None,
        sample_type: type | None = None,
        stages: tuple[Stage, ...] = (),
    ) -> None:
        self.source = source
        self.manifest = manifest
        self.version = version
        self.stages = stages
        self.skipped = 0
        if sample_type is not None and schema_of(sample_type).fingerprint != source.schema.fingerprint:
            raise ConfigError(
                f"{sample_type.__name__} does not match the stored schema of dataset {source.name!r}",
                dataset=source.name,
                hint="load without sample_type= (the type is rebuilt) or view it with as_type()",
            )
        self._type = sample_type
        self._view_type: type | None = None

    @classmethod
    def from_record(cls, store: Store, record: Record, **options: Any) -> Dataset:
        """A dataset from its catalog record (the manifest is validated: :class:`CorruptObject` if bad)."""
        manifest = read_manifest(record)
        cache_dir = options.pop("cache_dir", "default")
        source = Source(
            store,
            record.name,
            list(manifest.shards),
            manifest.sample_schema(str(record.ref)),
            cache_dir=default_cache_dir(store) if cache_dir == "default" else cache_dir,
            cache_bytes=options.pop("cache_bytes", 4 * 1024**3),
            prefetch=options.pop("prefetch", 2),
            on_error=options.pop("on_error", "raise"),
            verify=options.pop("verify", True),
        )
        return cls(
            source, manifest.to_doc(), version=record.version, sample_type=options.pop("sample_type", None)
        )

    # ------------------------------------------------------------------ facts
    @property
    def name(self) -> str:
        """Dataset name."""
        return self.source.name

    @property
    def schema(self) -> SampleSchema:
        """Schema of the stored samples."""
        return self.source.schema

    @property
    def sample_type(self) -> type:
        """The class samples decode into (rebuilt from the stored schema unless given)."""
        if self._type is None:
            self._type = build_type(self.schema)
        return self._type

    @property
    def store(self) -> Store:
        """The store holding the shards."""
        return self.source.store

    def __len__(self) -> int:
        """Samples (or batches after ``batch``) from the manifest, without a scan."""
        if any(kind == "filter" for kind, _ in self.stages):
            raise TypeError("the length of a filtered dataset is unknown until it is read")
        n = int(self.manifest["count"])
        for kind, arg in self.stages:
            if kind == "batch":
                n = -(-n // arg)
        return n

    def __repr__(self) -> str:
        at = f"@{self.version}" if self.version is not None else ""
        return f"<Dataset {self.name}{at}: {self.manifest['count']} {self.schema.name} samples>"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if state["_type"] is not None and not _importable(state["_type"]):
            state["_type"] = None  # rebuilt again from the schema in the worker
        return state

    # ------------------------------------------------------------------ stages
    def _with(self, stage: Stage, sample_type: type | None = None) -> Dataset:
        new = Dataset.__new__(Dataset)
        new.__dict__.update(self.__dict__)
        new.stages = (*self.stages, stage)
        new.skipped = 0
        if sample_type is not None:
            new._view_type = sample_type
        return new

    def map(self, fn: Callable[[Any], Any]) -> Dataset:
        """Apply ``fn`` to every sample (after the stages before it)."""
        return self._with(("map", fn))

    def filter(self, predicate: Callable[[Any], bool]) -> Dataset:
        """Keep the samples for which ``predicate`` is true."""
        return self._with(("filter", predicate))

    def batch(self, size: int) -> Dataset:
        """Group samples into :class:`Batch` columns of ``size`` (the last may be short)."""
        if size < 1:
            raise ConfigError(f"batch size must be at least 1, got {size}")
        return self._with(("batch", size))

    def as_type(self, view: type, *, lenses: LensRegistry | None = None) -> Dataset:
        """View samples as another sample type through a registered lens.

        Args:
            view: The target sample type.
            lenses: A :class:`~altakit.datasets.lenses.LensRegistry` (default: the one of this
                store's catalog, :func:`~altakit.datasets.lenses.lenses_of`).
        """
        if not is_sample_type(view):
            raise ConfigError(f"{view!r} is not a sample type", hint="decorate it with @altakit.sample")
        if lenses is None:
            lenses = lenses_of(self.store)
        current = self._current_schema()
        return self._with(("map", lenses.find(current, view)), sample_type=view)

    def _current_schema(self) -> SampleSchema:
        view = self._view_type
        return schema_of(view) if view is not None else self.schema

    # ------------------------------------------------------------------ reading
    def __iter__(self) -> Iterator[Any]:
        self.skipped = 0
        stages = list(self.stages)
        if stages and stages[0][0] == "batch":
            plan = self.plan(stages.pop(0)[1], shuffle=False)
            stream: Iterator[Any] = self._counted(
                BatchReader(self.source, plan).read(range(plan.num_batches))
            )
        else:
            stream = self._samples()
        for kind, arg in stages:
            stream = STAGES[kind](stream, arg)
        yield from stream
        if self.skipped:
            warnings.warn(f"dataset {self.name!r}: skipped {self.skipped} bad samples", stacklevel=2)

    def _counted(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        for batch in batches:
            self.skipped += batch.skipped
            yield batch

    def _samples(self) -> Iterator[Any]:
        cls = self.sample_type
        for s, entry in enumerate(self.source.shards):
            shard = self.source.fetch(s)
            if isinstance(shard, DataError):
                self.skipped += entry["count"]
                continue
            for i, key in enumerate(shard.keys):
                try:
                    values = decode(self.schema, shard.doc(i))
                except DataError as exc:
                    if self.source.on_error == "skip":
                        self.skipped += 1
                        continue
                    exc.fields.update(dataset=self.name, shard=entry["key"], key=key)
                    raise DataError(
                        f"dataset {self.name!r}, shard {entry['key']!r}, sample {key!r}: {exc.message}",
                        **exc.fields,
                    ) from exc
                yield cls(**values)
            self.skipped += max(0, entry["count"] - shard.count)

    def head(self, n: int = 5) -> list[Any]:
        """The first ``n`` items (manifest order), reading only the shards needed."""
        out: list[Any] = []
        for item in self:
            if len(out) >= n:
                break
            out.append(item)
        return out

    def plan(self, batch_size: int, **options: Any) -> EpochPlan:
        """The :class:`EpochPlan` for one epoch (see :mod:`altakit.datasets.plan`)."""
        return EpochPlan([int(s["count"]) for s in self.source.shards], batch_size, **options)

    def reader(self, plan: EpochPlan, *, keys: bool = False) -> BatchReader:
        """A :class:`BatchReader` that applies this dataset's map / filter stages per sample."""
        if any(kind == "batch" for kind, _ in self.stages):
            raise ConfigError(
                "a dataset with a batch() stage cannot be batched again",
                hint="drop .batch() and pass batch_size to torch() / tensorflow() / batches()",
            )
        fn = _SampleStages(self.sample_type, self.stages) if self.stages else None
        return BatchReader(self.source, plan, fn, keys=keys)

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        epoch: int = 0,
        window: int = 1,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        start: int = 0,
        keys: bool = False,
    ) -> Iterator[Batch]:
        """Columnar NumPy batches of one epoch, in process (see :class:`EpochPlan` for the arguments)."""
        plan = self.plan(
            batch_size,
            shuffle=shuffle,
            seed=seed,
            epoch=epoch,
            window=window,
            rank=rank,
            world_size=world_size,
            drop_last=drop_last,
        )
        self.skipped = 0
        for batch in self.reader(plan, keys=keys).read(range(start, plan.num_batches)):
            self.skipped += batch.skipped
            yield batch
        if self.skipped:
            warnings.warn(f"dataset {self.name!r}: skipped {self.skipped} bad samples", stacklevel=2)

    # ------------------------------------------------------------------ adapters
    def torch(self, batch_size: int = 256, **options: Any) -> Any:
        """A PyTorch DataLoader of tensor batches; see :func:`altakit.datasets.torch.loader`."""
        from altakit.datasets.torch import loader

        return loader(self, batch_size, **options)

    def tensorflow(self, batch_size: int = 256, **options: Any) -> Any:
        """A ``tf.data.Dataset`` of batches; see :func:`altakit.datasets.tensorflow.tf_dataset`."""
        from altakit.datasets.tensorflow import tf_dataset

        return tf_dataset(self, batch_size, **options)

    def tensorflow_loader(self, batch_size: int = 256, **options: Any) -> Any:
        """Resumable ``tf`` batches with ``state_dict()`` (:class:`~altakit.datasets.tensorflow.TFLoader`)."""
        from altakit.datasets.tensorflow import TFLoader

        return TFLoader(self, batch_size, **options)

    def to_polars(self) -> Any:
        """Scalar fields as a polars DataFrame (array fields are left out)."""
        from altakit.datasets.frames import to_polars

        return to_polars(self)

    def to_pandas(self) -> Any:
        """Scalar fields as a pandas DataFrame (array fields are left out)."""
        from altakit.datasets.frames import to_pandas

        return to_pandas(self)

    def verify(self) -> dict[str, Any]:
        """Re-read every shard; see :func:`altakit.datasets.verify.verify`."""
        from altakit.datasets.verify import verify

        return verify(self)


def _importable(cls: type) -> bool:
    import importlib

    try:
        return getattr(importlib.import_module(cls.__module__), cls.__qualname__, None) is cls
    except ImportError:
        return False


class _SampleStages:
    """Build typed samples of one batch and run the map / filter stages (picklable)."""

    def __init__(self, cls: type, stages: tuple[Stage, ...]) -> None:
        self.cls, self.stages = cls, stages

    def __getstate__(self) -> dict[str, Any]:
        cls = self.cls
        return {"cls": cls if _importable(cls) else schema_of(cls).to_doc(), "stages": self.stages}

    def __setstate__(self, state: dict[str, Any]) -> None:
        cls = state["cls"]
        self.cls = build_type(cls) if isinstance(cls, dict) else cls
        self.stages = state["stages"]

    def __call__(self, items: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, Any]]:
        out = []
        for key, values in items:
            x = self.cls(**values)
            for kind, fn in self.stages:
                if kind == "map":
                    x = fn(x)
                elif not fn(x):
                    break
            else:
                out.append((key, x))
        return out


def _map(src: Iterator[Any], fn: Callable[[Any], Any]) -> Iterator[Any]:
    for x in src:
        yield fn(x)


def _filter(src: Iterator[Any], predicate: Callable[[Any], bool]) -> Iterator[Any]:
    for x in src:
        if predicate(x):
            yield x


def _batch(src: Iterator[Any], size: int) -> Iterator[Batch]:
    buf: list[Any] = []
    for x in src:
        buf.append(x)
        if len(buf) == size:
            yield collate(buf)
            buf = []
    if buf:
        yield collate(buf)


#: Stage kinds to generator functions ``(source, argument) -> iterator``.
STAGES: dict[str, Callable[[Iterator[Any], Any], Iterator[Any]]] = {
    "map": _map,
    "filter": _filter,
    "batch": _batch,
}
