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


def _executor_of(pid: int) -> int:
    """The executor JVM a Python worker runs under (its nearest CoarseGrainedExecutorBackend ancestor)."""
    import psutil

    for proc in psutil.Process(pid).parents():
        if any("CoarseGrainedExecutorBackend" in part for part in proc.cmdline()):
            return proc.pid
    raise AssertionError(f"no executor JVM above worker {pid}")


def test_an_executor_killed_mid_ingest_costs_a_retry_not_a_row(cluster, tmp_path, s3_store, monkeypatch):
    """A task is held at the point where it writes the table's file (``ALTAKIT_FAULT_HOLD``) and its
    executor's JVM is ``kill -9``'d right then: Spark runs the lost tasks again on the other executor."""
    local_store, spec = _stores(tmp_path, s3_store, 3000)
    a = altakit.ingest("store:raw/", "s", spec, store=local_store)
    from altakit.ingestion.engines import spark as engine_spark

    held = tmp_path / "held"
    monkeypatch.setenv("ALTAKIT_FAULT", "spark.task_writing")
    monkeypatch.setenv("ALTAKIT_FAULT_ONCE", str(held))
    monkeypatch.setenv("ALTAKIT_FAULT_HOLD", "60")
    engine_spark.stop_all()  # a new application: its executors get the fault settings
    killed: list[int] = []

    def kill_the_holder() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not (held.exists() and held.read_text()):
            time.sleep(0.1)
        if held.exists() and held.read_text():
            jvm = _executor_of(int(held.read_text()))
            os.kill(jvm, signal.SIGKILL)
            killed.append(jvm)

    killer = threading.Thread(target=kill_the_holder)
    killer.start()
    try:
        b = altakit.ingest(
            "store:raw/", "s", {**spec, "spark_master": cluster}, store=s3_store, engine="spark"
        )
    finally:
        killer.join()
        engine_spark.stop_all()  # the next test's application starts without the fault settings
    assert killed, "no task reached the point"
    _compare(local_store, s3_store, a, b)


def test_cluster_tasks_write_a_datasets_shards_to_s3(cluster, s3_store):
    """#21 item 3: each executor writes its partition's shards to S3 through the store's own client and
    the driver records the manifest; the samples equal the local path's for the same rows."""
    from typing import Annotated

    import numpy as np
    from pyspark.sql import functions as F

    from altakit.datasets.samples import Array, sample
    from altakit.datasets.spark_write import sample_from_row, write_dataset_from_spark
    from altakit.ingestion.engines import spark as engine_spark

    @sample(name="cluster_pair")
    class Pair:
        x: Annotated[np.ndarray, Array("float32", (2,))]
        label: int

    session = engine_spark.session(cluster)
    i = F.col("id")
    df = session.range(0, 120, numPartitions=2).select(F.array(i / 2, i * 2.0).alias("x"), i.alias("label"))
    ds = write_dataset_from_spark(df, "pairs", Pair, store=s3_store, maxcount=40)
    rows = df.toArrow().to_pylist()  # the test's own reference; the library collects no row
    local = altakit.write_dataset(
        [sample_from_row(Pair, r) for r in rows], "pairs-local", store=s3_store, maxcount=40, progress=False
    )
    assert session.sparkContext.master == cluster
    assert {s["key"].rsplit("/", 1)[1][:6] for s in ds.manifest["shards"]} == {"p00000", "p00001"}
    for a, b in zip(ds, local, strict=True):
        assert a.label == b.label and a.x.dtype == b.x.dtype and np.array_equal(a.x, b.x)


_DRIVER = """
import json, sys, altakit
master, work = sys.argv[1:3]
def peak_kb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
out = {}
runs = (("small", 30_000, "spark"), ("large", 300_000, "spark"), ("control", 300_000, "local"))
for name, n, engine in runs:
    spec = {"time": "ts", "by": ["sensor"], "spark_master": master, "block_bytes": 1 << 20}
    store = altakit.open_store(f"{work}/store-{name}")
    report = altakit.ingest(f"{work}/in-{n}.csv", "s", spec, store=store, engine=engine)
    out[name] = {"rows_in": report.rows_in, "peak_kb": peak_kb()}
print(json.dumps(out))
"""


def test_the_drivers_memory_stays_flat_when_the_input_grows_tenfold(cluster, tmp_path):
    """No row travels to the driver: its Python process peaks no higher at 10x the rows (the executors do the
    work). The control, the local engine in the same process (it holds the rows), does grow it: the measure
    can fail."""
    from altakit.ingestion.engines import spark as engine_spark

    for n in (30_000, 300_000):
        _sensor_csv(tmp_path / f"in-{n}.csv", n=n)
    engine_spark.stop_all()  # this process's application holds the cluster's two cores until it stops
    args = [sys.executable, "-c", _DRIVER, cluster, str(tmp_path)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    small, large, control = out["small"], out["large"], out["control"]
    assert large["rows_in"] > 9 * small["rows_in"]  # the input did grow tenfold
    assert large["peak_kb"] <= 1.2 * small["peak_kb"], out
    assert control["peak_kb"] > 1.2 * small["peak_kb"], out
