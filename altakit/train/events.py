"""One event stream for training progress and metrics.

Training code emits :class:`Event` objects on an :class:`EventStream`; any
number of subscribers consume them as they happen (nothing polls): a tqdm bar
(:class:`TqdmProgress`), the run record in the catalog (:class:`RunRecorder`),
and the notebook panels' live plots, which subscribe the same way.

Event kinds: ``start`` (params, totals), ``batch`` (step metrics), ``epoch``
(epoch metrics), ``progress`` (done / total of any long work) and ``end``
(status). Subscribers are plain callables taking an event.

Example:
    >>> stream = EventStream("demo")
    >>> seen = []
    >>> unsubscribe = stream.subscribe(seen.append)
    >>> stream.start(params={"lr": 0.1}, epochs=2)
    >>> stream.epoch(0, step=10, metrics={"loss": 0.5})
    >>> stream.end()
    >>> [e.kind for e in seen]
    ['start', 'epoch', 'end']
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from altakit.catalog.records import check_name
from altakit.errors import ConfigError, NotFound
from altakit.store.base import Store

KINDS = ("start", "batch", "epoch", "progress", "end")
#: Environment variables ``altakit run`` / papermill batch runs set for the run record.
NOTEBOOK_ENV = "ALTAKIT_NOTEBOOK"
PARAMETERS_ENV = "ALTAKIT_PARAMETERS"
Subscriber = Callable[["Event"], None]


@dataclass(frozen=True)
class Event:
    """Something that happened in a run.

    Attributes:
        kind: One of ``start``, ``batch``, ``epoch``, ``progress``, ``end``.
        run: The run's name.
        step: Global step, if known.
        epoch: Epoch (0-based), if known.
        metrics: Metric values.
        done: Units done (``progress``).
        total: Units in all (``progress``, or epochs/steps on ``start``).
        data: Anything else (params on ``start``, status on ``end`` …).
        time: Unix time of the event.
    """

    kind: str
    run: str
    step: int | None = None
    epoch: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    done: int | None = None
    total: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)


class EventStream:
    """Publishes the events of one run to its subscribers, in order.

    A subscriber that raises is reported with a warning and detached, so a
    broken plot never stops training.

    Args:
        run: The run's name.
    """

    def __init__(self, run: str) -> None:
        self.run = run
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(event)`` for every event from now on; returns a function that unsubscribes."""
        if not callable(fn):
            raise ConfigError(f"a subscriber must be callable, not {type(fn).__name__}")
        self._subscribers.append(fn)
        return lambda: self.unsubscribe(fn)

    def unsubscribe(self, fn: Subscriber) -> None:
        """Stop calling ``fn`` (no error if it was not subscribed)."""
        if fn in self._subscribers:
            self._subscribers.remove(fn)

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber."""
        if event.kind not in KINDS:
            raise ConfigError(f"unknown event kind {event.kind!r}", hint=f"use one of {KINDS}")
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception as exc:
                warnings.warn(f"event subscriber {fn!r} failed and was detached: {exc!r}", stacklevel=2)
                self.unsubscribe(fn)

    # -------------------------------------------------------------- shorthands
    def start(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        epochs: int | None = None,
        steps: int | None = None,
        resumed: Mapping[str, Any] | None = None,
    ) -> None:
        """Emit ``start``: the run's parameters, planned epochs or steps, and where it resumed."""
        data = {"params": dict(params or {}), "epochs": epochs, "steps": steps, "resumed": resumed}
        self.emit(Event("start", self.run, total=epochs if epochs is not None else steps, data=data))

    def batch(self, step: int, metrics: Mapping[str, Any] | None = None, *, epoch: int | None = None) -> None:
        """Emit ``batch`` after a training step."""
        self.emit(Event("batch", self.run, step=step, epoch=epoch, metrics=_floats(metrics)))

    def epoch(self, epoch: int, metrics: Mapping[str, Any] | None = None, *, step: int | None = None) -> None:
        """Emit ``epoch`` after an epoch (``epoch`` is 0-based)."""
        self.emit(Event("epoch", self.run, step=step, epoch=epoch, metrics=_floats(metrics)))

    def progress(self, done: int, total: int | None = None, **data: Any) -> None:
        """Emit ``progress`` for any long work (``done`` of ``total`` units)."""
        self.emit(Event("progress", self.run, done=done, total=total, data=data))

    def end(self, status: str = "finished", **data: Any) -> None:
        """Emit ``end`` with ``status`` (``finished``, ``failed``, ``interrupted``)."""
        self.emit(Event("end", self.run, data={"status": status, **data}))


class TqdmProgress:
    """A tqdm bar over epochs (or steps, or ``progress`` units) that shows the latest metrics.

    Example:
        >>> stream.subscribe(TqdmProgress())  # doctest: +SKIP
    """

    def __init__(self, **tqdm_options: Any) -> None:
        self.options = {"leave": True, "dynamic_ncols": True, **tqdm_options}
        self.bar: Any = None
        self.unit = "epoch"

    def __call__(self, event: Event) -> None:
        from tqdm.auto import tqdm

        if event.kind == "start":
            self.unit = "epoch" if event.data.get("epochs") is not None else "step"
            self.bar = tqdm(total=event.total, desc=event.run, unit=self.unit, **self.options)
            resumed = event.data.get("resumed") or {}
            if self.unit == "epoch" and resumed.get("epoch"):
                self.bar.update(int(resumed["epoch"]))
        elif event.kind == "progress":
            if self.bar is None:
                self.bar = tqdm(total=event.total, desc=event.run, **self.options)
            self.bar.total = event.total
            self.bar.update((event.done or 0) - self.bar.n)
        elif self.bar is None:
            return
        elif event.kind == "batch":
            self.bar.set_postfix(_short(event.metrics), refresh=False)
            if self.unit == "step":
                self.bar.update(1)
        elif event.kind == "epoch":
            self.bar.set_postfix(_short(event.metrics), refresh=False)
            if self.unit == "epoch":
                self.bar.update(1)
        elif event.kind == "end":
            self.bar.close()
            self.bar = None


class RunRecorder:
    """Keeps the run record in the catalog: params, metric history, environment, notebook.

    On ``start`` it registers ``run:<name>`` (status ``running``); after each
    epoch it writes the metric history to the store (``runs/<name>/history.json``,
    a new version each time, so a crash loses at most one epoch); on ``end`` it
    registers the final record. A resumed run continues the history of the run
    it resumes, cut at the epoch it resumed from.

    Args:
        store: Store whose catalog holds the record.
        run: The run's name (a catalog name: ``/``-separated segments).
        notebook: The notebook path (default: ``$ALTAKIT_NOTEBOOK`` or ``$JPY_SESSION_NAME``).
        parameters: Papermill parameters (default: JSON in ``$ALTAKIT_PARAMETERS``).

    Example:
        >>> stream.subscribe(RunRecorder(store, "digits-01"))  # doctest: +SKIP
    """

    def __init__(
        self,
        store: Store,
        run: str,
        *,
        notebook: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        check_name(run)
        self.store, self.run = store, run
        self.notebook = notebook_info(notebook, parameters)
        self.params: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.started = ""
        self.record: Any = None

    @property
    def history_key(self) -> str:
        """Store key of the metric history."""
        return f"runs/{self.run}/history.json"

    def __call__(self, event: Event) -> None:
        if event.kind == "start":
            self.params = _jsonable(event.data.get("params") or {})
            self.started = _iso(event.time)
            resumed = event.data.get("resumed")
            self.history = self._previous_history(resumed) if resumed else []
            self._register("running", resumed=resumed)
        elif event.kind == "epoch":
            entry = {"epoch": event.epoch, "step": event.step, "time": _iso(event.time), **event.metrics}
            self.history.append(entry)
            self.store.put(self.history_key, json.dumps(self.history).encode())
        elif event.kind == "end":
            extra = {k: v for k, v in _jsonable(event.data).items() if k != "status"}
            self._register(str(event.data.get("status", "finished")), **extra)

    def _previous_history(self, resumed: Mapping[str, Any]) -> list[dict[str, Any]]:
        try:
            old = json.loads(self.store.get(self.history_key))
        except NotFound:
            return []
        epoch = resumed.get("epoch")
        return [h for h in old if epoch is None or (h.get("epoch") is not None and h["epoch"] < epoch)]

    def _register(self, status: str, **extra: Any) -> None:
        last = self.history[-1] if self.history else {}
        doc = {
            **extra,
            "status": status,
            "params": self.params,
            "started": self.started,
            "history": self.history,
            "final": {k: v for k, v in last.items() if k not in ("epoch", "step", "time")},
            "environment": environment(),
            "notebook": self.notebook,
        }
        self.record = self.store.catalog.register("run", self.run, _jsonable(doc))


def environment() -> dict[str, Any]:
    """Where the run happens: Python, platform, host, and versions of loaded frameworks.

    Frameworks are reported only if already imported (this never imports torch).
    """
    import altakit

    versions = {"altakit": altakit.__version__}
    for name in ("torch", "tensorflow", "keras", "numpy", "lightning"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = str(getattr(module, "__version__", "?"))
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "versions": versions,
    }


def notebook_info(
    path: str | None = None, parameters: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The notebook and papermill parameters of this run, or None outside a notebook.

    Args:
        path: Notebook path; default ``$ALTAKIT_NOTEBOOK``, then ``$JPY_SESSION_NAME`` (Jupyter).
        parameters: Papermill parameters; default the JSON object in ``$ALTAKIT_PARAMETERS``.
    """
    path = path or os.environ.get(NOTEBOOK_ENV) or os.environ.get("JPY_SESSION_NAME")
    if parameters is None and os.environ.get(PARAMETERS_ENV):
        try:
            parameters = json.loads(os.environ[PARAMETERS_ENV])
        except ValueError as exc:
            raise ConfigError(
                f"${PARAMETERS_ENV} is not JSON: {exc}", hint='set it to a JSON object, e.g. {"epochs": 3}'
            ) from exc
    if path is None and not parameters:
        return None
    return {"path": path, "parameters": _jsonable(dict(parameters or {}))}


def _floats(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    out = {}
    for k, v in (metrics or {}).items():
        try:
            out[str(k)] = float(v)
        except (TypeError, ValueError):
            continue  # strings and arrays are not plotted
    return out


def _short(metrics: Mapping[str, float]) -> dict[str, str]:
    return {k: f"{v:.4g}" for k, v in metrics.items()}


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON (NaN/inf become None; unknown objects their str)."""

    def fix(v: Any) -> Any:
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            return None
        if isinstance(v, Mapping):
            return {str(k): fix(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [fix(x) for x in v]
        if isinstance(v, str | int | float | bool) or v is None:
            return v
        if hasattr(v, "item"):  # numpy / torch scalars
            try:
                return fix(v.item())
            except (TypeError, ValueError):
                pass
        return str(v)

    return fix(value)
