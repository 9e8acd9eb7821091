"""The training dashboard in Voila, driven by Debian Chromium: start a short run, see the curve grow."""

from __future__ import annotations

from pathlib import Path

import pytest
from altakit_widgets.demo_digits import write_digits
from jupyter_servers import BROWSER_ARGS, REPO, problems, voila

import altakit
from altakit.train.registry import ModelRegistry

DASHBOARD = REPO / "notebooks" / "dashboards" / "training.ipynb"
pytestmark = pytest.mark.browser

#: Points of the first trace (the training loss) in the rendered plotly figure.
LOSS_POINTS = """(() => {
  const plot = document.querySelector('.js-plotly-plot');
  if (!plot) return -1;
  const loss = (plot.data || []).find((t) => t.name === 'loss');
  return loss && loss.x ? loss.x.length : 0;
})()"""


def test_training_dashboard_curve_grows_and_checkpoint_appears(tmp_path, chromium_path, artifacts_dir):
    store_dir = tmp_path / "store"
    write_digits(store=altakit.open_store(store_dir))

    from playwright.sync_api import sync_playwright

    with voila(DASHBOARD, tmp_path / "voila", store_dir) as server, sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=chromium_path, headless=True, args=BROWSER_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(f"{server.url}?model=digits-ui", timeout=120_000)
            start = page.locator("button.altakit-training-start")
            start.wait_for(timeout=120_000)
            page.locator(".altakit-training-dataset select").wait_for()
            assert page.locator(".altakit-training-dataset select").input_value() == "digits@1"
            epochs = page.locator(".altakit-training-epochs input")
            epochs.fill("3")
            epochs.press("Tab")  # the value syncs to the kernel on change
            page.wait_for_function(f"{LOSS_POINTS} >= 0", timeout=60_000)  # the empty figure rendered
            start.click()
            page.wait_for_function(f"{LOSS_POINTS} > 0", timeout=60_000)
            first = page.evaluate(LOSS_POINTS)
            page.locator(".altakit-training-checkpoints td").first.wait_for(timeout=60_000)
            page.screenshot(path=str(Path(artifacts_dir) / "training-dashboard-running.png"), full_page=True)
            page.locator(".altakit-status").get_by_text("registered model:digits-ui@1").wait_for(
                timeout=90_000
            )
            last = page.evaluate(LOSS_POINTS)
            rows = page.locator(".altakit-training-checkpoints tr").count() - 1  # minus the header
            eta = page.locator(".altakit-training-eta").inner_text()
            page.screenshot(path=str(Path(artifacts_dir) / "training-dashboard-finished.png"), full_page=True)
            body = page.content()
        finally:
            browser.close()
    assert 0 < first < last, (first, last)  # the curve grew while we watched
    assert rows == 3 and "steps" in eta and "ETA" in eta
    assert "parse_qs" not in body and "Traceback" not in body
    assert ModelRegistry(altakit.open_store(store_dir)).get("digits-ui@1").doc["framework"] == "torch"
    assert problems(server.log) == [], server.log.read_text()
