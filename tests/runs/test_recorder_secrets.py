"""``train.RunRecorder`` keeps the rules of ``altakit run``: secret parameters refused, values redacted.

Training code logs parameters and metrics through the event stream; the
recorder writes them into run records and the metric history. A parameter that
looks like a secret is refused with the ``ConfigError`` ``altakit run`` raises
(nothing is recorded), and the values of secret environment variables and URL
passwords appear in no byte the recorder writes: records, the SQL index, the
history object.
"""

from __future__ import annotations

import json
import secrets
import warnings

import pytest

import altakit
from altakit.catalog import catalog_of
from altakit.errors import ConfigError
from altakit.events import Event, EventStream
from altakit.train.recorder import RunRecorder

TAG = secrets.token_hex(6)
SECRET = f'pg"quo\\te-{TAG}'
URL_PASSWORD = f"url-pw-{TAG}"


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"lr": 0.1, "dbPassword": "hunter2"}, "dbPassword"),
        ({"apiToken": "abc123"}, "apiToken"),
        ({"pwd": "x1y2z3"}, "pwd"),
        ({"userPass": "open-sesame"}, "userPass"),
        ({"optimizer/lr": 0.1, "DB_PASSWORD": 1234}, "DB_PASSWORD"),
        ({"source": "postgresql://ana:s3cr3t@db/x"}, "source"),
    ],
)
def test_secret_parameters_are_refused_and_nothing_is_recorded(tmp_path, params, name):
    store = altakit.open_store(tmp_path / "store")
    recorder = RunRecorder(store, "train-1")
    with pytest.raises(ConfigError) as info:
        recorder(Event("start", "train-1", data={"params": params}))
    assert info.value.fields["parameter"] == name and "environment" in (info.value.hint or "")
    assert "looks like a secret" in info.value.message
    assert all(str(v) not in info.value.message for v in params.values())

    stream = EventStream("train-2")
    stream.subscribe(RunRecorder(store, "train-2"))
    with pytest.warns(UserWarning, match="looks like a secret"):
        stream.start(params, epochs=1)
    stream.epoch(0, {"loss": 0.5})
    stream.end()
    assert list(catalog_of(store).versions("run", "train-1")) == []
    assert list(catalog_of(store).versions("run", "train-2")) == []
    assert not store.exists("runs/train-2/history.json")


def test_secret_notebook_parameters_are_refused(tmp_path, monkeypatch):
    store = altakit.open_store(tmp_path / "store")
    with pytest.raises(ConfigError, match="parameter 'apiToken' looks like a secret"):
        RunRecorder(store, "nb-run", notebook="train.ipynb", parameters={"apiToken": "abc123"})
    monkeypatch.setenv("ALTAKIT_PARAMETERS", json.dumps({"rows": 3, "userPass": "open-sesame"}))
    with pytest.raises(ConfigError, match="parameter 'userPass' looks like a secret"):
        RunRecorder(store, "nb-run")


def test_secret_values_are_redacted_from_records_index_and_history(tmp_path, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", SECRET)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://ana:{URL_PASSWORD}@db/app")
    monkeypatch.setenv("ALTAKIT_INDEX", f"sqlite:///{tmp_path / 'index.sqlite'}")
    store = altakit.open_store(tmp_path / "store")
    stream = EventStream("leaky")
    stream.subscribe(RunRecorder(store, "leaky", notebook="train.ipynb", parameters={"rows": 3}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the recorder stays attached
        stream.start({"lr": 0.1, "comment": f"tuned while {SECRET} was set", "rows": 3}, epochs=2)
        stream.epoch(0, {"loss": 0.5, f"loss_{SECRET}": 0.4}, step=1)
        stream.epoch(1, {"loss": 0.25}, step=2)
        stream.end(
            "failed",
            error=f"RuntimeError: connect to postgresql://ana:{URL_PASSWORD}@db/app failed ({SECRET})",
            detail={"dsn": f"host=db password={SECRET}", "why": [f"pw {URL_PASSWORD}"]},
        )

    with catalog_of(store) as catalog:
        docs = [r.doc for r in catalog.versions("run", "leaky")]
        indexed = json.dumps(catalog.resolve("run:leaky").doc)
    assert [d["status"] for d in docs] == ["running", "failed"]
    kept = (
        [json.dumps(d) for d in docs]
        + [indexed]
        + [p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file()]
    )
    forms = {SECRET, json.dumps(SECRET)[1:-1], repr(SECRET)[1:-1], URL_PASSWORD}
    for text in kept:
        for form in forms:
            assert form not in text

    final = docs[-1]
    assert final["parameters"]["comment"] == "tuned while [redacted]:PGPASSWORD was set"
    assert final["parameters"]["lr"] == 0.1 and final["notebook"]["parameters"] == {"rows": 3}
    assert "postgresql://ana:***@db/app failed ([redacted]:PGPASSWORD)" in final["error"]
    assert final["detail"] == {
        "dsn": "host=db password=[redacted]:PGPASSWORD",
        "why": ["pw [redacted]:DATABASE_URL"],
    }
    assert final["history"][0]["loss"] == 0.5 and final["final"] == {"loss": 0.25}
    assert "loss_[redacted]:PGPASSWORD" in final["history"][0]
    assert sorted(final["redacted"]) == ["DATABASE_URL", "PGPASSWORD"]
    history = json.loads(store.get("runs/leaky/history.json"))
    assert [h["loss"] for h in history] == [0.5, 0.25] and "loss_[redacted]:PGPASSWORD" in history[0]
