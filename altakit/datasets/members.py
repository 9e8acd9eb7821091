"""Plain WebDataset members as altakit samples: brace patterns, member decoding, schema inference.

An imported shard (see :mod:`altakit.datasets.imports`) holds one member per field
(``<key>.jpg``, ``<key>.cls`` …); :func:`transcode` turns each sample's members into
the one msgpack map altakit's reader takes. Members decode as: ``npy`` → array;
``cls``/``cls2``/``index``/``id`` → ``int``; ``txt``/``text`` → ``str``; ``json`` →
``str`` (the JSON text: ``json.loads`` it); images (``jpg``, ``jpeg``, ``png``,
``webp``, ``gif``, ``bmp``, ``tif``, ``tiff``) → ``bytes`` (the encoded file, not
decoded pixels). Any other extension is a :class:`~altakit.errors.DataError`. A
field is named after its extension (``seg.png`` → ``seg_png``).

Example:
    >>> expand("shards-{000..002}.tar")
    ['shards-000.tar', 'shards-001.tar', 'shards-002.tar']
    >>> expand("{train,val}-{0..1}.tar")
    ['train-0.tar', 'train-1.tar', 'val-0.tar', 'val-1.tar']
"""

from __future__ import annotations

import io
import re
import tarfile
from typing import Any

import msgpack
import numpy as np

from altakit.datasets.npy import contiguous
from altakit.datasets.samples import SampleField, SampleSchema
from altakit.datasets.shards import BLOCK, HINT, _where
from altakit.errors import DataError

#: Member extension → the field kind it decodes to.
KINDS: dict[str, str] = {
    "npy": "array",
    **dict.fromkeys(("cls", "cls2", "index", "id"), "int"),
    **dict.fromkeys(("txt", "text", "json"), "str"),
    **dict.fromkeys(("jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"), "bytes"),
}
_BRACE = re.compile(r"\{([^{}]*)\}")


def expand(pattern: str) -> list[str]:
    """Expand WebDataset brace patterns: ``{000..009}`` (zero-padded ranges) and ``{a,b}`` lists."""
    m = _BRACE.search(pattern)
    if m is None:
        return [pattern]
    body = m.group(1)
    rng = re.fullmatch(r"(\d+)\.\.(\d+)", body)
    if rng:
        lo, hi = rng.groups()
        width = len(lo) if lo.startswith("0") else 0
        options = [str(i).zfill(width) for i in range(int(lo), int(hi) + 1)]
    else:
        options = body.split(",")
    return [x for opt in options for x in expand(pattern[: m.start()] + opt + pattern[m.end() :])]


def field_name(ext: str) -> str:
    """The field a member extension becomes (``seg.png`` → ``seg_png``)."""
    return re.sub(r"\W", "_", ext.lower())


def samples_of(data: Any, where: dict[str, Any]) -> list[tuple[str, dict[str, bytes]]]:
    """The samples of a WebDataset tar, in order: ``(key, {extension: bytes})``."""
    samples: list[tuple[str, dict[str, bytes]]] = []
    size = len(data)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for m in tar:
                if m.size < 0 or m.offset_data + m.size > size:  # tarfile reads such sizes as given
                    raise DataError(
                        f"{_where(where)}: malformed tar: member {m.name!r} has size {m.size} "
                        f"at byte {m.offset} of {size}",
                        hint=HINT,
                        **where,
                    )
                if not m.isfile():
                    continue
                folder, _, base = m.name.rpartition("/")
                if base.startswith(".") or "." not in base:
                    continue
                stem, _, ext = base.partition(".")
                key = f"{folder}/{stem}" if folder else stem
                body = tar.extractfile(m).read()  # type: ignore[union-attr]
                if not samples or samples[-1][0] != key:
                    samples.append((key, {}))
                samples[-1][1][ext.lower()] = body
            stop = tar.offset  # tarfile ends quietly at a bad header after the first: refuse it
            if bytes(data[stop : stop + BLOCK]).strip(b"\0"):
                raise DataError(f"{_where(where)}: malformed tar header at byte {stop}", hint=HINT, **where)
    except DataError:
        raise
    except (tarfile.TarError, ValueError, EOFError) as exc:  # a header tarfile cannot decode
        raise DataError(f"{_where(where)}: not a readable tar ({exc})", hint=HINT, **where) from exc
    return samples


def _value(ext: str, kind: str, body: bytes, where: dict[str, Any]) -> Any:
    if kind == "array":
        try:
            arr = np.load(io.BytesIO(body), allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DataError(f"{_where(where)}: member .{ext} is not an .npy array ({exc})", **where) from exc
        arr = contiguous(arr)
        return [arr.dtype.str, list(arr.shape), arr.tobytes()]
    if kind == "int":
        try:
            return int(body.decode().strip())
        except (UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"{_where(where)}: member .{ext} is not an integer", **where) from exc
    if kind == "str":
        try:
            return body.decode()
        except UnicodeDecodeError as exc:
            raise DataError(f"{_where(where)}: member .{ext} is not UTF-8 text", **where) from exc
    return body


def transcode(
    data: Any, where: dict[str, Any], members: dict[str, str]
) -> tuple[bytes, list[str], np.ndarray, np.ndarray]:
    """One imported shard as altakit payloads: ``(bytes, keys, starts, sizes)``, one msgpack map per sample.

    ``members`` maps extensions to fields; a sample lacking a member gets ``None`` for that field.
    """
    buf = io.BytesIO()
    keys: list[str] = []
    starts: list[int] = []
    sizes: list[int] = []
    for key, parts in samples_of(data, where):
        doc = {
            field: None if ext not in parts else _value(ext, KINDS[ext], parts[ext], {**where, "key": key})
            for ext, field in members.items()
        }
        payload = msgpack.packb(doc, use_bin_type=True)
        keys.append(key)
        starts.append(buf.tell())
        sizes.append(len(payload))
        buf.write(payload)
    return buf.getvalue(), keys, np.asarray(starts, dtype=np.int64), np.asarray(sizes, dtype=np.int64)


def infer(name: str, shard: list[tuple[str, dict[str, bytes]]], where: dict[str, Any]) -> SampleSchema:
    """A sample schema from one shard's samples (dims that vary are ``None``; absent members optional)."""
    exts = sorted({ext for _, parts in shard for ext in parts})
    fields = []
    for ext in exts:
        if ext not in KINDS:
            raise DataError(
                f"{_where(where)}: member type .{ext} cannot be imported",
                extension=ext,
                hint=f"supported: {', '.join(sorted(KINDS))}; convert the other members first",
                **where,
            )
        kind = KINDS[ext]
        optional = any(ext not in parts for _, parts in shard)
        dtype: str | None = None
        shape: tuple[int | None, ...] | None = None
        if kind == "array":
            seen = [_value(ext, kind, parts[ext], where) for _, parts in shard if ext in parts]
            dtypes = {d for d, _, _ in seen}
            ranks = {len(s) for _, s, _ in seen}
            dtype = dtypes.pop() if len(dtypes) == 1 else None
            if len(ranks) == 1:
                dims = list(zip(*(s for _, s, _ in seen), strict=True))
                shape = tuple(d[0] if len(set(d)) == 1 else None for d in dims)
        fields.append(SampleField(field_name(ext), kind, optional, dtype, shape))
    return SampleSchema(field_name(name), 1, tuple(fields))
