"""Workers decode into shared-memory slots; batches stay right however long the caller holds them."""

from __future__ import annotations

import pickle

import numpy as np
from test_pieces import assert_same_batches, flat_batches

from altakit.datasets.slots import SLOT, SlotRing


def test_a_slot_is_reused_only_after_its_batch_is_dropped():
    ring = SlotRing(slots=1, slot_bytes=1024)
    a = ring.empty((4, 8), np.dtype("int64"))
    a[:] = 1
    first = ring.take(ring.seal({"x": a, "name": ["n"] * 4}))
    assert first["x"].sum() == 32 and first["name"] == ["n"] * 4 and first["x"].flags.writeable
    b = ring.empty((4, 8), np.dtype("int64"))  # the only slot is still held: a plain array
    b[:] = 2
    sealed = ring.seal({"x": b})
    assert SLOT not in sealed and sealed["x"] is b
    assert first["x"].sum() == 32  # untouched
    del first
    c = ring.empty((4, 8), np.dtype("int64"))
    assert SLOT in ring.seal({"x": c})  # the slot is free again


def test_columns_that_do_not_fit_travel_as_plain_arrays():
    ring = SlotRing(slots=2, slot_bytes=100)
    big = ring.empty((200,), np.dtype("uint8"))
    small = ring.empty((10,), np.dtype("uint8"))
    sealed = ring.seal({"big": big, "small": small})
    assert sealed["big"] is big and sealed["small"] is None and sealed[SLOT][2][0][0] == "small"


def test_a_spawned_worker_gets_an_inert_ring():
    ring = pickle.loads(pickle.dumps(SlotRing(slots=2, slot_bytes=64)))
    a = ring.empty((3,), np.dtype("int32"))
    sealed = ring.seal({"a": a})
    assert sealed["a"] is a and SLOT not in sealed


def test_held_batches_equal_the_in_process_batches(digits_ds):
    want = [dict(b) for b in digits_ds.batches(64, shuffle=True, seed=2)]
    loader = digits_ds.torch(64, seed=2, num_workers=2)
    assert loader.shards.pieces
    held = list(loader)  # every batch kept: the rings run out and the pipe carries the rest
    assert_same_batches(flat_batches(held), want)
    for batch in held[::2]:  # each batch is its own memory: writing one changes no other
        batch["image"].fill_(255)
    assert_same_batches(flat_batches(held[1::2]), want[1::2])


def test_whole_batch_workers_use_slots_too(digits_ds):
    want = [dict(b) for b in digits_ds.batches(300, shuffle=True, seed=4)]
    loader = digits_ds.torch(300, seed=4, num_workers=2)
    assert not loader.shards.pieces  # shards of 200 hold less than two batches
    assert_same_batches(flat_batches(loader), want)
