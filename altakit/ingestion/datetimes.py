"""Datetimes in text columns: detect which formats a column uses, and parse them.

:func:`parse_datetimes` recognises ISO 8601 (with or without offset),
``yyyy-mm-dd HH:MM:SS.fff``, ``dd.mm.yyyy HH:MM``, ``mm/dd/yyyy``, and epoch
seconds or milliseconds, mixed within one column. Naive values are read in
``source_tz``; results are converted to ``tz`` (UTC by default).

Example:
    >>> import polars as pl
    >>> df = pl.DataFrame({"ts": ["01.02.2024 10:00", "2024-02-01T10:15:00Z", "soon"]})
    >>> out, bad, failures = parse_datetimes(df, {"ts": None})
    >>> failures
    {'ts': 1}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

#: Formats tried for text datetimes, most specific first (chrono syntax; ``%.f`` is optional).
DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
)
#: Values :func:`detect_formats` looks at (the first non-null ones).
FORMAT_SAMPLE = 2000
EPOCH_S = r"^-?\d{9,10}(\.\d+)?$"
EPOCH_MS = r"^-?\d{12,13}$"


def _aware(fmt: str) -> bool:
    return "%#z" in fmt or "%z" in fmt


def parse_with(col: pl.Expr, fmts: Sequence[str], source_tz: str, epoch: bool) -> pl.Expr:
    """An expression parsing ``col`` with the first of ``fmts`` that fits each value (UTC result)."""
    import polars as pl

    parts = []
    for fmt in fmts:
        parsed = col.str.to_datetime(fmt, strict=False, time_unit="us")
        if _aware(fmt):
            parsed = parsed.dt.convert_time_zone("UTC")
        else:
            parsed = parsed.dt.replace_time_zone(source_tz, ambiguous="earliest", non_existent="null")
            parsed = parsed.dt.convert_time_zone("UTC")
        parts.append(parsed)
    if epoch:
        secs = col.str.contains(EPOCH_S)
        millis = col.str.contains(EPOCH_MS)
        as_float = col.cast(pl.Float64, strict=False)
        from_s = (as_float * 1_000_000).cast(pl.Int64, strict=False).cast(pl.Datetime("us", "UTC"))
        from_ms = (as_float * 1_000).cast(pl.Int64, strict=False).cast(pl.Datetime("us", "UTC"))
        parts.append(pl.when(secs).then(from_s).when(millis).then(from_ms).otherwise(None))
    return pl.coalesce(parts) if len(parts) > 1 else parts[0]


def detect_formats(values: pl.Series) -> tuple[list[str], bool, float]:
    """Formats that parse a sample of text values: ``(formats, epoch, share parsed)``.

    Example:
        >>> import polars as pl
        >>> detect_formats(pl.Series(["01.02.2024 10:00", "2024-02-01T10:15:00Z"]))[0]
        ['%Y-%m-%dT%H:%M:%S%.f%#z', '%d.%m.%Y %H:%M']
    """
    import polars as pl

    sample = values.drop_nulls().head(FORMAT_SAMPLE)
    if sample.len() == 0:
        return [], False, 0.0
    frame = sample.to_frame("v")
    left = frame
    found: list[str] = []
    for fmt in DATETIME_FORMATS:
        hit = left.select(pl.col("v").str.to_datetime(fmt, strict=False, time_unit="us").is_not_null())
        mask = hit.to_series()
        if mask.any():
            found.append(fmt)
            left = left.filter(~mask)
            if left.height == 0:
                break
    epoch = False
    if left.height:
        is_epoch = left.select(pl.col("v").str.contains(EPOCH_S) | pl.col("v").str.contains(EPOCH_MS))
        mask = is_epoch.to_series()
        epoch = bool(mask.any()) and not found  # digits alone are epoch only in an all-epoch column
        if epoch:
            left = left.filter(~mask)
    return found, epoch, 1.0 - left.height / sample.len()


def parse_datetimes(
    df: pl.DataFrame,
    columns: dict[str, str | None],
    *,
    tz: str = "UTC",
    source_tz: str = "UTC",
) -> tuple[pl.DataFrame, pl.Series, dict[str, int]]:
    """Parse text columns into datetimes.

    Args:
        df: The frame; the named columns hold text.
        columns: Column → format (chrono syntax, ``"epoch_s"``, ``"epoch_ms"``), or ``None`` to detect.
        tz: Time zone of the result.
        source_tz: Time zone of values without an offset.

    Returns:
        The frame with parsed columns, a boolean mask of rows with an unparseable value,
        and the count of unparseable values per column.
    """
    import polars as pl

    bad_mask = pl.repeat(False, df.height, eager=True)
    failures: dict[str, int] = {}
    out = []
    for name, fmt in columns.items():
        col = pl.col(name).str.strip_chars()
        if fmt in ("epoch_s", "epoch_ms"):
            unit = 1_000_000 if fmt == "epoch_s" else 1_000
            expr = (col.cast(pl.Float64, strict=False) * unit).cast(pl.Int64, strict=False)
            expr = expr.cast(pl.Datetime("us", "UTC"))
        elif fmt:
            expr = parse_with(col, [fmt], source_tz, epoch=False)
        else:
            fmts, epoch, _ = detect_formats(
                df.get_column(name).drop_nulls().head(FORMAT_SAMPLE).str.strip_chars()
            )
            expr = parse_with(col, fmts or list(DATETIME_FORMATS), source_tz, epoch)
        parsed = df.select(expr.dt.convert_time_zone(tz).alias(name)).to_series()
        failed = parsed.is_null() & df.get_column(name).is_not_null()
        if fmt is None and failed.any():  # rare formats: try every format on the failing rows only
            retry = df.filter(failed).select(
                parse_with(col, DATETIME_FORMATS, source_tz, True).dt.convert_time_zone(tz).alias(name)
            )
            parsed = parsed.scatter(failed.arg_true(), retry.to_series())
            failed = parsed.is_null() & df.get_column(name).is_not_null()
        failures[name] = int(failed.sum())
        bad_mask = bad_mask | failed
        out.append(parsed)
    return df.with_columns(out), bad_mask, failures
