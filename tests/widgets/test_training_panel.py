"""TrainingPanel logic without a frontend: start/stop, events feed the figure, errors shown not raised."""

from __future__ import annotations

import threading

import pytest
from altakit_widgets.demo_digits import write_digits
from altakit_widgets.panels import TrainingPanel

import altakit
from altakit.catalog import catalog_of
from altakit.train import Event
from altakit.train.registry import ModelRegistry


@pytest.fixture
def store(tmp_path):
    store = altakit.open_store(tmp_path / "store")
    write_digits(store=store)
    return store


def _trace(panel, name):
    return next(t for t in panel.figure.data if t.name == name)


def test_lists_dataset_versions_and_shows_missing_store_as_error(store, tmp_path):
    panel = TrainingPanel(store, model="digits")
    assert panel.dataset.options == ("digits@1",) and panel.dataset.value == "digits@1"
    assert panel.versions.options == () and panel.status_text == "Ready."
    empty = TrainingPanel(altakit.open_store(tmp_path / "empty"))
    assert empty.dataset.options == () and empty.status_text.startswith("No datasets")
    empty.start()  # nothing to train on: an error in the panel, no thread, no exception
    assert empty.thread is None and empty.error_message == "no dataset version chosen"


def test_events_update_figure_progress_and_eta_without_training(store):
    panel = TrainingPanel(store)
    panel.on_event(Event("start", "r", total=2, data={"steps": 4, "epochs": 2}))
    for step in (1, 2):
        panel.on_event(Event("batch", "r", step=step, epoch=0, metrics={"loss": 2.0 / step}))
    assert _trace(panel, "loss").x == (1, 2) and _trace(panel, "loss").y == (2.0, 1.0)
    assert (panel.progress.value, panel.progress.max) == (2, 4) and "2/4 steps" in panel.eta.value
    panel.on_event(Event("epoch", "r", step=2, epoch=0, metrics={"val_loss": 0.5, "val_accuracy": 0.8}))
    assert _trace(panel, "val_accuracy").y == (0.8,) and _trace(panel, "val_loss").x == (2,)
    panel.on_event(Event("start", "r2", data={"steps": 3}))  # a new run clears the curves
    assert _trace(panel, "loss").x == () and panel.run == "r2"


def test_train_register_and_promote(store):
    panel = TrainingPanel(store, model="digits", epochs=2)
    panel.start()
    panel.thread.join(timeout=120)
    assert not panel.running and panel.error_message == ""
    result = panel.result
    assert result.status == "finished" and str(result.record.ref) == "model:digits@1"
    assert len(_trace(panel, "loss").x) == panel.progress.max == panel.progress.value
    assert len(_trace(panel, "val_accuracy").y) == 2 and panel.figure.data[2].y[-1] > 0.5
    assert [c.epoch for c in panel.checkpoints] == [1, 2]
    assert "<td>2</td>" in panel.checkpoint_list.value
    assert panel.versions.options[0][1] == 1 and "registered model:digits@1" in panel.status_text
    assert not panel.start_button.disabled and panel.stop_button.disabled
    run = catalog_of(store).get("run", result.run)
    assert run.doc["status"] == "finished" and len(run.doc["history"]) == 2

    panel.promote()  # the chosen version, alias "champion"
    assert panel.error_message == "", (panel.error_message, panel.versions.value)
    assert ModelRegistry(store).alias_target("digits", "champion") == 1
    assert "champion" in panel.aliases.value and panel.error_message == ""
    panel.promote(7, "champion")  # no such version: shown, not raised, alias unchanged
    assert "digits" in panel.error_message and "Traceback" not in panel.error.value
    assert ModelRegistry(store).alias_target("digits", "champion") == 1


def test_stop_ends_the_run_interrupted_and_registers_nothing(store):
    panel = TrainingPanel(store, model="digits", epochs=50)
    gate = threading.Event()
    seen = []

    def first_batch(event):
        seen.append(event.kind)
        if event.kind == "batch":
            gate.set()

    original = panel.on_event
    panel.on_event = lambda e: (first_batch(e), original(e))  # the subscriber the thread is given
    panel.start()
    assert gate.wait(120), "no batch event"
    panel.stop()
    panel.thread.join(timeout=120)
    assert panel.result.status == "interrupted" and panel.result.record is None
    assert seen[-1] == "end" and "interrupted" in panel.status_text
    assert panel.versions.options == ()
    assert catalog_of(store).get("run", panel.result.run).doc["status"] == "interrupted"


def test_library_errors_show_message_and_hint(store):
    panel = TrainingPanel(store, model="bad name!")
    panel.start()
    panel.thread.join(timeout=120)
    assert panel.result is None and panel.error_message.startswith("invalid record name")
    assert panel.error_hint and "hint:" in panel.error.value and "Traceback" not in panel.error.value
    assert not panel.start_button.disabled
