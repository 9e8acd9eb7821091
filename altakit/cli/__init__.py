"""The ``altakit`` command line (Typer).

Each command group lives in its own module and is registered below; modules
import heavy libraries inside their commands only, so ``altakit --help`` is fast.

Example:
    $ altakit --version
    $ altakit doctor
"""

from __future__ import annotations

from typing import NoReturn

import typer

from altakit import __version__
from altakit.cli import catalog, dataset, doctor, ingest, models, quarantine, schedule, store, workflow
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
app.add_typer(quarantine.app, name="quarantine")
app.add_typer(schedule.app, name="schedule")


def run(argv: list[str] | None = None) -> NoReturn:
    """Console entry point (``altakit``): always ends the process with an exit code, never a usage traceback.

    Typer reports usage errors (a missing or extra argument, an unknown option, a bad value)
    as its usage message and exit code 2; an :class:`~altakit.errors.AltakitError` prints
    ``error: <message>`` and its hint on stderr, exit code 1. Typer handles its own
    exceptions in standalone mode, so this never names click's exception classes (typer
    ships its own copy of click, whose classes are not ``click``'s).

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Example:
        >>> try:
        ...     run(["store", "ls"])
        ... except SystemExit as exit:
        ...     exit.code
        2
    """
    import sys

    from altakit.errors import AltakitError

    try:
        app(args=argv, prog_name="altakit")  # standalone: exits itself (usage errors: 2)
    except AltakitError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg="red")
        if exc.hint:
            typer.echo(f"hint: {exc.hint}", err=True)
        sys.exit(1)
    sys.exit(0)  # pragma: no cover - app() always raises SystemExit in standalone mode
