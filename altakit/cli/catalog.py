"""``altakit catalog …``: list and show catalog records, rebuild the index.

The store defaults to ``$ALTAKIT_STORE`` (or ``./data/store``); the index to
``$ALTAKIT_INDEX`` or the store's default (see :func:`altakit.catalog.default_index_url`).

Example:
    $ altakit catalog ls --kind dataset
    $ altakit catalog show dataset:sensors@3
    $ altakit catalog reindex --store s3://team-bucket/altakit
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from altakit.catalog import Catalog

app = typer.Typer(help="Datasets, schemas, models and runs: list, show, reindex.", no_args_is_help=True)

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
