"""One run record: ``altakit run`` and ``RunRecorder`` write one shape; both older shapes read back.

Before the run-record model, the two writers of kind ``run`` wrote two shapes
(``parameters`` / ``ok|failed`` / a flat environment against ``params`` /
``running|finished`` / ``versions``) from two ``environment()`` functions.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from typer.testing import CliRunner

import altakit
from altakit.catalog import catalog_of
from altakit.cli import app
from altakit.errors import CorruptObject
from altakit.events import EventStream
from altakit.runs.notebook import run_notebook
from altakit.train.recorder import RunRecorder

#: A record ``altakit run`` wrote before the run-record model (a notebook that ran).
OLD_NOTEBOOK_RUN = {
    "notebook": "/home/ana/notebooks/report.ipynb",
    "parameters": {"rows": 21},
    "status": "ok",
    "error": "",
    "started": "2026-01-02T03:04:05.123456+00:00",
    "seconds": 1.52,
    "environment": {
        "python": "3.11.9",
        "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
        "host": "hub-7",
        "altakit": "0.1.0",
        "kernel": "python3",
        "executable": "/opt/conda/bin/python",
        "papermill": "2.6.0",
    },
    "redacted": ["API_TOKEN"],
    "html_error": "",
    "local": {"executed": "/tmp/runs/report-1.ipynb", "html": "/tmp/runs/report-1.html"},
    "executed": {"key": "runs/report/report.ipynb", "version": "20260102T030405_ab12", "store": "file:///s"},
    "html": {"key": "runs/report/report.html", "version": "20260102T030406_cd34", "store": "file:///s"},
}
#: ... and one whose notebook failed before papermill wrote anything (no stored copies).
OLD_FAILED_NOTEBOOK_RUN = {
    **{k: v for k, v in OLD_NOTEBOOK_RUN.items() if k not in ("executed", "html")},
    "status": "failed",
    "error": "PapermillExecutionError: boom",
    "redacted": [],
    "html_error": "FileNotFoundError: report-1.ipynb",
}
_OLD_TRAINING_ENV = {
    "python": "3.11.9",
    "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
    "host": "gpu-3",
    "pid": 4242,
    "versions": {"altakit": "0.1.0", "torch": "2.5.1", "numpy": "2.1.0"},
}
#: Records ``RunRecorder`` wrote before the model: on start, and on end (with the end event's data).
OLD_TRAINING_START = {
    "resumed": None,
    "status": "running",
    "params": {"lr": 0.1, "epochs": 2},
    "started": "2026-01-02T03:04:05Z",
    "history": [],
    "final": {},
    "environment": _OLD_TRAINING_ENV,
    "notebook": {"path": "notebooks/05_train_pytorch.ipynb", "parameters": {"epochs": 2}},
}
OLD_TRAINING_END = {
    "run": "digits-torch/digits-v1",
    "epochs_done": 2,
    "model": "model:digits@1",
    "status": "finished",
    "params": {"lr": 0.1, "epochs": 2},
    "started": "2026-01-02T03:04:05Z",
    "history": [
        {"epoch": 0, "step": 5, "time": "2026-01-02T03:04:06Z", "loss": 0.9},
        {"epoch": 1, "step": 10, "time": "2026-01-02T03:04:07Z", "loss": 0.4},
    ],
    "final": {"loss": 0.4},
    "environment": _OLD_TRAINING_ENV,
    "notebook": None,
}
OLD_TRAINING_FAILED = {**OLD_TRAINING_END, "status": "failed", "error": "CUDA out of memory", "model": None}


def _notebook(path, source):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("rows = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _cli(store, *args):
    result = CliRunner().invoke(app, [*args, "--store", str(store.root)])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_notebook_run_and_a_training_run_of_one_name_have_one_shape(tmp_path):
    store = altakit.open_store(tmp_path / "store")
    nb = _notebook(tmp_path / "report.ipynb", "print(rows)")
    assert run_notebook(nb, {"rows": 2}, store=store, out=tmp_path / "runs").ok  # run:report@1
    stream = EventStream("report")
    stream.subscribe(RunRecorder(store, "report"))
    stream.start({"rows": 2}, epochs=1)  # run:report@2 (running)
    stream.epoch(0, {"loss": 0.5}, step=1)
    stream.end()  # run:report@3
    notebook_run, running, training_run = (r.doc for r in catalog_of(store).versions("run", "report"))
    assert set(notebook_run) == set(training_run) == set(running) - {"resumed"}
    assert notebook_run["parameters"] == training_run["parameters"] == {"rows": 2}
    assert (notebook_run["status"], running["status"], training_run["status"]) == ("finished", "running",
                                                                                    "finished")  # fmt: skip
    assert set(notebook_run["environment"]) == set(training_run["environment"])
    assert (
        notebook_run["environment"]["kernel"] == "python3" and training_run["environment"]["kernel"] is None
    )
    assert notebook_run["notebook"] == {"path": str(nb.resolve()), "parameters": {"rows": 2}}
    assert training_run["history"][0]["loss"] == 0.5 and training_run["final"] == {"loss": 0.5}
    assert training_run["seconds"] >= 0 and notebook_run["seconds"] > 0

    from altakit.runs.record import RunDoc, read_run

    typed = [read_run(r) for r in catalog_of(store).versions("run", "report")]
    assert (
        all(isinstance(t, RunDoc) for t in typed) and typed[0].executed["key"] == "runs/report/report.ipynb"
    )
    assert "report      " in _cli(store, "runs", "ls") and "finished" in _cli(store, "runs", "ls")


def test_runs_written_in_both_older_shapes_read_back_through_the_one_model(local_store):
    from altakit.runs.record import ENVIRONMENT_KEYS, read_run

    cat = catalog_of(local_store)
    old = {
        "report": OLD_NOTEBOOK_RUN,
        "report-bad": OLD_FAILED_NOTEBOOK_RUN,
        "digits-torch/digits-v1": OLD_TRAINING_START,
        "digits-torch/digits-v1 ": OLD_TRAINING_END,  # its second version
        "digits-crashed": OLD_TRAINING_FAILED,
    }
    refs = [cat.register("run", name.strip(), doc).ref for name, doc in old.items()]
    ok, failed, start, end, crashed = (read_run(cat.resolve(ref)) for ref in refs)
    assert (ok.status, failed.status, failed.error) == ("finished", "failed", "PapermillExecutionError: boom")
    assert ok.parameters == {"rows": 21} and ok.seconds == 1.52 and ok.redacted == ["API_TOKEN"]
    assert ok.notebook == {"path": "/home/ana/notebooks/report.ipynb", "parameters": {"rows": 21}}
    assert ok.executed == OLD_NOTEBOOK_RUN["executed"] and failed.executed is None and failed.html is None
    assert ok.environment["kernel"] == "python3" and ok.environment["pid"] is None
    assert ok.environment["versions"] == {"altakit": "0.1.0", "papermill": "2.6.0"}
    assert ok.history == [] and ok.final == {} and ok.local == OLD_NOTEBOOK_RUN["local"]

    assert (start.status, end.status, crashed.status) == ("running", "finished", "failed")
    assert start.parameters == end.parameters == {"lr": 0.1, "epochs": 2} and start.extra == {"resumed": None}
    assert start.notebook == OLD_TRAINING_START["notebook"] and end.notebook is None
    assert [h["loss"] for h in end.history] == [0.9, 0.4] and end.final == {"loss": 0.4}
    assert end.extra == {"run": "digits-torch/digits-v1", "epochs_done": 2, "model": "model:digits@1"}
    assert crashed.error == "CUDA out of memory" and crashed.seconds is None
    assert end.environment["versions"]["torch"] == "2.5.1" and end.environment["kernel"] is None
    for run in (ok, failed, start, end, crashed):
        assert set(run.environment) == set(ENVIRONMENT_KEYS)
        assert read_run(cat.register("run", "copy", run.to_doc())) == run  # today's shape round-trips

    listed = {line.split()[0]: line.split()[1:3] for line in _cli(local_store, "runs", "ls").splitlines()}
    assert listed["report"] == ["finished", "epochs=0"] and listed["report-bad"] == ["failed", "epochs=0"]
    assert listed["digits-torch/digits-v1"] == ["finished", "epochs=2"]
    shown = json.loads(_cli(local_store, "runs", "show", "digits-torch/digits-v1"))
    assert shown["parameters"] == {"lr": 0.1, "epochs": 2} and "params" not in shown
    assert shown["ref"] == "run:digits-torch/digits-v1@2" and shown["epochs_done"] == 2


def test_what_an_end_event_reported_is_kept_not_refused(local_store):
    """Older RunRecorders wrote an end event's data over the record's keys (an ingest ends "written")."""
    from altakit.runs.record import read_run

    cat = catalog_of(local_store)
    old = cat.register("run", "ingest-run", {**OLD_TRAINING_END, "status": "written", "seconds": "n/a"})
    run = read_run(old)
    assert (run.status, run.seconds, run.extra["reported_seconds"]) == ("written", None, "n/a")
    assert run.to_doc()["reported_seconds"] == "n/a"  # nothing is lost on a re-write


def test_a_run_record_that_fits_no_shape_is_a_typed_error(local_store):
    from altakit.runs.record import read_run

    cat = catalog_of(local_store)
    odd = cat.register("run", "odd", {**OLD_TRAINING_END, "params": "lr=0.1"})
    with pytest.raises(CorruptObject, match=r"run:odd@1.*lacks 'parameters'"):
        read_run(odd)
    bare = cat.register("run", "bare", {"status": "finished", "parameters": {}, "started": ""})
    with pytest.raises(CorruptObject, match="lacks 'environment'"):
        read_run(bare)
    with pytest.raises(CorruptObject, match="no run record"):
        read_run(cat.register("dataset", "d", {"rows": 1}))
