"""The fast paths give exactly what the exact paths give: rows, line numbers, quarantine."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from altakit.ingestion.readers import csv_blocks

HEADER = ["ts", "sensor", "value"]
FIELD = st.text(alphabet="ab1.- \t\r\xe9", max_size=6)
GOOD_LINE = st.lists(FIELD, min_size=3, max_size=3).map(",".join)
PLAIN_LINE = st.lists(st.text(alphabet="ab1.- \t\xe9", max_size=6), min_size=3, max_size=3).map(",".join)
ODD_LINE = st.one_of(
    st.lists(FIELD, min_size=0, max_size=6).map(",".join),
    st.sampled_from(["", " ", "\r", "  \t", "x", "1,2", "1,2,3,4"]),
)


def _same(block: bytes, lineno: int, header: list[str] = HEADER, delim: str = ",") -> None:
    exact = csv_blocks.parse_lines("f.csv", block, lineno, header, delim)
    fast = csv_blocks.parse_block("f.csv", block, lineno, header, delim)
    assert_frame_equal(fast.data, exact.data)
    assert_frame_equal(fast.bad, exact.bad)
    assert fast.blank_lines == exact.blank_lines


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.one_of(*[GOOD_LINE] * 8, ODD_LINE), min_size=1, max_size=80),
    lineno=st.integers(0, 10_000),
)
def test_fields_path_matches_lines_path(lines, lineno):
    _same(("\n".join(lines) + "\n").encode(), lineno)


LF_FIELD = st.text(alphabet="ab1.- \t\xe9\xa0\x1c\u3000", max_size=6)
LF_ODD = st.one_of(
    st.lists(LF_FIELD, min_size=0, max_size=6).map(",".join),
    st.sampled_from(["", " ", "\xa0", "\x1c", "x", "1,2", "1,", ",", "1,2,3,4"]),
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        st.one_of(*[st.lists(LF_FIELD, min_size=3, max_size=3).map(",".join)] * 8, LF_ODD),
        min_size=1,
        max_size=80,
    ),
    lineno=st.integers(0, 10_000),
)
def test_lengths_find_short_lines_exactly(lines, lineno):
    """Without CR, short lines are found from the field lengths; still exactly the lines path."""
    block = ("\n".join(lines) + "\n").encode()
    _same(block, lineno)
    fields = csv_blocks._read_fields(block, HEADER, ",")
    if fields is not None:  # no line with too many fields: the lengths find what counting finds
        spans, odd, n = csv_blocks._short_lines(block, fields, share=1.0)
        counted = csv_blocks._odd_lines(block, b",", 3, None)
        if counted is not None:
            assert (spans, odd.tolist(), n) == (counted[0], counted[1].tolist(), counted[2])


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(PLAIN_LINE, min_size=1, max_size=50), bad_at=st.lists(st.integers(0, 49), max_size=2))
def test_few_ragged_lines_keep_their_numbers(lines, bad_at):
    lines = list(lines) * 50  # enough lines that a few odd ones stay on the fields path
    for i in bad_at:
        lines.insert(i, "1,2" if i % 2 else "1,2,3,4")
    block = ("\n".join(lines) + "\n").encode()
    _same(block, 7)
    assert csv_blocks.parse_fields("f.csv", block, 7, HEADER, ",") is not None
    fast = csv_blocks.parse_block("f.csv", block, 7, HEADER, ",")
    assert fast.data.height + fast.bad.height + fast.blank_lines == len(lines)


def test_fields_path_is_taken_and_exact():
    lines = [f"2024-01-01T00:{i % 60:02d}:00Z,s{i % 3},{i}.5" for i in range(1000)]
    lines[10], lines[500], lines[501] = "2024,s1", "", "1,2,3,4"
    block = ("\n".join(lines) + "\r\n").encode()
    assert csv_blocks.parse_fields("f.csv", block, 1, HEADER, ",") is not None
    _same(block, 1)
    fast = csv_blocks.parse_block("f.csv", block, 1, HEADER, ",")
    assert fast.bad.get_column("_line").to_list() == [12, 503]
    assert fast.blank_lines == 1
    assert fast.data.get_column("_line").to_list()[:12] == [*range(2, 12), 13, 14]


def test_other_delimiters_and_invalid_utf8():
    _same(b"a;b\n1;2\n3\n4;5\n" * 30, 0, ["a", "b"], ";")
    _same(b"a\tb\n1\t2\n" * 30, 0, ["a", "b"], "\t")
    block = b"1,2\n\xff\xfe,3\n4,5\n" * 30
    fast = csv_blocks.parse_block("f.csv", block, 0, ["a", "b"], ",")
    assert fast.bad.get_column("_reason").to_list() == ["invalid utf-8"] * 30
    assert fast.data.height == 60


NUMBER = st.one_of(
    st.sampled_from(["1.5", " 2 ", "NaN", "nan", " NA ", "-", "", "inf", "abc", "12", "+7", "1e3", "null"]),
    st.floats(allow_nan=False, allow_infinity=False).map(str),
    st.integers(-(10**20), 10**20).map(str),
)
STAMP = st.sampled_from(
    [
        "2024-01-01T00:15:00Z",
        " 2024-01-01T00:15:00Z",
        "01.02.2024 10:00",
        "01/02/2024",
        "1704067200",
        "1704067200000",
        "2024-01-01 00:00:00.123",
        "yesterday",
        "NA",
        "",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(STAMP, st.sampled_from(["s1", " NA", "s 2", "-", ""]), NUMBER, NUMBER), max_size=60
    )
)
def test_fast_cast_matches_exact_cast(rows):
    import polars as pl

    from altakit.ingestion import fastcast
    from altakit.ingestion.schema import cast, normalize_nulls

    df = pl.DataFrame(
        {
            "_source": ["f"] * len(rows),
            "_line": list(range(2, len(rows) + 2)),
            "ts": [r[0] for r in rows],
            "sensor": [r[1] for r in rows],
            "value": [r[2] for r in rows],
            "n": [r[3] for r in rows],
        },
        schema={
            "_source": pl.String,
            "_line": pl.Int64,
            **dict.fromkeys(["ts", "sensor", "value", "n"], pl.String),
        },
    )
    types = {"ts": "datetime[us, UTC]", "sensor": "string", "value": "float64", "n": "int64"}
    for dts in ({"ts": None}, {"ts": "%Y-%m-%dT%H:%M:%S%#z"}, {"ts": "epoch_s"}):
        assert fastcast.supported(df, types, dts)
        fast, fast_bad = fastcast.fast_cast(df, types, dts)
        exact, exact_bad = cast(normalize_nulls(df), types, datetimes=dts)
        assert_frame_equal(fast, exact)
        assert_frame_equal(fast_bad, exact_bad)


def test_fast_cast_formats_carry_over_blocks_and_adapt():
    """Formats detected in one block are reused; a block with a new format is still parsed exactly."""
    import polars as pl

    from altakit.ingestion import fastcast
    from altakit.ingestion.schema import cast, normalize_nulls

    def block(stamps):
        return pl.DataFrame(
            {"_source": ["f"] * len(stamps), "_line": list(range(len(stamps))), "ts": stamps},
            schema={"_source": pl.String, "_line": pl.Int64, "ts": pl.String},
        )

    types, dts, formats = {"ts": "datetime[us, UTC]"}, {"ts": None}, {}
    iso = block(["2024-01-01T00:15:00Z", "2024-01-01T00:30:00Z"])
    fastcast.fast_cast(iso, types, dts, formats=formats)
    assert formats == {"ts": (["%Y-%m-%dT%H:%M:%S%.f%#z"], False)}
    dotted = block(["01.01.2024 00:45", "2024-01-01T01:00:00Z", "soon"])
    fast, bad = fastcast.fast_cast(dotted, types, dts, formats=formats)
    exact, exact_bad = cast(normalize_nulls(dotted), types, datetimes=dts)
    assert_frame_equal(fast, exact)
    assert_frame_equal(bad, exact_bad)
    assert fast.height == 2 and bad.height == 1
    assert formats == {}  # detected again with the next block
    fastcast.fast_cast(dotted.head(2), types, dts, formats=formats)
    assert formats["ts"][0] == ["%Y-%m-%dT%H:%M:%S%.f%#z", "%d.%m.%Y %H:%M"]


def _fill_gaps_reference(df, by, time, max_gap):
    """The per-series formulation FillGaps had before (window keys by series and null run)."""
    import polars as pl

    x = pl.col("value")
    filled = x.interpolate_by(time).over(by)
    null_run = x.is_null().rle_id().over(by)
    ok = (pl.len().over([*by, null_run]) <= max_gap) & x.forward_fill().is_not_null().over(by)
    ok = ok & x.backward_fill().is_not_null().over(by)
    fill = x.is_null() & ok.fill_null(False) & filled.is_not_null()
    return df.with_columns(pl.when(fill).then(filled).otherwise(x).alias("value"))


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(-100, 100)), min_size=1, max_size=80),
    series=st.lists(st.sampled_from(["a", "b", "c"]), min_size=80, max_size=80),
    max_gap=st.integers(1, 4),
)
def test_fill_gaps_matches_per_series_reference(values, series, max_gap):
    from datetime import datetime, timedelta

    import polars as pl

    from altakit.ingestion import clean

    n = len(values)
    df = pl.DataFrame(
        {
            "ts": [datetime(2024, 1, 1) + timedelta(minutes=(7 * i) % 50) for i in range(n)],
            "sensor": series[:n],
            "value": values,
        },
        schema_overrides={"value": pl.Float64},
    )
    ctx = clean.Context(time="ts", by=["sensor"])
    out, report = clean.FillGaps(max_gap=max_gap).apply(df, ctx)
    ref = _fill_gaps_reference(clean.sort_series(df, ctx), ["sensor"], "ts", max_gap)
    assert_frame_equal(out, ref)
    numbered = clean.Context(time="ts", by=["sensor"], presorted=True)  # as clean_frame runs it
    out2, report2 = clean.FillGaps(max_gap=max_gap).apply(
        clean.number_series(clean.sort_series(df, ctx), numbered), numbered
    )
    assert_frame_equal(out2.drop("__series"), ref, check_exact=True)
    assert report2 == report
    changed = int(
        (ref.get_column("value").is_not_null() & clean.sort_series(df, ctx)["value"].is_null()).sum()
    )
    assert report.changed == {"value": changed}
    for gap in ("15min", "1h"):  # a duration gap: the windowed and the frame-wide formulations agree
        windowed, r1 = clean.FillGaps(max_gap=gap).apply(df, ctx)
        framed, r2 = clean.FillGaps(max_gap=gap).apply(
            clean.number_series(clean.sort_series(df, ctx), numbered), numbered
        )
        assert_frame_equal(framed.drop("__series"), windowed, check_exact=True)
        assert r1 == r2


KEY = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
MINUTE = st.one_of(st.none(), st.integers(0, 40))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(KEY, st.integers(0, 2), MINUTE), max_size=60),
    ordered=st.sampled_from(["none", "time", "series"]),
    block=st.integers(1, 25),
)
def test_series_order_matches_a_stable_sort(rows, ordered, block):
    from datetime import datetime, timedelta

    import polars as pl

    from altakit.ingestion import clean, order

    if ordered == "time":  # the common layout: series interleaved, time ascending
        rows = sorted(rows, key=lambda r: (r[2] is not None, r[2] or 0))
    elif ordered == "series":
        rows = sorted(rows, key=lambda r: (r[0] is not None, r[0] or "", r[1]))
    t0 = datetime(2024, 1, 1)
    df = pl.DataFrame(
        {
            "s": [r[0] for r in rows],
            "k": [r[1] for r in rows],
            "ts": [None if r[2] is None else t0 + timedelta(minutes=r[2]) for r in rows],
            "n": list(range(len(rows))),  # tells equal rows apart
        },
        schema={"s": pl.String, "k": pl.Int64, "ts": pl.Datetime("us"), "n": pl.Int64},
    )
    for by in (["s"], ["s", "k"], []):
        ctx = clean.Context(time="ts", by=by)
        want = df.sort([*by, "ts"], maintain_order=True)
        assert_frame_equal(order.sort_series(df, ctx), want)
        for number in (None, "__n"):
            blocks = order.SeriesBlocks(ctx, max_pieces=40)
            for i in range(0, max(1, df.height), block):
                blocks.add(df.slice(i, block))
            got = blocks.frame(number=number)
            if number in got.columns:  # numbered as collected: the series in order, 0, 1, …
                key = pl.col(by[0]) if len(by) == 1 else pl.struct(by)
                assert got.get_column(number).to_list() == want.select(key.rle_id()).to_series().to_list()
                got = got.drop(number)
            assert_frame_equal(got, want)


@settings(max_examples=100, deadline=None)
@given(
    minutes=st.lists(st.integers(0, 300), min_size=1, max_size=60),
    series=st.lists(st.sampled_from(["a", "b"]), min_size=60, max_size=60),
    values=st.lists(st.one_of(st.none(), st.floats(-100, 100)), min_size=60, max_size=60),
    rule=st.sampled_from(["15min", "1h", "7m", "1d", "90s"]),
)
def test_resample_mean_matches_group_by_dynamic(minutes, series, values, rule):
    from datetime import datetime, timedelta

    import polars as pl

    from altakit.ingestion import clean

    n = len(minutes)
    df = pl.DataFrame(
        {
            "ts": [datetime(2024, 1, 1, 0, 3) + timedelta(minutes=m, seconds=m % 7) for m in minutes],
            "sensor": series[:n],
            "value": values[:n],
            "site": [f"x{m % 3}" for m in minutes],
        },
        schema={"ts": pl.Datetime("us", "UTC"), "sensor": pl.String, "value": pl.Float64, "site": pl.String},
    )
    ctx = clean.Context(time="ts", by=["sensor"])
    out, _ = clean.Resample(rule=rule).apply(df, ctx)
    ref = (
        clean.sort_series(df, ctx)
        .group_by_dynamic("ts", every=rule.replace("min", "m"), group_by=["sensor"])
        .agg(pl.col("value").mean(), pl.col("site").first())
        .select(df.columns)
    )
    assert_frame_equal(out.sort("sensor", "ts"), ref.sort("sensor", "ts"))


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    parts=st.integers(2, 4),
    seed=st.integers(0, 1000),
)
def test_cleaning_in_parts_matches_one_piece(sizes, parts, seed):
    """Runs of whole series cleaned on threads give the rows, reports and rejects of one piece."""
    import random
    from datetime import datetime, timedelta

    import polars as pl

    from altakit.ingestion import clean, order
    from altakit.ingestion.engines import local as engine_local
    from altakit.ingestion.spec import IngestSpec

    rnd = random.Random(seed)
    rows = [
        (
            f"s{s}",
            datetime(2024, 1, 1) + timedelta(minutes=7 * i),
            None if rnd.random() < 0.2 else rnd.gauss(0, 5),
        )
        for s, n in enumerate(sizes)
        for i in range(n)
    ]
    rnd.shuffle(rows)
    rows.sort(key=lambda r: r[1])  # series interleaved, time ascending: the rows arrive numbered
    df = pl.DataFrame(
        {
            "_source": "f",
            "_line": range(len(rows)),
            "sensor": [r[0] for r in rows],
            "ts": [r[1] for r in rows],
        }
        | {"value": [r[2] for r in rows]},
        schema_overrides={"value": pl.Float64},
    )
    spec = IngestSpec.load(
        {
            "time": "ts",
            "by": ["sensor"],
            "steps": [
                {"step": "failures", "ranges": {"value": [-8, 8]}},
                {"step": "outliers", "method": "zscore", "threshold": 1.5, "action": "quarantine"},
                {"step": "fill_gaps", "max_gap": 2},
                {"step": "resample", "rule": "15min"},
            ],
        }
    )

    def collected():
        blocks = order.SeriesBlocks(clean.Context(time="ts", by=["sensor"]))
        for i in range(0, df.height, 17):
            blocks.add(df.slice(i, 17))
        return blocks.frame(number=clean.SERIES)

    assert clean.SERIES in collected().columns
    whole_rejects, part_rejects = [], []
    whole, whole_steps = engine_local.clean_frame(
        collected(), spec, lambda r, why: whole_rejects.append((r, why)), presorted=True
    )
    parted, part_steps = engine_local.clean_in_parts(
        collected(), spec, lambda r, why: part_rejects.append((r, why)), parts=parts, min_rows=0
    )
    assert_frame_equal(parted, whole)
    assert [s.to_dict() for s in part_steps] == [s.to_dict() for s in whole_steps]
    key = ["_source", "_line"]
    got = pl.concat([r for r, _ in part_rejects]) if part_rejects else None
    want = pl.concat([r for r, _ in whole_rejects]) if whole_rejects else None
    if want is None:
        assert got is None
    else:
        assert_frame_equal(got.sort(key), want.sort(key))
