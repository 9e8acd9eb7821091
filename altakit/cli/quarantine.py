"""``altakit quarantine ls|show|replay|discard``: the quarantined rows of a dataset, fixed and replayed.

The commands call the library (:mod:`altakit.ingestion.quarantine_log`, :mod:`altakit.ingestion.replay`)
and print JSON. A fix is given as options or as a mapping file (YAML or JSON) of the same keys::

    formats: {ts: "%d.%m.%Y %H:%M"}     # a datetime format per column
    values: {temp: {"12,5": "12.5"}}    # corrected text per column
    reason: "column 'ts'"               # only entries whose reason contains this
    entries: ["<ingest>:0"]             # only these entries
    comment: "logger wrote German dates"

Example:
    $ altakit quarantine ls sensors
    $ altakit quarantine show sensors --out rows.csv     # edit rows.csv, then:
    $ altakit quarantine replay sensors --rows rows.csv --comment "fixed by hand"
    $ altakit quarantine replay sensors --format 'ts=%d.%m.%Y %H:%M' --reason "'ts'"
    $ altakit quarantine discard sensors --entry '<ingest>:3' --reason "test row"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import typer

app = typer.Typer(help="Quarantined rows: list, show, replay once fixed, discard.", no_args_is_help=True)

STORE = typer.Option(None, "--store", help="Store URL (default: $ALTAKIT_STORE or ./data/store).")
STATE = typer.Option("open", "--state", help="open, replayed, discarded or all.")
INGEST = typer.Option(
    None, "--ingest", help="Only rows of this ingest (its id, or the dataset version it wrote)."
)


def _echo(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command("ls")
def ls(dataset: str, state: str = STATE, ingest: str = INGEST, store: str = STORE) -> None:
    """Counts of DATASET's quarantined rows, by state, and by version, source and reason."""
    import polars as pl

    from altakit.ingestion.quarantine_log import accounting, quarantine

    frame = quarantine(dataset, store=store, state=state, ingest=_ingest(ingest))  # type: ignore[arg-type]
    groups = (
        frame.group_by("_ingest_version", "_ingest", "_source", "_reason")
        .agg(pl.len().alias("rows"), pl.col("_line").min().alias("first_line"))
        .sort("_ingest_version", "_source", "_reason", nulls_last=True)
    )
    rows = [{k.lstrip("_"): v for k, v in r.items()} for r in groups.to_dicts()]
    _echo(
        {"dataset": dataset, "accounting": accounting(dataset, store=store), "state": state, "groups": rows}
    )


@app.command("show")
def show(
    dataset: str,
    state: str = STATE,
    ingest: str = INGEST,
    limit: int = typer.Option(50, "--limit", help="Rows to print (the --out file gets all)."),
    out: Path = typer.Option(None, "--out", help="Write the rows to this CSV file, to edit and replay."),
    store: str = STORE,
) -> None:
    """Print DATASET's quarantined rows (open ones by default), or write them to --out."""
    from altakit.ingestion.quarantine_log import quarantine

    frame = quarantine(dataset, store=store, state=state, ingest=_ingest(ingest))  # type: ignore[arg-type]
    if out is not None:
        frame.write_csv(out)
        typer.echo(f"{frame.height} rows written to {out}", err=True)
        return
    _echo({"dataset": dataset, "rows": frame.height, "shown": frame.head(limit).to_dicts()})


@app.command("replay")
def replay_cmd(
    dataset: str,
    fix: Path = typer.Option(None, "--fix", help="A mapping file (YAML/JSON): formats, values, reason …"),
    rows: Path = typer.Option(None, "--rows", help="Edited rows (CSV or Parquet from `show --out`)."),
    fmt: list[str] = typer.Option(None, "--format", help="COLUMN=FORMAT, a datetime format (repeatable)."),
    value: list[str] = typer.Option(None, "--value", help="COLUMN=OLD->NEW, a corrected text (repeatable)."),
    entry: list[str] = typer.Option(None, "--entry", help="Only this entry (repeatable)."),
    reason: str = typer.Option(None, "--reason", help="Only entries whose reason contains this text."),
    ingest: str = INGEST,
    comment: str = typer.Option(None, "--comment", help="Why (kept in the catalog)."),
    by: str = typer.Option(None, "--by", help="Who replays (default: the store's writer)."),
    store: str = STORE,
) -> None:
    """Replay DATASET's open quarantined rows, fixed: the rows that fit become a new version."""
    from altakit.ingestion.replay import replay

    mapping = _mapping(fix) if fix is not None else {}
    formats = {**mapping.get("formats", {}), **_pairs(fmt or [], "--format", "ts=%d.%m.%Y")}
    values = {c: dict(v) for c, v in mapping.get("values", {}).items()}
    for col, change in _pairs(value or [], "--value", "temp=12,5->12.5", many=True):
        old, sep, new = change.partition("->")
        if not sep:
            _bad("--value", f"{col}={change}", "temp=12,5->12.5")
        values.setdefault(col, {})[old] = new
    report = replay(
        dataset,
        _rows(rows) if rows is not None else None,
        formats=formats,
        values=values,
        entries=list(entry) if entry else mapping.get("entries"),
        reason=reason or mapping.get("reason"),
        ingest=_ingest(ingest),
        by=by,
        comment=comment or mapping.get("comment", ""),
        store=store,
    )
    _echo(report.to_dict())


@app.command("discard")
def discard_cmd(
    dataset: str,
    entry: list[str] = typer.Option(..., "--entry", help="An entry to discard (repeatable)."),
    reason: str = typer.Option(..., "--reason", help="Why (required)."),
    by: str = typer.Option(None, "--by", help="Who (default: the store's writer)."),
    store: str = STORE,
) -> None:
    """Close quarantined rows of DATASET on purpose, with a reason."""
    from altakit.ingestion.replay import discard

    _echo(discard(dataset, list(entry), reason=reason, by=by, store=store).to_dict())


def _ingest(given: str | None) -> str | int | None:
    """``--ingest``: a dataset version (digits) or an ingest id."""
    return int(given) if given and given.isdigit() else given


def _bad(option: str, given: str, example: str) -> NoReturn:
    from altakit.errors import ConfigError

    raise ConfigError(f"{option} {given!r} is not COLUMN=…", hint=f"e.g. {option} '{example}'")


def _pairs(items: list[str], option: str, example: str, *, many: bool = False) -> Any:
    out = []
    for item in items:
        col, sep, rest = item.partition("=")
        if not sep or not col:
            _bad(option, item, example)
        out.append((col, rest))
    return out if many else dict(out)


def _mapping(path: Path) -> dict[str, Any]:
    """The fix mapping file (YAML or JSON)."""
    import yaml

    from altakit.errors import ConfigError, NotFound

    hint = "a mapping with formats, values, entries, reason, comment (see `altakit quarantine replay --help`)"
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise NotFound(f"no fix file {path}", path=str(path), hint=hint) from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the fix file {path}: {exc}", path=str(path), hint=hint) from exc
    known = {"formats", "values", "entries", "reason", "comment"}
    if not isinstance(data, dict) or set(data) - known:
        extra = sorted(set(data) - known) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"the fix file {path} is not a fix mapping ({extra})", path=str(path), hint=hint)
    for key in ("formats", "values"):
        if not isinstance(data.get(key, {}), dict):
            raise ConfigError(f"{key} in {path} must be a mapping of column to …", path=str(path), hint=hint)
    return data


def _rows(path: Path) -> Any:
    """Edited rows from a CSV (every column as text) or Parquet file."""
    import polars as pl

    from altakit.errors import ConfigError, NotFound

    if not path.exists():
        raise NotFound(f"no rows file {path}", path=str(path), hint="write one with `quarantine show --out`")
    try:
        if path.suffix.lower() == ".parquet":
            return pl.read_parquet(path)
        return pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ConfigError(
            f"cannot read the rows file {path}: {exc}",
            path=str(path),
            hint="give the CSV `quarantine show --out` wrote, edited, or a Parquet file",
        ) from exc
