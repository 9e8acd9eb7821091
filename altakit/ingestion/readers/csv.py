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
import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from altakit.errors import ConfigError, IngestError
from altakit.ingestion.readers._common import MAX_COLUMNS, SAMPLE, Batch, ReadOptions, column_names
from altakit.ingestion.readers.csv_blocks import parse_block
from altakit.ingestion.readers.csv_text import normalise_line_ends, utf8_chunks

if TYPE_CHECKING:
    from altakit.ingestion.sources import SourceFile

#: Delimiters :func:`detect_delimiter` tries.
DELIMITERS = (",", ";", "\t", "|")


def detect_encoding(sample: bytes) -> str:
    """The encoding of a text sample: by BOM, UTF-16/32 by their zero bytes, UTF-8 if it decodes, else cp1252.

    Raises:
        IngestError: The sample looks like binary data, not text.

    Example:
        >>> detect_encoding("Grüße aus Köln".encode("latin-1"))
        'cp1252'
        >>> detect_encoding("a,b\\n1,2\\n".encode("utf-32-le")), detect_encoding("a,b".encode("utf-16-be"))
        ('utf-32-le', 'utf-16-be')
    """
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if b"\x00" in sample:
        wide = _wide_encoding(sample)
        if wide is None:
            raise IngestError("binary data, not text (NUL bytes)", hint="check the file's format")
        return wide
    controls = sum(sample.count(bytes([b])) for b in (*range(1, 9), *range(14, 32)))
    if controls > len(sample) // 20:
        raise IngestError("binary data, not text (control bytes)", hint="check the file's format")
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3:  # a character cut by the sample's end
            return "utf-8"
    # UTF-8 with a few damaged lines (quarantined later) when its multi-byte characters outnumber the
    # bytes that are not UTF-8: reading it all as cp1252 would turn every one of them into mojibake
    text = sample.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    if sum(1 for ch in text if ch > "\x7f") - invalid > invalid:
        return "utf-8"
    # cp1252, its five undefined bytes read as latin-1 (see _to_utf8): every byte decodes
    return "cp1252"


#: Byte order marks, longest first (the UTF-32 LE mark begins like UTF-16 LE's).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _wide_encoding(sample: bytes) -> str | None:
    """UTF-32 or UTF-16 (LE or BE) without a BOM, told by where the zero bytes of mostly-ASCII text fall."""
    import numpy as np

    raw = np.frombuffer(sample[: len(sample) // 4 * 4], dtype=np.uint8)
    if raw.size < 4:
        return None
    zero = raw == 0
    share = [float(zero[k::4].mean()) for k in range(4)]
    odd, even = (share[1] + share[3]) / 2, (share[0] + share[2]) / 2
    candidates = []
    if share[3] == 1 and share[2] > 0.9 and share[0] < 0.1:
        candidates.append("utf-32-le")
    if share[0] == 1 and share[1] > 0.9 and share[3] < 0.1:
        candidates.append("utf-32-be")
    if odd > 0.5 and even < 0.1:
        candidates.append("utf-16-le")
    if even > 0.5 and odd < 0.1:
        candidates.append("utf-16-be")
    for name in candidates:
        data = raw.tobytes()
        try:
            text = data.decode(name)
        except UnicodeDecodeError as exc:
            if exc.start < len(data) - 4:  # not only a character cut by the sample's end
                continue
            text = data[: exc.start].decode(name)
        if "\x00" not in text:
            return name
    return None


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
    chunks = normalise_line_ends(utf8_chunks(src.name, src.path, encoding, options.block_bytes))
    head: list[bytes] = []
    size = 0
    for chunk in chunks:  # the sample, as UTF-8 with LF line ends
        head.append(chunk)
        size += len(chunk)
        if size >= SAMPLE:
            break
    buf = b"".join(head)
    text = buf[:SAMPLE].decode("utf-8", errors="ignore")
    head_lines = text.splitlines()
    delim = options.delimiter or detect_delimiter(head_lines[:-1] or head_lines)
    if len(delim) != 1:
        raise ConfigError(f"delimiter must be one character, not {delim!r}")
    # the header: the first line that is not blank (read on while it is longer than the sample)
    pos, lineno = 0, 0
    while True:
        end = buf.find(b"\n", pos)
        if end < 0:
            more = next(chunks, None)
            if more is not None:
                buf += more
                continue
            end = len(buf)
        lineno += 1
        header_line, pos = buf[pos : end + 1], end + 1
        if header_line.strip():
            break
        if pos >= len(buf):
            more = next(chunks, None)
            if more is None:
                break
            buf += more
    text_header = header_line.decode("utf-8", errors="replace").rstrip("\r\n")
    header = _header(src.name, text_header, delim, options.max_columns, src.renamed)
    step = options.block_bytes
    rest = (buf[at : at + step] for at in range(pos, len(buf), step))  # the sample read on
    yield from _blocks(src.name, itertools.chain(rest, chunks), lineno, header, delim)


def _blocks(
    name: str, chunks: Iterator[bytes], lineno: int, header: list[str], delim: str
) -> Iterator[Batch]:
    """Parse ``chunks`` of UTF-8 text (LF line ends) in blocks of whole lines; ``lineno``: lines before."""
    carry, any_rows = b"", False
    for chunk in chunks:
        if not chunk:
            continue
        any_rows = True
        cut = chunk.rfind(b"\n")
        if cut < 0:
            carry += chunk
            continue
        block = b"".join((carry, memoryview(chunk)[: cut + 1]))  # one copy
        carry = chunk[cut + 1 :]
        batch = parse_block(name, block, lineno, header, delim)
        yield batch
        lineno += block.count(b"\n") if batch.lines is None else batch.lines
    if carry:
        yield parse_block(name, carry + b"\n", lineno, header, delim)
    elif not any_rows:
        yield parse_block(name, b"", lineno, header, delim)


def _header(
    name: str, line: str, delim: str, max_columns: int = MAX_COLUMNS, renamed: dict[str, str] | None = None
) -> list[str]:
    """The column names of a header line: empty ones named ``column_<n>``, then :func:`column_names`."""
    try:
        cols = next(csv.reader([line], delimiter=delim))
    except csv.Error as exc:
        raise IngestError(f"{name}: the header line is not valid CSV ({exc})", source=name) from exc
    cols = [c.strip().lstrip("\ufeff") or f"column_{i + 1}" for i, c in enumerate(cols)]
    return column_names(name, cols, max_columns, renamed)
