"""Excel drops ingest like their CSV twin (fastexcel reads them; the excel extra)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

import altakit

DATA = Path(__file__).resolve().parents[2] / "notebooks" / "data"
SPEC = {"time": "timestamp", "by": ["sensor"]}


def test_excel_and_csv_give_the_same_table(local_store, tmp_path):
    csv = DATA / "sensors_day1.csv"
    workbook = tmp_path / "sensors_day1.xlsx"
    pl.read_csv(csv, infer_schema_length=0).write_excel(workbook)  # every cell as text, as exported
    from_csv = altakit.ingest(csv, "from_csv", SPEC, store=local_store)
    from_xlsx = altakit.ingest(workbook, "from_xlsx", SPEC, store=local_store)
    assert (
        (from_xlsx.rows_in, from_xlsx.rows_written) == (from_csv.rows_in, from_csv.rows_written) == (852, 852)
    )
    a = altakit.read_table("from_csv", store=local_store).sort("sensor", "timestamp")
    b = altakit.read_table("from_xlsx", store=local_store).sort("sensor", "timestamp")
    assert a.schema == b.schema
    assert a.equals(b)
