"""Panels in JupyterLab and Notebook 7, driven by Debian Chromium.

One ``jupyter lab`` server (loopback, an ephemeral port, a token) serves a temp folder
holding a small generated notebook: it registers a dataset record in a temp store and
displays ``CatalogPanel``, ``TrainingPanel`` and a ``LiveChart`` holding points drawn before
any view existed, shown twice (each view asks for the whole history once). The tests open it
in JupyterLab (run all cells, see the panels render, switch to the dark theme and check the
text stays readable) and in Notebook 7 (run all cells, see the panels render).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from jupyter_servers import BROWSER_ARGS, free_port, get, problems, serve

pytestmark = pytest.mark.browser
WAIT = 60_000
NOTEBOOK = "panels.ipynb"
RECORD = "lab-sensors"

SETUP = """\
import altakit
from altakit.catalog import Catalog
from altakit_widgets.panels import CatalogPanel, TrainingPanel
from altakit_widgets.panels.chart import LiveChart

store = altakit.open_store({store!r})
record = Catalog(store).register("dataset", {name!r}, {{"rows": 42, "origin": "lab browser test"}})
print("registered", record.ref)
chart = LiveChart()  # its points are drawn before any view renders: a view gets them as its history
chart.append([{{"epoch": e, "loss": 1 / (e + 1), "val_accuracy": e / 3}} for e in range(3)]);"""

#: Per chart view: the points drawn of each curve, and those that came as its history or as deltas.
CHARTS = """[...document.querySelectorAll('.jp-Notebook .altakit-chart')].map((c) => ({
  counts: JSON.parse(c.dataset.counts || '{}'), history: Number(c.dataset.history),
  appended: Number(c.dataset.appended),
  titles: [...c.querySelectorAll('.altakit-chart-titles text')].map((t) => t.textContent)}))"""

#: Luminance (0-255) of an element's text colour and of the first opaque background behind it.
COLOURS = """(selector) => {
  const lum = (css) => {
    const [r, g, b, a] = css.match(/[\\d.]+/g).map(Number);
    return a === 0 ? null : 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const el = document.querySelector(selector);
  let bg = null;
  for (let node = el; node && bg === null; node = node.parentElement) {
    bg = lum(getComputedStyle(node).backgroundColor);
  }
  return {text: lum(getComputedStyle(el).color), background: bg === null ? 255 : bg};
}"""


def _notebook(store: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP.format(store=str(store), name=RECORD)),
        nbformat.v4.new_code_cell(f"CatalogPanel(store, name={RECORD!r})"),
        nbformat.v4.new_code_cell('TrainingPanel(store, model="lab-ui")'),
        nbformat.v4.new_code_cell("chart"),
        nbformat.v4.new_code_cell("chart  # a second view of the same widget"),
    ]
    return nb


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lab")
    store_dir, notebooks = folder / "store", folder / "notebooks"
    notebooks.mkdir()
    nbformat.write(_notebook(store_dir), notebooks / NOTEBOOK)
    # no "news" toast over the page (it would ask to fetch from the internet)
    labconfig = folder / "server" / "jupyter-config" / "labconfig"
    labconfig.mkdir(parents=True)
    disabled = {"@jupyterlab/apputils-extension:announcements": True}
    (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))
    token, port = secrets.token_hex(16), free_port()
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}"]  # fmt: skip
    if os.geteuid() == 0:
        argv.append("--allow-root")
    with serve(argv, f"http://127.0.0.1:{port}/api", folder / "server", store_dir) as running:
        running.token, running.root, running.runs = token, f"http://127.0.0.1:{port}/", 0
        yield running
    assert problems(running.log) == [], running.log.read_text()


@pytest.fixture
def page(server, tmp_path, chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=chromium_path, headless=True, args=BROWSER_ARGS,
            viewport={"width": 1280, "height": 1400},
        )  # fmt: skip
        try:
            yield browser.new_page()
        finally:
            browser.close()


def _set_theme(server, theme: str) -> None:
    """Save JupyterLab's theme through the settings API (as the Settings menu does)."""
    body = json.dumps({"raw": json.dumps({"theme": theme})}).encode()
    request = urllib.request.Request(
        f"{server.root}lab/api/settings/@jupyterlab/apputils-extension:themes",
        data=body, method="PUT",
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204, response.status


def _kernel_ready(server, deadline: float) -> None:
    """Wait until the notebook's kernel is idle with a browser connected (the server's view)."""
    while True:
        status, body = get(f"{server.root}api/sessions", server.token)
        kernels = [s["kernel"] for s in json.loads(body) if status == 200 and s["path"] == NOTEBOOK]
        if kernels and kernels[0]["connections"] >= 1 and kernels[0]["execution_state"] == "idle":
            return
        assert time.monotonic() < deadline, f"no idle, connected kernel for {NOTEBOOK}: {kernels}"
        time.sleep(0.2)


def _run_all(server, page) -> int:
    """Wait for the kernel, then Run > Run All Cells (the same menu in JupyterLab and Notebook 7).

    Every run registers the next version of the record: the version this run shows.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=WAIT)
    _kernel_ready(server, time.monotonic() + WAIT / 1000)
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').first.wait_for(
        state="attached", timeout=WAIT
    )
    server.runs += 1
    started = (  # cells queued ([*]) or the first one done; a click before the kernel was ready does neither
        "[...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]"
        ".some((p) => p.textContent.includes('*'))"
        f" || document.querySelector('.jp-Notebook').innerText.includes('{RECORD}@{server.runs}')"
    )
    for _ in range(3):
        page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
        try:
            page.wait_for_function(started, timeout=10_000)
            return server.runs
        except PlaywrightTimeout:
            page.keyboard.press("Escape")  # an open menu
            if page.locator(".jp-Dialog .jp-mod-accept").count():  # "Select Kernel", should it ask
                page.locator(".jp-Dialog .jp-mod-accept").click()
    raise AssertionError(f"Run All Cells did not start {NOTEBOOK}")


def _panels_rendered(page, version: int) -> str:
    """Wait for both panels' widget views; the text of the notebook's outputs."""
    outputs = page.locator(".jp-Notebook .jp-OutputArea-output")
    outputs.get_by_text(f"registered dataset:{RECORD}@{version}").wait_for(timeout=WAIT)
    outputs.locator(".altakit-record h4").get_by_text(f"dataset:{RECORD}@{version}").wait_for(timeout=WAIT)
    outputs.locator(".altakit-status").get_by_text("1 record.", exact=True).wait_for(timeout=WAIT)
    outputs.locator("button.altakit-training-start").wait_for(timeout=WAIT)
    outputs.locator(".altakit-status").get_by_text("Ready.", exact=True).wait_for(timeout=WAIT)
    drawn = "c.length === 3 && c[1].counts.loss === 3 && c[2].counts.loss === 3"
    page.wait_for_function(  # the panel's chart and the two views of the other one drew their curves
        f"(() => {{ const c = {CHARTS}; return {drawn}; }})()", timeout=WAIT
    )
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').first.wait_for(
        state="attached", timeout=WAIT
    )
    return "\n".join(outputs.all_inner_texts())


def _luminance(css_colour: str) -> float:
    r, g, b = (float(v) for v in css_colour.split("(")[1].rstrip(")").split(",")[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _readable(page, selector: str) -> tuple[float, float]:
    colours = page.evaluate(COLOURS, selector)
    return colours["text"], colours["background"]


def _no_errors(text: str) -> None:
    assert "Traceback" not in text and "Error displaying widget" not in text, text
    assert "Something went wrong" not in text, text


def test_panels_in_jupyterlab_light_and_dark(server, page, artifacts_dir):
    _set_theme(server, "JupyterLab Light")
    page.goto(f"{server.root}lab/tree/{NOTEBOOK}?token={server.token}", timeout=WAIT)
    text = _panels_rendered(page, _run_all(server, page))
    _no_errors(text)
    assert '"rows": 42' in text
    panel_chart, *views = page.evaluate(CHARTS)
    assert set(panel_chart["counts"].values()) == {0} and panel_chart["titles"] == ["epoch", "loss · error"]
    for view in views:  # each view drew the whole curve, from the one history it asked for
        assert view["counts"] == {"loss": 3, "val_loss": 0, "val_mae": 0, "val_accuracy": 3}, views
        assert (view["history"], view["appended"]) == (6, 0) and "accuracy" in view["titles"], views
    assert page.evaluate("document.body.dataset.jpThemeLight") == "true"
    light = [_readable(page, ".altakit-record pre"), _readable(page, ".altakit-panel .altakit-title")]
    page.screenshot(path=str(Path(artifacts_dir) / "lab-light.png"), full_page=True)

    page.locator(".lm-MenuBar-itemLabel").get_by_text("Settings", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Theme", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Dark", exact=True).click()
    page.wait_for_function("document.body.dataset.jpThemeLight === 'false'", timeout=WAIT)
    page.wait_for_function(  # the dark theme's CSS is applied, not just announced
        f"({COLOURS})('.altakit-record pre').background < 80", timeout=WAIT
    )
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=WAIT)  # the theme-change splash
    dark = [_readable(page, ".altakit-record pre"), _readable(page, ".altakit-panel .altakit-title")]
    grid = page.evaluate("getComputedStyle(document.querySelector('.altakit-chart-grid line')).stroke")
    page.screenshot(path=str(Path(artifacts_dir) / "lab-dark.png"), full_page=True)
    _no_errors("\n".join(page.locator(".jp-Notebook .jp-OutputArea-output").all_inner_texts()))

    for text_lum, bg_lum in light:
        assert bg_lum > 200 and bg_lum - text_lum > 100, f"light theme: text {text_lum} on {bg_lum}"
    for text_lum, bg_lum in dark:
        assert bg_lum < 80 and text_lum - bg_lum > 100, f"dark theme: text {text_lum} on {bg_lum}"
    assert 60 < _luminance(grid) < 200, f"curve grid lines {grid} vanish on one of the themes"


def test_panels_in_notebook7(server, page, artifacts_dir):
    _set_theme(server, "JupyterLab Light")  # the setting is shared with JupyterLab
    page.goto(f"{server.root}notebooks/{NOTEBOOK}?token={server.token}", timeout=WAIT)
    page.locator("#main-panel .jp-NotebookPanel").wait_for(timeout=WAIT)  # Notebook 7's one-document shell
    text = _panels_rendered(page, _run_all(server, page))
    _no_errors(text)
    assert '"rows": 42' in text
    page.screenshot(path=str(Path(artifacts_dir) / "notebook7.png"), full_page=True)
