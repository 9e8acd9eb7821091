"""Panel logic without a frontend: state, callbacks, and errors shown in the panel, never raised."""

from __future__ import annotations

import pytest
from altakit_widgets.panels import CatalogPanel, Panel

import altakit
from altakit.catalog import catalog_of
from altakit.errors import NotFound, StoreUnavailable


@pytest.fixture
def store(tmp_path):
    store = altakit.open_store(tmp_path / "store")
    cat = catalog_of(store)
    cat.register("schema", "sensors", {"columns": ["t", "temp"]})
    cat.register("dataset", "sensors", {"rows": 10}, links={"schema": "schema:sensors"})
    cat.register("dataset", "sensors", {"rows": 20}, links={"schema": "schema:sensors"})
    cat.register("dataset", "images", {"count": 5})
    cat.register("model", "forecast", {"mae": 0.4}, links={"trained_on": "dataset:sensors@2"})
    cat.register("run", "01_ingest", {"status": "ok"})
    cat.close()
    return store


def test_base_shows_altakit_errors_with_hint_and_others_generically():
    panel = Panel("Demo")

    def missing():
        raise NotFound("no dataset 'x'", hint="see catalog.list()")

    assert panel.call(missing) is None
    assert (panel.error_message, panel.error_hint) == ("no dataset 'x'", "see catalog.list()")
    assert "hint: see catalog.list()" in panel.error.value and "Traceback" not in panel.error.value
    assert panel.call(lambda: {}["secret internals"]) is None
    assert panel.error_message == "Something went wrong (KeyError)."
    assert "secret internals" not in panel.error.value
    assert panel.call(lambda: 42) == 42
    assert panel.error.value == "" and panel.error_message == ""
    panel.set_status("3 records")
    assert "3 records" in panel.status.value and "var(--jp-" in panel.widget.children[0].value


def test_lists_latest_of_each_record(store):
    panel = CatalogPanel(store)
    assert [str(r.ref) for r in panel.records] == [
        "dataset:images@1", "dataset:sensors@2", "model:forecast@1", "run:01_ingest@1", "schema:sensors@1",
    ]  # fmt: skip
    assert panel.selected is None and panel.status_text == "5 records."
    panel.kind.value = "model"  # the dropdown's callback lists again
    assert [r.name for r in panel.records] == ["forecast"]
    assert panel.names.options == (("model: forecast@1", "model:forecast"),)


def test_selecting_shows_versions_doc_and_lineage(store):
    panel = CatalogPanel(store, kind="dataset")
    panel.names.value = "dataset:sensors"  # what a click does
    assert [r.version for r in panel.history] == [1, 2]
    assert panel.versions.value == 2 and panel.selected.doc == {"rows": 20}
    assert [(str(a), rel, str(b)) for a, rel, b in panel.upstream] == [
        ("dataset:sensors@2", "schema", "schema:sensors@1")
    ]
    assert [str(a) for a, _, _ in panel.downstream] == ["model:forecast@1"]
    assert "&quot;rows&quot;: 20" in panel.details.value and "model:forecast@1" in panel.details.value
    panel.versions.value = 1
    assert panel.selected.doc == {"rows": 10} and panel.downstream == []


def test_name_and_kind_preselect(store):
    panel = CatalogPanel(store, name="forecast")
    assert str(panel.selected.ref) == "model:forecast@1"
    assert [str(b) for _, _, b in panel.upstream] == ["dataset:sensors@2", "schema:sensors@1"]
    assert CatalogPanel(store, kind="run", name="01_ingest").names.value == "run:01_ingest"


def test_text_filter_uses_search(store):
    panel = CatalogPanel(store)
    panel.text.value = "temp"  # what Enter in the filter box does
    assert [str(r.ref) for r in panel.records] == ["schema:sensors@1"]
    assert panel.status_text == "1 record matching 'temp'."
    panel.text.value = "nothing-like-this"
    panel.refresh_button.click()
    assert panel.records == [] and panel.names.options == () and panel.selected is None


def test_unknown_record_shows_message_and_hint(store):
    panel = CatalogPanel(store)
    panel.select("dataset:nope")
    assert "no record dataset:nope" in panel.error_message and panel.error_hint
    panel.select("not a ref")
    assert "malformed reference" in panel.error_message
    panel.select("dataset:sensors@9")
    assert "no record dataset:sensors@9" in panel.error_message


def test_empty_catalog_says_so(tmp_path):
    panel = CatalogPanel(str(tmp_path / "empty"))
    assert panel.records == [] and panel.status_text == "No records yet."
    assert panel.error_message == ""


def test_unreachable_index_is_shown_not_raised(tmp_path):
    from altakit.catalog import Catalog

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cat = Catalog(altakit.open_store(tmp_path / "store"), index_url=f"sqlite:///{blocker}/sub/index.sqlite")
    panel = CatalogPanel(cat)
    assert panel.records == []
    assert "cannot create the catalog index folder" in panel.error_message
    assert isinstance(panel.last_exception, StoreUnavailable) and panel.error_hint
