"""Refs, names and docs: what the catalog accepts, and the typed errors for what it refuses."""

from __future__ import annotations

import json

import pytest

from altakit.catalog import Catalog, Record, Ref
from altakit.errors import ConfigError, NotFound


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("dataset:sensors@3", Ref("dataset", "sensors", 3)),
        ("dataset:sensors", Ref("dataset", "sensors", None)),
        ("model:team/churn-v2.1@12", Ref("model", "team/churn-v2.1", 12)),
    ],
)
def test_ref_parse_round_trips(text: str, ref: Ref) -> None:
    assert Ref.parse(text) == ref
    assert str(ref) == text
    assert Ref.parse(ref) is ref


@pytest.mark.parametrize(
    "text",
    ["sensors", "Dataset:x", "dataset:", "dataset:x@", "dataset:x@0", "dataset:x@-1", "dataset:x@1.5",
     "dataset:a/../b", "dataset:/abs", "dataset:a//b", "dataset:x@1@2", "data set:x", "dataset:x y"],
)  # fmt: skip
def test_malformed_refs_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        Ref.parse(text)
    assert info.value.hint


def test_bad_input_is_refused_and_nothing_is_written(local_store, tmp_path) -> None:
    cat = Catalog(local_store, index_url=f"sqlite:///{tmp_path / 'i.sqlite'}")
    bad_calls = [
        lambda: cat.register("Dataset", "x", {}),
        lambda: cat.register("dataset", "a/../b", {}),
        lambda: cat.register("dataset", "x", ["not", "a", "dict"]),  # type: ignore[arg-type]
        lambda: cat.register("dataset", "x", {"when": object()}),
        lambda: cat.register("dataset", "x", {"nan": float("nan")}),
        lambda: cat.register("dataset", "x", {}, links={"bad relation": "schema:s@1"}),
        lambda: cat.register("dataset", "x", {}, links={"schema": "not a ref"}),
    ]
    for call in bad_calls:
        with pytest.raises(ConfigError):
            call()
    with pytest.raises(NotFound) as info:
        cat.register("dataset", "x", {}, links={"schema": "schema:missing"})
    assert "schema:missing" in str(info.value) and info.value.hint
    with pytest.raises(NotFound):
        cat.register("dataset", "x", {}, links={"schema": "schema:missing@2"})
    assert local_store.list("_altakit/") == []
    assert cat.versions("dataset", "x") == []


def test_unknown_refs_are_not_found(catalog) -> None:
    catalog.register("dataset", "sensors", {})
    for ref in ("dataset:sensors@2", "dataset:other", "schema:sensors"):
        with pytest.raises(NotFound) as info:
            catalog.resolve(ref)
        assert ref in str(info.value) and info.value.hint
    with pytest.raises(ConfigError):
        catalog.get("dataset", "sensors", 0)


def test_record_is_frozen_and_doc_is_a_copy(catalog) -> None:
    doc = {"rows": 3, "columns": ["a", "b"]}
    rec = catalog.register("dataset", "sensors", doc)
    doc["rows"] = 99
    assert isinstance(rec, Record)
    assert rec.doc == {"rows": 3, "columns": ["a", "b"]}
    assert catalog.get("dataset", "sensors").doc["rows"] == 3
    with pytest.raises(AttributeError):
        rec.version = 2  # type: ignore[misc]


def test_to_json_is_the_one_rendering_and_is_json(catalog) -> None:
    catalog.register("schema", "sensors", {"columns": {"t": "datetime"}})
    catalog.register("dataset", "sensors", {"rows": 3, "note": "é"}, links={"schema": "schema:sensors"})
    rec = catalog.resolve("dataset:sensors")
    body = rec.to_json()
    assert body == {
        "ref": "dataset:sensors@1",
        "kind": "dataset",
        "name": "sensors",
        "version": 1,
        "created": rec.created.isoformat(),
        "writer": rec.writer,
        "links": {"schema": ["schema:sensors@1"]},
        "doc": {"rows": 3, "note": "é"},
    }
    assert json.loads(json.dumps(body)) == body
