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


@dataclass
class StepPreview:
    """What one cleaning step would do to the previewed rows.

    Attributes:
        step: The step's name.
        report: Its :class:`~altakit.ingestion.clean.StepReport` as a dict.
        changed: Source lines of rows whose values it would change.
        rejected: Source lines of rows it would set aside (quarantine).
        added: Rows it would add (resampling onto a grid).
    """

    step: str
    report: dict[str, Any]
    changed: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    added: int = 0

    def summary(self) -> str:
        """``"2 row(s) changed, 1 set aside"``."""
        parts = [f"{len(self.changed)} row(s) changed", f"{len(self.rejected)} set aside"]
        return ", ".join(parts + ([f"{self.added} added"] if self.added else []))


#: The marked rows' column of source line numbers (not ``line``: a plant's data often has one).
MARK_LINE = "file line"


@dataclass
class CleaningPreview:
    """What the spec's cleaning steps would do to the first rows of a source (nothing is written).

    Attributes:
        rows_read: Rows the preview cleaned (the first block).
        steps: One :class:`StepPreview` per step, in spec order.
        marked: The rows any step touches, as read, with :data:`MARK_LINE` and ``marks`` (``step: what``).
    """

    rows_read: int
    steps: list[StepPreview]
    marked: pl.DataFrame


def preview_cleaning(
    source: Any, spec: IngestSpec | dict[str, Any] | str | Path, *, store: Store | None = None
) -> CleaningPreview:
    """Run ``spec``'s cleaning steps over the first block of ``source`` and mark the rows each changes.

    Example:
        >>> rows = [b"2024-01-01T00:%02d:00Z,%d" % (i, 90 if i == 5 else 1) for i in range(12)]
        >>> data = b"\\n".join([b"t,v", *rows]) + b"\\n"
        >>> found = preview_cleaning(("a.csv", data), {"time": "t", "steps": [
        ...     {"step": "outliers", "method": "hampel", "action": "quarantine"}]})
        >>> found.steps[0].rejected, found.marked.get_column("marks").to_list()
        ([7], ['outliers:hampel: set aside'])
    """
    import polars as pl

    from altakit.ingestion import clean
    from altakit.ingestion.schema import cast

    spec = IngestSpec.load(spec)
    options = dataclasses.replace(spec.read_options(), block_bytes=PREVIEW_BYTES)
    with tempfile.TemporaryDirectory(prefix="altakit-preview-") as work:
        files = resolve_sources(source, Path(work), store, limits=spec.unpack_limits())
        if not files:
            raise IngestError("the source holds no files", hint="pick a file, a store key or a prefix")
        batch = next(iter(read_file(files[0], options)))
    raw = normalize_nulls(batch.data)
    data_cols = [c for c in raw.columns if not is_internal(c)]
    wanted = {c: f for c, f in spec.datetime_columns().items() if c in data_cols}
    types, dts = infer(raw.select(data_cols), datetimes=wanted, tz=spec.tz, threshold=spec.infer_threshold)
    datetimes = {c: dts.get(c) for c, t in types.items() if t.startswith("datetime")}
    frame, _ = cast(raw, types, datetimes=datetimes, tz=spec.tz, source_tz=spec.source_tz)
    frame = frame.select([c for c in frame.columns if c == "_line" or not is_internal(c)])
    rejected: list[pl.DataFrame] = []
    ctx = clean.Context(time=spec.time, by=list(spec.by), reject=lambda rows, _why: rejected.append(rows))
    for col in [spec.time, *spec.by]:
        if col and col not in frame.columns:
            raise IngestError(f"the spec names column {col!r}, which the input lacks", column=col)
    frame = clean.number_series(clean.sort_series(frame, ctx), dataclasses.replace(ctx, presorted=True))
    ctx.presorted, ctx.series = True, clean.SERIES if clean.SERIES in frame.columns else None
    steps: list[StepPreview] = []
    marks: dict[int, list[str]] = {}
    for step_spec in spec.steps:
        before, rejected[:] = frame, []
        frame, report = clean.build_step(step_spec).apply(frame, ctx)
        found = StepPreview(report.step, report.to_dict())
        found.rejected = sorted(int(n) for rows in rejected for n in rows.get_column("_line").drop_nulls())
        if "_line" in frame.columns:
            found.changed = _changed(before, frame, data_cols)
            found.added = frame.get_column("_line").null_count() - before.get_column("_line").null_count()
        else:  # resampled: rows on a grid, no longer one per source line
            found.added = max(0, frame.height - before.height)
        for line in found.changed:
            marks.setdefault(line, []).append(f"{found.step}: changed")
        for line in found.rejected:
            marks.setdefault(line, []).append(f"{found.step}: set aside")
        steps.append(found)
    lines = raw.get_column("_line")
    marked = (
        raw.filter(lines.is_in(list(marks)))
        .select(pl.col("_line").alias(MARK_LINE), *data_cols)
        .with_columns(pl.col(MARK_LINE).map_elements(lambda n: "; ".join(marks[n]), pl.String).alias("marks"))
    )
    return CleaningPreview(raw.height, steps, marked.select(MARK_LINE, "marks", *data_cols))


def _changed(before: pl.DataFrame, after: pl.DataFrame, columns: list[str]) -> list[int]:
    """Source lines of rows in both frames whose values differ."""
    import polars as pl

    cols = [c for c in columns if c in before.columns and c in after.columns]
    if not cols:
        return []
    joined = (
        before.select("_line", *cols)
        .drop_nulls("_line")
        .join(after.select("_line", *cols).drop_nulls("_line"), on="_line", suffix="__after")
    )
    differs = pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}__after")) for c in cols)
    return sorted(int(n) for n in joined.filter(differs).get_column("_line"))


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
