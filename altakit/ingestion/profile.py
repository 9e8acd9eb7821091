"""Profiles, drift and estimates.

:func:`profile` gives per-column statistics (rows, nulls, min, max, mean,
quartiles, top values); :func:`drift` compares two frames column by column with
the population stability index (PSI, on deciles of the reference) and the
two-sample Kolmogorov–Smirnov statistic for numeric columns, PSI over category
shares for text. Rule of thumb: PSI < 0.1 stable, 0.1–0.25 moderate, > 0.25 a
shift worth retraining for. :func:`estimate` sizes a job from a sample of its
input before it starts.

Example:
    >>> import polars as pl
    >>> a = pl.DataFrame({"x": [float(i) for i in range(1000)]})
    >>> drift(a, a)["x"]["psi"]
    0.0
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from altakit.ingestion.job import IngestSpec
    from altakit.ingestion.readers import SourceFile
    from altakit.store.base import Store

_EPS = 1e-6


def profile(df: pl.DataFrame, *, top: int = 5) -> dict[str, dict[str, Any]]:
    """Statistics per column of ``df``.

    Example:
        >>> import polars as pl
        >>> profile(pl.DataFrame({"x": [1, 2, None]}))["x"]["nulls"]
        1
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
            stats["top"] = {str(v): int(n) for v, n in counts.iter_rows()}
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
        if name not in current.columns or name.startswith("_"):
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
    """Profile of a dataset version (``"sensors@2"``)."""
    from altakit.datasets.tables import read_table

    return profile(read_table(spec, store=store))


def drift_tables(reference: str, current: str, *, store: Store | None = None) -> dict[str, dict[str, Any]]:
    """Drift between two dataset versions, e.g. ``drift_tables("sensors@1", "sensors@2")``."""
    from altakit.datasets.tables import read_table

    return drift(read_table(reference, store=store), read_table(current, store=store))


#: A job's wall time over the timed sample run's, scaled to the input's bytes: a job also pays for
#: fresh memory block after block, spills past its budget and writes. Measured with
#: ``bench/bench_ingest.py`` on a 2-core machine: 0.88 (10 M rows in memory, and 5 GB spilled).
JOB_OVER_SAMPLE = 0.9


def estimate(
    files: Sequence[SourceFile], spec: IngestSpec, *, sample_bytes: int = 16 * 1024 * 1024
) -> dict[str, Any]:
    """Rows, bytes and expected seconds for ``files``, from a sample of the first one.

    The sample (one read block) is processed by the local engine as the job would process it
    (read, typed, put in series order, cleaned), twice: the first run warms up, the second is
    timed. Rows scale with bytes; time with bytes, times :data:`JOB_OVER_SAMPLE`.

    Example:
        >>> estimate(files, IngestSpec())  # doctest: +SKIP
        {'files': 1, 'bytes': 354392033, 'rows': 10000122, 'seconds': 3.9, ...}
    """
    from altakit.ingestion import readers
    from altakit.ingestion.engines.local import process
    from altakit.ingestion.schema import plan

    total = sum(f.path.stat().st_size for f in files)
    if not files:
        return {"files": 0, "bytes": 0, "rows": 0, "seconds": 0.0}
    first = files[0]
    with open(first.path, "rb") as f:
        head = f.read(sample_bytes)
    cut = head.rfind(b"\n") + 1 if len(head) == sample_bytes else len(head)
    sample_path = first.path.with_name(first.path.name + ".sample")
    sample_path.write_bytes(head[:cut] or head)
    sample = [readers.SourceFile(first.name, sample_path, "", cut)]

    def decide(observed: Any) -> Any:
        return plan(None, observed, "add_new_columns")

    try:
        warm = process(
            sample, spec, decide, None
        )  # its rows stay held while the timed run goes, as a job's do
        started = time.perf_counter()
        timed = process(sample, spec, decide, None)
        seconds = time.perf_counter() - started
        warm.close()
        timed.close()
    finally:
        sample_path.unlink(missing_ok=True)
    scale = total / max(cut, 1)
    return {
        "files": len(files),
        "bytes": total,
        "rows": int(timed.rows_in * scale),
        "seconds": round(seconds * scale * JOB_OVER_SAMPLE, 1),
        "sample_bytes": cut,
        "sample_rows": timed.rows_in,
    }
