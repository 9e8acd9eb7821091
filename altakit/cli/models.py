"""``altakit models …`` and ``altakit runs …``: the model registry and training runs.

Example:
    $ altakit models ls
    $ altakit models versions digits
    $ altakit models promote digits 3 --alias champion --reason "best val accuracy"
    $ altakit models rollback digits --alias champion
    $ altakit models lineage digits@champion
    $ altakit runs ls
    $ altakit runs show digits-2026-05-01
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from altakit.train import ModelRegistry

app = typer.Typer(help="Model registry: versions, aliases, rollback, lineage.", no_args_is_help=True)
runs_app = typer.Typer(help="Training runs recorded in the catalog.", no_args_is_help=True)

StoreUrl = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: $ALTAKIT_STORE or ./data/store).")
]
Alias = Annotated[str, typer.Option("--alias", help="Alias name: champion, staging …")]


def _registry(store_url: str | None) -> ModelRegistry:
    from altakit.store import open_store
    from altakit.train import ModelRegistry

    return ModelRegistry(open_store(store_url or None))


@app.command("ls")
def ls(store: StoreUrl = None) -> None:
    """List models: latest version and aliases."""
    from altakit.train.registry import read_model

    reg = _registry(store)
    for rec in reg.list():
        aliases = ", ".join(f"{a}=@{v}" for a, v in sorted(reg.aliases(rec.name).items()))
        typer.echo(f"{rec.name:<30}  latest @{rec.version:<4}  {read_model(rec).framework:<6}  {aliases}")


@app.command("versions")
def versions(name: Annotated[str, typer.Argument(help="Model name.")], store: StoreUrl = None) -> None:
    """List the versions of a model: created, writer, framework, metrics, dataset."""
    from altakit.train.registry import read_model

    reg = _registry(store)
    tags: dict[int, list[str]] = {}
    for alias, version in reg.aliases(name).items():
        tags.setdefault(version, []).append(alias)
    for rec in reg.versions(name):
        doc = read_model(rec)
        data = ",".join(str(r) for r in rec.link("trained_on")) or "-"
        metrics = json.dumps(doc.metrics, sort_keys=True)
        alias = ",".join(sorted(tags.get(rec.version, [])))
        typer.echo(
            f"@{rec.version:<4} {rec.created:%Y-%m-%d %H:%M:%S}  {rec.writer:<24} "
            f"{doc.framework:<6} {data:<24} {metrics}  {alias}".rstrip()
        )


@app.command("promote")
def promote(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int, typer.Argument(help="Version to point the alias at.")],
    alias: Alias = "champion",
    reason: Annotated[str, typer.Option(help="Why (kept in the alias history).")] = "",
    store: StoreUrl = None,
) -> None:
    """Point an alias at a model version (recorded with who and when)."""
    from altakit.train.registry import read_alias

    moved = read_alias(_registry(store).promote(name, version, alias, reason=reason))
    typer.echo(f"{name}@{alias} -> @{moved.version} (was {_was(moved.previous)})")


@app.command("rollback")
def rollback(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Alias = "champion",
    reason: Annotated[str, typer.Option(help="Why (kept in the alias history).")] = "",
    store: StoreUrl = None,
) -> None:
    """Move an alias back to where it pointed before its last move."""
    from altakit.train.registry import read_alias

    moved = read_alias(_registry(store).rollback(name, alias, reason=reason))
    typer.echo(f"{name}@{alias} rolled back -> @{moved.version} (was @{moved.previous})")


@app.command("history")
def history(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Alias = "champion",
    store: StoreUrl = None,
) -> None:
    """Every move of an alias: when, who, action, target, reason."""
    for move in _registry(store).history(name, alias):
        typer.echo(
            f"{move.at:%Y-%m-%d %H:%M:%S}  {move.by:<24} {move.action:<8} @{move.version} "
            f"(was {_was(move.previous)})  {move.reason}".rstrip()
        )


@app.command("lineage")
def lineage(
    spec: Annotated[str, typer.Argument(help="name@version, name@alias or name.")], store: StoreUrl = None
) -> None:
    """What a model version was made from: dataset version, schema, sources …"""
    reg = _registry(store)
    rec = reg.get(spec)
    typer.echo(str(rec.ref))
    for src, relation, dst in reg.lineage(spec):
        typer.echo(f"  {src} --{relation}--> {dst}")


@runs_app.command("ls")
def runs_ls(store: StoreUrl = None) -> None:
    """List runs (training runs and notebook runs): latest status, epochs recorded, final metrics."""
    from altakit.runs.record import KIND, read_run

    reg = _registry(store)
    for rec in reg.catalog.list(KIND):
        run = read_run(rec)
        final = json.dumps(run.final, sort_keys=True)
        typer.echo(f"{rec.name:<30}  {run.status:<11} epochs={len(run.history):<4} {final}")


@runs_app.command("show")
def runs_show(name: Annotated[str, typer.Argument(help="Run name.")], store: StoreUrl = None) -> None:
    """Print the latest record of a run as JSON (parameters, history, environment, notebook …)."""
    from altakit.runs.record import KIND, read_run

    rec = _registry(store).catalog.get(KIND, name)
    body = {"ref": str(rec.ref), "created": rec.created.isoformat(), "writer": rec.writer}
    body.update(read_run(rec).to_doc())
    typer.echo(json.dumps(body, indent=2, ensure_ascii=False))


def _was(previous: int | None) -> str:
    return "unset" if previous is None else f"@{previous}"
