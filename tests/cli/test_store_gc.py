"""``altakit store gc``: leftovers of killed writes are found, then removed after the grace period.

Writers are real child processes killed with a real SIGKILL (at the ``local.staged``
fault point: the temp file is complete, the rename not done); a live writer's temp
file is kept whatever the grace period; shards a dataset record lists are never removed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

import altakit
from altakit.catalog.ledger import record_key
from altakit.cli import app
from altakit.errors import CorruptObject
from altakit.faults import ENV
from altakit.store.local import FAULT_POINTS

runner = CliRunner()


def child(script: str, fault: str | None = None, **popen: object) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if fault:
        env[ENV] = fault
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-c", textwrap.dedent(script)], env=env, text=True, **popen
    )


def killed(script: str, fault: str) -> None:
    """Run ``script`` in a child that SIGKILLs itself at ``fault``."""
    assert fault.partition(":")[0] in FAULT_POINTS
    proc = child(script, fault)
    assert proc.wait(timeout=120) == -signal.SIGKILL


def gc(root, *args: str) -> list[str]:
    result = runner.invoke(app, ["store", "gc", str(root), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def temp_files(root) -> list[str]:
    return sorted(os.listdir(root / ".altakit-tmp"))


def test_killed_put_leaves_a_temp_file_gc_removes_and_a_live_write_keeps_its_own(tmp_path):
    root = tmp_path / "store"
    altakit.open_store(root)
    killed(
        f"import altakit; altakit.open_store({str(root)!r}).put('big.bin', bytes(3 << 20))", "local.staged"
    )
    assert len(temp_files(root)) == 1  # the killed write's complete temp file, no version
    assert not altakit.open_store(root).exists("big.bin")
    left = temp_files(root)[0]

    live = child(
        f"""
        import altakit, sys
        f = altakit.open_store({str(root)!r}).open_writer("live.bin")
        f.write(b"still writing"); f.flush()
        print("ready", flush=True)
        sys.stdin.read()
        """,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert live.stdout.readline().strip() == "ready"
        assert len(temp_files(root)) == 2
        assert gc(root)[-1].endswith("run again with --apply to remove them")  # younger than a day
        assert temp_files(root) != [] and len(gc(root, "--grace", "0")) == 2  # dry run: listed only
        assert len(temp_files(root)) == 2
        out = gc(root, "--grace", "0", "--apply")
        assert out[0].startswith("removed  temp") and out[0].endswith(left)
        assert len(out) == 2 and len(temp_files(root)) == 1  # the live writer's file is kept
    finally:
        live.kill()
        live.wait(timeout=60)
    assert live.returncode == -signal.SIGKILL
    gc(root, "--grace", "0", "--apply")
    assert temp_files(root) == []
    store = altakit.open_store(root)
    assert store.put("big.bin", bytes(3 << 20)).size == 3 << 20  # the retry works


@altakit.sample
class Row:
    x: np.ndarray
    y: int


WRITE = """
import numpy as np, altakit
from altakit.datasets.write import write_dataset

@altakit.sample
class Row:
    x: np.ndarray
    y: int

write_dataset((Row(np.ones(4), i) for i in range(50)), {name!r}, store={root!r}, maxcount=10, progress=False)
"""


def test_orphan_shards_of_a_killed_write_are_removed_and_listed_shards_kept(tmp_path):
    root = tmp_path / "store"
    store = altakit.open_store(root)
    kept = altakit.write_dataset(
        (Row(np.ones(4), i) for i in range(30)), "rows", store=store, maxcount=10, progress=False
    )
    killed(WRITE.format(name="rows", root=str(root)), "local.staged:4")  # 3 shards in, the 4th staged
    listed = {(s["key"], s["version"]) for s in kept.manifest["shards"]}
    orphans = [v for v in store.list("datasets/rows/") if (v.key, v.id) not in listed]
    assert len(orphans) == 3

    assert gc(root)[-1].startswith("0 leftovers")  # all younger than the default grace period
    dry = gc(root, "--grace", "0")
    assert sum(" orphan " in line for line in dry) == 3 and len(store.list("datasets/rows/")) == 6
    out = gc(root, "--grace", "0", "--apply")
    assert sum(line.startswith("removed  orphan") for line in out) == 3
    assert sum(line.startswith("removed  temp") for line in out) == 1  # the 4th shard's temp file
    assert {(v.key, v.id) for v in store.list("datasets/")} == listed
    assert [s.y for s in altakit.load_dataset("rows", store=store, cache_dir=None)] == list(range(30))
    assert gc(root, "--grace", "0", "--apply")[-1].startswith("0 leftovers")


def test_an_unreadable_dataset_record_stops_the_orphan_sweep(tmp_path):
    from altakit.datasets.gc import check_orphan_shards, orphan_shards

    store = altakit.open_store(tmp_path / "store")
    store.put("datasets/x/1/shard-000000.tar", b"unlisted")
    store.put(record_key("dataset", "broken", 1), b"not json", reserved=True)
    with pytest.raises(CorruptObject, match="dataset:broken@1"):
        orphan_shards(store, grace=0, apply=True)
    [finding] = check_orphan_shards(store, repair=True)
    assert finding.kind == "orphan_shards_unknown" and not finding.repaired
    assert store.exists("datasets/x/1/shard-000000.tar")


def test_a_dataset_record_moved_aside_by_repair_still_stops_the_orphan_sweep(tmp_path):
    from altakit.catalog.check import check_records
    from altakit.datasets.gc import orphan_shards

    store = altakit.open_store(tmp_path / "store")
    store.put("datasets/broken/1/shard-000000.tar", b"listed by the record repair moves aside")
    store.put("datasets/other/1/shard-000000.tar", b"an orphan")
    store.put(record_key("dataset", "broken", 1), b"not json", reserved=True)
    assert [f.repaired for f in check_records(store, repair=True)] == [True]
    [removed] = orphan_shards(store, grace=0, apply=True)
    assert removed.name.startswith("datasets/other/1/shard-000000.tar@")
    assert store.exists("datasets/broken/1/shard-000000.tar")


def test_a_killed_jvm_write_leaves_a_temp_file_gc_removes_through_the_jvm(jvm_store, tmp_path):
    """A write to the JVM store killed after its temp file is whole: `store gc` lists and removes it
    through Hadoop's FileSystem; the temp file of a live writer (this process) is kept."""
    from fixtures.jvm import jvm_parts_ok
    from fixtures.parts import need

    from altakit.store import jvm
    from altakit.store.gc import sweep_temp, temp_name

    need(*jvm_parts_ok())
    assert "jvm.copied" in jvm.FAULT_POINTS
    url = jvm_store.url
    killed_child = child(
        f"import altakit; altakit.open_store({url!r}).put('big.bin', bytes(1 << 20))", "jvm.copied"
    )
    assert killed_child.wait(timeout=300) == -signal.SIGKILL
    folder = tmp_path / "jvm-store" / ".altakit-tmp"
    left = sorted(os.listdir(folder))
    assert len(left) == 1 and not jvm_store.exists("big.bin")
    live = folder / temp_name()  # a write of this very process, still running
    live.write_bytes(b"x")
    for name in (*left, live.name):
        os.utime(folder / name, (0, 0))
    found = sweep_temp(jvm_store, grace=3600)
    assert [(g.name, g.bytes, g.removed) for g in found] == [(left[0], 1 << 20, False)]
    assert [g.removed for g in sweep_temp(jvm_store, grace=3600, apply=True)] == [True]
    assert sorted(os.listdir(folder)) == [live.name]
    jvm_store.put("after.bin", b"ok")
    assert jvm_store.get("after.bin") == b"ok"
