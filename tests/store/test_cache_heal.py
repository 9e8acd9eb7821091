"""A damaged disk-cache entry heals: it is dropped and read again from the inner store.

Entries are real files in a real cache folder over a local store, the loopback S3
server or an encrypted store; damage is a byte changed on disk, as bit rot or a
stray writer would leave it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from altakit.errors import CorruptObject
from altakit.store import CachedStore, EncryptedStore

DATA = os.urandom(300_000)  # larger than max_object_bytes: a disk entry
KEY = os.urandom(32)


@pytest.fixture(params=["local", "s3", "encrypted"])
def inner(request, local_store):
    """The store behind the cache."""
    if request.param == "encrypted":
        return EncryptedStore(local_store, key=KEY, segment_bytes=4096)
    return request.getfixturevalue(f"{request.param}_store")


def cached(inner, tmp_path) -> CachedStore:
    """A new cache object over ``inner`` sharing one cache folder (as another process would)."""
    return CachedStore(
        inner,
        memory_bytes=1 << 20,
        max_object_bytes=64 << 10,
        disk_dir=tmp_path / "cache",
        disk_bytes=64 << 20,
    )


def damage(path, at: int = 150_000, n: int = 16) -> None:
    """Change ``n`` bytes of a file in place (same size, same inode)."""
    with open(path, "r+b") as f:
        f.seek(at)
        old = f.read(n)
        f.seek(at)
        f.write(bytes(b ^ 0xFF for b in old))


def test_damaged_entry_heals_on_the_next_read(inner, tmp_path):
    first = cached(inner, tmp_path)
    v = first.put("big.bin", DATA)
    assert first.get("big.bin", version=v.id) == DATA
    entry = first._disk.path(v.name)
    assert entry.read_bytes() == DATA
    damage(entry)
    # the same cache object, which checked the entry before it was damaged
    assert first.get("big.bin", version=v.id) == DATA
    assert entry.read_bytes() == DATA and first.stats["healed"] == 1
    damage(entry)
    later = cached(inner, tmp_path)  # a new cache object: checks the entry on first use
    assert later.get("big.bin", version=v.id) == DATA
    assert entry.read_bytes() == DATA
    damage(entry)
    assert cached(inner, tmp_path).read_verified("big.bin", lambda f: f.read(), v.id) == DATA
    assert entry.read_bytes() == DATA
    with cached(inner, tmp_path).open("big.bin", version=v.id) as f:
        assert f.read() == DATA


def test_a_failed_stream_drops_the_entry(inner, tmp_path):
    store = cached(inner, tmp_path)
    v = store.put("big.bin", DATA)
    with store.open("big.bin", version=v.id) as f:
        assert f.read() == DATA
    entry = store._disk.path(v.name)
    damage(entry)  # after this cache object checked the entry: its stream serves it
    with pytest.raises(CorruptObject), store.open("big.bin", version=v.id) as f:
        f.read()
    assert not entry.exists()
    with store.open("big.bin", version=v.id) as f:  # the next read heals it
        assert f.read() == DATA
    assert entry.read_bytes() == DATA


def test_ranged_read_of_a_damaged_entry_is_right(inner, tmp_path):
    v = inner.put("big.bin", DATA)
    cached(inner, tmp_path).get("big.bin", version=v.id)
    entry = cached(inner, tmp_path)._disk.path(v.name)
    damage(entry, at=1000)
    store = cached(inner, tmp_path)
    assert store._read_range(v.name, 1000, 1016) == DATA[1000:1016]
    assert entry.read_bytes() == DATA
    damage(entry, at=200_000)
    with cached(inner, tmp_path).open("big.bin", version=v.id) as f:
        f.seek(200_000)
        assert f.read(16) == DATA[200_000:200_016]


def test_ranged_read_in_another_process(local_store, tmp_path):
    v = local_store.put("big.bin", DATA)
    cached(local_store, tmp_path).get("big.bin", version=v.id)
    entry = cached(local_store, tmp_path)._disk.path(v.name)
    damage(entry, at=5000)
    code = textwrap.dedent(
        f"""
        import sys, altakit
        from altakit.store import CachedStore
        store = CachedStore(altakit.open_store({str(local_store.root)!r}), memory_bytes=1 << 20,
                            max_object_bytes=64 << 10, disk_dir={str(tmp_path / "cache")!r})
        sys.stdout.write(store._read_range({v.name!r}, 5000, 5016).hex())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert bytes.fromhex(out.stdout) == DATA[5000:5016]
    assert entry.read_bytes() == DATA


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_entries_are_verified_when_filled(request, kind, tmp_path):
    inner = request.getfixturevalue(f"{kind}_store")
    v = inner.put("big.bin", DATA)
    bad = bytearray(DATA)
    bad[7] ^= 1
    inner._remove(v.name)
    inner._write(v.name, bytes(bad))  # the inner store's bytes are damaged
    store = cached(inner, tmp_path)
    with pytest.raises(CorruptObject):
        store.get("big.bin", version=v.id)
    assert not store._disk.path(v.name).exists()  # nothing damaged was cached
    assert store._read_range(v.name, 0, 16) == bytes(bad[:16])  # a range comes from the inner store
    inner._remove(v.name)
    inner._write(v.name, DATA)  # repaired (as a restore from backup would)
    assert cached(inner, tmp_path).get("big.bin", version=v.id) == DATA
    assert store._disk.path(v.name).read_bytes() == DATA
