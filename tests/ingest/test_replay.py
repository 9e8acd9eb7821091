"""A quarantine you can fix and replay: open rows, replay into a new version, discard, lineage, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime

import polars as pl
import pytest
from fixtures.readings import BAD as READINGS_BAD
from fixtures.readings import SPEC
from typer.testing import CliRunner

import altakit
from altakit.catalog import catalog_of
from altakit.catalog.records import Ref
from altakit.cli import app
from altakit.datasets.tables import TableDoc, read_quarantine, version_docs
from altakit.errors import ConfigError, Conflict, NotFound
from altakit.ingestion import discard, ingest, read_table, replay
from altakit.ingestion.quarantine_log import META_COLUMNS, accounting
from altakit.ingestion.replay import LOCKS

# the readings' lines 22 (temp not a number) and 23, then 24: a date format nobody detects, 25: ragged
BAD = READINGS_BAD + "2024/01/02 06h00,s2,6.5\n" + "2024-01-02T07:00:00Z,s2\n"


@pytest.fixture
def store(readings_store, tmp_path):
    (tmp_path / "bad.csv").write_text(BAD)
    report = ingest(str(tmp_path / "bad.csv"), "s", SPEC, store=readings_store)
    assert report.version == 2 and report.rows_quarantined == 4
    return readings_store


def _entry(q: pl.DataFrame, line: int) -> str:
    return q.filter(pl.col("_line") == line).get_column("_entry").item()


def test_quarantine_lists_open_rows_by_ingest_reason_source_and_line(store, tmp_path):
    q = altakit.quarantine("s", store=store)
    assert q.columns == [*META_COLUMNS, "ts", "sensor", "temp"]
    assert q.height == 4 and set(q["_state"]) == {"open"} and set(q["_source"]) == {"bad.csv"}
    assert sorted(q["_line"]) == [22, 23, 24, 25] and set(q["_ingest_version"]) == {2}
    _, doc = version_docs(store, "s")[1]
    assert set(q["_ingest"]) == {doc.ingest_id}
    temp = q.filter(pl.col("_line") == 22).row(0, named=True)
    assert "'12.5°'" in temp["_reason"] and temp["temp"] == "12.5°" and temp["sensor"] == "s2"
    assert q.filter(pl.col("_line") == 25)["ts"].to_list() == [None]  # raw text: nothing to split
    assert altakit.quarantine("s", store=store, as_="pandas").shape == (4, len(q.columns))
    assert altakit.quarantine("s", store=store, ingest=1).height == 0
    assert accounting("s", store=store) == {"quarantined": 4, "replayed": 0, "open": 4, "discarded": 0}


def test_replay_after_a_fix_writes_a_version_linked_to_its_entries(store):
    q = altakit.quarantine("s", store=store)
    entry = _entry(q, 22)
    fixed = q.filter(pl.col("_entry") == entry).with_columns(temp=pl.lit("12.5"))
    before = read_table("s", store=store).height
    report = replay("s", fixed, by="ana", comment="degree sign from the logger", store=store)
    assert report.status == "written" and report.version == 3 and report.replayed == [entry]
    table = read_table("s", store=store)
    assert table.height == before + 1
    row = table.filter(pl.col("ts") == datetime(2024, 1, 2, 1, tzinfo=UTC)).row(0, named=True)
    assert row == {"ts": datetime(2024, 1, 2, 1, tzinfo=UTC), "sensor": "s2", "temp": 12.5}
    assert table.schema == read_table("s@1", store=store).schema  # the approved schema's types
    assert entry not in altakit.quarantine("s", store=store)["_entry"].to_list()
    assert accounting("s", store=store) == {"quarantined": 4, "replayed": 1, "open": 3, "discarded": 0}
    rec = catalog_of(store).get("table", "s", 3)
    assert rec.link("replayed_from") == [Ref("table", "s", 2)] and rec.link("derived_from")
    doc = TableDoc.from_doc(rec.doc)
    assert doc.replay is not None and doc.replay["entries"] == [entry] and doc.replay["by"] == "ana"
    assert doc.replay["comment"] == "degree sign from the logger" and doc.replay["at"].startswith("20")
    assert (doc.rows_in, doc.rows_written, doc.rows_quarantined) == (1, 1, 0)
    assert read_table("s@3", store=store).height == before + 1  # the version reads back
    replayed = altakit.quarantine("s", store=store, state="replayed")
    assert replayed["_entry"].to_list() == [entry]

    again = replay("s", fixed, by="ana", store=store)  # replaying twice adds nothing
    assert again.status == "unchanged" and again.skipped == [entry] and again.version is None
    assert read_table("s", store=store).height == before + 1 and len(version_docs(store, "s")) == 3


def test_a_replay_that_still_fails_stays_open_with_the_new_reason(store):
    entry = _entry(altakit.quarantine("s", store=store), 22)
    report = replay("s", values={"temp": {"12.5°": "twelve"}}, entries=[entry], store=store)
    assert report.status == "failed" and report.version is None and report.replayed == []
    assert "'twelve' is not float64" in report.failed[entry]
    q = altakit.quarantine("s", store=store).filter(pl.col("_entry") == entry).row(0, named=True)
    assert q["_state"] == "open" and "'twelve'" in q["_reason"] and q["temp"] == "twelve"
    assert q["_raw"].count("12.5°") == 1  # the row as quarantined is kept
    assert accounting("s", store=store) == {"quarantined": 4, "replayed": 0, "open": 4, "discarded": 0}
    assert len(version_docs(store, "s")) == 2
    fixed = replay("s", values={"temp": {"twelve": "12.5"}}, entries=[entry], store=store)
    assert fixed.replayed == [entry] and fixed.version == 3


def test_a_date_format_fixes_the_rows_it_names(store):
    report = replay("s", formats={"ts": "%Y/%m/%d %Hh%M"}, reason="'ts'", comment="logger v2", store=store)
    assert report.status == "written" and len(report.replayed) == 2 and not report.failed
    table = read_table("s", store=store)
    got = (
        table.filter(pl.col("temp").is_in([5.5, 6.5]) & (pl.col("sensor") == "s2")).sort("ts")["ts"].to_list()
    )
    assert got == [datetime(2024, 1, 2, 5, tzinfo=UTC), datetime(2024, 1, 2, 6, tzinfo=UTC)]
    doc = TableDoc.from_doc(catalog_of(store).get("table", "s", 3).doc)
    assert doc.replay["fix"]["formats"] == {"ts": "%Y/%m/%d %Hh%M"}
    with pytest.raises(ConfigError, match="lacks"):
        replay("s", formats={"nope": "%Y"}, store=store)


def _dates(tmp_path, store, name, spec, rows):
    """Ingest ``rows`` (``ts,temp`` lines after 20 good ones in ``first``) and return its quarantine."""
    (tmp_path / f"{name}.csv").write_text("ts,temp\n" + "".join(f"{r}\n" for r in rows))
    ingest(str(tmp_path / f"{name}.csv"), name, {"time": "ts", "infer_threshold": 0.5, **spec}, store=store)
    return altakit.quarantine(name, store=store)


def test_replay_reads_dates_in_the_order_the_ingest_decided(local_store, tmp_path):
    days = [f"{d}/01/2024,{d}.5" for d in range(13, 29)]  # 13/01 …: day-first only
    q = _dates(tmp_path, local_store, "dmy", {}, [*days, "05/06/2024,warm"])
    assert q.height == 1 and "'warm'" in q["_reason"][0]
    doc = TableDoc.from_doc(catalog_of(local_store).get("table", "dmy", 1).doc)
    assert doc.datetimes == {"ts": "dayfirst"}
    report = replay("dmy", values={"temp": {"warm": "99.5"}}, store=local_store)
    assert report.status == "written", report.failed
    got = read_table("dmy", store=local_store).filter(pl.col("temp") == 99.5)["ts"].to_list()
    assert got == [datetime(2024, 6, 5, tzinfo=UTC)]  # 5 June, as the column reads; never 6 May
    months = [f"01/{d}/2024,{d}.5" for d in range(13, 29)]  # 01/13 …: month-first only
    _dates(tmp_path, local_store, "mdy", {}, [*months, "05/06/2024,warm"])
    replay("mdy", values={"temp": {"warm": "99.5"}}, store=local_store)
    got = read_table("mdy", store=local_store).filter(pl.col("temp") == 99.5)["ts"].to_list()
    assert got == [datetime(2024, 5, 6, tzinfo=UTC)]


def test_replay_never_guesses_a_date_order_nothing_recorded(local_store, tmp_path):
    iso = [f"2024-01-{d:02d}T00:00:00Z,{d}.5" for d in range(1, 21)]  # no order to record
    q = _dates(tmp_path, local_store, "iso", {}, [*iso, "2024-01-21T00:00:00Z,warm"])
    assert "datetimes" not in catalog_of(local_store).get("table", "iso", 1).doc  # stored keys as before
    fixed = q.with_columns(temp=pl.lit("99.5"), ts=pl.lit("05/06/2024"))
    report = replay("iso", fixed, store=local_store)
    entry = q["_entry"][0]
    assert report.status == "failed" and "formats={'ts': 'dayfirst'}" in report.failed[entry]
    assert altakit.quarantine("iso", store=local_store)["_reason"][0] == report.failed[entry]
    assert replay("iso", fixed, formats={"ts": "dayfirst"}, store=local_store).replayed == [entry]
    got = read_table("iso", store=local_store).filter(pl.col("temp") == 99.5)["ts"].to_list()
    assert got == [datetime(2024, 6, 5, tzinfo=UTC)]
    # the spec's dayfirst decides where the values do not
    q = _dates(tmp_path, local_store, "iso2", {"dayfirst": True}, [*iso, "2024-01-21T00:00:00Z,warm"])
    fixed = q.with_columns(temp=pl.lit("99.5"), ts=pl.lit("05/06/2024"))
    assert replay("iso2", fixed, store=local_store).status == "written"
    got = read_table("iso2", store=local_store).filter(pl.col("temp") == 99.5)["ts"].to_list()
    assert got == [datetime(2024, 6, 5, tzinfo=UTC)]


def test_a_replay_version_records_no_quarantined_rows(store):
    report = replay("s", formats={"ts": "%Y/%m/%d %Hh%M"}, store=store)  # 23, 24 fit; 22, 25 do not
    assert len(report.replayed) == 2 and len(report.failed) == 2
    doc = TableDoc.from_doc(catalog_of(store).get("table", "s", 3).doc)
    assert doc.rows_quarantined == read_quarantine("s@3", store=store).height == 0
    assert doc.quarantine_reasons == {} and (doc.rows_in, doc.rows_written) == (2, 2)
    assert doc.replay["failed"] == 2 and sum(doc.replay["failed_reasons"].values()) == 2
    assert accounting("s", store=store) == {"quarantined": 4, "replayed": 2, "open": 2, "discarded": 0}


def test_discard_keeps_to_the_reason_filter(store):
    q = altakit.quarantine("s", store=store)
    report = discard("s", q, reason="old logger", reason_contains="'ts'", store=store)
    assert sorted(report.discarded) == sorted([_entry(q, 23), _entry(q, 24)])
    assert accounting("s", store=store) == {"quarantined": 4, "replayed": 0, "open": 2, "discarded": 2}


def test_raw_text_rows_need_their_values(store):
    q = altakit.quarantine("s", store=store)
    entry = _entry(q, 25)
    report = replay("s", entries=[entry], store=store)
    assert report.status == "failed" and report.failed[entry].startswith("not fixed")
    row = q.filter(pl.col("_entry") == entry).with_columns(
        temp=pl.lit("77.5"), ts=pl.col("_raw").str.head(20)
    )
    row = row.with_columns(sensor=pl.lit("s2"))
    assert replay("s", row.to_pandas(), store=store).replayed == [entry]  # pandas frames too
    assert read_table("s", store=store).filter(pl.col("temp") == 77.5).height == 1


def test_discard_needs_a_reason_and_keeps_the_accounting(store):
    q = altakit.quarantine("s", store=store)
    entry = _entry(q, 25)
    with pytest.raises(ConfigError, match="reason"):
        discard("s", [entry], reason=" ", store=store)
    with pytest.raises(NotFound, match="no entries"):
        discard("s", ["nope:0"], reason="x", store=store)
    assert discard("s", [entry], reason="half a row", by="ana", store=store).discarded == [entry]
    assert accounting("s", store=store) == {"quarantined": 4, "replayed": 0, "open": 3, "discarded": 1}
    assert altakit.quarantine("s", store=store, state="discarded")["_reason"].to_list() == ["half a row"]
    assert replay("s", entries=[entry], store=store).skipped == [entry]


def test_replays_take_turns(store):
    held = store.put(f"{LOCKS}/s", b"someone", reserved=True)
    with pytest.raises(Conflict, match="another replay"):
        replay("s", formats={"ts": "%Y/%m/%d %Hh%M"}, store=store)
    store.purge(f"{LOCKS}/s", held, reserved=True)
    assert len(replay("s", formats={"ts": "%Y/%m/%d %Hh%M"}, reason="'ts'", store=store).replayed) == 2


def test_concurrent_replay_and_ingest_both_land(store, tmp_path):
    more = "ts,sensor,temp\n" + "".join(f"2024-01-03T00:{m:02d}:00Z,s3,{m}.75\n" for m in range(20))
    (tmp_path / "more.csv").write_text(more + "2024-01-03T01:00:00Z,s3,hot\n")
    url = store.url
    start = threading.Barrier(2)
    results: dict[str, object] = {}

    def run(name, fn):
        try:
            start.wait()
            results[name] = fn()
        except BaseException as exc:  # reported below
            results[name] = exc

    fix = {"ts": "%Y/%m/%d %Hh%M"}
    jobs = [
        threading.Thread(
            target=run, args=("replay", lambda: replay("s", formats=fix, store=altakit.open_store(url)))
        ),
        threading.Thread(
            target=run,
            args=(
                "ingest",
                lambda: ingest(str(tmp_path / "more.csv"), "s", SPEC, store=altakit.open_store(url)),
            ),
        ),
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(300)
    replayed, ingested = results["replay"], results["ingest"]
    assert not isinstance(replayed, BaseException), replayed
    assert not isinstance(ingested, BaseException), ingested
    assert {replayed.version, ingested.version} == {3, 4} and ingested.rows_quarantined == 1
    table = read_table("s", store=store)
    assert (
        table.filter(pl.col("sensor") == "s3").height == 20
        and table.filter(pl.col("ts") == datetime(2024, 1, 2, 5, tzinfo=UTC)).height == 1
    )
    assert (
        accounting("s", store=store)["quarantined"] == 5
    )  # 4 + the new ingest's 1; the replay's ts rows out
    counts = accounting("s", store=store)
    assert counts["replayed"] == 2 and counts["open"] == 3  # whether or not the replay saw the new row


def test_old_table_records_read_back_without_replay():
    doc = TableDoc(0, None, "/t", "id", [], 2, 2, 0, 2, [], {}, "local", {})
    stored = {k: v for k, v in doc.to_doc().items() if k != "replay"}
    assert TableDoc.from_doc(stored).replay is None


def _cli(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_ls_show_replay_discard(store, tmp_path):
    url = store.url.removeprefix("file://")
    listed = _cli("quarantine", "ls", "s", "--store", url)
    assert listed["accounting"]["open"] == 4 and sum(g["rows"] for g in listed["groups"]) == 4
    shown = _cli("quarantine", "show", "s", "--store", url, "--limit", "1")
    assert shown["rows"] == 4 and len(shown["shown"]) == 1
    out = tmp_path / "rows.csv"
    result = CliRunner().invoke(app, ["quarantine", "show", "s", "--store", url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = (
        pl.read_csv(out, infer_schema=False).filter(pl.col("_line") == "22").with_columns(temp=pl.lit("12.5"))
    )
    rows.write_csv(out)
    done = _cli(
        "quarantine", "replay", "s", "--rows", str(out), "--comment", "by hand", "--by", "ana", "--store", url
    )
    assert done["status"] == "written" and done["version"] == 3 and len(done["replayed"]) == 1
    fmt = _cli(
        "quarantine", "replay", "s", "--format", "ts=%Y/%m/%d %Hh%M", "--reason", "'ts'", "--store", url
    )
    assert len(fmt["replayed"]) == 2
    (tmp_path / "fix.yaml").write_text("values: {temp: {'x': 'y'}}\ncomment: nothing fits\n")
    failed = _cli("quarantine", "replay", "s", "--fix", str(tmp_path / "fix.yaml"), "--store", url)
    assert failed["status"] == "failed" and next(iter(failed["failed"].values())).startswith("not fixed")
    entry = next(iter(failed["failed"]))
    gone = _cli("quarantine", "discard", "s", "--entry", entry, "--reason", "half a row", "--store", url)
    assert gone["discarded"] == [entry]
    listed = _cli("quarantine", "ls", "s", "--store", url, "--state", "all")
    assert listed["accounting"] == {"quarantined": 4, "replayed": 3, "open": 0, "discarded": 1}
    # --ingest: only the rows of that ingest (a version, or its id)
    assert _cli("quarantine", "ls", "s", "--store", url, "--state", "all", "--ingest", "1")["groups"] == []
    ingest_id = version_docs(store, "s")[1][1].ingest_id
    by_id = _cli("quarantine", "ls", "s", "--store", url, "--state", "all", "--ingest", ingest_id)
    assert sum(g["rows"] for g in by_id["groups"]) == 4
    assert _cli("quarantine", "replay", "s", "--ingest", "2", "--store", url)["status"] == "unchanged"
    # errors: message and hint, exit 1, no traceback
    env = {**os.environ, "ALTAKIT_STORE": url}
    for args, text in (
        (["replay", "s", "--value", "temp"], "is not COLUMN="),
        (["replay", "s", "--fix", str(tmp_path / "missing.yaml")], "no fix file"),
        (["show", "bad name!"], "invalid dataset name"),
    ):
        proc = subprocess.run(
            [sys.executable, "-c", "from altakit.cli import run; run()", "quarantine", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 1 and text in proc.stderr and "hint:" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
