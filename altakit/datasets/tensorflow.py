"""TensorFlow adapter: a ``tf.data.Dataset`` of whole batches with a correct ``element_spec``.

Batches are decoded columnar in a generator (the same :class:`EpochPlan` as the
PyTorch adapter, so both deliver identical values for the same arguments).
Array fields become ``(batch, *shape)`` tensors (``None`` for dimensions the
schema leaves open), ``int`` → ``int64``, ``float`` → ``float64``, ``bool`` →
``bool``, ``str`` / ``bytes`` → ``string``.

:class:`TFLoader` is the resumable form: each pass over it is one epoch, and
``state_dict()`` / ``load_state_dict()`` work as on the PyTorch loader (the
state is the same, so either resumes the other).

Example:
    >>> tfds = ds.tensorflow(batch_size=256, shuffle=True, seed=0)  # doctest: +SKIP
    >>> tfds.element_spec["image"]  # doctest: +SKIP
    TensorSpec(shape=(None, 3, 32, 32), dtype=tf.uint8, name='image')
    >>> loader = ds.tensorflow_loader(256, seed=0)  # doctest: +SKIP
    >>> state = loader.state_dict()  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from altakit.datasets.plan import check_resume, loader_state, resume_point
from altakit.datasets.samples import SampleSchema
from altakit.errors import ConfigError, DataError

_SCALAR_DTYPES = {"int": tf.int64, "float": tf.float64, "bool": tf.bool, "str": tf.string, "bytes": tf.string}


def element_spec(
    schema: SampleSchema, batch_size: int | None = None, *, keys: bool = False
) -> dict[str, tf.TensorSpec]:
    """The ``element_spec`` of batches of ``schema`` (batch dimension ``batch_size`` or ``None``)."""
    spec: dict[str, tf.TensorSpec] = {}
    for f in schema.fields:
        if f.kind == "array":
            if f.dtype is None or f.shape is None:
                raise ConfigError(
                    f"field {f.name!r} has no declared dtype and shape; TensorFlow needs them",
                    field=f.name,
                    hint="declare it as Annotated[np.ndarray, Array('uint8', (3, 32, 32))]",
                )
            spec[f.name] = tf.TensorSpec((batch_size, *f.shape), tf.as_dtype(np.dtype(f.dtype)), name=f.name)
        else:
            spec[f.name] = tf.TensorSpec((batch_size,), _SCALAR_DTYPES[f.kind], name=f.name)
    if keys:
        spec["__key__"] = tf.TensorSpec((batch_size,), tf.string, name="__key__")
    return spec


def tf_dataset(
    dataset: Any,
    batch_size: int = 256,
    *,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    window: int = 1,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool = False,
    start: int = 0,
    offset: int = 0,
    keys: bool = False,
    prefetch: int | None = None,
    _log: Callable[[tuple[int, int, bool]], None] | None = None,
) -> tf.data.Dataset:
    """One epoch of batches as a ``tf.data.Dataset`` (:class:`TFLoader` adds resumable state).

    Args:
        dataset: An altakit Dataset (without a ``batch()`` stage; map stages must keep the schema).
        batch_size: Samples per batch.
        shuffle: Shuffle (order depends on ``seed`` and ``epoch`` only).
        seed: Shuffle seed.
        epoch: Which epoch's order.
        window: Shards whose samples are mixed together.
        rank: This replica (``InputContext.input_pipeline_id`` with tf.distribute).
        world_size: Number of replicas (``InputContext.num_input_pipelines``).
        drop_last: Equal numbers of full batches per replica; the batch dimension is then fixed.
        start: First local batch (resume after ``start`` delivered batches).
        offset: Global batches delivered before by ranks of another world size
            (:mod:`altakit.datasets.plan`).
        keys: Add each sample's key as ``"__key__"``.
        prefetch: ``tf.data`` prefetch depth (default AUTOTUNE).

    Example:
        >>> tfds = tf_dataset(ds, 128, seed=3)  # doctest: +SKIP
    """
    schema = dataset._current_schema()
    spec = element_spec(schema, batch_size if drop_last else None, keys=keys)
    plan_options = {
        "shuffle": shuffle,
        "seed": seed,
        "epoch": epoch,
        "window": window,
        "rank": rank,
        "world_size": world_size,
        "drop_last": drop_last,
        "offset": offset,
    }
    dataset.reader(dataset.plan(batch_size, **plan_options))  # fail early on a bad pipeline

    def generate() -> Iterator[dict[str, Any]]:
        plan = dataset.plan(batch_size, **plan_options)
        for batch in dataset.reader(plan, keys=keys).read(range(start, plan.num_batches)):
            if _log is not None:  # (batch index, samples skipped, handed out), before it is
                _log((batch.index, batch.skipped, batch.size > 0))
            if batch.size == 0:
                continue
            yield {name: _column(name, batch[name], spec[name]) for name in spec}

    out = tf.data.Dataset.from_generator(generate, output_signature=spec)
    return out.prefetch(tf.data.AUTOTUNE if prefetch is None else prefetch)


class TFLoader:
    """Resumable ``tf`` batches: each pass is one epoch; it counts the batches it hands out.

    Args:
        dataset: An altakit Dataset.
        batch_size: Samples per batch.
        epoch: First epoch.
        **options: ``shuffle``, ``seed``, ``window``, ``rank``, ``world_size``, ``drop_last``,
            ``keys``, ``prefetch`` (see :func:`tf_dataset`).

    Use it in a custom training loop (``for batch in loader``), or give Keras
    :meth:`tf_data` (the rest of the current epoch as a ``tf.data.Dataset``).

    Example:
        >>> loader = TFLoader(ds, 128, seed=3)  # doctest: +SKIP
        >>> first = next(iter(loader))  # doctest: +SKIP
        >>> loader.state_dict()["batches"]  # doctest: +SKIP
        1
    """

    def __init__(self, dataset: Any, batch_size: int = 256, *, epoch: int = 0, **options: Any) -> None:
        unknown = set(options) - {
            "shuffle",
            "seed",
            "window",
            "rank",
            "world_size",
            "drop_last",
            "keys",
            "prefetch",
        }
        if unknown:
            raise ConfigError(
                f"unknown TFLoader options {sorted(unknown)}", hint="see altakit.datasets.tensorflow"
            )
        defaults = {"shuffle": True, "seed": 0, "window": 1, "rank": 0, "world_size": 1, "drop_last": False}
        self.dataset, self.batch_size, self.options = dataset, batch_size, {**defaults, **options}
        self.epoch, self.delivered, self.skipped, self.offset = epoch, 0, 0, 0
        self.tf_data()  # fail early on a bad pipeline

    def tf_data(self, _log: Callable[[tuple[int, int, bool]], None] | None = None) -> tf.data.Dataset:
        """The rest of the current epoch as a ``tf.data.Dataset`` (not counted by :meth:`state_dict`)."""
        return tf_dataset(
            self.dataset, self.batch_size, epoch=self.epoch, start=self.delivered, offset=self.offset,
            _log=_log, **self.options,
        )  # fmt: skip

    def __len__(self) -> int:
        plan = self.dataset.plan(
            self.batch_size, epoch=self.epoch, offset=self.offset, **_plan_options(self.options)
        )
        return int(plan.num_batches)

    def __iter__(self) -> Iterator[dict[str, tf.Tensor]]:
        if self.delivered == 0:
            self.skipped = 0
        log: collections.deque[tuple[int, int, bool]] = collections.deque()
        for batch in self.tf_data(log.append):
            self._count(log, upto_handed_out=True)
            yield batch
        self._count(log, upto_handed_out=False)  # trailing batches left empty
        if self.skipped:
            warnings.warn(
                f"dataset {self.dataset.name!r}, epoch {self.epoch}: skipped {self.skipped} bad samples",
                stacklevel=2,
            )
        self.epoch, self.delivered, self.offset = self.epoch + 1, 0, 0

    def _count(self, log: collections.deque[tuple[int, int, bool]], upto_handed_out: bool) -> None:
        while log:
            index, skipped, handed_out = log.popleft()
            self.delivered, self.skipped = index + 1, self.skipped + skipped
            if handed_out and upto_handed_out:
                return

    def state_dict(self) -> dict[str, Any]:
        """Where the loader stands (the same state as the PyTorch loader's)."""
        return loader_state(
            self.dataset,
            self.batch_size,
            {**self.options, "offset": self.offset},
            self.epoch,
            self.delivered,
            self.skipped,
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume after the last batch that ``state`` recorded as delivered (on any world size)."""
        check_resume(state, self.state_dict())
        self.epoch = int(state["epoch"])
        self.offset, self.delivered = resume_point(state, int(self.options["world_size"]))
        self.skipped = int(state.get("skipped", 0))


def _plan_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in ("keys", "prefetch")}


def _column(name: str, col: Any, spec: tf.TensorSpec) -> Any:
    if isinstance(col, np.ndarray):
        return col
    if spec.dtype == tf.string:
        return np.array([v.encode() if isinstance(v, str) else v for v in col], dtype=object)
    if any(v is None for v in col):
        raise DataError(f"field {name!r} holds None, which TensorFlow cannot batch", field=name)
    try:
        return np.stack(col)
    except ValueError as exc:
        raise DataError(f"field {name!r} has samples of different shapes in one batch", field=name) from exc
