"""Readers: source files in, batches of rows (plus quarantine rows) out.

A source (a path or glob, bytes, a store key ``store:raw/a.csv`` or prefix
``store:raw/``, or a URL under the store's own URL) resolves to
:class:`SourceFile` objects: local files, each with the SHA-256 checksum of the
bytes as received. Compressed inputs (gzip, bzip2, xz, zip) are detected by
their magic bytes and unpacked into a work folder first, so a truncated archive
is a typed :class:`~altakit.errors.IngestError`, never a partial read.

CSV/TSV text is read in blocks (bounded memory). The encoding (BOM, UTF-8,
else cp1252 / latin-1) and the delimiter are detected from a sample unless
given. Each block is parsed by :func:`~altakit.ingestion.csv_blocks.parse_block`:
unquoted text by multi-threaded polars with line numbers from vectorised line
offsets, a line with the wrong number of fields quarantined with its line
number; blocks with quotes through :mod:`csv`, still line-exact. Every value
arrives as a string (empty fields too); typing and null tokens are handled
later (:mod:`.schema`).

Example:
    >>> for batch in read_file(src, ReadOptions()):  # doctest: +SKIP
    ...     print(batch.data.height, batch.bad.height)
"""

from __future__ import annotations

import bz2
import csv
import glob
import gzip
import hashlib
import json
import lzma
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from altakit.errors import ConfigError, IngestError, MissingDependency, NotFound
from altakit.ingestion import quarantine
from altakit.ingestion.csv_blocks import Batch, parse_block

if TYPE_CHECKING:
    import polars as pl

    from altakit.store.base import Store

FORMATS = ("csv", "parquet", "json", "ndjson", "excel")
BLOCK = 16 * 1024 * 1024
#: Batches :func:`read_ahead` reads before they are asked for.
AHEAD = 1
SAMPLE = 64 * 1024
_DELIMS = (",", ";", "\t", "|")
_EXT = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".xlsx": "excel",
    ".xls": "excel",
}


@dataclass(frozen=True)
class SourceFile:
    """One input file, local and unpacked.

    Attributes:
        name: Name recorded in the catalog and quarantine (path, key or ``archive.zip/member``).
        path: Local file with the (decompressed) bytes.
        digest: SHA-256 hex digest of the bytes as received (before decompression), or a
            :class:`~concurrent.futures.Future` of it while a plain file is hashed on a thread
            (reading can start meanwhile); :attr:`checksum` waits for it.
        size: Bytes as received.
    """

    name: str
    path: Path
    digest: str | Future[str]
    size: int

    @property
    def checksum(self) -> str:
        """SHA-256 hex digest of the bytes as received (waits for the hashing thread)."""
        return self.digest if isinstance(self.digest, str) else self.digest.result()


@dataclass
class ReadOptions:
    """How to read sources; ``None`` means detect.

    Attributes:
        format: One of :data:`FORMATS`.
        delimiter: CSV field separator.
        encoding: Text encoding (``"utf-8"``, ``"latin-1"`` …).
        block_bytes: Size of the blocks CSV text is read in.
    """

    format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    block_bytes: int = BLOCK


# ------------------------------------------------------------------ sources
def resolve_sources(
    source: Any, workdir: Path, store: Store | None = None, *, checksums: bool = True
) -> list[SourceFile]:
    """Turn a source into local, unpacked :class:`SourceFile` objects.

    Args:
        source: A path, glob, ``bytes``, ``("name.csv", bytes)``, ``store:key``, ``store:prefix/``,
            a URL under ``store.url``, or a list of these.
        workdir: Folder for unpacked and downloaded copies.
        store: The store ``store:`` sources and URLs refer to.
        checksums: Hash plain files (on a thread); ``False`` leaves their digest ``""`` (estimates).
    """
    if isinstance(source, list | tuple) and not _is_named_bytes(source):
        return [f for item in source for f in resolve_sources(item, workdir, store, checksums=checksums)]
    if isinstance(source, bytes | bytearray | memoryview) or _is_named_bytes(source):
        name, data = source if _is_named_bytes(source) else ("upload", source)
        path = _new_file(workdir, "upload")
        path.write_bytes(bytes(data))
        return _unpack(str(name), path, workdir, checksums)
    text = str(source)
    if store is not None and "://" in text and text.startswith(store.url.rstrip("/") + "/"):
        text = "store:" + text[len(store.url.rstrip("/")) + 1 :]
    if text.startswith("store:"):
        return _from_store(text[len("store:") :], workdir, store, checksums)
    if "://" in text and not text.startswith("file://"):
        raise ConfigError(
            f"cannot read {text!r}: not under the store's URL",
            hint="open the store at that bucket and pass store=…, or copy the file locally",
        )
    text = text.removeprefix("file://")
    matches = sorted(glob.glob(os.path.expanduser(text))) if glob.has_magic(text) else [text]
    files = [m for m in matches if os.path.isfile(m)]
    if not files:
        raise NotFound(f"no input file matches {text!r}", path=text)
    return [f for m in files for f in _unpack(m, Path(m), workdir, checksums)]


def _is_named_bytes(item: Any) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes | bytearray | memoryview)


def _from_store(key: str, workdir: Path, store: Store | None, checksums: bool) -> list[SourceFile]:
    if store is None:
        raise ConfigError(f"source 'store:{key}' needs a store", hint="pass store=altakit.open_store(...)")
    keys = [v.key for v in store.list(key)] if key.endswith("/") or not key else [key]
    if not keys:
        raise NotFound(f"no keys under {key!r} in {store.url}", key=key)
    out = []
    for k in keys:
        with store.open(k) as src:
            path = _copy_in(src, workdir, "store")
        out.extend(_unpack(k, path, workdir, checksums))
    return out


def _digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _hash_later(path: Path) -> Future[str]:
    """The digest of ``path``, computed on a plain thread (hashlib releases the GIL)."""
    done: Future[str] = Future()

    def run() -> None:
        try:
            done.set_result(_digest(path)[0])
        except BaseException as exc:  # handed to whoever asks for the checksum
            done.set_exception(exc)

    threading.Thread(target=run, name="altakit-hash", daemon=True).start()
    return done


def _new_file(workdir: Path, kind: str) -> Path:
    """A new, empty file in ``workdir`` named after what it holds."""
    fd, name = tempfile.mkstemp(prefix=f"{kind}-", dir=workdir)
    os.close(fd)
    return Path(name)


def _copy_in(src: BinaryIO, workdir: Path, kind: str) -> Path:
    """Copy a stream into a new file in ``workdir``."""
    path = _new_file(workdir, kind)
    with open(path, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
    return path


def _unpack(name: str, path: Path, workdir: Path, checksums: bool = True) -> list[SourceFile]:
    with open(path, "rb") as f:
        magic = f.read(8)
    plain = not any(magic.startswith(m) for m in (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"PK\x03\x04"))
    if plain:
        return [SourceFile(name, path, _hash_later(path) if checksums else "", path.stat().st_size)]
    digest, size = _digest(path)
    opener = {b"\x1f\x8b": gzip.open, b"BZ": bz2.open, b"\xfd7zXZ": lzma.open}
    for prefix, open_ in opener.items():
        if magic.startswith(prefix) and not (prefix == b"BZ" and magic[2:3] != b"h"):
            try:
                with open_(path, "rb") as src:
                    out = _copy_in(src, workdir, "unpacked")
            except (EOFError, OSError, lzma.LZMAError, ValueError) as exc:
                raise IngestError(
                    f"{name}: compressed data is damaged or truncated ({exc})",
                    source=name,
                    hint="re-export or re-upload the file",
                ) from exc
            stem = name.rsplit(".", 1)[0] if name.lower().endswith((".gz", ".bz2", ".xz")) else name
            return [SourceFile(stem, out, digest, size)]
    if magic.startswith(b"PK\x03\x04") and not name.lower().endswith((".xlsx", ".xls")):
        return _unzip(name, path, workdir, digest, size)
    return [SourceFile(name, path, digest, size)]


def _unzip(name: str, path: Path, workdir: Path, digest: str, size: int) -> list[SourceFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            if any(n.startswith("xl/") for n in archive.namelist()):
                return [SourceFile(name if name.endswith(".xlsx") else name + ".xlsx", path, digest, size)]
            members = [
                i for i in archive.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX")
            ]
            if not members:
                raise IngestError(f"{name}: the zip archive holds no files", source=name)
            out = []
            for info in members:
                with archive.open(info) as src:
                    target = _copy_in(src, workdir, "unzipped")
                out.append(SourceFile(f"{name}/{info.filename}", target, digest, size))
            return out
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise IngestError(f"{name}: the zip archive is damaged ({exc})", source=name) from exc


# ------------------------------------------------------------------ detection
def detect_format(src: SourceFile) -> str:
    """The format of a source file from its name, else its first bytes."""
    lower = src.name.lower()
    for ext, fmt in _EXT.items():
        if lower.endswith(ext):
            return fmt
    with open(src.path, "rb") as f:
        head = f.read(SAMPLE)
    if head.startswith(b"PAR1"):
        return "parquet"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        return "ndjson"
    return "csv"


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
        >>> detect_delimiter(["a;b;c", "1;2;3"])
        ';'
    """
    best, best_score = ",", 0.0
    lines = [ln for ln in lines if ln.strip()][:50]
    for d in _DELIMS:
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


# ------------------------------------------------------------------ reading
def read_file(src: SourceFile, options: ReadOptions, fmt: str | None = None) -> Iterator[Batch]:
    """Read one source file in batches; see the module docstring."""
    fmt = fmt or options.format or detect_format(src)
    if fmt == "csv":
        yield from read_csv(src, options)
    elif fmt == "parquet":
        yield _read_parquet(src)
    elif fmt == "json":
        yield _read_json(src)
    elif fmt == "ndjson":
        yield from _read_ndjson(src, options)
    elif fmt == "excel":
        yield _read_excel(src)
    else:
        raise ConfigError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")


def read_ahead(files: Sequence[SourceFile], options: ReadOptions) -> Iterator[tuple[SourceFile, Batch]]:
    """``(file, batch)`` for every batch of ``files`` in order, the next ones read on a thread meanwhile.

    Parsing (polars, numpy) releases the GIL, so reading the next block overlaps typing
    and cleaning this one; at most :data:`AHEAD` batches wait. A reader's error is raised here.
    """
    import queue

    ready: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=AHEAD)
    stop, end = threading.Event(), object()

    def put(item: Any, error: BaseException | None = None) -> None:
        while not stop.is_set():
            try:
                ready.put((item, error), timeout=0.1)
                return
            except queue.Full:
                continue

    def run() -> None:
        try:
            for src in files:
                for batch in read_file(src, options):
                    put((src, batch))
                    if stop.is_set():
                        return
            put(end)
        except BaseException as exc:  # handed to the consumer
            put(end, exc)

    thread = threading.Thread(target=run, name="altakit-read", daemon=True)
    thread.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _to_utf8(src: SourceFile, encoding: str) -> Path:
    out = src.path.with_name(src.path.name + ".utf8")
    try:
        with open(src.path, encoding=encoding, newline="") as f, open(out, "w", encoding="utf-8") as g:
            shutil.copyfileobj(f, g, 1024 * 1024)
    except (UnicodeDecodeError, UnicodeError) as exc:
        raise IngestError(f"{src.name}: not valid {encoding} text ({exc})", source=src.name) from exc
    return out


def read_csv(src: SourceFile, options: ReadOptions) -> Iterator[Batch]:
    """Read CSV/TSV text in blocks; see the module docstring."""
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


def _with_position(df: pl.DataFrame, name: str) -> pl.DataFrame:
    import polars as pl

    bad = [c for c in df.columns if c.startswith("_")]
    if bad:
        raise IngestError(f"{name}: column names starting with '_' are reserved: {bad}", source=name)
    df = df.with_row_index("_line", offset=1).with_columns(pl.col("_line").cast(pl.Int64))
    return df.select(pl.lit(name).alias("_source"), pl.all())


def _read_parquet(src: SourceFile) -> Batch:
    import polars as pl

    try:
        df = pl.read_parquet(src.path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise IngestError(f"{src.name}: not a readable Parquet file ({exc})", source=src.name) from exc
    return Batch(_with_position(df, src.name), pl.DataFrame(schema=quarantine.schema()))


def _stringify(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _records_frame(name: str, records: list[tuple[int, dict]], bad: list[tuple[int, str, str]]) -> Batch:
    import polars as pl

    columns: dict[str, None] = {}
    for _, rec in records:
        columns.update(dict.fromkeys(rec))
    reserved = [c for c in columns if c.startswith("_")]
    if reserved:
        raise IngestError(f"{name}: field names starting with '_' are reserved: {reserved}", source=name)
    data = {
        "_source": [name] * len(records),
        "_line": [n for n, _ in records],
        **{c: [_stringify(rec.get(c)) for _, rec in records] for c in columns},
    }
    schema = {"_source": pl.String, "_line": pl.Int64, **{c: pl.String for c in columns}}
    return Batch(pl.DataFrame(data, schema=schema), quarantine.rows(name, bad))


def _read_json(src: SourceFile) -> Batch:
    try:
        with open(src.path, encoding="utf-8-sig") as f:
            doc = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IngestError(f"{src.name}: not valid JSON ({exc})", source=src.name) from exc
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise IngestError(f"{src.name}: JSON must be an array of objects", source=src.name)
    records, bad = [], []
    for i, item in enumerate(doc, start=1):
        if isinstance(item, dict):
            records.append((i, item))
        else:
            bad.append((i, "not a JSON object", json.dumps(item)[:10_000]))
    return _records_frame(src.name, records, bad)


def _read_ndjson(src: SourceFile, options: ReadOptions, batch_rows: int = 200_000) -> Iterator[Batch]:
    records: list[tuple[int, dict]] = []
    bad: list[tuple[int, str, str]] = []
    with open(src.path, "rb") as f:
        for i, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw.decode("utf-8-sig" if i == 1 else "utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                bad.append((i, f"invalid JSON line: {exc}", raw.decode("utf-8", errors="replace").rstrip()))
                continue
            if isinstance(item, dict):
                records.append((i, item))
            else:
                bad.append((i, "not a JSON object", raw.decode("utf-8", errors="replace").rstrip()))
            if len(records) >= batch_rows:
                yield _records_frame(src.name, records, bad)
                records, bad = [], []
    if records or bad:
        yield _records_frame(src.name, records, bad)


def _read_excel(src: SourceFile) -> Batch:
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
    return Batch(_with_position(df, src.name), pl.DataFrame(schema=quarantine.schema()))
