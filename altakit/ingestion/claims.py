"""Claims in the store: who may commit a source file, whose turn it is, and whether its owner still lives.

A claim is a version of a claim key; the first *live* claim of a key wins. Two rules make that
safe and quick to recover:

* **No two firsts.** A version's id is stamped when its write starts, so a slow writer's claim can
  land after a faster one looked and found itself first. Claimants therefore follow the bakery
  rule of :mod:`altakit.catalog.ledger`: put a "choosing" marker, put the claims, delete the
  marker, wait until nobody else is choosing, and only then look. A claim still on its way when
  we looked belongs to a writer whose marker we waited for; a writer that put its marker after we
  looked stamps its claim later than ours.
* **Dead owners do not block.** A claim (and a marker) holds its owner: host, process id and the
  process's start time (:func:`owner`). A claim whose owner process is gone from this host is
  passed over at once, so a retry after a crash or a kill runs immediately. A claim from another
  host is passed over once older than :data:`FOREIGN_STALE` (no process table to ask there); a
  claim written by older altakit (the writer's name only) likewise.

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> a, b = claim(store, ["c/x"], "ana")[0], claim(store, ["c/x"], "bo")[0]
    >>> first_claim(store, a), first_claim(store, b)
    (True, False)
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from altakit import procs
from altakit.catalog import ledger
from altakit.errors import Conflict, NotFound

if TYPE_CHECKING:
    from altakit.store.base import Store
    from altakit.store.names import Version

__all__ = ["FOREIGN_STALE", "claim", "first_claim", "is_alive", "owner", "release", "turn"]

#: A claim from another host (or from older altakit, which recorded no owner) this old is from a
#: writer that died, and is passed over. Claims from this host are judged by their process.
FOREIGN_STALE = timedelta(hours=1)
#: Seconds after which another writer's "choosing" marker is ignored whatever its owner.
CHOOSING_STALE = 60.0
_CHOOSING = "choosing"


def owner(writer: str) -> dict[str, Any]:
    """Who this process is, as claims and commits record it (:func:`altakit.procs.owner`).

    Example:
        >>> sorted(owner("ana"))
        ['host', 'pid', 'start', 'writer']
    """
    return procs.owner(writer=writer)


def is_alive(who: Any, written: datetime, *, stale: timedelta = FOREIGN_STALE) -> bool:
    """Whether the owner ``who`` (:func:`owner`, as stored) of something written at ``written`` may still
    be working: its process on this host runs, or (another host, or no owner recorded) it is recent.

    Example:
        >>> from datetime import UTC, datetime
        >>> is_alive(owner("ana"), datetime.now(UTC))
        True
        >>> is_alive({**owner("ana"), "pid": 2**22 + 1}, datetime.now(UTC))
        False
    """
    return procs.is_alive(who, written, stale=stale)


def _live(store: Store, version: Version) -> bool:
    """Whether the claim (or marker) ``version`` belongs to an owner that may still be working."""
    try:
        who = json.loads(store.get(version.key, version))
    except NotFound:
        return False  # released meanwhile
    except ValueError:
        who = None  # older altakit: the writer's name only
    return is_alive(who, version.timestamp)


def first_claim(store: Store, mine: Version) -> bool:
    """True when ``mine`` is the first live claim of its key (see the module docstring).

    Call it after :func:`claim` returned (it waited for concurrent claimants).
    """
    for v in store.versions(mine.key):
        if v.deleted:
            continue
        if v.id == mine.id:
            return True
        if _live(store, v):
            return False
    raise NotFound(f"claim {mine.key} was released", key=mine.key)


def claim(store: Store, keys: Sequence[str], writer: str, *, scope: str | None = None) -> list[Version]:
    """Put a claim on each of ``keys`` (one owner document each) and wait until every claimant that
    started before us is visible, so :func:`first_claim` can judge. ``scope``: where the "choosing"
    markers go (default: the first key's folder); every claimant of these keys must use the same."""
    if not keys:
        return []
    scope = scope or keys[0].rpartition("/")[0]
    body = json.dumps(owner(writer)).encode()
    marker = f"{scope}/{_CHOOSING}/{secrets.token_hex(8)}"
    chosen = store.put(marker, body, reserved=True)  # claims live under '_altakit/'
    try:
        # one store object per file: put them 16 at a time (a glob of 100,000 files waits on I/O, not turns)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(16, len(keys)), thread_name_prefix="altakit-claim") as pool:
            mine = list(pool.map(lambda key: store.put(key, body, reserved=True), keys))
    finally:
        release(store, [chosen])  # removed, not tombstoned: markers must not pile up
    ledger.wait_for_choosers(store, f"{scope}/{_CHOOSING}/", CHOOSING_STALE, lambda v: _live(store, v))
    return mine


def release(store: Store, claims: Sequence[Version]) -> None:
    """Remove claims (those gone already are passed over)."""
    for version in claims:
        with contextlib.suppress(NotFound):
            store.purge(version.key, version, reserved=True)


@contextlib.contextmanager
def turn(store: Store, key: str, writer: str, *, wait: float = 0.0, what: str = "writer") -> Iterator[None]:
    """Hold ``key``'s turn: the first live claim. Waits up to ``wait`` seconds for the holders ahead.

    Raises:
        Conflict: Another live ``what`` still holds the turn after ``wait`` seconds.

    Example:
        >>> import tempfile, altakit
        >>> store = altakit.open_store(tempfile.mkdtemp())
        >>> with turn(store, "locks/x", "ana"):
        ...     pass
    """
    (mine,) = claim(store, [key], writer)
    try:
        deadline, delay = time.monotonic() + wait, 0.005
        while not first_claim(store, mine):
            if time.monotonic() >= deadline:
                raise Conflict(
                    f"another {what} holds {key.rpartition('/')[2]!r}",
                    key=key,
                    hint="re-run when it is done",
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.1)
        yield
    finally:
        release(store, [mine])
