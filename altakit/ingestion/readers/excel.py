"""Excel workbooks: the first sheet, every cell as text (needs the ``excel`` extra, ``fastexcel``).

Example:
    >>> batch = read_excel(src)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from altakit.errors import IngestError, MissingDependency
from altakit.ingestion.readers._common import Batch, no_rows, with_position

if TYPE_CHECKING:
    from altakit.ingestion.sources import SourceFile


def read_excel(src: SourceFile) -> Batch:
    """Read the first sheet of a workbook as text (its row number is the ``_line``).

    Raises:
        MissingDependency: ``fastexcel`` is not installed.
        IngestError: The file is not a readable workbook.
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
    return Batch(with_position(df, src.name), no_rows())
