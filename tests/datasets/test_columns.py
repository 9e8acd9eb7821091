"""The whole-shard columnar fast path delivers exactly what the per-sample path delivers."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pytest
from datakit_types import digits

import altakit
from altakit.datasets.columns import shard_columns
from altakit.datasets.samples import Array
from altakit.datasets.shards import index_tar, parse_tar
from altakit.errors import DataError


@altakit.sample(name="mixed")
class Mixed:
    """Every scalar kind and two arrays, one of them not uint8."""

    image: Annotated[np.ndarray, Array("uint8", (3, 4))]
    weights: Annotated[np.ndarray, Array("<f4", (2,))]
    label: int
    score: float
    flag: bool
    name: str
    blob: bytes


def mixed(n: int, *, wide: bool) -> list[Mixed]:
    """Samples; ``wide`` mixes int widths, string lengths and negative ints (varying payload sizes)."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        label = int(rng.integers(-40, 70_000)) if wide else int(rng.integers(0, 100))
        name = f"s{i}" * (1 + i % 3) if wide else f"n{i:05d}"
        out.append(
            Mixed(
                rng.integers(0, 255, (3, 4), dtype=np.uint8),
                rng.random(2, dtype=np.float32),
                label,
                float(rng.random()),
                bool(i % 3),
                name,
                bytes([i % 256]) * (4 if not wide else 1 + i % 5),
            )
        )
    return out


def slow_batches(ds, **options) -> list[dict]:
    """The same batches through the per-sample path (an identity map stage forces it)."""
    return [dict(b) for b in ds.map(_same).batches(**options)]


def _same(x):
    return x


def assert_same(fast: list[dict], slow: list[dict]) -> None:
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        assert list(a) == list(b)
        for name in a:
            x, y = a[name], b[name]
            if isinstance(y, np.ndarray):
                assert isinstance(x, np.ndarray) and x.dtype == y.dtype and x.shape == y.shape, name
                assert np.array_equal(x, y), name
            else:
                assert list(x) == list(y) and [type(v) for v in x] == [type(v) for v in y], name


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 7},
        {"batch_size": 16, "shuffle": True, "seed": 3},
        {"batch_size": 9, "shuffle": True, "seed": 1, "window": 3, "keys": True},
        {"batch_size": 5, "shuffle": True, "seed": 2, "rank": 1, "world_size": 2, "drop_last": True},
    ],
)
def test_columnar_batches_equal_the_per_sample_path(local_store, wide, options):
    ds = altakit.write_dataset(mixed(120, wide=wide), "m", store=local_store, maxcount=25, progress=False)
    shard = ds.source.fetch(0)
    assert shard_columns(ds.schema, shard) is not None  # the fast path is taken, wide or not
    assert_same([dict(b) for b in ds.batches(**options)], slow_batches(ds, **options))


def test_digits_fast_path_matches_samples(digits_ds, digit_samples):
    ds = altakit.load_dataset("digits", store=digits_ds.store)
    got = {}
    for b in ds.batches(64, shuffle=True, seed=9, window=2, keys=True):
        assert isinstance(b["image"], np.ndarray) and b["image"].flags.writeable
        for key, image, label, idx in zip(b["__key__"], b["image"], b["label"], b["idx"], strict=True):
            got[key] = (image, label, idx)
    assert len(got) == len(digit_samples)
    for i, s in enumerate(digit_samples):
        image, label, idx = got[f"{i:09d}"]
        assert np.array_equal(image, s.image) and label == s.label and idx == s.idx


def test_uniform_tar_index_equals_the_header_walk(local_store):
    ds = altakit.write_dataset(digits(40)[20:], "u", store=local_store, maxcount=20, progress=False)
    entry = ds.manifest["shards"][0]
    data = ds.store.get(entry["key"], entry["version"])
    keys, starts, sizes = index_tar(data, {}, entry["count"])
    assert callable(keys)  # the vectorized index: keys are listed only on demand
    assert (keys(), starts.tolist(), sizes.tolist()) == parse_tar(data, {})
    # not the count the end marker says: fall back to the header walk (its error or its answer)
    k2, s2, _ = index_tar(data, {}, entry["count"] - 1)
    assert isinstance(k2, list) and len(s2) == entry["count"]


def test_a_deviating_sample_falls_back_to_the_per_sample_path(local_store):
    samples = mixed(30, wide=False)
    ds = altakit.write_dataset(samples, "m", store=local_store, maxcount=30, progress=False)
    shard = ds.source.fetch(0)
    raw = bytearray(shard.data)
    start = int(shard.starts[11])
    raw[start + 1 + 1 : start + 1 + 6] = b"imagf"  # a key renamed in one sample, same size
    bad = type(shard)(shard.name, bytes(raw), shard.keys, shard.starts, shard.sizes)
    assert shard_columns(ds.schema, bad) is None


def test_out_of_range_int_is_named_or_skipped(local_store):
    samples = digits(30)
    samples[4].label = 10**19  # uint64 beyond int64: not columnar, and a bad sample
    altakit.write_dataset(samples, "o", store=local_store, maxcount=10, progress=False)
    with pytest.raises(DataError, match="int64") as info:
        list(altakit.load_dataset("o", store=local_store).batches(8))
    assert info.value.fields["key"] == "000000004" and info.value.fields["dataset"] == "o"
    skipping = altakit.load_dataset("o", store=local_store, on_error="skip")
    with pytest.warns(UserWarning, match="skipped 1 bad samples"):
        got = sorted(i for b in skipping.batches(8) for i in b["idx"].tolist())
    assert got == [i for i in range(30) if i != 4] and skipping.skipped == 1


def test_torch_workers_deliver_the_in_process_batches(local_store):
    import torch

    ds = altakit.write_dataset(mixed(90, wide=True), "m", store=local_store, maxcount=20, progress=False)
    want = [dict(b) for b in ds.batches(8, shuffle=True, seed=4)]
    for workers in (0, 2):
        got = list(ds.torch(8, seed=4, num_workers=workers))
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            assert isinstance(a["image"], torch.Tensor) and isinstance(a["label"], torch.Tensor)
            assert_same([{k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in a.items()}], [b])


def test_big_rows_are_copied_straight_into_the_batch(local_store, monkeypatch):
    import altakit.datasets.columns as columns

    monkeypatch.setattr(columns, "BIG_ROW", 1)  # every array row through the one-copy loop
    ds = altakit.write_dataset(mixed(80, wide=True), "m", store=local_store, maxcount=15, progress=False)
    for options in ({"batch_size": 20}, {"batch_size": 12, "shuffle": True, "seed": 5, "window": 2}):
        assert_same([dict(b) for b in ds.batches(**options)], slow_batches(ds, **options))
