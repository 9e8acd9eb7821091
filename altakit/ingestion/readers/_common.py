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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from altakit.datasets.internal import user_name
from altakit.datasets.tables import QUARANTINE_COLUMNS, quarantine_schema
from altakit.errors import IngestError
from altakit.ingestion.readers.limits import UnpackLimits

if TYPE_CHECKING:
    import polars as pl

#: The formats :func:`~altakit.ingestion.readers.read_file` reads.
FORMATS = ("csv", "parquet", "json", "ndjson", "excel")
#: Size of the blocks CSV text is read in.
BLOCK = 16 * 1024 * 1024
#: Bytes looked at to detect a format, an encoding or a delimiter.
SAMPLE = 64 * 1024
#: Most columns an input may have (:attr:`ReadOptions.max_columns`, the spec's ``max_columns``).
MAX_COLUMNS = 50_000
#: Longest column name (characters): names go into catalog records (schemas, diffs), values never do.
MAX_NAME = 8192


@dataclass
class Batch:
    """Rows read from one block: ``data`` (``_source``, ``_line`` + columns) and ``bad`` (quarantine)."""

    data: pl.DataFrame
    bad: pl.DataFrame
    blank_lines: int = 0
    lines: int | None = None  # physical lines read, where the path counted them
    nbytes: int | None = None  # input bytes of a batch joined from several files (readers.coalesce)


@dataclass
class ReadOptions:
    """How to read sources; ``None`` means detect.

    Attributes:
        format: One of :data:`FORMATS`.
        delimiter: CSV field separator.
        encoding: Text encoding (``"utf-8"``, ``"latin-1"`` …).
        block_bytes: Size of the blocks CSV text is read in.
        max_columns: Most columns an input may have; more is a typed error before rows are read.
        limits: How far a format that decompresses inside its library (Parquet pages) may expand.
    """

    format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    block_bytes: int = BLOCK
    max_columns: int = MAX_COLUMNS
    limits: UnpackLimits = field(default_factory=UnpackLimits)


def check_width(name: str, columns: int, max_columns: int = MAX_COLUMNS) -> None:
    """Refuse an input of more than ``max_columns`` columns (before any of its rows are read).

    Raises:
        IngestError: ``columns > max_columns``; the hint names the spec option.

    Example:
        >>> check_width("a.csv", 3, max_columns=5)
    """
    if columns > max_columns:
        raise IngestError(
            f"{name}: {columns} columns, more than the limit of {max_columns}",
            source=name,
            columns=columns,
            hint="raise the spec's max_columns, or select fewer columns before the export",
        )


def column_names(
    name: str, columns: Sequence[str], max_columns: int = MAX_COLUMNS, renamed: dict[str, str] | None = None
) -> list[str]:
    """The names a source's columns take in altakit: checked, and renamed where they clash with altakit's.

    Names starting with ``_`` are the user's (``_id``, ``__index_level_0__``); a name that equals
    one of altakit's own columns (:mod:`altakit.datasets.internal`, case folded) is renamed
    ``<name>_user``. Linear in the number of columns.

    Args:
        name: Source name, for errors.
        columns: The names as the source spells them (empty ones already named).
        max_columns: Most columns allowed.
        renamed: Filled with each renamed column, new name → the source's.

    Raises:
        IngestError: More than ``max_columns`` columns, a name with control characters (a
            wrong encoding), a name longer than :data:`MAX_NAME` characters (a header that is
            data), a name given twice, or two names that differ only in case (Delta, SQL and
            most engines do not tell them apart).

    Example:
        >>> column_names("a.csv", ["_id", "_line", "value"])
        ['_id', '_line_user', 'value']
    """
    check_width(name, len(columns), max_columns)
    long = [i for i, c in enumerate(columns) if len(c) > MAX_NAME]
    if long:
        raise IngestError(
            f"{name}: column {long[0] + 1} has a name of {len(columns[long[0]]):,} characters, more than "
            f"{MAX_NAME:,} (starts {columns[long[0]][:40]!r}…)",
            source=name,
            column=long[0] + 1,
            hint="check the file's header line (is it data?) and its delimiter (spec: delimiter)",
        )
    unprintable = [c for c in columns if any(ch < " " and ch not in "\t" for ch in c)]
    if unprintable:
        raise IngestError(
            f"{name}: column names hold control characters (NUL, line ends …): {unprintable[:5]!r}",
            source=name,
            hint="check the file's encoding (spec: encoding) and its header line",
        )
    seen: dict[str, str] = {}
    dupes: list[str] = []
    folded: list[tuple[str, str]] = []
    for col in columns:
        key = col.casefold()
        if key in seen:
            if seen[key] == col:
                dupes.append(col)
            else:
                folded.append((seen[key], col))
        else:
            seen[key] = col
    if dupes:
        raise IngestError(
            f"{name}: duplicate column names {sorted(set(dupes))[:20]}",
            source=name,
            hint="rename the columns in the header",
        )
    if folded:
        raise IngestError(
            f"{name}: column names differ only in case: {folded[:20]}",
            source=name,
            hint="rename one of each pair; tables (Delta, SQL) do not tell case apart",
        )
    out = list(columns)
    taken = set(seen)
    for i, col in enumerate(columns):
        new = user_name(col, taken)
        if new != col:
            out[i] = new
            taken.add(new.casefold())
            if renamed is not None:
                renamed[new] = col
    return out


def with_position(
    df: pl.DataFrame, name: str, max_columns: int = MAX_COLUMNS, renamed: dict[str, str] | None = None
) -> pl.DataFrame:
    """``df`` with ``_source`` (``name``) and ``_line`` (the 1-based row number) in front.

    Columns are named by :func:`column_names` (renamed where they clash with altakit's, recorded
    in ``renamed``).

    Raises:
        IngestError: Too many columns, or names that clash (see :func:`column_names`).
    """
    import polars as pl

    names = column_names(name, df.columns, max_columns, renamed)
    if names != df.columns:
        df = df.rename(dict(zip(df.columns, names, strict=True)))
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
