"""rows_in = rows_written + rows_quarantined, for any mix of good and bad lines."""

from __future__ import annotations

import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import altakit
from altakit.ingestion import sources
from altakit.ingestion.engines.local import process
from altakit.ingestion.schema import plan
from altakit.ingestion.spec import IngestSpec

GOOD = st.builds(
    lambda m, v: f"2024-01-01T00:{m:02d}:00Z,s1,{v:.2f}",
    st.integers(0, 59),
    st.floats(-1e6, 1e6, allow_nan=False),
)
BAD = st.sampled_from(
    ["garbage", "1,2", "1,2,3,4", "01.01.2024 00:00,s1,abc", "never,s1,1", '"open,1,2', ",,", "", "  "]
)
NOISE = st.text(alphabet=string.printable.replace("\x0b", "").replace("\x0c", ""), max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(GOOD, GOOD, GOOD, BAD, NOISE), min_size=1, max_size=60))
def test_every_row_is_accounted_for(tmp_path, lines):
    path = tmp_path / "x.csv"
    path.write_text(
        "ts,sensor,value\n" + "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines)
    )
    src = sources.resolve_sources(str(path), tmp_path)[0]
    spec = IngestSpec.load({"time": "ts", "steps": [{"step": "outliers", "action": "quarantine"}]})
    out = process([src], spec, lambda observed: plan(None, observed, "add_new_columns"), None)
    assert out.rows_in == out.rows_written + out.quarantine.count
    assert (
        out.rows_in + out.blank_lines
        == len([ln for ln in path.read_text().split("\n")[1:]])
        - (1 if path.read_text().endswith("\n") else 0)
        or '"' in path.read_text()
    )  # quoted fields may span lines
    assert out.frame.height == out.rows_written


def test_report_accounting_with_quarantine_steps(local_store, tmp_path):
    rows = [f"2024-01-01T00:{m:02d}:00Z,s1,{10 + (m % 3)}" for m in range(40)] + [
        "2024-01-01T00:40:00Z,s1,900"
    ]
    path = tmp_path / "a.csv"
    path.write_text("ts,sensor,value\n" + "\n".join(rows) + "\nbad,s1,1\n1,2\n")
    spec = {
        "time": "ts",
        "by": ["sensor"],
        "steps": [{"step": "outliers", "threshold": 3, "action": "quarantine"}],
    }
    report = altakit.ingest(str(path), "acc", spec, store=local_store)
    assert (report.rows_in, report.rows_written, report.rows_quarantined) == (43, 40, 3)
    q = altakit.read_table("acc", store=local_store, quarantine=True).sort("_line")
    assert q.get_column("_line").to_list() == [42, 43, 44]
    assert q.get_column("_reason").to_list()[0] == "outlier (zscore)"


def test_spilled_buckets_give_the_same_table(tmp_path, monkeypatch):
    from altakit.ingestion.engines import local as engine_local

    lines = ["ts,sensor,value"]
    for i in range(600):
        for s in range(7):
            value = (
                "" if (i + s) % 17 == 0 else ("500" if (i * s) % 97 == 5 else f"{20 + s + (i % 9) * 0.1:.2f}")
            )
            lines.append(f"2024-01-01T{i // 60:02d}:{i % 60:02d}:00Z,sensor{s},{value}")
    lines.append("broken,sensor1,1")
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n")
    spec = {
        "time": "ts",
        "by": ["sensor"],
        "steps": [
            {"step": "outliers", "method": "hampel", "action": "quarantine"},
            {"step": "fill_gaps", "max_gap": 2},
            {"step": "resample", "rule": "15min"},
        ],
    }
    a_store, b_store = altakit.open_store(tmp_path / "a"), altakit.open_store(tmp_path / "b")
    a = altakit.ingest(str(path), "s", spec, store=a_store)
    monkeypatch.setattr(engine_local, "MEMORY_BUDGET", 0)
    b = altakit.ingest(str(path), "s", spec, store=b_store)
    assert (a.rows_in, a.rows_written, a.rows_quarantined, a.rows_out) == (
        b.rows_in,
        b.rows_written,
        b.rows_quarantined,
        b.rows_out,
    )
    assert b.rows_in == b.rows_written + b.rows_quarantined and b.rows_quarantined > 1
    assert [s["changed"] for s in a.steps] == [s["changed"] for s in b.steps]
    left = altakit.read_table("s", store=a_store).sort("sensor", "ts")
    right = altakit.read_table("s", store=b_store).sort("sensor", "ts")
    assert left.equals(right)
    # buckets whose pieces mix series (blocks with many series) are sorted instead: the same table
    from altakit.ingestion import spill

    monkeypatch.setattr(spill, "FEW", 0)
    c_store = altakit.open_store(tmp_path / "c")
    c = altakit.ingest(str(path), "s", spec, store=c_store)
    assert (c.rows_written, c.rows_quarantined, c.steps) == (b.rows_written, b.rows_quarantined, b.steps)
    assert altakit.read_table("s", store=c_store).sort("sensor", "ts").equals(left)


def test_a_time_column_the_input_lacks_is_a_clear_error(tmp_path, monkeypatch):
    """Named in the spec, missing from the file: a typed error naming it, in memory and spilled."""
    import pytest

    from altakit.errors import IngestError
    from altakit.ingestion.engines import local as engine_local

    path = tmp_path / "a.csv"
    path.write_text("when,sensor,value\n2024-01-01T00:00:00Z,s1,1\n2024-01-01T00:01:00Z,s1,2\n")
    spec = {"time": "ts", "by": ["sensor"], "steps": [{"step": "resample", "rule": "15min"}]}
    for budget in (engine_local.MEMORY_BUDGET, 0):
        monkeypatch.setattr(engine_local, "MEMORY_BUDGET", budget)
        store = altakit.open_store(tmp_path / f"store{budget}")
        with pytest.raises(IngestError, match="'ts'"):
            altakit.ingest(str(path), "t", spec, store=store)


def test_spill_keeps_each_series_whole_and_in_order():
    import polars as pl
    from polars.testing import assert_frame_equal

    from altakit.ingestion.spill import Spill

    first = pl.DataFrame({"s": ["a", "b", "c", "a"], "v": [1, 2, 3, 4]})
    later = pl.DataFrame({"s": ["b", "a"], "v": [5, 6], "extra": ["x", "y"]})  # a column appears later
    spill = Spill(["s"], buckets=2)
    try:
        spill.add(first)
        spill.add(later)
        buckets = [b.frame for b in spill.buckets()]
        assert not list(Path(spill.folder.name).glob("*.arrow"))  # each bucket's files go once read
    finally:
        spill.cleanup()
    assert sum(b.height for b in buckets) == 6
    for bucket in buckets:  # every series in one bucket, its rows in the order they came
        for (key,), rows in bucket.partition_by("s", as_dict=True).items():
            want = pl.concat([first, later], how="diagonal").filter(pl.col("s") == key)
            assert_frame_equal(rows.select("s", "v"), want.select("s", "v"))
            if "extra" in rows.columns:
                assert rows["extra"].to_list() == want["extra"].to_list()
    assert len(buckets) <= 2


def test_spill_gives_large_series_a_bucket_each():
    import polars as pl

    from altakit.ingestion.spill import Spill

    spill = Spill(["s"], buckets=4)  # a hash of 4 keys into 4 buckets would likely pile some up
    try:
        for _ in range(3):
            spill.add(pl.DataFrame({"s": [f"sensor{k}" for k in range(4)] * 5, "v": list(range(20))}))
        sizes = sorted(b.frame.get_column("s").n_unique() for b in spill.buckets())
    finally:
        spill.cleanup()
    assert sizes == [1, 1, 1, 1]


def test_spill_places_series_alike_in_few_and_many_series_blocks(monkeypatch):
    """A series keeps its bucket whether its block was split by series or assigned by a join."""
    import polars as pl
    from polars.testing import assert_frame_equal

    from altakit.ingestion import spill as spill_module

    monkeypatch.setattr(spill_module, "MAX_ASSIGNED", 40)  # later series go by hash on both paths
    monkeypatch.setattr(spill_module, "FEW", 50)
    few = pl.DataFrame({"s": [f"k{i % 45}" for i in range(90)], "v": list(range(90))})
    many = pl.DataFrame({"s": [f"k{i % 300}" for i in range(600)], "v": list(range(90, 690))})
    again = few.with_columns(pl.col("v") + 1000)
    spill = spill_module.Spill(["s"], buckets=7)
    try:
        for block in (few, many, again):
            spill.add(block)
        assert spill._many  # the second block took the join
        buckets = [b.frame for b in spill.buckets()]
    finally:
        spill.cleanup()
    everything = pl.concat([few, many, again])
    assert sum(b.height for b in buckets) == everything.height
    homes: dict[str, int] = {}
    for k, bucket in enumerate(buckets):
        for (key,), rows in bucket.partition_by("s", as_dict=True).items():
            assert homes.setdefault(key, k) == k, f"series {key} split over two buckets"
            assert_frame_equal(rows, everything.filter(pl.col("s") == key))
    assert len(homes) == 300
