"""CSV/TSV text, read in blocks of bounded size.

The encoding (BOM, UTF-8, else cp1252 / latin-1) and the delimiter are detected
from a sample unless given. Each block of whole lines is parsed by
:func:`~altakit.ingestion.readers.csv_blocks.parse_block`: unquoted text by
multi-threaded polars with line numbers from vectorised line offsets, a line
with the wrong number of fields quarantined with its line number; blocks with
quotes through :mod:`csv`, still line-exact. Every value arrives as a string
(empty fields too); typing and null tokens are handled later
(:mod:`altakit.ingestion.schema`).

Example:
    >>> detect_delimiter(["a;b;c", "1;2;3"])
    ';'
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from altakit.errors import ConfigError, IngestError
from altakit.ingestion.readers._common import SAMPLE, Batch, ReadOptions
from altakit.ingestion.readers.csv_blocks import parse_block

if TYPE_CHECKING:
    from pathlib import Path

    from altakit.ingestion.sources import SourceFile

#: Delimiters :func:`detect_delimiter` tries.
DELIMITERS = (",", ";", "\t", "|")


def detect_encoding(sample: bytes) -> str:
    """``utf-8-sig``, ``utf-16`` (by BOM), ``utf-8`` if the sample decodes, else a best guess.

    Raises:
        IngestError: The sample looks like binary data, not text.

    Example:
        >>> detect_encoding("Grüße aus Köln".encode("latin-1"))
        'cp1252'
    """
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in sample:
        raise IngestError("binary data, not text (NUL bytes)", hint="check the file's format")
    controls = sum(sample.count(bytes([b])) for b in (*range(1, 9), *range(14, 32)))
    if controls > len(sample) // 20:
        raise IngestError("binary data, not text (control bytes)", hint="check the file's format")
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3:  # a character cut by the sample's end
            return "utf-8"
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def detect_delimiter(lines: Sequence[str]) -> str:
    """The candidate delimiter found most consistently in the first lines (``","`` if none).

    Example:
        >>> detect_delimiter(["a\\tb", "1\\t2"])
        '\\t'
    """
    best, best_score = ",", 0.0
    lines = [ln for ln in lines if ln.strip()][:50]
    for d in DELIMITERS:
        counts = [_count_outside_quotes(ln, d) for ln in lines]
        if not counts or counts[0] == 0:
            continue
        agree = sum(1 for c in counts if c == counts[0]) / len(counts)
        score = agree * 1000 + counts[0]
        if score > best_score:
            best, best_score = d, score
    return best


def _count_outside_quotes(line: str, delim: str) -> int:
    if '"' not in line:
        return line.count(delim)
    n, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delim and not quoted:
            n += 1
    return n


def _to_utf8(src: SourceFile, encoding: str) -> Path:
    out = src.path.with_name(src.path.name + ".utf8")
    try:
        with open(src.path, encoding=encoding, newline="") as f, open(out, "w", encoding="utf-8") as g:
            shutil.copyfileobj(f, g, 1024 * 1024)
    except (UnicodeDecodeError, UnicodeError) as exc:
        raise IngestError(f"{src.name}: not valid {encoding} text ({exc})", source=src.name) from exc
    return out


def read_csv(src: SourceFile, options: ReadOptions) -> Iterator[Batch]:
    """Read CSV/TSV text in blocks of ``options.block_bytes``; see the module docstring.

    Raises:
        IngestError: The file is empty, binary, not valid text in its encoding, or its header is bad.
        ConfigError: The delimiter is not one character.
    """
    with open(src.path, "rb") as f:
        sample = f.read(SAMPLE)
    if not sample.strip():
        raise IngestError(f"{src.name}: the file is empty", source=src.name)
    try:
        encoding = options.encoding or detect_encoding(sample)
    except IngestError as exc:
        raise IngestError(f"{src.name}: {exc.message}", source=src.name, hint=exc.hint) from None
    path = src.path
    if encoding.replace("_", "-").lower() not in ("utf-8", "utf8"):
        path = _to_utf8(src, encoding)
        with open(path, "rb") as f:
            sample = f.read(SAMPLE)
    text = sample.decode("utf-8", errors="ignore")
    head_lines = text.splitlines()
    delim = options.delimiter or detect_delimiter(head_lines[:-1] or head_lines)
    if len(delim) != 1:
        raise ConfigError(f"delimiter must be one character, not {delim!r}")
    with open(path, "rb") as f:
        header_line, lineno = f.readline(), 1
        while not header_line.strip() and header_line:
            header_line, lineno = f.readline(), lineno + 1
        header = _header(src.name, header_line.decode("utf-8", errors="replace").rstrip("\r\n"), delim)
        carry, any_rows = b"", False
        while True:
            chunk = f.read(options.block_bytes)
            if not chunk:
                if carry:
                    yield parse_block(src.name, carry + b"\n", lineno, header, delim)
                elif not any_rows:
                    yield parse_block(src.name, b"", lineno, header, delim)
                return
            any_rows = True
            cut = chunk.rfind(b"\n")
            if cut < 0:
                carry += chunk
                continue
            block = b"".join((carry, memoryview(chunk)[: cut + 1]))  # one copy
            carry = chunk[cut + 1 :]
            batch = parse_block(src.name, block, lineno, header, delim)
            yield batch
            lineno += block.count(b"\n") if batch.lines is None else batch.lines


def _header(name: str, line: str, delim: str) -> list[str]:
    cols = next(csv.reader([line], delimiter=delim))
    cols = [c.strip().lstrip("\ufeff") or f"column_{i + 1}" for i, c in enumerate(cols)]
    seen: set[str] = set()
    dupes = sorted({c for c in cols if c in seen or seen.add(c)})  # type: ignore[func-returns-value]
    if dupes:
        raise IngestError(
            f"{name}: duplicate column names {dupes}", source=name, hint="rename the columns in the header"
        )
    bad = [c for c in cols if c.startswith("_")]
    if bad:
        raise IngestError(f"{name}: column names starting with '_' are reserved: {bad}", source=name)
    return cols
