"""``altakit catalog …``: list and show catalog records, rebuild the index, check and repair.

The store defaults to ``$ALTAKIT_STORE`` (or ``./data/store``); the index to
``$ALTAKIT_INDEX`` or the store's default (see :func:`altakit.catalog.default_index_url`).

Example:
    $ altakit catalog ls --kind dataset
    $ altakit catalog show dataset:sensors@3
    $ altakit catalog reindex --store s3://team-bucket/altakit
    $ altakit catalog check --repair
"""

from __future__ import annotations

import importlib
import json
import warnings
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from altakit.catalog import Catalog
    from altakit.catalog.check import Finding
    from altakit.store.base import Store

app = typer.Typer(
    help="Datasets, schemas, models and runs: list, show, reindex, check.", no_args_is_help=True
)

#: Every check that ``altakit catalog check`` and ``altakit doctor`` run, in order: what it looks at,
#: and ``"module:function"`` (imported on use). A check is ``check(store, *, repair=False)``
#: returning :class:`~altakit.catalog.check.Finding` objects. **Add new checks here**, the one place.
CHECKS: tuple[tuple[str, str], ...] = (
    ("catalog records", "altakit.catalog.check:check_records"),
    ("dataset tables", "altakit.ingestion.reconcile:check_tables"),
    ("dataset shards", "altakit.datasets.gc:check_orphan_shards"),
    ("model aliases", "altakit.train.checks:check_aliases"),
    ("checkpoints", "altakit.train.checks:check_checkpoints"),
)

StoreUrl = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: $ALTAKIT_STORE or ./data/store).")
]
IndexUrl = Annotated[
    str | None, typer.Option("--index", help="SQLAlchemy URL of the index (default: $ALTAKIT_INDEX).")
]


def _catalog(store_url: str | None, index_url: str | None) -> Catalog:
    """The catalog of the store at ``store_url`` (the default store if None), on ``index_url`` if given."""
    from altakit.catalog import Catalog, catalog_of
    from altakit.store import open_store

    store = open_store(store_url)
    return catalog_of(store) if index_url is None else Catalog(store, index_url=index_url)


@app.command("ls")
def ls(
    kind: Annotated[str | None, typer.Option(help="Only this kind: dataset, schema, model, run …")] = None,
    store: StoreUrl = None,
    index: IndexUrl = None,
) -> None:
    """List the latest version of each record: ref, created (UTC) and writer."""
    with _catalog(store, index) as cat:
        for rec in cat.list(kind):
            typer.echo(f"{rec.ref!s:<40}  {rec.created:%Y-%m-%d %H:%M:%S}  {rec.writer}")


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="kind:name@version, or kind:name for the latest.")],
    store: StoreUrl = None,
    index: IndexUrl = None,
) -> None:
    """Print one record as JSON (read from the store, not the index)."""
    with _catalog(store, index) as cat:
        rec = cat.resolve(ref)
    typer.echo(json.dumps(rec.to_json(), indent=2, ensure_ascii=False))


@app.command("reindex")
def reindex(store: StoreUrl = None, index: IndexUrl = None) -> None:
    """Rebuild the SQL index from the records kept in the store."""
    with _catalog(store, index) as cat:
        count = cat.reindex()
        typer.echo(f"indexed {count} records from {cat.store.url}")


def run_checks(store: Store, *, repair: bool = False) -> list[Finding]:
    """Run every check in :data:`CHECKS` on ``store``; a check that cannot run is a finding too.

    Example:
        >>> import tempfile, altakit
        >>> run_checks(altakit.open_store(tempfile.mkdtemp()))
        []
    """
    from altakit.catalog.check import Finding
    from altakit.catalog.records import DamagedRecordWarning
    from altakit.errors import AltakitError

    findings: list[Finding] = []
    with warnings.catch_warnings():  # the checks report damaged records themselves
        warnings.simplefilter("ignore", DamagedRecordWarning)
        for what, target in CHECKS:
            module, _, function = target.partition(":")
            try:
                check = getattr(importlib.import_module(module), function)
                findings.extend(check(store, repair=repair))
            except AltakitError as exc:  # e.g. the store is unreachable: say so, and go on
                findings.append(Finding("check_failed", what, f"could not check the {what}: {exc.message}"))
    return findings


@app.command("check")
def check(
    repair: Annotated[
        bool, typer.Option("--repair", help="Repair what is found (damaged records are moved aside).")
    ] = False,
    store: StoreUrl = None,
    index: IndexUrl = None,
) -> None:
    """Check the catalog: damaged records, foreign objects, orphan table commits; --repair fixes them.

    Exit status 1 while problems remain unrepaired, else 0. Repairs never delete bytes:
    damaged records are moved under ``_altakit/damaged/``.
    """
    from altakit.store import open_store

    opened = open_store(store)
    findings = run_checks(opened, repair=repair)
    for f in findings:
        mark = typer.style("repaired", fg="green") if f.repaired else typer.style("PROBLEM ", fg="red")
        typer.echo(f"{mark} {f.kind:<16} {f.subject}\n         {f.message}")
    left = [f for f in findings if not f.repaired]
    if repair and len(left) < len(findings) and index is not None:
        with _catalog(store, index) as cat:
            cat.reindex()
    if not findings:
        typer.echo(f"no problems found in {opened.url}")
        return
    done = len(findings) - len(left)
    typer.echo(f"\n{len(findings)} problem(s) in {opened.url}: {done} repaired, {len(left)} left")
    if left:
        if not repair:
            where = f" --store {opened.url}" if store else ""
            typer.echo(f"repair them with: altakit catalog check --repair{where}")
        raise typer.Exit(1)
