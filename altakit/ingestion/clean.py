"""Cleaning steps: resampling, outliers, measurement failures, gaps.

Every step is a small dataclass with ``apply(frame, ctx) -> (frame, StepReport)``;
the report says what changed (cells per column, rows before and after), so a
notebook, a panel and the catalog show the same numbers. Steps that reject
whole rows (``action="quarantine"``) hand them to ``ctx.reject`` with a reason;
nothing disappears unaccounted. Steps are built from plain dicts
(:func:`build_step`), the form a YAML spec uses::

    steps:
      - {step: failures, ranges: {value: [-50, 150]}, stuck: 5, spike: 40}
      - {step: outliers, method: hampel, threshold: 3, window: 7}
      - {step: fill_gaps, max_gap: 3}
      - {step: resample, rule: 15min, how: mean}

Datetime detection and parsing live in :mod:`altakit.ingestion.datetimes`.

Example:
    >>> import polars as pl
    >>> df = pl.DataFrame({"x": [1.0, 1.0, 50.0, 1.0, 1.0]})
    >>> out, report = Failures(spike=10).apply(df, Context())
    >>> report.changed
    {'x': 1}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from altakit.datasets.internal import is_internal
from altakit.errors import ConfigError
from altakit.ingestion.order import sort_series

if TYPE_CHECKING:
    import polars as pl


@dataclass
class StepReport:
    """What one step changed.

    Attributes:
        step: The step's name.
        changed: Cells changed (nulled, filled …) per column.
        rows_before: Rows the step received.
        rows_after: Rows it returned.
        detail: Step-specific counts (e.g. per failure kind).
    """

    step: str
    changed: dict[str, int] = field(default_factory=dict)
    rows_before: int = 0
    rows_after: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data."""
        return asdict(self)


#: The column numbering the series of presorted rows (:func:`number_series`).
SERIES = "__series"


@dataclass
class Context:
    """What steps share: the time column, the series key, and where rejected rows go.

    Attributes:
        time: The time column (needed by resample and duration gaps).
        by: Columns that identify one series (e.g. ``["sensor"]``).
        reject: Called with ``(rows, reason)`` for rows a step removes.
        presorted: Rows are already sorted by ``by`` and ``time`` (:func:`sort_series`).
        series: A column numbering the series of presorted rows (:func:`number_series`); per-series
            windows use it instead of ``by`` (one integer hashes faster than the key's columns).
    """

    time: str | None = None
    by: list[str] = field(default_factory=list)
    reject: Callable[[pl.DataFrame, str], None] | None = None
    presorted: bool = False
    series: str | None = None

    @property
    def groups(self) -> list[str]:
        """The columns per-series windows group by: ``series`` if set, else ``by``."""
        return [self.series] if self.series else list(self.by)


# ---------------------------------------------------------------- helpers
def _numeric(df: pl.DataFrame, columns: Sequence[str] | None, ctx: Context) -> list[str]:
    if columns:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ConfigError(f"cleaning step names unknown columns {missing}", columns=missing)
        return list(columns)
    skip = {ctx.time, ctx.series, *ctx.by}
    return [c for c, t in df.schema.items() if t.is_numeric() and c not in skip and not is_internal(c)]


def _over(expr: pl.Expr, ctx: Context) -> pl.Expr:
    return expr.over(ctx.groups) if ctx.by else expr


def number_series(df: pl.DataFrame, ctx: Context, name: str = SERIES) -> pl.DataFrame:
    """Add ``name``, numbering the series of rows sorted by series, and set ``ctx.series`` to it.

    Example:
        >>> import polars as pl
        >>> ctx = Context(by=["s"], presorted=True)
        >>> number_series(pl.DataFrame({"s": ["a", "a", "b"]}), ctx).get_column("__series").to_list()
        [0, 0, 1]
    """
    import polars as pl

    if not ctx.by or not ctx.presorted or any(c not in df.columns for c in ctx.by):
        return df
    ctx.series = name
    if name in df.columns:  # numbered as the rows were put in order (SeriesBlocks.frame)
        return df
    key = pl.col(ctx.by[0]) if len(ctx.by) == 1 else pl.struct(ctx.by)
    return df.with_columns(key.rle_id().alias(name))


def _sorted(df: pl.DataFrame, ctx: Context) -> pl.DataFrame:
    return df if ctx.presorted else sort_series(df, ctx)


def _null_where(df: pl.DataFrame, masks: dict[str, pl.Expr]) -> tuple[pl.DataFrame, dict[str, int]]:
    import polars as pl

    if not masks:
        return df, {}
    flags = df.select(m.fill_null(False).alias(c) for c, m in masks.items())
    counts = {c: int(flags.get_column(c).sum()) for c in masks}
    out = df.with_columns(
        pl.when(flags.get_column(c)).then(None).otherwise(pl.col(c)).alias(c) for c in masks
    )
    return out, counts


# ---------------------------------------------------------------- steps
@dataclass
class Outliers:
    """Outlier removal per series: ``zscore``, ``iqr`` or ``hampel``.

    Attributes:
        method: ``"zscore"`` (\\|x-mean\\|/std > threshold), ``"iqr"`` (beyond threshold × IQR
            outside the quartiles) or ``"hampel"`` (\\|x-rolling median\\| > threshold × 1.4826 × MAD).
        threshold: See ``method`` (defaults 3, 1.5, 3).
        window: Hampel window in rows (odd).
        columns: Numeric columns (default: all numeric).
        action: ``"null"`` (blank the value; interpolate later) or ``"quarantine"`` (reject the row).
    """

    method: str = "zscore"
    threshold: float | None = None
    window: int = 7
    columns: list[str] | None = None
    action: str = "null"
    name = "outliers"

    def apply(self, df: pl.DataFrame, ctx: Context) -> tuple[pl.DataFrame, StepReport]:
        """Apply the step."""
        import polars as pl

        if self.method not in ("zscore", "iqr", "hampel"):
            raise ConfigError(f"unknown outlier method {self.method!r}", hint="zscore, iqr or hampel")
        df = _sorted(df, ctx)
        t = (
            self.threshold
            if self.threshold is not None
            else {"zscore": 3.0, "iqr": 1.5, "hampel": 3.0}[self.method]
        )
        masks = {}
        for c in _numeric(df, self.columns, ctx):
            x = pl.col(c).cast(pl.Float64)
            if self.method == "zscore":
                mask = ((x - _over(x.mean(), ctx)).abs() / _over(x.std(), ctx)) > t
            elif self.method == "iqr":
                q1, q3 = _over(x.quantile(0.25), ctx), _over(x.quantile(0.75), ctx)
                mask = (x < q1 - t * (q3 - q1)) | (x > q3 + t * (q3 - q1))
            else:
                med = _over(x.rolling_median(self.window, center=True, min_samples=1), ctx)
                dev = (x - med).abs()
                mad = _over(dev.rolling_median(self.window, center=True, min_samples=1), ctx)
                mask = dev > t * 1.4826 * mad
                mask = mask & (dev > 0)
            masks[c] = mask
        report = StepReport(f"outliers:{self.method}", rows_before=df.height)
        if self.action == "quarantine":
            if masks:
                hit = df.select(pl.any_horizontal(m.fill_null(False) for m in masks.values())).to_series()
            else:
                hit = pl.repeat(False, df.height, eager=True)
            if ctx.reject is not None and hit.any():
                ctx.reject(df.filter(hit), f"outlier ({self.method})")
            report.detail["rows_quarantined"] = int(hit.sum())
            df = df.filter(~hit)
        elif self.action == "null":
            df, report.changed = _null_where(df, masks)
        else:
            raise ConfigError(f"unknown outlier action {self.action!r}", hint="null or quarantine")
        report.rows_after = df.height
        return df, report


@dataclass
class Failures:
    """Measurement-failure elimination: stuck values, out-of-range values and spikes become null.

    Attributes:
        stuck: A run of at least this many identical consecutive values is stuck (the first is kept).
        ranges: Column → ``[low, high]``; values outside are nulled (``None`` leaves a side open).
        spike: A value that jumps more than this from both neighbours, in the same direction.
        columns: Numeric columns for ``stuck`` and ``spike`` (default: all numeric).
    """

    stuck: int | None = None
    ranges: dict[str, Sequence[float | None]] = field(default_factory=dict)
    spike: float | None = None
    columns: list[str] | None = None
    name = "failures"

    def apply(self, df: pl.DataFrame, ctx: Context) -> tuple[pl.DataFrame, StepReport]:
        """Apply the step."""
        import polars as pl

        df = _sorted(df, ctx)
        report = StepReport("failures", rows_before=df.height, rows_after=df.height)
        kinds: dict[str, dict[str, int]] = {"range": {}, "stuck": {}, "spike": {}}
        masks: dict[str, pl.Expr] = {}
        checked = _numeric(df, self.columns, ctx)  # the columns stuck and spike look at
        for c, bounds in self.ranges.items():
            if c not in df.columns:
                raise ConfigError(f"range names unknown column {c!r}", column=c)
            lo, hi = [*bounds, None, None][:2]
            mask = pl.lit(False)
            if lo is not None:
                mask = mask | (pl.col(c) < lo)
            if hi is not None:
                mask = mask | (pl.col(c) > hi)
            masks[c] = mask
            if c in checked and (self.stuck or self.spike is not None):  # else counted with the others
                kinds["range"][c] = int(df.select(mask.fill_null(False).sum()).item())
        for c in checked:
            x = pl.col(c)
            if self.stuck:
                run = _over(x.rle_id(), ctx)
                keys = [*ctx.groups, "__run"]
                size = pl.len().over(keys)
                first = pl.int_range(pl.len()).over(keys) == 0
                stuck = df.with_columns(run.alias("__run")).select(
                    (size >= self.stuck) & ~first & x.is_not_null()
                )
                flag = stuck.to_series()
                kinds["stuck"][c] = int(flag.sum())
                masks[c] = masks.get(c, pl.lit(False)) | pl.lit(flag)
            if self.spike is not None:
                d1 = x - _over(x.shift(1), ctx)
                d2 = x - _over(x.shift(-1), ctx)
                spike = (d1.abs() > self.spike) & (d2.abs() > self.spike) & (d1.sign() == d2.sign())
                kinds["spike"][c] = int(df.select(spike.fill_null(False).sum()).item())
                masks[c] = masks.get(c, pl.lit(False)) | spike
        df, report.changed = _null_where(df, masks)
        for c in self.ranges:
            kinds["range"].setdefault(c, report.changed[c])
        report.detail = {k: v for k, v in kinds.items() if v}
        return df, report


@dataclass
class FillGaps:
    """Interpolate missing values inside a series, up to a maximum gap.

    Attributes:
        max_gap: Longest gap filled: a number of missing rows, or a duration (``"30min"``) between the
            values on either side (needs the context's time column).
        method: ``"linear"`` (by time when there is a time column) or ``"forward"``.
        columns: Numeric columns (default: all numeric).
    """

    max_gap: int | str = 3
    method: str = "linear"
    columns: list[str] | None = None
    name = "fill_gaps"

    def apply(self, df: pl.DataFrame, ctx: Context) -> tuple[pl.DataFrame, StepReport]:
        """Apply the step."""
        import polars as pl

        if self.method not in ("linear", "forward"):
            raise ConfigError(f"unknown gap method {self.method!r}", hint="linear or forward")
        if isinstance(self.max_gap, str) and not ctx.time:
            raise ConfigError("a duration max_gap needs a time column", hint="set time: in the spec")
        df = _sorted(df, ctx)
        report = StepReport("fill_gaps", rows_before=df.height, rows_after=df.height)
        columns = _numeric(df, self.columns, ctx)
        # numbered (contiguous) series and a complete time column: only the null rows need a look
        if self.method == "linear" and ctx.series and ctx.time and not df.get_column(ctx.time).null_count():
            filled = [self._between(df, c, ctx) for c in columns]
            report.changed = {c: n for c, (_, n) in zip(columns, filled, strict=True)}
            return df.with_columns(col for col, n in filled if n), report
        marks = []
        for i, c in enumerate(columns):
            x = pl.col(c)
            values, ok = self._per_series(x, ctx)
            fill = x.is_null() & ok.fill_null(False) & values.is_not_null()
            marks += [fill.alias(f"__fill{i}"), values.cast(df.schema[c]).alias(f"__value{i}")]
        if marks:  # masks and values computed once, then counted and applied
            flags = df.select(marks)
            for i, c in enumerate(columns):
                report.changed[c] = int(flags.get_column(f"__fill{i}").sum())
            df = df.with_columns(
                pl.when(flags.get_column(f"__fill{i}"))
                .then(flags.get_column(f"__value{i}"))
                .otherwise(pl.col(c))
                .alias(c)
                for i, c in enumerate(columns)
            )
        return df, report

    def _between(self, df: pl.DataFrame, c: str, ctx: Context) -> tuple[pl.Series, int]:
        """Column ``c`` with its nulls filled linearly between the values around each run of nulls.

        Series are contiguous and numbered (:func:`number_series`), so a run of nulls lies inside
        its series iff the rows just before and after it are of the same series; only the null
        rows are looked at. The value is ``interpolate_by``'s, bit for bit (the same operations in
        the same order). Returns the column and how many values were filled.
        """
        import datetime as dt

        import numpy as np
        import polars as pl

        y = df.get_column(c)
        at = np.flatnonzero(y.is_null().to_numpy())
        if not len(at):
            return y, 0
        first = np.ones(len(at), dtype=bool)  # the first null of each run
        np.not_equal(np.diff(at), 1, out=first[1:])
        run = np.cumsum(first) - 1
        before = at[first][run] - 1
        after = at[np.append(first[1:], True)][run] + 1
        inside = (before >= 0) & (after < df.height)
        at, before, after = at[inside], before[inside], after[inside]
        sid = df.get_column(str(ctx.series)).to_numpy()
        ok = (sid[before] == sid[at]) & (sid[after] == sid[at])
        time = df.get_column(str(ctx.time))
        if isinstance(self.max_gap, str):
            span = time.gather(after) - time.gather(before)
            ok &= (span <= dt.timedelta(**_duration(self.max_gap))).to_numpy()
        else:
            ok &= after - before - 1 <= self.max_gap
        at, before, after = at[ok], before[ok], after[ok]
        t = time.to_physical()
        t, t0, t1 = (t.gather(i).cast(pl.Float64) for i in (at, before, after))
        y0, y1 = y.gather(before).cast(pl.Float64), y.gather(after).cast(pl.Float64)
        values = (y0 + (t - t0) * ((y1 - y0) / (t1 - t0))).cast(y.dtype)
        keep = values.is_not_null().to_numpy()
        n = int(keep.sum())
        return (y.scatter(at[keep], values.filter(keep)) if n else y), n

    def _per_series(self, x: pl.Expr, ctx: Context) -> tuple[pl.Expr, pl.Expr]:
        """The fill and where it applies, with windows over each series."""
        import polars as pl

        if self.method == "linear":
            filled = x.interpolate_by(ctx.time) if ctx.time else x.cast(pl.Float64).interpolate()
        else:
            filled = x.forward_fill()
        filled = _over(filled, ctx)
        if isinstance(self.max_gap, str):
            t = pl.col(str(ctx.time))
            prev_t = _over(pl.when(x.is_not_null()).then(t).forward_fill(), ctx)
            next_t = _over(pl.when(x.is_not_null()).then(t).backward_fill(), ctx)
            return filled, (next_t - prev_t) <= pl.duration(**_duration(self.max_gap))
        # runs of nulls (or values) within one series: rows are sorted by series, so a run
        # is a run of equal (series key, is null) in frame order
        null_run = (pl.struct([*ctx.groups, x.is_null()]) if ctx.by else x.is_null()).rle_id()
        ok = pl.len().over(null_run) <= self.max_gap
        if self.method == "linear":
            inner_prev = _over(x.forward_fill().is_not_null(), ctx)
            inner_next = _over(x.backward_fill().is_not_null(), ctx)
            ok = ok & inner_prev & inner_next
        return filled, ok


def _duration(text: str) -> dict[str, Any]:
    import re

    units = {
        "ms": "milliseconds",
        "s": "seconds",
        "min": "minutes",
        "m": "minutes",
        "h": "hours",
        "d": "days",
    }
    m = re.fullmatch(r"\s*(\d+)\s*(ms|s|min|m|h|d)\s*", text)
    if not m:
        raise ConfigError(f"bad duration {text!r}", hint="e.g. 30s, 15min, 2h, 1d")
    return {units[m.group(2)]: int(m.group(1))}


@dataclass
class Resample:
    """Resample each series to a fixed rule.

    Attributes:
        rule: Polars duration such as ``"15m"`` or ``"1h"`` (``"15min"`` is accepted too).
        how: ``"mean"`` (mean of each bucket; other columns take the first value), ``"linear"``
            (interpolated at grid points) or ``"nearest"`` (the nearest observation).
    """

    rule: str = "15m"
    how: str = "mean"
    name = "resample"

    def apply(self, df: pl.DataFrame, ctx: Context) -> tuple[pl.DataFrame, StepReport]:
        """Apply the step."""
        import polars as pl

        if not ctx.time:
            raise ConfigError("resample needs a time column", hint="set time: in the spec")
        if self.how not in ("mean", "linear", "nearest"):
            raise ConfigError(f"unknown resample method {self.how!r}", hint="mean, linear or nearest")
        rule = self.rule.replace("min", "m")
        _duration(self.rule if self.rule[-1:].isalpha() else self.rule + "s")
        before = df.height
        df = _sorted(df.drop(["_source", "_line"], strict=False), ctx)
        if df.get_column(ctx.time).null_count():
            df = df.filter(pl.col(ctx.time).is_not_null())
        nums = _numeric(df, None, ctx)
        others = [c for c in df.columns if c not in nums and c != ctx.time and c not in ctx.by]
        dtype = df.schema[ctx.time]
        aggs = [*(pl.col(c).mean() for c in nums), *(pl.col(c).first() for c in others)]
        if self.how == "mean" and isinstance(dtype, pl.Datetime) and dtype.time_zone in (None, "UTC"):
            # rows are sorted by series and time, so a window is a run of equal (series, window
            # start); the start is the time truncated to the rule, as group_by_dynamic's in UTC
            start = pl.col(ctx.time).dt.truncate(rule)
            run = (pl.struct([*ctx.groups, start]) if ctx.by else start).rle_id().alias("__run")
            keys = [*(pl.col(c).first() for c in ctx.by), start.first()]
            out = df.group_by(run, maintain_order=True).agg(*keys, *aggs).drop("__run")
        elif self.how == "mean":
            out = df.group_by_dynamic(ctx.time, every=rule, group_by=ctx.by or None).agg(*aggs)
        else:
            grid = df.group_by(ctx.by or pl.lit(0).alias("__g")).agg(
                pl.datetime_range(
                    pl.col(ctx.time).min().dt.truncate(rule), pl.col(ctx.time).max(), rule
                ).alias(ctx.time)
            )
            grid = grid.explode(ctx.time).drop("__g", strict=False).sort([*ctx.by, ctx.time])
            if self.how == "nearest":
                out = grid.join_asof(
                    df, on=ctx.time, by=ctx.by or None, strategy="nearest", check_sortedness=False
                )
            else:
                on = [*ctx.by, ctx.time]
                points = df.group_by(on, maintain_order=True).agg(
                    *(pl.col(c).cast(pl.Float64).mean() for c in nums), *(pl.col(c).first() for c in others)
                )
                on_grid = points.join(grid, on=on, how="semi")
                marked = pl.concat(
                    [
                        points.join(grid, on=on, how="anti").with_columns(pl.lit(False).alias("__grid")),
                        on_grid.with_columns(pl.lit(True).alias("__grid")),
                        grid.join(points, on=on, how="anti").with_columns(pl.lit(True).alias("__grid")),
                    ],
                    how="diagonal_relaxed",
                ).sort(on)
                interp = [_over(pl.col(c).interpolate_by(ctx.time), ctx).alias(c) for c in nums]
                fill = [_over(pl.col(c).forward_fill(), ctx).alias(c) for c in others]
                out = marked.with_columns(interp + fill).filter(pl.col("__grid")).drop("__grid")
        out = out.select(df.columns)
        return out, StepReport(
            f"resample:{self.how}", rows_before=before, rows_after=out.height, detail={"rule": rule}
        )


def merge_reports(groups: Sequence[Sequence[StepReport]]) -> list[StepReport]:
    """Add up the reports of the same steps run over several parts (series buckets, Spark groups)."""
    merged: list[StepReport] = []
    for reports in groups:
        for i, item in enumerate(reports):
            if i == len(merged):
                merged.append(StepReport(item.step))
            total = merged[i]
            total.rows_before += item.rows_before
            total.rows_after += item.rows_after
            for col, n in item.changed.items():
                total.changed[col] = total.changed.get(col, 0) + n
            _add(total.detail, item.detail)
    return merged


def _add(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict):
            _add(into.setdefault(key, {}), value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            into[key] = into.get(key, 0) + value
        else:
            into[key] = value


#: Why a step that changed nothing changed nothing, per step (what a person would try next).
NOTHING = {
    "outliers": "no value lies beyond the threshold; lower it to catch more",
    "failures": "no value is out of range, stuck or spiking",
    "fill_gaps": "no nulls to fill; missing timestamps are filled by Resample (linear or nearest)",
    # a mean keeps only the intervals that have readings: it cannot say whether a time is missing
    "resample:mean": "averaging adds no missing times; resample by linear or nearest to fill them",
    "resample": "the rows are on the resample grid already",
}


def explain(report: StepReport | dict[str, Any]) -> str | None:
    """Why ``report``'s step changed nothing (``None`` when it changed something).

    Example:
        >>> explain(StepReport("fill_gaps", rows_before=3, rows_after=3))
        'no nulls to fill; missing timestamps are filled by Resample (linear or nearest)'
        >>> explain(StepReport("resample:mean", rows_before=3, rows_after=3))
        'averaging adds no missing times; resample by linear or nearest to fill them'
        >>> explain(StepReport("fill_gaps", changed={"x": 1})) is None
        True
    """
    doc = report.to_dict() if isinstance(report, StepReport) else report
    if any(doc.get("changed", {}).values()) or doc.get("rows_before") != doc.get("rows_after"):
        return None
    step = str(doc.get("step"))
    return NOTHING.get(step) or NOTHING.get(step.split(":")[0])  # "outliers:hampel" → outliers


STEPS: dict[str, type] = {
    "outliers": Outliers,
    "failures": Failures,
    "fill_gaps": FillGaps,
    "resample": Resample,
}


def build_step(spec: dict[str, Any]) -> Outliers | Failures | FillGaps | Resample:
    """A step from its dict form, e.g. ``{"step": "outliers", "method": "iqr"}``.

    Raises:
        ConfigError: Unknown step or option.
    """
    spec = dict(spec)
    kind = spec.pop("step", None)
    if kind not in STEPS:
        raise ConfigError(f"unknown cleaning step {kind!r}", hint=f"one of {', '.join(STEPS)}")
    try:
        return STEPS[kind](**spec)
    except TypeError as exc:
        raise ConfigError(f"bad options for step {kind!r}: {exc}", step=kind) from exc
