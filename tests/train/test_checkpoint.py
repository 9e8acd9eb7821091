"""Checkpointer: atomic versions, retention, pinning, corruption, S3 — on real stores."""

from __future__ import annotations

import pytest

from altakit.errors import CheckpointError, ConfigError, CorruptObject, NotFound
from altakit.train import Checkpointer


def test_save_restore_latest_best_and_by_step(local_store):
    ckpt = Checkpointer(local_store, "r", keep_last=2, keep_best=1, monitor="loss")
    for step, loss in [(1, 0.9), (2, 0.3), (3, 0.5), (4, 0.6)]:
        ckpt.save(f"s{step}".encode(), step=step, metrics={"loss": loss})
    assert [c.step for c in ckpt.checkpoints()] == [2, 3, 4]  # last 2 + best 1
    assert ckpt.restore("latest").data == b"s4"
    assert ckpt.restore("best").data == b"s2"
    assert ckpt.restore(3).data == b"s3"
    # dropped checkpoints are physically gone from the store
    assert len([v for v in local_store.versions(ckpt.state_key) if not v.deleted]) == 3


def test_retention_never_deletes_the_resumed_checkpoint(local_store):
    Checkpointer(local_store, "r", keep_last=1).save(b"first", step=1)
    again = Checkpointer(local_store, "r", keep_last=1)
    pinned = again.restore("latest").checkpoint
    for step in range(2, 6):
        again.save(b"x", step=step)
    assert pinned.version in {c.version for c in again.checkpoints()}
    # a later process (fresh checkpointer) keeps it too: pins live in the manifest
    later = Checkpointer(local_store, "r", keep_last=1)
    later.save(b"y", step=9)
    assert later.restore(pinned.version).data == b"first"


def test_orphan_state_version_is_ignored_then_swept(local_store):
    ckpt = Checkpointer(local_store, "r", keep_last=5)
    ckpt.save(b"good", step=1)
    local_store.put(ckpt.state_key, b"orphan: written, never committed")
    assert ckpt.restore("latest").data == b"good"
    ckpt.save(b"next", step=2)
    assert [local_store.get(ckpt.state_key, v) for v in local_store.versions(ckpt.state_key)] == [
        b"good",
        b"next",
    ]


def test_corrupted_checkpoint_is_refused(local_store):
    ckpt = Checkpointer(local_store, "r")
    ckpt.save(b"older", step=1)
    c = ckpt.save(b"A" * 1000, step=2)
    path = local_store._path(local_store.resolve(c.key, c.version).name)
    data = bytearray(path.read_bytes())
    data[500] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptObject) as info:
        ckpt.restore("latest")
    assert "restore(" in info.value.hint
    assert ckpt.restore(1).data == b"older"


def test_bad_input_is_a_typed_error_and_writes_nothing(local_store):
    with pytest.raises(ConfigError):
        Checkpointer(local_store, "../x")
    with pytest.raises(ConfigError):
        Checkpointer(local_store, "r", mode="up")
    ckpt = Checkpointer(local_store, "r")
    with pytest.raises(ConfigError):
        ckpt.save(b"x", step=-1)
    with pytest.raises(ConfigError):
        ckpt.save({"not": "bytes"}, step=1)
    with pytest.raises(ConfigError):
        ckpt.save(b"x", step=1, metrics={"loss": "low"})
    assert local_store.list("checkpoints/") == []
    with pytest.raises(NotFound):
        ckpt.restore()
    ckpt.save(b"x", step=1)
    with pytest.raises(ConfigError):
        ckpt.restore("best")  # no monitor
    with pytest.raises(NotFound):
        ckpt.restore(99)


def test_wrong_format_is_refused(local_store):
    from altakit.train.checkpoint import Restored

    ckpt = Checkpointer(local_store, "r")
    c = ckpt.save(b"x", step=1)
    other = Checkpointer(local_store, "r")
    other.format = "torch"
    with pytest.raises(CheckpointError):
        other.decode(Restored(c, b"x"))


def test_non_writer_writes_nothing(local_store):
    assert Checkpointer(local_store, "r", writer=False).save(b"x", step=1) is None
    assert local_store.list("checkpoints/") == []


@pytest.mark.s3
def test_s3_round_trip_and_retention(s3_store):
    ckpt = Checkpointer(s3_store, "team/r", keep_last=1, keep_best=1, monitor="acc", mode="max")
    for step, acc in [(1, 0.5), (2, 0.9), (3, 0.7)]:
        ckpt.save(bytes([step]) * 1024, step=step, metrics={"acc": acc})
    assert [c.step for c in ckpt.checkpoints()] == [2, 3]
    assert ckpt.restore("best").data == bytes([2]) * 1024
    assert len(s3_store.versions(ckpt.state_key)) == 2
