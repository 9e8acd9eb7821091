"""The curated tabular notebook, executed by papermill on an ingested table through ``run_notebook``."""

from __future__ import annotations

from pathlib import Path

from fixtures.two_sensors import SPEC, two_sensors_csv

import altakit
from altakit.catalog import catalog_of
from altakit.runs.notebook import run_notebook
from altakit.runs.record import read_run
from altakit.train.registry import ModelRegistry

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "08_train_tabular.ipynb"


def test_tabular_notebook_trains_the_table_picked_and_registers_its_lineage_once(tmp_path, monkeypatch):
    from altakit.ingestion import ingest

    monkeypatch.setenv("ALTAKIT_INDEX", f"sqlite:///{tmp_path / 'index.sqlite'}")
    store = altakit.open_store(tmp_path / "store")
    assert ingest(str(two_sensors_csv(tmp_path / "line4.csv")), "line4", SPEC, store=store).version == 1
    params = {"table": "line4", "features": ["temp", "hum"], "target": "sensor", "epochs": 3, "lr": 0.05}
    first = run_notebook(NOTEBOOK, params, store=str(tmp_path / "store"), out=tmp_path / "runs")
    assert first.ok, first.error
    text = first.executed.read_text()
    assert "line4@1 -> line4-sensor@1: 120 rows (0 with a missing value left out), classification" in text
    catalog = catalog_of(store)
    model = ModelRegistry(store).get("line4-sensor@1")
    assert model.doc["metrics"]["val_accuracy"] > 0.8  # the sensors differ by 10 °C: it learned them
    up = {(str(a), rel, str(b)) for a, rel, b in catalog.lineage(model.ref, "up")}
    assert {("model:line4-sensor@1", "trained_on", "dataset:line4-sensor@1"),
            ("dataset:line4-sensor@1", "derived_from", "table:line4@1")} <= up  # fmt: skip
    run = read_run(first.record)
    assert "table:line4@1" in run.reads and run.parameters["target"] == "sensor"
    training = [r for r in catalog.list("run") if r.name.startswith("tabular/")]
    assert len(training) == 1 and read_run(training[0]).status == "finished"
    assert len(read_run(training[0]).history) == 3

    again = run_notebook(NOTEBOOK, params, store=str(tmp_path / "store"), out=tmp_path / "runs")
    assert again.ok, again.error  # idempotent: the same run resumes finished, nothing new is written
    assert [r.version for r in ModelRegistry(store).versions("line4-sensor")] == [1]
    assert [r.version for r in catalog.versions("dataset", "line4-sensor")] == [1]
