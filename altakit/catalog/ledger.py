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

Compare-and-set without a store primitive: a writer whose next record depends
on the one before it (an alias move records where the alias pointed, and the
rollback stack) takes a :class:`Turn` and calls :meth:`Turn.previous` *after*
winning ``n``. That waits until every number below ``n`` is settled — its record
written, or its winner gave it up (``void/<m>``), or its winner crashed (no
record, and neither its claim nor its heartbeat ``live/<m>`` is younger than
``stale`` seconds) — and returns the highest number that has a record. Every
record built this way therefore extends the true latest record: the records of
``(kind, name)`` form one chain, whatever the store and however many writers.
A winner that waits longer than ``stale / 4`` refreshes ``live/<n>`` so that the
writers queued behind it do not take it for crashed; a winner whose heartbeat is
older than ``stale`` when it is about to write gives the number up
(:meth:`Turn.check`). The one assumption, as for the choosing markers, is that a
live writer's clock and pace stay within ``stale`` seconds.

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> claim_number(store, "dataset", "sensors"), claim_number(store, "dataset", "sensors")
    (1, 2)
    >>> first = take_turn(store, folder("run", "demo"))
    >>> first.void()  # number 1 given up: the next writer need not wait for it
    >>> turn = take_turn(store, folder("run", "demo"))
    >>> turn.number, turn.previous()
    (2, None)
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from altakit import faults
from altakit.errors import Conflict, NotFound
from altakit.store.base import Store
from altakit.store.names import CATALOG_PREFIX, Version

ROOT = f"{CATALOG_PREFIX}catalog/"
#: Fault-injection points (see :mod:`altakit.faults`).
FAULT_POINTS = ("catalog.number_won",)
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
    return numbers_under(store, folder(kind, name))


def numbers_under(store: Store, base: str) -> list[int]:
    """The numbers of the ledger under ``base`` that have a record (``<base>rec/<n>.json``), ascending."""
    prefix = f"{base}rec/"
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
    return take_turn(store, folder(kind, name), stale=stale).number


def take_turn(store: Store, base: str, *, stale: float = STALE) -> Turn:
    """Win the next number of the ledger under ``base`` (a folder such as :func:`folder` gives).

    Args:
        store: Where the ledger lives.
        base: Its folder, ending in ``/``; records are ``<base>rec/<n>.json``.
        stale: Seconds after which another writer's marker, claim or heartbeat is taken for crashed.

    Returns:
        The won :class:`Turn`; its owner writes ``<base>rec/<n>.json`` or calls :meth:`Turn.void`.

    Raises:
        Conflict: No number won after :data:`MAX_ROUNDS` rounds.

    Example:
        >>> take_turn(store, folder("run", "demo")).number  # doctest: +SKIP
        1
    """
    for _ in range(MAX_ROUNDS):
        since = time.monotonic()
        marker = f"{base}choosing/{secrets.token_hex(8)}"
        store.put(marker, b"", reserved=True)
        claimed = store.list(f"{base}claim/", recursive=False)
        number = 1 + max((_number(v.key, f"{base}claim/") for v in claimed), default=0)
        mine = store.put(f"{base}claim/{number}", store.writer.encode(), reserved=True)
        store.delete(marker, reserved=True)
        wait_for_choosers(store, f"{base}choosing/", stale)
        claims = [v for v in store.versions(f"{base}claim/{number}") if not v.deleted]
        if claims[0].id == mine.id:
            faults.point("catalog.number_won")  # won, record not yet written: a crash leaves a gap
            return Turn(store, base, number, stale, since)
    raise Conflict(
        f"no version number won for {base.removeprefix(ROOT)!r} after {MAX_ROUNDS} rounds",
        hint="too many writers register this name at once; retry later",
    )


@dataclass
class Turn:
    """A won number and what its winner still owes: the record, or :meth:`void`.

    Attributes:
        store: Where the ledger lives.
        base: The ledger's folder.
        number: The won number.
        stale: Seconds after which a silent winner counts as crashed.
    """

    store: Store
    base: str
    number: int
    stale: float
    _since: float = field(repr=False)  # monotonic time of the claim or of the last heartbeat
    _beats: bool = field(default=False, repr=False)

    def previous(self) -> int | None:
        """Wait until every number below this one is settled; the highest with a record (None: none).

        A number is settled when its record is written, its winner gave it up
        (:meth:`void`) or its winner crashed (see the module docstring).
        """
        delay, number = 0.002, self.number - 1
        while number >= 1:
            state = self._settled(number)
            if state == "record":
                return number
            if state == "gap":
                number -= 1
                continue
            self._beat()
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)
        return None

    def check(self) -> None:
        """Raise :class:`Conflict` (after giving the number up) if others may already take it for crashed."""
        if time.monotonic() - self._since > self.stale:
            self.void()
            raise Conflict(
                f"version {self.number} of {self.base.removeprefix(ROOT)!r} was held past {self.stale:g} s",
                hint="the writer stalled (or its clock jumped) while others waited; retry",
            )

    def void(self) -> None:
        """Give the number up: the writers queued behind it skip it at once."""
        with suppress(Exception):  # best effort: a crashed winner's number is skipped after `stale` anyway
            self.store.put(f"{self.base}void/{self.number}", b"", reserved=True)
        self.done()

    def done(self) -> None:
        """Tidy the heartbeat away once the record is written (or the number given up)."""
        if self._beats:
            self._beats = False
            with suppress(NotFound):
                self.store.delete(f"{self.base}live/{self.number}", reserved=True)

    def _beat(self) -> None:
        if time.monotonic() - self._since > self.stale / 4:
            self.store.put(f"{self.base}live/{self.number}", b"", reserved=True)
            self._since, self._beats = time.monotonic(), True

    def _settled(self, number: int) -> str:
        if self.store.exists(f"{self.base}rec/{number}.json"):
            return "record"
        if self.store.exists(f"{self.base}void/{number}"):
            return "gap"
        claims = [v for v in self.store.versions(f"{self.base}claim/{number}") if not v.deleted]
        if not claims:
            return "gap"  # nobody claimed it (or the claims were trimmed away)
        heard = max(
            [claims[0].timestamp, *(v.timestamp for v in self.store.versions(f"{self.base}live/{number}"))]
        )
        if datetime.now(UTC) - heard > timedelta(seconds=self.stale):
            return "gap" if not self.store.exists(f"{self.base}rec/{number}.json") else "record"
        return "waiting"


def wait_for_choosers(
    store: Store, prefix: str, stale: float, live: Callable[[Version], bool] = lambda _: True
) -> None:
    """Wait until no writer is choosing: no marker under ``prefix`` is younger than ``stale`` seconds
    and ``live``. Markers of crashed (or, by ``live``, dead) writers are tidied away.

    Example:
        >>> import tempfile, altakit
        >>> wait_for_choosers(altakit.open_store(tempfile.mkdtemp()), "_altakit/x/choosing/", 60.0)
    """
    delay = 0.002
    while True:
        now = datetime.now(UTC)
        active = []
        for v in store.list(prefix, recursive=False):
            if now - v.timestamp <= timedelta(seconds=stale) and live(v):
                active.append(v)
            else:
                with suppress(NotFound):  # a crashed writer's marker: tidy it away
                    store.delete(v.key, reserved=True)
        if not active:
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)


def _number(key: str, prefix: str, suffix: str = "") -> int:
    text = key[len(prefix) : len(key) - len(suffix)]
    return int(text) if text.isdigit() else 0
