"""Profiles and drift of dataset tables.

:func:`profile` gives per-column statistics (rows, nulls, min, max, mean,
quartiles, top values cut to :data:`VALUE_CHARS` characters); :func:`drift`
compares two frames column by column with
the population stability index (PSI, on deciles of the reference) and the
two-sample Kolmogorov–Smirnov statistic for numeric columns, PSI over category
shares for text. Rule of thumb: PSI < 0.1 stable, 0.1–0.25 moderate, > 0.25 a
shift worth retraining for. :func:`profile_table` and :func:`drift_tables` do
the same for dataset versions (``"sensors@2"``, :func:`~altakit.datasets.tables.read_table`).

Example:
    >>> import polars as pl
    >>> a = pl.DataFrame({"x": [float(i) for i in range(1000)]})
    >>> drift(a, a)["x"]["psi"]
    0.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from altakit.datasets.internal import is_internal
from altakit.datasets.tables import read_table
from altakit.store import open_store

if TYPE_CHECKING:
    import polars as pl

    from altakit.store.base import Store

_EPS = 1e-6
#: Characters of a value a profile quotes (a top value): profiles are shown and may be stored.
VALUE_CHARS = 40


def _shorten(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars] + "…"


def profile(df: pl.DataFrame, *, top: int = 5, chars: int = VALUE_CHARS) -> dict[str, dict[str, Any]]:
    """Statistics per column of ``df``; a top value is cut to ``chars`` characters (``…`` marks the cut).

    Example:
        >>> import polars as pl
        >>> profile(pl.DataFrame({"x": [1, 2, None]}))["x"]["nulls"]
        1
        >>> profile(pl.DataFrame({"s": ["y" * 50]}), chars=3)["s"]["top"]
        {'yyy…': 1}
    """
    import polars as pl

    out: dict[str, dict[str, Any]] = {}
    for name, dtype in df.schema.items():
        s = df.get_column(name)
        stats: dict[str, Any] = {"type": str(dtype), "rows": s.len(), "nulls": s.null_count()}
        values = s.drop_nulls()
        if dtype.is_numeric() and values.len():
            f = values.cast(pl.Float64)
            stats.update(
                min=f.min(),
                max=f.max(),
                mean=f.mean(),
                std=f.std(),
                quantiles={str(q): f.quantile(q) for q in (0.05, 0.25, 0.5, 0.75, 0.95)},
            )
        elif dtype.is_temporal() and values.len():
            stats.update(min=str(values.min()), max=str(values.max()))
        if not dtype.is_numeric() and values.len():
            counts = values.cast(pl.String).value_counts(sort=True).head(top)
            stats["top"] = {}
            for v, n in counts.iter_rows():
                key = _shorten(str(v), chars)
                stats["top"][key] = stats["top"].get(key, 0) + int(n)
            stats["distinct"] = values.n_unique()
        out[name] = stats
    return out


def _psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, _EPS), max(a, _EPS)
        total += (a - e) * math.log(a / e)
    return round(total, 6)


def _ks(a: Any, b: Any) -> float:
    import numpy as np

    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return round(float(np.max(np.abs(cdf_a - cdf_b))), 6)


def drift(reference: pl.DataFrame, current: pl.DataFrame, *, bins: int = 10) -> dict[str, dict[str, Any]]:
    """PSI (and KS for numeric columns) per column present in both frames.

    Returns:
        Column → ``{"psi": …, "ks": …, "kind": "numeric" | "categorical"}``.
    """
    import numpy as np
    import polars as pl

    out: dict[str, dict[str, Any]] = {}
    for name in reference.columns:
        if name not in current.columns or is_internal(name):
            continue
        ref, cur = reference.get_column(name).drop_nulls(), current.get_column(name).drop_nulls()
        if ref.len() == 0 or cur.len() == 0:
            continue
        if ref.dtype.is_numeric() and cur.dtype.is_numeric():
            r, c = ref.cast(pl.Float64).to_numpy(), cur.cast(pl.Float64).to_numpy()
            edges = np.unique(np.quantile(r, np.linspace(0, 1, bins + 1)[1:-1]))
            e = np.bincount(np.searchsorted(edges, r, side="right"), minlength=len(edges) + 1) / r.size
            a = np.bincount(np.searchsorted(edges, c, side="right"), minlength=len(edges) + 1) / c.size
            out[name] = {"kind": "numeric", "psi": _psi(e.tolist(), a.tolist()), "ks": _ks(r, c)}
        else:
            rs = ref.cast(pl.String).value_counts()
            cs = cur.cast(pl.String).value_counts()
            rmap = {v: n / ref.len() for v, n in rs.iter_rows()}
            cmap = {v: n / cur.len() for v, n in cs.iter_rows()}
            keys = sorted(set(rmap) | set(cmap))
            psi = _psi([rmap.get(k, 0.0) for k in keys], [cmap.get(k, 0.0) for k in keys])
            out[name] = {"kind": "categorical", "psi": psi, "ks": None}
    return out


def profile_table(spec: str, *, store: Store | None = None) -> dict[str, dict[str, Any]]:
    """Profile of a dataset version (``"sensors@2"``; the store defaults to the project store)."""
    return profile(read_table(spec, store=store))


def drift_tables(reference: str, current: str, *, store: Store | None = None) -> dict[str, dict[str, Any]]:
    """Drift between two dataset versions, e.g. ``drift_tables("sensors@1", "sensors@2")``."""
    store = open_store(store)
    return drift(read_table(reference, store=store), read_table(current, store=store))
