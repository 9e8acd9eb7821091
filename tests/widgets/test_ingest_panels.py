"""IngestPanel and SchemaReviewPanel without a frontend: state, callbacks, errors shown not raised."""

from __future__ import annotations

import re

import pytest
from altakit_widgets.panels import IngestPanel, SchemaReviewPanel
from jupyter_servers import REPO

import altakit
from altakit.errors import SchemaChangePending
from altakit.ingestion import SchemaRegistry, ingest, read_table

DAY1 = REPO / "notebooks" / "data" / "sensors_day1.csv"
DAY2 = REPO / "notebooks" / "data" / "sensors_day2.csv"
SPEC = {"time": "timestamp", "by": ["sensor"]}


@pytest.fixture
def store(tmp_path):
    return altakit.open_store(tmp_path / "store")


def _upload(panel: IngestPanel, name: str, data: bytes) -> None:
    """The messages the browser's upload sends, in small chunks."""
    panel.upload.receive(name, data, chunk=4096)


def test_upload_preview_sort_estimate_and_run(store):
    panel = IngestPanel(store, dataset="sensors")
    assert panel.source is None and panel.kind.value == "upload"
    assert panel.run_button.disabled and panel.estimate_button.disabled  # no source yet
    assert panel.sort_row.layout.display == "none" and panel.upload_progress.description == "Sent"
    panel.run()  # nothing picked: a message with a hint, nothing raised
    assert panel.error_message == "no source picked" and panel.error_hint
    _upload(panel, "day1.csv", DAY1.read_bytes())
    assert not panel.run_button.disabled and not panel.estimate_button.disabled
    panel.dataset.value = " "  # no dataset name: nothing to ingest into
    assert panel.run_button.disabled and panel.estimate_button.disabled
    panel.dataset.value = "sensors"
    assert not panel.run_button.disabled and not panel.estimate_button.disabled
    assert panel.source.startswith("store:uploads/") and panel.source.endswith("/day1.csv")
    assert store.get(panel.source.removeprefix("store:")) == DAY1.read_bytes()  # kept as a raw version
    assert "Received day1.csv" in panel.status_text

    panel.preview_button.click()
    found = panel.preview_result
    assert found.types == {
        "timestamp": "datetime[us, UTC]", "sensor": "string", "temperature": "float64", "humidity": "float64",
    }  # fmt: skip
    assert found.datetime_formats["timestamp"] == ["%Y-%m-%dT%H:%M:%S%.f", "%d.%m.%Y %H:%M"]
    assert found.rows.height == 20 and panel.time.value == "timestamp"  # the time column is guessed
    assert "DD.MM.YYYY hh:mm" in panel.schema.value and "<th>temperature</th>" in panel.grid.value
    assert panel.sort_row.layout.display is None  # sorting once there are rows to sort
    panel.sort_by.value, panel.descending.value = "temperature", True  # what the sort widgets do
    temps = [float(v) for v in found.rows.get_column("temperature")]
    first = panel.grid.value.split("<tbody><tr>")[1].split("</tr>")[0]
    assert f"<td>{found.rows.sort('temperature', descending=True)['temperature'][0]}</td>" in first
    assert max(temps) == float(found.rows.sort("temperature", descending=True)["temperature"][0])

    panel.by.value = "sensor"
    panel.outliers.value, panel.outlier_action.value = "hampel", "quarantine"
    assert panel.cleaning.threshold.description == "Threshold (× typical spread)"
    panel.max_gap.value = 3
    assert panel.spec() == {
        "policy": "review", "time": "timestamp", "by": ["sensor"],
        "steps": [{"step": "outliers", "method": "hampel", "action": "quarantine", "threshold": 3.0,
                   "window": 7},
                  {"step": "fill_gaps", "max_gap": 3}],
    }  # fmt: skip
    panel.estimate_button.click()
    assert panel.estimate_result["rows"] == 852 and "about 852 rows" in panel.estimate_html.value

    moves: list[float] = []
    panel.progress.observe(lambda change: moves.append(change["new"]), "value")
    panel.run_button.click()
    report = panel.report
    assert any(0 < m < 1 for m in moves)  # progress events moved the bar before the end
    assert report.version == 1 and report.rows_in == 852 and report.rows_quarantined > 0
    assert panel.status_text == "sensors@1 written." and panel.progress.value == 1.0
    assert "sensors@1" in panel.outcome.value and f"<td>{report.rows_quarantined}</td>" in panel.outcome.value
    assert f"<th>rows added to the table</th><td>{report.rows_out}</td>" in panel.outcome.value
    assert "commit" not in panel.outcome.value and "schema" not in panel.outcome.value  # plain words
    assert not panel.run_button.disabled  # ready to ingest the next file
    assert panel.quarantine_button.layout.display is None  # shown: rows were set aside
    panel.quarantine_button.click()
    assert panel.quarantined.height == report.rows_quarantined
    assert set(panel.quarantined["_reason"]) == {"outlier (hampel)"}
    assert "outlier (hampel)" in panel.quarantine_grid.value
    assert read_table("sensors", store=store).height == report.rows_out


def test_store_key_source_and_unchanged_rerun(store):
    store.put("raw/day1.csv", DAY1.read_bytes())
    panel = IngestPanel(store, dataset="sensors", source="store:raw/day1.csv")
    assert panel.kind.value == "store" and panel.source == "store:raw/day1.csv"
    panel.time.value = ""
    assert panel.run().version == 1
    panel.kind.value = "url"
    panel.kind.value = "store"
    panel.source_text.value = "raw/"  # a prefix: every key under it
    assert panel.source == "store:raw/"
    report = panel.run()
    assert report.status == "unchanged" and panel.status_text == "sensors: unchanged."
    assert "Already ingested (skipped): raw/day1.csv" in panel.outcome.value
    assert panel.quarantine_button.layout.display == "none"  # nothing set aside: no button


def test_errors_are_shown_not_raised(store, tmp_path):
    panel = IngestPanel(store, dataset="sensors", source=str(tmp_path / "missing.csv"))
    assert panel.show_preview() is None and "no input file matches" in panel.error_message
    panel.source_text.value = "s3://elsewhere/raw/day1.csv"
    assert panel.run() is None and "not under the store's URL" in panel.error_message
    assert panel.error_hint and panel.progress.bar_style == "danger"
    panel.source_text.value = str(DAY1)
    panel.dataset.value = "bad name!"
    assert panel.estimate() is None and "invalid dataset name" in panel.error_message
    panel.dataset.value = ""
    assert panel.run() is None and panel.error_message == "no dataset name"
    panel.dataset.value, panel.resample.value = "sensors", "15m"
    panel.show_preview()
    panel.time.value = ""  # chosen after the preview: resample needs a time column
    assert panel.run() is None and "resample needs a time column" in panel.error_message
    assert "Traceback" not in panel.error.value


def test_schema_change_is_shown_then_reviewed_and_accepted(store):
    ingest(DAY1, "sensors", SPEC, store=store)
    panel = IngestPanel(store, dataset="sensors", source=str(DAY2))
    panel.time.options = [("(none)", ""), ("timestamp", "timestamp")]
    panel.time.value, panel.by.value = "timestamp", "sensor"
    assert panel.run() is None and isinstance(panel.last_exception, SchemaChangePending)
    assert "added: pressure" in panel.error_message and "approve" in panel.error_hint

    review = SchemaReviewPanel(store, dataset="sensors", source=str(DAY2))
    assert review.change is not None and review.policy == "review"
    assert review.status_text == "sensors: added: pressure awaits review."
    assert (
        'class="altakit-diff-added"' in review.diff.value and "var(--jp-success-color1" in review.diff.value
    )
    assert review.samples["pressure"] == ["1013.2", "1011.0", "1010.4"]
    assert "1013.2, 1011.0, 1010.4" in review.diff.value
    assert review.columns == ["timestamp", "sensor", "temperature", "humidity"]
    assert not review.approve_button.disabled and review.reingest_button.disabled
    review.reject_button.click()  # no comment: refused with a hint, nothing decided
    assert review.error_message == "a rejection needs a comment" and review.change is not None
    review.comment.value = "new pressure sensor"
    review.approve_button.click()
    decided = SchemaRegistry(store).changes("sensors")[-1]
    assert decided.doc["status"] == "approved" and decided.doc["decided_by"] == store.writer
    assert review.change is None and "No schema change awaits review" in review.diff.value
    assert "new pressure sensor" in review.audit.value and "approved" in review.audit.value
    assert len(re.findall(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>", review.audit.value)) == 2
    assert not review.reingest_button.disabled and review.comment.value == ""
    review.reingest_button.click()
    assert review.report.version == 2 and "pressure" in review.columns
    assert "pressure" in read_table("sensors", store=store).columns
    assert "sensors@2" in review.table.value


def test_reject_with_comment_and_reviewer_from_hub(store, monkeypatch):
    ingest(DAY1, "sensors", SPEC, store=store)
    with pytest.raises(SchemaChangePending):
        ingest(DAY2, "sensors", SPEC, store=store)
    monkeypatch.setenv("JUPYTERHUB_USER", "ana")
    review = SchemaReviewPanel(store.url, dataset="sensors")
    assert "reviewer: ana" in review.info.value and review.samples["temperature"]  # table samples
    review.comment.value = "pressure is not calibrated yet"
    review.reject()
    latest = SchemaRegistry(store).changes("sensors")[-1]
    assert (latest.doc["status"], latest.doc["decided_by"]) == ("rejected", "ana")
    assert review.reingest_button.disabled and review.approve_button.disabled
    assert "rejected by ana" in review.status_text
    assert "pressure" not in read_table("sensors", store=store).columns


def test_review_panel_without_changes_or_table(store):
    review = SchemaReviewPanel(store, dataset="nothing")
    assert review.change is None and review.columns == [] and review.error_message == ""
    assert "No table yet" in review.table.value and "No schema changes yet" in review.audit.value
    review.dataset.value = "bad name!"  # the callback refreshes; the error is shown
    assert "invalid dataset name" in review.error_message
    review.dataset.value = ""
    assert review.status_text == "Type a dataset name."
    review.approve()  # nothing pending: a no-op, never an exception
