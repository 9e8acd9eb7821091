"""JSON: an array of objects (one batch), or newline-delimited objects (batches of rows).

Values arrive as text (nested objects and lists as JSON text, booleans as
``true``/``false``), like CSV fields, so typing is the same for every format;
an item that is not an object, or an NDJSON line that is not valid JSON (or
nested too deeply, or holding a number Python will not read), is quarantined
with its record or line number; such a JSON array file is a typed error.

Example:
    >>> stringify({"a": 1}), stringify(True), stringify(None)
    ('{"a": 1}', 'true', None)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from altakit.errors import IngestError
from altakit.ingestion.readers._common import MAX_COLUMNS, Batch, column_names, quarantine_rows

if TYPE_CHECKING:
    from altakit.ingestion.sources import SourceFile

#: Rows per batch of an NDJSON file.
NDJSON_ROWS = 200_000
#: What :func:`json.loads` raises on valid-looking text it will not read: nesting deeper than the
#: interpreter's recursion limit, integers of more digits than ``sys.get_int_max_str_digits()``.
_UNREADABLE = (json.JSONDecodeError, UnicodeDecodeError, RecursionError, ValueError)


def stringify(value: Any) -> str | None:
    """A JSON value as the text a CSV field would hold."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _records_frame(
    name: str,
    records: list[tuple[int, dict]],
    bad: list[tuple[int, str, str]],
    max_columns: int,
    renamed: dict[str, str] | None = None,
) -> Batch:
    import polars as pl

    columns: dict[str, None] = {}
    for _, rec in records:
        columns.update(dict.fromkeys(rec))
    if records and not columns:  # only empty objects: rows with no values a table could hold
        bad = sorted([*bad, *((n, "JSON object with no fields", "{}") for n, _ in records)])
        records = []
    keys = list(columns)
    names = column_names(name, [k or f"column_{i + 1}" for i, k in enumerate(keys)], max_columns, renamed)
    try:
        values = {n: [stringify(rec.get(k)) for _, rec in records] for k, n in zip(keys, names, strict=True)}
    except (RecursionError, ValueError) as exc:
        raise IngestError(f"{name}: a value cannot be written as text ({exc})", source=name) from exc
    data = {"_source": [name] * len(records), "_line": [n for n, _ in records], **values}
    schema = {"_source": pl.String, "_line": pl.Int64, **{c: pl.String for c in names}}
    return Batch(pl.DataFrame(data, schema=schema), quarantine_rows(name, bad))


def read_json(src: SourceFile, max_columns: int = MAX_COLUMNS) -> Batch:
    """Read a JSON array of objects (or one object); the record number is the ``_line``.

    Raises:
        IngestError: The file is not valid JSON (or nested too deeply, or a number too long to
            read), not an array of objects, or has more than ``max_columns`` fields.
    """
    try:
        with open(src.path, encoding="utf-8-sig") as f:
            doc = json.load(f)
    except RecursionError as exc:
        raise IngestError(
            f"{src.name}: JSON nested too deeply to read",
            source=src.name,
            hint="flatten the export, or write NDJSON (one object per line; deep lines are quarantined)",
        ) from exc
    except _UNREADABLE as exc:
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
            bad.append((i, "not a JSON object", _dump(item)))
    return _records_frame(src.name, records, bad, max_columns, src.renamed)


def _dump(item: Any) -> str:
    """An item as JSON text for quarantine (first 10,000 characters)."""
    try:
        return json.dumps(item)[:10_000]
    except (RecursionError, ValueError):
        return repr(type(item))


def read_ndjson(
    src: SourceFile, batch_rows: int = NDJSON_ROWS, max_columns: int = MAX_COLUMNS
) -> Iterator[Batch]:
    """Read newline-delimited JSON objects in batches of ``batch_rows``; bad lines are quarantined."""
    records: list[tuple[int, dict]] = []
    bad: list[tuple[int, str, str]] = []
    with open(src.path, "rb") as f:
        for i, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw.decode("utf-8-sig" if i == 1 else "utf-8"))
            except RecursionError:
                bad.append((i, "JSON nested too deeply", raw.decode("utf-8", errors="replace").rstrip()))
                continue
            except _UNREADABLE as exc:
                bad.append((i, f"invalid JSON line: {exc}", raw.decode("utf-8", errors="replace").rstrip()))
                continue
            if isinstance(item, dict):
                records.append((i, item))
            else:
                bad.append((i, "not a JSON object", raw.decode("utf-8", errors="replace").rstrip()))
            if len(records) >= batch_rows:
                yield _records_frame(src.name, records, bad, max_columns, src.renamed)
                records, bad = [], []
    if records or bad:
        yield _records_frame(src.name, records, bad, max_columns, src.renamed)
