"""The Spark engine on a real standalone cluster on loopback (#21): a master and two workers started from
pyspark's own launcher (``bin/spark-class``), each executor its own JVM with its own Python workers.

The sources and the table are on the loopback S3 server: the executors fetch the sources through the
store's own client and write the table's files; the driver holds a sample of each source and commits.
The table and quarantine equal the local engine's; an executor JVM killed with ``kill -9`` mid-ingest
costs a retry, not a row.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fixtures.parts import java_ok, need
from fixtures.s3 import free_port
from test_spark import SPEC, _sensor_csv, same_tables

import altakit

pytestmark = pytest.mark.jvm


def _spark_class(home: str, cls: str, args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [f"{home}/bin/spark-class", cls, *args], stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip


def _wait_for(log: Path, text: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, f"{log.name} exited: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"{log.name}: no {text!r}: {log.read_text()[-2000:]}"
        time.sleep(0.3)


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
    import pyspark

    home = os.path.dirname(pyspark.__file__)
    folder = tmp_path_factory.mktemp("spark-cluster")
    env = {**os.environ, "SPARK_HOME": home, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
           "SPARK_WORKER_DIR": str(folder / "work"), "SPARK_LOG_DIR": str(folder)}  # fmt: skip
    port = free_port()
    procs = [
        _spark_class(home, "org.apache.spark.deploy.master.Master",
                     ["--host", "127.0.0.1", "--port", str(port), "--webui-port", str(free_port())],
                     folder / "master.log", env)
    ]  # fmt: skip
    url = f"spark://127.0.0.1:{port}"
    try:
        _wait_for(folder / "master.log", "I have been elected leader", procs[0])
        for i in range(2):
            log = folder / f"worker{i}.log"
            procs.append(_spark_class(home, "org.apache.spark.deploy.worker.Worker",
                                      ["--host", "127.0.0.1", "--cores", "1", "--memory", "1g",
                                       "--webui-port", str(free_port()), url], log, env))  # fmt: skip
            _wait_for(log, "Successfully registered with master", procs[-1])
        yield url
    finally:
        from altakit.ingestion.engines import spark as engine_spark

        engine_spark.stop_all()
        for p in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=30)


def _executor_pids() -> list[int]:
    """The executor JVMs on this machine (CoarseGrainedExecutorBackend processes)."""
    out = subprocess.run(["pgrep", "-f", "CoarseGrainedExecutorBackend"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


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
    assert len(_executor_pids()) == 2  # the work ran on the two workers' executors
    _compare(local_store, s3_store, a, b)


def test_an_executor_killed_mid_ingest_costs_a_retry_not_a_row(cluster, tmp_path, s3_store):
    local_store, spec = _stores(tmp_path, s3_store, 3000)
    a = altakit.ingest("store:raw/", "s", spec, store=local_store)
    from altakit.ingestion.engines import spark as engine_spark

    engine_spark.session(cluster)  # executors up before the ingest starts
    killed: list[int] = []

    def kill_one() -> None:
        time.sleep(3)  # the ingest is reading and typing by now
        pids = _executor_pids()
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
