"""Putting rows in series order: sorted by the series key, then time, stably.

Cleaning steps look along each series in time order, so the rows are sorted once
per pipeline (:func:`sort_series`). A full multi-key sort of millions of rows is
slow, and rarely needed: rows usually arrive already in order, or in time order
with the series interleaved. So, cheapest first:

1. rows already in order (checked in one pass) stay as they are;
2. otherwise rows are gathered series by series (a hash grouping keeps each
   series' rows in their input order; series in key order), and if time is then
   in order within every series that is the result;
3. otherwise the frame is sorted by all keys.

Each gives exactly the rows and order of ``df.sort(keys, maintain_order=True)``.
Float keys (where ``-0.0``/``NaN`` make equality subtle) always take the sort.

:class:`SeriesBlocks` does step 2 as blocks arrive: each block is split by series
(cheap while the block is in cache) and the pieces of one series are joined
without copying at the end; with many series it falls back to :func:`sort_series`.

Example:
    >>> import polars as pl
    >>> from altakit.ingestion.clean import Context
    >>> df = pl.DataFrame({"s": ["b", "a", "b", "a"], "t": [1, 1, 2, 2]})
    >>> sort_series(df, Context(time="t", by=["s"])).rows()
    [('a', 1), ('a', 2), ('b', 1), ('b', 2)]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from altakit.ingestion.clean import Context


def sort_series(df: pl.DataFrame, ctx: Context) -> pl.DataFrame:
    """Sort by series (``ctx.by``) and time (``ctx.time``), stably; see the module docstring."""
    import polars as pl

    keys = [*ctx.by, *([ctx.time] if ctx.time else [])]
    if not keys or df.height < 2:
        return df
    if any(df.schema[c].is_float() for c in keys):
        return df.sort(keys, maintain_order=True)
    if _in_order(df, keys):
        return df
    if ctx.by and all(df.schema[c].is_integer() or df.schema[c] in (pl.String, pl.Boolean) for c in ctx.by):
        rows = df.select(ctx.by).with_row_index("__i").group_by(ctx.by).agg("__i").sort(ctx.by)["__i"]
        out = df[rows.explode()]
        if not ctx.time or _time_in_order(out.get_column(ctx.time), rows.list.len()):
            return out
    return df.sort(keys, maintain_order=True)


def _time_in_order(t: pl.Series, sizes: pl.Series) -> bool:
    """Whether ``t`` is sorted (nulls first) within each run of ``sizes`` rows (one series each)."""
    import polars as pl

    first = pl.repeat(False, t.len(), eager=True).scatter((sizes.cum_sum() - sizes).cast(pl.Int64), True)
    back = (t < t.shift(1)).fill_null(False) | (t.is_null() & t.shift(1).is_not_null())
    return not (back & ~first).any()


def _in_order(df: pl.DataFrame, keys: list[str]) -> bool:
    """Whether the rows are already sorted by ``keys`` (nulls first); equal rows in any order."""
    import polars as pl

    ok = pl.lit(True)
    for key in reversed(keys):  # each row ≥ the previous one, lexicographically
        cur, prev = pl.col(key), pl.col(key).shift(1)
        above = (cur > prev).fill_null(False) | (cur.is_not_null() & prev.is_null())
        ok = above | (cur.eq_missing(prev) & ok)
    return bool(df.select(ok.slice(1).all()).item())


class SeriesBlocks:
    """Typed blocks collected into series order (see the module docstring).

    Args:
        ctx: The series key (``by``) and time column; without both, blocks are just kept.
        max_pieces: Split blocks by series while there are at most this many pieces.

    Example:
        >>> import polars as pl
        >>> from altakit.ingestion.clean import Context
        >>> blocks = SeriesBlocks(Context(time="t", by=["s"]))
        >>> blocks.add(pl.DataFrame({"s": ["b", "a"], "t": [1, 1]}))
        >>> blocks.add(pl.DataFrame({"s": ["a", "b"], "t": [2, 2]}))
        >>> blocks.frame().rows()
        [('a', 1), ('a', 2), ('b', 1), ('b', 2)]
    """

    def __init__(self, ctx: Context, max_pieces: int = 20_000) -> None:
        self.ctx, self.max_pieces = ctx, max_pieces
        self.series: dict[Any, list[pl.DataFrame]] | None = {} if ctx.by and ctx.time else None
        self.blocks: list[pl.DataFrame] = []
        self.pieces = 0

    def add(self, frame: pl.DataFrame) -> None:
        """Add one typed block."""
        import polars as pl

        by = self.ctx.by
        if self.series is not None and not all(
            c in frame.columns
            and (frame.schema[c].is_integer() or frame.schema[c] in (pl.String, pl.Boolean))
            for c in by
        ):
            self._give_up()
        if self.series is None or frame.height == 0:
            self.blocks.append(frame)
            return
        for key, piece in frame.partition_by(by, as_dict=True, maintain_order=True).items():
            self.put(key, piece)

    def put(self, key: tuple[Any, ...], piece: pl.DataFrame) -> None:
        """Add rows of one series, whose key (a tuple, as ``partition_by`` gives it) is known."""
        if self.series is None:
            self.blocks.append(piece)
            return
        self.series.setdefault(key, []).append(piece)
        self.pieces += 1
        if self.pieces > self.max_pieces:
            self._give_up()

    def _give_up(self) -> None:
        # each series' rows keep their input order, so a stable sort of these gives the same result
        self.blocks = self.take()
        self.series = None

    def take(self) -> list[pl.DataFrame]:
        """The frames held (each series' rows in input order), letting them go."""
        out = [p for pieces in (self.series or {}).values() for p in pieces] + self.blocks
        self.series = {} if self.series is not None else None
        self.blocks, self.pieces = [], 0
        return out

    def frame(self, number: str | None = None) -> pl.DataFrame:
        """All rows in series order; the blocks are let go.

        Args:
            number: When the rows come in series order as collected (not sorted again), add this
                column numbering the series 0, 1, … (as :func:`~altakit.ingestion.clean.number_series`).
        """
        import polars as pl

        keys = [*self.ctx.by, *([self.ctx.time] if self.ctx.time else [])]
        if self.series:
            order = pl.DataFrame(list(self.series), schema=self.ctx.by, orient="row").with_row_index("__i")
            names = list(self.series)
            ranked = [self.series[names[i]] for i in order.sort(self.ctx.by)["__i"]]
            sizes = pl.Series([sum(p.height for p in pieces) for pieces in ranked], dtype=pl.Int64)
            numbered = [
                p.with_columns(pl.lit(i, pl.UInt32).alias(number)) if number else p
                for i, pieces in enumerate(ranked)
                for p in pieces
            ]
            self.series = {}
            out = pl.concat([*numbered, *self.blocks], how="diagonal_relaxed", rechunk=False)
            self.blocks = []
            del numbered, ranked
            # series in key order by construction; only time within each series needs a look
            time = self.ctx.time
            if sizes.sum() == out.height and time in out.columns and _time_in_order(out[time], sizes):
                return out
            self.blocks = [out.drop(number) if number else out]
        out = pl.concat(self.blocks, how="diagonal_relaxed", rechunk=False) if self.blocks else pl.DataFrame()
        self.blocks = []
        if not keys or any(c not in out.columns for c in keys):
            return out  # cleaning says which column is missing
        return sort_series(out, self.ctx)
