"""Values are never changed on the way in: late day/month orders, long decimals, nanoseconds, refusals."""

from __future__ import annotations

import polars as pl
import pytest

from altakit.errors import AmbiguousValues
from altakit.ingestion import sources
from altakit.ingestion.engines.local import process
from altakit.ingestion.schema import Field, Schema, plan
from altakit.ingestion.spec import IngestSpec

BLOCK = 1024


def _ingest(tmp_path, text: str, *, approved=None, policy="add_new_columns", **spec):
    path = tmp_path / "x.csv"
    path.write_text(text)
    src = sources.resolve_sources(str(path), tmp_path)[0]
    spec = IngestSpec.load({"block_bytes": BLOCK, **spec})
    return process([src], spec, lambda observed: plan(approved, observed, policy), approved)


def _csv(header: str, values) -> str:
    return header + "\n" + "".join(f"{v}\n" for v in values)


def test_an_order_decided_in_a_later_block_is_checked_on_the_next(tmp_path):
    iso = ["2024-01-01T00:00:00Z"] * 100  # block 1: no slash date
    values = [*iso, "13/01/2024", *["2024-01-02T00:00:00Z"] * 100, "01/13/2024", "03/04/2024"]
    with pytest.raises(AmbiguousValues, match="mix"):
        _ingest(tmp_path, _csv("d", values))


def test_long_decimals_are_not_rounded(tmp_path):
    values = ["12345678901234567.89", "1.5"]  # in the first block: the column stays text
    out = _ingest(tmp_path, _csv("n", values))
    assert out.types["n"] == "string" and out.frame.get_column("n").to_list() == values
    values = ["1.5"] * 600 + ["12345678901234567.89"]  # later, in a float column: quarantined, not rounded
    out = _ingest(tmp_path, _csv("n", values))
    assert out.types["n"] == "float64" and out.quarantine.count == 1
    assert out.frame.get_column("n").to_list() == [1.5] * 600
    # an integer column that later meets a decimal a float rounds becomes text, not float
    values = [str(i) for i in range(3000)] + ["12345678901234567.89"]
    out = _ingest(tmp_path, _csv("n", values))
    assert out.types["n"] == "string" and out.frame.get_column("n").to_list() == values


def test_nanosecond_timestamps_are_not_cut(tmp_path):
    values = ["2024-01-01T00:00:00.123456789"] * 3
    out = _ingest(tmp_path, _csv("d", values))
    assert out.frame.get_column("d").to_list() == values  # stays text
    mixed = ["2024-01-01T00:00:00.123456"] * 200 + ["2024-01-01T00:00:00.123456789"]
    out = _ingest(tmp_path, _csv("d", mixed))
    assert out.quarantine.count == 1 and out.frame.height == 200


@pytest.mark.parametrize("policy", ["add_new_columns", "fail"])
def test_a_widening_the_policy_refuses_quarantines_the_rows(tmp_path, policy):
    approved = Schema([Field("n", "int64", False)])
    values = [str(i) for i in range(3000)] + ["3.5"] + [str(i) for i in range(10)]
    out = _ingest(tmp_path, _csv("n", values), approved=approved, policy=policy)
    assert out.types["n"] == "int64" and out.quarantine.count == 1
    assert out.frame.get_column("n").to_list() == [int(v) for v in values if v != "3.5"]
    assert out.rows_in == out.rows_written + out.quarantine.count
    assert isinstance(out.frame, pl.DataFrame)


def test_a_local_time_a_dst_change_repeats_is_never_guessed(tmp_path):
    """02:30 on 2024-10-27 happened twice in Berlin: two instants, so the row is quarantined."""
    values = ["2024-10-27 01:30:00", "2024-10-27 02:30:00", "2024-10-27 03:30:00"]
    out = _ingest(tmp_path, _csv("d", values), source_tz="Europe/Berlin")
    assert out.quarantine.count == 1
    assert [d.isoformat() for d in out.frame.get_column("d").to_list()] == [
        "2024-10-26T23:30:00+00:00",
        "2024-10-27T02:30:00+00:00",
    ]
