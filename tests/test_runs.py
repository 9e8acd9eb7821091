"""``altakit run``: a real kernel executes a notebook; the run is recorded; secrets never land in it."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import psutil
import pytest
from fixtures.notebooks import write_notebook

import altakit
from altakit.catalog import catalog_of
from altakit.errors import ConfigError
from altakit.runs.notebook import run_notebook
from altakit.runs.secrets import check_parameters

ALTAKIT = str(Path(sys.executable).parent / "altakit")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"password": "hunter2"}, "its name 'password' marks a secret"),
        ({"api_token": "abc"}, "its name 'api_token' marks a secret"),
        ({"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, "marks a secret"),
        ({"creds": {"user": "ana", "AUTH": "x"}}, "'creds' marks a secret"),
        ({"opts": {"user": "ana", "AUTH": "x"}}, "'opts.AUTH' marks a secret"),
        ({"account": "AKIAIOSFODNN7EXAMPLE"}, "an AWS access key id"),
        ({"source": "postgresql://ana:s3cr3t@db/x"}, "a URL with a password"),
        ({"service_key": "Zk3pQ9rT2vX8mN4bL7cY"}, "look like a credential"),
        ({"items": ["a", "ghp_" + "a" * 36]}, "a GitHub token"),
    ],
)
def test_secret_looking_parameters_are_refused(params, reason):
    with pytest.raises(ConfigError) as info:
        check_parameters(params)
    assert reason in info.value.message
    assert "environment" in (info.value.hint or "")


def test_ordinary_parameters_pass():
    params = {"rows": 500, "key": "raw/sensors.csv", "max_tokens": 512, "store_url": "s3://bucket/team",
              "tokenizer_name": "", "sort_key": "timestamp", "flags": [True, None]}  # fmt: skip
    assert check_parameters(params) == params


def test_cli_refuses_a_secret_and_runs_nothing(tmp_path):
    nb = write_notebook(tmp_path / "nb.ipynb", "print(rows)")
    store = tmp_path / "store"
    done = subprocess.run(
        [ALTAKIT, "run", str(nb), "-p", "db_password", "hunter2hunter2", "--store", str(store),
         "--out", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "parameter 'db_password' looks like a secret" in done.stderr
    assert "environment" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists() and not store.exists()


def test_cli_run_records_notebook_html_and_run(tmp_path):
    nb = write_notebook(tmp_path / "report.ipynb", "print('rows =', rows * 2)")
    store = tmp_path / "store"
    done = subprocess.run(
        [ALTAKIT, "run", str(nb), "-p", "rows", "21", "--store", str(store), "--out", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=180, env={**os.environ, "ALTAKIT_HOME": str(tmp_path / "h")},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "run:      run:report@1" in done.stdout
    s = altakit.open_store(store)
    rec = catalog_of(s).resolve("run:report")
    doc = rec.doc
    assert doc["status"] == "finished" and doc["error"] == "" and doc["parameters"] == {"rows": 21}
    assert doc["seconds"] > 0 and doc["environment"]["kernel"] == "python3" and doc["environment"]["python"]
    executed = nbformat.reads(s.get(doc["executed"]["key"], doc["executed"]["version"]).decode(), 4)
    assert "rows = 42" in json.dumps(executed.cells[-1].outputs)
    assert executed.metadata.papermill.parameters == {"rows": 21}
    assert "rows = 42" in s.get(doc["html"]["key"], doc["html"]["version"]).decode()
    assert Path(doc["local"]["executed"]).is_file() and Path(doc["local"]["html"]).is_file()


def test_planted_secret_never_lands_in_the_notebook_or_its_html(tmp_path, monkeypatch):
    secret = "s3cr3t-" + secrets.token_hex(16)
    monkeypatch.setenv("ALTAKIT_TEST_API_TOKEN", secret)
    nb = write_notebook(
        tmp_path / "uses_secret.ipynb",
        "import os\ntoken = os.environ['ALTAKIT_TEST_API_TOKEN']\nprint('token length', len(token))",
        "print('careless:', token)",  # a notebook that prints it: the run still keeps it out
        "token",
    )
    store = altakit.open_store(tmp_path / "store")
    result = run_notebook(nb, {"rows": 3}, store=store, out=tmp_path / "runs")
    assert result.ok, result.error
    doc = result.record.doc
    assert doc["redacted"] == ["ALTAKIT_TEST_API_TOKEN"]
    texts = {
        "local notebook": result.executed.read_text(),
        "local html": result.html.read_text(),
        "stored notebook": store.get(doc["executed"]["key"]).decode(),
        "stored html": store.get(doc["html"]["key"]).decode(),
        "run record": json.dumps(doc),
    }
    assert f"token length {len(secret)}" in texts["local notebook"]  # the notebook did use it
    assert "[redacted]:ALTAKIT_TEST_API_TOKEN" in texts["stored notebook"]
    for where, text in texts.items():
        assert secret not in text, f"the planted secret is in the {where}"
        assert secret[7:] not in text, f"part of the planted secret is in the {where}"


def test_failed_notebook_is_recorded_as_failed(tmp_path):
    seen = tmp_path / "kernel.json"
    nb = write_notebook(
        tmp_path / "bad.ipynb",
        "import json, os, pathlib, ipykernel\n"
        f"pathlib.Path({str(seen)!r}).write_text(json.dumps([os.getpid(), ipykernel.get_connection_file()]))",
        "raise ValueError('boom')",
    )
    store = altakit.open_store(tmp_path / "store")
    channels = _heartbeat_threads()
    result = run_notebook(nb, store=store, out=tmp_path / "runs")
    assert not result.ok and "boom" in result.error
    assert result.record.doc["status"] == "failed" and "boom" in result.record.doc["error"]
    assert "boom" in store.get(result.record.doc["executed"]["key"]).decode()
    # the run shuts its kernel down while it keeps the run; when it returns, all of it is gone
    pid, connection_file = json.loads(seen.read_text())
    assert not psutil.pid_exists(pid), "the kernel process outlived the run"
    assert not Path(connection_file).exists(), "the kernel's connection file was left behind"
    assert _heartbeat_threads() == channels, "the kernel client's channels were left running"


def _heartbeat_threads() -> set[threading.Thread]:
    from jupyter_client.channels import HBChannel

    return {t for t in threading.enumerate() if isinstance(t, HBChannel)}
