"""Array fields as ``.npy`` members: the standard ``np.save`` bytes, written and read without copies.

A shard of format ``altakit.shards/2`` (:mod:`altakit.datasets.shards`) holds each array
field of a sample as its own member ``<key>.<field>.npy``, so plain ``webdataset``'s default
``.decode()`` and ``np.load`` give NumPy arrays. :func:`npy_bytes` writes the exact
``np.save`` format (version 1.0 header, or 2.0 when the header needs it; C order, the
dtype and its byte order as given); :func:`npy_value` reads one member into the
``[dtype, shape, bytes]`` value the codec checks; :func:`npy_column` finds the bodies of a
whole shard's members at once when they share one header (the columnar fast path).

Example:
    >>> import io
    >>> import numpy as np
    >>> arr = np.arange(6, dtype=">i2").reshape(2, 3)
    >>> raw = npy_bytes(arr)
    >>> raw == _saved(arr)  # byte for byte what np.save writes
    True
    >>> dtype, shape, body = npy_value(raw, 0, len(raw))
    >>> dtype, shape, bytes(body) == arr.tobytes()
    ('>i2', [2, 3], True)
"""

from __future__ import annotations

import functools
import io
from typing import Any

import numpy as np

from altakit.errors import DataError

#: The member extension of an array field.
NPY = ".npy"
_MAGIC = b"\x93NUMPY"
_HEADER_CACHE = 256


def member_field(name: str) -> bool:
    """Whether array field ``name`` can be a member name ``<key>.<name>.npy`` (no ``/``, NUL, or empty).

    A ``.`` is fine: readers take the field as everything between the key's first dot and the
    final ``.npy`` (``<key>.a.b.npy`` is field ``a.b``). Other names stay inside the ``.mp`` map.

    Example:
        >>> member_field("image"), member_field("a.b"), member_field("a/b")
        (True, True, False)
    """
    return bool(name) and "/" not in name and "\0" not in name


def contiguous(arr: np.ndarray) -> np.ndarray:
    """``arr`` in C order (a copy only if needed; 0-d arrays stay 0-d)."""
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


@functools.lru_cache(maxsize=_HEADER_CACHE)
def _header(descr: str, shape: tuple[int, ...]) -> bytes:
    d = {"descr": descr, "fortran_order": False, "shape": shape}
    buf = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(buf, d)
    except ValueError:  # the header is too long for version 1.0: np.save writes 2.0 then
        buf = io.BytesIO()
        np.lib.format.write_array_header_2_0(buf, d)
    return buf.getvalue()


def npy_bytes(arr: np.ndarray) -> bytes:
    """The ``np.save`` bytes of ``arr`` (C order; dtype and byte order unchanged)."""
    arr = contiguous(arr)
    descr = np.lib.format.dtype_to_descr(arr.dtype)
    if not isinstance(descr, str):  # a structured dtype: no cached header
        return _saved(arr)
    return _header(descr, arr.shape) + arr.tobytes()


def _saved(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


@functools.lru_cache(maxsize=_HEADER_CACHE)
def _parse(head: bytes) -> tuple[str, tuple[int, ...], bool, int]:
    """``(dtype string, shape, fortran order, header length)`` of an ``.npy`` header (``ValueError``)."""
    f = io.BytesIO(head)
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype.hasobject:
        raise ValueError("object arrays cannot be read")
    return dtype.str, tuple(shape), bool(fortran), f.tell()


def header_length(data: Any, start: int, size: int) -> int:
    """The length of the ``.npy`` header at ``data[start:]`` (``ValueError`` if it is not one)."""
    if size < 10 or bytes(data[start : start + 6]) != _MAGIC:
        raise ValueError("not an .npy member (no magic)")
    major = data[start + 6]
    if major == 1:
        n = 10 + int.from_bytes(bytes(data[start + 8 : start + 10]), "little")
    elif major in (2, 3):
        if size < 12:
            raise ValueError("truncated .npy header")
        n = 12 + int.from_bytes(bytes(data[start + 8 : start + 12]), "little")
    else:
        raise ValueError(f"unknown .npy version {major}")
    if n > size:
        raise ValueError("truncated .npy header")
    return n


def npy_value(data: Any, start: int, size: int, views: bool = False) -> list[Any]:
    """The member ``data[start:start+size]`` as ``[dtype, shape, body]`` (body a view if ``views``).

    Raises:
        DataError: The member is not an ``.npy`` array of the size its header says.
    """
    try:
        n = header_length(data, start, size)
        dtype, shape, fortran, _ = _parse(bytes(data[start : start + n]))
        length = np.dtype(dtype).itemsize * int(np.prod(shape, dtype=np.int64))
        if n + length != size:
            raise ValueError(f"{size - n} body bytes, header says {length}")
    except (ValueError, SyntaxError, TypeError) as exc:
        raise DataError(f"corrupt .npy member: {exc}") from exc
    body = memoryview(data)[start + n : start + size]
    if fortran:  # not what altakit writes; other writers may
        arr = np.frombuffer(body, dtype=np.dtype(dtype)).reshape(shape[::-1]).T
        return [dtype, list(shape), contiguous(arr).tobytes()]
    return [dtype, list(shape), body if views else bytes(body)]


def npy_column(
    buf: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> tuple[str, tuple[int, ...], np.ndarray]:
    """The header every member at ``starts`` shares: ``(dtype, shape, body offsets)``, else ``ValueError``.

    ``buf`` is the shard as ``uint8``; a member missing from a sample (start ``-1``), members of
    different sizes or headers, and Fortran order all raise, leaving the shard to the per-sample path.
    """
    if len(starts) == 0 or (starts < 0).any() or (sizes != sizes[0]).any():
        raise ValueError("members differ")
    first, size = int(starts[0]), int(sizes[0])
    n = header_length(buf, first, size)
    head = buf[first : first + n]
    dtype, shape, fortran, _ = _parse(head.tobytes())
    if fortran or n + np.dtype(dtype).itemsize * int(np.prod(shape, dtype=np.int64)) != size:
        raise ValueError("unusual .npy member")
    step = int(starts[1] - starts[0]) if len(starts) > 1 else 0
    if step >= n and (np.diff(starts) == step).all():  # evenly spaced (one layout per sample): a view
        heads = np.lib.stride_tricks.as_strided(buf[first:], (len(starts), n), (step, 1), writeable=False)
    else:
        heads = buf[starts[:, None] + np.arange(n)[None, :]]
    if not (heads == head).all():
        raise ValueError("headers differ")
    return dtype, shape, starts + n
