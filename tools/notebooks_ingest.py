"""Generate the ingest and schema-review notebooks and their Voila dashboards (stored without outputs).

Usage: ``python tools/notebooks_ingest.py`` from the repository root; commit the notebooks it writes.

Example:
    >>> main()  # doctest: +SKIP
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_notebook import code, md, params, write

#: The cleaning spec both curated notebooks use (02 writes with it, 03 ingests the second drop with it).
SPEC = """spec = {
    "time": "timestamp",  # mixed ISO 8601 and dd.mm.yyyy text: detected per value
    "by": ["sensor"],  # one series per sensor
    "steps": [
        {"step": "failures", "ranges": {"temperature": [-40, 60], "humidity": [0, 100]}, "stuck": 6},
        {"step": "outliers", "method": "hampel", "threshold": 10, "action": "quarantine"},
        {"step": "fill_gaps", "max_gap": 3},
    ],
    "policy": "review",  # a schema change waits for a person's approval
}"""

QUERY = """import os
from urllib.parse import parse_qs

# Voila passes the URL's query string to the kernel: ?dataset=sensors
query = parse_qs(os.environ.get("QUERY_STRING", ""))
dataset = query.get("dataset", [dataset])[0]"""


def ingest_notebook() -> list:
    """02: ingest the first sensor drop."""
    return [
        md("""
# 02 · Ingest a sensor time series

The bundled export `data/sensors_day1.csv` (three sensors, 5-minute readings, timestamps in two
text formats) goes through the ingestion engine: read in blocks, typed, cleaned, checked against
the approved schema, and written as a new version of the Delta table `sensors`. Rows that fail a
check are **quarantined** with the reason and the source line — nothing is dropped silently.

Running it again is safe: a file whose checksum was already ingested is skipped (`unchanged`).
"""),
        params("""# Parameters (papermill / `altakit workflow -p key value`)
store_url = ""  # empty: the project's default store ($ALTAKIT_STORE or ./data/store)
source = "data/sensors_day1.csv"
dataset = "sensors\""""),
        code("""import altakit
from altakit.ingestion import IngestJob, ingest, read_table

store = altakit.open_store(store_url or None)  # None: the project's default store
store"""),
        md("The spec is plain data: a dict here, YAML for `altakit ingest --spec`, widgets in the panel."),
        code(SPEC),
        md("Size the job before running it (a sample is read and typed exactly as the job would):"),
        code("IngestJob(source, dataset, spec, store=store).estimate()"),
        code("""report = ingest(source, dataset, spec, store=store)
print(report)
assert report.rows_in == report.rows_written + report.rows_quarantined
report.status, report.version"""),
        md("What each cleaning step changed, and why rows were quarantined:"),
        code("""for step in report.steps:
    print(step)
report.quarantine_reasons"""),
        md("The cleaned table (latest version) and the quarantine table beside it:"),
        code("""table = read_table(dataset, store=store)
assert table.height > 0 and "temperature" in table.columns
print(table.height, "rows,", table.columns)
table.head()"""),
        code("""quarantined = read_table(dataset, store=store, quarantine=True)
print(len(quarantined), "quarantined rows")
quarantined.head()"""),
        md("""Every version is a catalog record `table:sensors@N` with its sources, checksums and counts:"""),
        code("""from altakit.datasets.tables import version_doc

record, doc = version_doc(store, dataset)  # the latest version's record and its typed document
print(record.ref)
{"rows_in": doc.rows_in, "rows_written": doc.rows_written, "rows_quarantined": doc.rows_quarantined,
 "delta_version": doc.delta_version}"""),
        md("The same in a panel (it calls the same functions): pick a file, preview, estimate, ingest."),
        code("""from altakit_widgets.panels import IngestPanel

IngestPanel(store, dataset=dataset, source=source, spec=spec)  # the widgets show the spec above"""),
    ]


def review_notebook() -> list:
    """03: a second drop with a new column, reviewed and approved."""
    return [
        md("""
# 03 · Review a schema change

The second drop, `data/sensors_day2.csv`, carries a new `pressure` column. Under the default
`review` policy nothing is written until a person approves the change: the ingest stops with
`SchemaChangePending`, the change waits in the catalog, and after approval the same ingest writes
a new table version with the new column. Every decision (who, when, why) is kept.
"""),
        params("""# Parameters (papermill / `altakit workflow -p key value`)
store_url = ""  # empty: the project's default store ($ALTAKIT_STORE or ./data/store)
source = "data/sensors_day2.csv"
dataset = "sensors"
comment = "new barometric pressure sensor on every station\""""),
        code("""import altakit
from altakit.errors import SchemaChangePending
from altakit.ingestion import SchemaRegistry, ingest, read_table
from altakit.ingestion.review import change_doc

store = altakit.open_store(store_url or None)  # None: the project's default store
registry = SchemaRegistry(store)"""),
        code(SPEC),
        md("Ingest the second drop. The first time, the new column stops it:"),
        code("""try:
    report = ingest(source, dataset, spec, store=store)
    print(report)  # unchanged when this notebook already ran on this store
except SchemaChangePending as exc:
    print(exc.message)
    print("hint:", exc.hint)"""),
        md("The pending change: a diff against the approved schema."),
        code("""pending = registry.pending(dataset)
change_doc(pending).summary if pending else "nothing pending\""""),
        md("Approve it (in a dashboard, the reviewer presses *Approve*; here the API does the same):"),
        code("""if pending is not None:
    decision = registry.approve(dataset, by=store.writer, comment=comment)
    decided = change_doc(decision)
    print(decision.ref, decided.status, "→ schema version", decided.schema_version)
schema, version = registry.approved(dataset)
print(f"approved schema v{version}:", schema.names)"""),
        md("Ingest again: the table accepts the new column."),
        code("""report = ingest(source, dataset, spec, store=store)
print(report)
table = read_table(dataset, store=store)
assert "pressure" in table.columns
table.tail()"""),
        md("The audit history of the dataset's schema changes:"),
        code(
            """changes = registry.changes(dataset)
[(r.version, change_doc(r).status, change_doc(r).summary, change_doc(r).comment or "") for r in changes]"""
        ),
        md("The same review as a panel:"),
        code("""from altakit_widgets.panels import SchemaReviewPanel

SchemaReviewPanel(store, dataset=dataset)"""),
    ]


def ingest_dashboard() -> list:
    """The Voila ingest dashboard."""
    return [
        md("""
# Ingest

Upload a file, preview it (the preview marks the rows each cleaning step would change or set
aside), pick the cleaning options, and ingest it as a new version of a dataset. When the file
changes the dataset's columns, a link leads to the review page. [All datasets](home.ipynb)
"""),
        params("""store_url = ""  # empty: $ALTAKIT_STORE, else the project's default store
dataset = "sensors\""""),
        code(
            QUERY
            + """

from altakit_widgets.panels import IngestPanel

panel = IngestPanel(store_url or None, dataset=dataset, dashboard=True)
panel"""
        ),
    ]


def review_dashboard() -> list:
    """The Voila schema-review dashboard."""
    return [
        md("""
# Schema review

A dataset's pending schema change as a diff with sample values: approve or reject it with a
comment. Reached from the ingest page's *Review the change* link, or from the list of all
datasets; after an approval, *Ingest again* writes the waiting file. [All datasets](home.ipynb)
"""),
        params("""store_url = ""  # empty: $ALTAKIT_STORE, else the project's default store
dataset = "sensors"
source = ""  # the source that proposed the change (optional; a store key such as store:uploads/…)"""),
        code(
            QUERY
            + """
source = query.get("source", [source])[0]

from altakit_widgets.panels import SchemaReviewPanel

panel = SchemaReviewPanel(store_url or None, dataset=dataset, source=source or None, dashboard=True)
panel"""
        ),
    ]


def main() -> None:
    """Write the four notebooks."""
    root = Path(__file__).resolve().parents[1] / "notebooks"
    write(str(root / "02_ingest_sensors.ipynb"), ingest_notebook())
    write(str(root / "03_schema_review.ipynb"), review_notebook())
    write(str(root / "dashboards" / "ingest.ipynb"), ingest_dashboard())
    write(str(root / "dashboards" / "schema_review.ipynb"), review_dashboard())


if __name__ == "__main__":
    main()
