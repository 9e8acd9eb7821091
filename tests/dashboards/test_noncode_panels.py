"""The no-code path's panels without a browser (issue #20): what a dashboard may read, one connected
flow from an upload to its review and back, cleaning previews, explanations, the landing page."""

from __future__ import annotations

import plant
import pytest
from altakit_widgets.panels import CatalogPanel, HomePanel, IngestPanel, SchemaReviewPanel

import altakit
from altakit.catalog import catalog_of
from altakit.ingestion import read_table

HAMPEL = {"step": "outliers", "method": "hampel", "action": "quarantine"}


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("ALTAKIT_DASHBOARD_PATHS", raising=False)
    monkeypatch.delenv("ALTAKIT_UPLOAD_MAX_MB", raising=False)
    return altakit.open_store(tmp_path / "store")


def _upload(panel: IngestPanel, name: str, data: bytes) -> None:
    """The messages the browser's upload sends, in small chunks."""
    panel.upload.receive(name, data, chunk=4096)


def test_dashboards_read_only_uploads_and_store_keys(store, tmp_path, monkeypatch):
    panel = IngestPanel(store, dataset="line4", dashboard=True)
    assert [kind for _, kind in panel.kind.options] == ["upload", "store"]  # no path box at all
    review = SchemaReviewPanel(store, dataset="line4", source="/etc/passwd", dashboard=True)
    assert review.source is None and review.error_message == "dashboards read only uploads and store keys"
    assert "upload the file" in review.error_hint and "root:" not in review.diff.value
    panel.kind.value = "store"
    panel.source_text.value = "../../etc/passwd"  # a store key never leaves the store
    assert panel.show_preview() is None and "root:" not in panel.grid.value and panel.error_message
    # an operator allows one folder: paths under it are read, others still refused
    allowed = tmp_path / "drops"
    allowed.mkdir()
    (allowed / "day1.csv").write_bytes(plant.day1())
    monkeypatch.setenv("ALTAKIT_DASHBOARD_PATHS", str(allowed))
    panel = IngestPanel(store, dataset="line4", dashboard=True)
    assert "url" in [kind for _, kind in panel.kind.options]
    panel.kind.value = "url"
    panel.source_text.value = "/etc/passwd"
    assert (
        panel.source is None
        and panel.error_message == "/etc/passwd is outside the folders dashboards may read"
    )
    panel.source_text.value = str(allowed / ".." / ".." / "etc" / "passwd")
    assert panel.source is None and "outside the folders" in panel.error_message
    panel.source_text.value = str(allowed / "day1.csv")
    assert panel.show_preview() is not None and panel.error_message == ""


def test_upload_type_and_size_limits(store, monkeypatch):
    panel = IngestPanel(store, dataset="line4", dashboard=True)
    _upload(panel, "tool.exe", b"MZ\x90\x00")
    assert panel.source is None and panel.error_message == "tool.exe is not a file type altakit ingests"
    monkeypatch.setenv("ALTAKIT_UPLOAD_MAX_MB", "0.001")  # about 1 KiB
    _upload(panel, "day1.csv", plant.day1())
    assert panel.source is None and "uploads are limited to" in panel.error_message
    assert not list(store.list("uploads/"))  # nothing refused was kept


def test_chunked_upload_stops_at_the_limit_and_discards_cancelled_files(store, tmp_path, monkeypatch):
    """The upload's messages as a browser sends them: limits are checked as bytes arrive; a cancel or
    a new pick mid-upload leaves no partial file (the temp folder is watched)."""
    import tempfile

    spools = tmp_path / "spools"
    spools.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spools))
    monkeypatch.setenv("ALTAKIT_UPLOAD_MAX_MB", "0.01")  # about 10 KiB
    panel = IngestPanel(store, dataset="line4", dashboard=True)
    replies: list[dict] = []
    monkeypatch.setattr(panel.upload, "send", replies.append)

    def send(msg: dict, data: bytes | None = None) -> dict:
        panel.upload._message(panel.upload, msg, [memoryview(data)] if data else [])
        return replies[-1] if replies else {}

    # a browser that announces 100 bytes and sends more: stopped at the chunk that passes the limit
    assert send({"type": "start", "id": "a", "name": "big.csv", "size": 100})["type"] == "ack"
    assert send({"type": "chunk", "id": "a", "offset": 0}, b"x" * 8000) == {
        "type": "ack", "id": "a", "received": 8000}  # fmt: skip
    refused = send({"type": "chunk", "id": "a", "offset": 8000}, b"x" * 8000)
    assert refused["type"] == "refused" and "uploads are limited to" in refused["message"]
    assert "uploads are limited to" in panel.error_message and not list(spools.iterdir())
    assert send({"type": "chunk", "id": "a", "offset": 16000}, b"x")["type"] == "refused"  # it stays stopped
    # a new pick mid-upload, then Cancel: no partial file stays, nothing is kept
    send({"type": "start", "id": "b", "name": "day1.csv", "size": 9000})
    send({"type": "chunk", "id": "b", "offset": 0}, b"y" * 4000)
    assert len(list(spools.iterdir())) == 1
    send({"type": "start", "id": "c", "name": "day2.csv", "size": 9000})
    send({"type": "chunk", "id": "c", "offset": 0}, b"z" * 4000)
    assert len(list(spools.iterdir())) == 1 and panel.error_message == ""
    send({"type": "cancel", "id": "c"})
    assert not list(spools.iterdir()) and send({"type": "end", "id": "c"})["type"] == "refused"
    assert panel.source is None and not list(store.list("uploads/"))
    # a file that ends short of its announced size is not kept
    send({"type": "start", "id": "d", "name": "day1.csv", "size": 9000})
    send({"type": "chunk", "id": "d", "offset": 0}, b"w" * 10)
    assert send({"type": "end", "id": "d"}) == {"type": "done", "id": "d", "ok": False}
    assert "ended after 10 of 9000 bytes" in panel.error_message and not list(spools.iterdir())
    # a piece sent again (or out of order) is refused: never a file of the right size with wrong bytes
    send({"type": "start", "id": "e", "name": "day1.csv", "size": 8})
    send({"type": "chunk", "id": "e", "offset": 0}, b"abcd")
    again = send({"type": "chunk", "id": "e", "offset": 0}, b"abcd")
    assert again["type"] == "refused" and "arrived for byte 0, not 4" in again["message"]
    assert not list(spools.iterdir()) and not list(store.list("uploads/"))


def test_pending_change_links_to_review_which_shows_samples_and_ingests_again(store):
    ingest_page = IngestPanel(store, dataset="line4", dashboard=True)
    _upload(ingest_page, "day1.csv", plant.day1())
    first = ingest_page.run()
    assert first.version == 1 and "line4@1" in ingest_page.outcome.value
    _upload(ingest_page, "day2.csv", plant.day2())
    assert ingest_page.outcome.value == "" and ingest_page.grid.value == ""  # nothing stale after a new file
    assert ingest_page.run() is None and ingest_page.status_text == "Nothing was written."
    outcome = ingest_page.outcome.value
    assert "line4@1" not in outcome and "written" not in outcome  # the old outcome is gone
    assert 'class="altakit-review-link"' in outcome and "dataset=line4" in outcome
    assert "altakit schema" not in ingest_page.error.value  # no CLI text in a panel
    assert ingest_page.error_message == "" and ingest_page.progress.bar_style == "warning"  # not a failure
    assert "this file changes the columns of line4 (added: pressure)" in outcome
    source = ingest_page.source
    assert source.startswith("store:uploads/") and "source=store%3Auploads%2F" in outcome

    review = SchemaReviewPanel(store, dataset="line4", source=source, dashboard=True)
    assert review.samples["pressure"] == [f"{1012 + h % 3}.5" for h in range(3)]  # the upload's values
    assert "hold for review" in review.info.value and "<td>number</td>" in review.diff.value  # words
    assert "schema_change:" not in review.diff.value and "float64" not in review.diff.value
    assert 'href="ingest.ipynb?dataset=line4"' in review.links.value and "home.ipynb" in review.links.value
    review.comment.value = "new pressure gauge"
    review.approve()
    assert not review.reingest_button.disabled
    report = review.ingest_again()  # no new upload
    assert report.version == 2 and "pressure" in read_table("line4", store=store).columns
    assert review.reingest_button.disabled  # written once; nothing is left to ingest again
    reopened = SchemaReviewPanel(store, dataset="line4", source=source, dashboard=True)
    assert reopened.status_text == "line4: nothing pending."
    assert "<td>proposed</td>" in reopened.audit.value and "<td>pending</td>" not in reopened.audit.value


def test_the_inbox_review_page_ingests_again_every_file_that_waited(store):
    """Two uploads wait on one change (the same new column); the review page the inbox links to (no
    source named) writes both after the approval, not only the first."""
    from altakit_widgets.schema_routes import review_url

    ingest_page = IngestPanel(store, dataset="line4", dashboard=True)
    _upload(ingest_page, "day1.csv", plant.day1())
    ingest_page.run()
    for day in (3, 4):
        _upload(ingest_page, f"day{day}.csv", plant.day2(day))
        assert ingest_page.run() is None
    assert review_url("/voila/render/schema_review.ipynb", "line4").endswith("?dataset=line4")
    review = SchemaReviewPanel(store, dataset="line4", dashboard=True)
    assert len(review.source) == 2 and all(s.startswith("store:uploads/") for s in review.source)
    review.comment.value = "new pressure gauge"
    review.approve()
    before = read_table("line4", store=store).height
    assert review.ingest_again().version == 2
    table = read_table("line4", store=store)
    assert table.height - before == 48 and table.get_column("pressure").drop_nulls().len() == 48


def test_a_dataset_that_does_not_exist_is_not_nothing_pending(store):
    review = SchemaReviewPanel(store, dataset="line9", dashboard=True)
    assert (
        review.exists is False
        and review.status_text == "line9: no such dataset (nothing was ingested into it)."
    )
    assert (
        "nothing pending" not in review.status_text and "There is no dataset named line9" in review.diff.value
    )
    box = review.quarantine  # nothing was ever set aside: said plainly, nothing to replay
    assert "No rows set aside." in box.summary.value and box.replay_button.disabled
    assert review.title.layout.display == "none"  # the page's heading names it: one title


def test_time_column_detected_at_ingest_without_a_preview(store):
    panel = IngestPanel(store, dataset="line4", dashboard=True)
    _upload(panel, "day1.csv", plant.day1())
    report = panel.run()  # no Preview pressed
    assert report.version == 1 and panel.time.value == "timestamp"
    assert panel.status_text == "line4@1 written. Time column timestamp (detected)."
    assert catalog_of(store).get("table", "line4").doc["spec"]["time"] == "timestamp"


def test_cleaning_preview_marks_rows_per_step_and_thresholds_apply(store):
    panel = IngestPanel(store, dataset="line4", dashboard=True)
    _upload(panel, "day1.csv", plant.day1())
    panel.by.value = "machine"
    panel.outliers.value, panel.outlier_action.value = "hampel", "quarantine"
    panel.max_gap.value = 3
    panel.show_preview()
    assert panel.cleaning.columns.options == ("temperature",)
    hampel, gaps = panel.cleaning_result.steps
    assert plant.SPIKE_LINE in hampel.rejected and len(hampel.rejected) > 3  # the default window is too short
    assert gaps.changed == [plant.BLANK_LINE]  # the empty reading is filled
    assert (
        "set aside" in panel.cleaning_html.value
        and 'class="altakit-grid altakit-marked"' in panel.cleaning_html.value
    )
    assert read_table is not None and not list(catalog_of(store).list("table"))  # nothing written
    panel.cleaning.window.value = 25
    panel.cleaning.columns.value = ("temperature",)
    panel.show_preview()
    assert panel.cleaning_result.steps[0].rejected == [plant.SPIKE_LINE]  # only the spike
    assert panel.spec()["steps"][0] == {**HAMPEL, "threshold": 3.0, "window": 25, "columns": ["temperature"]}
    report = panel.run()
    assert report.rows_quarantined == 1


def test_a_step_that_changed_nothing_says_why(store):
    panel = IngestPanel(store, dataset="line4", dashboard=True)
    clean = "timestamp,machine,temperature\n" + "".join(
        f"2024-03-01T{h:02d}:00:00Z,line4,{20 + h % 3}\n" for h in range(24) if h != 5
    )
    _upload(panel, "clean.csv", clean.encode())
    panel.max_gap.value = 3
    panel.run()
    assert "no nulls to fill; missing timestamps are filled by Resample" in panel.outcome.value


def test_panel_options_mirror_the_spec_passed(store):
    spec = {"time": "timestamp", "by": ["machine"], "policy": "add_new_columns",
            "steps": [{**HAMPEL, "threshold": 4.5, "window": 25, "columns": ["temperature"]},
                      {"step": "fill_gaps", "max_gap": 2}, {"step": "resample", "rule": "1h"}]}  # fmt: skip
    panel = IngestPanel(store, dataset="line4", spec=spec)
    assert panel.spec() == spec
    failures = {"step": "failures", "ranges": {"temperature": [-40, 60]}, "stuck": 6}
    notebook02 = {**spec, "steps": [failures, *spec["steps"]]}  # a step the panel has no widgets for
    panel = IngestPanel(store, dataset="line4", spec=notebook02)
    assert panel.spec() == notebook02 and "failures" in panel.cleaning.kept_html.value


def test_home_lists_tables_with_state_and_links(store):
    from altakit.ingestion import ingest

    ingest(("day1.csv", plant.day1()), "line4", {"time": "timestamp", "steps": [HAMPEL]}, store=store)
    with pytest.raises(altakit.errors.SchemaChangePending):
        ingest(("day2.csv", plant.day2()), "line4", {"time": "timestamp"}, store=store)
    catalog_of(store).register("model", "line4-model", {"note": "x"}, links={"trained_on": "table:line4@1"})
    home = HomePanel(store, dashboard=True)
    (state,) = home.states
    assert (state.kind, state.name, state.version, state.pending) == ("table", "line4", 1, "added: pressure")
    assert state.quarantined > 0 and state.models == ["model:line4-model@1"]
    html = home.table.value
    assert 'href="schema_review.ipynb?dataset=line4"' in html and 'href="ingest.ipynb?dataset=line4"' in html
    assert 'href="catalog.ipynb?kind=model&amp;name=line4-model"' in html
    assert "<th>rows</th>" in html and state.rows == read_table("line4", store=store).height
    assert home.status_text == "1 dataset(s); 1 with a schema change to review."
    empty = HomePanel(altakit.open_store(store.url + "-empty"))
    assert empty.status_text == "No datasets yet." and "No datasets yet" not in empty.table.value  # once

    from altakit.ingestion.overview import overview
    from altakit.ingestion.replay import replay

    replayed = altakit.open_store(store.url + "-replayed")  # a second write: the quarantine replayed
    first = ingest(
        ("day1.csv", plant.day1()), "line4", {"time": "timestamp", "steps": [HAMPEL]}, store=replayed
    )
    second = replay("line4", store=replayed)
    (state,) = overview(replayed)
    assert state.version == 2 and first.rows_out > 0 and len(second.replayed) > 0
    assert state.rows == read_table("line4", store=replayed).height == first.rows_out + len(second.replayed)


def test_catalog_lists_tables_and_a_bare_name_opens_the_table(store):
    from altakit.ingestion import ingest

    ingest(("day1.csv", plant.day1()), "line4", {"time": "timestamp"}, store=store)
    panel = CatalogPanel(store, name="line4")  # a schema:line4 exists too
    assert panel.selected is not None and str(panel.selected.ref) == "table:line4@1"
    assert "table" in [k for _, k in panel.kind.options]
    assert [r.name for r in CatalogPanel(store, kind="table").records] == ["line4"]
    with pytest.raises(altakit.errors.SchemaChangePending):
        ingest(("day2.csv", plant.day2()), "line4", {"time": "timestamp"}, store=store)
    labels = [label for label, _ in CatalogPanel(store).names.options]
    assert "schema change: line4@1" in labels and not any("_" in k.split(":")[0] for k in labels), labels


def test_a_failed_preview_keeps_no_old_rows(store):
    store.put("raw/day1.csv", plant.day1())
    panel = IngestPanel(store, dataset="line4", source="store:raw/day1.csv", dashboard=True)
    assert panel.show_preview() is not None and "<td>line4</td>" in panel.grid.value
    panel.source_text.value = "raw/missing.csv"
    assert panel.grid.value == "" and panel.schema.value == ""  # a new source: the old rows are gone
    assert panel.show_preview() is None and panel.grid.value == "" and panel.error_message
    assert panel.status_text == "The preview failed: nothing to show."


def test_review_reached_without_a_source_uses_the_upload_the_change_recorded(store):
    ingest_page = IngestPanel(store, dataset="line4", dashboard=True)
    _upload(ingest_page, "day1.csv", plant.day1())
    ingest_page.run()
    _upload(ingest_page, "day2.csv", plant.day2())
    assert ingest_page.run() is None
    review = SchemaReviewPanel(store, dataset="line4", dashboard=True)  # from the home page: no source
    assert review.source == ingest_page.source and review.samples["pressure"][0] == "1012.5"
    review.comment.value = "ok"
    review.approve()
    assert review.ingest_again().version == 2


def test_a_dashboard_given_a_server_path_refuses_it(store):
    panel = IngestPanel(store, dataset="line4", source="/etc/passwd", dashboard=True)
    assert panel.source is None and panel.error_message == "dashboards read only uploads and store keys"


def test_a_plant_log_with_a_line_column_previews_every_step_in_plain_words(store):
    """A ``line`` column (the production line) and Resample used to break the cleaning preview;
    interpolating fills the missing hour; types, steps and set-aside rows read as words."""
    rows = ["timestamp,line,temperature"] + [
        f"2026-12-02 {h:02d}:00:00,L2,{141.7 if h == 15 else 60 + h % 4}" for h in range(24) if h != 9
    ]
    panel = IngestPanel(store, dataset="line2", dashboard=True)
    _upload(panel, "day2.csv", ("\n".join(rows) + "\n").encode())
    panel.outliers.value, panel.outlier_action.value = "hampel", "quarantine"
    panel.resample.value, panel.cleaning.resample_how.value = "1h", "linear"
    assert panel.show_preview() is not None and panel.error_message == ""
    hampel, resample = panel.cleaning_result.steps
    assert hampel.rejected == [16] and resample.added == 2  # the spike; its hour and hour 9 refilled
    shown = panel.cleaning_html.value
    assert "Outliers (Hampel): set aside" in shown and "Resample (interpolate): " in shown
    assert "outliers:hampel" not in shown and "<th>file line</th>" in shown
    assert "date and time (UTC)" in panel.schema.value and "YYYY-MM-DD hh:mm:ss" in panel.schema.value
    assert "float64" not in panel.schema.value and "%Y" not in panel.schema.value
    assert panel.policy.options[0] == ("hold for review", "review")
    report = panel.run()
    assert report.version == 1 and read_table("line2", store=store).height == 24
    assert 'href="training.ipynb?dataset=table%3Aline2"' in panel.outcome.value  # where to go next
    panel.show_quarantine()
    shown = panel.quarantine_grid.value
    assert "<th>why set aside</th>" in shown and "141.7" in shown and "_entry" not in shown


def test_dashboards_show_no_commands_or_url_editing_and_link_home():
    import json
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "notebooks" / "dashboards"
    for path in sorted(folder.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        assert "altakit " not in text.replace("# altakit", "") and "?dataset=" not in text, path.name
        assert path.name == "home.ipynb" or "(home.ipynb)" in text, path.name
