"""The Spark engine on a real standalone cluster on loopback (#21): a master and two workers started from
pyspark's own launcher (``bin/spark-class``), each executor its own JVM with its own Python workers.

The sources and the table are on the loopback S3 server: the executors fetch the sources through the
store's own client and write the table's files; the driver holds a sample of each source and commits.
The table and quarantine equal the local engine's; an executor JVM killed with ``kill -9`` mid-ingest
costs a retry, not a row.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from fixtures.parts import java_ok, need
from fixtures.spark_cluster import executor_pids, standalone_cluster
from test_spark import SPEC, _sensor_csv, same_tables

import altakit

pytestmark = pytest.mark.jvm


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, s3_env):
    """``spark://127.0.0.1:PORT``: a standalone master and two workers (1 core, 1 GiB each).

    The workers start with the test's S3 environment (dummy credentials), as a cluster's nodes have theirs.
    """
    need(
        importlib.util.find_spec("pyspark") is not None,
        "pyspark is not installed (pip install 'altakit[spark]')",
    )
    need(java_ok(), "Java 17 is not installed (apt-get install openjdk-17-jre)")
    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster")) as url:
        yield url


def _compare(local_store, cluster_store, a, b) -> None:
    assert (a.rows_in, a.rows_written, a.rows_quarantined, a.rows_out) == (
        b.rows_in, b.rows_written, b.rows_quarantined, b.rows_out,
    )  # fmt: skip
    assert b.rows_in == b.rows_written + b.rows_quarantined
    assert b.sources == a.sources  # the full SHA-256 of each source, computed where it was read
    same_tables(local_store, cluster_store)


def _stores(tmp_path, s3_store, n: int):
    """A local store and the S3 store, each holding ``raw/a.csv`` (big: the driver samples 2 blocks) and
    ``raw/b.csv``; the spec reads 4 KiB blocks."""
    _sensor_csv(tmp_path / "a.csv", n=n)
    _sensor_csv(tmp_path / "b.csv", n=50, seed=3)
    local_store = altakit.open_store(tmp_path / "local")
    for store in (local_store, s3_store):
        for name in ("a.csv", "b.csv"):
            store.put(f"raw/{name}", (tmp_path / name).read_bytes())
    return local_store, {**SPEC, "block_bytes": 4096}


def test_cluster_table_equals_the_local_engines(cluster, tmp_path, s3_store):
    local_store, spec = _stores(tmp_path, s3_store, 400)
    a = altakit.ingest("store:raw/", "s", spec, store=local_store)
    b = altakit.ingest("store:raw/", "s", {**spec, "spark_master": cluster}, store=s3_store, engine="spark")
    assert len(executor_pids()) == 2  # the work ran on the two workers' executors
    _compare(local_store, s3_store, a, b)


def test_an_executor_killed_mid_ingest_costs_a_retry_not_a_row(cluster, tmp_path, s3_store):
    local_store, spec = _stores(tmp_path, s3_store, 3000)
    a = altakit.ingest("store:raw/", "s", spec, store=local_store)
    from altakit.ingestion.engines import spark as engine_spark

    engine_spark.session(cluster)  # executors up before the ingest starts
    killed: list[int] = []

    def kill_one() -> None:
        time.sleep(3)  # the ingest is reading and typing by now
        pids = executor_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(time.monotonic())

    killer = threading.Thread(target=kill_one)
    killer.start()
    try:
        b = altakit.ingest(
            "store:raw/", "s", {**spec, "spark_master": cluster}, store=s3_store, engine="spark"
        )
    finally:
        killer.join()
    assert killed, "no executor to kill"
    _compare(local_store, s3_store, a, b)


_DRIVER = """
import json, sys, altakit
from altakit.ingestion.engines import spark
master, work = sys.argv[1:3]
def peak_kb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
out = {}
for name, n, sink in (("small", 30_000, True), ("large", 300_000, True), ("control", 300_000, False)):
    spark.WRITES_FILES = sink  # False: the rows come back to the driver (the control)
    spec = {"time": "ts", "by": ["sensor"], "spark_master": master, "block_bytes": 1 << 20}
    store = altakit.open_store(f"{work}/store-{name}")
    report = altakit.ingest(f"{work}/in-{n}.csv", "s", spec, store=store, engine="spark")
    out[name] = {"rows_in": report.rows_in, "peak_kb": peak_kb()}
print(json.dumps(out))
"""


def test_the_drivers_memory_stays_flat_when_the_input_grows_tenfold(cluster, tmp_path):
    """No row travels to the driver: its Python process peaks no higher at 10x the rows (the executors do the
    work). The control, the rows coming back to the driver, does grow it: the measure can fail."""
    for n in (30_000, 300_000):
        _sensor_csv(tmp_path / f"in-{n}.csv", n=n)
    args = [sys.executable, "-c", _DRIVER, cluster, str(tmp_path)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    small, large, control = out["small"], out["large"], out["control"]
    assert large["rows_in"] > 9 * small["rows_in"]  # the input did grow tenfold
    assert large["peak_kb"] <= 1.2 * small["peak_kb"], out
    assert control["peak_kb"] > 1.2 * small["peak_kb"], out
