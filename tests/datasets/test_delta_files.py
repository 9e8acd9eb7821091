"""Data files written by tasks and committed as one Delta transaction (#21): local and loopback S3;
independent readers (DuckDB, deltalake, polars) read exactly what was committed; uncommitted files
of an ingest are swept, other ingests' files are not."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from altakit.datasets import delta_files, tables

SCHEMA = pa.schema([("v", pa.int64()), ("s", pa.string())])
WIDER = pa.schema([("v", pa.int64()), ("s", pa.string()), ("p", pa.float64())])


@pytest.fixture(params=["local", "s3"])
def loc(request):
    store = request.getfixturevalue("local_store" if request.param == "local" else "s3_store")
    return tables.location(store, "t")


def _read(loc) -> pl.DataFrame:
    frame = pl.read_delta(loc.uri, storage_options=loc.storage_options)
    return frame.sort("v")


def test_one_commit_of_many_files_then_a_wider_one(loc):
    a = delta_files.write_file(loc, pa.table({"v": [1, 2], "s": ["a", None]}), "ing1", "t0-a0")
    b = delta_files.write_file(loc, pa.table({"v": [3], "s": ["c"]}), "ing1", "t1-a0")
    lost = delta_files.write_file(loc, pa.table({"v": [3], "s": ["c"]}), "ing1", "t1-a1")  # a retried attempt
    assert delta_files.commit_files(loc, [a, b], SCHEMA, {"altakit.ingest": "ing1"}) == 0
    assert delta_files.sweep(loc, "ing1", keep={a.path, b.path}) == [lost.path]
    assert _read(loc).to_dict(as_series=False) == {"v": [1, 2, 3], "s": ["a", None, "c"]}

    c = delta_files.write_file(loc, pa.table({"v": [4], "s": ["d"], "p": [0.5]}), "ing2", "t0-a0")
    other = delta_files.write_file(loc, pa.table({"v": [9], "s": ["z"]}), "ing3", "t0-a0")
    version = delta_files.commit_files(loc, [c], WIDER, {"altakit.ingest": "ing2"})
    assert version == 2  # the new column's own commit (no rows), then the data
    assert delta_files.sweep(loc, "ing2", keep={c.path}) == []  # ing3's file is not ing2's to sweep
    assert other.path in {f.split("/")[-1] for f in _files(loc)}
    got = _read(loc)
    assert got.columns == ["v", "s", "p"] and got["v"].to_list() == [1, 2, 3, 4]
    assert got["p"].to_list() == [None, None, None, 0.5]
    from deltalake import DeltaTable

    history = DeltaTable(loc.uri, storage_options=loc.storage_options).history()
    assert [h.get("altakit.ingest") for h in history] == ["ing2", None, "ing1"]


def _files(loc) -> list[str]:
    from pyarrow import fs as pafs

    fs, root = delta_files.filesystem(loc)
    return [i.path for i in fs.get_file_info(pafs.FileSelector(root)) if i.type == pafs.FileType.File]


def test_duckdb_reads_the_committed_files(duck, local_store):
    loc = tables.location(local_store, "t")
    parts = [
        delta_files.write_file(
            loc, pa.table({"v": list(range(i * 10, i * 10 + 10)), "s": ["x"] * 10}), "i", f"t{i}"
        )
        for i in range(3)
    ]
    delta_files.commit_files(loc, parts, SCHEMA, {"altakit.ingest": "i"})
    delta_files.write_file(loc, pa.table({"v": [999], "s": ["lost"]}), "i", "t9")  # never committed
    got = duck.execute("SELECT count(*), sum(v), max(v) FROM delta_scan(?)", [loc.uri]).fetchone()
    assert got == (30, sum(range(30)), 29)


def test_a_table_that_does_not_exist_is_created_by_the_commit(local_store):
    loc = tables.location(local_store, "fresh")
    f = delta_files.write_file(loc, pa.table({"v": [7], "s": ["q"]}), "i", "t0")
    assert delta_files.commit_files(loc, [f], SCHEMA, {"altakit.ingest": "i"}) == 0
    assert _read(loc)["v"].to_list() == [7]


def test_orphans_of_a_dead_writer_are_swept_a_live_ones_and_committed_ones_kept(local_store, tmp_path):
    import json
    import subprocess
    import sys

    loc = tables.location(local_store, "t")
    done = delta_files.write_file(loc, pa.table({"v": [1], "s": ["a"]}), "done", "t0")
    delta_files.commit_files(loc, [done], SCHEMA, {"altakit.ingest": "done"})
    delta_files.mark_writing(loc, "live")  # this process: alive
    live = delta_files.write_file(loc, pa.table({"v": [2], "s": ["b"]}), "live", "t0")
    dead_child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    delta_files.mark_writing(loc, "dead")
    note = Path(loc.uri) / delta_files.WRITING / "dead.json"
    doc = json.loads(note.read_text())
    doc["owner"]["pid"] = int(dead_child.stdout)  # a process that has exited
    note.write_text(json.dumps(doc))
    dead = delta_files.write_file(loc, pa.table({"v": [3], "s": ["c"]}), "dead", "t0")
    spill = Path(loc.uri) / f"{delta_files.PREFIX}done-r0-a1-b0-x{delta_files.SPILL}"  # a committed ingest's
    spill.write_bytes(b"spilled rows")  # spill file, left by a driver killed between its commit and its sweep
    assert delta_files.sweep_orphans(loc) == sorted([dead.path, spill.name])
    names = {p.split("/")[-1] for p in _files(loc)}
    assert {done.path, live.path} <= names and dead.path not in names
    assert _read(loc)["v"].to_list() == [1]
