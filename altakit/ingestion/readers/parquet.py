"""Parquet: one file, one :class:`~altakit.ingestion.readers.Batch` with the columns as typed.

Types a table cannot hold as they are are mapped where the mapping keeps every
value (:func:`table_types`): decimals stay decimals, time-zone-aware timestamps
become the same instants in UTC, nested lists and structs become JSON text (as
the JSON reader writes them), categoricals and times become text, unsigned
integers the next signed type (a ``UInt64`` beyond ``Int64`` a 20-digit decimal). Types with no
such mapping (durations, binary …) are a typed error naming the column and its
type.

Example:
    >>> batch = read_parquet(src)  # doctest: +SKIP
    >>> batch.data.columns[:2]  # doctest: +SKIP
    ['_source', '_line']
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from altakit.errors import IngestError
from altakit.ingestion.readers._common import MAX_COLUMNS, Batch, check_width, no_rows, with_position
from altakit.ingestion.readers.limits import Budget, Tally, UnpackLimits

if TYPE_CHECKING:
    import polars as pl

    from altakit.ingestion.sources import SourceFile


def read_parquet(
    src: SourceFile, max_columns: int = MAX_COLUMNS, limits: UnpackLimits | None = None
) -> Batch:
    """Read a Parquet file (its record number is the ``_line``).

    Its pages are decompressed inside the Parquet library, so the sizes its footer declares are
    checked against ``limits`` first (:func:`declared_size`).

    Raises:
        UnpackLimitExceeded: The file declares more than ``limits`` allow.
        IngestError: The file is not readable Parquet, has more than ``max_columns`` columns, or a
            column of a type with no mapping (see :func:`table_types`).
    """
    import polars as pl

    try:
        check_width(src.name, len(pl.read_parquet_schema(src.path)), max_columns)
        size = src.path.stat().st_size
        declared = declared_size(src.path)
        Budget(src.name, size, Tally(limits or UnpackLimits())).check(declared, declared, declared=True)
        df = pl.read_parquet(src.path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise IngestError(f"{src.name}: not a readable Parquet file ({exc})", source=src.name) from exc
    return Batch(with_position(table_types(df, src.name), src.name, max_columns, src.renamed), no_rows())


def declared_size(path: Any) -> int:
    """Bytes a Parquet file's footer says its pages hold once decompressed, and at least 8 per value.

    The second bound catches pages whose run-length encoding stands for far more values than
    their uncompressed bytes suggest (a column of a billion nulls is a few bytes on disk).

    Raises:
        OSError: The footer cannot be read (as :func:`read_parquet` reports it).

    Example:
        >>> import io, polars as pl
        >>> buf = io.BytesIO()
        >>> pl.DataFrame({"x": [0] * 1000}).write_parquet(buf)
        >>> declared_size(io.BytesIO(buf.getvalue())) >= 8000
        True
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except pa.ArrowException as exc:
        raise OSError(f"unreadable Parquet footer ({exc})") from exc
    pages = sum(max(0, meta.row_group(i).total_byte_size) for i in range(meta.num_row_groups))
    return max(pages, max(0, meta.num_rows) * meta.num_columns * 8)


def table_types(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """``df`` with every column in a type a table holds, each value kept (see the module docstring).

    Raises:
        IngestError: A column's type has no such mapping; the error names the column and type.

    Example:
        >>> import datetime as dt, polars as pl
        >>> df = pl.DataFrame({"tags": [["a"], []], "at": [dt.datetime(2024, 1, 1, 1)] * 2})
        >>> out = table_types(df.with_columns(pl.col("at").dt.replace_time_zone("Europe/Berlin")), "a")
        >>> out.get_column("tags").to_list(), str(out.get_column("at")[0])
        (['["a"]', '[]'], '2024-01-01 00:00:00+00:00')
    """
    import polars as pl

    kept = (pl.String, pl.Boolean, pl.Date, pl.Float32, pl.Float64, pl.Int8, pl.Int16, pl.Int32, pl.Int64)
    # Delta has no unsigned integers: the next signed type that holds them
    unsigned: dict[Any, Any] = {pl.UInt8: pl.Int16, pl.UInt16: pl.Int32, pl.UInt32: pl.Int64}
    unsigned[pl.UInt64] = pl.Int64  # beyond Int64: Decimal(20, 0), below
    out = []
    for col, dtype in df.schema.items():
        series = df.get_column(col)
        if isinstance(dtype, pl.List | pl.Array | pl.Struct):
            series = pl.Series(col, [_json(v) for v in series.to_list()], dtype=pl.String)
        elif isinstance(dtype, pl.Datetime):
            if dtype.time_unit == "ns":  # tables hold microseconds: refuse digits they would drop
                if bool((series.dt.nanosecond() % 1000 != 0).any()):
                    raise IngestError(
                        f"{name}: column {col!r} holds timestamps with nanoseconds, which a table "
                        "(microseconds) would drop",
                        source=name,
                        column=col,
                        column_type=str(dtype),
                        hint="round the column to microseconds before the export",
                    )
                series = series.dt.cast_time_unit("us")
            if dtype.time_zone and dtype.time_zone != "UTC":
                series = series.dt.convert_time_zone("UTC")
        elif isinstance(dtype, pl.Categorical | pl.Enum | pl.Time) or dtype == pl.Null:
            series = series.cast(pl.String)
        elif dtype in unsigned:
            wider = unsigned[dtype]
            big = dtype == pl.UInt64 and (series.max() or 0) > 2**63 - 1  # type: ignore[operator]
            series = series.cast(pl.Decimal(20, 0) if big else wider)
        # the types altakit's schemas name (altakit.ingestion.schema.dtype_of)
        if not (series.dtype in kept or isinstance(series.dtype, pl.Datetime | pl.Decimal)):
            raise IngestError(
                f"{name}: column {col!r} has type {dtype}, which a table cannot hold",
                source=name,
                column=col,
                column_type=str(dtype),
                hint="cast the column to a number, text or timestamp before the export",
            )
        out.append(series)
    return pl.DataFrame(out)


def _json(value: Any) -> str | None:
    """A nested value as JSON text (decimals, dates … as their text)."""
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)
