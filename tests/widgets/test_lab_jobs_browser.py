"""Notebook jobs in JupyterLab (issue 19): Jupyter Scheduler's Create Job with altakit's fields, driven
in Debian Chromium against a real ``jupyter lab`` with Jupyter Scheduler and altakit's execution manager.

The store holds the table ``sensors`` in two versions (199 rows, then 299) and the folder a
parameterized notebook that prints the rows it read. From the notebook's toolbar a job is created
with a parameter, a tag (the scheduler's own advanced options still work) and ``table:sensors``
pinned to version 1 in the altakit fields; it completes, its output opens and shows the old rows;
the job's detail links to its altakit run; the run is in the catalog with its parameters and pinned
reads; the catalog sidebar's run view re-runs it as jobs (same snapshot: pinned, reads @1; latest:
no pins, reads @2). A second test follows a running run's live metric curve until it ends.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fixtures.notebooks import write_notebook
from fixtures.parts import need
from jupyter_servers import BROWSER_ARGS, REPO, free_port, index_url, problems, serve

import altakit
from altakit.catalog import Catalog

pytestmark = pytest.mark.browser
WAIT = 60_000
JOB_SECONDS = 240
NOTEBOOK = "report.ipynb"
JOB_NAME = "sensors-report"
DAY1 = REPO / "notebooks" / "data" / "sensors_day1.csv"
SPEC = {"time": "timestamp", "by": ["sensor"]}
LABEXTENSIONS = Path(sys.prefix) / "share" / "jupyter" / "labextensions"
SCHEDULER_CONFIG = REPO / "widgets" / "jupyter-config" / "jupyter_jupyter_scheduler_config.json"
SCREENSHOTS = REPO / "build" / "screenshots"
READ_ROWS = "import altakit\nrows = len(altakit.read_table('sensors'))\nprint(f'ROWS={rows} LABEL={label}')"


def _csv(path: Path, first: int, last: int) -> Path:
    """Rows ``first``…``last`` (1-based, after the header) of the day-1 sensor readings."""
    lines = DAY1.read_text().splitlines()
    path.write_text("\n".join([lines[0], *lines[first : last + 1]]) + "\n")
    return path


def _call(server, method: str, path: str, body=None):
    """A REST call to ``{root}{path}`` with the server's token: ``(status, json)``."""
    request = urllib.request.Request(
        f"{server.root}{path}", data=None if body is None else json.dumps(body).encode(), method=method,
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _start_kernel(server, runtime: Path) -> None:
    """The notebook's session and kernel, started and answering before a browser connects to it (a
    websocket that reaches a kernel still starting can race jupyter_server's own set-up)."""
    from jupyter_client import BlockingKernelClient

    body = {"path": NOTEBOOK, "name": NOTEBOOK, "type": "notebook", "kernel": {"name": "python3"}}
    status, session = _call(server, "POST", "api/sessions", body)
    assert status == 201, session
    client = BlockingKernelClient(connection_file=str(runtime / f"kernel-{session['kernel']['id']}.json"))
    client.load_connection_file()
    client.start_channels(iopub=False, stdin=False, hb=False, control=False)
    try:  # a kernel_info round trip (zmq holds the request until the kernel listens)
        request = client.kernel_info()
        while client.get_shell_msg(timeout=120)["parent_header"].get("msg_id") != request:
            pass
    finally:
        client.stop_channels()


def _job(server, job_id: str) -> dict:
    status, job = _call(server, "GET", f"scheduler/jobs/{job_id}")
    assert status == 200, job
    return job


def _finished(server, job_id: str) -> dict:
    """The job once it has ended (COMPLETED asserted, with its status message otherwise)."""
    deadline = time.monotonic() + JOB_SECONDS
    # a new job reads STOPPED (the scheduler's default status) until its process starts it
    while (job := _job(server, job_id))["status"] not in ("COMPLETED", "FAILED") and not (
        job["status"] == "STOPPED" and job["start_time"]
    ):
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {JOB_SECONDS} s"
        time.sleep(1)
    assert job["status"] == "COMPLETED", json.dumps(job, indent=1)
    return job


def _run_of(server, job_id: str) -> str:
    status, body = _call(server, "GET", f"altakit/api/jobs/{job_id}/run")
    assert status == 200, body
    assert body["run"], body
    return body["run"]


@contextmanager
def _lab(folder: Path, store_dir: Path):
    """``jupyter lab`` (loopback, a token, the app exposed for waits) with Jupyter Scheduler running jobs
    through altakit (the scheduler config file the wheel ships)."""
    # the server's folder is its root, as when `jupyter lab` starts in it: Jupyter Scheduler downloads
    # job outputs relative to the process's working directory, not to the root
    notebooks = folder / "server"
    notebooks.mkdir()
    write_notebook(notebooks / NOTEBOOK, READ_ROWS, parameters="label = 'default'")
    config = folder / "server" / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    disabled = {"@jupyterlab/apputils-extension:announcements": True}
    (config / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))
    shutil.copy(SCHEDULER_CONFIG, config / SCHEDULER_CONFIG.name)
    token, port = secrets.token_hex(16), free_port()
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
            "--LabApp.expose_app_in_browser=True"]  # fmt: skip
    if os.geteuid() == 0:
        argv.append("--allow-root")
    with serve(argv, f"http://127.0.0.1:{port}/api", folder / "server", store_dir) as running:
        running.token, running.root, running.notebooks = token, f"http://127.0.0.1:{port}/", notebooks
        _start_kernel(running, folder / "server" / "runtime")
        yield running
        for session in _call(running, "GET", "api/sessions")[1]:  # kernels end before the server does
            _call(running, "DELETE", f"api/sessions/{session['id']}")
    assert problems(running.log) == [], running.log.read_text()[-4000:]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need((LABEXTENSIONS / "altakit" / "static").is_dir(), "the altakit labextension is not built (make env)")
    need((LABEXTENSIONS / "@jupyterlab" / "scheduler").is_dir(), "Jupyter Scheduler's labextension missing")
    need(SCHEDULER_CONFIG.exists(), f"{SCHEDULER_CONFIG} (altakit's execution manager) is missing")
    folder = tmp_path_factory.mktemp("labjobs")
    store_dir = folder / "store"
    env = pytest.MonkeyPatch()  # this process and the server share one index, as a hub's users do
    env.setenv("ALTAKIT_INDEX", index_url(store_dir))
    store = altakit.open_store(store_dir)
    from altakit.ingestion import ingest

    ingest(_csv(folder / "a.csv", 1, 199), "sensors", SPEC, store=store)  # sensors@1: 199 rows
    ingest(_csv(folder / "b.csv", 200, 299), "sensors", SPEC, store=store)  # sensors@2: 299 rows
    try:
        with _lab(folder, store_dir) as running:
            running.store = store
            running.catalog = Catalog(store, index_url(store_dir))
            yield running
    finally:
        env.undo()


@pytest.fixture
def page(request, tmp_path, chromium_path):
    """A fresh Chromium profile; a failing test leaves ``build/screenshots/failed-<test>.png``."""
    from playwright.sync_api import sync_playwright

    failed = request.session.testsfailed
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=chromium_path, headless=True, args=BROWSER_ARGS,
            viewport={"width": 1400, "height": 1000},
        )  # fmt: skip
        try:
            tab = browser.new_page()
            tab.metrics_requests = []

            polls = tab.metrics_requests
            tab.on("request", lambda r: "/metrics?" in r.url and polls.append(time.monotonic()))
            yield tab
            if request.session.testsfailed > failed:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                tab.screenshot(path=str(SCREENSHOTS / f"failed-{request.node.name}.png"))
        finally:
            browser.close()


def _open_lab(server, page, path: str = "") -> None:
    """JupyterLab in a fresh workspace, its layout restored."""
    workspace = f"t{secrets.token_hex(6)}"
    page.goto(f"{server.root}lab/workspaces/{workspace}/{path}?token={server.token}", timeout=WAIT)
    page.wait_for_function("window.jupyterapp !== undefined", timeout=WAIT)
    page.evaluate("() => window.jupyterapp.restored.then(() => true)")
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=WAIT)


def _open_run(page, name: str) -> None:
    """The catalog sidebar's run view of the latest version of run ``name``."""
    sidebar = page.locator("#altakit-sidebar")
    if not sidebar.is_visible():
        page.locator('.lm-TabBar-tab[data-id="altakit-sidebar"]').click()
    sidebar.locator('.altakit-tab[data-section="Catalog"]').click()
    sidebar.locator("select.altakit-kind").select_option("run")
    sidebar.locator(".altakit-item .altakit-name", has_text=name).first.click()


def _create_job_from_toolbar(server, page) -> None:
    """Open the notebook from the file browser, then Create Job from its toolbar: a name, a parameter,
    a tag, ``table:sensors`` pinned to @1 (Jupyter Scheduler takes the notebook to run from the file
    browser's selection)."""
    page.locator(".jp-DirListing-item", has_text=NOTEBOOK).first.dblclick()
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    panel.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=WAIT)
    panel.locator('.jp-Toolbar-item[data-jp-item-name="create-job"] button').click()
    form = page.locator("#jp-create-job-jobName")
    form.wait_for(timeout=WAIT)
    # the form sets its environment and output formats once they load: edit it after that
    page.get_by_role("checkbox", name="HTML").wait_for(state="attached", timeout=WAIT)
    assert page.locator("#jp-create-job-inputFile").input_value() == NOTEBOOK
    form.fill(JOB_NAME)
    page.get_by_title("Add new parameter").click()
    page.locator('input[name="parameter-0-name"]').fill("label")
    page.locator('input[name="parameter-0-value"]').fill("from-ui")
    page.locator("#panel-header").click()  # Additional options
    options = page.locator(".altakit-job-options")
    options.wait_for(timeout=WAIT)
    # the scheduler's own advanced options, rendered first and still working
    assert page.locator("#jp-create-job-advanced-idempotencyToken").is_visible()
    page.get_by_title("Add new tag").click()
    page.locator("#jp-create-job-advanced-tag-0").fill("altakit-ui")
    # altakit's: the store, and a picked version
    store = options.locator(".altakit-job-store code")
    loaded = "() => !document.querySelector('.altakit-job-store code').textContent.includes('…')"
    page.wait_for_function(loaded, timeout=WAIT)
    assert store.inner_text() == server.store.url
    options.locator("select.altakit-pin-kind").select_option("table")
    names = options.locator("select.altakit-pin-name")
    names.locator('option[value="sensors"]').wait_for(state="attached", timeout=WAIT)
    options.locator("select.altakit-pin-name").select_option("sensors")
    options.locator('select.altakit-pin-version option[value="1"]').wait_for(state="attached", timeout=WAIT)
    assert options.locator("select.altakit-pin-version option").all_inner_texts() == ["@2", "@1"]
    options.locator("select.altakit-pin-version").select_option("1")
    options.locator("button.altakit-pin-add").click()
    options.locator('.altakit-pin[data-pin="table:sensors@1"]').wait_for(timeout=WAIT)
    # a second pick of the same name replaces it; unpinning removes it; pick @1 again
    options.locator("select.altakit-pin-version").select_option("2")
    options.locator("button.altakit-pin-add").click()
    options.locator('.altakit-pin[data-pin="table:sensors@2"]').wait_for(timeout=WAIT)
    assert options.locator(".altakit-pin").count() == 1
    options.locator(".altakit-pin-remove").click()
    options.locator(".altakit-pin").wait_for(state="detached", timeout=WAIT)
    options.locator("select.altakit-pin-version").select_option("1")
    options.locator("button.altakit-pin-add").click()
    options.locator('.altakit-pin[data-pin="table:sensors@1"]').wait_for(timeout=WAIT)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    options.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "lab-create-job-altakit-fields.png"))
    page.get_by_role("button", name="Create", exact=True).click()


def _job_id(server, name: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        status, body = _call(server, "GET", "scheduler/jobs?sort_by=create_time&sort_dir=desc")
        assert status == 200, body
        found = [j for j in body["jobs"] if j["name"] == name]
        if found:
            return found[0]["job_id"]
        assert time.monotonic() < deadline, f"no job {name!r}: {body}"
        time.sleep(0.5)


def test_create_job_with_pins_output_run_link_and_reruns(server, page):
    _open_lab(server, page)
    _create_job_from_toolbar(server, page)
    job_id = _job_id(server, JOB_NAME)
    job = _job(server, job_id)
    assert job["parameters"] == {"label": "from-ui"}
    assert job["tags"] == ["altakit-ui"]
    assert json.loads(job["runtime_environment_parameters"]["altakit_pins"]) == {"table:sensors": 1}
    _finished(server, job_id)

    # the run is in the catalog with its parameters, pins and pinned reads, linked to the job
    ref = _run_of(server, job_id)
    kind, _, name_version = ref.partition(":")
    name, _, version = name_version.rpartition("@")
    record = server.catalog.get("run", name, int(version))
    assert kind == "run" and record.doc["status"] == "finished", record.doc
    assert record.doc["parameters"]["label"] == "from-ui"
    assert record.doc["pins"] == {"table:sensors": 1}
    assert record.doc["reads"] == ["table:sensors@1"]
    assert record.doc["job"]["id"] == job_id

    # the job list: completed; its output opens and shows the rows of sensors@1
    jobs = page.locator(".jp-notebook-jobs-panel, #notebook-jobs-panel").first
    jobs.get_by_role("button", name="Reload").first.click()
    row = page.locator("tr", has_text=JOB_NAME).first
    row.get_by_text("Completed").wait_for(timeout=WAIT)
    row.locator('button[aria-label="download"]').click()  # the outputs land beside the notebook
    output = page.locator('a[title^="Open output file"][title$=".html\\""]').first
    deadline = time.monotonic() + 60
    while not output.is_visible():  # the scheduler copies them in the background: reload the list
        assert time.monotonic() < deadline, "the job's output files were not downloaded"
        page.wait_for_timeout(1000)
        jobs.get_by_role("button", name="Reload").first.click()
    output.click()  # the HTML copy, in JupyterLab's HTML viewer
    shown = page.frame_locator(".jp-HTMLViewer:not(.lm-mod-hidden) iframe").locator("body")
    shown.get_by_text("ROWS=").first.wait_for(timeout=WAIT)
    assert "ROWS=199 LABEL=from-ui" in shown.inner_text()

    # the job's detail: its pins and the link to its altakit run, which opens the run view
    page.locator('#notebook-jobs-panel-tab, .lm-TabBar-tab:has-text("Jobs")').first.click()
    page.get_by_title(f'Open detail view for "{JOB_NAME}"').first.click()
    detail_pins = page.locator(".altakit-job-pins")
    detail_pins.locator('a[data-ref="table:sensors@1"]').wait_for(timeout=WAIT)
    link = page.locator("a.altakit-job-run-link")
    link.wait_for(timeout=WAIT)
    assert link.inner_text() == ref
    link.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "lab-job-detail-altakit-run.png"))
    # re-run from the job's detail: a new job pinned to what the run read
    page.locator(".altakit-job-options button.altakit-rerun-same").click()
    said = page.locator(".altakit-job-options .altakit-rerun-status[data-job-id]")
    said.wait_for(timeout=WAIT)
    assert "pinned to table:sensors@1" in said.inner_text()
    detail_id = said.get_attribute("data-job-id")
    assert detail_id != job_id
    assert json.loads(_job(server, detail_id)["runtime_environment_parameters"]["altakit_pins"]) == {
        "table:sensors": 1
    }
    _finished(server, detail_id)  # before the sidebar lists runs: the latest run of the notebook has ended
    link.click()
    view = page.locator(".altakit-detail:visible")
    view.locator("h2.altakit-ref", has_text=ref).wait_for(timeout=WAIT)
    reads = view.locator('[data-section="Pinned reads"]')
    assert reads.locator("a.altakit-ref-link").all_inner_texts() == ["table:sensors@1"]
    assert "pinned to table:sensors@1" in reads.inner_text()

    # the catalog sidebar's run view re-runs it: same snapshot (pinned to @1), latest (no pins, reads @2)
    _open_lab(server, page)
    _open_run(page, name)
    view = page.locator(".altakit-detail:visible")
    view.locator("h2.altakit-ref").wait_for(timeout=WAIT)
    rerun = view.locator('[data-section="Re-run"]')
    rerun.locator("button.altakit-rerun-same").click()
    made = rerun.locator(".altakit-rerun-job")
    made.wait_for(timeout=WAIT)
    assert "pinned to table:sensors@1" in made.inner_text()
    same_id = made.get_attribute("data-job-id")
    rerun.locator("button.altakit-rerun-latest").click()
    page.wait_for_function(
        "id => { const e = document.querySelector('.altakit-detail:not(.lm-mod-hidden) .altakit-rerun-job');"
        " return e && e.dataset.jobId !== id; }", arg=same_id, timeout=WAIT,
    )  # fmt: skip
    latest_id = rerun.locator(".altakit-rerun-job").get_attribute("data-job-id")
    assert "on the latest data" in rerun.locator(".altakit-rerun-job").inner_text()
    assert json.loads(_job(server, same_id)["runtime_environment_parameters"]["altakit_pins"]) == {
        "table:sensors": 1
    }
    assert "altakit_pins" not in (_job(server, latest_id).get("runtime_environment_parameters") or {})
    for job_id, read in (
        (detail_id, "table:sensors@1"),
        (same_id, "table:sensors@1"),
        (latest_id, "table:sensors@2"),
    ):
        _finished(server, job_id)
        again = _run_of(server, job_id)
        n, _, v = again.partition(":")[2].rpartition("@")
        doc = server.catalog.get("run", n, int(v)).doc
        assert doc["reads"] == [read], (job_id, doc)
        assert doc["parameters"]["label"] == "from-ui"


def test_run_view_follows_a_running_runs_metrics_until_it_ends(server, page):
    from altakit.runs.record import RunDoc, environment, record_run
    from altakit.train.live import history_key

    store, name = server.store, f"live-{secrets.token_hex(3)}"
    started = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    env = {**environment(), "host": socket.gethostname(), "pid": os.getpid()}  # this process: alive

    def points(n: int) -> list[dict]:
        return [{"epoch": i, "step": 10 * i, "time": started, "loss": 1 / i} for i in range(1, n + 1)]

    running = RunDoc(status="running", parameters={"epochs": 5}, started=started, environment=env)
    version = record_run(store, name, running).version
    store.put(history_key(name), json.dumps(points(2)).encode())
    _open_lab(server, page)
    _open_run(page, name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    curves = page.locator('.altakit-detail:visible [data-section="Metric curves"] .altakit-metrics')
    loss = curves.locator('.altakit-chart[data-metric="loss"]')
    loss.wait_for(timeout=WAIT)
    assert curves.get_attribute("data-status") == "running"
    assert loss.get_attribute("data-count") == "2"
    assert loss.locator("path.altakit-chart-line").get_attribute("d").count("L") == 1
    store.put(history_key(name), json.dumps(points(4)).encode())  # two more epochs land
    page.wait_for_function(
        "() => document.querySelector("
        "'.altakit-detail:not(.lm-mod-hidden) .altakit-chart[data-metric=\"loss\"]')?.dataset.count === '4'",
        timeout=WAIT,
    )  # fmt: skip
    ended = RunDoc(status="finished", parameters={"epochs": 5}, started=started, environment=env,
                   seconds=3.0, history=points(5), final=points(5)[-1])  # fmt: skip
    assert record_run(store, name, ended).version > version
    page.wait_for_function(
        "() => document.querySelector('.altakit-detail:not(.lm-mod-hidden) .altakit-metrics')"
        "?.dataset.status === 'finished'", timeout=WAIT,
    )  # fmt: skip
    assert loss.get_attribute("data-count") == "5"
    page.screenshot(path=str(SCREENSHOTS / "lab-run-view-metric-curves.png"))
    polls = page.metrics_requests
    assert len(polls) >= 3, polls
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert min(gaps) > 0.9, f"polled faster than once a second: {gaps}"
    done = len(polls)
    page.wait_for_timeout(2500)
    assert len(page.metrics_requests) == done, "polling goes on after the run ended"
