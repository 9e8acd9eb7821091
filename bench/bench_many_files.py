"""Many small files: ``altakit.ingest`` of a glob of N one-row CSVs vs polars and DuckDB on the same glob.

Issue 16 (item 10) measured ~3.5 ms a file for a glob of 100,000 small files, with no progress
shown. altakit's ingest does more per file than the peers (a checksum for incremental ingest,
the file's name on every row, quarantine accounting, a Delta commit and a catalog record), so
the peers are the floor: ``pl.read_csv(glob)`` and DuckDB's ``read_csv(glob)``, each written to
Parquet. Rates are files per second, each contender run once on a warm page cache.

Example:
    $ python bench/bench_many_files.py --files 10000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import Row, report


def generate(folder: Path, files: int) -> str:
    """Write ``files`` one-row CSVs into ``folder`` and return their glob."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (folder / f"f{i:06d}.csv").write_text(f"id,v\n{i},{i / 2}\n")
    return str(folder / "*.csv")


def run_altakit(pattern: str, work: Path) -> tuple[float, int]:
    import altakit

    store = altakit.open_store(work / "store")
    started = time.perf_counter()
    report = altakit.ingest(pattern, "many", {"policy": "add_new_columns"}, store=store)
    return time.perf_counter() - started, report.rows_written


def run_polars(pattern: str, work: Path) -> tuple[float, int]:
    import polars as pl

    started = time.perf_counter()
    frame = pl.read_csv(pattern, include_file_paths="_source")
    frame.write_parquet(work / "polars.parquet")
    return time.perf_counter() - started, frame.height


def run_duckdb(pattern: str, work: Path) -> tuple[float, int]:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    out = work / "duckdb.parquet"
    con.execute(f"COPY (SELECT * FROM read_csv('{pattern}', filename = true)) TO '{out}' (FORMAT parquet)")
    rows = con.execute(f"SELECT count(*) FROM '{out}'").fetchone()
    return time.perf_counter() - started, int(rows[0]) if rows else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="one-row CSV files in the glob")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="altakit-bench-many-") as tmp:
        work = Path(tmp)
        pattern = generate(work / "raw", args.files)
        times = {}
        for name, run in (("polars", run_polars), ("duckdb", run_duckdb), ("altakit", run_altakit)):
            seconds, rows = run(pattern, work)
            assert rows == args.files, f"{name} read {rows} rows of {args.files}"
            times[name] = seconds
            print(f"{name:8s} {seconds:7.2f} s  {seconds / args.files * 1000:6.3f} ms/file")
    rows_ = [
        Row(
            f"glob of {args.files:,} one-row CSVs",
            "files/s",
            "altakit.ingest",
            args.files / times["altakit"],
            peer,
            args.files / times[peer],
            note="peer: read_csv(glob) → Parquet, with the file name per row; no checksums or commit",
        )
        for peer in ("polars", "duckdb")
    ]
    report("many_files", rows_, [f"altakit: {times['altakit'] / args.files * 1000:.3f} ms a file"])


if __name__ == "__main__":
    main()
