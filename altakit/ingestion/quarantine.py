"""Quarantine: rows that could not be read or validated, kept with why and where.

Every rejected row becomes one quarantine row with four columns: ``_source``
(the source file's name), ``_line`` (the physical line in that file, 1-based;
for Parquet and JSON arrays the record number), ``_reason`` (a short, stable
text such as ``"ragged row: 3 fields, expected 4"``) and ``_raw`` (the row as
read: the raw line, or the fields as JSON). Nothing is dropped silently: an
ingest reports ``rows_in = rows_written + rows_quarantined``. The quarantine
table's shape is the dataset table's (:data:`altakit.datasets.tables.QUARANTINE_COLUMNS`),
since readers of a dataset version read it back.

Example:
    >>> import polars as pl
    >>> q = Quarantine()
    >>> q.add(pl.DataFrame({"_source": ["a.csv"], "_line": [3], "_reason": ["bad"], "_raw": ["x"]}))
    >>> q.count
    1
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from altakit.datasets.tables import QUARANTINE_COLUMNS, quarantine_schema

if TYPE_CHECKING:
    import polars as pl

COLUMNS = QUARANTINE_COLUMNS


def schema() -> dict[str, Any]:
    """The quarantine table's polars schema."""
    return quarantine_schema()


def from_frame(df: pl.DataFrame, reason: str | pl.Expr, data_columns: Sequence[str]) -> pl.DataFrame:
    """Quarantine rows for rows of a frame that carries ``_source`` and ``_line``.

    Args:
        df: The rejected rows.
        reason: One reason for all rows, or an expression giving one per row.
        data_columns: The columns to keep in ``_raw`` (encoded as a JSON object).
    """
    import polars as pl

    if df.height == 0:
        return pl.DataFrame(schema=schema())
    why = pl.lit(reason) if isinstance(reason, str) else reason
    cols = [c for c in data_columns if c in df.columns]
    raw = pl.struct([pl.col(c).cast(pl.String) for c in cols]).struct.json_encode() if cols else pl.lit("{}")
    return df.select(
        pl.col("_source").cast(pl.String),
        pl.col("_line").cast(pl.Int64),
        why.cast(pl.String).alias("_reason"),
        raw.alias("_raw"),
    )


class Quarantine:
    """Collects quarantine rows during one ingest."""

    def __init__(self) -> None:
        self._parts: list[pl.DataFrame] = []

    def add(self, df: pl.DataFrame) -> None:
        """Add quarantine rows (columns :data:`COLUMNS`).

        The rows are copied out: polars strings are views into the buffers they were
        cut from, and a few kept rows would otherwise keep whole input blocks alive.
        """
        import polars as pl

        if df.height:
            compact = df.select(COLUMNS).to_arrow(compat_level=pl.CompatLevel.oldest())
            frame = pl.from_arrow(compact)
            assert isinstance(frame, pl.DataFrame)
            self._parts.append(frame)

    @property
    def count(self) -> int:
        """Rows quarantined so far."""
        return sum(p.height for p in self._parts)

    def frame(self) -> pl.DataFrame:
        """All quarantine rows, in the order they were added."""
        import polars as pl

        if not self._parts:
            return pl.DataFrame(schema=schema())
        return pl.concat(self._parts, how="vertical")

    def reasons(self) -> dict[str, int]:
        """Counts per reason, for reports."""
        counts: Counter[str] = Counter()
        for part in self._parts:
            for reason, n in part.group_by("_reason").len().iter_rows():
                counts[reason] += n
        return dict(counts)
