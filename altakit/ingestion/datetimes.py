"""Datetimes in text columns: detect which formats a column uses, and parse them.

:func:`parse_datetimes` recognises ISO 8601 (with or without offset),
``yyyy-mm-dd HH:MM:SS.fff``, 12-hour times with ``AM``/``PM``, ``dd.mm.yyyy HH:MM``,
``dd/mm/yyyy`` or ``mm/dd/yyyy``, and epoch seconds or milliseconds, mixed within
one column. Naive values are read in ``source_tz``; results are converted to
``tz`` (UTC by default).

The day/month order of slash dates is a property of the whole column, never of
one value: :func:`decide` reads it from every value it is given (a value such as
``13/01/2024`` fits only day-first, ``01/13/2024`` only month-first) and returns
the column's *order* — :data:`DAYFIRST`, :data:`MONTHFIRST`, or :data:`AUTO`
when no value needs an order — or raises
:class:`~altakit.errors.AmbiguousValues` when the values fit both orders (or mix
them) and no ``dayfirst`` option says which. An order is passed where a format
goes (``{"ts": "dayfirst"}``); under it, a value that fits only the other order
is unparseable (it goes to quarantine), it never flips. Under :data:`AUTO`, a
slash date is parsed only where both orders give the same day (``01/01/2024``).

Epoch units follow the number of digits, whose ranges never overlap: 9–10 digits
are seconds, 12–13 milliseconds (both 1973–2286); other widths are not epochs.
Two-digit years (``03/04/26``) fit no format and stay text: the century is not guessed;
nor does a fraction of a second of more than 6 digits (datetimes hold microseconds: it is never cut).
``None`` as a format decides the order from the values given (month-first when they
fit both), as before; the ingest never passes ``None``.

How an ingest decides (``engines._shared.Typing``), without re-reading a file and
without a cost on blocks that parse: every value of the first block where a
column appears decides its order; a block that holds no slash date leaves it
:data:`AUTO`, and the first later block with one decides it then (no earlier row
can change). When the deciding block fits both orders the ingest stops with
:class:`~altakit.errors.AmbiguousValues` (set ``dayfirst``), even if a later block
would have decided: a typed error rather than a second pass. A later block whose
values fit only the other order (the column mixes orders) stops it the same way,
unless ``dayfirst`` was given (then those values go to quarantine).

Example:
    >>> import polars as pl
    >>> df = pl.DataFrame({"ts": ["01.02.2024 10:00", "2024-02-01T10:15:00Z", "soon"]})
    >>> out, bad, failures = parse_datetimes(df, {"ts": None})
    >>> failures
    {'ts': 1}
    >>> decide(pl.Series(["13/01/2024", "03/04/2024"]), column="ts")
    'dayfirst'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from altakit.errors import AmbiguousValues
from altakit.ingestion.quarantine import shorten

if TYPE_CHECKING:
    import polars as pl

#: A fraction of a second finer than microseconds (``.123456789``): it fits no format, never cut.
SUB_MICRO = r"\.\d{7}"
_SUB_MICRO_LEN = len("2024-01-01 00:00:00.1234567")  # shorter text cannot hold such a fraction
#: Orders a column's slash dates are read in (passed where a format goes).
DAYFIRST, MONTHFIRST, AUTO = "dayfirst", "monthfirst", "auto"
ORDERS = (DAYFIRST, MONTHFIRST, AUTO)
_PLAIN = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %I:%M:%S %p",
    "%Y-%m-%d %I:%M %p",
    "%Y-%m-%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
)
_SLASH = ("{} %I:%M:%S %p", "{} %I:%M %p", "{} %H:%M:%S", "{} %H:%M", "{}")
_MDY = tuple(f.format("%m/%d/%Y") for f in _SLASH)
_DMY = tuple(f.format("%d/%m/%Y") for f in _SLASH)
#: Formats tried for text datetimes, most specific first (chrono syntax; ``%.f`` is optional);
#: slash dates month-first (:func:`formats_for` gives those of an order).
DATETIME_FORMATS = _PLAIN + _MDY
#: Values :func:`detect_formats` looks at (the first non-null ones).
FORMAT_SAMPLE = 2000
#: Instants before this are not read from text (a two- or three-digit year).
EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
EPOCH_S = r"^-?\d{9,10}(\.\d+)?$"
EPOCH_MS = r"^-?\d{12,13}$"
#: A slash date: day and month (in some order), then a four-digit year.
SLASH_DATE = r"^(\d{1,2})/(\d{1,2})/\d{4}(?:[ T]|$)"


def _aware(fmt: str) -> bool:
    return "%#z" in fmt or "%z" in fmt


def formats_for(order: str) -> tuple[str, ...]:
    """The formats tried for a column read in ``order`` (:data:`DAYFIRST`, :data:`MONTHFIRST`, :data:`AUTO`).

    Example:
        >>> formats_for("dayfirst")[-1]
        '%d/%m/%Y'
    """
    return _PLAIN + {DAYFIRST: _DMY, MONTHFIRST: _MDY}.get(order, ())


def order_of(values: pl.Series) -> str | None:
    """What the slash dates among ``values`` say about the order, from every value.

    Returns:
        ``"dayfirst"`` or ``"monthfirst"`` when some value fits only that order (and none the
        other), ``"mixed"`` when both kinds occur, ``"ambiguous"`` when some value reads as two
        different days and none decides, ``None`` when no value needs an order.

    Example:
        >>> import polars as pl
        >>> order_of(pl.Series(["03/04/2026", "01/01/2024"])), order_of(pl.Series(["01/13/2024"]))
        ('ambiguous', 'monthfirst')
    """
    import polars as pl

    parts = values.str.extract_groups(SLASH_DATE)
    a = parts.struct.field("1").cast(pl.Int32, strict=False)
    b = parts.struct.field("2").cast(pl.Int32, strict=False)
    frame = pl.DataFrame({"a": a, "b": b}).select(
        day=((pl.col("a") > 12) & (pl.col("b") <= 12)).any(),
        month=((pl.col("b") > 12) & (pl.col("a") <= 12)).any(),
        both=((pl.col("a") <= 12) & (pl.col("b") <= 12) & (pl.col("a") != pl.col("b"))).any(),
    )
    day, month, both = frame.row(0)
    if day and month:
        return "mixed"
    if day or month:
        return DAYFIRST if day else MONTHFIRST
    return "ambiguous" if both else None


def decide(values: pl.Series, *, column: str, dayfirst: bool | None = None, source: str | None = None) -> str:
    """The order a column's slash dates are read in, decided from all of ``values``.

    Args:
        values: The column's text values (stripped, nulls dropped or not).
        column: The column's name (for the error).
        dayfirst: The spec's ``dayfirst`` option; it decides a column whose values fit both
            orders or mix them (and wins over the values when given).
        source: The file (for the error).

    Raises:
        AmbiguousValues: The values fit both orders, or mix them, and ``dayfirst`` is not given.

    Example:
        >>> import polars as pl
        >>> decide(pl.Series(["03/04/2026"]), column="d", dayfirst=False)
        'monthfirst'
    """
    found = order_of(values)
    if dayfirst is not None and found is not None:
        return DAYFIRST if dayfirst else MONTHFIRST
    if found in (DAYFIRST, MONTHFIRST):
        return found
    if found is None:
        return AUTO
    raise ambiguity(values, column=column, source=source, mixed=found == "mixed")


def ambiguity(values: pl.Series, *, column: str, source: str | None, mixed: bool) -> AmbiguousValues:
    """The error for a column whose slash dates fit both orders (or, ``mixed``, hold both)."""
    example = values.filter(values.str.contains(SLASH_DATE)).head(1).to_list() or ["?"]
    what = "mix day-first and month-first" if mixed else "fit both day-first and month-first"
    return AmbiguousValues(
        f"the dates of column {column!r}{f' in {source}' if source else ''} {what} "
        f"(e.g. {shorten(str(example[0]))!r}); altakit does not guess the order",
        column=column,
        source=source,
        option="dayfirst",
        hint="set `dayfirst: true` (13/01/2024 is 13 January) or `dayfirst: false` in the ingest spec, "
        f"or give the column a format: `datetimes: {{{column}: '%d/%m/%Y'}}`",
    )


def parse_with(
    col: pl.Expr,
    fmts: Sequence[str],
    source_tz: str,
    epoch: bool,
    *,
    same_day: bool = False,
    guard: bool = True,
    fractions: bool = True,
) -> pl.Expr:
    """An expression parsing ``col`` with the first of ``fmts`` that fits each value (UTC result).

    ``epoch`` adds epoch seconds/milliseconds (by their digits); ``same_day`` adds slash dates
    that give the same day in both orders (``01/01/2024``). ``guard=False`` leaves instants before
    :data:`EARLIEST` (years of fewer than four digits) in: the caller must refuse them.
    ``fractions=False`` says no value is long enough to hold a fraction finer than microseconds
    (:func:`may_hold_sub_micro`), which skips that check.
    """
    import polars as pl

    parts = [_parse(col, fmt, source_tz) for fmt in fmts]
    if epoch:
        secs = col.str.contains(EPOCH_S)
        millis = col.str.contains(EPOCH_MS)
        as_float = col.cast(pl.Float64, strict=False)
        from_s = (as_float * 1_000_000).cast(pl.Int64, strict=False).cast(pl.Datetime("us", "UTC"))
        from_ms = (as_float * 1_000).cast(pl.Int64, strict=False).cast(pl.Datetime("us", "UTC"))
        parts.append(pl.when(secs).then(from_s).when(millis).then(from_ms).otherwise(None))
    if same_day:
        day = pl.coalesce([_parse(col, fmt, source_tz) for fmt in _DMY])
        month = pl.coalesce([_parse(col, fmt, source_tz) for fmt in _MDY])
        parts.append(pl.when(day == month).then(day).otherwise(None))
    out = pl.coalesce(parts) if len(parts) > 1 else parts[0]
    if fractions and any("%.f" in f for f in fmts):  # microseconds hold 6 digits: more would be cut
        finer = col.map_batches(sub_micro, return_dtype=pl.Boolean)
        out = pl.when(finer).then(None).otherwise(out)
    if not guard:
        return out
    # ``%Y`` takes "26" as the year 26: a year of fewer than four digits is not read (one pass
    # over the parsed values: a ``when`` reading the parse twice would parse twice)
    return out.map_batches(_no_short_years, return_dtype=pl.Datetime("us", "UTC"))


def may_hold_sub_micro(values: pl.Series) -> bool:
    """Whether any text of ``values`` is long enough to hold a fraction finer than microseconds.

    One length pass, without a Python callback: a block of ordinary timestamps skips the
    :func:`sub_micro` search (:func:`parse_with` ``fractions=False``).

    Example:
        >>> import polars as pl
        >>> may_hold_sub_micro(pl.Series(["2024-01-01T00:00:00Z"]))
        False
        >>> may_hold_sub_micro(pl.Series(["2024-01-01T00:00:00.123456789", None]))
        True
    """
    longest = values.str.len_bytes().max()
    return longest is not None and int(longest) >= _SUB_MICRO_LEN  # type: ignore[arg-type]


def sub_micro(values: pl.Series) -> pl.Series:
    """Which texts hold a fraction of a second finer than microseconds (:data:`SUB_MICRO`).

    Only text long enough to hold a date, a time and 7 fraction digits is searched (so the
    common block costs one length pass).

    Example:
        >>> import polars as pl
        >>> sub_micro(pl.Series(["2024-01-01T00:00:00.123456789", "2024-01-01T00:00:00.5", None])).to_list()
        [True, False, False]
    """

    long = (values.str.len_bytes() >= _SUB_MICRO_LEN).fill_null(False)
    if not long.any():
        return long
    rows = long.arg_true()
    return long.scatter(rows, values.gather(rows).str.contains(SUB_MICRO).fill_null(False))


def _no_short_years(values: pl.Series) -> pl.Series:
    import polars as pl

    return pl.select(pl.when(values >= EARLIEST).then(values)).to_series().alias(values.name)


def _parse(col: pl.Expr, fmt: str, source_tz: str) -> pl.Expr:
    parsed = col.str.to_datetime(fmt, strict=False, time_unit="us")
    if _aware(fmt):
        return parsed.dt.convert_time_zone("UTC")
    # a local time that a DST change makes happen twice is two instants: never guessed (null: the
    # row goes to quarantine); one that never happened (the gap) is null too
    parsed = parsed.dt.replace_time_zone(source_tz, ambiguous="null", non_existent="null")
    return parsed.dt.convert_time_zone("UTC")


def candidates(values: pl.Series, fmt: str | None) -> tuple[str, tuple[str, ...]]:
    """``(order, formats)`` for a column parsed with ``fmt`` (an order, or ``None``: from ``values``)."""
    if fmt is None:
        fmt = DAYFIRST if order_of(values) == DAYFIRST else MONTHFIRST
    return fmt, formats_for(fmt)


def detect_formats(values: pl.Series, order: str | None = None) -> tuple[list[str], bool, float]:
    """Formats that parse a sample of text values: ``(formats, epoch, share parsed)``.

    ``order`` limits slash dates to one order (see :func:`formats_for`); ``None`` takes the
    order the sample shows (month-first when it fits both).

    Example:
        >>> import polars as pl
        >>> detect_formats(pl.Series(["01.02.2024 10:00", "2024-02-01T10:15:00Z"]))[0]
        ['%Y-%m-%dT%H:%M:%S%.f%#z', '%d.%m.%Y %H:%M']
    """
    import polars as pl

    sample = values.drop_nulls().head(FORMAT_SAMPLE)
    if sample.len() == 0:
        return [], False, 0.0
    _, fmts = candidates(sample, order)
    frame = sample.to_frame("v")
    left = frame
    found: list[str] = []
    for fmt in fmts:
        parsed = pl.col("v").str.to_datetime(fmt, strict=False, time_unit="us")
        fits = (parsed.dt.year() >= EARLIEST.year) & ~pl.col("v").str.contains(SUB_MICRO)
        hit = left.select(fits.fill_null(False))
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
        columns: Column → format (chrono syntax, ``"epoch_s"``, ``"epoch_ms"``), an order
            (``"dayfirst"``, ``"monthfirst"``, ``"auto"``) or ``None`` to detect (see the module docstring).
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
        detect = fmt is None or fmt in ORDERS
        if fmt in ("epoch_s", "epoch_ms"):
            unit = 1_000_000 if fmt == "epoch_s" else 1_000
            expr = (col.cast(pl.Float64, strict=False) * unit).cast(pl.Int64, strict=False)
            expr = expr.cast(pl.Datetime("us", "UTC"))
        elif not detect:
            assert fmt is not None
            expr = parse_with(col, [fmt], source_tz, epoch=False)
        else:
            text = df.get_column(name).drop_nulls().str.strip_chars()
            order, every = candidates(text, fmt)
            fmts, epoch, _ = detect_formats(text.head(FORMAT_SAMPLE), order)
            expr = parse_with(col, fmts or list(every), source_tz, epoch)
        # lazily, so a parse its guard reads again runs once (common subexpressions)
        parsed = df.lazy().select(expr.dt.convert_time_zone(tz).alias(name)).collect().to_series()
        failed = parsed.is_null() & df.get_column(name).is_not_null()
        if detect and failed.any():  # rare formats: try every format on the failing rows only
            retry = (
                df.filter(failed)
                .lazy()
                .select(
                    parse_with(col, every, source_tz, True, same_day=order == AUTO)
                    .dt.convert_time_zone(tz)
                    .alias(name)
                )
                .collect()
            )
            parsed = parsed.scatter(failed.arg_true(), retry.to_series())
            failed = parsed.is_null() & df.get_column(name).is_not_null()
        failures[name] = int(failed.sum())
        bad_mask = bad_mask | failed
        out.append(parsed)
    return df.with_columns(out), bad_mask, failures
