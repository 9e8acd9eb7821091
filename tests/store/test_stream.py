"""Streamed writes (``open_writer``) and concurrently verified reads (``read_verified``), every store kind."""

from __future__ import annotations

import gc
import io
import random

import pytest

from altakit.errors import CorruptObject, DecryptionError, InvalidKey, NotFound
from altakit.store import Store, stream
from altakit.store.names import checksum


def _pieces(seed: int = 0) -> list[bytes]:
    """Writes of many sizes: tiny ones gathered in the buffer, large ones passed straight through."""
    rnd = random.Random(seed)
    sizes = [0, 1, 17, stream.SMALL_WRITE - 1, stream.SMALL_WRITE, 3, 300_000, 5, 2 * stream.SMALL_WRITE + 7]
    return [rnd.randbytes(n) for n in sizes]


def test_streamed_version_equals_a_put_of_the_same_bytes(store: Store, monkeypatch):
    monkeypatch.setattr(stream, "HASH_STEP", 100_000)  # the hashing thread catches up several times
    monkeypatch.setattr(stream, "JOB_STEP", 4096)  # a large write's hash goes on from the spool's copy
    pieces = _pieces()
    with store.open_writer("s/model.bin") as f:
        for piece in pieces:
            assert f.write(piece) == len(piece)
        f.write(memoryview(b"abcd").cast("B", (2, 2)))  # any bytes-like object
        assert f.tell() == sum(map(len, pieces)) + 4
    data = b"".join(pieces) + b"abcd"
    v = f.version
    assert v is not None and (v.size, v.checksum) == (len(data), store._name_checksum(None, checksum(data)))
    assert store.versions("s/model.bin") == [v]
    assert store.get("s/model.bin") == data
    with pytest.raises(ValueError):
        f.write(b"after close")
    f.close()  # a second close commits nothing more
    assert len(store.versions("s/model.bin")) == 1


def test_empty_stream_is_an_empty_version(store: Store):
    with store.open_writer("s/empty") as f:
        pass
    assert f.version is not None and store.get("s/empty") == b""


def test_failed_aborted_or_abandoned_writers_commit_nothing(store: Store):
    old = store.put("s/k", b"previous")
    with pytest.raises(RuntimeError), store.open_writer("s/k") as f:
        f.write(b"half of it" * 10_000)
        raise RuntimeError("the producer failed")
    assert f.version is None
    w = store.open_writer("s/k")
    w.write(b"x" * 200_000)
    w.abort()
    w.close()  # closing after abort commits nothing
    abandoned = store.open_writer("s/k")
    abandoned.write(b"never closed")
    del abandoned
    gc.collect()
    assert store.versions("s/k") == [old]
    assert store.get("s/k") == b"previous"
    with pytest.raises(InvalidKey):
        store.open_writer("../escape")


def test_read_verified_returns_what_the_reader_returns(store: Store):
    data = random.Random(1).randbytes(3_000_000)
    v = store.put("r/a.bin", data)
    store.put("r/a.bin", b"newer")
    head = store.read_verified("r/a.bin", lambda f: (f.read(10), f.seek(-3, io.SEEK_END), f.read()), v.id)
    assert head == (data[:10], len(data) - 3, data[-3:])
    assert store.read_verified("r/a.bin", lambda f: f.read()) == b"newer"
    with pytest.raises(KeyError):  # a reader's own error on sound bytes is its own
        store.read_verified("r/a.bin", lambda f: {}["missing"])
    with pytest.raises(NotFound):
        store.read_verified("r/none", lambda f: f.read())


def test_read_verified_refuses_damaged_bytes_even_if_the_reader_fails(store: Store):
    v = store.put("r/c.bin", b"valuable bytes")
    store._write(v.name, b"garbage bytes!")
    expected = (CorruptObject, DecryptionError)
    with pytest.raises(expected):
        store.read_verified("r/c.bin", lambda f: f.read())
    with pytest.raises(expected):
        store.read_verified("r/c.bin", lambda f: int(f.read()))  # the checksum, not the ValueError


def test_local_stream_leaves_no_temp_file(local_store):
    with local_store.open_writer("t/a") as f:
        f.write(b"y" * 300_000)
    with pytest.raises(RuntimeError), local_store.open_writer("t/b") as g:
        g.write(b"z" * 300_000)
        raise RuntimeError
    assert list((local_store.root / ".altakit-tmp").iterdir()) == []
    assert local_store.get("t/a", version=f.version.id) == b"y" * 300_000
