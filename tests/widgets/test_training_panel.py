"""TrainingPanel with real jobs: a curated notebook runs in a background process on the data picked,
the curves come from the store, Stop ends the run within a batch, and what no notebook trains is refused."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from altakit_widgets.panels import TrainingPanel
from altakit_widgets.training_jobs import training_plan
from fixtures.two_sensors import SPEC, two_sensors_csv

import altakit
from altakit.catalog import catalog_of
from altakit.errors import ConfigError
from altakit.runs.record import read_run
from altakit.train.registry import ModelRegistry

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))  # digits_demo: the demo data beside the notebooks
WAIT = 240


@pytest.fixture
def store(tmp_path):
    from altakit.ingestion import ingest

    store = altakit.open_store(tmp_path / "store")
    report = ingest(str(two_sensors_csv(tmp_path / "line4.csv")), "line4", SPEC, store=store)
    assert report.version == 1
    return store


def _record(chart):
    """The custom messages the chart's comm publishes (the kernel side of the connection)."""
    sent = []
    publish = chart.comm.publish_msg

    def recording(msg_type, data=None, metadata=None, buffers=None, **keys):
        if (data or {}).get("method") == "custom":
            sent.append(data["content"])
        return publish(msg_type, data=data, metadata=metadata, buffers=buffers, **keys)

    chart.comm.publish_msg = recording
    return sent


def _wait_for(check, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_lists_tables_and_datasets_and_refuses_what_no_notebook_trains(store, tmp_path):
    from altakit.datasets.samples import sample
    from altakit.datasets.write import write_dataset

    @sample(name="reading")
    class Reading:
        value: float

    write_dataset([Reading(1.0), Reading(2.0)], "other", store=store, progress=False)
    panel = TrainingPanel(store, model="line4-model", dataset="line4", notebooks=str(NOTEBOOKS), watch=False)
    assert panel.dataset.options == (
        ("line4 (table, version 1)", "table:line4@1"),
        ("other (dataset, version 1)", "dataset:other@1"),
    )  # in words; the value is what the library reads
    assert panel.dataset.value == "table:line4@1"
    assert panel.target.options == ("temp", "hum")  # measured columns: not the time or the series column
    assert panel.target.value == "temp" and panel.features.options == ("hum",)  # the first; not a feature
    assert panel.features.value == ("hum",)
    panel.target.value = "hum"
    assert panel.features.options == ("temp",) and panel.features.value == ()  # the target is never a feature
    assert panel.figure.layout.display == "none"  # no chart before a run's first point
    assert panel.columns.layout.display is None  # shown for a table

    panel.dataset.value = "dataset:other@1"
    assert panel.columns.layout.display == "none"
    panel.start()  # no notebook trains "reading" samples: refused, nothing started
    assert panel.job is None and panel.run == ""
    assert panel.error_message == "no curated notebook trains dataset other@1 (reading samples)"
    assert "05_train_pytorch.ipynb" in panel.error_hint and "hint:" in panel.error.value

    with pytest.raises(ConfigError, match="which column"):
        training_plan(store, "table:line4@1", model="m", features=["hum"])
    missing = TrainingPanel(store, dataset="line5", notebooks=str(NOTEBOOKS), watch=False)
    assert (
        missing.dataset.value is None
        and missing.error_message == "no table or dataset 'line5' in the catalog"
    )
    missing.start()
    assert missing.job is None and missing.error_message == "no table or dataset chosen"


def test_a_table_trains_as_a_job_with_live_curves_and_registers_with_lineage(store):
    panel = TrainingPanel(store, model="line4-model", dataset="table:line4@1", epochs=4, lr=0.05,
                          notebooks=str(NOTEBOOKS), watch=False)  # fmt: skip
    panel.target.value = "temp"  # a regression (the series column is no target)
    panel.features.value = ("hum",)
    sent = _record(panel.figure)
    panel.start()
    assert panel.error_message == "", panel.error_message
    job = panel.job
    assert job.proc.pid != os.getpid() and job.notebook.name == "08_train_tabular.ipynb"
    assert job.parameters["table"] == "line4@1" and job.parameters["target"] == "temp"
    assert panel.wait(WAIT), job.tail()
    _wait_for(lambda: job.done, "the job process to end")
    assert job.proc.returncode == 0, job.tail(3000)
    assert panel.status_of_run == "finished" and len(panel.points) == 4
    assert len(panel.figure.y("val_mae")) == 4 and panel.figure.x("loss") == [1, 2, 3, 4]
    assert panel.figure.layout.display is None  # shown once points came
    appended = [m for m in sent if m["type"] == "append"]
    assert panel.updates >= 1 and all(m["curves"]["loss"] for m in appended)  # none without new points
    assert [m["type"] for m in sent] == ["clear"] + ["append"] * panel.updates, sent
    # each update carried only its new points: together they are the curve, each point once
    assert [x for m in appended for x, _ in m["curves"]["loss"]] == [1, 2, 3, 4], appended
    assert [y for m in appended for _, y in m["curves"]["val_mae"]] == panel.figure.y("val_mae")
    assert panel.status_text == f"Run {job.run} finished: registered model:line4-model@1.", panel.status_text
    assert [c.epoch for c in panel.checkpoints][-1] == 4 and panel.versions.options[0][1] == 1
    assert panel.versions.options[0][0].startswith("version 1 · validation loss "), panel.versions.options
    assert "mean absolute error on held-out rows" in panel.checkpoint_list.value  # metrics in words
    assert (panel.figure.epochs, panel.figure.dtick) == (4, 1)  # the run's whole epochs, one tick each
    assert not panel.figure.accuracy  # a regression: no accuracy axis

    catalog = catalog_of(store)
    model = ModelRegistry(store).get("line4-model@1")
    up = {(str(a), rel, str(b)) for a, rel, b in catalog.lineage(model.ref, "up")}
    assert ("model:line4-model@1", "trained_on", "dataset:line4-temp@1") in up
    assert ("dataset:line4-temp@1", "derived_from", "table:line4@1") in up  # never another dataset
    run = read_run(catalog.get("run", job.run))
    assert run.status == "finished" and len(run.history) == 4 and run.parameters["table"] == "line4@1"
    notebook_run = read_run(catalog.get("run", "08_train_tabular"))  # the job, as `altakit run` records it
    assert notebook_run.status == "finished" and notebook_run.parameters["run_name"] == job.run

    panel.promote()
    assert ModelRegistry(store).alias_target("line4-model", "champion") == 1 and panel.error_message == ""


def test_stop_ends_the_run_interrupted_and_a_new_panel_picks_up_the_running_curve(store):
    panel = TrainingPanel(store, model="line4-stop", dataset="line4", epochs=5000, batch_size=8,
                          notebooks=str(NOTEBOOKS), watch=False)  # fmt: skip
    panel.features.value = ("hum",)  # the target: temp, the first measured column
    panel.start()
    assert panel.job is not None, panel.error_message
    _wait_for(lambda: len(panel.points) >= 2 or panel.job.done, "two epochs")
    assert not panel.job.done, panel.job.tail(3000)

    reloaded = TrainingPanel(store, model="line4-stop", notebooks=str(NOTEBOOKS))  # a reloaded page
    assert reloaded.run == panel.job.run  # it watches the running run, from the store
    _wait_for(lambda: len(reloaded.points) >= 2, "the reloaded panel's curve")
    assert reloaded.points[:2] == panel.points[:2] and not reloaded.stop_button.disabled
    assert reloaded.epochs.value == 5000  # the run's epochs, not the page's default

    reloaded.stop()  # any viewer can stop it: the request is in the store
    assert panel.wait(WAIT) and reloaded.wait(WAIT)
    _wait_for(lambda: panel.job.done, "the job process to end")
    assert panel.status_of_run == reloaded.status_of_run == "interrupted"
    run = read_run(catalog_of(store).get("run", panel.job.run))
    assert run.status == "interrupted" and len(run.history) < 5000
    assert f"Run {panel.job.run} interrupted." == panel.status_text
    assert panel.versions.options == ()  # nothing registered
    assert panel.figure.dtick == 500  # 5000 epochs: ten ticks, not five thousand
    assert not panel.start_button.disabled and panel.stop_button.disabled


def test_a_digits_dataset_trains_with_the_pytorch_notebook(tmp_path):
    from digits_demo import write_digits

    store = altakit.open_store(tmp_path / "store")
    write_digits(store=store)
    notebook, params = training_plan(store, "dataset:digits@1", model="digits", epochs=1)
    assert notebook == "05_train_pytorch.ipynb" and params["dataset"] == "digits@1"
    panel = TrainingPanel(store, model="digits-ui", epochs=2, notebooks=str(NOTEBOOKS), watch=False)
    assert panel.dataset.value == "dataset:digits@1"
    panel.start()
    assert panel.wait(WAIT), panel.job.tail()
    assert panel.status_of_run == "finished", panel.job.tail(3000)
    assert len(panel.figure.y("val_accuracy")) == 2 and "registered model:digits-ui@1" in panel.status_text
