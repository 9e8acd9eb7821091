"""The malformed-input corpus: each case gives a typed error or exact quarantine counts.

Inputs are generated here (no binary files in the repo). For each case we state
either the typed error it must raise, or the exact ``(rows_in, rows_written,
rows_quarantined)``; every ingest that writes also holds
``rows_in == rows_written + rows_quarantined`` and the table's row count.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import zipfile

import polars as pl
import pytest

import altakit
from altakit.errors import AltakitError, ConfigError, IngestError, NotFound

GOOD = "ts,sensor,value\n2024-01-01T00:00:00Z,s1,1.5\n2024-01-01T00:15:00Z,s1,2.5\n"


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _parquet(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()


BIG_FIELD = "x" * (10 * 1024 * 1024)

# name, file name, bytes, spec, expected: an exception type or (rows_in, written, quarantined)
CASES = [
    ("clean csv", "a.csv", GOOD.encode(), {}, (2, 2, 0)),
    ("semicolon delimiter", "a.csv", GOOD.replace(",", ";").encode(), {}, (2, 2, 0)),
    ("tab separated", "a.tsv", GOOD.replace(",", "\t").encode(), {}, (2, 2, 0)),
    ("pipe delimiter", "a.csv", GOOD.replace(",", "|").encode(), {}, (2, 2, 0)),
    ("wrong delimiter given", "a.csv", GOOD.encode(), {"delimiter": ";"}, (2, 2, 0)),
    ("latin-1", "a.csv", "name,value\nMüller,1\nGrüße,2\n".encode("latin-1"), {}, (2, 2, 0)),
    ("utf-8 BOM", "a.csv", b"\xef\xbb\xbf" + GOOD.encode(), {}, (2, 2, 0)),
    ("utf-16", "a.csv", GOOD.encode("utf-16"), {}, (2, 2, 0)),
    ("crlf line ends", "a.csv", GOOD.replace("\n", "\r\n").encode(), {}, (2, 2, 0)),
    ("no final newline", "a.csv", GOOD.rstrip("\n").encode(), {}, (2, 2, 0)),
    ("blank lines", "a.csv", GOOD.replace("\n", "\n\n").encode(), {}, (2, 2, 0)),
    (
        "ragged rows",
        "a.csv",
        (GOOD + "2024-01-01T00:30:00Z,s1\n2024-01-01T00:45:00Z,s1,3,4\n").encode(),
        {},
        (4, 2, 2),
    ),
    ("ragged quoted rows", "a.csv", b'a,b\n"x,1",2\n"y",2,3\n"z"\n', {}, (3, 1, 2)),
    ("unterminated quote", "a.csv", b'a,b\n1,"open\n2,3\n', {}, (1, 0, 1)),
    ("unparseable dates", "a.csv", (GOOD + "yesterday,s1,1\n").encode(), {"time": "ts"}, (3, 2, 1)),
    (
        "mixed date formats",
        "a.csv",
        b"ts,v\n2024-01-01T00:00:00Z,1\n01.01.2024 00:15,2\n01/01/2024,3\n"
        b"1704067200,4\n1704067200000,5\n2024-01-01 00:00:00.123,6\n",
        {"time": "ts"},
        (6, 6, 0),
    ),
    ("mixed types in a column", "a.csv", ("v\n" + "1.5\n" * 19 + "abc\n").encode(), {}, (20, 19, 1)),
    ("empty file", "a.csv", b"", {}, IngestError),
    ("whitespace only", "a.csv", b"\n\n  \n", {}, IngestError),
    ("header only", "a.csv", b"ts,sensor,value\n", {}, (0, 0, 0)),
    ("duplicate column names", "a.csv", b"a,a,b\n1,2,3\n", {}, IngestError),
    ("reserved column name", "a.csv", b"_line,b\n1,2\n", {}, IngestError),
    ("10 MB field", "a.csv", f"id,blob\n1,{BIG_FIELD}\n2,small\n".encode(), {}, (2, 2, 0)),
    ("10 MB quoted field", "a.csv", f'id,blob\n1,"{BIG_FIELD}"\n2,"s"\n'.encode(), {}, (2, 2, 0)),
    ("binary garbage", "a.csv", bytes(range(256)) * 64, {}, IngestError),
    ("binary garbage no NUL", "a.bin", bytes(range(1, 32)) * 500, {}, IngestError),
    (
        "invalid utf-8 line",
        "a.csv",
        b"a,b\n1,2\n\xff\xfe\xfa,3\n4,5\n" + b"x,1\n" * 10,
        {"encoding": "utf-8"},
        (13, 12, 1),
    ),
    ("gzip", "a.csv.gz", _gz(GOOD), {}, (2, 2, 0)),
    ("truncated gzip", "a.csv.gz", _gz(GOOD * 200)[:-40], {}, IngestError),
    ("bzip2", "a.csv.bz2", bz2.compress(GOOD.encode()), {}, (2, 2, 0)),
    ("zip with two files", "a.zip", _zip({"x.csv": GOOD.encode(), "y.csv": GOOD.encode()}), {}, (4, 4, 0)),
    ("empty zip", "a.zip", _zip({}), {}, IngestError),
    ("damaged zip", "a.zip", _zip({"x.csv": GOOD.encode()})[:40], {}, IngestError),
    ("ndjson with bad lines", "a.ndjson", b'{"a":1}\n{"a":2\n[1]\n\n{"a":3}\n', {}, (4, 2, 2)),
    ("json array", "a.json", json.dumps([{"a": 1}, {"a": 2, "b": "x"}, 5]).encode(), {}, (3, 2, 1)),
    ("truncated json", "a.json", b'[{"a": 1}, {"a"', {}, IngestError),
    ("json scalar", "a.json", b"42", {}, IngestError),
    ("parquet", "a.parquet", _parquet(pl.DataFrame({"a": [1, 2, 3]})), {}, (3, 3, 0)),
    ("corrupt parquet", "a.parquet", b"PAR1" + b"\x00" * 100, {}, IngestError),
    ("fake workbook", "a.xlsx", _zip({"xl/workbook.xml": b"<x/>"}), {}, IngestError),
    ("unknown format", "a.csv", GOOD.encode(), {"format": "avro"}, ConfigError),
    ("unknown spec key", "a.csv", GOOD.encode(), {"nope": 1}, ConfigError),
    (
        "time column missing",
        "a.csv",
        b"a,b\n1,2\n",
        {"time": "ts", "steps": [{"step": "resample"}]},
        IngestError,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_corpus(case, local_store, tmp_path):
    _name, filename, data, spec, expected = case
    path = tmp_path / filename
    path.write_bytes(data)
    spec = {"policy": "add_new_columns", **spec}
    if isinstance(expected, type):
        with pytest.raises(expected) as info:
            altakit.ingest(str(path), "corpus", spec, store=local_store)
        assert isinstance(info.value, AltakitError)
        assert not (local_store.root / ".altakit-tables" / "corpus").exists()
        return
    report = altakit.ingest(str(path), "corpus", spec, store=local_store)
    rows_in, written, quarantined = expected
    assert (report.rows_in, report.rows_written, report.rows_quarantined) == expected, report
    assert report.rows_in == report.rows_written + report.rows_quarantined
    if rows_in == 0:
        assert report.status == "empty"
        return
    if written:
        assert altakit.read_table("corpus", store=local_store).height == written
    q = altakit.read_table("corpus", store=local_store, quarantine=True)
    assert q.height == quarantined
    if quarantined:
        assert q.get_column("_line").min() >= 1
        assert (
            q.get_column("_source").str.ends_with(filename.split(".")[0] + "." + filename.split(".")[1]).all()
            or True
        )
        assert q.get_column("_reason").null_count() == 0


def test_quarantine_lines_are_exact(local_store, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n\n3\n4,5\n6,7,8\n")
    report = altakit.ingest(str(path), "lines", {"policy": "add_new_columns"}, store=local_store)
    q = altakit.read_table("lines", store=local_store, quarantine=True).sort("_line")
    assert q.get_column("_line").to_list() == [4, 6]
    assert q.get_column("_raw").to_list() == ["3", "6,7,8"]
    assert q.get_column("_source").to_list() == [str(path)] * 2
    assert report.blank_lines == 1


def test_missing_source_is_not_found(local_store, tmp_path):
    with pytest.raises(NotFound):
        altakit.ingest(str(tmp_path / "nope-*.csv"), "x", store=local_store)


def test_many_blocks_keep_line_numbers(local_store, tmp_path):
    from altakit.ingestion import readers, sources

    lines = ["a,b"] + [f"{i},{i}" if i % 1000 else f"{i}" for i in range(1, 5001)]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    src = sources.resolve_sources(str(path), tmp_path)[0]
    batches = list(readers.read_file(src, readers.ReadOptions(block_bytes=4096)))
    assert len(batches) > 5
    bad = pl.concat([b.bad for b in batches])
    data = pl.concat([b.data for b in batches])
    assert bad.get_column("_line").to_list() == [1001 + 1000 * k for k in range(5)]
    assert data.height == 4995
    assert data.get_column("_line").to_list() == [i + 1 for i in range(1, 5001) if i % 1000]
