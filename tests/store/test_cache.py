"""CachedStore: hits never reach the inner store, bounds hold, and processes share the disk cache."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from altakit.errors import ConfigError
from altakit.store import CachedStore
from altakit.store.base import Store
from altakit.store.wrap import WrappedStore

KiB = 1 << 10
MiB = 1 << 20
READS = {"_read_range", "_open_raw"}


class CountingStore(WrappedStore):
    """A real local store that counts the primitives called on it."""

    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self.calls: Counter[str] = Counter()

    def _read_range(self, name, start, stop):
        self.calls["_read_range"] += 1
        return super()._read_range(name, start, stop)

    def _open_raw(self, name, size):
        self.calls["_open_raw"] += 1
        return super()._open_raw(name, size)

    def _names_of(self, key):
        self.calls["_names_of"] += 1
        return super()._names_of(key)

    def _scan(self, prefix, recursive):
        self.calls["_scan"] += 1
        return super()._scan(prefix, recursive)

    def reads(self) -> int:
        return sum(n for call, n in self.calls.items() if call in READS)


@pytest.fixture
def counted(local_store):
    return CountingStore(local_store)


def test_hit_makes_no_inner_call(counted, tmp_path):
    store = CachedStore(counted, max_object_bytes=64 * KiB, disk_dir=tmp_path / "cache")
    small = store.put("s.txt", b"small object")
    large_data = os.urandom(200 * KiB)
    large = store.put("l.bin", large_data)
    for v in (small, large):
        assert store.get(v.key, version=v.id)  # first read fills the cache
    for v, data in ((small, b"small object"), (large, large_data)):
        counted.calls.clear()
        assert store.get(v.key, version=v.id) == data
        with store.open(v.key, version=v.id) as f:
            f.seek(5)
            assert f.read(4) == data[5:9]
        assert store._read_range(v.name, 2, 6) == data[2:6]
        assert not counted.calls, f"a cache hit called the inner store: {dict(counted.calls)}"
    assert store.stats["memory_hits"] >= 3 and store.stats["disk_hits"] >= 3
    assert store.get("s.txt") == b"small object"  # the latest version is asked of the inner store ...
    assert counted.calls["_names_of"] == 1 and counted.reads() == 0  # ... but its bytes are cached


def test_latest_and_listing_come_from_the_inner_store(counted, local_store):
    store = CachedStore(counted)
    store.put("k.txt", b"one")
    assert store.get("k.txt") == b"one"
    local_store.put("k.txt", b"two")  # another client writes a newer version
    local_store.put("new.txt", b"new")
    assert store.get("k.txt") == b"two"
    assert [v.key for v in store.list()] == ["k.txt", "new.txt"]
    local_store.delete("new.txt")
    assert not store.exists("new.txt")


def test_unknown_version_id_asks_the_inner_store(counted, local_store):
    store = CachedStore(counted)
    v = local_store.put("k.txt", b"written elsewhere")
    assert store.get("k.txt", version=v.id) == b"written elsewhere"
    assert counted.calls["_names_of"] == 1
    clone = pickle.loads(pickle.dumps(store))  # a worker starts empty, then fills its own cache
    counted.calls.clear()
    assert clone.get("k.txt", version=v.id) == b"written elsewhere"
    assert clone.stats == {"memory_hits": 0, "disk_hits": 0, "misses": 1}


def test_memory_lru_bound(counted):
    store = CachedStore(counted, memory_bytes=1000, max_object_bytes=400)
    data = {f"k{i}": bytes([i]) * 300 for i in range(4)} | {"big": b"x" * 500}
    vs = [store.put(key, data[key]) for key in ("k0", "k1", "k2", "k3")]

    def inner_reads(v) -> int:
        counted.calls.clear()
        assert store.get(v.key, version=v.id) == data[v.key]
        return counted.reads()

    assert [inner_reads(v) for v in vs[:3]] == [1, 1, 1]
    assert inner_reads(vs[0]) == 0  # now k1 is the least recently used
    assert inner_reads(vs[3]) == 1  # 4 × 300 B > 1000 B: evicts k1
    assert store._memory.used <= 1000
    assert [inner_reads(vs[i]) for i in (0, 2, 3)] == [0, 0, 0]
    assert inner_reads(vs[1]) == 1
    big = store.put("big", data["big"])  # over max_object_bytes, no disk cache: never cached
    assert [inner_reads(big), inner_reads(big)] == [1, 1]


def test_disk_cache_bound_and_lru(counted, tmp_path):
    size = 300 * KiB
    store = CachedStore(counted, max_object_bytes=64 * KiB, disk_dir=tmp_path / "c", disk_bytes=size * 5 // 2)
    a, b, c = (store.put(k, os.urandom(size)) for k in "abc")
    for v in (a, b, a, c):  # a is used again after b: b is evicted when c arrives
        store.get(v.key, version=v.id)
        time.sleep(0.01)  # distinct mtimes even on coarse file systems
    disk = store._disk
    assert disk.usage() <= size * 5 // 2
    assert {p.name for p in (tmp_path / "c" / "objects").iterdir()} == {
        disk.path(a.name).name,
        disk.path(c.name).name,
    }
    assert not list((tmp_path / "c" / "tmp").iterdir())
    too_big = store.put("huge", os.urandom(size * 3))  # over disk_bytes: read straight through
    assert store.get("huge", version=too_big.id) == counted.get("huge")
    assert disk.usage() <= size * 5 // 2


def test_damaged_disk_entry_is_not_served(counted, tmp_path):
    store = CachedStore(counted, max_object_bytes=1 * KiB, disk_dir=tmp_path / "c")
    data = os.urandom(100 * KiB)
    v = store.put("x.bin", data)
    assert store.get("x.bin", version=v.id) == data
    entry = store._disk.path(v.name)
    entry.write_bytes(data[:10])  # e.g. a disk that lost the tail
    counted.calls.clear()
    assert store.get("x.bin", version=v.id) == data
    assert counted.reads() == 1 and entry.stat().st_size == len(data)


def test_wrapping_needs_a_store():
    with pytest.raises(ConfigError):
        CachedStore(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as err:
        WrappedStore("s3://bucket")  # type: ignore[arg-type]
    assert err.value.hint


def test_negative_bound_refused(local_store):
    with pytest.raises(ConfigError) as err:
        CachedStore(local_store, memory_bytes=-1)
    assert "memory_bytes" in str(err.value)


WORKER = r"""
import hashlib, json, pickle, random, sys
store = pickle.loads(open(sys.argv[1], "rb").read())
expected = json.loads(sys.argv[2])
rng = random.Random(int(sys.argv[3]))
keys = sorted(expected)
order = [keys[0]] + [rng.choice(keys) for _ in range(24)]  # all start on the same entry
bad = 0
for i, key in enumerate(order):
    if i % 3 == 0:
        data = store.get(key)
    elif i % 3 == 1:
        with store.open(key) as f:
            data = f.read()
    else:
        v = store.info(key)
        data = b"".join(store._read_range(v.name, s, s + 65536) for s in range(0, v.size, 65536))
    bad += hashlib.sha256(data).hexdigest() != expected[key]
print(json.dumps({"bad": bad, **store.stats}))
"""


def test_disk_cache_shared_by_processes(local_store, tmp_path):
    """Three worker processes fill one bounded disk cache at once, with evictions, and read no torn bytes."""
    size = 512 * KiB
    expected = {}
    for i in range(6):
        data = os.urandom(size + i)
        local_store.put(f"shard-{i}.tar", data)
        expected[f"shard-{i}.tar"] = hashlib.sha256(data).hexdigest()
    cache_dir = tmp_path / "shared-cache"
    bound = 3 * size
    store = CachedStore(local_store, max_object_bytes=16 * KiB, disk_dir=cache_dir, disk_bytes=bound)
    pickled = tmp_path / "store.pkl"
    pickled.write_bytes(pickle.dumps(store))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(pickled), json.dumps(expected), str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=os.getcwd(),
        )
        for seed in range(3)
    ]
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["bad"] for r in reports] == [0, 0, 0]
    assert sum(r["disk_hits"] for r in reports) > 0
    assert store._disk.usage() <= bound
    assert not list((cache_dir / "tmp").iterdir()), "a filler left a temp file behind"
    sums = set(expected.values())
    for entry in (cache_dir / "objects").iterdir():
        assert hashlib.sha256(entry.read_bytes()).hexdigest() in sums, f"torn entry {entry.name}"


def test_cache_dir_not_writable(local_store, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError):
        CachedStore(local_store, disk_dir=blocker / "cache")
    assert local_store.put("still.txt", b"fine").size == 4
    assert Path(blocker).read_text() == "not a folder"
