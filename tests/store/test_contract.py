"""The store contract: every backend and wrapper runs this same suite (fixture ``store``).

Run one kind with ``-k local`` (or ``s3``, ``jvm``, ``cached``, ``encrypted``).
"""

from __future__ import annotations

import io
import pickle
import random
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from altakit.errors import ConfigError, CorruptObject, DecryptionError, InvalidKey, NotFound
from altakit.store import Store
from altakit.store.names import SEP, checksum

MiB = 1 << 20


def blob(n: int, seed: int = 0) -> bytes:
    """``n`` pseudo-random bytes repeating with an odd period (so a misplaced range shows)."""
    block = random.Random(seed).randbytes(min(n, 1_000_003))
    return (block * (n // max(1, len(block)) + 1))[:n]


# ------------------------------------------------------------------ put / get
def test_put_bytes_and_get(store: Store):
    v = store.put("a/hello.txt", b"hello world")
    named = store._name_checksum(None, checksum(b"hello world"))  # encrypted stores: a keyed MAC of it
    assert (v.key, v.size, v.checksum, v.deleted) == ("a/hello.txt", 11, named, False)
    assert v.writer == store.writer
    assert store.get("a/hello.txt") == b"hello world"
    assert store.get("a/hello.txt", version=v.id) == b"hello world"
    assert store.get("a/hello.txt", version=v) == b"hello world"


def test_put_bytearray_memoryview_and_empty(store: Store):
    store.put("ba", bytearray(b"abc"))
    store.put("mv", memoryview(b"xxdefxx")[2:5])
    store.put("empty", b"")
    assert (store.get("ba"), store.get("mv"), store.get("empty")) == (b"abc", b"def", b"")
    with store.open("empty") as f:
        assert f.read() == b""


def test_put_path_and_file_object(store: Store, tmp_path: Path):
    data = blob(300_000, seed=1)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    assert store.put("from/path.bin", src).size == len(data)
    with open(src, "rb") as f:
        assert store.put("from/file.bin", f).checksum == store._name_checksum(None, checksum(data))
    store.put("from/bytesio.bin", io.BytesIO(b"in memory"))
    assert store.get("from/path.bin") == data
    assert store.get("from/file.bin") == data
    assert store.get("from/bytesio.bin") == b"in memory"
    with pytest.raises(NotFound):
        store.put("from/missing.bin", tmp_path / "missing.bin")
    assert not store.exists("from/missing.bin")


def test_missing_key_and_version(store: Store):
    with pytest.raises(NotFound) as err:
        store.get("nope.txt")
    assert err.value.fields["key"] == "nope.txt"
    store.put("k", b"1")
    with pytest.raises(NotFound):
        store.get("k", version="20000101T000000000000000Z_00000000")
    with pytest.raises(InvalidKey):
        store.get("k", version="not-an-id")


# ------------------------------------------------------------------- open / ranges
def test_open_seek_and_ranges(store: Store):
    data = blob(200_003, seed=2)
    store.put("r.bin", data)
    with store.open("r.bin") as f:
        assert f.read(10) == data[:10]
        assert f.tell() == 10
        f.seek(100_000)
        assert f.read(5000) == data[100_000:105_000]
        f.seek(-7, io.SEEK_END)
        assert f.read() == data[-7:]
        assert f.read(10) == b""
        f.seek(65_530)
        assert f.read(20) == data[65_530:65_550]
        f.seek(3, io.SEEK_CUR)
        assert f.read(4) == data[65_553:65_557]
    with store.open("r.bin") as f:
        assert f.read() == data


def test_read_range_primitive(store: Store):
    """``_read_range`` returns fewer bytes only when the object is shorter (wrappers rely on it)."""
    data = blob(10_000, seed=3)
    v = store.put("p.bin", data)
    assert store._read_range(v.name, 0, v.size) == data
    assert store._read_range(v.name, 1234, 5678) == data[1234:5678]
    assert store._read_range(v.name, 9_990, 10_100) == data[9_990:]
    e = store.put("p0.bin", b"")
    assert store._read_range(e.name, 0, 1) == b""


def test_large_object_read_in_ranges(store: Store):
    size = 24 * MiB
    data = blob(size, seed=4)
    v = store.put("big/blob.bin", data)
    assert v.size == size
    offsets = [0, 5 * MiB + 17, 12 * MiB - 3, 23 * MiB + 999, size - 100]
    tracemalloc.start()
    try:
        with store.open("big/blob.bin") as f:
            for off in offsets:
                f.seek(off)
                assert f.read(100) == data[off : off + 100]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size, f"range reads held {peak} bytes at once: the object was read whole"
    assert store._read_range(v.name, 20 * MiB, 20 * MiB + 10) == data[20 * MiB : 20 * MiB + 10]


# ------------------------------------------------------------------- versions
def test_versions_in_write_order(store: Store):
    written = [store.put("v.txt", f"v{i}".encode()) for i in range(4)]
    history = store.versions("v.txt")
    assert [v.id for v in history] == [v.id for v in written]
    assert history == sorted(history, key=lambda v: v.id)
    assert [store.get("v.txt", version=v.id) for v in history] == [b"v0", b"v1", b"v2", b"v3"]
    assert store.get("v.txt") == b"v3"
    assert store.versions("never-written") == []


def test_quick_succession_one_consistent_latest(store: Store):
    other = pickle.loads(pickle.dumps(store))  # a second client of the same store
    a = store.put("race.txt", b"first")
    b = other.put("race.txt", b"second")
    assert a.id < b.id
    assert store.resolve("race.txt") == other.resolve("race.txt") == b
    assert store.get("race.txt") == other.get("race.txt") == b"second"


def test_concurrent_writers_from_threads(store: Store):
    written: dict[str, bytes] = {}
    errors: list[BaseException] = []

    def write(i: int) -> None:
        data = f"writer {i};".encode() * (i + 1)
        try:
            written[store.put("threads.bin", data).id] = data
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    history = store.versions("threads.bin")
    assert [v.id for v in history] == sorted(written) and len(written) == 8
    latest = store.resolve("threads.bin")
    assert latest == history[-1]
    assert store.get("threads.bin") == written[latest.id]
    for v in history:
        assert store.get("threads.bin", version=v.id) == written[v.id]


def test_as_of(store: Store):
    v1 = store.put("t.txt", b"one")
    time.sleep(0.002)
    v2 = store.put("t.txt", b"two")
    assert v1.timestamp < v2.timestamp
    assert store.get("t.txt", as_of=v1.timestamp) == b"one"
    assert store.get("t.txt", as_of=v2.timestamp) == b"two"
    assert store.get("t.txt", as_of=datetime.now(UTC) + timedelta(hours=1)) == b"two"
    with pytest.raises(NotFound):
        store.get("t.txt", as_of=v1.timestamp - timedelta(seconds=1))
    with pytest.raises(InvalidKey):
        store.get("t.txt", as_of=datetime.now())  # naive: ambiguous


# ------------------------------------------------------------------- listing
def test_list_prefix_pattern_recursive(store: Store):
    for key in ["a/x.csv", "a/y.txt", "a/b/z.csv", "ab.csv", "c.csv", "a/x.csv"]:
        store.put(key, key.encode())

    def keys(*args, **kwargs):
        return [v.key for v in store.list(*args, **kwargs)]

    assert keys() == ["a/b/z.csv", "a/x.csv", "a/y.txt", "ab.csv", "c.csv"]
    assert keys("a/") == ["a/b/z.csv", "a/x.csv", "a/y.txt"]
    assert keys("a/", recursive=False) == ["a/x.csv", "a/y.txt"]
    assert keys("a") == ["a/b/z.csv", "a/x.csv", "a/y.txt", "ab.csv"]
    assert keys(pattern="*.csv") == ["a/b/z.csv", "a/x.csv", "ab.csv", "c.csv"]
    assert keys(pattern="a/*/*.csv") == ["a/b/z.csv"]
    assert keys("", recursive=False) == ["ab.csv", "c.csv"]
    assert keys("zzz/") == []
    latest = {v.key: v for v in store.list("a/")}
    assert latest["a/x.csv"] == store.versions("a/x.csv")[-1]


# ------------------------------------------------------------------- delete
def test_delete_is_a_tombstone(store: Store):
    v1 = store.put("d/gone.txt", b"old")
    store.put("d/kept.txt", b"kept")
    tomb = store.delete("d/gone.txt")
    assert tomb.deleted and tomb.id > v1.id
    assert not store.exists("d/gone.txt")
    assert [v.key for v in store.list("d/")] == ["d/kept.txt"]
    with pytest.raises(NotFound):
        store.get("d/gone.txt")
    assert store.get("d/gone.txt", version=v1.id) == b"old"
    assert [v.deleted for v in store.versions("d/gone.txt")] == [False, True]
    with pytest.raises(NotFound):
        store.delete("d/gone.txt")
    with pytest.raises(NotFound):
        store.delete("d/never.txt")
    store.put("d/gone.txt", b"back")
    assert store.get("d/gone.txt") == b"back"
    assert [v.key for v in store.list("d/")] == ["d/gone.txt", "d/kept.txt"]


# ------------------------------------------------------------------- exists / info / copy
def test_exists_info_copy(store: Store):
    assert not store.exists("i.bin")
    v1 = store.put("i.bin", b"first")
    v2 = store.put("i.bin", b"second!")
    assert store.exists("i.bin")
    info = store.info("i.bin")
    assert (info.id, info.size, info.checksum) == (v2.id, 7, store._name_checksum(None, checksum(b"second!")))
    assert store.info("i.bin", version=v1.id).size == 5
    c = store.copy("i.bin", "copies/i.bin")
    assert (c.key, c.size, c.checksum) == ("copies/i.bin", 7, v2.checksum)
    assert store.get("copies/i.bin") == b"second!"
    store.copy("i.bin", "copies/i.bin", version=v1.id)
    assert store.get("copies/i.bin") == b"first"
    assert len(store.versions("copies/i.bin")) == 2
    assert store.get("i.bin") == b"second!"  # the source is untouched


def test_copy_large_object(store: Store):
    data = blob(3 * MiB + 5, seed=5)
    store.put("big/src.bin", data)
    store.copy("big/src.bin", "big/dst.bin")
    assert store.get("big/dst.bin") == data


# ------------------------------------------------------------------- refused input
REFUSED = ["../x", "a/../b", "/abs", "a\x00b", f"a{SEP}b", "", "a//b", "a/", "a\\b", "./a"]


def test_refused_keys(store: Store):
    for key in REFUSED:
        with pytest.raises(InvalidKey) as err:
            store.put(key, b"data")
        assert err.value.hint and err.value.fields["key"] == key
        with pytest.raises(InvalidKey):
            store.get(key)
        with pytest.raises(InvalidKey):
            store.exists(key)
        with pytest.raises(InvalidKey):
            store.copy("src.txt", key)
    assert store.list() == []


def test_refused_prefixes(store: Store):
    store.put("a/b.txt", b"x")
    for prefix in ("../", "a/../", "/a", "a//", "a\x00", f"a{SEP}"):
        with pytest.raises(InvalidKey):
            store.list(prefix)
    assert [v.key for v in store.list("a/")] == ["a/b.txt"]


def test_refused_data(store: Store):
    store.put("keep.txt", b"kept")
    with pytest.raises(ConfigError) as err:
        store.put("keep.txt", "a str is ambiguous")  # type: ignore[arg-type]
    assert err.value.hint
    with pytest.raises(ConfigError):
        store.put("keep.txt", 42)  # type: ignore[arg-type]
    assert store.get("keep.txt") == b"kept"
    assert len(store.versions("keep.txt")) == 1


# ------------------------------------------------------------------- corruption
@pytest.mark.parametrize("garbage", [b"garbage!", b"garbage, and longer"], ids=["same-size", "other-size"])
def test_corruption_detected(store: Store, garbage: bytes):
    old = store.put("c.bin", b"precious")
    v = store.put("c.bin", b"valuable")
    assert store.get("c.bin") == b"valuable"  # read once: a cache must not hide what follows
    store._write(v.name, garbage)
    expected = (CorruptObject, DecryptionError)
    with pytest.raises(expected) as err:
        store.get("c.bin")
    assert err.value.fields["name"] == v.name
    with pytest.raises(expected), store.open("c.bin") as f:
        f.read()
    assert store.get("c.bin", version=old.id) == b"precious"


# ------------------------------------------------------------------- pickling
def test_pickle_round_trip(store: Store):
    v = store.put("p/a.txt", b"before")
    clone = pickle.loads(pickle.dumps(store))
    assert type(clone) is type(store) and clone.url == store.url
    assert clone.get("p/a.txt", version=v.id) == b"before"
    clone.put("p/a.txt", b"from the clone")
    assert store.get("p/a.txt") == b"from the clone"
    assert [x.key for x in clone.list("p/")] == ["p/a.txt"]
