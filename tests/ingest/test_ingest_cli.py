"""The ingest, schema and table commands, end to end on a local store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from altakit.cli import app

V1 = "ts,sensor,value\n2024-01-01T00:00:00Z,s1,1.5\n2024-01-01T00:15:00Z,s1,2.5\n"
V2 = "ts,sensor,value,humidity\n2024-01-01T00:30:00Z,s1,3.5,40\n"


def _run(*args: str) -> dict | list:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_flow(tmp_path):
    store = str(tmp_path / "store")
    (tmp_path / "v1.csv").write_text(V1)
    (tmp_path / "v2.csv").write_text(V2)
    (tmp_path / "spec.yaml").write_text("time: ts\nby: [sensor]\nsteps:\n  - {step: fill_gaps, max_gap: 2}\n")
    spec = str(tmp_path / "spec.yaml")
    est = _run("ingest", str(tmp_path / "v1.csv"), "s", "--spec", spec, "--store", store, "--estimate")
    assert est["rows"] == 2
    report = _run("ingest", str(tmp_path / "v1.csv"), "s", "--spec", spec, "--store", store)
    assert report["rows_written"] == 2 and report["version"] == 1
    shown = _run("schema", "show", "s", "--store", store)
    assert [f["name"] for f in shown["fields"]] == ["ts", "sensor", "value"] and shown["pending"] is None
    # a schema change blocks the ingest: exit 1 with the hint, via the console entry point
    env = {**os.environ, "ALTAKIT_STORE": store}
    code = "from altakit.cli import run; run()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "ingest", str(tmp_path / "v2.csv"), "s", "--spec", spec],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1 and "awaits review" in proc.stderr and "Traceback" not in proc.stderr
    pending = _run("schema", "diff", "s", "--store", store)
    assert pending["summary"] == "added: humidity"
    approved = _run("schema", "approve", "s", "--comment", "ok", "--by", "ana", "--store", store)
    assert approved["status"] == "approved" and approved["schema_version"] == 2
    assert (
        _run("schema", "diff", "s", "--from", "1", "--to", "2", "--store", store)["summary"]
        == "added: humidity"
    )
    _run("ingest", str(tmp_path / "v2.csv"), "s", "--spec", spec, "--store", store)
    history = _run("table", "history", "s", "--store", store)
    assert [h["version"] for h in history] == [1, 2] and history[1]["schema"] == ["schema:s@2"]
    drift = _run("table", "drift", "s@1", "s@2", "--store", store)
    assert "value" in drift
    profile = _run("table", "profile", "s@2", "--store", store)
    assert profile["humidity"]["nulls"] == 2
