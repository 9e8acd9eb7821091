"""Types that change late in a file: which columns a block's values widen, and to what.

An ingest types each column from the first block where it appears, and casts later blocks to
that type. A later value can need a wider one (``3.5`` in a column of integers): the column is
widened, following the schema policy (the widened type is what the policy sees, and the schema
diff shows), rather than the value being quarantined. Only exact widenings are taken:

- integer → ``float64`` for decimals, when every integer of the column (this block's and those
  seen before) and every decimal is held exactly by a float (``|v| < 2**53``, and no decimal
  such as ``12345678901234567.89`` that a float rounds); otherwise integer → ``string``;
- integer → ``int64`` for integers too wide for a narrower integer type;
- integer → ``string`` for integers no int64 holds, and for codes with leading zeros (``007``).

Values that fit no wider type (``abc`` among numbers) still go to quarantine. Earlier rows are
converted when the blocks are joined (int → float, int → its decimal text), never re-read.

Example:
    >>> import polars as pl
    >>> widened(pl.DataFrame({"n": ["1", "3.5"], "s": ["a", "b"]}), {"n": "int64", "s": "string"}, set())
    {'n': 'float64'}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from altakit.ingestion.schema import (
    DIGITS,
    FLOAT_EXACT,
    INT_TEXT,
    INT_TYPES,
    NULL_TOKENS,
    dtype_of,
    inexact_floats,
)

if TYPE_CHECKING:
    import polars as pl


def widened(df: pl.DataFrame, types: dict[str, str], huge: set[str]) -> dict[str, str]:
    """The wider type each integer column of text block ``df`` needs (none: not in the result).

    Args:
        df: A block of text rows (null tokens not yet removed).
        types: The current type name per column.
        huge: Columns where an integer of ``2**53`` or more was seen before (:func:`beyond_float`).
    """
    import polars as pl

    out: dict[str, str] = {}
    tokens = list(NULL_TOKENS)
    schema = df.schema  # once: each df.schema / df.columns is linear in the columns
    for col, tname in types.items():
        if tname not in INT_TYPES or col not in schema or schema[col] != pl.String:
            continue
        values = df.get_column(col).str.strip_chars()
        values = values.filter(values.is_not_null() & ~values.is_in(tokens))
        ints = values.str.contains(INT_TEXT)
        fits = ints & values.cast(dtype_of(tname), strict=False).is_not_null()
        odd = values.filter(~fits)
        if odd.len() == 0:
            continue
        digits = odd.str.contains(DIGITS)
        wide = odd.str.contains(INT_TEXT) & odd.cast(pl.Int64, strict=False).is_not_null()
        decimals = ~digits & odd.cast(pl.Float64, strict=False).is_not_null()
        if bool((digits & ~wide).any()):  # a code, or beyond int64: only text holds it as written
            out[col] = "string"
        elif bool(decimals.any()):
            big = col in huge or bool((values.filter(ints).cast(pl.Float64).abs() >= FLOAT_EXACT).any())
            big = big or bool(inexact_floats(odd.filter(decimals)).any())  # a decimal a float rounds
            out[col] = "string" if big else "float64"
        elif bool(wide.any()) and tname != "int64":
            out[col] = "int64"
    return out


def beyond_float(typed: pl.DataFrame, types: dict[str, str]) -> set[str]:
    """The integer columns of typed rows holding a value a float would round (``|v| >= 2**53``).

    Example:
        >>> import polars as pl
        >>> beyond_float(pl.DataFrame({"n": [1, 2**60]}), {"n": "int64"})
        {'n'}
    """
    import polars as pl

    schema = typed.schema
    cols = [c for c, t in types.items() if t in INT_TYPES and c in schema and schema[c].is_integer()]
    if not cols or typed.height == 0:
        return set()
    limit = pl.lit(FLOAT_EXACT, pl.Int64)
    row = typed.select(((pl.col(c) >= limit) | (pl.col(c) <= -limit)).any().alias(c) for c in cols).row(0)
    return {c for c, hit in zip(cols, row, strict=True) if hit}
