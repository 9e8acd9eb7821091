"""Cleaning steps: each one changes exactly what it reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from altakit.errors import ConfigError
from altakit.ingestion import clean, datetimes


def _series(values, sensor="s1", start=datetime(2024, 1, 1, tzinfo=UTC), step=timedelta(minutes=5)):
    return pl.DataFrame(
        {
            "ts": [start + i * step for i in range(len(values))],
            "sensor": [sensor] * len(values),
            "value": [None if v is None else float(v) for v in values],
        },
        schema={"ts": pl.Datetime("us", "UTC"), "sensor": pl.String, "value": pl.Float64},
    )


CTX = clean.Context(time="ts", by=["sensor"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T10:15:00Z", datetime(2024, 3, 1, 10, 15, tzinfo=UTC)),
        ("2024-03-01T12:15:00+02:00", datetime(2024, 3, 1, 10, 15, tzinfo=UTC)),
        ("2024-03-01T10:15:00", datetime(2024, 3, 1, 10, 15, tzinfo=UTC)),
        ("01.03.2024 10:15", datetime(2024, 3, 1, 10, 15, tzinfo=UTC)),
        ("03/01/2024", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01 10:15:00.250", datetime(2024, 3, 1, 10, 15, 0, 250000, tzinfo=UTC)),
        ("1709288100", datetime(2024, 3, 1, 10, 15, tzinfo=UTC)),
        ("1709288100000", datetime(2024, 3, 1, 10, 15, tzinfo=UTC)),
    ],
)
def test_datetime_formats(text, expected):
    df = pl.DataFrame({"ts": [text]})
    out, bad, failures = datetimes.parse_datetimes(df, {"ts": None})
    assert out.get_column("ts").to_list() == [expected]
    assert failures == {"ts": 0} and not bad.any()


def test_mixed_formats_in_one_column_and_failures():
    df = pl.DataFrame({"ts": ["2024-03-01T10:15:00Z", "02.03.2024 10:15", "03/03/2024", "never", None]})
    out, bad, failures = datetimes.parse_datetimes(df, {"ts": None})
    days = [d.day if d else None for d in out.get_column("ts").to_list()]
    assert days == [1, 2, 3, None, None]
    assert bad.to_list() == [False, False, False, True, False]
    assert failures == {"ts": 1}


def test_datetime_override_and_time_zones():
    df = pl.DataFrame({"ts": ["01/03/2024 10:15"]})  # day-first, as the override says
    out, _, _ = datetimes.parse_datetimes(df, {"ts": "%d/%m/%Y %H:%M"}, source_tz="Europe/Berlin", tz="UTC")
    assert out.get_column("ts").to_list() == [datetime(2024, 3, 1, 9, 15, tzinfo=UTC)]
    out, _, _ = datetimes.parse_datetimes(df, {"ts": "%d/%m/%Y %H:%M"}, tz="Asia/Tokyo")
    assert out.schema["ts"] == pl.Datetime("us", "Asia/Tokyo")
    assert out.get_column("ts").dt.hour().to_list() == [19]


def test_zscore_outlier_nulls_exactly_the_outlier():
    df = _series([10, 11, 9, 10, 12, 10, 500, 11, 10, 9, 10, 11])
    out, report = clean.Outliers("zscore", threshold=3).apply(df, CTX)
    assert report.changed == {"value": 1}
    assert out.get_column("value").null_count() == 1
    assert (
        out.filter(pl.col("value").is_null()).height == 1 and 500.0 not in out.get_column("value").to_list()
    )


def test_iqr_and_hampel():
    values = [10, 11, 9, 10, 12, 10, 80, 11, 10, 9, 10, 11]
    _, iqr = clean.Outliers("iqr").apply(_series(values), CTX)
    _, hampel = clean.Outliers("hampel", window=5).apply(_series(values), CTX)
    assert iqr.changed == {"value": 1}
    assert hampel.changed == {"value": 1}


def test_outliers_to_quarantine():
    rejected = []
    ctx = clean.Context(
        time="ts", by=["sensor"], reject=lambda rows, why: rejected.append((rows.height, why))
    )
    out, report = clean.Outliers("zscore", threshold=3, action="quarantine").apply(
        _series([10, 11, 9, 10, 12, 10, 500, 11, 10, 9, 10, 11]), ctx
    )
    assert out.height == 11 and rejected == [(1, "outlier (zscore)")]
    assert report.detail["rows_quarantined"] == 1


def test_outliers_per_series():
    df = pl.concat([_series([1, 1, 1, 1, 1, 1, 1, 1, 1, 2]), _series([100, 101, 99, 100, 100, 101], "s2")])
    _, report = clean.Outliers("zscore", threshold=2.5).apply(df, CTX)
    assert report.changed == {"value": 1}  # s2's values are not outliers of s1


def test_failures_stuck_range_spike():
    df = _series([1, 2, 3, 3, 3, 3, 4, 5, 90, 6, 7, -40])
    out, report = clean.Failures(stuck=3, ranges={"value": [-10, 100]}, spike=30).apply(df, CTX)
    assert report.detail == {"range": {"value": 1}, "stuck": {"value": 3}, "spike": {"value": 1}}
    assert out.get_column("value").to_list() == [1, 2, 3, None, None, None, 4, 5, None, 6, 7, None]


def test_fill_gaps_respects_max_gap():
    df = _series([1, None, 3, None, None, None, 7])
    out, report = clean.FillGaps(max_gap=2).apply(df, CTX)
    assert out.get_column("value").to_list() == [1, 2, 3, None, None, None, 7]
    assert report.changed == {"value": 1}
    out, report = clean.FillGaps(max_gap="20min").apply(df, CTX)
    assert out.get_column("value").to_list() == [1, 2, 3, 4, 5, 6, 7]
    assert report.changed == {"value": 4}


def test_fill_gaps_leaves_edges():
    out, report = clean.FillGaps(max_gap=5).apply(_series([None, 1, None, 3, None]), CTX)
    assert out.get_column("value").to_list() == [None, 1, 2, 3, None]
    assert report.changed == {"value": 1}


@pytest.mark.parametrize(
    ("how", "expected"), [("mean", [2.0, 5.0]), ("linear", [1.0, 4.0]), ("nearest", [1.0, 4.0])]
)
def test_resample(how, expected):
    df = _series([1, 2, 3, 4, 5, 6])  # every 5 min
    out, report = clean.Resample("15min", how).apply(df, CTX)
    assert out.get_column("value").to_list() == expected
    assert out.get_column("ts").to_list() == [
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 15, tzinfo=UTC),
    ]
    assert (report.rows_before, report.rows_after) == (6, 2)


def test_resample_linear_between_points():
    df = _series([0, 30], step=timedelta(minutes=30))
    out, _ = clean.Resample("10m", "linear").apply(df, CTX)
    assert out.get_column("value").to_list() == [0.0, 10.0, 20.0, 30.0]


def test_bad_step_specs():
    with pytest.raises(ConfigError):
        clean.build_step({"step": "nope"})
    with pytest.raises(ConfigError):
        clean.build_step({"step": "outliers", "bogus": 1})
    with pytest.raises(ConfigError):
        clean.Outliers("magic").apply(_series([1, 2]), CTX)
    with pytest.raises(ConfigError):
        clean.Resample("15min").apply(_series([1, 2]), clean.Context())
    with pytest.raises(ConfigError):
        clean.FillGaps(max_gap="soon").apply(_series([1, None, 2]), CTX)
