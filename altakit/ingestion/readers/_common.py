"""What every format reader shares: the :class:`Batch` it yields, the :class:`ReadOptions` it takes.

A batch's ``bad`` rows have the quarantine table's columns
(:data:`~altakit.datasets.tables.QUARANTINE_COLUMNS`): :func:`quarantine_rows`
builds them, :func:`no_rows` is an empty one.

Example:
    >>> ReadOptions(format="csv").block_bytes == BLOCK
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from altakit.datasets.tables import QUARANTINE_COLUMNS, quarantine_schema
from altakit.errors import IngestError

if TYPE_CHECKING:
    import polars as pl

#: The formats :func:`~altakit.ingestion.readers.read_file` reads.
FORMATS = ("csv", "parquet", "json", "ndjson", "excel")
#: Size of the blocks CSV text is read in.
BLOCK = 16 * 1024 * 1024
#: Bytes looked at to detect a format, an encoding or a delimiter.
SAMPLE = 64 * 1024


@dataclass
class Batch:
    """Rows read from one block: ``data`` (``_source``, ``_line`` + columns) and ``bad`` (quarantine)."""

    data: pl.DataFrame
    bad: pl.DataFrame
    blank_lines: int = 0
    lines: int | None = None  # physical lines read, where the path counted them


@dataclass
class ReadOptions:
    """How to read sources; ``None`` means detect.

    Attributes:
        format: One of :data:`FORMATS`.
        delimiter: CSV field separator.
        encoding: Text encoding (``"utf-8"``, ``"latin-1"`` …).
        block_bytes: Size of the blocks CSV text is read in.
    """

    format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    block_bytes: int = BLOCK


def with_position(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """``df`` with ``_source`` (``name``) and ``_line`` (the 1-based row number) in front.

    Raises:
        IngestError: A column name starts with ``_`` (reserved).
    """
    import polars as pl

    bad = [c for c in df.columns if c.startswith("_")]
    if bad:
        raise IngestError(f"{name}: column names starting with '_' are reserved: {bad}", source=name)
    df = df.with_row_index("_line", offset=1).with_columns(pl.col("_line").cast(pl.Int64))
    return df.select(pl.lit(name).alias("_source"), pl.all())


def quarantine_rows(source: str, items: Sequence[tuple[int, str, str]]) -> pl.DataFrame:
    """Quarantine rows for one source from ``(line, reason, raw)`` tuples.

    Example:
        >>> quarantine_rows("a.csv", [(3, "ragged row", "1,2")]).row(0)
        ('a.csv', 3, 'ragged row', '1,2')
    """
    import polars as pl

    lines, reasons, raws = zip(*items, strict=True) if items else ((), (), ())
    return pl.DataFrame(
        dict(
            zip(
                QUARANTINE_COLUMNS,
                ([source] * len(items), list(lines), list(reasons), list(raws)),
                strict=True,
            )
        ),
        schema=quarantine_schema(),
    )


def no_rows() -> pl.DataFrame:
    """An empty frame of quarantine rows."""
    import polars as pl

    return pl.DataFrame(schema=quarantine_schema())
