"""A job whose process is SIGKILLed while its kernel runs: the scheduler shows it failed (Jupyter
Scheduler alone would show it IN_PROGRESS forever; altakit's scheduler notices the dead process), its
run record says failed and names no notebook copy, no output is staged, and a secret the notebook
printed is in no output, store object, log or response — only in the run's private folder, readable by
its owner."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sqlite3
import stat
import time

import pytest
from fixtures.notebooks import printed_forms, write_notebook
from scheduler_api import catalog, ingest, scheduler_server

from altakit.runs.notebook import PRIVATE_PREFIX

pytestmark = pytest.mark.timeout(300)
SECRET = "killsecret-" + secrets.token_hex(12)
SLOW = (
    "import os, pathlib, time\nprint('CONNECT', os.environ['ALTAKIT_KILLTEST_TOKEN'])\n",
    # papermill saved the notebook with the cell above's output before this cell starts
    "pathlib.Path(marker).write_text(f'{os.getppid()} {os.getpid()}')\ntime.sleep(3600)",
)


def test_a_killed_job_is_failed_and_leaves_no_complete_output_nor_secret(tmp_path, monkeypatch):
    store, marker = tmp_path / "store", tmp_path / "kernel.pids"
    ingest(store, tmp_path, 3, 1)
    write_notebook(tmp_path / "slow.ipynb", *SLOW, parameters="marker = ''")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("ALTAKIT_KILLTEST_TOKEN", SECRET)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # the run's private folder lands here
    kernel = None
    with scheduler_server(tmp_path, store) as client:
        job_id = client.create_job("slow.ipynb", {"marker": str(marker)})
        deadline = time.monotonic() + 180  # a guard against a hang, not a timing assertion
        while not (marker.is_file() and marker.read_text()):
            assert time.monotonic() < deadline, client.log_tail()
            assert client.job(job_id)["status"] in ("STOPPED", "IN_PROGRESS"), client.job(job_id)
            time.sleep(0.3)
        job_pid, kernel = map(int, marker.read_text().split())
        with contextlib.closing(sqlite3.connect(tmp_path / "jupyter-data" / "scheduler.sqlite")) as db:
            (recorded,) = db.execute("select pid from jobs where job_id = ?", (job_id,)).fetchone()
        assert recorded == job_pid, "the kernel's parent is not the job's process"
        assert client.job(job_id)["status"] == "IN_PROGRESS"
        os.kill(job_pid, signal.SIGKILL)

        job = client.wait(job_id, ("FAILED", "COMPLETED"), timeout=60)
        assert job["status"] == "FAILED" and "ended without reporting" in job["status_message"], job
        ref = client.call("GET", f"altakit/api/jobs/{job_id}/run")[1]["run"]
        doc = catalog(store).resolve(ref).doc  # recorded by the scheduler that noticed the death
        assert doc["status"] == "failed" and "ended without reporting" in doc["error"], doc
        assert doc["job"]["id"] == job_id and doc["executed"] is None and doc["html"] is None
        assert doc["parameters"] == {"marker": str(marker)}
        assert [f["file_path"] for f in job["job_files"] if f["file_format"] != "input"] == [None, None]
        staged = tmp_path / "jupyter-data" / "scheduler_staging_area" / job_id
        assert sorted(p.name for p in staged.iterdir()) == ["slow.ipynb"]  # no output staged
        assert [r.doc["status"] for r in catalog(store).versions("run", "slow")] == ["failed"]
        assert "IN_PROGRESS" not in client.call("GET", "scheduler/jobs")[1]["jobs"][0]["status"]
    with contextlib.suppress(ProcessLookupError):
        os.kill(kernel, signal.SIGKILL)  # the orphaned kernel

    holding = [p for p in tmp_path.rglob("*") if p.is_file()
               and any(f.encode() in p.read_bytes() for f in printed_forms(SECRET))]  # fmt: skip
    assert holding, "the secret reached no file: the kill missed the window"
    for path in holding:  # only the private folder of the killed execution, owner-only
        assert path.parent.name.startswith(PRIVATE_PREFIX), path
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for body in client.bodies:
        assert not any(f.encode() in body for f in printed_forms(SECRET))
