"""The README's main job: the curated notebooks run headless and the report says where."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def test_workflow_runs_curated_notebooks_and_reports(tmp_path: Path) -> None:
    env = {**os.environ, "ALTAKIT_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [str(Path(sys.executable).parent / "altakit"), "workflow", "--out", str(tmp_path / "run")],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"report:             {tmp_path / 'run' / 'report.html'}" in out.stdout
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    curated = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [n["name"] for n in report["notebooks"]] == curated
    assert all(n["ok"] for n in report["notebooks"])
    first = nbformat.read(tmp_path / "run" / curated[0], as_version=4)
    assert any(cell.get("outputs") for cell in first.cells if cell.cell_type == "code")
    assert (tmp_path / "home" / "store").is_dir()  # the embedded default store got the data


def test_failed_notebook_is_reported_and_others_still_run(tmp_path: Path) -> None:
    import altakit
    from altakit.runs import read_run
    from altakit.runs.workflow import run_workflow

    folder = tmp_path / "nbs"
    folder.mkdir()
    for name, source in (("01_bad.ipynb", "raise ValueError('boom')"), ("02_good.ipynb", "x = 1")):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / name)
    store = altakit.open_store(tmp_path / "store")
    report = run_workflow(folder, tmp_path / "out", store=store)
    assert not report.ok
    assert [(n.name, n.ok) for n in report.notebooks] == [("01_bad.ipynb", False), ("02_good.ipynb", True)]
    assert "boom" in report.notebooks[0].error
    # each notebook is recorded as a run, through the one run-record owner, with its executed copy stored
    runs = [read_run(altakit.catalog_of(store).resolve(n.run)) for n in report.notebooks]
    assert [(r.status, r.seconds) for r in runs] == [("failed", n.seconds) for n in report.notebooks[:1]] + [
        ("finished", report.notebooks[1].seconds)
    ]
    assert "boom" in runs[0].error and runs[1].executed is not None
    assert store.exists(runs[1].executed["key"])
    assert "FAILED" in report.html.read_text()
