"""Ingest reports progress on the one event stream: panels and bars subscribe, nothing polls."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import altakit
from altakit.errors import SchemaChangePending
from altakit.events import EventStream
from altakit.ingestion.spec import IngestSpec

DATA = Path(__file__).resolve().parents[2] / "notebooks" / "data"


@pytest.fixture
def small_blocks(monkeypatch):
    # 4 KiB blocks, so the 35 KB sample arrives in several blocks and progress moves several times
    original = IngestSpec.read_options
    monkeypatch.setattr(
        IngestSpec, "read_options", lambda self: dataclasses.replace(original(self), block_bytes=4096)
    )


def test_progress_then_end_with_the_version(local_store, small_blocks):
    stream, seen = EventStream("ingest"), []
    stream.subscribe(seen.append)
    report = altakit.ingest(
        DATA / "sensors_day1.csv", "sensors", {"time": "timestamp"}, store=local_store, events=stream
    )
    kinds = [e.kind for e in seen]
    assert kinds[0] == "start" and kinds[-1] == "end"
    reads = [e for e in seen if e.kind == "progress" and e.data.get("stage") == "read"]
    assert len(reads) >= 5
    assert [e.done for e in reads] == sorted(e.done for e in reads)  # never goes back
    assert all(e.total and e.total >= e.done for e in reads)  # an estimate a bar can show an ETA for
    assert reads[-1].done == report.rows_in
    write = [e for e in seen if e.kind == "progress" and e.data.get("stage") == "write"]
    assert write and write[0].done == report.rows_in
    assert seen[-1].data["status"] == report.status and seen[-1].data["version"] == report.version


def test_a_refused_ingest_ends_as_failed(local_store):
    altakit.ingest(DATA / "sensors_day1.csv", "sensors", {"time": "timestamp"}, store=local_store)
    stream, seen = EventStream("ingest"), []
    stream.subscribe(seen.append)
    with pytest.raises(SchemaChangePending):  # day 2 adds a column: pending review by default
        altakit.ingest(
            DATA / "sensors_day2.csv", "sensors", {"time": "timestamp"}, store=local_store, events=stream
        )
    assert seen[-1].kind == "end" and seen[-1].data["status"] == "failed"
