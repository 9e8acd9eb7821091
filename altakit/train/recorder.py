"""Training runs on the one event stream (:mod:`altakit.events`).

:class:`RunRecorder` subscribes to a run's :class:`~altakit.events.EventStream`
and keeps its record in the catalog (parameters, metric history, environment,
and the notebook with its papermill parameters in batch runs).

Example:
    >>> stream = EventStream("run-1")  # doctest: +SKIP
    >>> stream.subscribe(RunRecorder(store, "run-1"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from collections.abc import Mapping
from typing import Any

from altakit.catalog import catalog_of
from altakit.catalog.records import check_name
from altakit.errors import ConfigError, NotFound
from altakit.events import Event
from altakit.store.base import Store

#: Environment variables ``altakit run`` / papermill batch runs set for the run record.
NOTEBOOK_ENV = "ALTAKIT_NOTEBOOK"
PARAMETERS_ENV = "ALTAKIT_PARAMETERS"


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
        self.record = catalog_of(self.store).register("run", self.run, _jsonable(doc))


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
