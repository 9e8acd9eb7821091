"""File-pattern datasets: one sample per file in a store (the style Altastata users know).

``FileDataset(store, "images/", pattern="*.png", label="folder")`` lists the
latest version of every matching key once (never one sample per version), pins
those versions, and decodes each file by its extension through a
:class:`Decoders` registry (png, jpg/jpeg, npy, csv, json built in). It is a
map-style dataset: PyTorch's DataLoader takes it as is, ``.torch()`` builds
one, and ``.tensorflow()`` gives the matching ``tf.data.Dataset``.

Example:
    >>> files = FileDataset(store, "digits/", pattern="*.png", label="folder")  # doctest: +SKIP
    >>> image, label = files[0]  # doctest: +SKIP
    >>> loader = files.torch(batch_size=32, shuffle=True, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from altakit.errors import ConfigError, DataError, MissingDependency
from altakit.store.base import Store

Decoder = Callable[[bytes], Any]


class Decoders:
    """Decoders by file extension (lowercase, no dot); a fresh instance per use, no global state.

    Example:
        >>> d = Decoders()
        >>> d.register("txt", bytes.decode)
        >>> d.decode("notes/a.txt", b"hi")
        'hi'
    """

    def __init__(self, defaults: bool = True) -> None:
        self._by_ext: dict[str, Decoder] = {}
        if defaults:
            builtin: dict[str, Decoder] = {
                "png": decode_png,
                "jpg": decode_jpeg,
                "jpeg": decode_jpeg,
                "npy": decode_npy,
                "csv": decode_csv,
                "json": json.loads,
            }
            for ext, fn in builtin.items():
                self.register(ext, fn)

    def register(self, ext: str, fn: Decoder) -> None:
        """Decode files ending in ``.ext`` with ``fn(bytes)``."""
        self._by_ext[ext.lower().lstrip(".")] = fn

    def decode(self, key: str, data: bytes) -> Any:
        """Decode ``data`` read from ``key``."""
        ext = key.rpartition(".")[2].lower() if "." in key.rpartition("/")[2] else ""
        try:
            fn = self._by_ext[ext]
        except KeyError:
            raise ConfigError(f"no decoder for {key!r}", key=key, hint="decoders.register(ext, fn)") from None
        try:
            return fn(data)
        except MissingDependency:
            raise
        except DataError as exc:
            raise DataError(f"cannot decode {key!r}: {exc.message}", key=key) from exc
        except Exception as exc:
            raise DataError(f"cannot decode {key!r}: {exc}", key=key) from exc


def decode_npy(data: bytes) -> np.ndarray:
    """A ``.npy`` file (no pickles)."""
    return np.load(io.BytesIO(data), allow_pickle=False)


def decode_csv(data: bytes) -> np.ndarray:
    """A numeric CSV as a 2-D float array (a non-numeric first line is taken as a header)."""
    text = data.decode()
    first = text.split("\n", 1)[0]
    try:
        [float(x) for x in first.split(",")]
        skip = 0
    except ValueError:
        skip = 1
    return np.loadtxt(io.StringIO(text), delimiter=",", skiprows=skip, ndmin=2)


def decode_jpeg(data: bytes) -> np.ndarray:
    """A JPEG as ``(h, w, c)`` uint8 (needs Pillow)."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise MissingDependency(
            "decoding JPEG needs Pillow", extra="images", hint="pip install pillow"
        ) from exc
    return np.asarray(Image.open(io.BytesIO(data)))


_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit, non-interlaced PNG as ``(h, w)`` or ``(h, w, c)`` uint8 (NumPy + zlib only)."""
    if not data.startswith(_PNG_SIG):
        raise DataError("not a PNG file")
    pos, idat, palette = 8, [], None
    width = height = depth = ctype = interlace = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if depth != 8 or interlace or ctype not in _CHANNELS:
        return _png_with_pillow(data)
    ch = _CHANNELS[ctype]
    stride = width * ch
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(height):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 0xFF
        else:
            cur = np.zeros(stride, np.int32)
            for x in range(stride):
                a = cur[x - ch] if x >= ch else 0
                b = prev[x]
                if f == 1:
                    p = a
                elif f == 3:
                    p = (a + b) >> 1
                else:
                    c = prev[x - ch] if x >= ch else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + p) & 0xFF
        out[y] = cur
        prev = cur
    img = out.astype(np.uint8).reshape(height, width, ch)
    if ctype == 3:
        assert palette is not None
        return palette[img[..., 0]]
    return img[..., 0] if ch == 1 else img


def _png_with_pillow(data: bytes) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError as exc:
        raise MissingDependency(
            "this PNG (16-bit, interlaced or low bit depth) needs Pillow",
            extra="images",
            hint="pip install pillow",
        ) from exc
    return np.asarray(Image.open(io.BytesIO(data)))


def encode_png(image: np.ndarray) -> bytes:
    """An uint8 ``(h, w)`` or ``(h, w, c)`` array as PNG bytes (filter 0; for tests and exports)."""
    img = np.ascontiguousarray(image, np.uint8)
    h, w = img.shape[:2]
    ch = 1 if img.ndim == 2 else img.shape[2]
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[ch]
    rows = np.concatenate([np.zeros((h, 1), np.uint8), img.reshape(h, w * ch)], axis=1)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0)
    return (
        _PNG_SIG + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows.tobytes())) + chunk(b"IEND", b"")
    )


class FileDataset:
    """One sample per file under ``root`` matching ``pattern``, latest version of each.

    Args:
        store: Any store.
        root: Key prefix, e.g. ``"images/"``.
        pattern: Glob on the file name (or the whole key if it holds ``/``).
        transform: Applied to the decoded value.
        label: ``None``; ``"folder"`` (index of the parent folder name in :attr:`classes`);
            or a function of the key.
        decoders: A :class:`Decoders` registry (default: the built-in decoders).
        recursive: Include sub-folders.
    """

    def __init__(
        self,
        store: Store,
        root: str = "",
        pattern: str = "*",
        *,
        transform: Callable[[Any], Any] | None = None,
        label: str | Callable[[str], Any] | None = None,
        decoders: Decoders | None = None,
        recursive: bool = True,
    ) -> None:
        self.store, self.root, self.pattern = store, root, pattern
        self.transform, self.label = transform, label
        self.decoders = decoders or Decoders()
        self.files = store.list(root, pattern, recursive)  # latest version of each key, pinned
        if label is not None and label != "folder" and not callable(label):
            raise ConfigError(f"label must be None, 'folder' or a function, not {label!r}")
        self.classes = sorted({_folder(v.key) for v in self.files}) if label == "folder" else []

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Any:
        v = self.files[i]
        x = self.decoders.decode(v.key, self.store.get(v.key, v))
        if self.transform is not None:
            x = self.transform(x)
        if self.label is None:
            return x
        y = self.classes.index(_folder(v.key)) if self.label == "folder" else self.label(v.key)  # type: ignore[operator]
        return x, y

    def torch(
        self,
        batch_size: int = 32,
        *,
        shuffle: bool = False,
        seed: int = 0,
        num_workers: int = 0,
        **kwargs: Any,
    ) -> Any:
        """A PyTorch DataLoader (seeded shuffle; with torch.distributed a DistributedSampler)."""
        import torch
        import torch.distributed as dist
        from torch.utils.data import DataLoader, DistributedSampler

        ds: Any = self  # a map-style dataset: __len__ and __getitem__
        if dist.is_available() and dist.is_initialized():
            sampler: Any = DistributedSampler(ds, shuffle=shuffle, seed=seed)
            return DataLoader(ds, batch_size, sampler=sampler, num_workers=num_workers, **kwargs)
        gen = torch.Generator().manual_seed(seed)
        return DataLoader(ds, batch_size, shuffle=shuffle, generator=gen, num_workers=num_workers, **kwargs)

    def tensorflow(self, batch_size: int | None = None, *, shuffle: bool = False, seed: int = 0) -> Any:
        """A ``tf.data.Dataset`` of the same items (spec taken from the first item)."""
        return tf_file_dataset(self, batch_size, shuffle=shuffle, seed=seed)


def _folder(key: str) -> str:
    return key.rpartition("/")[0].rpartition("/")[2]


def tf_file_dataset(
    files: FileDataset, batch_size: int | None = None, *, shuffle: bool = False, seed: int = 0
) -> Any:
    """The TensorFlow constructor for a :class:`FileDataset`.

    Example:
        >>> tfds = tf_file_dataset(FileDataset(store, "img/", "*.png", label="folder"), 32)  # doctest: +SKIP
    """
    import tensorflow as tf

    if not len(files):
        raise ConfigError(f"no files match {files.pattern!r} under {files.root!r}")

    def spec_of(x: Any) -> Any:
        arr = np.asarray(x)
        return tf.TensorSpec(arr.shape, tf.string if arr.dtype.kind in "US" else tf.as_dtype(arr.dtype))

    first = files[0]
    spec = tuple(spec_of(x) for x in first) if isinstance(first, tuple) else spec_of(first)

    def generate() -> Any:
        order = np.random.default_rng(seed).permutation(len(files)) if shuffle else range(len(files))
        for i in order:
            yield files[int(i)]

    ds = tf.data.Dataset.from_generator(generate, output_signature=spec)
    return ds.batch(batch_size) if batch_size else ds
