"""Jupyter Scheduler jobs through altakit's execution manager, on a real server with real kernels.

One server for the module: a job created through the scheduler's REST API with a parameter completes,
its run record (parameters, pinned reads, the job) is in the catalog and its outputs download through
the scheduler; "re-run on the same snapshot" reads the old table version after a new one landed, "re-run
on latest" the new one; a secret-looking parameter fails the job with the refusal's message and hint; a
secret planted in the server's environment appears in no output, HTML, store object, log or response.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from fixtures.notebooks import printed_forms, write_notebook
from lab_api import Api, cookie_session
from scheduler_api import TOKEN, catalog, ingest, scheduler_server

from altakit.runs.reads import pins_of

pytestmark = pytest.mark.timeout(600)
SECRET = "jobsecret-" + secrets.token_hex(12)
READER = (
    "import os, altakit\n"
    "print('ROWS', rows * 2)\n"
    "print('HEIGHT', altakit.read_table('sensors').height)\n"
    "print('CONNECT', os.environ['ALTAKIT_JOBTEST_TOKEN'])"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jobs")
    store = folder / "store"
    ingest(store, folder, 3, 1)
    write_notebook(folder / "reader.ipynb", READER, parameters="rows = 1")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALTAKIT_JOBTEST_TOKEN", SECRET)  # the server, its job processes and kernels inherit it
        with scheduler_server(folder, store) as client:
            yield client, folder, store


def _no_secret(where: str, text: str | bytes) -> None:
    raw = text.encode() if isinstance(text, str) else text
    found = [f for f in printed_forms(SECRET) if f.encode() in raw]
    assert found == [], f"the secret is in {where}"


def test_a_job_runs_the_notebook_with_its_parameter_and_records_the_run(served):
    client, _, store = served
    job_id = client.create_job("reader.ipynb", {"rows": "7"})
    job = client.wait(job_id)
    assert job["status"] == "COMPLETED", (job, client.log_tail())
    status, found = client.call("GET", f"altakit/api/jobs/{job_id}/run")
    assert status == 200 and found["status"] == "COMPLETED", found
    doc = catalog(store).resolve(found["run"]).doc
    assert doc["status"] == "finished" and doc["parameters"] == {"rows": 7}
    assert doc["job"] == {"id": job_id, "definition": None}
    assert doc["reads"] == ["table:sensors@1"] and doc["pins"] == {}
    assert doc["redacted"] == ["ALTAKIT_JOBTEST_TOKEN"]
    files = client.download(job_id)
    for fmt in ("ipynb", "html"):
        assert "ROWS 14" in files[fmt] and "HEIGHT 3" in files[fmt], fmt
        assert "[redacted]:ALTAKIT_JOBTEST_TOKEN" in files[fmt], fmt
        _no_secret(f"the job's {fmt}", files[fmt])


def test_rerun_on_the_same_snapshot_reads_the_old_version_and_latest_the_new(served):
    client, folder, store = served
    first = client.create_job("reader.ipynb", {"rows": "2"})
    assert client.wait(first)["status"] == "COMPLETED", client.log_tail()
    ref = client.call("GET", f"altakit/api/jobs/{first}/run")[1]["run"]
    name, version = ref.removeprefix("run:").split("@")
    ingest(store, folder, 5, 2)  # new data lands: sensors@2 holds 3 + 5 rows

    status, same = client.call("POST", f"altakit/api/runs/{name}/{version}/rerun", {"same_data": True})
    assert status == 200 and same["pins"] == {"table:sensors": 1} and same["run"] is None, same
    status, latest = client.call("POST", f"altakit/api/runs/{name}/{version}/rerun", {"same_data": False})
    assert status == 200 and latest["pins"] == {}, latest
    for job_id, height, pins in ((same["job_id"], 3, {"table:sensors": 1}), (latest["job_id"], 8, {})):
        job = client.wait(job_id)
        assert job["status"] == "COMPLETED" and job["parameters"] == {"rows": "2"}, (job, client.log_tail())
        doc = catalog(store).resolve(client.call("GET", f"altakit/api/jobs/{job_id}/run")[1]["run"]).doc
        assert doc["pins"] == pins and doc["reads"] == [f"table:sensors@{1 if pins else 2}"]
        assert doc["parameters"] == {"rows": 2} and doc["job"]["id"] == job_id
        assert f"HEIGHT {height}" in client.download(job_id)["ipynb"]


def test_an_altakit_run_of_a_notebook_under_the_root_reruns_as_a_job(served):
    client, folder, store = served
    from altakit.runs.notebook import run_notebook

    first = run_notebook(folder / "reader.ipynb", {"rows": 3}, store=str(store), out=folder / "cli-runs")
    assert first.ok and first.record.doc["job"] is None, first.error
    name, version = str(first.record.ref).removeprefix("run:").split("@")
    status, body = client.call("POST", f"altakit/api/runs/{name}/{version}/rerun", {"same_data": True})
    assert status == 200, body
    job = client.wait(body["job_id"])
    assert job["status"] == "COMPLETED" and job["input_filename"] == "reader.ipynb", (job, client.log_tail())
    assert job["parameters"] == {"rows": "3"} and job["runtime_environment_parameters"] == {
        "altakit_pins": json.dumps(body["pins"], sort_keys=True)}  # fmt: skip
    doc = catalog(store).resolve(client.call("GET", f"altakit/api/jobs/{body['job_id']}/run")[1]["run"]).doc
    assert doc["parameters"] == {"rows": 3} and doc["pins"] == body["pins"] == pins_of(
        first.record.doc["reads"]
    )


def test_a_secret_looking_parameter_fails_the_job_with_the_refusal(served):
    client, _, store = served
    job_id = client.create_job("reader.ipynb", {"db_password": "hunter2hunter2"})
    job = client.wait(job_id)
    assert job["status"] == "FAILED", job
    assert "parameter 'db_password' looks like a secret" in job["status_message"], job
    assert "hint: pass secrets through the environment" in job["status_message"], job
    assert "hunter2hunter2" not in job["status_message"]
    assert client.call("GET", f"altakit/api/jobs/{job_id}/run")[1] == {
        "run": None, "status": "FAILED", "status_message": job["status_message"]}  # fmt: skip
    assert [
        r for r in catalog(store).versions("run", "reader") if (r.doc["job"] or {}).get("id") == job_id
    ] == []


def test_rerun_errors_are_json_with_a_hint(served):
    client = served[0]
    status, body = client.call("POST", "altakit/api/runs/nosuch/1/rerun", {"same_data": True})
    assert status == 404 and body["hint"], body
    status, body = client.call("POST", "altakit/api/runs/reader/1/rerun", {"same_data": "yes"})
    assert status == 400 and body["message"] == "same_data must be true or false", body
    status, body = client.call("GET", "altakit/api/jobs/no-such-job/run")
    assert status == 404 and body["hint"], body
    # behind Jupyter's auth and XSRF check: no credentials, a cookie without the XSRF token, then with it
    browser = Api(client.server.url, None)
    assert browser.post("runs/reader/1/rerun", {"same_data": True})[0] == 403
    opener, jar = cookie_session(browser, TOKEN)
    status, error, _ = browser.post("runs/nosuch/1/rerun", {"same_data": True}, opener=opener)
    assert status == 403 and "XSRF" in error["message"] + error["hint"], error
    cookies = "; ".join([f"{c.name}={c.value}" for c in jar] + ["_xsrf=xsrf-test-value"])
    headers = {"X-XSRFToken": "xsrf-test-value", "Cookie": cookies}
    status, error, _ = browser.post(
        "runs/nosuch/1/rerun", {"same_data": True}, opener=opener, headers=headers
    )
    assert status == 404 and "nosuch" in error["message"], error


def test_the_planted_secret_is_nowhere(served):
    client, folder, _ = served
    for path in Path(folder).rglob("*"):  # store, catalog, index, staging area, downloads, runs, log
        if path.is_file() and path.suffix != ".sqlite-journal":
            _no_secret(str(path.relative_to(folder)), path.read_bytes())
    for body in client.bodies:
        _no_secret("a REST response", body)
