"""TensorFlow adapter: a ``tf.data.Dataset`` of whole batches with a correct ``element_spec``.

Batches are decoded columnar in a generator (the same :class:`EpochPlan` as the
PyTorch adapter, so both deliver identical values for the same arguments).
Array fields become ``(batch, *shape)`` tensors (``None`` for dimensions the
schema leaves open), ``int`` → ``int64``, ``float`` → ``float64``, ``bool`` →
``bool``, ``str`` / ``bytes`` → ``string``.

Example:
    >>> tfds = ds.tensorflow(batch_size=256, shuffle=True, seed=0)  # doctest: +SKIP
    >>> tfds.element_spec["image"]  # doctest: +SKIP
    TensorSpec(shape=(None, 3, 32, 32), dtype=tf.uint8, name='image')
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from altakit.errors import ConfigError, DataError
from altakit.samples import Schema

_SCALAR_DTYPES = {"int": tf.int64, "float": tf.float64, "bool": tf.bool, "str": tf.string, "bytes": tf.string}


def element_spec(
    schema: Schema, batch_size: int | None = None, *, keys: bool = False
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
    keys: bool = False,
    prefetch: int | None = None,
) -> tf.data.Dataset:
    """One epoch of batches as a ``tf.data.Dataset``.

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
    }
    dataset.reader(dataset.plan(batch_size, **plan_options))  # fail early on a bad pipeline

    def generate() -> Iterator[dict[str, Any]]:
        plan = dataset.plan(batch_size, **plan_options)
        for batch in dataset.reader(plan, keys=keys).read(range(start, plan.num_batches)):
            if batch.size == 0:
                continue
            yield {name: _column(name, batch[name], spec[name]) for name in spec}

    out = tf.data.Dataset.from_generator(generate, output_signature=spec)
    return out.prefetch(tf.data.AUTOTUNE if prefetch is None else prefetch)


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
