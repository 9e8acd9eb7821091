"""DuckDB's delta extension, loaded offline, reads every version of altakit's tables exactly.

The contract that altakit's tables stay open: an independent Delta reader (DuckDB with the
``duckdb-extension-delta`` package from PyPI, loaded from its file, never downloaded) reads every
table version, by Delta time travel (``delta_scan(uri, version => N)``), and the quarantine table,
equal value for value and type for type to :func:`altakit.read_table` / ``read_quarantine``.
"""

from __future__ import annotations

import polars as pl

import altakit
from altakit.catalog import catalog_of
from altakit.datasets import tables

SPEC = {"time": "ts", "by": ["sensor"]}


def _csv(start: int, n: int, *, bad: bool) -> bytes:
    rows = "".join(
        f"2024-01-01T{(start + i) // 60:02d}:{(start + i) % 60:02d}:00Z,s{i % 2},{start + i}.5,x{i}\n"
        for i in range(n)
    )
    # an unparseable time and a short row: both quarantined, with reason, source and line
    return ("ts,sensor,value,note\n" + rows + ("bad,s1,1,y\n1,2\n" if bad else "")).encode()


def _scan(con, uri: str, version: int) -> pl.DataFrame:
    frame = pl.from_arrow(con.execute("SELECT * FROM delta_scan(?, version => ?)", [uri, version]).arrow())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _utc(frame: pl.DataFrame) -> pl.DataFrame:
    """DuckDB names UTC ``Etc/UTC``, deltalake ``UTC``: the same zone (only the name is changed)."""
    zoned = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone == "Etc/UTC"]
    return frame.with_columns(pl.col(zoned).dt.replace_time_zone("UTC")) if zoned else frame


def _same(duck_frame: pl.DataFrame, ours: pl.DataFrame) -> None:
    """Equal columns, types and every value (row order aside: a scan's order is the reader's)."""
    duck_frame = _utc(duck_frame)
    assert duck_frame.columns == ours.columns
    assert duck_frame.schema == ours.schema
    assert duck_frame.height == ours.height
    key = list(ours.columns)
    assert duck_frame.sort(key, nulls_last=True).equals(ours.sort(key, nulls_last=True))


def test_duckdb_reads_every_version_and_the_quarantine(duck, local_store):
    for i in range(3):
        report = altakit.ingest((f"day{i}.csv", _csv(i * 10, 6, bad=i > 0)), "t", SPEC, store=local_store)
        assert report.version == i + 1
    docs = tables.version_docs(local_store, "t")
    assert len(docs) == 3 and sum(doc.rows_quarantined for _, doc in docs) == 4
    # where the records say the table is (relative to a local store's root)
    uri = str(local_store.root / docs[-1][1].uri)
    assert uri == tables.location(local_store, "t").uri
    q_uri = tables.location(local_store, "t", quarantine=True).uri
    for rec, doc in docs:
        ours = altakit.read_table(f"t@{rec.version}", store=local_store)
        assert ours.height == 6 * rec.version
        _same(_scan(duck, uri, doc.delta_version), ours)
        quarantined = tables.read_quarantine(f"t@{rec.version}", store=local_store)
        assert quarantined.height == doc.rows_quarantined
        if doc.quarantine_version is None:
            continue
        # the quarantine table at that commit, then this ingest's rows of it
        whole = _scan(duck, q_uri, doc.quarantine_version)
        _same(whole, altakit.read_table(f"t@{rec.version}", store=local_store, quarantine=True))
        mine = whole.filter(pl.col(tables.INGEST_COLUMN) == doc.ingest_id).drop(tables.INGEST_COLUMN)
        _same(mine, quarantined)
    # the latest, without time travel, too
    _same(
        pl.from_arrow(duck.execute("SELECT * FROM delta_scan(?)", [uri]).arrow()),
        altakit.read_table("t", store=local_store),
    )
    assert catalog_of(local_store).get("table", "t").version == 3
