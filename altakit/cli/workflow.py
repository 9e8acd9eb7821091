"""``altakit workflow``: execute the curated notebooks headless and print where the results are.

Example:
    $ altakit workflow --out build/run -p rows 500
"""

from __future__ import annotations

from pathlib import Path

import typer


def _parse(pairs: list[str]) -> dict[str, object]:
    import yaml

    if len(pairs) % 2:
        raise typer.BadParameter("-p takes a key and a value: -p rows 500")
    return {k: yaml.safe_load(v) for k, v in zip(pairs[::2], pairs[1::2], strict=True)}


def workflow(
    notebooks: Path = typer.Option(Path("notebooks"), help="Folder of the curated NN_*.ipynb notebooks."),
    out: Path = typer.Option(Path("build/run"), help="Where executed notebooks and the report go."),
    param: list[str] = typer.Option(
        [], "-p", "--param", help="A parameter as two words: -p key value (repeatable)."
    ),
) -> None:
    """Execute the curated notebook workflow on the default store and write a report."""
    import os

    from altakit import config
    from altakit.runs.workflow import run_workflow

    # kernels run inside the notebooks folder: pin the project's data folder for them
    os.environ.setdefault(config.HOME_ENV, str(config.project_home().resolve()))
    report = run_workflow(notebooks, out, _parse(param))
    for n in report.notebooks:
        status = typer.style("ok    ", fg="green") if n.ok else typer.style("FAILED", fg="red")
        typer.echo(f"{status} {n.name:<40} {n.seconds:6.1f} s  {n.executed}")
        if n.error:
            typer.echo(f"       {n.error.splitlines()[0]}")
    typer.echo(f"\nexecuted notebooks: {out.resolve()}/")
    typer.echo(f"report:             {report.html.resolve()}")
    if not report.ok:
        raise typer.Exit(1)
