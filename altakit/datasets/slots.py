"""Shared-memory slots: DataLoader workers decode batches into them, the main process copies out.

Sending a decoded batch through the DataLoader's result pipe costs a pickle,
two kernel copies through a 64 KiB pipe and an unpickle (about 2 ms for 256
small images, more than decoding them); torch's own shared-memory handover
costs a new segment and a socket round trip per tensor. Instead the main
process maps one anonymous shared :class:`SlotRing` per worker before the
workers fork; a worker's :class:`BatchReader <altakit.datasets.reader.BatchReader>`
gathers a batch's arrays straight into a free slot (:meth:`SlotRing.empty`)
and sends only the slot number and the layout (:meth:`SlotRing.seal`). The
main process hands the columns out as views of the slot (:meth:`SlotRing.take`;
no copy) and the slot is free again once the caller has dropped all of them.

A slot is free (state 0) or written (1); only the worker sets 1 and only the
main process sets 0, when the last view of the slot is garbage-collected. When
no slot is free (the caller still holds those batches) or a column does not
fit, that column is made with ``np.empty`` and travels through the pipe as
before; nothing waits. A ring cannot be pickled: workers started with
``spawn`` get none and use the pipe.

Example:
    >>> ring = SlotRing(slots=4, slot_bytes=1 << 20)
    >>> a = ring.empty((2, 3), np.dtype("int64"))
    >>> a[:] = 7
    >>> message = ring.seal({"x": a})
    >>> batch = ring.take(message)
    >>> batch["x"].tolist()
    [[7, 7, 7], [7, 7, 7]]
    >>> del batch  # slot 0 is free again
"""

from __future__ import annotations

import mmap
import weakref
from typing import Any

import numpy as np

SLOT = "__slot__"
#: Alignment of each column inside a slot.
ALIGN = 64


class SlotRing:
    """``slots`` shared slots of ``slot_bytes`` for one worker (anonymous, inherited by ``fork``).

    Args:
        slots: Number of slots (batches in flight from this worker).
        slot_bytes: Bytes per slot.
        index: Which ring of the loader this is (the worker number).
    """

    def __init__(self, slots: int, slot_bytes: int, index: int = 0) -> None:
        self.slots, self.slot_bytes, self.index = slots, slot_bytes, index
        self._head = -(-slots // ALIGN) * ALIGN
        self._map: mmap.mmap | None = mmap.mmap(-1, self._head + slots * slot_bytes, flags=mmap.MAP_SHARED)
        self._buf: np.ndarray | None = np.frombuffer(self._map, dtype=np.uint8)
        self._state: np.ndarray | None = self._buf[:slots]
        self._reset()

    def _reset(self) -> None:
        self._slot = -1  # worker: the slot of the batch being decoded (-1: none claimed, -2: none free)
        self._used = 0
        self._made: dict[int, tuple[np.ndarray, int, str, tuple[int, ...]]] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"slots": self.slots, "slot_bytes": self.slot_bytes, "index": self.index}

    def __setstate__(self, state: dict[str, Any]) -> None:  # a spawned worker: no shared memory
        self.__dict__.update(state, _head=0, _map=None, _buf=None, _state=None)
        self._reset()

    # ------------------------------------------------------------------ worker
    def empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """An uninitialised array in this batch's slot (claimed on first use), else ``np.empty``."""
        dtype = np.dtype(dtype)
        nbytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        if self._slot == -1:
            self._slot = self._claim()
        if self._slot < 0 or self._used + nbytes > self.slot_bytes or dtype.hasobject:
            return np.empty(shape, dtype)
        assert self._buf is not None
        at = self._head + self._slot * self.slot_bytes + self._used
        out = self._buf[at : at + nbytes].view(dtype).reshape(shape)
        self._made[id(out)] = (out, self._used, dtype.str, tuple(shape))
        self._used += -(-nbytes // ALIGN) * ALIGN
        return out

    def _claim(self) -> int:
        if self._state is None:
            return -2
        k = int(np.argmin(self._state))  # the lowest free slot: touch as little memory as needed
        if self._state[k] != 0:
            return -2
        self._state[k] = 1
        return k

    def seal(self, batch: dict[str, Any]) -> dict[str, Any]:
        """``batch`` with the columns made in the slot replaced by one layout entry; next batch."""
        out: dict[str, Any] = {}
        layout = []
        for name, col in batch.items():
            made = self._made.get(id(col))
            if made is not None and made[0] is col:
                layout.append((name, *made[1:]))
                out[name] = None  # keeps the column order; filled by take()
            else:
                out[name] = col
        if layout:
            out[SLOT] = (self.index, self._slot, layout)
        elif self._slot >= 0 and self._state is not None:
            self._state[self._slot] = 0  # claimed but unused
        self._slot, self._used = -1, 0
        self._made.clear()
        return out

    # ------------------------------------------------------------------ main process
    def take(self, item: dict[str, Any]) -> dict[str, Any]:
        """``item`` (from :meth:`seal`) with its slot columns as views; the slot is freed with them."""
        if SLOT not in item:
            return item
        assert self._map is not None and self._state is not None
        _, k, layout = item.pop(SLOT)
        sizes = [np.dtype(dt).itemsize * int(np.prod(shape, dtype=np.int64)) for _, _, dt, shape in layout]
        end = max(at + n for (_, at, _, _), n in zip(layout, sizes, strict=True))
        # the columns' common base: the slot is free again once the caller drops all of them
        region = np.frombuffer(self._map, dtype=np.uint8, count=end, offset=self._head + k * self.slot_bytes)
        weakref.finalize(region, _free, self._state, k)
        for (name, at, dt, shape), n in zip(layout, sizes, strict=True):
            item[name] = region[at : at + n].view(np.dtype(dt)).reshape(shape)
        return item


def _free(state: np.ndarray, k: int) -> None:
    state[k] = 0


def slot_bytes(schema: Any, batch_size: int) -> int:
    """Bytes of one batch's fixed-size columns (arrays of a declared shape, numbers); 0 if none."""
    total = 0
    for f in schema.fields:
        if f.kind == "array" and f.dtype is not None and f.shape is not None and None not in f.shape:
            size = np.dtype(f.dtype).itemsize * int(np.prod(f.shape, dtype=np.int64))
        elif f.kind in ("int", "float", "bool"):
            size = 8
        else:
            continue
        total += -(-(size * batch_size) // ALIGN) * ALIGN
    return total
