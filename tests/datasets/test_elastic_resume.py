"""Resuming on another number of ranks (#21 item 4): what the old ranks delivered, the new ranks never
deliver again, and together they deliver every sample once (plan level, and both loaders)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from altakit.datasets.plan import EpochPlan, resume_point


def _ids(plan: EpochPlan, j0: int = 0, j1: int | None = None) -> list[tuple[int, int]]:
    out = []
    for j in range(j0, plan.num_batches if j1 is None else min(j1, plan.num_batches)):
        shards, samples = plan.batch(j)
        out.extend(zip(shards.tolist(), samples.tolist(), strict=True))
    return out


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(0, 40), min_size=1, max_size=6),
    batch=st.integers(1, 9),
    worlds=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    steps=st.lists(st.integers(0, 6), min_size=3, max_size=3),
    drop_last=st.booleans(),
)
def test_any_chain_of_world_sizes_delivers_each_sample_once(counts, batch, worlds, steps, drop_last):
    state = {"offset": 0, "batches": 0, "world_size": worlds[0]}
    delivered: list[tuple[int, int]] = []
    for n, world in enumerate(worlds):
        offset, start = resume_point(state, world)
        options = {"seed": 7, "world_size": world, "drop_last": drop_last, "offset": offset}
        plans = [EpochPlan(counts, batch, rank=r, **options) for r in range(world)]
        last = n == len(worlds) - 1
        stop = None if last else start + steps[n % 3]
        if stop is not None:  # lockstep: every rank stops after the same number of local batches
            stop = min(stop, min(p.num_batches for p in plans))
        for p in plans:
            delivered.extend(_ids(p, start, stop))
        state = {"offset": offset, "batches": stop if stop is not None else 0, "world_size": world}
    total = sum(counts)
    assert len(delivered) == len(set(delivered))  # nothing twice
    if not drop_last:
        assert len(delivered) == total  # nothing missed
    else:
        assert total - len(delivered) < batch * max(worlds) * len(worlds) + batch


@pytest.mark.parametrize("after", [1, 3])
def test_torch_loader_resumes_on_another_world_size(digits_ds, after):
    pytest.importorskip("torch")
    before = [digits_ds.torch(128, seed=2, rank=r, world_size=2) for r in range(2)]
    seen = [i for loader in before for b in itertools.islice(loader, 3) for i in b["idx"].tolist()]
    state = before[0].state_dict()
    assert state["world_size"] == 2 and state["batches"] == 3
    rest = []
    for r in range(after):
        resumed = digits_ds.torch(128, seed=2, rank=r, world_size=after)
        resumed.load_state_dict(state)
        rest.extend(i for b in resumed for i in b["idx"].tolist())
        assert resumed.state_dict()["offset"] == 0 and resumed.epoch == 1  # the next epoch starts whole
    assert sorted(seen + rest) == list(range(1797))


def test_tensorflow_loader_resumes_a_torch_state_on_another_world_size(digits_ds):
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    from altakit.datasets.tensorflow import TFLoader

    before = [digits_ds.torch(100, seed=4, rank=r, world_size=3) for r in range(3)]
    seen = [i for loader in before for b in itertools.islice(loader, 2) for i in b["idx"].tolist()]
    rest = []
    for r in range(2):
        tf_loader = TFLoader(digits_ds, 100, seed=4, rank=r, world_size=2)
        tf_loader.load_state_dict(before[0].state_dict())
        rest.extend(i for b in tf_loader for i in b["idx"].numpy().tolist())
    assert sorted(seen + rest) == list(range(1797))
