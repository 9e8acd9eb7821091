"""The ingest and schema-review dashboards in Voila, driven by Debian Chromium.

One Voila server serves ``notebooks/dashboards/`` for the module; each test uses
its own dataset in the server's store. Upload a CSV through the IngestPanel and
see the new version; approve a pending schema change and see the table accept the
new column (in the page and through ``read_table``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from jupyter_servers import BROWSER_ARGS, REPO, index_url, problems, voila

import altakit
from altakit.catalog import catalog_of
from altakit.errors import SchemaChangePending
from altakit.ingestion import SchemaRegistry, ingest, read_table

DASHBOARDS = REPO / "notebooks" / "dashboards"
DAY1 = REPO / "notebooks" / "data" / "sensors_day1.csv"
DAY2 = REPO / "notebooks" / "data" / "sensors_day2.csv"
pytestmark = pytest.mark.browser
WAIT = 120_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ingest-voila")
    store_dir = folder / "store"
    with voila(DASHBOARDS, folder / "voila", store_dir) as running:
        running.store_dir = store_dir
        yield running
    assert problems(running.log) == [], running.log.read_text()


@pytest.fixture
def page(server, tmp_path, chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=chromium_path, headless=True, args=BROWSER_ARGS
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


@pytest.fixture
def store(server, monkeypatch):
    monkeypatch.setenv("ALTAKIT_INDEX", index_url(server.store_dir))  # the index the server uses
    return altakit.open_store(server.store_dir)


def test_upload_a_csv_and_see_the_new_version(server, page, store, artifacts_dir):
    page.goto(f"{server.url}voila/render/ingest.ipynb?dataset=uploads", timeout=WAIT)
    page.locator(".altakit-panel").wait_for(timeout=WAIT)
    # ipywidgets 8 keeps its <input type=file> out of the DOM: the click opens the chooser
    with page.expect_file_chooser(timeout=30_000) as chooser:
        page.locator(".widget-upload").click()
    chooser.value.set_files(str(DAY1))
    page.locator(".altakit-status").get_by_text("Received sensors_day1.csv").wait_for(timeout=30_000)
    page.get_by_role("button", name="Preview").click()
    page.locator(".altakit-schema").get_by_text("DD.MM.YYYY hh:mm").wait_for(timeout=30_000)
    page.get_by_role("button", name="Estimate").click()
    page.locator(".altakit-estimate").get_by_text("about 852 rows").wait_for(timeout=30_000)
    page.get_by_role("button", name="Ingest").click()
    page.locator(".altakit-version").get_by_text("uploads@1").wait_for(timeout=60_000)
    page.locator(".altakit-status").get_by_text("uploads@1 written.").wait_for()
    page.screenshot(path=str(Path(artifacts_dir) / "ingest-dashboard.png"), full_page=True)
    body = page.content()
    assert "Traceback" not in body and "parse_qs" not in body  # sources stripped, no tracebacks
    table = read_table("uploads", store=store)
    assert table.height == 852 and table.columns == ["timestamp", "sensor", "temperature", "humidity"]
    name = catalog_of(store).get("table", "uploads").doc["sources"][0]["name"]
    assert name.startswith("uploads/") and name.endswith("/sensors_day1.csv")  # the upload, kept in the store


def test_a_25_mib_upload_arrives_whole_and_the_page_stays_connected(server, page, store, tmp_path):
    """Larger than the server's 10 MiB WebSocket message cap: the upload goes in acknowledged chunks
    (ipywidgets' FileUpload sent it as one message and the server dropped the page's connection)."""
    big = tmp_path / "line7_export.csv"
    day = "".join(
        f"2026-12-07 {h:02d}:{m:02d}:00,m{m % 7},{20 + m / 100:.2f}\n" for h in range(24) for m in range(60)
    )
    big.write_text("timestamp,machine,value\n" + day * 700)  # about 28 MiB
    data = big.read_bytes()
    assert len(data) > 25 * 2**20
    closed: list[str] = []
    page.on("websocket", lambda ws: ws.on("close", lambda _: closed.append(ws.url)))
    page.goto(f"{server.url}voila/render/ingest.ipynb?dataset=line7", timeout=WAIT)
    page.locator(".altakit-panel").wait_for(timeout=WAIT)
    with page.expect_file_chooser(timeout=30_000) as chooser:
        page.locator(".widget-upload").click()
    chooser.value.set_files(str(big))
    page.locator(".altakit-status").get_by_text("Received line7_export.csv").wait_for(timeout=WAIT)
    digest = hashlib.sha256(data).hexdigest()
    key = f"uploads/{digest[:16]}/line7_export.csv"
    assert [v.size for v in store.versions(key)] == [len(data)]
    assert hashlib.sha256(store.get(key)).hexdigest() == digest  # the stored raw version is the file
    page.get_by_role("button", name="Preview").click()  # the kernel still answers this page
    page.locator(".altakit-schema").get_by_text("machine").wait_for(timeout=60_000)
    assert closed == []


def test_approve_a_schema_change_and_see_the_new_column(server, page, store, artifacts_dir):
    spec = {"time": "timestamp", "by": ["sensor"]}
    ingest(DAY1, "sensors", spec, store=store)
    with pytest.raises(SchemaChangePending):
        ingest(DAY2, "sensors", spec, store=store)
    store.put("raw/sensors_day2.csv", DAY2.read_bytes())  # a dashboard reads store keys, not server paths
    page.goto(
        f"{server.url}voila/render/schema_review.ipynb?dataset=sensors&source=store:raw/sensors_day2.csv",
        timeout=WAIT,
    )
    added = page.locator(".altakit-diff-added")
    added.get_by_text("pressure").wait_for(timeout=WAIT)
    assert "1013.2" in added.inner_text()  # sample values of the new column
    page.locator(".altakit-policy").get_by_text("review").wait_for()
    page.screenshot(path=str(Path(artifacts_dir) / "schema-review-pending.png"), full_page=True)
    page.locator("textarea").fill("new pressure sensor")
    page.get_by_role("button", name="Approve").click()
    page.locator(".altakit-status").get_by_text("change approved by").wait_for(timeout=30_000)
    page.locator(".altakit-audit").get_by_text("new pressure sensor").wait_for()
    page.get_by_role("button", name="Ingest again").click()
    page.locator(".altakit-table").get_by_text("pressure").wait_for(timeout=60_000)
    page.locator(".altakit-table .altakit-version").get_by_text("sensors@2").wait_for()
    page.screenshot(path=str(Path(artifacts_dir) / "schema-review-approved.png"), full_page=True)
    assert "pressure" in read_table("sensors", store=store).columns
    assert SchemaRegistry(store).changes("sensors")[-1].doc["status"] == "approved"

    page.goto(f"{server.url}voila/render/schema_review.ipynb?dataset=sensors&theme=dark", timeout=WAIT)
    page.locator(".altakit-audit").get_by_text("new pressure sensor").wait_for(timeout=WAIT)
    page.screenshot(path=str(Path(artifacts_dir) / "schema-review-dark.png"), full_page=True)
    colour = page.evaluate("getComputedStyle(document.querySelector('.altakit-audit td')).color")
    r, g, b = (float(v) for v in colour.split("(")[1].rstrip(")").split(",")[:3])
    assert 0.2126 * r + 0.7152 * g + 0.0722 * b > 120, f"audit text {colour} is unreadable on the dark theme"
