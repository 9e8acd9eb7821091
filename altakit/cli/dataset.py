"""``altakit dataset ls | info | head | verify | import``.

Example:
    $ altakit dataset ls --store ./data/store
    $ altakit dataset info digits@2
    $ altakit dataset head digits -n 3
    $ altakit dataset verify digits
    $ altakit dataset import 'shards/train-{000..009}.tar' train
"""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Typed sample datasets: list, inspect, verify.", no_args_is_help=True)

STORE = typer.Option(
    None, "--store", "-s", help="Store URL or path (default: $ALTAKIT_STORE or ./data/store)."
)


def _store(url: str | None):
    from altakit.store import open_store

    return open_store(url)


@app.command("ls")
def ls(store: str | None = STORE) -> None:
    """List datasets (latest version of each) with sample counts."""
    from altakit.catalog import catalog_of
    from altakit.datasets.manifest import DATASET, read_manifest

    for rec in catalog_of(_store(store)).list(DATASET):
        if "shards" not in rec.doc:
            continue  # a table dataset, not shards
        doc = read_manifest(rec)
        typer.echo(
            f"{rec.name}@{rec.version}\t{doc.count} samples\t{len(doc.shards)} shards\t{doc.bytes} bytes"
        )


@app.command("info")
def info(name: str = typer.Argument(..., help="name or name@version"), store: str | None = STORE) -> None:
    """Show a dataset version's manifest summary and schema."""
    from altakit.datasets.dataset import load_dataset

    ds = load_dataset(name, _store(store))
    summary = {
        "name": ds.name,
        "version": ds.version,
        "count": ds.manifest["count"],
        "bytes": ds.manifest["bytes"],
        "shards": len(ds.manifest["shards"]),
        "schema": ds.manifest["schema"],
        "schema_ref": ds.manifest.get("schema_ref"),
    }
    typer.echo(json.dumps(summary, indent=2))


@app.command("head")
def head(
    name: str = typer.Argument(..., help="name or name@version"),
    n: int = typer.Option(5, "-n", help="How many samples."),
    store: str | None = STORE,
) -> None:
    """Print the first samples (arrays as dtype and shape)."""
    import numpy as np

    from altakit.datasets.dataset import load_dataset

    ds = load_dataset(name, _store(store))
    for s in ds.head(n):
        parts = []
        for f in ds.schema.fields:
            v = getattr(s, f.name)
            parts.append(
                f"{f.name}={v.dtype}{list(v.shape)}" if isinstance(v, np.ndarray) else f"{f.name}={v!r}"
            )
        typer.echo("  ".join(parts))


@app.command("verify")
def verify(name: str = typer.Argument(..., help="name or name@version"), store: str | None = STORE) -> None:
    """Re-read every shard: counts, sizes, checksums and every sample's decode. Exit 1 on problems."""
    from altakit.datasets.dataset import load_dataset

    report = load_dataset(name, _store(store)).verify()
    for err in report["errors"]:
        typer.secho(f"error: shard {err['shard']} key {err['key']}: {err['error']}", err=True, fg="red")
    typer.echo(
        f"{report['shards']} shards, {report['samples']} samples: {'ok' if report['ok'] else 'FAILED'}"
    )
    if not report["ok"]:
        raise typer.Exit(1)


@app.command("import")
def import_(
    urls: str = typer.Argument(..., help="A shard path or store key, or a brace pattern: a-{000..009}.tar"),
    name: str = typer.Argument(..., help="Dataset name"),
    store: str | None = STORE,
) -> None:
    """Register existing WebDataset shards as a dataset version, without rewriting them."""
    from altakit.datasets.imports import import_dataset

    ds = import_dataset(urls, name, store=_store(store))
    typer.echo(f"{ds.name}@{ds.version}\t{len(ds)} samples\t{len(ds.manifest['shards'])} shards")
