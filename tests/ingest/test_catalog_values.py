"""Cell values stay out of the catalog: records, the index, reports, previews and profiles hold
at most a short excerpt, and quarantined values (maybe personal data) live only in the quarantine table."""

from __future__ import annotations

import json

import polars as pl
import pytest

import altakit
from altakit.datasets.profile import profile_table
from altakit.errors import IngestError
from altakit.ingestion import quarantine
from altakit.ingestion.preview import preview, samples

EMAIL = "jane.doe@example.com"
SSN = "555-12-3456"
BIG = 8 * 1024 * 1024  # an 8 MB field
LIMIT = 64 * 1024


def _data() -> bytes:
    rows = [f"{i},{i},note {i}" for i in range(60)]
    rows.append(f"60,{EMAIL} {'x' * BIG},note 60")  # an int column's value: quarantined
    rows.append(f"61,{SSN},{'y' * BIG}")  # another, and an 8 MB text value that is kept
    return ("id,v,note\n" + "\n".join(rows) + "\n").encode()


def _catalog_bytes(store) -> dict[str, bytes]:
    """Every object under the catalog's prefix, and the SQL index file."""
    out = {v.key: store.get(v.key) for v in store.list("_altakit/catalog/", recursive=True)}
    index = store.root / ".altakit-catalog.sqlite"
    out["<index>"] = index.read_bytes()
    return out


def test_a_huge_quarantined_value_never_reaches_the_catalog(local_store):
    report = altakit.ingest(("a.csv", _data()), "t", {"policy": "add_new_columns"}, store=local_store)
    assert report.rows_quarantined == 2
    assert report.quarantine_reasons == {"column 'v': a value is not int64": 2}
    catalog = _catalog_bytes(local_store)
    record = next(data for key, data in catalog.items() if key.startswith("_altakit/catalog/table/"))
    assert len(record) < LIMIT
    assert len(catalog["<index>"]) < 4 * LIMIT  # a few pages of SQLite, not the 8 MB value twice
    for key, data in catalog.items():
        assert EMAIL.encode() not in data and SSN.encode() not in data, key
        assert b"x" * 100 not in data and b"y" * 100 not in data, key
    # the values live in the quarantine table, whole; its reasons quote a short excerpt
    rows = altakit.quarantine("t", store=local_store).sort("_line")
    assert rows.get_column("_raw").str.contains(EMAIL, literal=True).any()
    assert rows.get_column("_raw").str.len_bytes().max() > BIG
    reasons = rows.get_column("_reason").to_list()
    assert all(len(r) < 100 for r in reasons), reasons
    assert reasons[0] == f"column 'v': '{(EMAIL + ' ' + 'x' * BIG)[: quarantine.EXCERPT]}…' is not int64"


def test_value_excerpt_zero_masks_values_in_reasons(local_store):
    spec = {"policy": "add_new_columns", "value_excerpt": 0}
    altakit.ingest(("a.csv", _data()), "t", spec, store=local_store)
    reasons = altakit.quarantine("t", store=local_store).get_column("_reason").to_list()
    assert reasons == ["column 'v': <masked> is not int64"] * 2


def test_catalog_summaries_hold_few_short_reasons():
    counts = {f"column 'c{i}': '{'z' * 30}' is not int64": 1 for i in range(300)}
    counts["r" * 10_000] = 5
    out = quarantine.summaries(counts)
    assert len(out) <= quarantine.MAX_REASONS + 1 and sum(out.values()) == 305
    assert max(len(k) for k in out) <= quarantine.REASON_CHARS + 1
    assert not any("zzz" in k for k in out)


def test_profiles_and_previews_quote_short_excerpts(local_store):
    long = "y" * BIG
    data = f"id,note\n1,{EMAIL} {long}\n2,{EMAIL} {long}\n3,short\n".encode()
    altakit.ingest(("a.csv", data), "t", {"policy": "add_new_columns"}, store=local_store)
    prof = profile_table("t", store=local_store)
    assert prof["note"]["top"] == {(EMAIL + " " + long)[:40] + "…": 2, "short": 1}
    assert len(json.dumps(prof)) < LIMIT
    found = preview(("a.csv", data), {"policy": "add_new_columns"})
    shown = samples(found.rows)
    assert shown["note"][0] == (EMAIL + " " + long)[:40] + "…"
    assert max(len(v) for values in shown.values() for v in values) <= 40 + 1


def test_an_ambiguous_date_error_quotes_a_short_value(local_store):
    from altakit.errors import AmbiguousValues

    long_date = "01/02/2024" + " " * 200 + "x" * 5_000
    data = f"d,v\n{long_date},1\n03/04/2024,2\n".encode()
    with pytest.raises(AmbiguousValues) as info:
        altakit.ingest(("a.csv", data), "t", {"datetimes": {"d": None}}, store=local_store)
    assert len(str(info.value)) < 1_000 and "x" * 100 not in str(info.value)


def test_the_reason_expression_cuts_and_masks():
    frame = pl.DataFrame({"v": ["short", "l" * 100]})
    cut = frame.select(quarantine.value_reason("v", "not int64", pl.col("v"))).to_series().to_list()
    assert cut == [
        "column 'v': 'short' is not int64",
        f"column 'v': '{'l' * quarantine.EXCERPT}…' is not int64",
    ]


def test_a_header_that_is_a_huge_value_is_refused_without_quoting_it(local_store):
    data = ("id," + "h" * 100_000 + "\n1,2\n").encode()
    with pytest.raises(IngestError) as info:
        altakit.ingest(("a.csv", data), "t", store=local_store)
    assert "100,000 characters" in str(info.value) and len(str(info.value)) < 1_000
    assert not local_store.list("_altakit/catalog/", recursive=True)
