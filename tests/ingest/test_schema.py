"""Schema inference, diff, evolution policies and review."""

from __future__ import annotations

import json

import polars as pl
import pytest

import altakit
from altakit.catalog import catalog_of
from altakit.errors import ConfigError, NotFound, SchemaChangePending, SchemaError
from altakit.ingestion import SchemaRegistry
from altakit.ingestion.schema import Field, Schema, diff, infer, plan

V1 = "ts,sensor,value\n2024-01-01T00:00:00Z,s1,1.5\n2024-01-01T00:15:00Z,s1,2.5\n"
V2 = "ts,sensor,value,humidity\n2024-01-01T00:30:00Z,s1,3.5,40\n2024-01-01T00:45:00Z,s1,4.5,41\n"


def _drop_nulls(doc):
    return {k: v for k, v in doc.items() if v is not None}


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_infer_types():
    df = pl.DataFrame(
        {"i": ["1", "2", None], "f": ["1.5", "2", "x"], "b": ["true", "False", None], "s": ["a", "1", "b"]}
    )
    types, _ = infer(df, threshold=0.6)
    assert types == {"i": "int64", "f": "float64", "b": "bool", "s": "string"}


def test_diff_kinds():
    a = Schema([Field("x", "int64", False), Field("y", "string"), Field("z", "int64")])
    b = Schema([Field("x", "float64", True), Field("z", "string"), Field("w", "bool")])
    d = diff(a, b)
    assert [f.name for f in d.added] == ["w"]
    assert [f.name for f in d.removed] == ["y"]
    assert d.widened == [("x", "int64", "float64")]
    assert d.changed == [("z", "int64", "string")]
    assert d.nullability == [("x", False, True)]
    assert diff(a, a).empty


def test_plan_policies():
    a = Schema([Field("x", "int64")])
    b = Schema([Field("x", "int64"), Field("y", "string")])
    assert plan(a, b, "add_new_columns").target.names == ["x", "y"]
    assert plan(a, b, "ignore").drop == ["y"]
    assert plan(a, b, "rescue").target.names == ["x", "_rescued_data"]
    assert plan(a, b, "review").review
    with pytest.raises(SchemaError):
        plan(a, b, "fail")
    with pytest.raises(SchemaError):
        plan(a, Schema([Field("x", "string")]), "add_new_columns")
    with pytest.raises(ConfigError):
        plan(a, b, "whatever")


def test_review_blocks_until_approved(local_store, tmp_path):
    first = altakit.ingest(_write(tmp_path, "v1.csv", V1), "s", {"time": "ts"}, store=local_store)
    assert first.schema_version == 1 and first.version == 1
    with pytest.raises(SchemaChangePending) as info:
        altakit.ingest(_write(tmp_path, "v2.csv", V2), "s", {"time": "ts"}, store=local_store)
    assert info.value.fields["change"] == "schema_change:s@1"
    assert altakit.read_table("s", store=local_store).height == 2  # nothing written
    reg = SchemaRegistry(local_store)
    pending = reg.pending("s")
    assert pending.doc["summary"] == "added: humidity"
    # re-running while pending does not pile up changes
    with pytest.raises(SchemaChangePending):
        altakit.ingest(_write(tmp_path, "v2.csv", V2), "s", {"time": "ts"}, store=local_store)
    assert len(reg.changes("s")) == 1
    decided = reg.approve("s", by="ana", comment="new humidity sensor")
    assert decided.doc["status"] == "approved" and decided.doc["decided_by"] == "ana"
    assert decided.doc["decided_at"] and decided.doc["comment"] == "new humidity sensor"
    assert reg.approved("s")[1] == 2
    report = altakit.ingest(_write(tmp_path, "v2.csv", V2), "s", {"time": "ts"}, store=local_store)
    assert report.schema_version == 2
    table = altakit.read_table("s", store=local_store).sort("ts")
    assert table.height == 4 and table.get_column("humidity").to_list() == [None, None, 40, 41]
    rec = catalog_of(local_store).get("table", "s", 2)
    assert [str(r) for r in rec.link("schema")] == ["schema:s@2"]
    assert [str(r) for r in rec.link("derived_from")] == ["table:s@1"]


def test_a_changes_files_are_ingested_again_with_the_spec_they_came_with(local_store, tmp_path):
    """The second file came with a cleaning step the table's first ingest did not have: once its change
    is approved, "ingest again" (``SchemaRegistry.ingest_spec``) applies that step, not the older spec."""
    from altakit.ingestion.spec import last_spec

    altakit.ingest(_write(tmp_path, "v1.csv", V1), "s", {"time": "ts"}, store=local_store)
    spiky = V2 + "2024-01-01T01:00:00Z,s1,900.0,42\n"
    spec = {"time": "ts", "steps": [{"step": "failures", "ranges": {"value": [-50, 500]}}]}
    with pytest.raises(SchemaChangePending):
        altakit.ingest(_write(tmp_path, "v2.csv", spiky), "s", spec, store=local_store)
    reg = SchemaRegistry(local_store)
    assert [s["step"] for s in reg.ingest_spec("s")["steps"]] == ["failures"]  # while pending, too
    reg.approve("s", by="ana", comment="new humidity sensor")
    again = reg.ingest_spec("s")
    report = altakit.ingest(_write(tmp_path, "v2.csv", spiky), "s", again, store=local_store)
    assert report.version == 2 and last_spec(local_store, "s")["steps"] == again["steps"]
    values = altakit.read_table("s", store=local_store).get_column("value").to_list()
    assert 900.0 not in values  # the step ran: the spike did not land as a reading


def test_rejected_change_leaves_table_untouched(local_store, tmp_path):
    altakit.ingest(_write(tmp_path, "v1.csv", V1), "s", {"time": "ts"}, store=local_store)
    before = altakit.read_table("s", store=local_store)
    with pytest.raises(SchemaChangePending):
        altakit.ingest(_write(tmp_path, "v2.csv", V2), "s", {"time": "ts"}, store=local_store)
    reg = SchemaRegistry(local_store)
    with pytest.raises(ConfigError):
        reg.reject("s", by="bo")  # a comment is required
    reg.reject("s", by="bo", comment="humidity belongs in another dataset")
    with pytest.raises(SchemaError, match="rejected by bo"):
        altakit.ingest(_write(tmp_path, "v2.csv", V2), "s", {"time": "ts"}, store=local_store)
    assert altakit.read_table("s", store=local_store).equals(before)
    assert reg.approved("s")[1] == 1
    with pytest.raises(NotFound):
        reg.approve("s", by="ana")


def test_add_new_columns_policy(local_store, tmp_path):
    spec = {"time": "ts", "policy": "add_new_columns"}
    altakit.ingest(_write(tmp_path, "v1.csv", V1), "s", spec, store=local_store)
    report = altakit.ingest(_write(tmp_path, "v2.csv", V2), "s", spec, store=local_store)
    assert report.schema_version == 2 and report.schema_change == "added: humidity"
    assert altakit.read_table("s", store=local_store).columns == ["ts", "sensor", "value", "humidity"]


def test_rescue_policy(local_store, tmp_path):
    spec = {"time": "ts", "policy": "rescue"}
    altakit.ingest(_write(tmp_path, "v1.csv", V1), "s", spec, store=local_store)
    bad = V2 + "2024-01-01T01:00:00Z,s1,oops,42\n"
    report = altakit.ingest(_write(tmp_path, "v2.csv", bad), "s", spec, store=local_store)
    assert report.rows_quarantined == 0 and report.rows_written == 3
    table = altakit.read_table("s", store=local_store).sort("ts")
    assert "humidity" not in table.columns
    rescued = [_drop_nulls(json.loads(x)) if x else None for x in table.get_column("_rescued_data").to_list()]
    assert rescued == [
        None,
        None,
        {"humidity": "40"},
        {"humidity": "41"},
        {"humidity": "42", "value": "oops"},
    ]


def test_fail_and_ignore_policies(local_store, tmp_path):
    altakit.ingest(_write(tmp_path, "v1.csv", V1), "s", {"time": "ts", "policy": "fail"}, store=local_store)
    with pytest.raises(SchemaError):
        altakit.ingest(
            _write(tmp_path, "v2.csv", V2), "s", {"time": "ts", "policy": "fail"}, store=local_store
        )
    report = altakit.ingest(
        _write(tmp_path, "v2.csv", V2), "s", {"time": "ts", "policy": "ignore"}, store=local_store
    )
    assert report.rows_written == 2
    assert altakit.read_table("s", store=local_store).columns == ["ts", "sensor", "value"]


def test_narrower_types_fit_the_approved_schema(local_store, tmp_path):
    altakit.ingest(_write(tmp_path, "a.csv", "v\n1.5\n"), "s", store=local_store)
    report = altakit.ingest(_write(tmp_path, "b.csv", "v\n2\n"), "s", store=local_store)  # int into float64
    assert report.status == "written" and report.schema_change is None
    assert sorted(altakit.read_table("s", store=local_store).get_column("v").to_list()) == [1.5, 2.0]


def test_the_pending_change_keeps_every_file_and_the_latest_spec(local_store, tmp_path):
    """The same new schema proposed again while pending: another file with the same spec joins the
    change's files; the same file sent with another spec replaces the spec (and the files) that
    "ingest again" uses; the same file and spec again records nothing."""
    altakit.ingest(_write(tmp_path, "v1.csv", V1), "s", {"time": "ts"}, store=local_store)
    a = local_store.put("inbox/a.csv", V2.encode())
    b = local_store.put("inbox/b.csv", V2.replace("00:30", "00:35").replace("00:45", "00:50").encode())
    reg = SchemaRegistry(local_store)

    def propose(key, spec):
        with pytest.raises(SchemaChangePending) as info:
            altakit.ingest(f"store:{key}", "s", spec, store=local_store)
        return info.value.fields["change"], reg.pending("s").doc

    plain = {"time": "ts"}
    cleaned = {"time": "ts", "steps": [{"step": "failures", "ranges": {"value": [0, 99]}}]}
    first, doc = propose(a.key, plain)
    assert first == "schema_change:s@1" and doc["sources"] == [f"store:{a.key}"]
    again, doc = propose(a.key, plain)
    assert again == first and len(reg.changes("s")) == 1
    both, doc = propose(b.key, plain)
    assert both == "schema_change:s@2" and doc["sources"] == [f"store:{a.key}", f"store:{b.key}"]
    assert doc["summary"] == "added: humidity" and doc["status"] == "pending"
    latest, doc = propose(a.key, cleaned)
    assert latest == "schema_change:s@3" and doc["sources"] == [f"store:{a.key}"]
    assert reg.ingest_spec("s")["steps"] == cleaned["steps"]
    assert [str(r) for r in reg.pending("s").link("base")] == ["schema:s@1"]
    reg.approve("s", by="ana", comment="humidity")
    assert reg.approved("s")[1] == 2 and reg.pending("s") is None
