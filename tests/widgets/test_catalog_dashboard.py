"""The catalog dashboard in Voila, driven by Debian Chromium: the panel renders registered records."""

from __future__ import annotations

from pathlib import Path

import pytest
from jupyter_servers import BROWSER_ARGS, REPO, index_url, problems, voila

import altakit
from altakit.catalog import Catalog

DASHBOARD = REPO / "notebooks" / "dashboards" / "catalog.ipynb"
pytestmark = pytest.mark.browser


def _luminance(css_colour: str) -> float:
    r, g, b = (float(v) for v in css_colour.split("(")[1].rstrip(")").split(",")[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_catalog_dashboard_light_and_dark(tmp_path, chromium_path, artifacts_dir):
    store_dir = tmp_path / "store"
    cat = Catalog(altakit.open_store(store_dir), index_url(store_dir))
    cat.register("schema", "sensors", {"columns": ["t", "temp"]})
    cat.register("dataset", "sensors", {"rows": 10}, links={"schema": "schema:sensors"})
    cat.register("dataset", "sensors", {"rows": 1234}, links={"schema": "schema:sensors"})
    cat.register("model", "forecast", {"mae": 0.4}, links={"trained_on": "dataset:sensors@2"})

    from playwright.sync_api import sync_playwright

    with voila(DASHBOARD, tmp_path / "voila", store_dir) as server, sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=chromium_path, headless=True, args=BROWSER_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(f"{server.url}?name=sensors", timeout=120_000)
            page.locator(".altakit-record h4").get_by_text("dataset:sensors@2").wait_for(timeout=120_000)
            page.get_by_text('"rows": 1234').wait_for(timeout=30_000)
            page.locator(".altakit-record td").get_by_text("model:forecast@1").wait_for()  # used by
            page.screenshot(path=str(Path(artifacts_dir) / "catalog-dashboard-light.png"), full_page=True)
            light = page.evaluate("getComputedStyle(document.body).backgroundColor")
            light_html = page.content()

            page.goto(f"{server.url}?kind=model&name=forecast&theme=dark", timeout=120_000)
            page.locator(".altakit-record h4").get_by_text("model:forecast@1").wait_for(timeout=120_000)
            page.locator(".altakit-status").get_by_text("1 model record.").wait_for()
            page.screenshot(path=str(Path(artifacts_dir) / "catalog-dashboard-dark.png"), full_page=True)
            dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
            text = page.evaluate("getComputedStyle(document.querySelector('.altakit-record pre')).color")
            dark_html = page.content()
        finally:
            browser.close()
    assert _luminance(light) > 200 > 60 > _luminance(dark), (light, dark)
    assert _luminance(text) > 120, f"record text {text} is unreadable on the dark theme"
    assert "dataset:images" not in dark_html and "schema:sensors@1" in light_html
    for body in (light_html, dark_html):
        assert "parse_qs" not in body and "Traceback" not in body  # sources stripped, no tracebacks
    assert problems(server.log) == [], server.log.read_text()
