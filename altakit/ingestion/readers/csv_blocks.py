"""CSV blocks: whole lines of UTF-8 text in, a :class:`Batch` of string rows (plus quarantine) out.

:func:`parse_block` picks the fastest path that gives the same rows, line
numbers and quarantine as the exact one:

* **fields** (no quotes, at least two columns, an ASCII delimiter): one
  multi-threaded ``polars.read_csv`` with an explicit all-string schema reads
  every line as a row. Lines with too few fields (ragged rows, blank lines),
  which polars pads with ``""``, are found from the fields' lengths: a full
  line is as long as its fields plus one byte per column, so only lines whose
  last field is empty are looked at, each at its byte offset. Blocks with CR
  line ends, or with a line polars refuses as too long (read again truncated),
  are counted instead: line ends and delimiters per piece of :data:`PIECE`
  bytes (every line when one is too long), per line only where a count is off.
  Their rows are dropped and their text goes to quarantine with its line
  number. Line numbers are row numbers, not computed in Python per row.
* **lines** (no quotes): each line is read as one string, its fields counted
  and split with polars expressions.
* **quoted** (quotes, or invalid UTF-8, or a block of at most
  :data:`SMALL_BLOCK` bytes of plain ASCII — a small file's rows — where a polars
  query costs more than reading the lines in Python): :mod:`csv`, line by line,
  still line-exact.

Every value arrives as a string (empty fields as ``""``); typing and null
tokens are handled later (:mod:`altakit.ingestion.schema`).

Example:
    >>> batch = parse_block("a.csv", b"1,2\\n3\\n4,5\\n", 1, ["a", "b"], ",")
    >>> batch.data.get_column("_line").to_list(), batch.bad.get_column("_line").to_list()
    ([2, 4], [3])
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING, Any

from altakit.datasets.tables import QUARANTINE_COLUMNS
from altakit.ingestion.readers._common import Batch, no_rows, quarantine_rows

if TYPE_CHECKING:
    import polars as pl

#: Longest quoted CSV field read; longer ones are quarantined.
MAX_FIELD = 256 * 1024 * 1024
#: Above this share of odd lines (ragged, blank) in a block, the lines path reads the whole block;
#: above this share of empty last fields, short lines are found by counting, not one by one.
ODD_SHARE = 0.05
#: Bytes per piece in which line ends and delimiters are counted to find odd lines.
PIECE = 64 * 1024
#: Blocks up to this size take the :mod:`csv` path: a polars query's fixed cost (about a
#: millisecond) would be most of a small file's reading time.
SMALL_BLOCK = 16 * 1024
_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")


def parse_block(name: str, block: bytes, lineno: int, header: list[str], delim: str) -> Batch:
    """Parse one block of whole lines (ending in ``\\n``); ``lineno`` is the line number before it.

    Args:
        name: Source name recorded in ``_source`` and in quarantine.
        block: Whole lines of text, each ending in ``\\n``.
        lineno: Physical line number of the line before the block's first line.
        header: Column names.
        delim: One-character field separator.
    """
    # csv splits at a CR and Python strips control characters as blanks; the other paths do neither
    small = len(block) <= SMALL_BLOCK and block.isascii() and not _CONTROL.search(block)
    if small or b'"' in block or b"\x1f" in block:
        return parse_quoted(name, block, lineno, header, delim)
    if len(header) >= 2 and delim.isascii() and delim not in "\r\n":
        fast = parse_fields(name, block, lineno, header, delim)
        if fast is not None:
            return fast
    return parse_lines(name, block, lineno, header, delim)


def parse_fields(name: str, block: bytes, lineno: int, header: list[str], delim: str) -> Batch | None:
    """The fields path (see the module docstring); ``None`` when the block needs another path."""
    import numpy as np
    import polars as pl

    k, sep = len(header), delim.encode()
    cr = b"\r" in block
    if cr and block.count(b"\r") != block.count(b"\r\n"):  # polars splits at a lone CR
        return None
    # polars reads every line as one row (blank and short lines padded with "", longer lines refused
    # unless truncated); short lines are found from the field lengths, or by counting delimiters
    # (line by line if there is a longer line, which may hide a shorter one in a piece's count)
    fields = _read_fields(block, header, delim)
    longer = fields is None
    if longer and (fields := _read_fields(block, header, delim, truncate=True)) is None:
        return None  # invalid UTF-8: no count needed to know that
    assert fields is not None
    split = None if longer or cr else _short_lines(block, fields)
    spans, odd, n = split or _odd_lines(block, sep, k, None if longer else PIECE)
    if not n or fields.height != n or len(odd) > ODD_SHARE * n:
        return None
    line = pl.int_range(lineno + 1, lineno + 1 + n, dtype=pl.Int64, eager=True)
    data = fields.select(pl.lit(name).alias("_source"), line.alias("_line"), pl.all())
    if not len(odd):
        return Batch(data, no_rows(), 0, n)
    keep = np.ones(n, dtype=bool)
    keep[odd] = False
    bad, blank = _odd_rows(name, [block[a:b] for a, b in spans], (odd + (lineno + 1)).tolist(), k, delim)
    return Batch(data.filter(pl.Series(keep)), bad, blank, n)


def _short_lines(
    block: bytes, fields: pl.DataFrame, share: float = ODD_SHARE
) -> tuple[list[tuple[int, int]], Any, int] | None:
    """The lines polars padded, exactly, from the lengths of the fields it read.

    For a block without CR that polars read without truncating, no line has more fields than
    the header, and a line is full exactly when its length is its fields' bytes plus one byte per
    column (delimiters and the line end). Only a line whose last field is empty can be short;
    those are checked in order, each at its true offset (the bytes the short lines before it
    lack are known by then). ``(byte spans, row indices, lines)`` like :func:`_odd_lines`;
    ``None`` if the lengths do not add up to the block, or more than ``share`` of the last fields
    are empty (counting is cheaper than looking at each then).
    """
    import numpy as np
    import polars as pl

    k = fields.width
    full = fields.select(pl.sum_horizontal(pl.all().str.len_bytes()) + k).to_series().to_numpy()
    maybe = np.flatnonzero(fields.get_column(fields.columns[-1]).str.len_bytes().to_numpy() == 0)
    if not fields.height or len(maybe) > share * fields.height:
        return None
    if not len(maybe):
        return ([], maybe, fields.height) if int(full.sum(dtype=np.int64)) == len(block) else None
    # byte offsets of the maybe-short lines if every line were full: the sums between them
    before = int(full[: maybe[0]].sum(dtype=np.int64))
    between = np.add.reduceat(full, maybe, dtype=np.int64)
    starts = (before + np.cumsum(between) - between).tolist()
    odd, spans, lacking = [], [], 0
    for i, start, length in zip(maybe.tolist(), starts, full[maybe].tolist(), strict=True):
        start -= lacking
        nl = block.find(b"\n", start, start + length)
        if nl != start + length - 1:  # a line end before its full length: a short line
            if nl < 0:
                return None
            odd.append(i)
            spans.append((start, nl + 1))
            lacking += start + length - 1 - nl
    if before + int(between.sum()) - lacking != len(block):
        return None
    return spans, np.array(odd, dtype=np.int64), fields.height


def _odd_lines(block: bytes, sep: bytes, k: int, piece: int | None) -> tuple[list[tuple[int, int]], Any, int]:
    """The lines of a block without ``k - 1`` delimiters: ``(their byte spans, their indices, all lines)``.

    The block is counted in pieces of ``piece`` bytes; only the pieces whose delimiter count is
    off are looked at line by line (every line with ``piece=None``: one line with a field too
    many and one with a field too few cancel out in a count).
    """
    import numpy as np

    odd: list[Any] = []
    spans: list[tuple[int, int]] = []
    pos = line = 0
    while pos < len(block):
        end = len(block) if piece is None else block.find(b"\n", min(pos + piece, len(block)) - 1) + 1
        end = end or len(block)
        lines = block.count(b"\n", pos, end)
        if piece is None or block.count(sep, pos, end) != (k - 1) * lines:
            raw = np.frombuffer(block, dtype=np.uint8, count=end - pos, offset=pos)
            ends = np.flatnonzero(raw == 10)
            per_line = np.diff(np.searchsorted(np.flatnonzero(raw == sep[0]), ends), prepend=0)
            bad = np.flatnonzero(per_line != k - 1)
            starts = np.concatenate(([0], ends[:-1] + 1))
            odd.append(bad + line)
            spans += zip((starts[bad] + pos).tolist(), (ends[bad] + pos + 1).tolist(), strict=True)
        pos, line = end, line + lines
    return spans, np.concatenate(odd) if odd else np.empty(0, dtype=np.int64), line


def _odd_rows(
    name: str, lines: list[bytes], numbers: list[int], k: int, delim: str
) -> tuple[pl.DataFrame, int]:
    """Quarantine rows for lines without ``k`` fields, as the lines path words them, and the blank count.

    A line is blank as :func:`_lines` sees it: nothing but Unicode white space (Python's ``strip``
    also strips the separators ``\\x1c``-``\\x1e``, which polars keeps).
    """
    bad, blank = [], 0
    for raw, number in zip(lines, numbers, strict=True):
        text = raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
        if not text.strip() and not any(c in text for c in "\x1c\x1d\x1e"):
            blank += 1
        else:
            bad.append((number, f"ragged row: {text.count(delim) + 1} fields, expected {k}", text))
    return quarantine_rows(name, bad), blank


def _read_fields(block: bytes, header: list[str], delim: str, truncate: bool = False) -> pl.DataFrame | None:
    """One multi-threaded polars parse into string columns, a row per line.

    ``None`` if polars refuses the block: a line with more fields than ``header`` (unless
    ``truncate``) or invalid UTF-8.
    """
    import polars as pl

    try:
        return pl.read_csv(
            block,
            has_header=False,
            separator=delim,
            quote_char=None,
            schema=dict.fromkeys(header, pl.String),
            empty_string_is_null=False,
            encoding="utf8",
            raise_if_empty=False,
            truncate_ragged_lines=truncate,
            extra_columns="ignore" if truncate else "raise",
        )
    except pl.exceptions.PolarsError:
        return None


def parse_lines(name: str, block: bytes, lineno: int, header: list[str], delim: str) -> Batch:
    """The lines path (see the module docstring); blocks with invalid UTF-8 take the quoted path."""
    out = _lines(name, block, header, delim, lineno + 1)
    return out if out is not None else parse_quoted(name, block, lineno, header, delim)


def _lines(name: str, block: bytes, header: list[str], delim: str, first: int) -> Batch | None:
    """Read each line as one string, then count and split its fields; ``None`` on invalid UTF-8.

    Args:
        name: Source name.
        block: Whole lines without quotes.
        header: Column names.
        delim: Field separator.
        first: Line number of the block's first line.
    """
    import polars as pl

    try:
        lines = pl.read_csv(
            io.BytesIO(block),
            has_header=False,
            separator="\x1f",
            quote_char=None,
            schema={"_raw": pl.String},
            encoding="utf8",
        )
    except pl.exceptions.PolarsError:  # invalid UTF-8 somewhere in the block
        return None
    lines = lines.with_row_index("_line", offset=first).with_columns(pl.col("_line").cast(pl.Int64))
    blank = lines.filter(pl.col("_raw").is_null() | (pl.col("_raw").str.strip_chars() == ""))
    lines = lines.filter(pl.col("_raw").is_not_null() & (pl.col("_raw").str.strip_chars() != ""))
    nfields = pl.col("_raw").str.count_matches(delim, literal=True) + 1
    lines = lines.with_columns(nfields.alias("_n"))
    good = lines.filter(pl.col("_n") == len(header))
    bad = lines.filter(pl.col("_n") != len(header)).select(
        pl.lit(name).alias("_source"),
        "_line",
        pl.concat_str(
            [pl.lit("ragged row: "), pl.col("_n").cast(pl.String), pl.lit(f" fields, expected {len(header)}")]
        ).alias("_reason"),
        "_raw",
    )
    if len(header) == 1:
        fields = good.select(pl.col("_raw").alias(header[0]))
    else:
        fields = good.select(pl.col("_raw").str.split_exact(delim, len(header) - 1)).unnest("_raw")
        fields.columns = header
    data = pl.concat([good.select(pl.lit(name).alias("_source"), "_line"), fields], how="horizontal")
    return Batch(data, bad.select(QUARANTINE_COLUMNS), blank.height)


def parse_quoted(name: str, block: bytes, lineno: int, header: list[str], delim: str) -> Batch:
    """The quoted path: :mod:`csv` line by line (also lines of invalid UTF-8, quarantined)."""
    import polars as pl

    bad: list[tuple[int, str, str]] = []
    texts, numbers = [], []
    for i, raw in enumerate(block.split(b"\n")[:-1]):
        try:
            texts.append(raw.decode("utf-8").rstrip("\r") + "\n")
            numbers.append(lineno + 1 + i)
        except UnicodeDecodeError:
            bad.append((lineno + 1 + i, "invalid utf-8", raw.decode("utf-8", errors="replace")))
    if csv.field_size_limit() < MAX_FIELD:  # the polars paths have no limit; match them up to MAX_FIELD
        csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(texts, delimiter=delim, strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    blank = 0
    consumed = 0
    while True:
        start = numbers[consumed] if consumed < len(numbers) else -1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            end = reader.line_num
            bad.append((start, f"malformed CSV: {exc}", "".join(texts[consumed:end])[:10_000]))
            consumed = end
            continue
        raw_text = "".join(texts[consumed : reader.line_num])
        consumed = reader.line_num
        if not record or (len(record) == 1 and not record[0].strip()):
            blank += 1
        elif len(record) != len(header):
            bad.append(
                (start, f"ragged row: {len(record)} fields, expected {len(header)}", raw_text.rstrip("\n"))
            )
        else:
            rows.append(record)
            lines.append(start)
    schema = {"_source": pl.String, "_line": pl.Int64, **{c: pl.String for c in header}}
    data = pl.DataFrame(
        [[name] * len(rows), lines, *([r[i] for r in rows] for i in range(len(header)))],
        schema=schema,
        orient="col",
    )
    bad.sort()
    return Batch(data, quarantine_rows(name, bad) if bad else no_rows(), blank)
