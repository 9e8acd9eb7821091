"""``altakit run``: execute one notebook with parameters and record it as a run in the catalog.

Example:
    $ altakit run notebooks/01_store_quickstart.ipynb -p rows 500 --store s3://team/altakit
    $ altakit run --same-data run:01_store_quickstart@3   # again, on the data run 3 read
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import typer

#: ``-p`` takes two words, which Typer options cannot, so the command reads them from the extra args.
CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}


def parse_params(args: list[str]) -> dict[str, object]:
    """``["-p", "rows", "500", "--param", "day", "2026-01-02"]`` as ``{"rows": 500, "day": "2026-01-02"}``.

    Values are read as YAML (numbers, booleans, lists), like papermill's ``-p``; a date or time
    stays the text it was given (a notebook parameter is JSON, which has no dates).
    """
    import yaml

    params: dict[str, object] = {}
    i = 0
    while i < len(args):
        if args[i] not in ("-p", "--param", "--parameters"):
            raise typer.BadParameter(f"unexpected {args[i]!r}; give parameters as -p KEY VALUE")
        if i + 2 >= len(args):
            raise typer.BadParameter("-p takes a key and a value: -p rows 500")
        value = yaml.safe_load(args[i + 2])
        params[args[i + 1]] = args[i + 2] if isinstance(value, datetime.date) else value
        i += 3
    return params


def run(
    ctx: typer.Context,
    notebook: Annotated[
        Path | None,
        typer.Argument(
            help="The notebook to execute (.ipynb); with --same-data, the run's own by default.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    store: Annotated[
        str | None, typer.Option("--store", help="Store URL (default: $ALTAKIT_STORE or ./data/store).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the executed copies (default: $ALTAKIT_RUNS_DIR)."),
    ] = None,
    kernel: Annotated[str, typer.Option(help="Kernel to execute with.")] = "python3",
    timeout: Annotated[int, typer.Option(help="Seconds one cell may run.")] = 600,
    same_data: Annotated[
        str | None,
        typer.Option(
            "--same-data",
            metavar="RUN",
            help="Re-run run:NAME@N on the same snapshot: its parameters (-p overrides one), every "
            "table/dataset/model it read unversioned pinned to the version it read.",
        ),
    ] = None,
) -> None:
    """Execute NOTEBOOK with papermill (-p KEY VALUE, repeatable) and record the run in the catalog.

    Secrets are refused as parameters: pass them through the environment. The versions the
    notebook reads through altakit are recorded on the run; --same-data RUN reads those of RUN.
    """
    from altakit.runs.notebook import run_notebook
    from altakit.runs.notebook import same_data as snapshot_of
    from altakit.runs.record import read_run

    params = parse_params(list(ctx.args))
    pins: dict[str, int] = {}
    if same_data is not None:
        recorded, given, pins = snapshot_of(store, same_data)
        notebook, params = notebook or recorded, {**given, **params}
    if notebook is None:
        raise typer.BadParameter("give a NOTEBOOK, or --same-data RUN")
    for key, version in sorted(pins.items()):
        typer.echo(f"pinned:   {key}@{version}")
    result = run_notebook(notebook, params, store=store, out=out, kernel=kernel, timeout=timeout, pins=pins)
    status = typer.style("ok", fg="green") if result.ok else typer.style("FAILED", fg="red")
    typer.echo(f"{status} {notebook} in {result.seconds:.1f} s")
    if result.error:
        typer.echo(f"  {result.error.splitlines()[0]}", err=True)
    run_doc = read_run(result.record)
    typer.echo(f"run:      {result.record.ref}")
    typer.echo(f"executed: {result.executed}")
    if run_doc.html_error:
        typer.echo(f"warning: no HTML copy: {run_doc.html_error.splitlines()[0]}", err=True)
    else:
        typer.echo(f"html:     {result.html}")
    for ref in run_doc.reads:
        typer.echo(f"read:     {ref}")
    stored = run_doc.executed
    if stored:
        typer.echo(f"stored:   {stored['key']} @ {stored['version']} in {stored['store']}")
    if not result.ok:
        raise typer.Exit(1)
