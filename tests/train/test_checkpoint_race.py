"""Two real processes checkpoint one run with retention: every listed checkpoint stays readable."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from altakit.train import Checkpointer

SAVER = """
import json, os, sys, time
import altakit
from altakit.train import Checkpointer

url, endpoint, go, who, count = sys.argv[1:]
opts = {"endpoint_url": endpoint, "attempts": 3, "backoff": 0.05, "max_backoff": 0.2} if endpoint else {}
store = altakit.open_store(url, writer=f"w{who}", **opts)
ckpt = Checkpointer(store, "nightly", keep_last=2, keep_best=1, monitor="loss")
while not os.path.exists(go):
    time.sleep(0.001)
saved = []
for i in range(int(count)):
    loss = ((int(who) * 7 + i * 3) % 11) / 10
    c = ckpt.save(f"{who}-{i}".encode(), step=i, metrics={"loss": loss}, meta={"by": f"{who}-{i}"})
    saved.append(c.version)
print(json.dumps(saved))
"""


def _race(url: str, endpoint: str, tmp_path, processes: int = 3, count: int = 15) -> list[str]:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SAVER, url, endpoint, str(go), str(who), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in range(processes)
    ]
    time.sleep(0.5)  # let them start and import before the gun
    go.write_text("")
    saved: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        saved += json.loads(out)
    return saved


def _assert_listed_checkpoints_load(store) -> None:
    ckpt = Checkpointer(store, "nightly", keep_last=2, keep_best=1, monitor="loss")
    listed = ckpt.checkpoints()
    assert 2 <= len(listed) <= 3  # the last two commits and the best: no commit lost another's
    for c in listed:
        assert ckpt.restore(c.version).data == c.meta["by"].encode()
    # the bytes of every dropped checkpoint are purged: nothing but the listed ones is left
    kept = {v.id for v in store.versions(ckpt.state_key) if not v.deleted}
    assert kept == {c.version for c in listed}


def test_two_processes_checkpointing_one_run_on_a_local_store(local_store, tmp_path) -> None:
    saved = _race(str(local_store.root), "", tmp_path)
    assert len(set(saved)) == 45
    _assert_listed_checkpoints_load(local_store)


@pytest.mark.s3
def test_two_processes_checkpointing_one_run_on_s3(s3_store, s3_server, tmp_path) -> None:
    _race(s3_store.url, s3_server.url, tmp_path)
    _assert_listed_checkpoints_load(s3_store)


def test_a_save_in_flight_keeps_its_bytes_from_another_writers_sweep(local_store) -> None:
    ckpt = Checkpointer(local_store, "nightly", keep_last=1)
    ckpt.save(b"first", step=1)
    # another live process (this one, as far as the marker says) has written its bytes, not committed yet
    marker = local_store.put(
        f"{ckpt.manifest_folder}writing/other",
        json.dumps({"host": socket.gethostname(), "pid": os.getpid()}).encode(),
    )
    in_flight = local_store.put(ckpt.state_key, b"in flight")
    ckpt.save(b"second", step=2)
    assert local_store.get(ckpt.state_key, in_flight) == b"in flight"  # not swept: its writer may commit
    local_store.purge(marker.key, marker)  # that writer is done (or gone): the orphan goes on the next save
    ckpt.save(b"third", step=3)
    assert [local_store.get(ckpt.state_key, v) for v in local_store.versions(ckpt.state_key)] == [b"third"]


def test_a_writer_saving_between_anothers_bytes_and_commit_purges_nothing_listed(local_store) -> None:
    """The interleaving that lost bytes, forced: B saves while A's bytes are written and not committed."""
    b = Checkpointer(local_store, "nightly", keep_last=2)

    class Interrupted(Checkpointer):
        def write_state(self, state):
            written = super().write_state(state)
            b.save(b"B", step=2, meta={"by": "B"})  # B commits and sweeps before A commits
            return written

    Checkpointer(local_store, "nightly", keep_last=2).save(b"0", step=0, meta={"by": "0"})
    Interrupted(local_store, "nightly", keep_last=2).save(b"A", step=1, meta={"by": "A"})
    ckpt = Checkpointer(local_store, "nightly", keep_last=2)
    assert [c.meta["by"] for c in ckpt.checkpoints()] == ["B", "A"]
    for c in ckpt.checkpoints():
        assert ckpt.restore(c.version).data == c.meta["by"].encode()


@pytest.mark.parametrize("point", ["checkpoint.state_written", "checkpoint.committed"])
def test_a_saver_killed_mid_save_leaves_every_listed_checkpoint_readable(
    local_store, tmp_path, point
) -> None:
    child = subprocess.run(
        [sys.executable, "-c", SAVER, str(local_store.root), "", str(tmp_path), "0", "5"],
        env={**os.environ, "ALTAKIT_FAULT": f"{point}:4"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL
    ckpt = Checkpointer(local_store, "nightly", keep_last=2, keep_best=1, monitor="loss")
    for c in ckpt.checkpoints():
        assert ckpt.restore(c.version).data == c.meta["by"].encode()
    fresh = Checkpointer(local_store, "nightly", keep_last=2, keep_best=1, monitor="loss")  # nothing pinned
    fresh.save(b"after", step=9, meta={"by": "after"})  # the dead saver's marker does not block the sweep
    _assert_listed_checkpoints_load(local_store)
