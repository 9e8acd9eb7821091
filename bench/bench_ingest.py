"""Ingest benchmark: altakit (local engine) vs pandas vs bare polars, on a generated sensor CSV.

The CSV has several sensors at 1-minute resolution, two datetime formats
(ISO 8601 and ``dd.mm.yyyy HH:MM``), gaps (empty values), outliers, stuck runs
and a few malformed rows. Contenders, each in a fresh subprocess so peak RSS is
its own:

* ``polars-bare``: ``scan_csv → sink_parquet``, no cleaning (the limit);
* ``altakit``: ``altakit.ingest`` with the full pipeline (datetimes, failures,
  z-score outliers, gap interpolation, 15-minute means per sensor), quarantine,
  accounting, Delta commit and catalog record;
* ``polars-clean``: the straightforward polars cleaning pipeline the issue describes
  (both datetime formats, range and z-score outliers, interpolation, 15-minute
  means per sensor) with no gap limit, quarantine, line numbers or accounting:
  ragged and unparseable rows are dropped silently;
* ``pandas``: the same steps in pandas, written to Parquet;
* ``spark`` (with ``--spark``): ``altakit.ingest(..., engine="spark")`` for reference.

Timings are noisy on shared machines; ratios are measured in the same run.

Example:
    $ python bench/bench_ingest.py --rows 1000000
    $ python bench/bench_ingest.py --rows 10000000 --spark
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import run_child

SENSORS = 20
SPEC = {
    "time": "ts",
    "by": ["sensor"],
    "policy": "add_new_columns",
    "steps": [
        {"step": "failures", "ranges": {"value": [-100, 200]}},
        {"step": "outliers", "method": "zscore", "threshold": 4},
        {"step": "fill_gaps", "max_gap": 5},
        {"step": "resample", "rule": "15min", "how": "mean"},
    ],
}


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """Write the sensor CSV (``rows`` data rows)."""
    rnd = random.Random(seed)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    per_sensor = max(1, rows // SENSORS)
    with open(path, "w", buffering=8 * 1024 * 1024) as f:
        f.write("ts,sensor,value\n")
        written = 0
        for i in range(per_sensor):
            t = t0 + timedelta(minutes=i)
            iso, dotted = t.strftime("%Y-%m-%dT%H:%M:%SZ"), t.strftime("%d.%m.%Y %H:%M")
            base = 20.0 + 5.0 * ((i % 1440) / 1440.0)
            lines = []
            for s in range(SENSORS):
                if written >= rows:
                    break
                ts = dotted if (i + s) % 4 == 0 else iso
                r = rnd.random()
                if r < 0.01:
                    value = ""
                elif r < 0.0105:
                    value = "999.0"
                else:
                    value = f"{base + s + rnd.gauss(0, 0.5):.3f}"
                if r > 0.99995:
                    lines.append(f"{ts},sensor{s}\n")  # ragged
                else:
                    lines.append(f"{ts},sensor{s},{value}\n")
                written += 1
            f.write("".join(lines))


def run_polars_bare(src: str, work: str) -> dict:
    import polars as pl

    pl.scan_csv(src).sink_parquet(os.path.join(work, "bare.parquet"))
    return {"rows_out": pl.scan_parquet(os.path.join(work, "bare.parquet")).select(pl.len()).collect().item()}


def run_altakit(src: str, work: str, engine: str = "local") -> dict:
    import altakit

    store = altakit.open_store(os.path.join(work, "store"))
    report = altakit.ingest(src, "bench", SPEC, store=store, engine=engine)
    assert report.rows_in == report.rows_written + report.rows_quarantined
    return {"rows_out": report.rows_out, "rows_quarantined": report.rows_quarantined}


def run_estimate(src: str, work: str) -> dict:
    """The local engine's estimate (rows, seconds) from a sample, as shown before a long job."""
    import altakit
    from altakit.ingestion import IngestJob

    est = IngestJob(src, "bench", SPEC, store=altakit.open_store(os.path.join(work, "store"))).estimate()
    return {"estimate_s": est["seconds"], "estimate_rows": est["rows"], "rows_out": 0}


def run_polars_clean(src: str, work: str) -> dict:
    """The issue's straightforward polars pipeline: no gap limit, quarantine or accounting."""
    import polars as pl

    ts, v = pl.col("ts"), pl.col("value")
    parsed = pl.coalesce(
        ts.str.to_datetime("%Y-%m-%dT%H:%M:%SZ", strict=False, time_zone="UTC"),
        ts.str.to_datetime("%d.%m.%Y %H:%M", strict=False).dt.replace_time_zone("UTC"),
    )
    schema = {"ts": pl.String, "sensor": pl.String, "value": pl.Float64}
    z = (v - v.mean().over("sensor")).abs() / v.std().over("sensor")
    out = (
        pl.scan_csv(src, schema=schema, truncate_ragged_lines=True, ignore_errors=True)
        .with_columns(parsed.alias("ts"))
        .drop_nulls("ts")
        .sort("sensor", "ts")
        .with_columns(pl.when(v.is_between(-100, 200)).then(v).alias("value"))
        .with_columns(pl.when(z > 4).then(None).otherwise(v).alias("value"))
        .with_columns(v.interpolate_by("ts").over("sensor").alias("value"))
        .group_by_dynamic("ts", every="15m", group_by="sensor")
        .agg(v.mean())
        .collect()
    )
    out.write_parquet(os.path.join(work, "polars-clean.parquet"))
    return {"rows_out": out.height}


def run_pandas(src: str, work: str) -> dict:
    import numpy as np
    import pandas as pd

    df = pd.read_csv(src, dtype={"ts": "string", "sensor": "string"}, on_bad_lines="skip")
    iso = pd.to_datetime(df["ts"], format="%Y-%m-%dT%H:%M:%SZ", errors="coerce", utc=True)
    dotted = pd.to_datetime(df["ts"], format="%d.%m.%Y %H:%M", errors="coerce", utc=True)
    df["ts"] = iso.fillna(dotted)
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    df = df.dropna(subset=["ts"]).sort_values(["sensor", "ts"])
    df.loc[(df["value"] < -100) | (df["value"] > 200), "value"] = np.nan
    g = df.groupby("sensor")["value"]
    z = (df["value"] - g.transform("mean")).abs() / g.transform("std")
    df.loc[z > 4, "value"] = np.nan
    df["value"] = df.groupby("sensor")["value"].transform(
        lambda s: s.interpolate(limit=5, limit_area="inside")
    )
    out = df.set_index("ts").groupby("sensor")["value"].resample("15min").mean().reset_index()
    out.to_parquet(os.path.join(work, "pandas.parquet"))
    return {"rows_out": len(out)}


def child(which: str, src: str) -> None:
    """Run one contender and print its numbers as JSON."""
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        started = time.perf_counter()
        if which == "estimate":  # what the job says before it starts: not timed itself
            info = run_estimate(src, work)
        elif which == "polars-bare":
            info = run_polars_bare(src, work)
        elif which == "pandas":
            info = run_pandas(src, work)
        elif which == "polars-clean":
            info = run_polars_clean(src, work)
        elif which == "spark":
            info = run_altakit(src, work, engine="spark")
        else:
            info = run_altakit(src, work)
        info["seconds"] = time.perf_counter() - started
    info["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if which == "spark":  # the JVM and Python workers are children
        info["peak_rss_mb"] += resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(info))


def _run_child(name: str, src: str) -> dict | None:
    """One contender in a fresh process: its JSON numbers, or ``None`` (and its error) if it failed."""
    return run_child(__file__, name, src)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows in the generated CSV")
    parser.add_argument("--spark", action="store_true", help="also run the Spark engine (slow to start)")
    parser.add_argument("--csv", help="use this CSV instead of generating one")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        src = args.csv or os.path.join(tmp, "sensors.csv")
        if not args.csv:
            t = time.perf_counter()
            generate(Path(src), args.rows)
            print(
                f"generated {args.rows} rows, {os.path.getsize(src) / 1e6:.0f} MB "
                f"in {time.perf_counter() - t:.1f}s"
            )
        with open(src, "rb") as f:  # warm the page cache for everyone alike
            while f.read(64 * 1024 * 1024):
                pass
        contenders = ["polars-bare", "polars-clean", "altakit", "pandas"] + (["spark"] if args.spark else [])
        results = {name: r for name in contenders if (r := _run_child(name, src)) is not None}
        rows = args.rows
        print(f"\n{'contender':<12} {'seconds':>8} {'rows/s':>12} {'peak RSS MB':>12} {'rows out':>10}")
        for name, r in results.items():
            rate = rows / r["seconds"]
            print(
                f"{name:<12} {r['seconds']:>8.2f} {rate:>12,.0f} "
                f"{r['peak_rss_mb']:>12.0f} {r['rows_out']:>10}"
            )
        if {"altakit", "polars-bare", "pandas"} <= set(results):
            a, b, p = (results[k]["seconds"] for k in ("altakit", "polars-bare", "pandas"))
            print(
                f"\naltakit / bare polars rate: {b / a:.2f}x (goal >= 0.7x); "
                f"altakit / pandas rate: {p / a:.2f}x (goal >= 3.5x)"
            )
        e = _run_child("estimate", src)
        if e is not None and "altakit" in results:
            print(
                f"estimate before the run: {e['estimate_s']:.1f} s for {e['estimate_rows']:,} rows "
                f"(took {e['seconds']:.1f} s); the run took {results['altakit']['seconds']:.1f} s "
                f"(estimate / actual {e['estimate_s'] / results['altakit']['seconds']:.2f})"
            )
        if {"altakit", "polars-clean"} <= set(results):
            c, a = results["polars-clean"]["seconds"], results["altakit"]["seconds"]
            print(f"altakit / straightforward polars cleaning rate: {c / a:.2f}x")


if __name__ == "__main__":
    main()
