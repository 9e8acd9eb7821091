"""Spark engine: the local engine vs Spark ``local[2]`` vs a standalone cluster (2 workers × 1 core).

The same input — the sensor CSV of ``bench_ingest.py``, written as ``--files`` part files (how a day's
data arrives; a single file is read by one task) — ingested with the same spec by:

* ``local``: ``altakit.ingest(...)`` (the local engine, polars on every core);
* ``spark-local``: ``engine="spark"``, ``spark_master="local[2]"`` (driver and executors in one JVM);
* ``spark-cluster``: a standalone master and two workers on loopback (``bin/spark-class``), 1 core
  each; the executors read the parts and write the table's files, the driver commits.

Each contender runs in a fresh process. A Spark contender first starts its application and Python
workers with a 20,000-row ingest ("start s", reported apart: once per job, whatever its size), then
the timed ingest runs warm. A thread samples the resident memory of that process and its
children (the driver JVM; in local mode the executors too) every 0.2 s: the *driver's* peak RSS on the
cluster. ``--scale 10`` also runs the cluster on a tenth of the rows, to show the driver's peak stays
flat when the input grows tenfold (goal: within 1.2×). Throughput per core: rows/s divided by the
cores the engine computes on (2 everywhere here); goal: Spark ≥ 0.5× the local engine's.

Timings are noisy on shared machines; ratios are measured in the same run. Nothing fails on timing.

Example:
    $ .venv/bin/python bench/bench_spark.py --rows 10000000 --scale 10
    $ .venv/bin/python bench/bench_spark.py --rows 200000 --files 4   # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_ingest import SPEC, generate
from common import REPO, Row, report, run_child

CORES = 2


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def child(master: str, src: str) -> None:
    """Ingest ``src`` (a glob) on ``master`` (``local``: the local engine); print JSON numbers."""
    import altakit

    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _tree_rss(os.getpid()))

    threading.Thread(target=sample, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as work:
        store = altakit.open_store(os.path.join(work, "store"))
        spec = SPEC if master == "local" else {**SPEC, "spark_master": master}
        engine = "local" if master == "local" else "spark"
        start_s = 0.0
        if engine == "spark":  # the application and its Python workers start once per job: timed apart
            started = time.perf_counter()
            warm = Path(work) / "warm.csv"
            generate(warm, 20_000)
            altakit.ingest(str(warm), "warm", spec, store=store, engine=engine)
            start_s = time.perf_counter() - started
        started = time.perf_counter()
        rep = altakit.ingest(src, "bench", spec, store=store, engine=engine)
        seconds = time.perf_counter() - started
        assert rep.rows_in == rep.rows_written + rep.rows_quarantined
    done.set()
    peak[0] = max(peak[0], _tree_rss(os.getpid()))
    info = {
        "seconds": seconds,
        "start_s": start_s,
        "rows_in": rep.rows_in,
        "rows_out": rep.rows_out,
        "peak_rss_mb": peak[0] / 1e6,
    }
    print(json.dumps(info))


def _run(master: str, src: str) -> dict | None:
    return run_child(__file__, master, src)


def _parts(folder: Path, rows: int, files: int) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        generate(folder / f"part-{i:03d}.csv", rows // files, seed=i + 1)
    return str(folder / "part-*.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=8, help="part files the rows are written as")
    parser.add_argument("--scale", type=int, default=0, help="also run the cluster on rows / SCALE")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sys.path.insert(0, str(REPO / "tests"))
    from fixtures.spark_cluster import standalone_cluster

    with tempfile.TemporaryDirectory(prefix="bench-spark-data-") as tmp:
        t = time.perf_counter()
        src = _parts(Path(tmp) / "in", args.rows, args.files)
        print(f"generated {args.rows:,} rows in {args.files} files in {time.perf_counter() - t:.0f} s")
        results = {"local": _run("local", src), "spark-local": _run("local[2]", src)}
        with standalone_cluster(Path(tmp) / "cluster") as url:
            results["spark-cluster"] = _run(url, src)
            if args.scale:
                # two files (the driver samples two at a time), each over a block, as the large input's
                small = _parts(Path(tmp) / "small", args.rows // args.scale, min(2, args.files))
                results["spark-cluster-small"] = _run(url, small)
    print(f"\n{'contender':<20} {'start s':>7} {'seconds':>8} {'rows/s/core':>12} {'driver peak MB':>15}")
    for name, r in results.items():
        if r is not None:
            per_core = r["rows_in"] / r["seconds"] / CORES
            mb = r["peak_rss_mb"]
            print(f"{name:<20} {r['start_s']:>7.1f} {r['seconds']:>8.1f} {per_core:>12,.0f} {mb:>15.0f}")
    local = results["local"]
    rows, notes = [], []
    for name in ("spark-local", "spark-cluster"):
        r = results[name]
        if r is not None and local is not None:
            rows.append(Row(f"ingest {args.rows:,} rows, {name}", "rows/s/core", name,
                            r["rows_in"] / r["seconds"] / CORES, "local engine",
                            local["rows_in"] / local["seconds"] / CORES, goal=0.5))  # fmt: skip
            with_start = r["rows_in"] / (r["seconds"] + r["start_s"]) / CORES
            notes.append(
                f"{name} counting its start-up ({r['start_s']:.1f} s): {with_start:,.0f} rows/s/core"
            )
    small, big = results.get("spark-cluster-small"), results["spark-cluster"]
    if small is not None and big is not None:
        growth = big["peak_rss_mb"] / small["peak_rss_mb"]
        notes.append(
            f"driver peak RSS on the cluster: {small['peak_rss_mb']:.0f} MB for {small['rows_in']:,} rows, "
            f"{big['peak_rss_mb']:.0f} MB for {big['rows_in']:,} rows: {growth:.2f}x (goal <= 1.2x)"
        )
    report("spark", rows, notes, results=results, load=os.getloadavg())


if __name__ == "__main__":
    main()
