"""``docs/catalog.md``: its JSON Schemas match the record models, and records the library writes fit them.

Real records are written the way users write them (an ingest, a schema change, a dataset of
typed samples, a model with an alias, a run) and every stored record is validated as stored:
the envelope against the envelope schema, its ``doc`` against its kind's schema, with the
``jsonschema`` package.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import altakit
from altakit.catalog.ledger import record_keys
from altakit.errors import SchemaChangePending

ROOT = Path(__file__).resolve().parents[2]


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location("catalog_doc", ROOT / "tools" / "catalog_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["catalog_doc"] = module
    spec.loader.exec_module(module)
    return module


tool = _tool()


def test_page_is_up_to_date_with_the_models() -> None:
    page = tool.PAGE.read_text(encoding="utf-8")
    assert tool.render(page) == page, "docs/catalog.md is out of date: run python tools/catalog_doc.py"


def test_every_record_doc_is_on_the_page() -> None:
    """Every ``RecordDoc`` subclass in the package (found in the source) is one of the tool's owners."""
    found = set()
    for path in sorted((ROOT / "altakit").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                getattr(base, "id", getattr(base, "attr", None)) == "RecordDoc" for base in node.bases
            ):
                found.add(f"{module}:{node.name}")
    assert found == set(tool.OWNERS)
    kinds = [cls.KIND for cls in tool.owners()]
    assert len(kinds) == len(set(kinds)) == 8
    page = tool.PAGE.read_text(encoding="utf-8")
    for kind in kinds:
        assert f"### `{kind}`" in page


def test_schemas_say_what_the_models_check() -> None:
    table = tool.schemas()["table"]
    assert table["additionalProperties"] is True
    assert {"delta_version", "quarantine_version", "uri"} <= set(table["required"])
    assert table["properties"]["quarantine_version"]["type"] == ["integer", "null"]
    assert "Delta version" in table["properties"]["delta_version"]["description"]
    assert tool.schemas()["schema_change"]["properties"]["status"] == {
        "enum": ["pending", "approved", "rejected"]
    }


def _validator(schema: dict[str, Any]) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schemas_are_valid_json_schemas() -> None:
    _validator(tool.envelope_schema())
    for schema in tool.schemas().values():
        _validator(schema)


def _write_every_kind(store: Any, tmp_path: Path) -> None:
    from altakit.datasets.samples import sample
    from altakit.ingestion import SchemaRegistry
    from altakit.runs.record import RunDoc, environment, record_run
    from altakit.train.registry import ModelRegistry

    # table + schema (an ingest), schema_change (a new column under review), then approved
    v1 = tmp_path / "v1.csv"
    v1.write_text("ts,sensor,value\n2024-01-01T00:00:00Z,s1,1.5\n2024-01-01T00:15:00Z,s1,oops\n")
    altakit.ingest(v1, "sensors", {"time": "ts"}, store=store)
    v2 = tmp_path / "v2.csv"
    v2.write_text("ts,sensor,value,humidity\n2024-01-01T00:30:00Z,s1,3.5,40\n")
    with pytest.raises(SchemaChangePending):
        altakit.ingest(v2, "sensors", {"time": "ts"}, store=store)
    SchemaRegistry(store).approve("sensors", by="ana", comment="humidity is fine")
    altakit.ingest(v2, "sensors", {"time": "ts"}, store=store)

    # dataset + sample_type
    @sample(name="point")
    class Point:
        x: float
        label: str

    altakit.write_dataset([Point(float(i), str(i)) for i in range(5)], "points", store=store, progress=False)

    # model + model_alias (a torch model when torch is here)
    torch = pytest.importorskip("torch")
    registry = ModelRegistry(store)
    registry.register("tiny", torch.nn.Linear(2, 1), metrics={"acc": 0.5}, dataset="points@1")
    registry.promote("tiny", 1, "champion", reason="first")

    # run
    run = RunDoc("finished", {"rows": 5}, "2026-01-02T03:04:05Z", environment(), seconds=1.5)
    record_run(store, "nightly", run)


def test_real_records_fit_the_schemas(tmp_path: Path) -> None:
    store = altakit.open_store(tmp_path / "store")
    _write_every_kind(store, tmp_path)
    envelope = _validator(tool.envelope_schema())
    docs = {kind: _validator(schema) for kind, schema in tool.schemas().items()}
    seen: dict[str, int] = {}
    for kind, name, version, key in record_keys(store):
        stored = json.loads(store.get(key))
        where = f"{kind}:{name}@{version}"
        errors = [e.message for e in envelope.iter_errors(stored)]
        assert not errors, (where, errors)
        assert (stored["kind"], stored["name"], stored["version"]) == (kind, name, version)
        errors = [f"{list(e.path)}: {e.message}" for e in docs[kind].iter_errors(stored["doc"])]
        assert not errors, (where, errors)
        seen[kind] = seen.get(kind, 0) + 1
    assert set(seen) == set(docs), seen  # every kind was written and checked


def test_a_broken_record_does_not_fit() -> None:
    table = _validator(tool.schemas()["table"])
    assert not table.is_valid({"delta_version": "3"})
    alias = _validator(tool.schemas()["model_alias"])
    good = {"model": "m", "alias": "champion", "version": 2, "previous": 1, "stack": [1], "action": "move"}
    assert alias.is_valid({**good, "someday": "a key a newer altakit wrote"})  # extra keys are allowed
    assert not alias.is_valid({**good, "action": "teleport"})
