"""``altakit store …``: list, read, write and delete versioned objects from the shell.

Example:
    $ altakit store put ./data/store raw/day1.csv day1.csv
    $ altakit store ls ./data/store --prefix raw/ --pattern '*.csv'
    $ altakit store versions ./data/store raw/day1.csv
    $ altakit store cat ./data/store raw/day1.csv --version 20261122T041500123456789Z_0a1b2c3d > old.csv
    $ altakit store rm ./data/store raw/day1.csv
    $ altakit store gc ./data/store            # what a sweep would remove
    $ altakit store gc ./data/store --apply    # remove it
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from altakit.store import Store

app = typer.Typer(help="List, read, write and delete versioned objects.", no_args_is_help=True)

Url = Annotated[str, typer.Argument(help="Store URL: a folder, file:///…, s3://bucket/prefix, jvm+…")]
Key = Annotated[str, typer.Argument(help="Object key, e.g. raw/day1.csv.")]


@contextmanager
def _open(url: str) -> Iterator[Store]:
    """Open the store; an error raised without a hint gets one pointing at ``ls`` / ``versions``."""
    from altakit.errors import AltakitError
    from altakit.store import open_store

    try:
        with open_store(url) as store:
            yield store
    except AltakitError as exc:
        if not exc.hint:
            exc.hint = (
                f"see what is there with `altakit store ls {url}` or `altakit store versions {url} KEY`"
            )
        raise


@app.command("ls")
def ls(
    url: Url,
    prefix: Annotated[str, typer.Option(help="Only keys starting with this, e.g. raw/.")] = "",
    pattern: Annotated[str | None, typer.Option(help="Glob on the file name ('*.csv') or key.")] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive/--no-recursive", help="Include sub-folders.")
    ] = True,
) -> None:
    """List the latest version of each key: size, time (UTC) and key."""
    with _open(url) as store:
        for v in store.list(prefix, pattern=pattern, recursive=recursive):
            typer.echo(f"{v.size:>12}  {v.timestamp:%Y-%m-%d %H:%M:%S}  {v.key}")


@app.command("versions")
def versions(url: Url, key: Key) -> None:
    """List every version of a key, oldest first: id, size, writer (and 'deleted' for tombstones)."""
    from altakit.errors import NotFound

    with _open(url) as store:
        found = store.versions(key)
        if not found:
            raise NotFound(f"no such key {key!r} in {store.url}", key=key, hint=f"altakit store ls {url}")
        for v in found:
            typer.echo(f"{v.id}  {v.size:>12}  {v.writer}" + ("  deleted" if v.deleted else ""))


@app.command("cat")
def cat(
    url: Url,
    key: Key,
    version: Annotated[str | None, typer.Option(help="A version id from `altakit store versions`.")] = None,
) -> None:
    """Write the bytes of a key (latest version, or --version) to stdout."""
    out = typer.get_binary_stream("stdout")
    with _open(url) as store, store.open(key, version) as f:
        while chunk := f.read(1 << 20):
            out.write(chunk)
    out.flush()


@app.command("put")
def put(
    url: Url,
    key: Key,
    file: Annotated[str, typer.Argument(help="Local file to store, or - for stdin.")],
) -> None:
    """Store a local file (or stdin) as a new version of a key; prints the version id."""
    with _open(url) as store:
        data = typer.get_binary_stream("stdin") if file == "-" else Path(file)
        version = store.put(key, data)
    typer.echo(version.id)


@app.command("rm")
def rm(url: Url, key: Key) -> None:
    """Delete a key (a tombstone version; older versions stay readable); prints the tombstone id."""
    with _open(url) as store:
        typer.echo(store.delete(key).id)


@app.command("gc")
def gc(
    url: Url,
    apply: Annotated[
        bool, typer.Option("--apply", help="Remove what is found (default: only list it).")
    ] = False,
    grace: Annotated[
        float, typer.Option(help="Hours a leftover is left alone: a write may still be running.", min=0)
    ] = 24.0,
) -> None:
    """Find (and with --apply remove) what killed or refused writes left behind.

    Temp files of writes that never finished (their writer is gone, they are older than
    --grace) and dataset shards that no dataset version lists. Nothing a catalog record
    lists is ever removed. On S3, abandoned multipart uploads are a bucket lifecycle
    rule's job: see docs/operations.md.
    """
    from altakit.datasets.gc import orphan_shards
    from altakit.store.gc import sweep_temp

    seconds = grace * 3600
    with _open(url) as store:
        found = sweep_temp(store, grace=seconds, apply=apply)
        found += orphan_shards(store, grace=seconds, apply=apply)
    verb = "removed" if apply else "would remove"
    for g in found:
        typer.echo(f"{verb}  {g.kind:<6}  {g.bytes:>12}  {g.age / 3600:>7.1f} h  {g.name}")
    total = sum(g.bytes for g in found)
    summary = f"{len(found)} leftovers, {total} bytes"
    typer.echo(f"{summary} removed" if apply else f"{summary}; run again with --apply to remove them")
