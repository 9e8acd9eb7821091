"""The training dashboard in Voila, driven by Debian Chromium: train an ingested table as a job; the
curve grows while the job runs, a reload keeps it, and the model registers when the job ends."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fixtures.two_sensors import SPEC, two_sensors_csv
from jupyter_servers import BROWSER_ARGS, REPO, index_url, problems, voila

import altakit
from altakit.catalog import catalog_of
from altakit.runs.record import read_run
from altakit.train.registry import ModelRegistry

DASHBOARD = REPO / "notebooks" / "dashboards" / "training.ipynb"
pytestmark = pytest.mark.browser
WAIT = 180_000

#: Points of the validation-error curve as drawn by the chart's view (-1: no chart yet).
POINTS = """(() => {
  const chart = document.querySelector('.altakit-chart');
  return chart && chart.dataset.counts ? JSON.parse(chart.dataset.counts).val_mae : -1;
})()"""
#: Points the chart's view holds, and how they came: in the whole history it asked for when it
#: rendered, or in the deltas sent after it.
RECEIVED = """(() => {
  const chart = document.querySelector('.altakit-chart');
  const counts = Object.values(JSON.parse(chart.dataset.counts));
  return {drawn: counts.reduce((a, b) => a + b, 0), history: Number(chart.dataset.history),
          appended: Number(chart.dataset.appended)};
})()"""


def _open(page, url):
    page.goto(url, timeout=WAIT)
    page.locator("button.altakit-training-start").wait_for(timeout=WAIT)
    page.wait_for_function(f"{POINTS} >= 0", timeout=60_000)  # the chart rendered


@pytest.mark.timeout(600)  # Voila, two page kernels and the job's kernel on a shared machine
def test_training_dashboard_trains_the_table_as_a_job_and_a_reload_keeps_the_curve(
    tmp_path, chromium_path, artifacts_dir, monkeypatch
):
    from altakit.ingestion import ingest

    store_dir = tmp_path / "store"
    monkeypatch.setenv("ALTAKIT_INDEX", index_url(store_dir))  # the index Voila's kernels and the job use
    store = altakit.open_store(store_dir)
    csv = two_sensors_csv(tmp_path / "line4.csv", rows=800)
    assert ingest(str(csv), "line4", SPEC, store=store).version == 1
    shots = Path(artifacts_dir)

    from playwright.sync_api import sync_playwright

    with voila(DASHBOARD, tmp_path / "voila", store_dir) as server, sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=chromium_path, headless=True, args=BROWSER_ARGS
        )
        try:
            page = browser.new_page()
            _open(page, f"{server.url}?dataset=line4")
            data = page.locator(".altakit-training-dataset select").input_value()
            targets = page.locator(".altakit-training-target option").all_text_contents()
            chart_before = page.locator(".altakit-chart").is_visible()  # no empty chart before a run
            page.locator(".altakit-training-target select").select_option("temp")
            page.locator(".altakit-training-features select").select_option(["hum"])
            for field, value in (("epochs", "30"), ("batch-size", "8")):
                box = page.locator(f".altakit-training-{field} input")
                box.fill(value)
                box.press("Tab")  # the value syncs to the kernel on change
            time.sleep(0.5)
            page.locator("button.altakit-training-start").click()
            page.wait_for_function(f"{POINTS} > 0", timeout=WAIT)
            first = page.evaluate(POINTS)
            page.wait_for_function(f"{POINTS} > {first}", timeout=WAIT)  # it grows while we watch
            grown = page.evaluate(POINTS)
            before = page.evaluate(RECEIVED)
            label = page.locator(".altakit-training-runs select").input_value()  # "name (status)"
            run = label.split(" (")[0]
            running = read_run(catalog_of(store).get("run", run)).status
            page.screenshot(path=str(shots / "training-dashboard-running.png"), full_page=True)

            page.reload()  # a new kernel: the curve comes back from the store
            page.locator("button.altakit-training-start").wait_for(timeout=WAIT)
            page.wait_for_function(f"{POINTS} >= {grown}", timeout=WAIT)
            kept = page.evaluate(POINTS)
            reloaded = page.evaluate(RECEIVED)
            assert page.locator(".altakit-training-runs select").input_value() == f"{run} (running)"
            page.locator(".altakit-status").get_by_text("registered model:line4-model@1").wait_for(
                timeout=WAIT
            )
            page.wait_for_function(f"{POINTS} === 30", timeout=WAIT)  # the status may beat the redraw
            last = page.evaluate(POINTS)
            after = page.evaluate(RECEIVED)
            rows = page.locator(".altakit-training-checkpoints tr").count() - 1  # minus the header
            eta = page.locator(".altakit-training-eta").inner_text()
            legend = page.locator(".altakit-chart-legend text").all_text_contents()
            version = page.locator(".altakit-training-versions select").input_value()
            page.screenshot(path=str(shots / "training-dashboard-finished.png"), full_page=True)
            body = page.content()
        finally:
            browser.close()
    assert data == "line4 (table, version 1)" and targets == ["temp", "hum"], (data, targets)
    assert not chart_before
    assert legend == ["training loss", "validation loss", "mean absolute error on held-out rows"], legend
    assert version.startswith("version 1 · validation loss "), version
    assert running == "running", running  # the reload happened while the job ran
    # the reload came while the job ran; on a busy machine its 30 short epochs may all end before the new page
    # is up (a reloaded panel that then follows a live run: test_training_panel.py's Stop test)
    assert 0 < first < grown <= kept <= last == 30, (first, grown, kept, last)
    # every point reached the browser once: the kernel sent each update's new points only
    assert before["history"] + before["appended"] == before["drawn"] and before["appended"] > 0, before
    assert after["history"] + after["appended"] == after["drawn"] == 3 * 30, after  # loss, val_loss, val_mae
    # the reloaded page's view got the curve drawn so far as one whole history, then deltas
    assert reloaded["history"] > 0 and after["history"] == reloaded["history"], (reloaded, after)
    assert rows == 3 and "30/30 epochs" in eta
    assert "parse_qs" not in body and "Traceback" not in body
    model = ModelRegistry(store).get("line4-model@1")
    up = {(str(a), rel, str(b)) for a, rel, b in catalog_of(store).lineage(model.ref, "up")}
    assert ("dataset:line4-temp@1", "derived_from", "table:line4@1") in up  # trained on line4, nothing else
    assert model.doc["framework"] == "torch"
    assert problems(server.log) == [], server.log.read_text()
