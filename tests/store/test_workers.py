"""Stores are safe across processes: DataLoader workers (fork and spawn) read the right bytes.

A store is pickled into each worker inside a torch Dataset; nothing in a worker
may depend on state of the parent process beyond that pickle (no global
registry, no default store: the default store is pointed at a decoy holding the
same keys with other bytes, so a silent fallback would be caught).
"""

from __future__ import annotations

import os
import random

import pytest
from fixtures.workers import StoreItems, digest

BACKENDS = ["local_store", "s3_store", "jvm_store", "cached_store", "encrypted_store"]
N_KEYS = 12


def _store(request: pytest.FixtureRequest, name: str):
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        pytest.skip(f"fixture {name!r} is not defined (its backend's tests are not in this checkout)")


@pytest.fixture
def decoy_default_store(tmp_path, monkeypatch):
    """The default store holds the same keys with wrong bytes."""
    import altakit
    from altakit.store.fsspec import clear_store_cache

    decoy = altakit.open_store(tmp_path / "decoy")
    for i in range(N_KEYS):
        decoy.put(f"items/{i:03d}.bin", b"decoy")
    monkeypatch.setenv("ALTAKIT_STORE", str(tmp_path / "decoy"))
    clear_store_cache()
    yield decoy
    clear_store_cache()


def _fill(store) -> tuple[list[tuple[str, str]], dict[int, tuple[str, str]]]:
    """Two versions per key; items alternate between the older and the newer version."""
    rng = random.Random(7)
    items, expected = [], {}
    for i in range(N_KEYS):
        key = f"items/{i:03d}.bin"
        old = rng.randbytes(rng.randint(1, 300_000))
        new = rng.randbytes(rng.randint(0, 3_000))
        v_old = store.put(key, old)
        v_new = store.put(key, new)
        pick, data = (v_old, old) if i % 2 == 0 else (v_new, new)
        items.append((key, pick.id))
        expected[i] = (digest(data), digest(new))
    return items, expected


@pytest.mark.parametrize("context", ["fork", "spawn"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_dataloader_workers_read_the_right_bytes(request, decoy_default_store, backend, context):
    torch_data = pytest.importorskip("torch.utils.data")
    store = _store(request, backend)
    items, expected = _fill(store)
    loader = torch_data.DataLoader(
        StoreItems(store, items),
        batch_size=None,
        shuffle=True,
        num_workers=2,
        multiprocessing_context=context,
    )
    seen = {}
    for index, pid, at_version, latest, via_fs in loader:
        index = int(index)
        assert index not in seen
        seen[index] = pid
        want_version, want_latest = expected[index]
        assert at_version == want_version, f"item {index}: wrong bytes at its version"
        assert latest == want_latest, f"item {index}: wrong latest bytes"
        assert via_fs == want_version, f"item {index}: wrong bytes through fsspec"
    assert sorted(seen) == list(range(N_KEYS))
    pids = {int(p) for p in seen.values()}
    assert len(pids) == 2 and os.getpid() not in pids, "items must be read by the two workers"
