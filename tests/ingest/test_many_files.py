"""A glob of many small files: progress while they are resolved and read, and per-batch work done once
per run of files, not once per file."""

from __future__ import annotations

import threading

import altakit
from altakit.events import EventStream
from altakit.ingestion import readers, sources
from altakit.ingestion.readers import ReadOptions, read_ahead
from altakit.ingestion.sources import resolve_sources

FILES = 300


def _folder(tmp_path, n: int = FILES):
    folder = tmp_path / "raw"
    folder.mkdir()
    for i in range(n):
        (folder / f"f{i:05d}.csv").write_text(f"id,v\n{i},{i / 2}\n")
    return folder


def test_a_glob_of_many_files_reports_progress_while_resolving_and_reading(local_store, tmp_path):
    folder = _folder(tmp_path)
    stream, seen = EventStream("ingest"), []
    stream.subscribe(seen.append)
    report = altakit.ingest(
        str(folder / "*.csv"), "t", {"policy": "add_new_columns"}, store=local_store, events=stream
    )
    assert report.rows_in == FILES
    resolving = [e for e in seen if e.kind == "progress" and e.data.get("stage") == "resolve"]
    assert 10 <= len(resolving) <= 102  # steady, but not one event per file
    assert [e.done for e in resolving] == sorted(e.done for e in resolving)
    assert resolving[-1].done == resolving[-1].total == FILES
    assert all(e.total == FILES for e in resolving)
    reads = [e for e in seen if e.kind == "progress" and e.data.get("stage") == "read"]
    assert reads and reads[-1].done == FILES


def test_small_files_with_the_same_columns_are_typed_in_few_batches(tmp_path):
    folder = _folder(tmp_path)
    files = resolve_sources(str(folder / "*.csv"), tmp_path, checksums=False)
    batches = list(read_ahead(files, ReadOptions()))
    assert len(batches) == 1
    ((_, batch),) = batches
    assert batch.data.height == FILES and batch.nbytes == sum(f.size for f in files)
    assert batch.data.get_column("_source").n_unique() == FILES  # each row still names its file
    assert batch.data.get_column("_line").unique().to_list() == [2]


def test_runs_break_where_the_columns_change_or_the_batch_is_full(tmp_path, monkeypatch):
    folder = _folder(tmp_path, 10)
    (folder / "f00005.csv").write_text("id,w\n5,x\n")  # other columns in the middle
    monkeypatch.setattr(readers, "COALESCE_ROWS", 3)
    files = resolve_sources(str(folder / "*.csv"), tmp_path, checksums=False)
    sizes = [(src.name.rsplit("/", 1)[-1], b.data.height) for src, b in read_ahead(files, ReadOptions())]
    assert sizes == [
        ("f00002.csv", 3),
        ("f00004.csv", 2),
        ("f00005.csv", 1),
        ("f00008.csv", 3),
        ("f00009.csv", 1),
    ]


def test_hashing_many_files_starts_a_few_threads_not_one_per_file(tmp_path, monkeypatch):
    folder = _folder(tmp_path)
    started = []
    start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: (started.append(self.name), start(self))[1])
    files = resolve_sources(str(folder / "*.csv"), tmp_path)
    assert len({f.checksum for f in files}) == FILES
    assert len(started) <= 4, started[:10]
    assert sources.digest(files[0].path)[0] == files[0].checksum
