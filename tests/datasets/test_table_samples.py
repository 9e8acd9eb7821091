"""Typed samples written from a table version: the columns asked for, the lineage, the refusals."""

from __future__ import annotations

import pytest
from fixtures.two_sensors import SPEC, two_sensors_csv

import altakit
from altakit.catalog import catalog_of
from altakit.datasets.from_table import table_columns, write_table_dataset
from altakit.errors import ConfigError, NotFound


@pytest.fixture
def store(tmp_path):
    from altakit.ingestion import ingest

    store = altakit.open_store(tmp_path / "store")
    for day in (1, 2):
        csv = two_sensors_csv(tmp_path / f"day{day}.csv", rows=20 * day, seed=day)
        assert ingest(str(csv), "line4", SPEC, store=store).version == day
    return store


def test_columns_and_a_regression_dataset_from_an_older_version(store):
    assert table_columns("line4@1", store=store) == {"ts": "Datetime", "sensor": "String", "temp": "Float64",
                                                     "hum": "Float64"}  # fmt: skip
    tab = write_table_dataset("line4@1", features=["hum"], target="temp", store=store)
    assert (tab.table, tab.task, tab.rows, tab.classes) == ("line4@1", "regression", 20, [])
    rows = tab.dataset.head(20)
    assert rows[0].x.shape == (1,) and str(rows[0].x.dtype) == "float32"
    assert sorted(round(r.y, 2) for r in rows) == sorted(float(r.label) for r in rows)
    links = catalog_of(store).get("dataset", "line4-temp", 1).links
    assert ("derived_from", "table:line4@1") in [(rel, str(ref)) for rel, ref in links]


def test_classification_latest_version_is_written_once(store):
    tab = write_table_dataset("line4", features=["temp", "hum"], target="sensor", store=store)
    assert (tab.table, tab.task, tab.classes, tab.rows) == ("line4@2", "classification", ["a", "b"], 60)
    assert {r.label: r.y for r in tab.dataset.head(60)} == {"a": 0.0, "b": 1.0}
    again = write_table_dataset("line4", features=["temp", "hum"], target="sensor", store=store)
    assert again.dataset.version == tab.dataset.version == 1  # found, not written again


def test_refusals_name_the_column_and_what_to_do(store):
    with pytest.raises(ConfigError, match="'sensor' of table line4@2 is String, not a number") as exc:
        write_table_dataset("line4", features=["sensor"], target="temp", store=store)
    assert exc.value.hint == "pick numeric or boolean columns as features"
    with pytest.raises(NotFound, match="no column 'pressure'"):
        write_table_dataset("line4", features=["pressure"], target="temp", store=store)
    with pytest.raises(ConfigError, match="also a feature"):
        write_table_dataset("line4", features=["temp"], target="temp", store=store)
    with pytest.raises(ConfigError, match="not a number to regress"):
        write_table_dataset("line4", features=["temp"], target="sensor", task="regression", store=store)
    with pytest.raises(NotFound):
        write_table_dataset("line5", features=["temp"], target="hum", store=store)
    assert catalog_of(store).list("dataset") == []  # nothing written by a refusal
