"""Parquet: one file, one :class:`~altakit.ingestion.readers.Batch` with the columns as typed.

Example:
    >>> batch = read_parquet(src)  # doctest: +SKIP
    >>> batch.data.columns[:2]  # doctest: +SKIP
    ['_source', '_line']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from altakit.errors import IngestError
from altakit.ingestion.readers._common import Batch, no_rows, with_position

if TYPE_CHECKING:
    from altakit.ingestion.sources import SourceFile


def read_parquet(src: SourceFile) -> Batch:
    """Read a Parquet file (its record number is the ``_line``).

    Raises:
        IngestError: The file is not readable Parquet.
    """
    import polars as pl

    try:
        df = pl.read_parquet(src.path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise IngestError(f"{src.name}: not a readable Parquet file ({exc})", source=src.name) from exc
    return Batch(with_position(df, src.name), no_rows())
