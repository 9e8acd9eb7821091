"""Idle kernels of closed dashboard pages are culled (issue #20): Voila with the image's culling flags.

Voila's own shutdown request on page close is refused (a missing XSRF argument), so
without culling every page view leaves a kernel behind. With ``cull_connected=False``
a kernel is shut down once no page is connected and it idled for the window; here
the window is 15 s, checked every 3 s (long enough that a page still loading on a busy machine is
not culled between the server running its notebook and the browser connecting).
"""

from __future__ import annotations

import math
import time

import pytest
from jupyter_servers import BROWSER_ARGS, problems
from voila_pages import WAIT, cull_flags, dashboards, kernels

pytestmark = [pytest.mark.browser, pytest.mark.slow]
IDLE, INTERVAL = 15, 3


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kernels-voila")
    with dashboards(folder / "voila", folder / "store", *cull_flags(IDLE, INTERVAL)) as running:
        yield running
    assert problems(running.log) == [], running.log.read_text()


@pytest.fixture
def browser(tmp_path, chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=chromium_path, headless=True, args=BROWSER_ARGS
        )
        try:
            yield context
        finally:
            context.close()


def _wait_for(count, server, limit: float) -> float:
    """Seconds until the server runs ``count`` kernels (fails after ``limit``)."""
    start = time.monotonic()
    while kernels(server) != count:
        assert time.monotonic() - start < limit, (
            f"{kernels(server)} kernels after {limit:.0f} s, wanted {count}"
        )
        time.sleep(0.5)
    return time.monotonic() - start


def _view(browser, server) -> float:
    """Open a dashboard page, wait until its kernel ran it, close it; the seconds it took."""
    start = time.monotonic()
    page = browser.new_page()
    page.goto(f"{server.url}voila/render/store.ipynb", timeout=WAIT)
    page.locator(".widget-select").wait_for(timeout=WAIT)  # the kernel ran the page
    page.close()
    return time.monotonic() - start


def test_closed_page_kernel_is_culled_within_the_window(server, browser):
    _wait_for(0, server, IDLE + 3 * INTERVAL + 30)
    page = browser.new_page()
    page.goto(f"{server.url}voila/render/store.ipynb", timeout=WAIT)
    page.locator(".widget-select").wait_for(timeout=WAIT)
    assert kernels(server) == 1
    time.sleep(IDLE + 2 * INTERVAL)  # an open page keeps its kernel, however idle
    assert kernels(server) == 1
    page.close()
    _wait_for(0, server, IDLE + 2 * INTERVAL + 10)  # gone within the window (+ slack for a busy machine)


def test_twenty_page_views_keep_the_kernel_count_bounded(server, browser):
    _wait_for(0, server, IDLE + 3 * INTERVAL + 30)
    seen, took = [], []
    for _ in range(20):
        took.append(_view(browser, server))
        seen.append(kernels(server))
    # each closed page's kernel goes within IDLE + INTERVAL: only the views of that window remain
    bound = min(15, math.ceil((IDLE + INTERVAL + 2) / min(took)) + 1)
    assert max(seen) <= bound, (seen, took)
    _wait_for(0, server, IDLE + 2 * INTERVAL + 10)
