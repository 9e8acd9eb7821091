"""Quarantine: rows that could not be read or validated, kept with why and where.

Every rejected row becomes one quarantine row with four columns: ``_source``
(the source file's name), ``_line`` (the physical line in that file, 1-based;
for Parquet and JSON arrays the record number), ``_reason`` (a short, stable
text such as ``"ragged row: 3 fields, expected 4"``) and ``_raw`` (the row as
read: the raw line, or the fields as JSON). Nothing is dropped silently: an
ingest reports ``rows_in = rows_written + rows_quarantined``.

Values live only in this table. A reason names the column and the expected type
and quotes at most :data:`EXCERPT` characters of the value (``value_excerpt`` in
the spec; ``0`` masks it: :func:`excerpts`); what reaches the catalog
(:meth:`Quarantine.reasons`, :func:`summaries`) drops even that excerpt and keeps
at most :data:`MAX_REASONS` reasons of at most :data:`REASON_CHARS` characters. The quarantine
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

import contextlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from altakit.datasets.tables import QUARANTINE_COLUMNS, quarantine_schema

if TYPE_CHECKING:
    import polars as pl

COLUMNS = QUARANTINE_COLUMNS
#: Characters of a rejected value a reason quotes (the spec's ``value_excerpt``).
EXCERPT = 40
#: Most distinct reasons a catalog summary keeps (the rest are counted under :data:`OTHER`).
MAX_REASONS = 100
#: Most characters of one reason in a catalog summary.
REASON_CHARS = 200
#: The summary key of the reasons beyond :data:`MAX_REASONS`.
OTHER = "(other reasons)"
#: What a masked value reads as in a reason.
MASKED = "<masked>"
_EXCERPT: ContextVar[int] = ContextVar("altakit_value_excerpt", default=EXCERPT)
#: ``column 'c': '<excerpt>' is not int64`` (see :func:`value_reason`): the excerpt is what a summary drops.
_VALUE_REASON = re.compile(r"^(column '.*?'): (?:'.*'|<masked>) is (.*)$", re.DOTALL)


@contextlib.contextmanager
def excerpts(chars: int) -> Iterator[None]:
    """Within the block, reasons quote ``chars`` characters of a value (``0``: the value is masked).

    Example:
        >>> import polars as pl
        >>> with excerpts(0):
        ...     pl.select(value_reason("email", "not int64", pl.lit("ana@example.com"))).item()
        "column 'email': <masked> is not int64"
    """
    token = _EXCERPT.set(max(0, int(chars)))
    try:
        yield
    finally:
        _EXCERPT.reset(token)


def shorten(text: str, chars: int = EXCERPT) -> str:
    """``text`` cut to ``chars`` characters, ``…`` marking the cut.

    Example:
        >>> shorten("x" * 50, 5)
        'xxxxx…'
    """
    return text if len(text) <= chars else text[:chars] + "…"


def value_reason(column: str, what: str, values: pl.Expr) -> pl.Expr:
    """A reason per row: ``column 'c': '<excerpt>' is <what>`` (the excerpt short, or masked).

    Example:
        >>> import polars as pl
        >>> pl.select(value_reason("v", "not int64", pl.lit("y" * 60))).item()
        "column 'v': 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy…' is not int64"
    """
    import polars as pl

    chars = _EXCERPT.get()
    if chars == 0:
        return pl.lit(f"column '{column}': {MASKED} is {what}")
    text = values.cast(pl.String)
    cut = pl.when(text.str.len_chars() > chars).then(text.str.slice(0, chars) + "…").otherwise(text)
    return pl.concat_str([pl.lit(f"column '{column}': '"), cut, pl.lit(f"' is {what}")])


def summary(reason: str) -> str:
    """A reason as a catalog record may hold it: no value excerpt, at most :data:`REASON_CHARS` characters.

    Example:
        >>> summary("column 'v': 'ana@example.com' is not int64")
        "column 'v': a value is not int64"
    """
    found = _VALUE_REASON.match(reason)
    if found is not None:
        reason = f"{found.group(1)}: a value is {found.group(2)}"
    return shorten(reason, REASON_CHARS)


def summaries(counts: Mapping[str, int] | Iterable[tuple[str, int]]) -> dict[str, int]:
    """Counts per reason as a catalog record may hold them (see :func:`summary`, :data:`MAX_REASONS`).

    Example:
        >>> summaries({"column 'v': 'a' is not int64": 2, "column 'v': 'b' is not int64": 1})
        {"column 'v': a value is not int64": 3}
    """
    merged: Counter[str] = Counter()
    for reason, n in counts.items() if isinstance(counts, Mapping) else counts:
        merged[summary(str(reason))] += int(n)
    ranked = merged.most_common()
    out = dict(ranked[:MAX_REASONS])
    if len(ranked) > MAX_REASONS:
        out[OTHER] = out.get(OTHER, 0) + sum(n for _, n in ranked[MAX_REASONS:])
    return out


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
    """Collects quarantine rows during one ingest.

    Rows another process already wrote into the quarantine table (a Spark task) are
    counted with :meth:`add_written`, so the accounting stays exact without them here.
    """

    def __init__(self) -> None:
        self._parts: list[pl.DataFrame] = []
        self._written: Counter[str] = Counter()  # reason summary -> rows written elsewhere

    def add_written(self, reasons: Mapping[str, int]) -> None:
        """Count rows written elsewhere: ``{summary(reason): rows}`` (see :func:`reason_counts`)."""
        self._written.update({str(k): int(v) for k, v in reasons.items()})

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
        return sum(p.height for p in self._parts) + sum(self._written.values())

    def frame(self) -> pl.DataFrame:
        """The quarantine rows held here, in the order they were added (not those written elsewhere)."""
        import polars as pl

        if not self._parts:
            return pl.DataFrame(schema=schema())
        return pl.concat(self._parts, how="vertical")

    def reasons(self) -> dict[str, int]:
        """Counts per reason, for reports and the catalog: no values in them (see :func:`summaries`)."""
        counts: Counter[str] = Counter(self._written)
        for part in self._parts:
            counts.update(reason_counts(part))
        return summaries(counts)


def reason_counts(rows: pl.DataFrame) -> Counter[str]:
    """Quarantine rows counted per reason summary (:func:`summary`), before :func:`summaries` caps them."""
    counts: Counter[str] = Counter()
    for reason, n in rows.group_by("_reason").len().iter_rows():
        counts[summary(str(reason))] += n
    return counts
