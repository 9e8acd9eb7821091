"""A fast path for typing text blocks, exact by construction.

:func:`~altakit.ingestion.schema.cast` (after
:func:`~altakit.ingestion.schema.normalize_nulls`) strips every value, checks it
against the null tokens and parses it. Most values of a clean CSV need none of
that care: ``"21.503"`` casts to a float, ``"2024-01-01T00:00:00Z"`` parses
with one of the block's formats. :func:`fast_cast` types the whole block with
one fused polars ``select`` and no stripping (a value that is exactly a null
token becomes null), marks the rows whose result the plain cast cannot vouch
for (a null from any other text, a float ``NaN``), and sends only those rows
through the exact path, whose
results are put back in place. Rows that cast cleanly get the value the exact
path would give them (stripping and null tokens change nothing for them), so
the output is the exact path's, row for row.

Example:
    >>> import polars as pl
    >>> df = pl.DataFrame({"_line": [2, 3], "v": ["1.5", " NA "]})
    >>> fast_cast(df, {"v": "float64"}, {})[0].get_column("v").to_list()
    [1.5, None]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from altakit.datasets.internal import is_internal
from altakit.ingestion.datetimes import (
    EARLIEST,
    FORMAT_SAMPLE,
    ORDERS,
    detect_formats,
    may_hold_sub_micro,
    order_of,
    parse_with,
)
from altakit.ingestion.schema import (
    FLOAT_EXACT,
    FLOAT_SHORT,
    INT_TEXT,
    INT_TYPES,
    NULL_TOKENS,
    cast,
    dtype_of,
    normalize_nulls,
)

if TYPE_CHECKING:
    import polars as pl

_ROW = "__row"


def supported(df: pl.DataFrame, types: dict[str, str], datetimes: dict[str, str | None]) -> bool:
    """Whether :func:`fast_cast` handles this block: text columns to string, numbers or datetimes."""
    import polars as pl

    schema = df.schema  # once: each df.schema / df.columns is linear in the columns
    data = [c for c in schema if not is_internal(c)]
    if any(schema[c] != pl.String for c in data):
        return False
    return all(
        types.get(c, "string") in ("string", "float64", *INT_TYPES)
        or (types[c].startswith("datetime[") and c in datetimes)
        for c in data
    )


def fast_cast(
    df: pl.DataFrame,
    types: dict[str, str],
    datetimes: dict[str, str | None],
    *,
    tz: str = "UTC",
    source_tz: str = "UTC",
    formats: dict[str, tuple[list[str], bool]] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``normalize_nulls`` then ``cast`` (no rescue), fast; see the module docstring.

    Args:
        df: Text rows with ``_source``/``_line`` (see :func:`supported`).
        types: Type name per column.
        datetimes: Text columns to parse as datetimes (format, or ``None`` to detect).
        tz: Time zone of parsed datetimes.
        source_tz: Time zone of naive datetime text.
        formats: Formats detected per datetime column in earlier blocks, read and updated. They
            are kept while blocks have no doubtful value, and detected again after one that has
            (its doubtful values take the exact path, which tries every format).

    Returns:
        ``(typed rows, quarantine rows)``, as the exact path gives them.
    """
    import polars as pl

    exprs: list[pl.Expr] = []
    doubt: list[pl.Expr] = []
    tokens = list(NULL_TOKENS)
    early = pl.lit(EARLIEST, pl.Datetime("us", "UTC"))
    given = datetimes

    def ordered() -> dict[str, str | None]:
        # a column to detect without an order takes the one this block shows, for every row of it
        # (looked at only when formats are detected or rows take the exact path: not per block)
        return {
            c: (f if f is not None or c not in df.schema else _block_order(df.get_column(c)))
            for c, f in given.items()
        }

    for c in df.columns:
        col, tname = pl.col(c), types.get(c, "string")
        # a value that is exactly a null token is null on the exact path: no doubt about it
        token = col.is_in(tokens)
        if is_internal(c):
            exprs.append(col)
        elif c in given and tname.startswith("datetime["):
            fmt = given[c]
            if fmt in ("epoch_s", "epoch_ms"):
                unit = 1_000_000 if fmt == "epoch_s" else 1_000
                parsed = ((col.cast(pl.Float64, strict=False) * unit).cast(pl.Int64, strict=False)).cast(
                    pl.Datetime("us", "UTC")
                )
            elif fmt is not None and fmt not in ORDERS:
                fine = may_hold_sub_micro(df.get_column(c))
                parsed = parse_with(col, [fmt], source_tz, epoch=False, guard=False, fractions=fine)
            else:
                known = formats.get(c) if formats is not None else None
                if known is None:
                    sample = df.get_column(c).drop_nulls().head(FORMAT_SAMPLE).str.strip_chars()
                    known = detect_formats(
                        sample, fmt if fmt is not None else _block_order(df.get_column(c))
                    )[:2]
                fmts, epoch = known
                if not fmts and not epoch:
                    return _exact(df, types, ordered(), tz, source_tz)
                fine = may_hold_sub_micro(df.get_column(c))
                parsed = parse_with(col, fmts, source_tz, epoch, guard=False, fractions=fine)
                if formats is not None:
                    formats[c] = known
            exprs.append(pl.when(token).then(None).otherwise(parsed.dt.convert_time_zone(tz)).alias(c))
            # a year of fewer than four digits (the exact path refuses it) is in doubt
            doubt.append((parsed.is_null() | (parsed < early)) & col.is_not_null() & ~token)
        elif tname == "float64":
            parsed = col.cast(pl.Float64, strict=False)
            exprs.append(pl.when(token).then(None).otherwise(parsed).alias(c))
            # beyond 2**53 the text may be an integer a float rounds: the exact path looks
            big = (parsed.abs() >= FLOAT_EXACT) | (
                col.str.len_chars() > FLOAT_SHORT
            )  # or long text: it may round
            doubt.append((parsed.is_null() | parsed.is_nan() | big) & col.is_not_null() & ~token)
        elif tname in INT_TYPES:
            parsed = pl.when(col.str.contains(INT_TEXT)).then(col).otherwise(None)
            parsed = parsed.cast(dtype_of(tname), strict=False)
            exprs.append(parsed.alias(c))
            doubt.append(parsed.is_null() & col.is_not_null() & ~token)
        else:  # text stays text: nulls for the null tokens, as normalize_nulls does
            exprs.append(pl.when(col.str.strip_chars().is_in(tokens)).then(None).otherwise(col).alias(c))
    if not doubt:
        return _exact(df, types, ordered(), tz, source_tz)
    # lazily, so each parse that both the value and its doubt use runs once (common subexpressions)
    out = df.lazy().select(*exprs, pl.any_horizontal(doubt).alias(_ROW)).collect()
    flag = out.get_column(_ROW)
    out = out.drop(_ROW)
    if not flag.any():
        return out, _empty_quarantine()
    if formats is not None:  # a value in doubt may be a format not seen yet: detect again next block
        formats.clear()
    # the doubtful rows, through the exact path; their typed values go back in place
    rows = flag.arg_true()
    sub = df.filter(flag).with_columns(rows.alias(_ROW))
    fixed, bad = _exact(sub, types, ordered(), tz, source_tz)
    where = fixed.get_column(_ROW)
    out = out.with_columns(
        out.get_column(c).scatter(where, fixed.get_column(c)) for c in out.columns if not is_internal(c)
    )
    if bad.height:
        drop = rows.filter(~rows.is_in(where.implode()))
        keep = pl.repeat(True, out.height, eager=True).scatter(drop, False)
        out = out.filter(keep)
    return out, bad


def _block_order(values: pl.Series) -> str:
    """The order (:data:`~altakit.ingestion.datetimes.ORDERS`) a block's slash dates show."""
    if not values.str.contains("/", literal=True).any():
        return "monthfirst"  # no slash date at all (the usual case): what order_of's None gives, scan-free
    return "dayfirst" if order_of(values.str.strip_chars()) == "dayfirst" else "monthfirst"


def _exact(
    df: pl.DataFrame, types: dict[str, str], datetimes: dict[str, str | None], tz: str, source_tz: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    return cast(normalize_nulls(df), types, datetimes=datetimes, tz=tz, source_tz=source_tz)


def _empty_quarantine() -> Any:
    import polars as pl

    from altakit.ingestion import quarantine

    return pl.DataFrame(schema=quarantine.schema())
