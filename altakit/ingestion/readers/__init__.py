"""Readers: source files in, batches of text rows (plus quarantine rows) out; one module per format.

:func:`read_file` picks the format (the spec's, else from the file's name, else
from its first bytes) and hands the file to that format's reader:
:mod:`.csv` (blocks of CSV/TSV text, parsed by :mod:`.csv_blocks`),
:mod:`.json` (JSON arrays and NDJSON), :mod:`.parquet` and :mod:`.excel`. Each
yields :class:`Batch` objects: the rows with ``_source`` and ``_line``, and the
rows that could not be read, as quarantine rows. :func:`read_ahead` reads the
next batch on a thread while the current one is typed and cleaned, and hands
over the batches of many small files (each at most a block) with the same
columns as one (:func:`coalesce`): typing costs per batch, and a glob of
100,000 tiny files would otherwise pay it 100,000 times. Such a run is typed
as one block of one file would be (its types inferred from all its rows). Where the
files come from (paths, uploads, store keys, archives) is :mod:`altakit.ingestion.sources`.

Example:
    >>> for batch in read_file(src, ReadOptions()):  # doctest: +SKIP
    ...     print(batch.data.height, batch.bad.height)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from altakit.errors import AltakitError, ConfigError, IngestError
from altakit.ingestion.readers._common import BLOCK, FORMATS, MAX_COLUMNS, SAMPLE, Batch, ReadOptions
from altakit.ingestion.readers.csv import detect_delimiter, detect_encoding, read_csv
from altakit.ingestion.readers.excel import read_excel
from altakit.ingestion.readers.json import read_json, read_ndjson
from altakit.ingestion.readers.parquet import read_parquet

if TYPE_CHECKING:
    from altakit.ingestion.sources import SourceFile

__all__ = [
    "AHEAD",
    "BLOCK",
    "COALESCE_BYTES",
    "COALESCE_ROWS",
    "FORMATS",
    "MAX_COLUMNS",
    "Batch",
    "ReadOptions",
    "coalesce",
    "detect_delimiter",
    "detect_encoding",
    "detect_format",
    "read_ahead",
    "read_file",
]

#: Batches :func:`read_ahead` reads before they are asked for.
AHEAD = 1
#: Rows up to which consecutive batches with the same columns are handed over as one (:func:`coalesce`).
COALESCE_ROWS = 65_536
#: Bytes (in memory) up to which consecutive batches are handed over as one.
COALESCE_BYTES = 8 * 1024 * 1024
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


def read_file(src: SourceFile, options: ReadOptions, fmt: str | None = None) -> Iterator[Batch]:
    """Read one source file in batches; see the module docstring.

    Every error is an :class:`~altakit.errors.AltakitError`: one a dependency raises is re-raised
    as :class:`~altakit.errors.IngestError` naming the file, ``from`` the original.

    Raises:
        ConfigError: ``fmt`` (or ``options.format``) is not one of :data:`FORMATS`.
        IngestError: The file cannot be read as a whole in its format.
    """
    if src.stored is not None and not src.stored.whole:  # never read a sample as the file
        raise IngestError(
            f"{src.name}: only its first bytes are here; the worker that reads it fetches it",
            source=src.name,
            hint="this is a bug in altakit; please report it",
        )
    fmt = fmt or options.format or detect_format(src)
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    try:
        if fmt == "csv":
            yield from read_csv(src, options)
        elif fmt == "parquet":
            yield read_parquet(src, options.max_columns, options.limits)
        elif fmt == "json":
            yield read_json(src, options.max_columns)
        elif fmt == "ndjson":
            yield from read_ndjson(src, max_columns=options.max_columns)
        else:
            yield read_excel(src, options.max_columns)
    except (AltakitError, GeneratorExit, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the boundary: any dependency's error, pyo3 panics too, is typed here
        raise IngestError(
            f"{src.name}: cannot be read as {fmt} ({type(exc).__name__}: {exc})",
            source=src.name,
            format=fmt,
            hint="check the file and its format (the spec's format, encoding, delimiter)",
        ) from exc


def coalesce(items: Iterable[tuple[SourceFile, Batch, bool]]) -> Iterator[tuple[SourceFile, Batch]]:
    """``(file, batch)`` of ``(file, batch, whole)`` items, runs of whole small files joined in one batch.

    ``whole``: the batch is all of a small file (a file read in several blocks keeps its blocks:
    each is a typing step of its own). A run of such batches with the same columns (and types)
    becomes one batch that holds their rows in order (each keeps its ``_source`` and ``_line``),
    comes with the last of its files, and has :attr:`Batch.nbytes`, the bytes of its files together;
    it holds at most :data:`COALESCE_ROWS` rows and :data:`COALESCE_BYTES` bytes.

    Example:
        >>> import polars as pl
        >>> from pathlib import Path
        >>> from altakit.ingestion.readers._common import no_rows
        >>> from altakit.ingestion.sources import SourceFile
        >>> def one(name):
        ...     rows = pl.DataFrame({"_source": [name], "v": ["1"]})
        ...     return SourceFile(name, Path(name), "", 4), Batch(rows, no_rows()), True
        >>> [(src.name, batch.data.height) for src, batch in coalesce([one("a.csv"), one("b.csv")])]
        [('b.csv', 2)]
    """
    pending: list[tuple[SourceFile, Batch]] = []
    rows = size = 0
    for src, batch, whole in items:
        n, b = batch.data.height, int(batch.data.estimated_size())
        if pending and (
            not whole
            or rows + n > COALESCE_ROWS
            or size + b > COALESCE_BYTES
            or batch.data.schema != pending[0][1].data.schema
        ):
            yield _joined(pending)
            pending, rows, size = [], 0, 0
        if not whole:
            yield src, batch
            continue
        pending.append((src, batch))
        rows, size = rows + n, size + b
    if pending:
        yield _joined(pending)


def _joined(pending: list[tuple[SourceFile, Batch]]) -> tuple[SourceFile, Batch]:
    """One ``(file, batch)`` of several (see :func:`coalesce`)."""
    import polars as pl

    if len(pending) == 1:
        return pending[0]
    batches = [b for _, b in pending]
    sizes = {id(src): src.size for src, _ in pending}
    joined = Batch(
        pl.concat([b.data for b in batches], how="vertical", rechunk=False),
        pl.concat([b.bad for b in batches], how="vertical", rechunk=False),
        blank_lines=sum(b.blank_lines for b in batches),
        nbytes=sum(sizes.values()),
    )
    return pending[-1][0], joined


def read_ahead(files: Sequence[SourceFile], options: ReadOptions) -> Iterator[tuple[SourceFile, Batch]]:
    """``(file, batch)`` for every batch of ``files`` in order, the next ones read on a thread meanwhile.

    Parsing (polars, numpy) releases the GIL, so reading the next block overlaps typing
    and cleaning this one; at most :data:`AHEAD` batches wait. Small batches of files with the
    same columns come joined (:func:`coalesce`). A reader's error is raised here.
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

    small = min(options.block_bytes, COALESCE_BYTES)

    def batches() -> Iterator[tuple[SourceFile, Batch, bool]]:
        for src in files:
            whole = src.path.stat().st_size <= small  # read in one block
            for batch in read_file(src, options):
                yield src, batch, whole
                if stop.is_set():
                    return

    def run() -> None:
        try:
            for item in coalesce(batches()):
                put(item)
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
