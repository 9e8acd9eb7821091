"""Live training runs: their metrics as they grow, and a stop request any process can make.

A training run records itself through :class:`~altakit.train.RunRecorder`: a
``running`` run record when it starts, its metric history
(``runs/<name>/history.json``, a new store version per epoch) while it trains,
and the final record when it ends. :func:`live_metrics` reads that back for a
curve: where the run stands and the history points after the ones a viewer
already has. A panel, a dashboard, the REST route the JupyterLab sidebar uses
and a terminal read it alike, in any process, for a run started from any of
them (``altakit run``, a Jupyter Scheduler job, a panel), and a reload loses
nothing: the state is in the store.

Stopping is a request in the store too: :func:`request_stop` writes
``runs/<name>/stop``; the training loop asks :class:`StopCheck` once per batch
and ends the run ``interrupted`` when it says so. The check costs a clock read
per batch and a store read at most every ``interval`` seconds, so a stop acts
within one batch (or ``interval``, whichever is longer), on any store, from any
machine, without signals or a handle on the training process.

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> stop = StopCheck(store, "demo", interval=0)
    >>> stop()
    False
    >>> request_stop(store, "demo")
    >>> stop(), stop.requested
    (True, True)
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime
from typing import Any

from altakit.catalog import catalog_of
from altakit.catalog.records import check_name
from altakit.errors import CorruptObject, NotFound
from altakit.store.base import Store
from altakit.store.names import id_for_time

#: Seconds between two store reads of :class:`StopCheck` (a clock read per batch in between).
STOP_INTERVAL = 0.25


def history_key(run: str) -> str:
    """Store key of a run's metric history (what :class:`~altakit.train.RunRecorder` writes)."""
    return f"runs/{run}/history.json"


def stop_key(run: str) -> str:
    """Store key of a run's stop requests (:func:`request_stop`)."""
    return f"runs/{run}/stop"


def request_stop(store: Store, run: str, *, by: str = "", reason: str = "") -> None:
    """Ask run ``run`` to stop: its :class:`StopCheck` says so at its next check.

    Only checks made by a :class:`StopCheck` created before the request see it, so an
    old request never stops a later run of the same name.

    Raises:
        ConfigError: ``run`` is not a run name.

    Example:
        >>> request_stop(store, "digits-torch/digits-v1", by="ana")  # doctest: +SKIP
    """
    check_name(run)
    note = {"by": by, "reason": reason, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    store.put(stop_key(run), json.dumps(note).encode())


class StopCheck:
    """Whether someone asked this run to stop (:func:`request_stop`); call it once per batch.

    Args:
        store: The run's store.
        run: The run's name.
        interval: Seconds between two store reads (0: read on every call).

    Attributes:
        requested: True once a stop was requested (it stays True).

    Example:
        >>> stop = StopCheck(store, run)  # doctest: +SKIP
        >>> for batch in ds.torch(64):  # doctest: +SKIP
        ...     if stop():
        ...         break
    """

    def __init__(self, store: Store, run: str, *, interval: float = STOP_INTERVAL) -> None:
        check_name(run)
        self.store, self.run, self.interval = store, run, interval
        self.requested = False
        self._seen = self._latest()
        self._next = time.monotonic() + interval

    def _latest(self) -> str | None:
        try:
            return self.store.resolve(stop_key(self.run)).id
        except NotFound:
            return None

    def __call__(self) -> bool:
        """True when a stop was requested since this check was made."""
        if self.requested:
            return True
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.interval
        self.requested = self._latest() != self._seen
        return self.requested


def live_metrics(store: Store, run: str, version: int | None = None, *, after: int = 0) -> dict[str, Any]:
    """Where training run ``run`` stands and its history points after the first ``after``.

    Args:
        store: The run's store.
        run: The run's name.
        version: A version of the run record (default: the latest). A ``running`` version that
            a later version of the same start ended reports that one's status and history.
        after: Points the caller already has (the answer holds the ones after them).

    Returns:
        ``{"run", "version", "status", "alive", "total", "points", "parameters", "final"}``:
        ``status`` as the run record says (``running`` …), ``alive`` False when a ``running``
        run's process is gone from this machine (it was killed; None when unknown),
        ``total`` the number of points so far, ``points`` the history entries
        (``{"epoch", "step", "time", <metric>: value}``) after the first ``after``.

    Raises:
        NotFound: No such run (or version).
        CorruptObject: The record or the history is damaged.

    Example:
        >>> live = live_metrics(store, "digits-torch/digits-v1", after=3)  # doctest: +SKIP
        >>> live["status"], [p["epoch"] for p in live["points"]]  # doctest: +SKIP
        ('running', [3, 4])
    """
    from altakit.runs.record import read_run

    catalog = catalog_of(store)
    records = catalog.versions("run", run)
    if not records:
        raise NotFound(f"no run {run!r}", run=run, hint="the run registers itself when it starts")
    chosen = records[-1] if version is None else next((r for r in records if r.version == version), None)
    if chosen is None:
        raise NotFound(f"run {run!r} has no version {version}", run=run, version=version)
    doc = read_run(chosen)
    for later in records:  # the end of this start, when it ended
        if later.version is not None and chosen.version is not None and later.version > chosen.version:
            then = read_run(later)
            if then.started == doc.started and doc.status == "running":
                chosen, doc = later, then
    history = list(doc.history)
    alive: bool | None = None
    if doc.status == "running":
        history = _stored_history(store, run, since=chosen.created) or history
        host, pid = doc.environment.get("host"), doc.environment.get("pid")
        if isinstance(pid, int) and isinstance(host, str):
            alive = _alive(host, pid)
    after = max(int(after), 0)
    return {
        "run": run,
        "version": chosen.version,
        "status": doc.status,
        "alive": alive,
        "total": len(history),
        "points": history[after:],
        "parameters": doc.parameters,
        "final": doc.final,
    }


def _stored_history(store: Store, run: str, *, since: datetime) -> list[dict[str, Any]] | None:
    """The history file's entries when it was written after ``since`` (by this start), else None."""
    try:
        latest = store.resolve(history_key(run))
        if latest.id <= id_for_time(since):  # an earlier start's file: this one has no epoch yet
            return None
        data = json.loads(store.get(history_key(run), latest))
    except NotFound:
        return None
    except ValueError as exc:
        raise CorruptObject(f"the metric history of run {run!r} is not JSON", run=run) from exc
    return [h for h in data if isinstance(h, dict)] if isinstance(data, list) else []


def _alive(host: str, pid: int) -> bool | None:
    """Whether a run's process still runs: None when it ran on another machine."""
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
