"""Catalog kinds of ingestion have one owner each; older stores keep working; engines come from a registry."""

from __future__ import annotations

import hashlib
import json

import pytest

import altakit
from altakit.catalog import catalog_of
from altakit.errors import ConfigError, CorruptObject, MissingDependency, NotFound

CSV = b"ts,value\n2024-01-01T00:00:00Z,1.5\n2024-01-01T00:15:00Z,2.5\n"


def _old_sample_type_schema(name: str, fields: list[dict]) -> dict:
    """A ``schema`` record as the old ``shards.register_schema`` wrote it for ``@altakit.sample(name=…)``."""
    doc = {"name": name, "version": 1, "fields": fields}
    body = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return {**doc, "fingerprint": hashlib.sha256(body.encode()).hexdigest()[:16]}


SAMPLE_FIELDS = [
    {"name": "temperature", "kind": "float", "optional": False},
    {"name": "image", "kind": "array", "optional": False, "dtype": "uint8", "shape": [28, 28]},
]


def test_old_sample_type_schema_records_are_passed_over(local_store):
    from altakit.ingestion import SchemaRegistry

    cat = catalog_of(local_store)
    cat.register("schema", "sensors", _old_sample_type_schema("sensors", SAMPLE_FIELDS))
    reg = SchemaRegistry(local_store)
    assert reg.approved("sensors") is None  # not a table schema: no raw KeyError 'type'
    assert reg.history("sensors") == []

    first = altakit.ingest(("a.csv", CSV), "sensors", {"time": "ts"}, store=local_store)
    assert first.status == "written" and first.schema_version == 2  # numbering goes on after @1
    assert reg.approved("sensors")[1] == 2
    cat.register("schema", "sensors", _old_sample_type_schema("sensors", SAMPLE_FIELDS[:1]))  # @3, later
    schema, version = reg.approved("sensors")
    assert version == 2 and schema.names == ["ts", "value"]
    assert [r.version for r in reg.history("sensors")] == [2]
    with pytest.raises(NotFound, match="sample type"):
        reg.approved("sensors", 1)
    again = altakit.ingest(
        ("b.csv", CSV.replace(b"00:", b"01:")), "sensors", {"time": "ts"}, store=local_store
    )
    assert again.status == "written" and again.schema_version == 2
    rec = cat.get("table", "sensors", 2)
    assert [str(r) for r in rec.link("schema")] == ["schema:sensors@2"]
    # the documents keep the keys altakit has always written
    assert sorted(cat.get("schema", "sensors", 2).doc) == ["approved_at", "approved_by", "comment", "fields"]
    assert cat.get("schema", "sensors", 2).doc["fields"][0] == {
        "name": "ts", "type": "datetime[us, UTC]", "nullable": False,
    }  # fmt: skip
    assert sorted(rec.doc) == sorted(
        ["delta_version", "quarantine_version", "uri", "ingest_id", "sources", "rows_in", "rows_written",
         "rows_quarantined", "rows_out", "steps", "quarantine_reasons", "engine", "spec"]
    )  # fmt: skip


def test_a_malformed_table_record_is_a_typed_error(local_store):
    altakit.ingest(("a.csv", CSV), "t", {"time": "ts"}, store=local_store)
    good = catalog_of(local_store).get("table", "t", 1).doc
    catalog_of(local_store).register("table", "t", {k: v for k, v in good.items() if k != "delta_version"})
    with pytest.raises(CorruptObject, match=r"table:t@2.*delta_version"):
        altakit.read_table("t@2", store=local_store)
    # pending changes are typed documents too: the decision keys appear once decided
    altakit.ingest(("a.csv", CSV), "u", {"time": "ts"}, store=local_store)
    with pytest.raises(altakit.errors.SchemaChangePending):
        altakit.ingest(
            ("b.csv", b"ts,other\n2024-01-02T00:00:00Z,x\n"), "u", {"time": "ts"}, store=local_store
        )
    from altakit.ingestion.review import SchemaRegistry, change_doc

    reg = SchemaRegistry(local_store)
    pending = reg.pending("u")
    assert "decided_by" not in pending.doc and change_doc(pending).status == "pending"
    decided = reg.reject("u", by="ana", comment="not this column")
    assert change_doc(decided).decided_by == "ana" and "schema_version" not in decided.doc


def test_engines_come_from_a_registry(local_store):
    from altakit.ingestion import IngestJob
    from altakit.ingestion.engine import default_engines

    local = default_engines().get("local")
    calls: list[int] = []

    class Counting:
        def process(self, files, spec, decide, approved, *, progress=None, sink=None):
            calls.append(len(files))
            return local.process(files, spec, decide, approved, progress=progress)

    reg = default_engines()
    reg.register("local", Counting())
    report = IngestJob(("a.csv", CSV), "t", {"time": "ts"}, store=local_store, engines=reg).run()
    assert report.status == "written" and calls == [1]
    reg.register("nowhere", "altakit_no_such_engine_module", extra="spark")
    with pytest.raises(MissingDependency) as missing:
        reg.get("nowhere")
    assert missing.value.fields["extra"] == "spark"
    with pytest.raises(ConfigError, match="unknown engine"):
        reg.get("flink")
    assert default_engines().names() == ["local", "spark"]


def test_fields_name_their_type_dtype_and_store_it_as_type():
    from altakit.ingestion.schema import Field, Schema

    field = Field("x", "int64", nullable=False)
    assert field.dtype == "int64" and Schema([field]).to_doc() == [
        {"name": "x", "type": "int64", "nullable": False}
    ]
    assert Schema.from_doc([{"name": "x", "type": "int64"}]).fields == [Field("x", "int64")]
