"""The ``altakit`` command line (Typer).

Each command group lives in its own module and is registered below; modules
import heavy libraries inside their commands only, so ``altakit --help`` is fast.

Example:
    $ altakit --version
    $ altakit doctor
"""

from __future__ import annotations

import typer

from altakit import __version__
from altakit.cli import catalog, dataset, doctor, ingest, models, store, workflow
from altakit.cli import run as run_cmd

app = typer.Typer(
    name="altakit",
    help="Versioned storage, datasets, ingestion and training for Jupyter data science.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"altakit {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """altakit command line."""


app.command("doctor")(doctor.doctor)
app.command("workflow")(workflow.workflow)
app.command("run", context_settings=run_cmd.CONTEXT)(run_cmd.run)
# Command groups: one module each, registered here.
app.add_typer(dataset.app, name="dataset")
app.add_typer(store.app, name="store")
app.add_typer(catalog.app, name="catalog")
app.add_typer(models.app, name="models")
app.add_typer(models.runs_app, name="runs")
app.add_typer(ingest.app)  # ingest, schema …, table …


def run() -> None:
    """Console entry point: altakit errors print their message and hint, not a traceback."""
    import sys

    from altakit.errors import AltakitError

    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code here instead of raising
    except AltakitError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(1)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
