"""JSON: an array of objects (one batch), or newline-delimited objects (batches of rows).

Values arrive as text (nested objects and lists as JSON text, booleans as
``true``/``false``), like CSV fields, so typing is the same for every format;
an item that is not an object, or an NDJSON line that is not valid JSON, is
quarantined with its record or line number.

Example:
    >>> stringify({"a": 1}), stringify(True), stringify(None)
    ('{"a": 1}', 'true', None)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from altakit.errors import IngestError
from altakit.ingestion.readers._common import Batch, quarantine_rows

if TYPE_CHECKING:
    from altakit.ingestion.sources import SourceFile

#: Rows per batch of an NDJSON file.
NDJSON_ROWS = 200_000


def stringify(value: Any) -> str | None:
    """A JSON value as the text a CSV field would hold."""
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
        **{c: [stringify(rec.get(c)) for _, rec in records] for c in columns},
    }
    schema = {"_source": pl.String, "_line": pl.Int64, **{c: pl.String for c in columns}}
    return Batch(pl.DataFrame(data, schema=schema), quarantine_rows(name, bad))


def read_json(src: SourceFile) -> Batch:
    """Read a JSON array of objects (or one object); the record number is the ``_line``.

    Raises:
        IngestError: The file is not valid JSON, or not an array of objects.
    """
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


def read_ndjson(src: SourceFile, batch_rows: int = NDJSON_ROWS) -> Iterator[Batch]:
    """Read newline-delimited JSON objects in batches of ``batch_rows``; bad lines are quarantined."""
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
