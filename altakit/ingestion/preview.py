"""Preview: the first rows of a source, typed as an ingest would type them (nothing is written).

What the ingest panel and the schema review show before anything is written:
the first rows as read, the type inferred per column, the datetime formats
detected, and a few sample values per column (each cut to
:data:`~altakit.ingestion.quarantine.EXCERPT` characters).

Example:
    >>> found = preview(("day1.csv", b"ts,v\\n2024-01-01T00:00:00Z,1.5\\n"))
    >>> found.types
    {'ts': 'datetime[us, UTC]', 'v': 'float64'}
    >>> samples(found.rows)
    {'ts': ['2024-01-01T00:00:00Z'], 'v': ['1.5']}
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit.datasets.internal import is_internal
from altakit.errors import IngestError
from altakit.ingestion.datetimes import detect_formats
from altakit.ingestion.quarantine import EXCERPT, shorten
from altakit.ingestion.readers import read_file
from altakit.ingestion.schema import infer, normalize_nulls
from altakit.ingestion.sources import resolve_sources
from altakit.ingestion.spec import IngestSpec

if TYPE_CHECKING:
    import polars as pl

    from altakit.store.base import Store

#: Bytes read for a preview (one block of the first file).
PREVIEW_BYTES = 1024 * 1024


@dataclass
class Preview:
    """The first rows of a source, typed as an ingest would type them.

    Attributes:
        rows: The first rows (text, as read).
        types: Inferred type name per column.
        datetime_formats: Detected formats (chrono syntax, or ``"epoch"``) per datetime column.
        files: Source files the source resolved to.
    """

    rows: pl.DataFrame
    types: dict[str, str]
    datetime_formats: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def preview(
    source: Any,
    spec: IngestSpec | dict[str, Any] | str | Path | None = None,
    *,
    store: Store | None = None,
    rows: int = 20,
) -> Preview:
    """Read the first rows of ``source`` and infer its schema and datetime formats (nothing is written).

    Args:
        source: Anything :func:`altakit.ingestion.ingest` accepts (path, ``store:key``, ``(name, bytes)`` …).
        spec: The ingest spec (its reader options, datetime columns and threshold are used).
        store: The store ``store:`` sources refer to.
        rows: Rows to return (inference uses the whole first block, :data:`PREVIEW_BYTES`).

    Raises:
        IngestError: The source holds no files, or its first file cannot be read.
    """
    spec = IngestSpec.load(spec)
    opts = spec.read_options()
    options = dataclasses.replace(opts, block_bytes=PREVIEW_BYTES)
    with tempfile.TemporaryDirectory(prefix="altakit-preview-") as work:
        files = resolve_sources(source, Path(work), store, limits=spec.unpack_limits())
        if not files:
            raise IngestError("the source holds no files", hint="pick a file, a store key or a prefix")
        batch = next(iter(read_file(files[0], options)))
    data = normalize_nulls(batch.data.drop([c for c in batch.data.columns if is_internal(c)]))
    wanted = {c: f for c, f in spec.datetime_columns().items() if c in data.columns}
    types, dts = infer(data, datetimes=wanted, tz=spec.tz, threshold=spec.infer_threshold)
    formats: dict[str, list[str]] = {}
    for col, fmt in dts.items():
        if fmt:
            formats[col] = [fmt]
        elif data.schema[col] == _string():
            found, epoch, _ = detect_formats(data.get_column(col).str.strip_chars())
            formats[col] = found + (["epoch"] if epoch else [])
    return Preview(data.head(rows), types, formats, [f.name for f in files])


def samples(frame: pl.DataFrame, n: int | None = None, *, chars: int = EXCERPT) -> dict[str, list[str]]:
    """Up to ``n`` (default: all) non-null values per data column of ``frame``, as text cut to ``chars``.

    Example:
        >>> import polars as pl
        >>> samples(pl.DataFrame({"note": ["x" * 50]}), chars=4)
        {'note': ['xxxx…']}
    """
    return {
        col: [
            shorten(str(v), chars)
            for v in frame.get_column(col).drop_nulls().head(n if n is not None else frame.height)
        ]
        for col in frame.columns
        if not is_internal(col)
    }


def _string() -> Any:
    import polars as pl

    return pl.String
