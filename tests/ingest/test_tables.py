"""Delta tables in the store: versions, time travel, incremental and concurrent ingests."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

import altakit
from altakit.catalog import catalog_of
from altakit.datasets import tables
from altakit.errors import ConfigError, Conflict, NotFound


def _csv(start: int, n: int) -> bytes:
    rows = "".join(
        f"2024-01-01T{(start + i) // 60:02d}:{(start + i) % 60:02d}:00Z,s1,{start + i}\n" for i in range(n)
    )
    return ("ts,sensor,value\n" + rows).encode()


SPEC = {"time": "ts", "by": ["sensor"]}


def test_versions_time_travel_and_pandas(local_store):
    r1 = altakit.ingest(("day1.csv", _csv(0, 10)), "t", SPEC, store=local_store)
    r2 = altakit.ingest(("day2.csv", _csv(10, 5)), "t", SPEC, store=local_store)
    assert (r1.version, r2.version) == (1, 2) and (r1.delta_version, r2.delta_version) == (0, 1)
    assert altakit.read_table("t@1", store=local_store).height == 10
    assert altakit.read_table("t", store=local_store).height == 15
    frame = altakit.read_table("t@2", store=local_store, as_="pandas")
    assert isinstance(frame, pd.DataFrame) and len(frame) == 15
    rec = catalog_of(local_store).get("table", "t", 2)
    assert rec.doc["sources"][0]["name"] == "day2.csv" and len(rec.doc["sources"][0]["sha256"]) == 64
    assert rec.doc["rows_in"] == 5 and rec.doc["delta_version"] == 1
    history = tables.history(tables.location(local_store, "t"))
    assert [h["version"] for h in history] == [1, 0]
    with pytest.raises(NotFound):
        altakit.read_table("t@9", store=local_store)
    with pytest.raises(NotFound):
        altakit.read_table("missing", store=local_store)
    with pytest.raises(ConfigError):
        altakit.read_table("t@x", store=local_store)


def test_table_lives_beside_the_objects(local_store):
    altakit.ingest(("a.csv", _csv(0, 3)), "team/t", SPEC, store=local_store)
    assert (local_store.root / ".altakit-tables" / "team" / "t" / "_delta_log").is_dir()
    assert [v.key for v in local_store.list()] == []  # no table file shows up as a key


def test_reingest_is_a_noop(local_store, tmp_path):
    path = tmp_path / "day1.csv"
    path.write_bytes(_csv(0, 10))
    assert altakit.ingest(str(path), "t", SPEC, store=local_store).status == "written"
    again = altakit.ingest(str(path), "t", SPEC, store=local_store)
    assert again.status == "unchanged" and again.version is None
    (tmp_path / "day2.csv").write_bytes(_csv(10, 4))
    both = altakit.ingest(str(tmp_path / "day*.csv"), "t", SPEC, store=local_store)
    assert both.rows_in == 4 and [s["skipped"] for s in both.sources] == [True, False]
    assert altakit.read_table("t", store=local_store).height == 14
    assert len(catalog_of(local_store).versions("table", "t")) == 2


def test_store_keys_as_sources(local_store):
    local_store.put("raw/a.csv", _csv(0, 3))
    local_store.put("raw/b.csv", _csv(3, 3))
    report = altakit.ingest("store:raw/", "t", SPEC, store=local_store)
    assert report.rows_written == 6 and [s["name"] for s in report.sources] == ["raw/a.csv", "raw/b.csv"]
    report = altakit.ingest(f"{local_store.url}/raw/a.csv", "t", SPEC, store=local_store)
    assert report.status == "unchanged"


@pytest.mark.parametrize("kind", ["local_store", "s3_store"])
def test_concurrent_ingests_both_land(kind, request):
    # on S3 the commit relies on conditional puts (If-None-Match): no commit overwrites another
    local_store = request.getfixturevalue(kind)
    altakit.ingest(("seed.csv", _csv(0, 2)), "t", SPEC, store=local_store)
    errors, reports = [], []

    def run(i: int) -> None:
        try:
            reports.append(
                altakit.ingest((f"c{i}.csv", _csv(100 + 10 * i, 10)), "t", SPEC, store=local_store)
            )
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(r.version for r in reports) == [2, 3, 4]
    assert len({r.delta_version for r in reports}) == 3
    assert altakit.read_table("t", store=local_store).height == 32
    from altakit.ingestion.overview import overview

    assert [s.rows for s in overview(local_store)] == [32]  # the home page's count, from the Delta log


@pytest.mark.parametrize("kind", ["local_store", "s3_store"])
def test_concurrent_ingests_of_one_file_write_it_once(kind, request):
    store = request.getfixturevalue(kind)
    altakit.ingest(("seed.csv", _csv(0, 2)), "t", SPEC, store=store)
    outcomes: list[object] = []

    def run() -> None:
        try:
            outcomes.append(altakit.ingest(("same.csv", _csv(100, 10)), "t", SPEC, store=store).status)
        except Conflict as exc:  # the other ingest held the file: a clear conflict, nothing written
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(outcomes) == 3 and outcomes.count("written") == 1
    assert all(o == "unchanged" or isinstance(o, Conflict) for o in outcomes if o != "written")
    assert altakit.read_table("t", store=store).height == 12
    assert len(catalog_of(store).versions("table", "t")) == 2


def test_a_claimed_file_is_a_conflict_then_a_noop(local_store, tmp_path):
    from altakit.ingestion.job import IngestJob
    from altakit.ingestion.sources import resolve_sources

    path = tmp_path / "day1.csv"
    path.write_bytes(_csv(0, 10))
    first, second = (IngestJob(str(path), "t", SPEC, store=local_store) for _ in range(2))
    held = first._claim(resolve_sources(str(path), tmp_path))  # first is about to commit
    with pytest.raises(Conflict) as caught:
        second.run()
    assert caught.value.hint and tables.delta_version(tables.location(local_store, "t")) is None
    first._release(held)
    assert first.run().status == "written"
    late = second._claim(resolve_sources(str(path), tmp_path))  # read the catalog before first committed
    assert late is None and second.run().status == "unchanged"
    assert altakit.read_table("t", store=local_store).height == 10


def test_profile_and_drift(local_store):
    altakit.ingest(("a.csv", _csv(0, 200)), "t", SPEC, store=local_store)
    altakit.ingest(("b.csv", _csv(600, 200)), "t", SPEC, store=local_store)
    prof = altakit.ingestion.profile_table("t@1", store=local_store)
    assert prof["value"]["min"] == 0 and prof["value"]["max"] == 199 and prof["value"]["nulls"] == 0
    assert prof["sensor"]["top"] == {"s1": 200}
    same = altakit.ingestion.drift_tables("t@1", "t@1", store=local_store)
    moved = altakit.ingestion.drift_tables("t@1", "t@2", store=local_store)
    assert same["value"]["psi"] == 0 and same["value"]["ks"] == 0
    assert moved["value"]["psi"] > 0.25 and moved["value"]["ks"] == 0.5


def test_estimate(local_store, tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(_csv(0, 600) * 1 + b"".join(_csv(0, 600).split(b"\n", 1)[1:]) * 20)
    from altakit.ingestion import IngestJob

    est = IngestJob(str(path), "t", SPEC, store=local_store).estimate()
    assert est["files"] == 1 and est["bytes"] == path.stat().st_size
    assert abs(est["rows"] - 21 * 600) <= 21 * 600 * 0.05
    assert est["seconds"] >= 0 and est["sample_rows"] == 21 * 600  # the whole file fits the sample
    # an estimate reads a sample only: it neither hashes the input nor waits for a hash
    from altakit.ingestion import sources

    (plain,) = sources.resolve_sources(str(path), tmp_path, checksums=False)
    assert plain.digest == "" and plain.size == path.stat().st_size
    (hashed,) = sources.resolve_sources(str(path), tmp_path)
    assert len(hashed.checksum) == 64


def test_s3_table(s3_store):
    report = altakit.ingest(("a.csv", _csv(0, 5)), "t", SPEC, store=s3_store)
    assert report.version == 1
    loc = tables.location(s3_store, "t")
    assert loc.uri.startswith("s3://") and "/.altakit-tables/t" in loc.uri
    altakit.ingest(("b.csv", _csv(5, 5)), "t", SPEC, store=s3_store)
    assert altakit.read_table("t@1", store=s3_store).height == 5
    assert altakit.read_table("t", store=s3_store).height == 10
