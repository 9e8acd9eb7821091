"""The plant engineer's no-code path end to end (issue #20), in Voila and Debian Chromium.

Two CSV exports (mixed date formats, a missing hour, a spike, an empty reading; the second
adds a column): home page → ingest page by its link → upload → the preview marks the rows each
cleaning step would change or set aside → a wider Hampel window keeps only the spike → ingest →
the second upload → the pending change's link → review page with the upload's sample values →
approve → ingest again (no re-upload) → back home, where the table shows its state.
Also: ``/etc/passwd`` is refused, and the ingest page offers no server paths.
Screenshots light and dark are kept in the artifacts folder.

Then :func:`test_train_on_the_table_and_promote`: from line4's row to the training dashboard,
features and target picked, trained as a job, trained again; the new version is the one offered
for promotion, promoted; the home page and the catalog show the model trained on line4.
"""

from __future__ import annotations

import re
from pathlib import Path

import plant
import pytest
from jupyter_servers import BROWSER_ARGS, index_url, problems
from voila_pages import WAIT, dashboards

import altakit
from altakit.ingestion import read_table
from altakit.ingestion.overview import overview

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("noncode-voila")
    with dashboards(folder / "voila", folder / "store") as running:
        running.store_dir = folder / "store"
        yield running
    assert problems(running.log) == [], running.log.read_text()


@pytest.fixture
def page(server, tmp_path, chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium"), executable_path=chromium_path, headless=True, args=BROWSER_ARGS,
            viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        try:
            yield context.new_page()
        finally:
            context.close()


def _status(page, text: str, timeout: float = 60_000) -> None:
    page.locator(".altakit-status").get_by_text(text).wait_for(timeout=timeout)


def _upload(page, path: Path) -> None:
    with page.expect_file_chooser(timeout=30_000) as chooser:
        page.locator(".widget-upload").click()
    chooser.value.set_files(str(path))
    _status(page, f"Received {path.name}")


def _select(page, label: str, option: str) -> None:
    page.locator(".widget-dropdown", has_text=label).locator("select").select_option(label=option)


def _type(page, label: str, text: str) -> None:
    field = page.locator(".widget-inline-hbox", has=page.locator("label", has_text=label)).locator("input")
    field.fill(text)
    field.press("Enter")


#: Labels and buttons whose text does not fit their box (ipywidgets cuts them with "…"), and
#: dropdowns whose chosen option is wider than the box showing it (the browser cuts it).
CLIPPED = """() => {
  const shown = (e) => e.offsetParent !== null;
  const cut = [...document.querySelectorAll('.altakit-panel .widget-label, .altakit-panel button')]
    .filter(e => shown(e) && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent);
  const pen = document.createElement('canvas').getContext('2d');
  for (const e of document.querySelectorAll('.altakit-panel select:not([multiple])')) {
    if (!shown(e) || e.selectedIndex < 0) continue;
    const s = getComputedStyle(e);
    pen.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
    const text = e.options[e.selectedIndex].text;
    const room = e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
    if (pen.measureText(text).width > room + 1) cut.push(text);
  }
  return cut;
}"""


#: How many of the matched elements are shown.
VISIBLE = "els => els.filter(e => e.offsetParent !== null).length"


def _shot(page, artifacts_dir: str, name: str) -> None:
    assert page.evaluate(CLIPPED) == [], f"clipped labels on {name}"
    page.screenshot(path=str(Path(artifacts_dir) / f"noncode-{name}.png"), full_page=True)


def test_server_paths_are_refused(server, page):
    page.goto(f"{server.url}voila/render/schema_review.ipynb?dataset=line9&source=/etc/passwd", timeout=WAIT)
    page.locator(".altakit-error").get_by_text("dashboards read only uploads and store keys").wait_for(
        timeout=WAIT
    )
    _status(page, "line9: no such dataset")
    assert "root:x:0" not in page.content()
    assert page.locator(".altakit-quarantine-summary").inner_text() == "No rows set aside."
    assert page.get_by_role("button", name="Replay").is_disabled()
    assert page.get_by_role("button", name="Discard").is_disabled()
    page.goto(f"{server.url}voila/render/ingest.ipynb", timeout=WAIT)
    page.locator(".altakit-panel").wait_for(timeout=WAIT)
    _status(page, "Pick a source.")
    assert page.get_by_role("button", name="path or s3:// URL").count() == 0
    # nothing to ingest yet (no file picked); nothing to sort before a preview
    assert page.get_by_role("button", name="Ingest").is_disabled()
    assert page.get_by_role("button", name="Estimate").is_disabled()
    assert not page.get_by_text("Sort by", exact=True).is_visible()
    assert page.get_by_text("Sent", exact=True).is_visible()  # the upload's bar, not a second "Upload"
    assert page.locator(".altakit-title").evaluate_all(VISIBLE) == 0  # the page's heading is the title
    # a store key is taken as it is typed: Ingest is enabled before the field is left, so one click runs it
    _type(page, "Dataset", "line9")
    page.get_by_role("button", name="store key / prefix").click()
    key = page.locator(".widget-inline-hbox", has=page.locator("label", has_text="Key")).locator("input")
    key.press_sequentially("raw/day1.csv")
    ingest = page.get_by_role("button", name="Ingest")
    ingest.and_(page.locator(":enabled")).wait_for(timeout=15_000)
    assert key.evaluate("e => e === document.activeElement")  # still typing: nothing committed by a blur


def test_plant_engineer_from_two_csvs_to_an_approved_table(
    server, page, tmp_path, artifacts_dir, monkeypatch
):
    day1, day2 = tmp_path / "line4_day1.csv", tmp_path / "line4_day2.csv"
    day1.write_bytes(plant.day1())
    day2.write_bytes(plant.day2())
    page.goto(f"{server.url}voila/render/home.ipynb", timeout=WAIT)
    _status(page, "No datasets yet.", WAIT)
    assert page.get_by_text("No datasets yet").count() == 1  # said once, in the status line
    page.locator(".altakit-new-ingest").first.click()
    page.locator(".widget-upload").wait_for(timeout=WAIT)
    _type(page, "Dataset", "line4")
    assert page.get_by_role("button", name="Ingest").is_disabled()  # a dataset name, no file yet
    _upload(page, day1)
    assert page.get_by_role("button", name="Ingest").is_enabled()
    _type(page, "Series by", "machine")
    _select(page, "Outliers", "Hampel")
    page.get_by_text("Threshold (× typical spread)").wait_for()
    _select(page, "then", "set the row aside")
    _type(page, "Fill gaps up to", "3")
    page.get_by_role("button", name="Preview").click()
    marked = page.locator(".altakit-marked")
    marked.wait_for(timeout=60_000)
    assert "95.0" in marked.inner_text() and "set aside" in marked.inner_text()
    too_many = marked.locator("tbody tr").count()
    assert too_many > 3, "the default Hampel window should set normal readings aside in this data"
    assert page.get_by_text("Sort by", exact=True).is_visible()
    _shot(page, artifacts_dir, "ingest-preview-light")
    _type(page, "Window (rows)", "25")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_function(
        "n => { const k = document.querySelectorAll('.altakit-marked tbody tr').length; "
        "return k > 0 && k < n; }",
        arg=too_many,
        timeout=60_000,
    )
    rows = marked.locator("tbody tr").all_inner_texts()
    assert any("95.0" in r and "set aside" in r for r in rows) and any(
        "Fill gaps: changed" in r for r in rows
    ), rows
    assert sum("set aside" in r for r in rows) == 1, rows
    page.get_by_role("button", name="Ingest").click()
    _status(page, "line4@1 written.")
    page.locator(".altakit-steps").get_by_text("Fill gaps").wait_for()
    outcome = page.locator(".altakit-outcome").inner_text()
    assert "rows added to the table" in outcome and "commit" not in outcome, outcome

    _upload(page, day2)
    assert page.locator(".altakit-version").count() == 0  # the previous outcome is gone
    page.get_by_role("button", name="Ingest").click()
    _status(page, "Nothing was written.")
    link = page.locator(".altakit-review-link")
    link.wait_for()
    outcome = page.locator(".altakit-outcome").inner_text()
    assert "line4@1" not in outcome and "altakit schema" not in page.content()
    _shot(page, artifacts_dir, "ingest-pending-light")
    link.click()

    added = page.locator(".altakit-diff-added")
    added.get_by_text("pressure").wait_for(timeout=WAIT)
    assert "1012.5" in added.inner_text()  # the upload's own values, kept in the store
    page.locator("textarea").fill("new pressure gauge on line 4")
    page.get_by_role("button", name="Approve").click()
    _status(page, "change approved by")
    page.get_by_role("button", name="Ingest again").click()
    page.locator(".altakit-table .altakit-version").get_by_text("line4@2").wait_for(timeout=60_000)
    quarantined = page.locator(".altakit-quarantine-grid").inner_text()
    assert "2024-03-01 20:00:00" in quarantined and ".000000" not in quarantined, quarantined  # to the second
    audit = page.locator(".altakit-audit").inner_text()
    assert len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", audit)) == 2, audit
    assert not re.search(r"\d{4}-\d\d-\d\dT\d", audit), audit
    assert page.get_by_placeholder("e.g. DD.MM.YYYY hh:mm").is_visible()
    assert page.locator(".altakit-title").evaluate_all(VISIBLE) == 0  # the page's heading is the title
    _shot(page, artifacts_dir, "review-approved-light")

    page.locator(".altakit-home-link").click()
    row = page.locator(".altakit-home-row", has_text="line4")
    row.wait_for(timeout=WAIT)
    assert "v2" in row.inner_text() and "none pending" in row.inner_text()
    assert row.locator("td").nth(4).inner_text() == "70"  # all line4 holds (47 - 1 + 24), not the last ingest
    _shot(page, artifacts_dir, "home-light")
    page.goto(f"{server.url}voila/render/home.ipynb?theme=dark", timeout=WAIT)
    page.locator(".altakit-home-row").first.wait_for(timeout=WAIT)
    _shot(page, artifacts_dir, "home-dark")

    page.goto(f"{server.url}voila/render/catalog.ipynb?kind=table&name=line4", timeout=WAIT)
    page.locator(".altakit-record h4").get_by_text("table:line4@2").wait_for(timeout=WAIT)
    _status(page, "1 table record.")
    assert page.get_by_text("1 table record.").count() == 1  # one status line, not printed twice
    records = page.locator(".widget-select", has_text="Records").locator("select")
    ems = records.evaluate("e => e.getBoundingClientRect().width / parseFloat(getComputedStyle(e).fontSize)")
    assert ems >= 15, ems  # a list of names, not a sliver as wide as "table: line4"
    _shot(page, artifacts_dir, "catalog-table-light")

    store = altakit.open_store(server.store_dir)
    monkeypatch.setenv("ALTAKIT_INDEX", index_url(server.store_dir))  # the index the server reads
    table = read_table("line4", store=store)
    assert "pressure" in table.columns and table.height == 47 - 1 + 24  # the spike set aside
    (state,) = overview(store)
    assert state.quarantined == 1 and state.pending is None


#: The training curves' axis titles and x tick labels as drawn (None: no chart yet), and the
#: points drawn of the loss curve.
AXES = """(() => {
  const chart = document.querySelector('.altakit-chart');
  if (!chart || !chart.dataset.counts) return null;
  const texts = (css) => [...chart.querySelectorAll(css)].map((t) => t.textContent);
  return {ticks: texts('.altakit-chart-xticks text'), titles: texts('.altakit-chart-titles text'),
          loss: JSON.parse(chart.dataset.counts).loss};
})()"""


def _train(page, epochs: int, version: int) -> None:
    """Set the epochs, start, and wait for the job's model version to register."""
    box = page.locator(".altakit-training-epochs input")
    box.fill(str(epochs))
    box.press("Tab")  # the value syncs to the kernel on change
    page.wait_for_timeout(500)
    page.locator("button.altakit-training-start").click()
    _status(page, f"registered model:line4-model@{version}.", WAIT)


@pytest.mark.timeout(900)  # Voila, page kernels and two training jobs on a shared machine
def test_train_on_the_table_and_promote(server, page, artifacts_dir, monkeypatch):
    """From line4's row on the home page to the training dashboard; train, retrain, promote the new
    version; the home page and the catalog show the model trained on line4."""
    from altakit.catalog import catalog_of
    from altakit.train.registry import ModelRegistry

    monkeypatch.setenv("ALTAKIT_INDEX", index_url(server.store_dir))
    store = altakit.open_store(server.store_dir)
    assert [s.version for s in overview(store)] == [2], "needs line4@2 from the test before"
    page.goto(f"{server.url}voila/render/home.ipynb", timeout=WAIT)
    line4 = page.locator('.altakit-home-row[data-name="line4"]')  # the table's row
    line4.locator(".altakit-train-link").click()
    page.locator("button.altakit-training-start").wait_for(timeout=WAIT)
    assert page.locator(".altakit-training-dataset select").input_value() == "line4 (table, version 2)"
    targets = page.locator(".altakit-training-target option").all_text_contents()
    assert targets == ["temperature", "pressure"], targets  # not the time or the machine column
    assert not page.locator(".altakit-chart").is_visible()  # no empty chart before a run
    page.locator(".altakit-training-target select").select_option("temperature")
    page.locator(".altakit-training-features select").select_option(["pressure"])
    batch = page.locator(".altakit-training-batch-size input")
    batch.fill("8")
    batch.press("Tab")
    versions = page.locator(".altakit-training-versions select")

    _train(page, 2, 1)
    assert versions.input_value().startswith("version 1 · validation loss "), versions.input_value()
    page.locator("button.altakit-training-promote").click()
    _status(page, "line4-model@champion now points at version 1.")
    _train(page, 4, 2)  # again, with more epochs: a second version
    assert versions.input_value().startswith("version 2 · "), versions.input_value()  # the one just trained
    page.wait_for_function(f"{AXES}.loss === 4", timeout=WAIT)  # the status may beat the redraw
    axes = page.evaluate(AXES)
    assert axes["ticks"] == ["1", "2", "3", "4"], axes  # whole epochs, one tick each
    assert sorted(axes["titles"]) == ["epoch", "loss · error"], axes  # a regression: no accuracy axis
    page.locator("button.altakit-training-promote").click()
    _status(page, "line4-model@champion now points at version 2.")
    _shot(page, artifacts_dir, "training-promoted-light")

    page.goto(f"{server.url}voila/render/home.ipynb", timeout=WAIT)
    line4.wait_for(timeout=WAIT)
    assert "model:line4-model@2" in line4.inner_text()
    line4.locator(".altakit-model-link", has_text="line4-model@2").click()
    record = page.locator(".altakit-record")
    record.locator("h4").get_by_text("model:line4-model@2").wait_for(timeout=WAIT)
    assert "table:line4@2" in record.inner_text()  # lineage: trained on the ingested table
    _shot(page, artifacts_dir, "catalog-model-light")

    assert ModelRegistry(store).alias_target("line4-model", "champion") == 2
    model = ModelRegistry(store).get("line4-model@2")
    up = {(str(a), rel, str(b)) for a, rel, b in catalog_of(store).lineage(model.ref, "up")}
    assert any(rel == "derived_from" and b == "table:line4@2" for _, rel, b in up), up
