"""Workers split an epoch by window of shards; the loader puts batch pieces back together exactly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from altakit.datasets.plan import EpochPlan


@pytest.mark.parametrize(
    "options",
    [
        {"shuffle": False},
        {"shuffle": True, "seed": 3, "window": 2},
        {"shuffle": True, "seed": 1, "rank": 1, "world_size": 3, "drop_last": True},
        {"shuffle": True, "seed": 5, "rank": 2, "world_size": 3},
    ],
)
@pytest.mark.parametrize("workers", [1, 2, 3, 5])
def test_pieces_cover_every_batch_exactly_once(options, workers):
    plan = EpochPlan([10, 0, 7, 13, 5, 9, 1], 4, **options)
    for start in (0, 3):
        got: dict[int, list[tuple[int, int]]] = {}
        for w in range(workers):
            mine = plan.pieces(start, w, workers)
            assert [j for j, _, _ in mine] == sorted(j for j, _, _ in mine)  # each worker in order
            for j, lo, hi in mine:
                got.setdefault(j, []).append((lo, hi))
        assert sorted(got) == list(range(start, plan.num_batches))
        for j, spans in got.items():
            spans.sort()
            assert spans[0][0] == 0 and spans[-1][1] == len(plan.batch(j)[0])
            assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_pieces_keep_each_window_on_one_worker():
    plan = EpochPlan([10, 7, 13, 5, 9], 4, shuffle=True, seed=2, window=2)
    bounds = plan.group_bounds()
    for w in range(2):
        for j, lo, hi in plan.pieces(0, w, 2):
            first = plan.global_index(j) * 4
            k = int(np.searchsorted(bounds, first + lo, side="right")) - 1
            assert k % 2 == w and first + hi <= bounds[k + 1]


def flat_batches(loader) -> list[dict]:
    return [{k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in b.items()} for b in loader]


def assert_same_batches(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert list(a) == list(b)
        for name in a:
            if isinstance(b[name], np.ndarray):
                assert np.array_equal(a[name], b[name]) and a[name].dtype == b[name].dtype, name
            else:
                assert list(a[name]) == list(b[name]), name


def test_split_loader_delivers_the_in_process_batches(digits_ds):
    options = {"shuffle": True, "seed": 6, "window": 2, "rank": 1, "world_size": 2, "keys": True}
    want = [dict(b) for b in digits_ds.batches(96, **options)]
    loader = digits_ds.torch(96, num_workers=3, **options)
    assert loader.shards.pieces  # small shards: split by window
    assert_same_batches(flat_batches(loader), want)


def test_split_loader_resumes_with_another_worker_count(digits_ds):
    full = flat_batches(digits_ds.torch(64, seed=8, num_workers=0))
    loader = digits_ds.torch(64, seed=8, num_workers=3)
    seen = flat_batches(itertools.islice(loader, 11))
    resumed = digits_ds.torch(64, seed=8, num_workers=2)
    resumed.load_state_dict(loader.state_dict())
    assert_same_batches(seen + flat_batches(resumed), full)


def test_large_shards_or_stages_keep_whole_batches(digits_ds, monkeypatch):
    import altakit.datasets.torch as adapter

    assert not digits_ds.map(abs).torch(64, num_workers=2).shards.pieces
    assert not digits_ds.torch(101, num_workers=2).shards.pieces  # shards of 200 < 2 batches
    monkeypatch.setattr(adapter, "HOLD_BYTES", 10)
    loader = digits_ds.torch(64, seed=8, num_workers=2)
    assert not loader.shards.pieces
    assert_same_batches(flat_batches(loader), flat_batches(digits_ds.torch(64, seed=8)))


def test_big_pieces_travel_as_tensors_and_still_merge(digits_ds, monkeypatch):
    import altakit.datasets.torch as adapter

    monkeypatch.setattr(adapter, "PIPE_BYTES", 0)  # every piece through shared memory (fork keeps it)
    options = {"shuffle": True, "seed": 4, "keys": True}
    got = flat_batches(digits_ds.torch(100, num_workers=2, **options))
    assert_same_batches(got, [dict(b) for b in digits_ds.batches(100, **options)])
