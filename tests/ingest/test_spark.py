"""The Spark engine produces the same table as the local engine for the same input.

Both in Spark's local mode (``local[2]``) and through a real Spark Connect server
(``sc://``), started here from pyspark's own jars the way a cluster runs one; a
Connect URL where nothing answers, or a server that dies mid-run, is a typed error
within seconds.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from fixtures.parts import java_ok, need
from fixtures.s3 import free_port

import altakit

pytestmark = pytest.mark.jvm


@pytest.fixture(scope="module")
def spark_ok():
    need(
        importlib.util.find_spec("pyspark") is not None,
        "pyspark is not installed (pip install 'altakit[spark]')",
    )
    need(java_ok(), "Java 17 is not installed (apt-get install openjdk-17-jre)")
    yield
    from altakit.ingestion.engines import spark as engine_spark

    engine_spark.stop_all()


def _sensor_csv(path, n=400, seed=7):
    rnd = random.Random(seed)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    lines = ["ts,sensor,value"]
    for i in range(n):
        for s in ("s1", "s2"):
            t = t0 + timedelta(minutes=5 * i)
            ts = t.strftime("%d.%m.%Y %H:%M") if i % 3 == 0 else t.strftime("%Y-%m-%dT%H:%M:%SZ")
            v = 20 + 5 * rnd.random()
            if i % 37 == 0:
                v = 900.0  # outlier
            value = "" if i % 23 == 0 else f"{v:.3f}"
            lines.append(f"{ts},{s},{value}")
    lines += ["garbage,s1,1", "2024-01-01T00:00:00Z,s1", "2024-01-02T00:00:00Z,s2,abc"]
    path.write_text("\n".join(lines) + "\n")


SPEC = {
    "time": "ts",
    "by": ["sensor"],
    "steps": [
        {"step": "failures", "ranges": {"value": [-50, 500]}, "spike": 40},
        {"step": "outliers", "method": "hampel", "threshold": 4, "window": 7},
        {"step": "fill_gaps", "max_gap": 2},
        {"step": "resample", "rule": "15min", "how": "mean"},
    ],
}


@contextlib.contextmanager
def _connect_server(folder):
    """``(sc://localhost:PORT, process)`` of a Spark Connect server (local[2]) started from pyspark's jars."""
    need(
        all(importlib.util.find_spec(m) for m in ("grpc_status", "zstandard")),
        "Spark Connect's client is not installed (pip install 'altakit[spark]')",
    )
    import pyspark

    home, port = os.path.dirname(pyspark.__file__), free_port()
    log = folder / "server.log"
    env = {**os.environ, "SPARK_HOME": home, "PYSPARK_PYTHON": sys.executable}
    cmd = [
        f"{home}/bin/spark-submit",
        "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master", "local[2]",
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.ui.enabled=false",
    ]  # fmt: skip
    with open(log, "wb") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "Spark Connect server started" not in log.read_text(errors="replace"):
            assert server.poll() is None, f"Spark Connect server exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"Spark Connect server not up: {log.read_text()[-2000:]}"
            time.sleep(0.5)
        yield f"sc://localhost:{port}", server
    finally:
        from altakit.ingestion.engines import spark as engine_spark

        engine_spark.stop_all()  # while the server still answers, if it does
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)


@pytest.fixture(scope="module")
def spark_connect(spark_ok, tmp_path_factory):
    """``sc://localhost:PORT`` of a Spark Connect server shared by this module's tests."""
    with _connect_server(tmp_path_factory.mktemp("spark-connect")) as (url, _):
        yield url


def test_spark_matches_local(spark_ok, tmp_path):
    path = tmp_path / "sensors.csv"
    _sensor_csv(path)
    local_store = altakit.open_store(tmp_path / "local")
    spark_store = altakit.open_store(tmp_path / "spark")
    a = altakit.ingest(str(path), "s", SPEC, store=local_store)
    b = altakit.ingest(str(path), "s", SPEC, store=spark_store, engine="spark")
    assert (a.rows_in, a.rows_written, a.rows_quarantined, a.rows_out) == (
        b.rows_in,
        b.rows_written,
        b.rows_quarantined,
        b.rows_out,
    )
    assert b.rows_in == b.rows_written + b.rows_quarantined == 803
    assert b.rows_quarantined == 3
    assert [s["changed"] for s in a.steps] == [s["changed"] for s in b.steps]
    same_tables(local_store, spark_store)
    left = altakit.read_table("s", store=local_store)
    assert pl.Series(left.get_column("value")).max() < 500


def same_tables(local_store, spark_store) -> None:
    """Table ``s`` and its quarantine hold the same rows in both stores (every column, every value)."""
    left = altakit.read_table("s", store=local_store).sort("sensor", "ts")
    right = altakit.read_table("s", store=spark_store).sort("sensor", "ts")
    assert left.schema == right.schema and left.equals(right)
    ql = altakit.read_table("s", store=local_store, quarantine=True).drop("_ingest").sort("_line")
    qr = altakit.read_table("s", store=spark_store, quarantine=True).drop("_ingest").sort("_line")
    assert ql.equals(qr)


def test_executors_fetch_store_sources_the_driver_holds_only_a_sample_of(spark_ok, tmp_path):
    """Store keys: the driver copies the first blocks of a big CSV only; the tasks fetch every file from the
    store themselves (a gzip member too) and hash it: the table equals the local engine's and the record's
    checksums are the full SHA-256 of the bytes; a second ingest of the same keys is skipped."""
    import gzip
    import hashlib
    import tempfile

    from altakit.ingestion import readers
    from altakit.ingestion.sources import resolve_sources
    from altakit.ingestion.spec import IngestSpec

    _sensor_csv(tmp_path / "a.csv")
    _sensor_csv(tmp_path / "b.csv", n=60, seed=3)
    raw = {
        "raw/a.csv": (tmp_path / "a.csv").read_bytes(),
        "raw/b.csv.gz": gzip.compress((tmp_path / "b.csv").read_bytes()),
    }
    spec = {**SPEC, "block_bytes": 4096}
    stores = {name: altakit.open_store(tmp_path / name) for name in ("local", "spark")}
    for store in stores.values():
        for key, data in raw.items():
            store.put(key, data)
    a = altakit.ingest("store:raw/", "s", spec, store=stores["local"])
    b = altakit.ingest(
        "store:raw/", "s", {**spec, "spark_master": "local[2]"}, store=stores["spark"], engine="spark"
    )
    assert (a.rows_in, a.rows_written, a.rows_quarantined) == (b.rows_in, b.rows_written, b.rows_quarantined)
    same_tables(stores["local"], stores["spark"])
    sums = {key: hashlib.sha256(data).hexdigest() for key, data in raw.items()}
    assert {s["name"]: s["sha256"] for s in b.sources} == {
        "raw/a.csv": sums["raw/a.csv"],
        "raw/b.csv": sums["raw/b.csv.gz"],
    }
    assert b.sources == a.sources
    with tempfile.TemporaryDirectory() as work:  # what the driver holds: 2 blocks of a.csv, b.csv.gz whole
        held = {f.name: f for f in resolve_sources("store:raw/", Path(work), stores["spark"], head=8192)}
        assert held["raw/a.csv"].path.stat().st_size == 8192 < len(raw["raw/a.csv"])
        assert not held["raw/a.csv"].stored.whole and held["raw/b.csv"].stored.whole
        with pytest.raises(altakit.errors.IngestError, match="only its first bytes"):  # never as the file
            list(readers.read_file(held["raw/a.csv"], IngestSpec().read_options()))
    again = altakit.ingest(
        "store:raw/", "s", {**spec, "spark_master": "local[2]"}, store=stores["spark"], engine="spark"
    )
    assert again.status == "unchanged" and [s["sha256"] for s in again.sources] == [
        s["sha256"] for s in b.sources
    ]


def test_spark_connect_matches_local(spark_connect, tmp_path):
    """Through Spark Connect, the tasks fetch the source from the store (its key), as on a cluster."""
    path = tmp_path / "sensors.csv"
    _sensor_csv(path, n=120)
    local_store = altakit.open_store(tmp_path / "local")
    connect_store = altakit.open_store(tmp_path / "connect")
    connect_store.put("raw/sensors.csv", path.read_bytes())
    a = altakit.ingest(str(path), "s", SPEC, store=local_store)
    spec = {**SPEC, "spark_master": spark_connect, "block_bytes": 1024}  # the driver holds 2 KiB of it
    b = altakit.ingest("store:raw/sensors.csv", "s", spec, store=connect_store, engine="spark")
    assert b.sources[0]["sha256"] == a.sources[0]["sha256"]
    assert (b.rows_in, b.rows_written, b.rows_quarantined) == (a.rows_in, a.rows_written, a.rows_quarantined)
    assert b.rows_quarantined == 3
    left = altakit.read_table("s", store=local_store).sort("sensor", "ts")
    right = altakit.read_table("s", store=connect_store).sort("sensor", "ts")
    assert left.height == a.rows_out and left.equals(right)


def test_dead_spark_connect_server_is_a_clear_error(spark_ok, tmp_path):
    """Nothing answers at the URL: a typed error within seconds, not pyspark's ten minutes of retries."""
    need(
        all(importlib.util.find_spec(m) for m in ("grpc_status", "zstandard")),
        "Spark Connect's client is not installed (pip install 'altakit[spark]')",
    )
    from altakit.errors import ServiceUnavailable

    path = tmp_path / "sensors.csv"
    _sensor_csv(path, n=20)
    store = altakit.open_store(tmp_path / "store")
    url = f"sc://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="cannot be reached") as info:
        altakit.ingest(str(path), "s", {**SPEC, "spark_master": url}, store=store, engine="spark")
    assert time.monotonic() - started < 90  # no hang
    assert info.value.fields["url"] == url
    assert "spark_master" in str(info.value)
    with pytest.raises(altakit.errors.NotFound):
        altakit.read_table("s", store=store)  # nothing was written
    # the process is not stuck in Connect mode: local Spark still runs the same ingest
    report = altakit.ingest(str(path), "s", SPEC, store=store, engine="spark")
    assert report.rows_in == report.rows_written + report.rows_quarantined == 43


@pytest.mark.slow
def test_spark_connect_server_dying_mid_run_is_a_clear_error(spark_ok, tmp_path, monkeypatch):
    """The server dies once the session is made: the ingest's next call fails typed, writes nothing."""
    from altakit.errors import ServiceUnavailable
    from altakit.ingestion.engines import spark as engine_spark

    path = tmp_path / "sensors.csv"
    _sensor_csv(path, n=120)
    store = altakit.open_store(tmp_path / "store")
    (tmp_path / "server").mkdir()
    with _connect_server(tmp_path / "server") as (url, server):
        made = engine_spark.session

        def made_then_killed(master=None):
            spark = made(master)
            os.killpg(server.pid, signal.SIGKILL)  # the server dies between two calls of the ingest
            server.wait(timeout=60)
            return spark

        monkeypatch.setattr(engine_spark, "session", made_then_killed)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="cannot be reached"):
            altakit.ingest(str(path), "s", {**SPEC, "spark_master": url}, store=store, engine="spark")
        assert time.monotonic() - started < 90  # bounded retries, no hang
        monkeypatch.undo()
    with pytest.raises(altakit.errors.NotFound):
        altakit.read_table("s", store=store)  # nothing was written
    report = altakit.ingest(str(path), "s", SPEC, store=store, engine="spark")  # local Spark still runs
    assert report.rows_in == report.rows_written + report.rows_quarantined == 243


def test_spark_quarantines_a_late_value_the_plan_cannot_hold(spark_ok, tmp_path):
    """Spark cannot widen after planning: a late ``3.5`` among integers is quarantined, the rest kept."""
    path = tmp_path / "n.csv"
    values = [str(i) for i in range(3000)] + ["3.5"] + [str(i) for i in range(10)]
    path.write_text("n\n" + "".join(f"{v}\n" for v in values))
    store = altakit.open_store(tmp_path / "store")
    report = altakit.ingest(str(path), "t", {"block_bytes": 1024}, store=store, engine="spark")
    assert report.rows_in == report.rows_written + report.rows_quarantined == len(values)
    assert report.rows_quarantined == 1
    read = altakit.read_table("t", store=store).get_column("n").to_list()
    assert sorted(read) == sorted(int(v) for v in values if v != "3.5")


def test_spark_task_errors_reach_the_caller_typed(spark_ok, tmp_path):
    """A later block that mixes day/month orders fails in a Spark task: the caller gets AmbiguousValues."""
    from altakit.errors import AmbiguousValues

    path = tmp_path / "d.csv"
    values = ["13/01/2024"] + ["03/04/2026"] * 200 + ["01/13/2024"]
    path.write_text("d\n" + "".join(f"{v}\n" for v in values))
    store = altakit.open_store(tmp_path / "store")
    with pytest.raises(AmbiguousValues, match="mix") as info:
        altakit.ingest(str(path), "t", {"block_bytes": 1024}, store=store, engine="spark")
    assert info.value.fields["column"] == "d"
    with pytest.raises(altakit.errors.NotFound):
        altakit.read_table("t", store=store)  # nothing was written


@pytest.mark.parametrize("point", ["spark.task_writing", "spark.task_written"])
def test_killed_task_attempts_are_retried_and_only_committed_files_stay(
    spark_ok, tmp_path, monkeypatch, point
):
    """A task attempt's Python worker SIGKILLed before or after it wrote its files: Spark retries the
    task, the ingest lands once with exact accounting, and the table's folder holds only committed files."""
    from deltalake import DeltaTable

    from altakit.datasets import tables
    from altakit.ingestion.engines import spark

    path = tmp_path / "sensors.csv"
    _sensor_csv(path)
    local_store = altakit.open_store(tmp_path / "local")
    spark_store = altakit.open_store(tmp_path / "spark")
    a = altakit.ingest(str(path), "s", SPEC, store=local_store)
    killed = tmp_path / "killed"
    monkeypatch.setenv("ALTAKIT_FAULT", point)
    monkeypatch.setenv("ALTAKIT_FAULT_ONCE", str(killed))
    spark.stop_all()  # the workers of a new session inherit the fault
    try:
        b = altakit.ingest(
            str(path), "s", {**SPEC, "spark_master": "local[2,4]"}, store=spark_store, engine="spark"
        )
    finally:
        spark.stop_all()
    assert killed.exists()  # one attempt was killed
    assert (b.rows_in, b.rows_written, b.rows_quarantined) == (a.rows_in, a.rows_written, a.rows_quarantined)
    left = altakit.read_table("s", store=local_store).sort("sensor", "ts")
    assert left.equals(altakit.read_table("s", store=spark_store).sort("sensor", "ts"))
    for loc in (tables.location(spark_store, "s"), tables.location(spark_store, "s", quarantine=True)):
        table = DeltaTable(loc.uri)
        committed = {os.path.basename(u) for u in table.file_uris()}
        on_disk = {
            p.name for p in (tmp_path / "spark").glob(f"**/{os.path.basename(loc.uri)}/part-*.parquet")
        }
        assert on_disk == committed
        ingest_id = tables.version_doc(spark_store, "s")[1].ingest_id
        assert [h.get("altakit.ingest") for h in table.history() if h.get("altakit.ingest")] == [ingest_id]


def test_a_killed_driver_commits_nothing_and_the_retry_lands_once(spark_ok, tmp_path):
    """The driver SIGKILLed after the executors wrote every file, before the commit: nothing is committed;
    the next ingest removes the dead ingest's files and lands the data once."""
    from deltalake import DeltaTable

    from altakit.datasets import tables

    path = tmp_path / "sensors.csv"
    _sensor_csv(path)
    store_path = tmp_path / "spark"
    code = (
        "import json, sys, altakit; "
        "altakit.ingest(sys.argv[1], 's', json.loads(sys.argv[3]), store=altakit.open_store(sys.argv[2]), "
        "engine='spark')"
    )
    env = {**os.environ, "ALTAKIT_FAULT": "ingest.claimed"}
    args = [sys.executable, "-c", code, str(path), str(store_path), json.dumps(SPEC)]
    done = subprocess.run(args, env=env, timeout=300, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    loc = tables.location(altakit.open_store(store_path), "s")
    left_behind = list(Path(loc.uri).glob("part-*.parquet"))
    assert left_behind and not DeltaTable.is_deltatable(loc.uri)  # files written, nothing committed

    store = altakit.open_store(store_path)
    b = altakit.ingest(str(path), "s", SPEC, store=store, engine="spark")
    assert b.rows_in == b.rows_written + b.rows_quarantined == 803
    committed = {os.path.basename(u) for u in DeltaTable(loc.uri).file_uris()}
    assert {p.name for p in Path(loc.uri).glob("part-*.parquet")} == committed  # the dead ingest's are gone
    assert not any(p.name in committed for p in left_behind)
    assert altakit.read_table("s", store=store).height == b.rows_out
