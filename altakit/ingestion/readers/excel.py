"""Excel workbooks: the first sheet, every cell as text (needs the ``excel`` extra, ``fastexcel``).

Example:
    >>> batch = read_excel(src)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from altakit.errors import IngestError, MissingDependency
from altakit.ingestion.readers._common import MAX_COLUMNS, Batch, no_rows, with_position

if TYPE_CHECKING:
    from altakit.ingestion.sources import SourceFile


def read_excel(src: SourceFile, max_columns: int = MAX_COLUMNS) -> Batch:
    """Read the first sheet of a workbook as text (its row number is the ``_line``).

    Header cells left empty are named ``column_<n>`` (as in CSV).

    Raises:
        MissingDependency: ``fastexcel`` is not installed.
        IngestError: The file is not a readable workbook, or has more than ``max_columns`` columns.
    """
    import importlib.util

    import polars as pl

    if importlib.util.find_spec("fastexcel") is None:
        raise MissingDependency(
            f"{src.name}: reading Excel needs the 'fastexcel' package",
            extra="excel",
            hint="pip install 'altakit[excel]'",
        )
    try:
        df = pl.read_excel(src.path, infer_schema_length=0)
    except Exception as exc:  # fastexcel raises its own error types
        raise IngestError(f"{src.name}: not a readable Excel file ({exc})", source=src.name) from exc
    unnamed = {c: f"column_{i + 1}" for i, c in enumerate(df.columns) if c.startswith("__UNNAMED__")}
    df = df.rename({c: n for c, n in unnamed.items() if n not in df.columns})
    return Batch(with_position(df, src.name, max_columns, src.renamed), no_rows())
