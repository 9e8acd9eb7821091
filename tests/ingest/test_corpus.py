"""The malformed-input corpus: each case gives a typed error or exact quarantine counts.

Inputs are generated here (no binary files in the repo). For each case we state
either the typed error it must raise, or the exact ``(rows_in, rows_written,
rows_quarantined)``; every ingest that writes also holds
``rows_in == rows_written + rows_quarantined`` and the table's row count.
"""

from __future__ import annotations

import bz2
import datetime as dt
import decimal
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


def _zip(members: dict[str, bytes], *, encrypted: bool = False, deflate: bool = False) -> bytes:
    """A zip archive; ``encrypted`` flags members encrypted (bit 0), as a password-protected export does."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    out = bytearray(buf.getvalue())
    if encrypted:  # zipfile cannot encrypt: set the flag in the local and the central headers
        for signature, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            pos = out.find(signature)
            while pos >= 0:
                out[pos + at] |= 0x1
                pos = out.find(signature, pos + 4)
    return bytes(out)


def _nested_zip(levels: int) -> bytes:
    data = _zip({"x.csv": GOOD.encode()})
    for k in range(levels - 1):
        data = _zip({f"level{k}.zip": data})
    return data


def _deep_json(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _zeros() -> bytes:
    """100 MB that deflate to ~100 kB: a bomb by its ratio."""
    return b"0" * (100 * 1024 * 1024)


def _xlsx(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_excel(buf)
    return buf.getvalue()


def _parquet(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()


BIG_FIELD = "x" * (10 * 1024 * 1024)
MIXED = (
    "ts,sensor,value\r2024-01-01T00:00:00Z,s1,1.5\n2024-01-01T00:15:00Z,s1,2.5\r\n2024-01-01T00:30:00Z,s1,3\r"
)
UTF8_THEN_LATIN1 = ("name,value\n" + "Köln,1\n" * 10_000).encode() + "Müller,2\n".encode("latin-1")
UTF8_WITH_LATIN1 = ("name,value\n" + "Köln,1\n" * 20).encode() + "Müller,2\n".encode("latin-1") + b"x,3\n"
CP1252_THEN_UTF8 = ("name,value\n" + "Müller,1\n" * 10_000).encode("cp1252") + "Jürgen,2\n".encode()
CP1252_WITH_UTF8 = ("name,value\n" + "Müller,1\n" * 20).encode("cp1252") + "Jürgen,2\nx,3\n".encode()
LONE_CR_PAST_SAMPLE = ("a,b\n" + "1,2\n" * 20_000 + "3,4\r5,6\r7,8\r").encode()
CR_ONLY_QUOTED = b'a,b\r1,"x\ry"\r2,"z"\r3,4\r'
ONE_COLUMN_CR_PAST_SAMPLE = ("name\n" + "x\n" * 40_000 + "A\rB\rC\r").encode()
ONE_COLUMN_CR_QUOTED = b'name\r"a\rb"\rc\rd\r'
WIDE_ONE_ROW = (",".join(f"c{i}" for i in range(20_000)) + "\n" + ",".join(map(str, range(20_000)))).encode()
CR_MIXTURE_QUOTED = b'a,b\r\n"x",1\r"y\rz",2\n3,"4\r\n5"\r6,7'
DEC = pl.DataFrame(
    {"amount": [decimal.Decimal("12.34"), decimal.Decimal("-0.01"), None]},
    schema={"amount": pl.Decimal(12, 2)},
)
NESTED = pl.DataFrame({"tags": [["a", "b"], []], "point": [{"x": 1, "y": 2.5}, {"x": None, "y": 0.0}]})
NS = pl.DataFrame(
    {"at": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2)]}, schema={"at": pl.Datetime("ns")}
)
NS = NS.with_columns(pl.col("at") + pl.duration(nanoseconds=1))
TZ = pl.DataFrame({"at": [dt.datetime(2024, 3, 31, 1, 30), dt.datetime(2024, 3, 31, 3, 30)]}).with_columns(
    pl.col("at").dt.replace_time_zone("Europe/Berlin")
)

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
    ("reserved column name", "a.csv", b"_line,b\n1,2\n", {}, (1, 1, 0)),
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
    # line ends of every platform, mixtures, no LF at all
    ("cr line ends (classic Mac)", "a.csv", GOOD.replace("\n", "\r").encode(), {}, (2, 2, 0)),
    ("cr line ends, none at the end", "a.csv", GOOD.rstrip("\n").replace("\n", "\r").encode(), {}, (2, 2, 0)),
    ("cr, lf and crlf mixed", "a.csv", MIXED.encode(), {}, (3, 3, 0)),
    ("crlf and lf mixed", "a.csv", GOOD.replace("\n", "\r\n", 1).encode(), {}, (2, 2, 0)),
    ("lf-cr line ends", "a.csv", GOOD.replace("\n", "\n\r").encode(), {}, (2, 2, 0)),
    ("crlf with quoted fields", "a.csv", b'a,b\r\n"x, y",1\r\n"z",2\r\n', {}, (2, 2, 0)),
    ("one line, no line end", "a.csv", b"a,b,c", {}, (0, 0, 0)),
    ("unicode line separator in a field", "a.csv", "a,b\nx\u2028y,1\nz,2\n".encode(), {}, (2, 2, 0)),
    # header names
    ("empty header names", "a.csv", b",b,\n1,2,3\n", {}, (1, 1, 0)),
    ("blank header names", "a.csv", b"  ,\t\n1,2\n", {"delimiter": ","}, (1, 1, 0)),
    ("names equal once case folded", "a.csv", b"Name,name\n1,2\n", {}, IngestError),
    ("names equal once unicode folded", "a.csv", "STRASSE,straße\n1,2\n".encode(), {}, IngestError),
    ("long header name", "a.csv", ("x" * 5000 + ",b\n1,2\n").encode(), {}, (1, 1, 0)),
    ("unicode header names", "a.csv", "名前,Größe,température °C,😀\n1,2,3,4\n".encode(), {}, (1, 1, 0)),
    (
        "names spelled like internal columns",
        "a.csv",
        b"_line,_source,_rescued_data,__series\n1,2,3,4\n",
        {},
        (1, 1, 0),
    ),
    ("internal name in other case", "a.csv", b"_LINE,_line_user,v\n1,2,3\n", {}, (1, 1, 0)),
    ("user columns starting with _", "a.csv", b"_id,_version,__index_level_0__\nab12,3,0\n", {}, (1, 1, 0)),
    ("too many columns for the limit", "a.csv", b"a,b,c,d\n1,2,3,4\n", {"max_columns": 3}, IngestError),
    # archives
    ("encrypted zip", "a.zip", _zip({"x.csv": GOOD.encode()}, encrypted=True), {}, IngestError),
    ("zip in a zip", "a.zip", _nested_zip(2), {}, (2, 2, 0)),
    ("zip in a zip in a zip", "a.zip", _nested_zip(3), {}, (2, 2, 0)),
    ("zips nested too deep", "a.zip", _nested_zip(8), {}, IngestError),
    ("gzip in a zip", "a.zip", _zip({"x.csv.gz": _gz(GOOD)}), {}, (2, 2, 0)),
    (
        "zip with __MACOSX and .DS_Store",
        "a.zip",
        _zip(
            {
                "x.csv": GOOD.encode(),
                "__MACOSX/._x.csv": b"\x00\x05\x16\x07",
                ".DS_Store": b"\x00\x00\x00\x01Bud1",
            }
        ),
        {},
        (2, 2, 0),
    ),
    (
        "zip with only OS files",
        "a.zip",
        _zip({".DS_Store": b"Bud1\x00", "__MACOSX/x": b"\x00"}),
        {},
        IngestError,
    ),
    ("zip with an empty member", "a.zip", _zip({"x.csv": GOOD.encode(), "empty.csv": b""}), {}, (2, 2, 0)),
    ("zip of a folder", "a.zip", _zip({"data/": b"", "data/x.csv": GOOD.encode()}), {}, (2, 2, 0)),
    ("gzip bomb", "a.csv.gz", gzip.compress(_zeros(), 1), {}, IngestError),
    ("zip bomb", "a.zip", _zip({"x.csv": _zeros()}, deflate=True), {}, IngestError),
    ("gzip of a gzip", "a.csv.gz.gz", gzip.compress(_gz(GOOD)), {}, (2, 2, 0)),
    # JSON
    ("json nested 5,000 deep", "a.json", b"[" + _deep_json(5000) + b"]", {}, IngestError),
    (
        "ndjson line nested 5,000 deep",
        "a.ndjson",
        b'{"a":1}\n' + _deep_json(5000) + b'\n{"a":2}\n',
        {},
        (3, 2, 1),
    ),
    ("json nested 500 deep", "a.ndjson", _deep_json(500) + b"\n", {}, (1, 1, 0)),
    (
        "json 20 MB string",
        "a.json",
        json.dumps([{"id": 1, "blob": "y" * 20_000_000}]).encode(),
        {},
        (1, 1, 0),
    ),
    ("ndjson 10,000-digit integer", "a.ndjson", b'{"a":1}\n{"a":' + b"9" * 10_000 + b"}\n", {}, (2, 1, 1)),
    (
        "json arrays and objects mixed",
        "a.json",
        json.dumps([{"a": 1}, [1, 2], {"a": [1, {"b": 2}]}, "x", None, {"b": {"c": []}}]).encode(),
        {},
        (6, 3, 3),
    ),
    ("ndjson arrays and objects mixed", "a.ndjson", b'{"a":1}\n[1,2]\n{"a":{"b":[1]}}\n"s"\n', {}, (4, 2, 2)),
    (
        "json empty key and _id",
        "a.json",
        json.dumps([{"": 1, "_id": "x1", "_line": 3}]).encode(),
        {},
        (1, 1, 0),
    ),
    ("json keys equal once case folded", "a.json", json.dumps([{"a": 1, "A": 2}]).encode(), {}, IngestError),
    # encodings
    ("utf-16 le without BOM", "a.csv", GOOD.encode("utf-16-le"), {}, (2, 2, 0)),
    ("utf-16 be without BOM", "a.csv", GOOD.encode("utf-16-be"), {}, (2, 2, 0)),
    ("utf-16 be with BOM", "a.csv", b"\xfe\xff" + GOOD.encode("utf-16-be"), {}, (2, 2, 0)),
    ("utf-32 with BOM", "a.csv", GOOD.encode("utf-32"), {}, (2, 2, 0)),
    ("utf-32 be with BOM", "a.csv", b"\x00\x00\xfe\xff" + GOOD.encode("utf-32-be"), {}, (2, 2, 0)),
    ("utf-32 le without BOM", "a.csv", GOOD.encode("utf-32-le"), {}, (2, 2, 0)),
    ("utf-32 be without BOM", "a.csv", GOOD.encode("utf-32-be"), {}, (2, 2, 0)),
    ("utf-16 with crlf", "a.csv", GOOD.replace("\n", "\r\n").encode("utf-16"), {}, (2, 2, 0)),
    ("cp1252 quotes and euro", "a.csv", "name,value\n€uro,1\n„Zitat“,2\n".encode("cp1252"), {}, (2, 2, 0)),
    (
        "latin-1 bytes cp1252 leaves undefined",
        "a.csv",
        b"name,value\nM\xfcller,1\nx\x81y\x8d,2\n",
        {},
        (2, 2, 0),
    ),
    ("utf-8 then latin-1 past the sample", "a.csv", UTF8_THEN_LATIN1, {}, (10_001, 10_000, 1)),
    ("utf-8 with a latin-1 line in the sample", "a.csv", UTF8_WITH_LATIN1, {}, (22, 21, 1)),
    ("cp1252 then utf-8 past the sample", "a.csv", CP1252_THEN_UTF8, {}, (10_001, 10_001, 0)),
    ("cp1252 with utf-8 lines in the sample", "a.csv", CP1252_WITH_UTF8, {}, (22, 22, 0)),
    ("lone cr past the sample", "a.csv", LONE_CR_PAST_SAMPLE, {}, (20_003, 20_003, 0)),
    ("cr only with quoted cr", "a.csv", CR_ONLY_QUOTED, {}, (3, 3, 0)),
    ("one column, lone cr past the sample", "a.csv", ONE_COLUMN_CR_PAST_SAMPLE, {}, (40_003, 40_003, 0)),
    ("one column, cr only with quotes", "a.csv", ONE_COLUMN_CR_QUOTED, {}, (3, 3, 0)),
    ("cr, lf, crlf and quoted cr mixed", "a.csv", CR_MIXTURE_QUOTED, {}, (4, 4, 0)),
    ("20,000 columns, one row", "a.csv", WIDE_ONE_ROW, {}, (1, 1, 0)),
    ("invalid utf-16 mid-file", "a.csv", GOOD.encode("utf-16") + b"\x00\xd8a\x00\n\x00", {}, IngestError),
    ("utf-16 with an odd byte count", "a.csv", GOOD.encode("utf-16") + b"a", {}, IngestError),
    # Parquet types
    ("parquet decimal", "a.parquet", _parquet(DEC), {}, (3, 3, 0)),
    ("parquet lists and structs", "a.parquet", _parquet(NESTED), {}, (2, 2, 0)),
    ("parquet tz-aware timestamps", "a.parquet", _parquet(TZ), {}, (2, 2, 0)),
    (
        "parquet duration",
        "a.parquet",
        _parquet(pl.DataFrame({"d": [dt.timedelta(seconds=3)]})),
        {},
        IngestError,
    ),
    (
        "parquet ns timestamps in whole µs",
        "a.parquet",
        _parquet(NS.with_columns(pl.col("at").dt.truncate("1us"))),
        {},
        (2, 2, 0),
    ),
    ("parquet ns timestamps below a µs", "a.parquet", _parquet(NS), {}, IngestError),
    (
        "parquet unsigned beyond int64",
        "a.parquet",
        _parquet(pl.DataFrame({"u": [2**64 - 1, 0]}, schema={"u": pl.UInt64})),
        {},
        (2, 2, 0),
    ),
    (
        "parquet time of day and all-null",
        "a.parquet",
        _parquet(pl.DataFrame({"t": [dt.time(12, 34, 56)], "n": [None]})),
        {},
        (1, 1, 0),
    ),
    ("parquet binary", "a.parquet", _parquet(pl.DataFrame({"b": [b"\x00\x01"]})), {}, IngestError),
    (
        "parquet categorical",
        "a.parquet",
        _parquet(pl.DataFrame({"c": ["x", "y"]}, schema={"c": pl.Categorical})),
        {},
        (2, 2, 0),
    ),
    (
        "parquet pandas index column",
        "a.parquet",
        _parquet(pl.DataFrame({"__index_level_0__": [0, 1], "v": [1.5, 2]})),
        {},
        (2, 2, 0),
    ),
    (
        "parquet internal column name",
        "a.parquet",
        _parquet(pl.DataFrame({"_line": [7], "_rescued_data": ["x"]})),
        {},
        (1, 1, 0),
    ),
    (
        "parquet columns equal once case folded",
        "a.parquet",
        _parquet(pl.DataFrame({"a": [1], "A": [2]})),
        {},
        IngestError,
    ),
    (
        "parquet too many columns",
        "a.parquet",
        _parquet(pl.DataFrame({f"c{i}": [i] for i in range(5)})),
        {"max_columns": 4},
        IngestError,
    ),
    (
        "excel decimals, dates, unicode names",
        "a.xlsx",
        _xlsx(DEC.head(2).with_columns(pl.lit(dt.date(2024, 1, 2)).alias("día"))),
        {},
        (2, 2, 0),
    ),
    (
        "time column missing",
        "a.csv",
        b"a,b\n1,2\n",
        {"time": "ts", "steps": [{"step": "resample"}]},
        IngestError,
    ),
]


def _run(case, store, folder):
    """Ingest one case: its report, or the exception it raised."""
    _name, filename, data, spec, _expected = case
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_bytes(data)
    try:
        return altakit.ingest(str(path), "corpus", {"policy": "add_new_columns", **spec}, store=store)
    except Exception as exc:  # judged by the caller
        return exc


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_corpus(case, local_store, tmp_path):
    expected = case[-1]
    out = _run(case, local_store, tmp_path)
    if isinstance(expected, type):
        assert isinstance(out, expected), out
        assert isinstance(out, AltakitError)
        assert "hint" in str(out) or out.fields.get("source") or out.fields, out
        assert not (local_store.root / ".altakit-tables" / "corpus").exists()
        return
    if isinstance(out, BaseException):
        raise out
    report = out
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
        assert q.get_column("_reason").null_count() == 0


def test_corpus_ends_in_rows_or_typed_errors(tmp_path):
    """Every case of the corpus gives a report or an AltakitError, never a dependency's exception."""
    assert len(CASES) >= 70
    untyped = []
    for k, case in enumerate(CASES):
        store = altakit.open_store(tmp_path / f"store{k}")
        out = _run(case, store, tmp_path / f"in{k}")
        if isinstance(out, BaseException) and not isinstance(out, AltakitError):
            untyped.append((case[0], type(out).__name__, str(out)[:200]))
    assert not untyped


def test_quarantine_lines_are_exact(local_store, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n\n3\n4,5\n6,7,8\n")
    report = altakit.ingest(str(path), "lines", {"policy": "add_new_columns"}, store=local_store)
    q = altakit.read_table("lines", store=local_store, quarantine=True).sort("_line")
    assert q.get_column("_line").to_list() == [4, 6]
    assert q.get_column("_raw").to_list() == ["3", "6,7,8"]
    # named as the record names the file: relative to its sources_root, no machine's absolute path
    from altakit.datasets import tables

    doc = tables.version_doc(local_store, "lines")[1]
    assert q.get_column("_source").to_list() == ["a.csv"] * 2 == [doc.sources[0]["name"]] * 2
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
