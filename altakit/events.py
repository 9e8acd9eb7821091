"""One event stream for progress and metrics of any long work.

Long work (ingest, shard writing, training) emits :class:`Event` objects on an
:class:`EventStream`; any number of subscribers consume them as they happen
(nothing polls): a tqdm bar (:class:`TqdmProgress`), the panels' progress bars
and live plots, run records in the catalog (:mod:`altakit.train.recorder`).

Event kinds: ``start`` (params, totals), ``batch`` (step metrics), ``epoch``
(epoch metrics), ``progress`` (done / total of any long work) and ``end``
(status). Subscribers are plain callables taking an event.

Example:
    >>> stream = EventStream("demo")
    >>> seen = []
    >>> unsubscribe = stream.subscribe(seen.append)
    >>> stream.start(params={"lr": 0.1}, epochs=2)
    >>> stream.progress(5, 10)
    >>> stream.end()
    >>> [e.kind for e in seen]
    ['start', 'progress', 'end']
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from altakit.errors import ConfigError

KINDS = ("start", "batch", "epoch", "progress", "end")
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
            self.bar = tqdm(total=event.total, desc=event.run, **{"unit": self.unit, **self.options})
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
