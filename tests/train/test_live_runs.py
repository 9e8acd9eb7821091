"""Live runs from the store: stop requests a loop sees, and the metric history as it grows."""

from __future__ import annotations

import subprocess
import sys

import pytest

import altakit
from altakit.errors import ConfigError, NotFound
from altakit.events import EventStream
from altakit.runs.record import RunDoc, environment, record_run
from altakit.train import RunRecorder
from altakit.train.live import StopCheck, live_metrics, request_stop


@pytest.fixture
def store(tmp_path):
    return altakit.open_store(tmp_path / "store")


def test_stop_check_sees_only_requests_made_after_it(store):
    request_stop(store, "r")  # an old request: a later run of the same name is not stopped by it
    check = StopCheck(store, "r", interval=0)
    assert check() is False and check.requested is False
    request_stop(store, "r", by="ana", reason="enough")
    assert check() is True and check() is True  # it stays requested
    assert StopCheck(store, "r", interval=0)() is False  # a new run starts clean
    with pytest.raises(ConfigError):
        request_stop(store, "bad name!")


def test_stop_check_reads_the_store_at_most_every_interval(store):
    check = StopCheck(store, "r", interval=3600)
    request_stop(store, "r")
    assert check() is False  # the clock says not yet: no store read per batch
    check._next = 0  # the interval passed
    assert check() is True


def test_live_metrics_grow_per_epoch_and_end_with_the_run(store):
    with pytest.raises(NotFound):
        live_metrics(store, "train/a")
    stream = EventStream("train/a")
    stream.subscribe(RunRecorder(store, "train/a"))
    stream.start({"epochs": 3}, epochs=3)
    first = live_metrics(store, "train/a")
    assert (first["status"], first["points"], first["alive"]) == ("running", [], True)
    assert first["parameters"] == {"epochs": 3}
    for epoch in range(2):
        stream.epoch(epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 2.0}, step=10 * (epoch + 1))
    grown = live_metrics(store, "train/a")
    assert grown["status"] == "running" and [p["loss"] for p in grown["points"]] == [1.0, 0.5]
    assert [p["epoch"] for p in live_metrics(store, "train/a", after=1)["points"]] == [1]  # only new points
    assert live_metrics(store, "train/a", after=5)["points"] == []
    stream.epoch(2, {"loss": 0.25}, step=30)
    stream.end("finished")
    done = live_metrics(store, "train/a", version=first["version"])  # the running version: now ended
    assert done["status"] == "finished" and done["total"] == 3 and done["version"] > first["version"]
    assert done["alive"] is None and done["final"] == {"loss": 0.25}


def test_a_new_start_does_not_show_the_previous_runs_points(store):
    for attempt in range(2):
        stream = EventStream("train/b")
        stream.subscribe(RunRecorder(store, "train/b"))
        stream.start({"attempt": attempt})
        if attempt == 0:
            stream.epoch(0, {"loss": 9.0}, step=1)
            stream.end("interrupted")
    live = live_metrics(store, "train/b")
    assert live["status"] == "running" and live["points"] == []


def test_a_killed_runs_record_says_its_process_is_gone(store):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    env = {**environment(), "pid": int(dead.stdout)}
    record_run(store, "train/killed", RunDoc(status="running", parameters={}, started="2026-01-01T00:00:00Z",
                                             environment=env))  # fmt: skip
    live = live_metrics(store, "train/killed")
    assert live["status"] == "running" and live["alive"] is False
