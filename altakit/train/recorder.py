"""Training runs on the one event stream (:mod:`altakit.events`), recorded as run records.

:class:`RunRecorder` subscribes to a run's :class:`~altakit.events.EventStream`
and keeps its run record (:class:`altakit.runs.record.RunDoc`) in the catalog:
parameters, metric history, environment, and the notebook with its papermill
parameters in batch runs.

The rules of ``altakit run`` (:mod:`altakit.runs.secrets`) hold here too: a
parameter that looks like a secret is refused with the same
:class:`~altakit.errors.ConfigError` (nothing is recorded), and the values of
secret environment variables and URL passwords are redacted from every string
the recorder writes (the run record and the metric history).

Example:
    >>> stream = EventStream("run-1")  # doctest: +SKIP
    >>> stream.subscribe(RunRecorder(store, "run-1"))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from typing import Any

from altakit.catalog.records import check_name
from altakit.errors import NotFound
from altakit.events import Event
from altakit.runs.record import RunDoc, environment, jsonable, notebook_info, record_run
from altakit.runs.secrets import Redactor, refuse_secret_parameters, secret_env_values
from altakit.store.base import Store

#: Keys of a run record's document: an ``end`` event's own values for them are kept as ``reported_<key>``.
_FIELDS = frozenset(f.name for f in dataclasses.fields(RunDoc))


class RunRecorder:
    """Keeps the run record in the catalog: parameters, metric history, environment, notebook.

    On ``start`` it registers ``run:<name>`` (status ``running``); after each
    epoch it writes the metric history to the store (``runs/<name>/history.json``,
    a new version each time, so a crash loses at most one epoch); on ``end`` it
    registers the final record (status ``finished``, ``interrupted`` or
    ``failed``, the duration, and what else the ``end`` event carried). A
    resumed run continues the history of the run it resumes, cut at the epoch it
    resumed from.

    Args:
        store: Store whose catalog holds the record.
        run: The run's name (a catalog name: ``/``-separated segments).
        notebook: The notebook path (default: ``$ALTAKIT_NOTEBOOK`` or ``$JPY_SESSION_NAME``).
        parameters: Papermill parameters (default: JSON in ``$ALTAKIT_PARAMETERS``).

    Raises:
        ConfigError: A notebook parameter looks like a secret; a ``start`` event whose parameters
            do raises it too (an :class:`~altakit.events.EventStream` then warns and detaches the
            recorder: the run is not recorded).

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
        if self.notebook:
            refuse_secret_parameters(self.notebook["parameters"])
        #: Redacts the secret environment values (and URL passwords) from all the recorder writes.
        self.redactor = Redactor(secret_env_values())
        self.params: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.started = ""
        self.start_time: float | None = None
        self.record: Any = None

    @property
    def history_key(self) -> str:
        """Store key of the metric history."""
        return f"runs/{self.run}/history.json"

    def __call__(self, event: Event) -> None:
        if event.kind == "start":
            params = dict(event.data.get("params") or {})
            refuse_secret_parameters(params)
            self.params = jsonable(params)
            self.started, self.start_time = _iso(event.time), event.time
            resumed = event.data.get("resumed")
            self.history = self._previous_history(resumed) if resumed else []
            self._register("running", None, {"resumed": resumed})
        elif event.kind == "epoch":
            entry = {"epoch": event.epoch, "step": event.step, "time": _iso(event.time), **event.metrics}
            self.history.append(entry)
            self.store.put(self.history_key, json.dumps(self.redactor.value(self.history)).encode())
        elif event.kind == "end":
            seconds = round(event.time - self.start_time, 3) if self.start_time is not None else None
            self._register(str(event.data.get("status", "finished")), seconds, event.data)

    def _previous_history(self, resumed: Mapping[str, Any]) -> list[dict[str, Any]]:
        try:
            old = json.loads(self.store.get(self.history_key))
        except NotFound:
            return []
        epoch = resumed.get("epoch")
        return [h for h in old if epoch is None or (h.get("epoch") is not None and h["epoch"] < epoch)]

    def _register(self, status: str, seconds: float | None, data: Mapping[str, Any]) -> None:
        last = self.history[-1] if self.history else {}
        reported = jsonable(data)
        error = reported.get("error")
        run = RunDoc(
            status=status,
            parameters=self.params,
            started=self.started,
            environment=environment(),
            notebook=self.notebook,
            seconds=seconds,
            error="" if error is None else str(error),
            history=jsonable(self.history),
            final={k: v for k, v in last.items() if k not in ("epoch", "step", "time")},
            extra={
                (f"reported_{k}" if k in _FIELDS else k): v
                for k, v in reported.items()
                if k not in ("status", "error")
            },
        )
        doc = self.redactor.value(run.to_doc())  # parameters, error, what the end event carried
        self.record = record_run(
            self.store, self.run, RunDoc.from_doc({**doc, "redacted": sorted(self.redactor.found)})
        )


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
