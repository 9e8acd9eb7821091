"""Scalar fields of a dataset as polars or pandas frames.

Example:
    >>> ds.to_polars().columns  # doctest: +SKIP
    ['label', 'source']
"""

from __future__ import annotations

from typing import Any

import numpy as np

FRAME_BATCH = 65_536


def columns(dataset: Any) -> dict[str, list[Any]]:
    """The scalar columns of every sample, in manifest order (arrays are left out)."""
    names = [f.name for f in dataset.schema.fields if f.kind != "array"]
    parts: dict[str, list[Any]] = {n: [] for n in names}
    for batch in dataset.batches(FRAME_BATCH):
        for n in names:
            parts[n].append(batch[n])
    out: dict[str, list[Any]] = {}
    for n, chunks in parts.items():
        values: list[Any] = []
        for c in chunks:
            values.extend(c.tolist() if isinstance(c, np.ndarray) else c)
        out[n] = values
    return out


def to_polars(dataset: Any) -> Any:
    """A polars DataFrame of the scalar fields."""
    import polars as pl

    return pl.DataFrame(columns(dataset))


def to_pandas(dataset: Any) -> Any:
    """A pandas DataFrame of the scalar fields."""
    import pandas as pd

    return pd.DataFrame(columns(dataset))
