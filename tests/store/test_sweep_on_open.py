"""Opening a local store sweeps a bounded number of stale temp files; young and live ones stay."""

from __future__ import annotations

import os

import altakit
from altakit.store import gc
from altakit.store.gc import OPEN_SWEEP, temp_name


def test_open_removes_stale_temp_files_only_and_a_bounded_number(tmp_path):
    root = tmp_path / "store"
    altakit.open_store(root)
    tmp = root / ".altakit-tmp"
    stale = [tmp / f"{i:032x}" for i in range(OPEN_SWEEP + 10)]  # killed writers of long ago
    for path in stale:
        path.write_bytes(b"x" * 10)
        os.utime(path, (0, 0))
    young = tmp / ("f" * 32)
    young.write_bytes(b"being written")  # a write that may still run elsewhere
    mine = tmp / temp_name()  # a live writer: this process
    mine.write_bytes(b"mine")
    os.utime(mine, (0, 0))

    altakit.open_store(root)
    left = set(os.listdir(tmp))
    assert young.name in left and mine.name in left
    swept = len(stale) - len(left - {young.name, mine.name})
    assert 0 < swept <= OPEN_SWEEP  # bounded: the rest waits for the next open or `store gc`
    altakit.open_store(root)
    assert set(os.listdir(tmp)) == {young.name, mine.name}
    assert [g.name for g in gc.sweep_temp(altakit.open_store(root), grace=0)] == [young.name]
