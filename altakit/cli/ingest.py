"""``altakit ingest``, ``altakit schema …`` and ``altakit table …``.

The commands call the same functions a notebook does (:mod:`altakit.ingestion`);
they print JSON where a program may read the answer.

Example:
    $ altakit ingest 'raw/*.csv' sensors --spec spec.yaml --store ./data/store
    $ altakit schema diff sensors
    $ altakit schema approve sensors --comment "new humidity sensor"
    $ altakit table history sensors
    $ altakit table drift sensors@1 sensors@2
"""

from __future__ import annotations

import json
from typing import Any

import typer

app = typer.Typer(no_args_is_help=True)
schema_app = typer.Typer(help="Show, diff, approve or reject dataset schemas.", no_args_is_help=True)
table_app = typer.Typer(help="Dataset tables: history, profile, drift.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(table_app, name="table")

STORE = typer.Option(None, "--store", help="Store URL (default: $ALTAKIT_STORE or ./data/store).")


def _store(url: str | None) -> Any:
    from altakit.store import open_store

    return open_store(url)


def _echo(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command("ingest")
def ingest_cmd(
    source: str = typer.Argument(..., help="Path, glob, store:key, store:prefix/ or URL under the store."),
    dataset: str = typer.Argument(..., help="Dataset name, e.g. sensors."),
    spec: str = typer.Option(None, "--spec", help="Ingest spec (YAML or JSON file)."),
    store: str = STORE,
    engine: str = typer.Option(None, "--engine", help="local or spark (overrides the spec)."),
    estimate: bool = typer.Option(False, "--estimate", help="Only estimate rows, bytes and time."),
) -> None:
    """Ingest SOURCE into DATASET (one new dataset version)."""
    from altakit.events import EventStream, TqdmProgress
    from altakit.ingestion import IngestJob, IngestSpec

    job_spec = IngestSpec.load(spec)
    if engine:
        job_spec = IngestSpec.load({**job_spec.to_dict(), "engine": engine})
    events = EventStream(f"ingest {dataset}")
    events.subscribe(TqdmProgress(disable=None))  # files resolved, rows read: a bar on a terminal only
    job = IngestJob(source, dataset, job_spec, store=_store(store), events=events)
    est = job.estimate()
    typer.echo(f"estimate: {est['rows']} rows, {est['bytes']} bytes, about {est['seconds']} s", err=True)
    if estimate:
        _echo(est)
        return
    _echo(job.run().to_dict())


@schema_app.command("show")
def schema_show(
    dataset: str, version: int = typer.Option(None, "--version", help="Schema version."), store: str = STORE
) -> None:
    """Print the approved schema (latest or --version) and any pending change."""
    from altakit.errors import NotFound
    from altakit.ingestion import SchemaRegistry
    from altakit.ingestion.review import change_doc

    reg = SchemaRegistry(_store(store))
    found = reg.approved(dataset, version)
    if found is None:
        raise NotFound(f"dataset {dataset!r} has no approved schema", dataset=dataset)
    pending = reg.pending(dataset)
    _echo(
        {
            "dataset": dataset,
            "version": found[1],
            "fields": found[0].to_doc(),
            "pending": change_doc(pending).summary if pending else None,
        }
    )


@schema_app.command("diff")
def schema_diff(
    dataset: str,
    old: int = typer.Option(None, "--from", help="Schema version to compare from."),
    new: int = typer.Option(None, "--to", help="Schema version to compare to."),
    store: str = STORE,
) -> None:
    """Diff two schema versions, or (default) the pending change against the approved schema."""
    from altakit.errors import NotFound
    from altakit.ingestion import SchemaRegistry
    from altakit.ingestion.review import change_doc
    from altakit.ingestion.schema import diff

    reg = SchemaRegistry(_store(store))
    if old is None and new is None:
        pending = reg.pending(dataset)
        if pending is None:
            raise NotFound(f"no schema change of {dataset!r} awaits review", dataset=dataset)
        doc = change_doc(pending)
        _echo({"change": str(pending.ref), "summary": doc.summary, **doc.diff})
        return
    a, b = reg.approved(dataset, old or 1), reg.approved(dataset, new)
    assert a is not None and b is not None
    d = diff(a[0], b[0])
    _echo({"from": a[1], "to": b[1], "summary": d.summary(), **d.to_doc()})


@schema_app.command("approve")
def schema_approve(
    dataset: str,
    comment: str = typer.Option("", "--comment", help="Why it is approved."),
    by: str = typer.Option(None, "--by", help="Who approves (default: the store's writer)."),
    store: str = STORE,
) -> None:
    """Approve the pending schema change of DATASET."""
    from altakit.ingestion import SchemaRegistry
    from altakit.ingestion.review import change_doc

    st = _store(store)
    rec = SchemaRegistry(st).approve(dataset, by=by or st.writer, comment=comment)
    doc = change_doc(rec)
    _echo({"change": str(rec.ref), "status": doc.status, "schema_version": doc.schema_version})


@schema_app.command("reject")
def schema_reject(
    dataset: str,
    comment: str = typer.Option(..., "--comment", help="Why it is rejected (required)."),
    by: str = typer.Option(None, "--by", help="Who rejects (default: the store's writer)."),
    store: str = STORE,
) -> None:
    """Reject the pending schema change of DATASET; the table stays as it is."""
    from altakit.ingestion import SchemaRegistry
    from altakit.ingestion.review import change_doc

    st = _store(store)
    rec = SchemaRegistry(st).reject(dataset, by=by or st.writer, comment=comment)
    _echo({"change": str(rec.ref), "status": change_doc(rec).status})


@table_app.command("history")
def table_history(dataset: str, store: str = STORE) -> None:
    """Dataset versions: Delta version, rows, sources, schema, writer and time."""
    from altakit.datasets.tables import version_docs

    rows = []
    for rec, doc in version_docs(_store(store), dataset):
        rows.append(
            {
                "version": rec.version,
                "delta_version": doc.delta_version,
                "created": rec.created.isoformat(),
                "writer": rec.writer,
                "rows_in": doc.rows_in,
                "rows_written": doc.rows_written,
                "rows_quarantined": doc.rows_quarantined,
                "sources": [s["name"] for s in doc.sources],
                "schema": [str(r) for r in rec.link("schema")],
            }
        )
    if not rows:
        from altakit.errors import NotFound

        raise NotFound(f"no dataset {dataset!r}", dataset=dataset)
    _echo(rows)


@table_app.command("profile")
def table_profile(spec: str, store: str = STORE) -> None:
    """Column statistics of a dataset version (name or name@N)."""
    from altakit.datasets.profile import profile_table

    _echo(profile_table(spec, store=_store(store)))


@table_app.command("drift")
def table_drift(reference: str, current: str, store: str = STORE) -> None:
    """PSI and KS per column between two dataset versions (e.g. sensors@1 sensors@2)."""
    from altakit.datasets.profile import drift_tables

    _echo(drift_tables(reference, current, store=_store(store)))
