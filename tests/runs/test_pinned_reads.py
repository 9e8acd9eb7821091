"""Pinned inputs (#19): a run records the versions it read; --same-data reads exactly those again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from fixtures.notebooks import write_notebook

import altakit
from altakit.catalog import catalog_of
from altakit.errors import ConfigError
from altakit.runs import reads
from altakit.runs.notebook import run_notebook, same_data

ALTAKIT = str(Path(sys.executable).with_name("altakit"))


def _ingest(store, tmp_path, rows: int, day: int) -> None:
    path = tmp_path / f"day{day}.csv"
    path.write_text("t,v\n" + "".join(f"2026-01-{day:02d}T00:{i:02d}:00,{i}\n" for i in range(rows)))
    report = altakit.ingest(str(path), "sensors", {"policy": "add_new_columns"}, store=store)
    assert report.rows_written == rows


def _printed(store, doc) -> str:
    executed = nbformat.reads(store.get(doc["executed"]["key"], doc["executed"]["version"]).decode(), 4)
    return json.dumps([c.get("outputs", []) for c in executed.cells])


READER = "import altakit\nprint('HEIGHT', altakit.read_table('sensors').height)"


def test_a_run_records_its_reads_and_same_data_reads_them_again(tmp_path):
    store_path = tmp_path / "store"
    store = altakit.open_store(store_path)
    _ingest(store, tmp_path, 3, 1)
    nb = write_notebook(tmp_path / "reader.ipynb", READER)
    first = run_notebook(nb, {"rows": 1}, store=str(store_path), out=tmp_path / "runs")
    assert first.ok, first.error
    doc = first.record.doc
    assert doc["reads"] == ["table:sensors@1"] and doc["unversioned"] == ["table:sensors@1"]
    assert doc["pins"] == {} and first.record.link("read") == [altakit.catalog.Ref("table", "sensors", 1)]
    assert "HEIGHT 3" in _printed(store, doc)

    _ingest(store, tmp_path, 5, 2)  # new data lands: sensors@2 holds 3 + 5 rows
    env = {**os.environ, "ALTAKIT_HOME": str(tmp_path / "h")}
    args = [ALTAKIT, "run", "--store", str(store_path), "--out", str(tmp_path / "runs")]
    again = subprocess.run([*args, "--same-data", str(first.record.ref)], capture_output=True, text=True,
                           timeout=180, env=env)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "pinned:   table:sensors@1" in again.stdout and "read:     table:sensors@1" in again.stdout
    pinned = catalog_of(store).resolve("run:reader@2").doc
    assert pinned["pins"] == {"table:sensors": 1} and pinned["reads"] == ["table:sensors@1"]
    assert pinned["parameters"] == {"rows": 1} and "HEIGHT 3" in _printed(store, pinned)

    latest = subprocess.run([*args, str(nb)], capture_output=True, text=True, timeout=180, env=env)
    assert latest.returncode == 0, latest.stdout + latest.stderr
    doc3 = catalog_of(store).resolve("run:reader@3").doc
    assert doc3["reads"] == ["table:sensors@2"] and "HEIGHT 8" in _printed(store, doc3)
    # a re-run of the pinned re-run reads the same snapshot again
    assert same_data(store, "run:reader@2")[2] == {"table:sensors": 1}


def test_an_explicit_version_is_read_as_written_and_not_pinned(tmp_path):
    store_path = tmp_path / "store"
    store = altakit.open_store(store_path)
    _ingest(store, tmp_path, 3, 1)
    _ingest(store, tmp_path, 5, 2)
    nb = write_notebook(
        tmp_path / "both.ipynb",
        "import altakit\nprint('OLD', altakit.read_table('sensors@1').height)\n"
        "print('NEW', altakit.read_table('sensors').height)",
    )
    run = run_notebook(nb, store=str(store_path), out=tmp_path / "runs", pins={"table:sensors": 1})
    assert run.ok, run.error
    doc = run.record.doc
    printed = _printed(store, doc)
    assert doc["reads"] == ["table:sensors@1"] and "OLD 3" in printed and "NEW 3" in printed
    plain = run_notebook(nb, store=str(store_path), out=tmp_path / "runs")
    assert plain.record.doc["reads"] == ["table:sensors@1", "table:sensors@2"]
    assert plain.record.doc["unversioned"] == ["table:sensors@2"]
    assert same_data(store, str(plain.record.ref))[2] == {"table:sensors": 2}


def test_dataset_and_model_reads_follow_pins(local_store, monkeypatch, tmp_path):
    torch = pytest.importorskip("torch")
    from altakit.train import ModelRegistry

    reg = ModelRegistry(local_store)
    for scale in (1.0, 2.0):
        net = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.constant_(net.weight, scale)
        reg.register("lin", net)
    reg.promote("lin", 2)
    noted = tmp_path / "reads.jsonl"
    monkeypatch.setenv(reads.READS_ENV, str(noted))
    monkeypatch.setenv(reads.PINS_ENV, json.dumps({"model:lin": 1}))
    for spec in ("lin@champion", "lin"):
        got = reg.load_model(spec, model=torch.nn.Linear(1, 1, bias=False))
        assert got.weight.item() == 1.0, spec  # the pin, not the alias or the latest
    assert reg.load_model("lin@2", model=torch.nn.Linear(1, 1, bias=False)).weight.item() == 2.0
    assert reads.collect(noted) == (["model:lin@1", "model:lin@2"], ["model:lin@1"])


def test_dataset_pin(local_store, monkeypatch, tmp_path):
    from altakit import load_dataset, write_dataset

    @altakit.sample
    class Row:
        x: int

    write_dataset([Row(1)], "rows", store=local_store)
    write_dataset([Row(1), Row(2)], "rows", store=local_store)
    noted = tmp_path / "reads.jsonl"
    monkeypatch.setenv(reads.READS_ENV, str(noted))
    monkeypatch.setenv(reads.PINS_ENV, json.dumps({"dataset:rows": 1}))
    assert len(list(load_dataset("rows", store=local_store))) == 1
    monkeypatch.delenv(reads.PINS_ENV)
    assert len(list(load_dataset("rows", store=local_store))) == 2
    both = ["dataset:rows@1", "dataset:rows@2"]
    assert reads.collect(noted) == (both, both)


@pytest.mark.parametrize(
    "pins",
    [{"sensors": 1}, {"table:sensors@1": 1}, {"run:x": 1}, {"table:sensors": 0}, {"table:sensors": "1"}],
)
def test_bad_pins_are_refused(pins, tmp_path):
    nb = write_notebook(tmp_path / "n.ipynb", "print(1)")
    with pytest.raises(ConfigError):
        run_notebook(nb, store=str(tmp_path / "s"), pins=pins)
    assert not (tmp_path / "s").exists()


def test_two_unversioned_versions_of_one_name_cannot_be_pinned():
    with pytest.raises(ConfigError, match="more than one version"):
        reads.pins_of(["table:a@1", "table:a@2"])


def test_a_half_written_line_is_skipped(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"ref": "table:a@1", "unversioned": true}\n{"ref": "table:b@')
    assert reads.collect(path) == (["table:a@1"], ["table:a@1"])


def test_cli_parameters_keep_dates_as_given():
    from altakit.cli.run import parse_params

    got = parse_params(["-p", "day", "2026-01-02", "-p", "rows", "5", "-p", "at", "2026-01-02T03:04:05Z"])
    assert got == {"day": "2026-01-02", "rows": 5, "at": "2026-01-02T03:04:05Z"}  # JSON-able, as typed


def test_a_run_records_into_the_index_its_caller_reads(tmp_path, monkeypatch):
    """The store given as ``file://`` URL to a run whose caller knows it by its plain path (as a Voila
    dashboard started with ``ALTAKIT_STORE=<path>`` starts a training job): what the notebook registers is
    in the caller's index, not in one the kernel picked for itself."""
    store_path = tmp_path / "store"
    monkeypatch.delenv("ALTAKIT_INDEX", raising=False)
    monkeypatch.setenv("ALTAKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ALTAKIT_STORE", str(store_path))
    caller = catalog_of(altakit.open_store())
    assert caller.list("dataset") == []  # the caller's index exists before the run
    cell = (
        "import altakit\nfrom altakit.catalog import catalog_of\n"
        "catalog_of(altakit.open_store()).register('dataset', 'made', {})"
    )
    nb = write_notebook(tmp_path / "register.ipynb", cell)
    run = run_notebook(nb, store=store_path.as_uri(), out=tmp_path / "runs")
    assert run.ok, run.error
    assert [r.ref.name for r in caller.list("dataset")] == ["made"]
