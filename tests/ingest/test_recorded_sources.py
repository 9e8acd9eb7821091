"""Table records say where sources came from without this machine's private absolute paths."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zipfile
from pathlib import Path

import polars as pl

import altakit
from altakit.catalog import catalog_of
from altakit.datasets import tables
from altakit.ingestion import replay
from altakit.ingestion.sources import CWD_ROOT, FOLDER_ROOT

SPEC = {"time": "ts", "by": ["sensor"]}


def _csv(start: int, n: int) -> bytes:
    rows = "".join(f"2024-01-01T00:{start + i:02d}:00Z,s1,{start + i}\n" for i in range(n))
    return ("ts,sensor,value\n" + rows).encode()


def _private(text: str, tmp_path: Path) -> list[str]:
    """This machine's folders that ``text`` spells out."""
    spots = {str(tmp_path), str(tmp_path.resolve()), os.path.expanduser("~"), os.getcwd(), "/tmp/"}
    return sorted(s for s in spots if s and s in text)


def test_absolute_paths_are_recorded_relative_to_their_folder(local_store, tmp_path):
    raw = tmp_path / "raw"
    (raw / "june").mkdir(parents=True)
    (raw / "a.csv").write_bytes(_csv(0, 3))
    (raw / "june" / "b.csv.gz").write_bytes(gzip.compress(_csv(3, 3)))
    with zipfile.ZipFile(raw / "june" / "c.zip", "w") as z:
        z.writestr("inner/c.csv", _csv(6, 3))
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as z:
        z.writestr("d.csv", _csv(9, 3))
    (raw / "june" / "d.zip.gz").write_bytes(gzip.compress((tmp_path / "d.zip").read_bytes()))
    report = altakit.ingest([str(raw / "a.csv"), str(raw / "june" / "*.*")], "t", SPEC, store=local_store)
    assert report.rows_written == 12
    rec = catalog_of(local_store).get("table", "t", 1)
    text = json.dumps(rec.to_json())
    assert _private(text, tmp_path) == [], text
    assert rec.doc["sources_root"] == FOLDER_ROOT
    assert [(s["name"], s["from"]) for s in rec.doc["sources"]] == [
        ("a.csv", "path"),
        ("june/b.csv", "path"),  # named as read, like a quarantined row's _source
        ("june/c.zip/inner/c.csv", "path"),
        ("june/d.zip/d.csv", "path"),
    ]
    # the table's location too: relative to the store's root
    assert rec.doc["uri"] == ".altakit-tables/t"
    assert (local_store.root / rec.doc["uri"] / "_delta_log").is_dir()
    # the report still names the files as the caller gave them
    assert report.sources[0]["name"] == str(raw / "a.csv")


def test_paths_under_the_current_directory_are_relative_to_it(local_store, tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_bytes(_csv(0, 3))
    monkeypatch.chdir(tmp_path)
    altakit.ingest(str(tmp_path / "data" / "a.csv"), "t", SPEC, store=local_store)
    altakit.ingest(("b.csv", _csv(3, 2)), "t", SPEC, store=local_store)
    first, second = (r.doc for r in catalog_of(local_store).versions("table", "t"))
    assert first["sources_root"] == CWD_ROOT and first["sources"][0]["name"] == "data/a.csv"
    # an upload has no local path: no root stated
    assert "sources_root" not in second and second["sources"][0] | {"sha256": ""} == {
        "name": "b.csv",
        "sha256": "",
        "bytes": len(_csv(3, 2)),
        "skipped": False,
        "from": "upload",
    }


def test_store_keys_are_recorded_as_keys(local_store, tmp_path):
    local_store.put("raw/a.csv", _csv(0, 3))
    altakit.ingest("store:raw/", "t", SPEC, store=local_store)
    local_store.put("raw/b.csv", _csv(3, 3))
    altakit.ingest(f"{local_store.url}/raw/b.csv", "t", SPEC, store=local_store)
    docs = [doc for _, doc in tables.version_docs(local_store, "t")]
    assert [[(s["name"], s["from"]) for s in d.sources] for d in docs] == [
        [("raw/a.csv", "store")],
        [("raw/b.csv", "store")],
    ]
    assert all(d.sources_root is None for d in docs)
    assert _private(json.dumps([d.to_doc() for d in docs]), tmp_path) == []


def test_old_records_with_absolute_paths_still_read(local_store, tmp_path):
    altakit.ingest(("a.csv", _csv(0, 3)), "t", SPEC, store=local_store)
    _, doc = tables.version_doc(local_store, "t", 1)
    other = _csv(5, 2)
    old = doc.to_doc() | {
        "uri": str(local_store.root / ".altakit-tables" / "t"),
        "sources": [
            {
                "name": "/home/ana/raw/b.csv",
                "sha256": hashlib.sha256(other).hexdigest(),
                "bytes": len(other),
                "skipped": False,
            }
        ],
    }
    catalog_of(local_store).register("table", "t", old)
    back = tables.TableDoc.from_doc(catalog_of(local_store).get("table", "t", 2).doc)
    assert back.sources[0]["name"] == "/home/ana/raw/b.csv" and back.sources_root is None
    assert back.uri == old["uri"]
    assert altakit.read_table("t@2", store=local_store).height == 3
    # an incremental ingest still knows the old record's file by its checksum
    assert altakit.ingest(("b.csv", other), "t", SPEC, store=local_store).status == "unchanged"


def test_quarantine_rows_name_sources_like_the_record(local_store, tmp_path):
    """A quarantined row's ``_source``: a path relative to the record's root, a store key as the key."""
    raw = tmp_path / "raw"
    (raw / "june").mkdir(parents=True)
    ragged = b"2024-01-01T01:00:00Z,s1\n"  # a field short: quarantined
    (raw / "a.csv").write_bytes(_csv(0, 3) + ragged)
    with zipfile.ZipFile(raw / "june" / "c.zip", "w") as z:
        z.writestr("inner/c.csv", _csv(6, 3) + ragged)
    report = altakit.ingest([str(raw / "a.csv"), str(raw / "june" / "c.zip")], "t", SPEC, store=local_store)
    assert report.rows_quarantined == 2
    local_store.put("raw/b.csv", _csv(3, 3) + ragged)
    altakit.ingest(f"{local_store.url}/raw/b.csv", "t", SPEC, store=local_store)
    q = altakit.quarantine("t", store=local_store)
    assert sorted(q["_source"]) == ["a.csv", "june/c.zip/inner/c.csv", "raw/b.csv"]
    table = tables.read_table("t", store=local_store, quarantine=True)  # every version's rows
    assert _private(json.dumps(table.to_dicts(), default=str), tmp_path) == []
    # a replay finds and works on those rows
    fixed = q.filter(pl.col("_source") == "a.csv").with_columns(value=pl.lit("4"))
    done = replay("t", fixed, comment="short line", store=local_store)
    assert done.status == "written" and done.replayed == fixed["_entry"].to_list()
    assert altakit.quarantine("t", store=local_store).height == 2
