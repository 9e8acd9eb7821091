"""Hostile inputs beyond the corpus' counts: the values that arrive, wide files, names, fuzzed bytes.

Inputs are generated here; each test checks what reaches the table, not only how many rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import io
import random
import zipfile

import polars as pl
import pytest

import altakit
from altakit.datasets.internal import INTERNAL_COLUMNS
from altakit.datasets.tables import INGEST_COLUMN, QUARANTINE_COLUMNS
from altakit.errors import AltakitError, IngestError
from altakit.ingestion import sources

GOOD = "ts,sensor,value\n2024-01-01T00:00:00Z,s1,1.5\n2024-01-01T00:15:00Z,s1,2.5\n"
SPEC = {"policy": "add_new_columns"}


def _ingest(store, tmp_path, name: str, data: bytes, spec: dict | None = None, dataset: str = "t"):
    path = tmp_path / name
    path.write_bytes(data)
    return altakit.ingest(str(path), dataset, {**SPEC, **(spec or {})}, store=store)


def test_internal_names_cover_every_column_altakit_adds():
    from altakit.ingestion import clean, fastcast, schema, spill

    assert {schema.RESCUED, clean.SERIES, fastcast._ROW, spill._BUCKET, INGEST_COLUMN} <= INTERNAL_COLUMNS
    assert set(QUARANTINE_COLUMNS) <= INTERNAL_COLUMNS


def test_wide_csv_ingests(local_store, tmp_path):
    cols = 5_000
    header = ",".join(f"c{i}" for i in range(cols))
    rows = "\n".join(",".join(str(r * cols + i) for i in range(cols)) for r in range(2))
    report = _ingest(local_store, tmp_path, "wide.csv", f"{header}\n{rows}\n".encode())
    assert (report.rows_in, report.rows_written) == (2, 2)
    table = altakit.read_table("t", store=local_store).sort("c0")
    assert table.width == cols
    assert table.get_column(f"c{cols - 1}").to_list() == [cols - 1, 2 * cols - 1]


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_column_limit_is_a_typed_error_naming_the_option(local_store, tmp_path, fmt):
    df = pl.DataFrame({f"c{i}": [i] for i in range(30)})
    buf = io.BytesIO()
    getattr(df, f"write_{fmt}")(buf)
    with pytest.raises(IngestError) as info:
        _ingest(local_store, tmp_path, f"a.{fmt}", buf.getvalue(), {"max_columns": 20})
    assert info.value.fields["columns"] == 30
    assert "max_columns" in str(info.value)
    report = _ingest(local_store, tmp_path, f"a.{fmt}", buf.getvalue(), {"max_columns": 30})
    assert report.rows_written == 1


def test_underscore_columns_are_the_users_and_internal_names_are_renamed(local_store, tmp_path):
    data = b"_id,_version,__index_level_0__,_line,_rescued_data,v\nab01,3,0,7,keep,1.5\nab02,4,1,8,me,2.5\n"
    report = _ingest(local_store, tmp_path, "a.csv", data)
    assert report.rows_written == 2
    table = altakit.read_table("t", store=local_store)
    assert table.columns == ["_id", "_version", "__index_level_0__", "_line_user", "_rescued_data_user", "v"]
    assert table.get_column("_id").to_list() == ["ab01", "ab02"]
    assert table.get_column("_version").to_list() == [3, 4]
    assert table.get_column("_line_user").to_list() == [7, 8]
    assert table.get_column("_rescued_data_user").to_list() == ["keep", "me"]


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_renames_show_in_the_report_the_version_and_the_review(local_store, tmp_path, fmt):
    from altakit.datasets.tables import version_doc
    from altakit.ingestion.review import SchemaRegistry, diff_rows

    first = pl.DataFrame({"v": [1]})
    second = pl.DataFrame({"v": [2], "_line": [7], "_Source": ["x"]})
    for k, df in enumerate((first, second)):
        buf = io.BytesIO()
        getattr(df, f"write_{fmt}")(buf)
        policy = "add_new_columns" if k == 0 else "review"
        try:
            report = _ingest(local_store, tmp_path, f"a{k}.{fmt}", buf.getvalue(), {"policy": policy})
        except altakit.errors.SchemaChangePending as exc:
            pending = exc
    assert first is not None and report.renamed == {}
    assert "renamed" not in version_doc(local_store, "t")[0].doc
    renamed = {"_line_user": "_line", "_Source_user": "_Source"}
    assert pending.fields["diff"]["renamed"] == renamed
    assert "_line_user (renamed from _line)" in str(pending)
    rows = diff_rows(SchemaRegistry(local_store).pending("t").doc["diff"])
    assert ("added", "_line_user", "renamed from _line", "int64") in rows
    # approved, the ingest records the renames in its report and its version
    SchemaRegistry(local_store).approve("t", by="ana", comment="ok")
    report = _ingest(local_store, tmp_path, f"a1.{fmt}", buf.getvalue(), {"policy": "review"})
    assert report.renamed == renamed
    assert version_doc(local_store, "t")[1].renamed == renamed


def test_rescue_policy_keeps_its_column_apart_from_the_users(local_store, tmp_path):
    _ingest(local_store, tmp_path, "a.csv", b"_id,v\nx,1\n", {"policy": "rescue"})
    _ingest(local_store, tmp_path, "b.csv", b"_id,v,_rescued_data,extra\ny,2,mine,9\n", {"policy": "rescue"})
    table = altakit.read_table("t", store=local_store).sort("_id")
    assert table.get_column("_id").to_list() == ["x", "y"]
    rescued = table.get_column("_rescued_data").to_list()
    assert rescued[0] is None and "mine" in rescued[1] and "extra" in rescued[1]


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.replace("\n", "\r").encode(),
        lambda t: t.encode("utf-16-le"),
        lambda t: t.encode("utf-32"),
        lambda t: t.replace("\n", "\r\n").encode("utf-32-be"),
        lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
    ],
    ids=["cr", "utf-16-le", "utf-32", "utf-32-be-crlf", "utf-16-be-bom"],
)
def test_encodings_and_line_ends_read_the_same_values(local_store, tmp_path, encode):
    text = "name,value\nKöln 😀,1.5\n„Zitat“,2\n"
    _ingest(local_store, tmp_path, "a.csv", text.encode(), dataset="plain")
    _ingest(local_store, tmp_path, "b.csv", encode(text), dataset="other")
    plain = altakit.read_table("plain", store=local_store)
    assert plain.get_column("name").to_list() == ["Köln 😀", "„Zitat“"]
    assert altakit.read_table("other", store=local_store).equals(plain)


def test_cp1252_with_latin1_bytes_keeps_every_character(local_store, tmp_path):
    _ingest(local_store, tmp_path, "a.csv", b"name,value\n\x80 M\xfcller,1\nx\x81y,2\n")
    names = altakit.read_table("t", store=local_store).get_column("name").to_list()
    assert names == ["€ Müller", "x\x81y"]


@pytest.mark.parametrize(
    ("first", "then"),
    [("cp1252", "utf-8"), ("utf-8", "cp1252")],
    ids=["cp1252 then utf-8", "utf-8 then cp1252"],
)
@pytest.mark.parametrize("before", [20, 20_000], ids=["in the sample", "past the sample"])
def test_mixed_encodings_never_give_mojibake(local_store, tmp_path, first, then, before):
    """A file whose encoding switches halfway: every value is right, or its line is quarantined."""
    data = ("name,n\n" + "Müller,1\n" * before).encode(first) + "Jürgen,2\nZoë,3\n".encode(then)
    report = _ingest(local_store, tmp_path, "mixed.csv", data)
    table = altakit.read_table("t", store=local_store)
    names = set(table.get_column("name").to_list())
    assert names <= {"Müller", "Jürgen", "Zoë"}, names - {"Müller", "Jürgen", "Zoë"}
    assert report.rows_in == before + 2
    assert table.height + report.rows_quarantined == before + 2
    if first == "cp1252":  # a single-byte file: its UTF-8 lines are read as UTF-8
        assert names == {"Müller", "Jürgen", "Zoë"}


@pytest.mark.parametrize(
    ("data", "values"),
    [
        (b'a,b\r1,"x\ry"\r2,"z"\r', [("1", "x\ry"), ("2", "z")]),
        (("a,b\n" + "0,w\n" * 20_000 + '1,"x\ry"\r2,z\r').encode(), [("1", "x\ry"), ("2", "z")]),
        (b'a,b\r\n1,"x"\r2,"y\rz"\n3,"4\r\n5"\r6,7', [("1", "x"), ("2", "y\rz"), ("3", "4\n5"), ("6", "7")]),
    ],
    ids=["cr only", "lone cr past the sample", "mixture"],
)
def test_lone_cr_ends_lines_outside_quotes_only(local_store, tmp_path, data, values):
    _ingest(local_store, tmp_path, "cr.csv", data)
    table = altakit.read_table("t", store=local_store).select(pl.col("a", "b").cast(pl.String))
    assert list(table.filter(pl.col("a") != "0").sort("a").iter_rows()) == values


def test_one_column_cr_file_keeps_its_rows_apart(local_store, tmp_path):
    data = ("name\n" + "x\n" * 40_000 + "A\rB\rC\r").encode()
    report = _ingest(local_store, tmp_path, "one.csv", data)
    assert (report.rows_in, report.rows_written) == (40_003, 40_003)
    table = altakit.read_table("t", store=local_store)
    assert sorted(set(table.get_column("name").to_list())) == ["A", "B", "C", "x"]


def test_parquet_types_are_mapped_without_changing_a_value(local_store, tmp_path):
    at = dt.datetime(2024, 3, 31, 1, 30)
    df = pl.DataFrame(
        {
            "amount": [decimal.Decimal("12345678901234.56"), decimal.Decimal("-0.01")],
            "tags": [["a", "b"], []],
            "point": [{"x": 1, "y": 2.5}, {"x": None, "y": 0.0}],
            "at": [at, at + dt.timedelta(hours=2)],
        },
        schema_overrides={"amount": pl.Decimal(16, 2)},
    ).with_columns(pl.col("at").dt.replace_time_zone("Europe/Berlin"))
    buf = io.BytesIO()
    df.write_parquet(buf)
    _ingest(local_store, tmp_path, "a.parquet", buf.getvalue())
    table = altakit.read_table("t", store=local_store)
    assert isinstance(table.schema["amount"], pl.Decimal)
    assert table.get_column("amount").to_list() == df.get_column("amount").to_list()
    assert table.get_column("tags").to_list() == ['["a", "b"]', "[]"]
    assert table.get_column("point").to_list() == ['{"x": 1, "y": 2.5}', '{"x": null, "y": 0.0}']
    expected = df.get_column("at").dt.convert_time_zone("UTC").to_list()
    assert table.get_column("at").dt.convert_time_zone("UTC").to_list() == expected


def test_unsupported_parquet_type_names_the_column_and_type(local_store, tmp_path):
    buf = io.BytesIO()
    pl.DataFrame({"ok": [1], "wait": [dt.timedelta(seconds=3)]}).write_parquet(buf)
    with pytest.raises(IngestError) as info:
        _ingest(local_store, tmp_path, "a.parquet", buf.getvalue())
    assert info.value.fields["column"] == "wait"
    assert "Duration" in info.value.fields["column_type"]


def test_bomb_error_says_what_the_bounds_are(local_store, tmp_path):
    with pytest.raises(IngestError) as info:
        _ingest(local_store, tmp_path, "a.csv.gz", gzip.compress(b"1," * (50 * 1024 * 1024), 1))
    assert "bomb" in str(info.value) and f"{sources.MAX_RATIO}x" in str(info.value)


def _mutations(seed: int, data: bytes, n: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            op, at = rng.random(), rng.randrange(max(1, len(b)))
            if op < 0.4 and b:
                b[at] = rng.randrange(256)
            elif op < 0.7:
                del b[at : at + rng.randint(1, 16)]
            else:
                b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        out.append(bytes(b))
    return out


def _seeds() -> list[tuple[str, bytes]]:
    parquet, archive, workbook = io.BytesIO(), io.BytesIO(), io.BytesIO()
    frame = pl.DataFrame({"a": [1, 2], "b": ["x", None], "c": [[1], [2, 3]]})
    frame.write_parquet(parquet)
    frame.drop("c").write_excel(workbook)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.csv", GOOD)
        z.writestr("in.zip", archive.getvalue())
    return [
        ("a.xlsx", workbook.getvalue()),
        ("a.csv", GOOD.replace("\n", "\r").encode("utf-32-le")),
        ("a.csv", ('a,"b c",d\n1,"x\n y",3\n' + GOOD).encode()),
        ("a.csv", GOOD.encode("utf-16")),
        ("a.json", b'[{"a": 1, "b": [1, {"c": null}]}, {"a": "x"}]'),
        ("a.ndjson", b'{"a": 1}\n{"a": {"b": 2}}\n'),
        ("a.csv.gz", gzip.compress(GOOD.encode())),
        ("a.zip", archive.getvalue()),
        ("a.parquet", parquet.getvalue()),
    ]


def test_fuzzed_inputs_end_in_rows_or_typed_errors(tmp_path):
    """Damaged variants of valid files: each gives exact accounting or an AltakitError."""
    untyped, k = [], 0
    for name, data in _seeds():
        for variant in _mutations(k, data, 12):
            k += 1
            store = altakit.open_store(tmp_path / f"s{k}")
            folder = tmp_path / f"in{k}"
            folder.mkdir()
            try:
                report = _ingest(store, folder, name, variant)
            except AltakitError:
                continue
            except Exception as exc:  # the failure this test is for
                untyped.append((name, k, type(exc).__name__, str(exc)[:200]))
                continue
            assert report.rows_in == report.rows_written + report.rows_quarantined
    assert not untyped
