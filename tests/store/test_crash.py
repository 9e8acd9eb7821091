"""Crash safety: a writer killed with SIGKILL at random moments never leaves a bad version visible."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from altakit.store.local import TMP, LocalStore

RUNS = 20
KEYS = ["crash/a.bin", "crash/b.bin", "crash/nested/c.bin"]
SIZES = [0, 1, 1000, 65_536, 300_000, 1 << 20, 3 << 20]

# Shared by the writer and the checks: what version ``n`` of ``key`` holds.
PAYLOAD = r"""
import random as _random
_POOL = _random.Random(20261122).randbytes(4 << 20)

def payload(key, n, size):
    head = f"{key}#{n}#".encode()[:size]
    offset = (n * 7919) % (1 << 20)
    return head + _POOL[offset : offset + size - len(head)]
"""

WRITER = (
    PAYLOAD
    + r"""
import sys
from altakit.store.local import LocalStore

store = LocalStore(sys.argv[1])
rng = _random.Random(int(sys.argv[2]))
keys, sizes = sys.argv[3].split(","), [int(s) for s in sys.argv[4].split(",")]
n = int(sys.argv[2]) * 100_000
print("ready", flush=True)
while True:
    key = rng.choice(keys)
    n += 1
    if rng.random() < 0.08 and store.exists(key):
        store.delete(key)
    else:
        store.put(key, payload(key, n, rng.choice(sizes)))
"""
)
_scope: dict = {}
exec(PAYLOAD, _scope)
payload = _scope["payload"]


def check(store: LocalStore, seen: set[str]) -> int:
    """Verify every version not yet verified, and the last two of each key; return how many exist."""
    total = 0
    for key in KEYS:
        history = store.versions(key)
        total += len(history)
        for i, v in enumerate(history):
            if v.deleted or (v.id in seen and i < len(history) - 2):
                continue
            data = store.get(key, version=v.id)  # raises CorruptObject on a torn or wrong object
            parts = data.split(b"#", 2)
            if len(parts) == 3:  # long enough to carry its header
                assert data == payload(key, int(parts[1]), v.size), f"{v.name} holds someone else's bytes"
            seen.add(v.id)
        if history and not history[-1].deleted:
            assert store.exists(key) and store.get(key) == store.get(key, version=history[-1].id)
    return total


def test_sigkill_never_leaves_a_bad_version(tmp_path):
    root = tmp_path / "store"
    store = LocalStore(root)
    rng = random.Random(7)
    seen: set[str] = set()
    interrupted_writes = 0
    started = time.monotonic()
    for run in range(1, RUNS + 1):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(run), ",".join(KEYS), ",".join(map(str, SIZES))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(rng.uniform(0.02, 0.35))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
        leftovers = list((root / TMP).iterdir())
        interrupted_writes += bool(leftovers)
        for path in leftovers:  # what a killed writer leaves is never visible; clean it as a janitor would
            path.unlink()
        check(store, seen)
    total = check(store, seen)
    assert total >= 2 * RUNS, f"the writer made too little progress ({total} versions) to test anything"
    assert interrupted_writes >= 1, "no kill landed inside a write: the test proved nothing"
    after = store.put(KEYS[0], b"the store still takes writes")
    assert store.get(KEYS[0]) == b"the store still takes writes" and store.resolve(KEYS[0]) == after
    assert time.monotonic() - started < 120


def test_killed_write_is_invisible(tmp_path):
    """A version whose temp file was written but never renamed does not exist for readers."""
    store = LocalStore(tmp_path)
    v = store.put("k.bin", b"old")
    (tmp_path / TMP / "deadbeef").write_bytes(os.urandom(5000))
    assert store.versions("k.bin") == [v] and store.get("k.bin") == b"old"
    assert [x.key for x in store.list()] == ["k.bin"]
