"""Browsing a store as JSON-ready dicts: folder pages, a key's versions, previews of small heads.

What the JupyterLab sidebar and ``altakit_widgets``' REST API show. Every function
reads through the :class:`~altakit.store.base.Store` API, so an encrypted store is
decrypted here, on the server: previews carry plaintext heads, never key material.
Listing pages server-side (:meth:`Store.list_page <altakit.store.base.Store.list_page>`);
previews read a bounded head of the object (text, CSV) or its footer and first rows
(Parquet), and make a small PNG thumbnail of images (Pillow, the ``images`` extra).

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> _ = store.put("raw/a.csv", b"x,y\\n1,2\\n")
    >>> list_folder(store, "raw/")["keys"][0]["key"]
    'raw/a.csv'
    >>> p = preview(store, "raw/a.csv")
    >>> p["kind"], p["columns"], p["rows"]
    ('table', ['x', 'y'], [[1, 2]])
"""

from __future__ import annotations

import base64
import io
from typing import Any

from altakit.errors import NotFound
from altakit.store.base import Store
from altakit.store.names import Version, validate_key

#: Bytes of a text object shown at most.
TEXT_BYTES = 64 * 1024
#: Bytes of a CSV read for its head at most.
CSV_BYTES = 1024 * 1024
#: Rows of a table head.
HEAD_ROWS = 50
#: Longest cell shown (characters); longer ones are cut.
CELL_CHARS = 200
#: Images up to this size are thumbnailed; larger ones are described only.
IMAGE_BYTES = 32 * 1024 * 1024
#: Longest side of a thumbnail, in pixels.
THUMB_PIXELS = 320
TEXT_SUFFIXES = (".txt", ".md", ".json", ".jsonl", ".yaml", ".yml", ".log", ".py", ".toml", ".ini", ".xml")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff")


def version_json(v: Version) -> dict[str, Any]:
    """``{"key","version","size","time","writer"}`` of a version (a listing row)."""
    return {
        "key": v.key,
        "version": v.id,
        "size": v.size,
        "time": v.timestamp.isoformat(),
        "writer": v.writer,
    }


def list_folder(
    store: Store, prefix: str = "", cursor: str | None = None, limit: int = 200
) -> dict[str, Any]:
    """One page of one folder: ``{"prefix","folders","keys":[version_json…],"next"}``.

    Raises:
        InvalidKey: ``prefix`` is not ``""`` or a folder ending with ``/``.
        ConfigError: ``limit`` out of 1 … 1000, or a malformed cursor.
    """
    page = store.list_page(prefix, cursor, limit)
    return {
        "prefix": page.prefix,
        "folders": page.folders,
        "keys": [version_json(v) for v in page.keys],
        "next": page.next,
    }


def key_versions(store: Store, key: str) -> dict[str, Any]:
    """Every version of ``key``, newest first: ``{"key", "versions": [{"id", "time", "size", …}]}``.

    Raises:
        NotFound: ``key`` has no version.
    """
    found = store.versions(key)
    if not found:
        raise NotFound(f"no such key {key!r}", key=key, hint="list the folder to see its keys")
    rows = [
        {
            "id": v.id,
            "time": v.timestamp.isoformat(),
            "size": v.size,
            "writer": v.writer,
            "deleted": v.deleted,
        }
        for v in reversed(found)
    ]
    return {"key": key, "versions": rows}


def preview(store: Store, key: str, version: str | None = None) -> dict[str, Any]:
    """A preview of a version of ``key`` (latest by default), chosen by its suffix and content.

    Returns:
        ``{"key","version","size","kind","truncated"}`` plus ``"text"`` (kind ``text``),
        ``"columns"``/``"rows"`` (kind ``table``: CSV, TSV, Parquet) or ``"image"`` (a PNG
        ``data:`` URL, kind ``image``); kind ``binary`` carries no content.

    Raises:
        NotFound: No such key or version, or the key is deleted.
        InvalidKey: A malformed key or version id.
    """
    validate_key(key)
    v = store.resolve(key, version)
    out: dict[str, Any] = {"key": key, "version": v.id, "size": v.size, "kind": "binary", "truncated": False}
    suffix = "." + key.rsplit(".", 1)[-1].lower() if "." in key.rsplit("/", 1)[-1] else ""
    if suffix in (".parquet", ".pq"):
        return {**out, **_parquet_head(store, v)}
    if suffix in (".csv", ".tsv"):
        head = _head(store, v, CSV_BYTES)
        table = _csv_head(head, v.size > len(head), "\t" if suffix == ".tsv" else ",")
        if table is not None:
            return {**out, **table}
    if suffix in IMAGE_SUFFIXES:
        image = _thumbnail(store, v)
        if image is not None:
            return {**out, "kind": "image", "image": image}
        return out
    head = _head(store, v, TEXT_BYTES)
    text = _text(head, v.size > len(head))
    if text is not None and (suffix in TEXT_SUFFIXES or suffix in TABLE_SUFFIXES or "\x00" not in text):
        return {**out, "kind": "text", "text": text, "truncated": v.size > len(head)}
    return out


def _head(store: Store, v: Version, limit: int) -> bytes:
    with store.open(v.key, v) as f:
        return f.read(min(limit, v.size))


def _text(data: bytes, cut: bool) -> str | None:
    """``data`` as UTF-8 (a character cut at the end dropped); ``None`` if it is not text."""
    for drop in range(4 if cut else 1):
        try:
            text = data[: len(data) - drop].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return None if "\x00" in text else text
    return None


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "…"


def _csv_head(data: bytes, cut: bool, separator: str) -> dict[str, Any] | None:
    import polars as pl

    if cut:
        data = data[: data.rfind(b"\n") + 1]
    try:
        df = pl.read_csv(
            io.BytesIO(data), n_rows=HEAD_ROWS + 1, separator=separator, infer_schema_length=HEAD_ROWS
        )
    except Exception:  # not a CSV after all: shown as text
        return None
    return {
        "kind": "table",
        "columns": df.columns,
        "rows": [[_cell(x) for x in row] for row in df.head(HEAD_ROWS).rows()],
        "truncated": cut or df.height > HEAD_ROWS,
    }


def _parquet_head(store: Store, v: Version) -> dict[str, Any]:
    import pyarrow.parquet as pq

    with store.open(v.key, v) as f:
        try:
            pf = pq.ParquetFile(f)
            batch = next(pf.iter_batches(batch_size=HEAD_ROWS), None)
        except Exception:  # not readable as Parquet: described only
            return {"kind": "binary"}
        rows = [] if batch is None else [[_cell(x) for x in r.values()] for r in batch.to_pylist()]
        return {
            "kind": "table",
            "columns": pf.schema_arrow.names,
            "rows": rows,
            "truncated": pf.metadata.num_rows > len(rows),
        }


def _thumbnail(store: Store, v: Version) -> str | None:
    if v.size > IMAGE_BYTES:
        return None
    try:
        from PIL import Image
    except ImportError:  # the images extra is not installed: described only
        return None
    try:
        with store.open(v.key, v) as f, Image.open(f) as img:
            img.thumbnail((THUMB_PIXELS, THUMB_PIXELS))
            out = io.BytesIO()
            img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB").save(out, format="PNG")
    except Exception:  # not a readable image
        return None
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
