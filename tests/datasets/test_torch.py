"""PyTorch and TensorFlow adapters: exact-once, order independent of workers, resume, identical values."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import altakit

HERE = Path(__file__).parent


def ids(loader) -> list[list[int]]:
    return [b["idx"].tolist() for b in loader]


def test_batches_are_tensors(digits_ds):
    batch = next(iter(digits_ds.torch(64, seed=0)))
    assert batch["image"].shape == (64, 8, 8) and batch["image"].dtype == torch.uint8
    assert batch["label"].dtype == torch.int64


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_every_sample_once_and_order_independent_of_workers(digits_ds, workers):
    want = ids(digits_ds.torch(100, seed=7, num_workers=0))
    got = ids(digits_ds.torch(100, seed=7, num_workers=workers))
    assert got == want
    flat = [i for b in got for i in b]
    assert sorted(flat) == list(range(1797)) and flat != list(range(1797))
    assert len(got) == 18 and len(got[-1]) == 97  # the remainder is a short last batch


def test_order_depends_on_seed_and_epoch_only(digits_ds):
    loader = digits_ds.torch(128, seed=1)
    first, second = ids(loader), ids(loader)  # the epoch advances after a full pass
    assert first != second and loader.epoch == 2
    assert ids(digits_ds.torch(128, seed=1, epoch=1)) == second
    assert ids(digits_ds.torch(128, seed=2)) != first


def test_ranks_split_every_sample_exactly_once(digits_ds):
    parts = [ids(digits_ds.torch(64, seed=3, rank=r, world_size=3, num_workers=2)) for r in range(3)]
    flat = [i for p in parts for b in p for i in b]
    assert sorted(flat) == list(range(1797))
    assert [len(p) for p in parts] == [10, 10, 9]  # 29 batches: ranks differ by at most one
    even = [ids(digits_ds.torch(64, seed=3, rank=r, world_size=3, drop_last=True)) for r in range(3)]
    assert {len(p) for p in even} == {9} and all(len(b) == 64 for p in even for b in p)


_FULL: dict[str, list[list[int]]] = {}


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stop=st.integers(0, 14), before=st.sampled_from([0, 2]), after=st.sampled_from([0, 1, 3]))
def test_resume_mid_epoch_delivers_the_rest_exactly_once(digits_ds, stop, before, after):
    full = _FULL.setdefault("full", ids(digits_ds.torch(128, seed=11, epoch=4)))  # 15 batches
    loader = digits_ds.torch(128, seed=11, epoch=4, num_workers=before)
    seen = [b["idx"].tolist() for b in itertools.islice(loader, stop)]  # stop after `stop` batches
    state = loader.state_dict()
    assert state["batches"] == stop and state["epoch"] == 4
    resumed = digits_ds.torch(128, seed=11, num_workers=after)
    resumed.load_state_dict(state)
    rest = ids(resumed)
    assert seen + rest == full
    flat = [i for b in seen + rest for i in b]
    assert sorted(flat) == list(range(1797))  # the union is one epoch, no duplicates
    assert resumed.epoch == 5  # a finished resumed epoch moves on


def test_resume_refuses_a_different_setup(digits_ds):
    state = digits_ds.torch(128, seed=1).state_dict()
    with pytest.raises(altakit.AltakitError, match="seed"):
        digits_ds.torch(128, seed=2).load_state_dict(state)


def test_map_and_filter_run_in_workers(digits_ds):
    from datakit_types import invert, is_even

    ds = digits_ds.filter(is_even).map(invert)
    got = [b for b in ds.torch(50, shuffle=False, num_workers=2)]
    labels = torch.cat([b["label"] for b in got])
    assert bool((labels % 2 == 0).all()) and len(labels) == sum(1 for s in digits_ds if s.label % 2 == 0)


def test_tensorflow_and_torch_deliver_identical_values(digits_ds):
    import tensorflow as tf

    tfds = digits_ds.tensorflow(100, seed=9)
    spec = tfds.element_spec
    assert spec["image"] == tf.TensorSpec((None, 8, 8), tf.uint8, name="image")
    assert spec["label"].dtype == tf.int64 and spec["label"].shape.as_list() == [None]
    tf_batches = [{k: v.numpy() for k, v in b.items()} for b in tfds]
    torch_batches = list(digits_ds.torch(100, seed=9, num_workers=2))
    assert len(tf_batches) == len(torch_batches) == 18
    for a, b in zip(tf_batches, torch_batches, strict=True):
        for name in ("image", "label", "idx"):
            np.testing.assert_array_equal(a[name], b[name].numpy())
    fixed = digits_ds.tensorflow(100, seed=9, drop_last=True)
    assert fixed.element_spec["image"].shape.as_list() == [100, 8, 8]
    assert sum(1 for _ in fixed) == 17


@pytest.mark.slow
def test_gloo_two_ranks_two_workers_exactly_once(digits_ds, tmp_path):
    """torch.distributed (gloo) with 2 processes x 2 workers: each sample once; order as with 1 process."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    cmd = [
        sys.executable,
        str(HERE / "gloo_worker.py"),
        str(digits_ds.store.root),
        str(tmp_path / "rdzv"),
        str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    result = json.loads(out.read_text())
    for epoch in ("0", "1"):
        per_rank = result[epoch]
        flat = [i for rank in per_rank for b in rank for i in b]
        assert sorted(flat) == list(range(1797)), f"epoch {epoch}: not every sample exactly once"
    # the same seed gives the same global order as one process with any worker count
    single = ids(digits_ds.torch(64, seed=5, num_workers=1))
    merged = [b for pair in zip(*result["0"], strict=False) for b in pair]
    tail = result["0"][0][len(result["0"][1]) :]
    assert merged + tail == single


def test_tensorflow_loader_resumes_exactly_after_the_last_delivered_batch(digits_ds):
    def idx(batches) -> list[list[int]]:
        return [b["idx"].numpy().tolist() for b in batches]

    full = idx(digits_ds.tensorflow_loader(128, seed=11, epoch=4))
    loader = digits_ds.tensorflow_loader(128, seed=11, epoch=4)
    seen = idx(itertools.islice(loader, 6))
    state = loader.state_dict()
    assert state["batches"] == 6 and state["epoch"] == 4
    resumed = digits_ds.tensorflow_loader(128, seed=11)
    resumed.load_state_dict(state)
    rest = idx(resumed)
    assert seen + rest == full
    assert sorted(i for b in seen + rest for i in b) == list(range(1797))  # one epoch, no duplicates
    assert resumed.epoch == 5 and resumed.state_dict()["batches"] == 0
    with pytest.raises(altakit.AltakitError, match="batch_size"):
        digits_ds.tensorflow_loader(64, seed=11).load_state_dict(state)


def test_tensorflow_loader_counts_batches_a_filter_left_empty(digits_ds):
    from datakit_types import from_300

    ds = digits_ds.filter(from_300)  # batches 0-2 of 100 (in order) come out empty
    loader = ds.tensorflow_loader(100, shuffle=False)
    seen = [b["idx"].numpy().tolist() for b in itertools.islice(loader, 2)]
    assert seen[0][0] == 300 and loader.state_dict()["batches"] == 5
    resumed = ds.tensorflow_loader(100, shuffle=False)
    resumed.load_state_dict(loader.state_dict())
    rest = [i for b in resumed for i in b["idx"].numpy().tolist()]
    assert [i for b in seen for i in b] + rest == list(range(300, 1797))


def test_torch_and_tensorflow_resume_each_other(digits_ds):
    want = [dict(b) for b in digits_ds.batches(100, shuffle=True, seed=9)]
    torch_loader = digits_ds.torch(100, seed=9, num_workers=2)
    got = [{k: v.numpy() for k, v in b.items()} for b in itertools.islice(torch_loader, 5)]
    tf_loader = digits_ds.tensorflow_loader(100, seed=9)
    tf_loader.load_state_dict(torch_loader.state_dict())
    got += [{k: v.numpy() for k, v in b.items()} for b in tf_loader]
    assert len(got) == len(want) == 18
    for a, b in zip(got, want, strict=True):
        for name in ("image", "label", "idx"):
            np.testing.assert_array_equal(a[name], b[name])
    back = digits_ds.torch(100, seed=9)
    back.load_state_dict(tf_loader.state_dict())
    assert back.epoch == 1 and back.delivered == 0
