"""Catalog records in the store, and how version numbers are handed out.

Records live under the store's reserved prefix (``Store.list`` hides it), one
folder per ``(kind, name)``; ``@`` cannot start a name segment, so the folders
of ``team`` and ``team/sensors`` never mix::

    _altakit/catalog/<kind>/<name>/@/rec/<n>.json      record number n (written once, by the winner of n)
    _altakit/catalog/<kind>/<name>/@/claim/<n>         claims on n: one store version per claimant
    _altakit/catalog/<kind>/<name>/@/choosing/<token>  "choosing a number" marker, deleted when done

Numbering is Lamport's bakery over an append-only store (no compare-and-swap
needed, so it works on every backend). To register, a writer:

1. puts ``choosing/<token>``;
2. reads ``n`` = 1 + the highest claimed number;
3. puts a new version of ``claim/<n>``;
4. deletes ``choosing/<token>``;
5. waits until no other writer is choosing (markers older than :data:`STALE`
   seconds belong to crashed writers and are ignored);
6. reads the versions of ``claim/<n>``: the earliest version id wins ``n`` and
   writes ``rec/<n>.json``; every loser starts again at step 1 with a larger ``n``.

Why no number is lost or given twice: "the earliest id wins" is only safe once
every claim on ``n`` is visible, since a slow writer's claim with an earlier id
could otherwise land late. After step 5 it is: a writer still in steps 1-3 when
we looked had a marker, and we waited for it; a writer that wrote its marker
after we looked read the claims after our claim was visible, so it chose a
number above ``n``. Every claimant of ``n`` therefore sees the same set of
claims and agrees on one winner, and each round has a winner, so nobody starves.
A writer that crashes between winning and writing its record leaves a gap.

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> claim_number(store, "dataset", "sensors"), claim_number(store, "dataset", "sensors")
    (1, 2)
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta

from altakit.errors import Conflict, NotFound
from altakit.store.base import Store
from altakit.store.names import CATALOG_PREFIX

ROOT = f"{CATALOG_PREFIX}catalog/"
#: Seconds after which a "choosing" marker is taken to belong to a crashed writer.
STALE = 60.0
MAX_ROUNDS = 10_000
_REC_RE = re.compile(r"^(?P<kind>[^/]+)/(?P<name>.+)/@/rec/(?P<n>[1-9][0-9]*)\.json$")


def folder(kind: str, name: str) -> str:
    """The store prefix holding everything of ``(kind, name)``."""
    return f"{ROOT}{kind}/{name}/@/"


def record_key(kind: str, name: str, version: int) -> str:
    """The store key of record ``kind:name@version``."""
    return f"{folder(kind, name)}rec/{version}.json"


def record_numbers(store: Store, kind: str, name: str) -> list[int]:
    """The version numbers of ``(kind, name)`` that have a record, ascending."""
    prefix = f"{folder(kind, name)}rec/"
    found = (_number(v.key, prefix, ".json") for v in store.list(prefix, pattern="*.json", recursive=False))
    return sorted(n for n in found if n > 0)


def record_keys(store: Store, kind: str | None = None) -> Iterator[tuple[str, str, int, str]]:
    """``(kind, name, version, key)`` of every record in the store (of ``kind`` if given)."""
    prefix = f"{ROOT}{kind}/" if kind else ROOT
    for v in store.list(prefix):
        match = _REC_RE.match(v.key[len(ROOT) :])
        if match:
            yield match["kind"], match["name"], int(match["n"]), v.key


def claim_number(store: Store, kind: str, name: str, *, stale: float = STALE) -> int:
    """Win the next version number of ``(kind, name)`` (see the module docstring).

    Args:
        store: Where the records live.
        kind: Record kind (already validated).
        name: Record name (already validated).
        stale: Seconds after which another writer's "choosing" marker is ignored.

    Returns:
        A number no other writer gets; the caller must write ``record_key(kind, name, n)``.

    Raises:
        Conflict: No number won after :data:`MAX_ROUNDS` rounds.
    """
    base = folder(kind, name)
    for _ in range(MAX_ROUNDS):
        marker = f"{base}choosing/{secrets.token_hex(8)}"
        store.put(marker, b"")
        claimed = store.list(f"{base}claim/", recursive=False)
        number = 1 + max((_number(v.key, f"{base}claim/") for v in claimed), default=0)
        mine = store.put(f"{base}claim/{number}", store.writer.encode())
        store.delete(marker)
        _wait_for_choosers(store, f"{base}choosing/", stale)
        claims = [v for v in store.versions(f"{base}claim/{number}") if not v.deleted]
        if claims[0].id == mine.id:
            return number
    raise Conflict(
        f"no version number won for {kind}:{name} after {MAX_ROUNDS} rounds",
        hint="too many writers register this name at once; retry later",
    )


def _wait_for_choosers(store: Store, prefix: str, stale: float) -> None:
    delay = 0.002
    while True:
        now = datetime.now(UTC)
        active = []
        for v in store.list(prefix, recursive=False):
            if now - v.timestamp > timedelta(seconds=stale):
                with suppress(NotFound):  # a crashed writer's marker: tidy it away
                    store.delete(v.key)
            else:
                active.append(v)
        if not active:
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)


def _number(key: str, prefix: str, suffix: str = "") -> int:
    text = key[len(prefix) : len(key) - len(suffix)]
    return int(text) if text.isdigit() else 0
