"""The quarantine in IngestPanel's outcome and in SchemaReviewPanel: open rows shown, Replay and Discard."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from altakit_widgets.panels import IngestPanel, SchemaReviewPanel
from fixtures.readings import SPEC

from altakit.catalog import catalog_of
from altakit.ingestion import ingest, read_table
from altakit.ingestion.quarantine_log import accounting


@pytest.fixture
def store(readings_store):
    return readings_store


def test_ingest_outcome_shows_the_quarantine_and_replays_it(store, tmp_path):
    panel = IngestPanel(store, dataset="s", source=str(tmp_path / "bad.csv"))
    panel.show_preview()
    assert panel.time.value == "ts"  # guessed from the preview
    report = panel.run()
    assert report.version == 2 and report.rows_quarantined == 2
    box = panel.quarantine
    assert box.widget.layout.display == "none" and panel.quarantine_button.layout.display is None
    panel.quarantine_button.click()
    assert box.widget.layout.display is None and panel.quarantined.height == 2
    assert "12.5°" in panel.quarantine_grid.value and "2 open from this ingest" in box.summary.value
    # a parsed time as people read it: to the second (UTC), no microseconds or zone digits
    assert "<td>2024-01-02 01:00:00</td>" in panel.quarantine_grid.value and ".000000" not in box.grid.value
    assert "2 rows quarantined = 0 replayed + 2 open + 0 discarded" in box.summary.value
    assert [c for c, _ in box.column.options][1:] == ["ts", "sensor", "temp"]

    assert box.format.placeholder == "e.g. DD.MM.YYYY hh:mm"  # the pattern people write, not strftime
    box.column.value, box.format.value = "ts", "DD.MM.YYYY hh:mm"
    assert box.fix()["formats"] == {"ts": "%d.%m.%Y %H:%M"}  # what replay reads
    box.format.value = "%Y/%m/%d %Hh%M"  # codes pass unchanged
    box.reason.value, box.comment.value = "'ts'", "logger v2"
    box.replay_button.click()
    assert box.report.version == 3 and len(box.report.replayed) == 1, panel.error_message
    assert panel.status_text == "1 replayed, 0 discarded: s@3 written."
    assert box.rows.height == 1 and "1 replayed + 1 open" in box.summary.value
    assert (
        read_table("s", store=store).filter(pl.col("ts") == datetime(2024, 1, 2, 5, tzinfo=UTC)).height == 1
    )
    doc = catalog_of(store).get("table", "s", 3).doc
    assert doc["replay"]["comment"] == "logger v2" and doc["replay"]["by"] == store.writer

    # a fix that still fails: the row stays, with the new reason
    box.column.value, box.format.value, box.reason.value = "temp", "", ""
    box.old.value, box.new.value = "12.5°", "warm"
    box.replay_button.click()
    assert box.report.status == "failed" and "'warm' is not float64" in box.rows["_reason"][0]
    assert "still do not fit" in panel.status_text and "warm" in panel.quarantine_grid.value
    box.discard_button.click()  # no comment: the discard needs a reason, shown as message + hint
    assert panel.error_message == "a discard needs a reason" and panel.error_hint
    box.comment.value, box.reason.value = "sensor broken that day", "no such reason"
    box.discard_button.click()  # the reason filter holds for a discard too
    assert box.report.discarded == [] and box.rows.height == 1
    box.comment.value, box.reason.value = "sensor broken that day", "'warm'"
    box.discard_button.click()
    assert box.report.discarded and box.rows.height == 0 and box.discard_button.disabled
    assert accounting("s", store=store) == {"quarantined": 2, "replayed": 1, "open": 0, "discarded": 1}


def test_schema_review_panel_shows_every_open_row_and_replays(store, tmp_path):
    ingest(str(tmp_path / "bad.csv"), "s", SPEC, store=store)
    panel = SchemaReviewPanel(store, dataset="s")
    box = panel.quarantine
    assert box.rows.height == 2 and "12.5°" in box.grid.value and not box.replay_button.disabled
    edited = box.rows.with_columns(temp=pl.lit("12.5"))  # a frame edited in the notebook
    report = box.replay(edited)
    assert report.version == 3 and len(report.replayed) == 1 and len(report.failed) == 1
    assert box.rows.height == 1 and "'2024/01/02 05h00'" in box.rows["_reason"][0]
    panel.dataset.value = ""
    assert box.rows is None and box.grid.value == "" and box.replay_button.disabled
    panel.dataset.value = "nothing-here"
    assert box.rows.height == 0 and box.replay_button.disabled and not panel.error_message
    assert "No rows set aside." in box.summary.value and box.grid.value == "" and box.discard_button.disabled
