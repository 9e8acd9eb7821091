"""Run records: the one document shape of catalog records of kind ``run``, and where a run ran.

A run is one execution of something worth keeping: a notebook executed by
``altakit run`` (:mod:`altakit.runs.notebook`), or a training run whose events
:class:`altakit.train.RunRecorder` records as they arrive. Both register the
same :class:`RunDoc` (this module owns the shape) with the same
:func:`environment`, so one reader (``altakit runs ls``, a dashboard, a
notebook's summary) reads every run alike.

The shape, and why:

- ``status`` is ``running``, ``finished``, ``interrupted`` or ``failed`` (:data:`RunStatus`):
  a training run lives through those states, and a notebook run is a run that
  finished or failed (older notebook runs said ``ok``; they read as ``finished``).
  A stream's ``end`` event may report its own status (an ingest ends ``written``,
  ``unchanged`` or ``empty``): that is kept as it was reported.
- ``parameters`` holds what the run was given (papermill parameters of a notebook
  run, the hyperparameters of a training run): the name papermill, ``altakit
  run -p`` and :func:`notebook_info` already use (older training runs said
  ``params``).
- ``notebook`` is ``{"path", "parameters"}`` of the notebook the run happened in,
  or ``None`` outside one (older notebook runs held the path alone).
- ``reads`` are the table, dataset and model versions the run read through altakit
  (``table:sensors@4``; :mod:`altakit.runs.reads`), each also a ``read`` link;
  ``unversioned`` those of them whose read named no version number (what ``altakit run
  --same-data`` pins); ``pins`` what this run was pinned to (``{}``: the latest);
  ``job`` the Jupyter Scheduler job it ran for (``{"id", "definition"}``) or None.
- ``history`` / ``final`` are the metrics per epoch and the last ones (training);
  ``executed`` / ``html`` / ``local`` / ``redacted`` / ``html_error`` name the
  stored and local copies of an executed notebook. Fields a run has no use for
  keep their empty default, so every run record has the same keys.
- Anything else a run reports (a training run's ``end`` event: ``epochs_done``,
  ``model`` …) is kept as extra top-level keys; a reported value that would
  clash with one of the fields above is kept as ``reported_<name>``.

:meth:`RunDoc.upgrade` reads both shapes older altakit wrote.

Example:
    >>> run = RunDoc(status="finished", parameters={"rows": 3}, started="2026-01-02T03:04:05Z",
    ...              environment=environment())
    >>> RunDoc.from_doc(run.to_doc()) == run
    True
    >>> RunDoc.from_doc({**run.to_doc(), "status": "ok"}).status  # written by an older altakit
    'finished'
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from altakit.catalog import catalog_of
from altakit.catalog.model import RecordDoc, fits
from altakit.errors import ConfigError, CorruptObject

if TYPE_CHECKING:
    from altakit.catalog import Record
    from altakit.store import Store

#: The record kind this module owns.
KIND = "run"
#: Where a run stands.
RunStatus = Literal["running", "finished", "interrupted", "failed"]
#: Keys of every run's ``environment``.
ENVIRONMENT_KEYS = ("python", "platform", "host", "pid", "executable", "kernel", "versions")
#: Modules whose versions a run reports when they are loaded (nothing is imported for it).
REPORTED = ("papermill", "torch", "tensorflow", "keras", "lightning", "numpy")
#: Environment variables a batch run sets so the run record names its notebook and parameters.
NOTEBOOK_ENV = "ALTAKIT_NOTEBOOK"
PARAMETERS_ENV = "ALTAKIT_PARAMETERS"


@dataclass(frozen=True)
class RunDoc(RecordDoc):
    """The document of a ``run`` record (see the module docstring for the shape and why).

    Attributes:
        status: ``running``, ``finished``, ``interrupted`` or ``failed``, or what an ``end`` event reported.
        parameters: What the run was given (JSON values).
        started: When it started (ISO 8601, UTC).
        environment: Where it ran (:func:`environment`).
        notebook: ``{"path", "parameters"}`` of the notebook it ran in, or None.
        seconds: Wall-clock duration once it ended (None while running).
        error: ``Type: message`` of the failure ("" unless failed).
        history: Metrics per epoch, ``{"epoch", "step", "time", <metric>: value}``.
        final: The metrics of the last epoch.
        executed: Store version of the executed notebook ``{"key", "version", "store"}``.
        html: Store version of its HTML copy.
        local: Local copies ``{"executed", "html"}``.
        redacted: Names of the secret environment variables redacted from the notebook.
        html_error: Why there is no HTML copy ("" if there is one).
        reads: Refs of the table/dataset/model versions the run read.
        unversioned: The refs of ``reads`` whose read named no version number.
        pins: ``{"kind:name": version}`` the run's unversioned reads were pinned to.
        job: ``{"id", "definition"}`` of the Jupyter Scheduler job it ran for, or None.
    """

    KIND = KIND

    status: str
    parameters: dict[str, Any]
    started: str
    environment: dict[str, Any]
    notebook: dict[str, Any] | None = None
    seconds: float | None = None
    error: str = ""
    history: list[Any] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    executed: dict[str, Any] | None = None
    html: dict[str, Any] | None = None
    local: dict[str, Any] | None = None
    redacted: list[Any] = field(default_factory=list)
    html_error: str = ""
    reads: list[Any] = field(default_factory=list)
    unversioned: list[Any] = field(default_factory=list)
    pins: dict[str, Any] = field(default_factory=dict)
    job: dict[str, Any] | None = None

    @classmethod
    def upgrade(cls, doc: dict[str, Any]) -> dict[str, Any]:
        """Today's shape from the two older ones (``altakit run``'s and ``RunRecorder``'s)."""
        doc = dict(doc)
        if "params" in doc and "parameters" not in doc:  # RunRecorder wrote params
            doc["parameters"] = doc.pop("params")
        if doc.get("status") == "ok":  # altakit run wrote ok | failed
            doc["status"] = "finished"
        if isinstance(doc.get("notebook"), str):  # altakit run wrote the notebook's path alone
            doc["notebook"] = {"path": doc["notebook"], "parameters": doc.get("parameters", {})}
        env = doc.get("environment")
        if isinstance(env, dict):
            doc["environment"] = _upgrade_environment(env)
        return set_aside(doc)

    def check(self, where: str = "") -> None:
        """Validate the field types and that ``environment`` has every key of :data:`ENVIRONMENT_KEYS`."""
        super().check(where)
        missing = [k for k in ENVIRONMENT_KEYS if k not in self.environment]
        if missing:
            at = f" ({where})" if where else ""
            raise CorruptObject(
                f"a 'run' record{at}: its environment lacks {missing}",
                ref=where,
                hint="write run records through altakit.runs.record (environment() has every key)",
            )


def set_aside(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` with each value that does not fit its :class:`RunDoc` field kept as ``reported_<name>``.

    Older ``RunRecorder``s wrote whatever an ``end`` event carried over the record's own keys.

    Example:
        >>> set_aside({"seconds": "n/a", "epochs_done": 3})
        {'epochs_done': 3, 'reported_seconds': 'n/a'}
    """
    hints = typing.get_type_hints(RunDoc)
    out = dict(doc)
    for name, value in doc.items():
        if name in hints and name != "extra" and not fits(value, hints[name]):
            out[f"reported_{name}"] = out.pop(name)
    return out


def _upgrade_environment(env: dict[str, Any]) -> dict[str, Any]:
    versions = dict(env.get("versions") or {})
    for name in ("altakit", "papermill"):  # altakit run wrote these next to python
        if name in env and name not in versions:
            versions[name] = env[name]
    rest = {k: v for k, v in env.items() if k not in ("altakit", "papermill")}
    return {**{k: None for k in ENVIRONMENT_KEYS}, **rest, "versions": versions}


def environment(kernel: str | None = None) -> dict[str, Any]:
    """Where a run happens: Python, platform, host, process, kernel, versions of loaded frameworks.

    Frameworks are reported only if already imported (this never imports torch).

    Args:
        kernel: The Jupyter kernel that executes the run's notebook (None: this process).

    Example:
        >>> env = environment("python3")
        >>> sorted(env) == sorted(ENVIRONMENT_KEYS), env["kernel"], "altakit" in env["versions"]
        (True, 'python3', True)
    """
    from altakit import __version__

    versions = {"altakit": __version__}
    for name in REPORTED:
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = str(getattr(module, "__version__", "?"))
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "executable": sys.executable,
        "kernel": kernel,
        "versions": versions,
    }


def notebook_info(
    path: str | None = None, parameters: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The notebook and papermill parameters of this run, or None outside a notebook.

    Args:
        path: Notebook path; default ``$ALTAKIT_NOTEBOOK``, then ``$JPY_SESSION_NAME`` (Jupyter).
        parameters: Papermill parameters; default the JSON object in ``$ALTAKIT_PARAMETERS``.

    Raises:
        ConfigError: ``$ALTAKIT_PARAMETERS`` is not JSON.

    Example:
        >>> notebook_info("report.ipynb", {"rows": 3})
        {'path': 'report.ipynb', 'parameters': {'rows': 3}}
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
    return {"path": path, "parameters": jsonable(dict(parameters or {}))}


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON: NaN and infinities become None, numpy/torch scalars numbers, others str.

    Example:
        >>> jsonable({"lr": 0.1, "loss": float("nan"), "when": (1, 2)})
        {'lr': 0.1, 'loss': None, 'when': [1, 2]}
    """
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "item"):  # numpy / torch scalars
        try:
            return jsonable(value.item())
        except (TypeError, ValueError):
            pass
    return str(value)


def record_run(store: Store, name: str, run: RunDoc) -> Record:
    """Register ``run`` as the next version of ``run:<name>`` in the store's catalog.

    Raises:
        CorruptObject: ``run`` does not validate (nothing is written).
        ConfigError: ``name`` is not a record name.

    Example:
        >>> import tempfile, altakit
        >>> store = altakit.open_store(tempfile.mkdtemp())
        >>> run = RunDoc(status="running", parameters={}, started="2026-01-02T03:04:05Z",
        ...              environment=environment())
        >>> str(record_run(store, "nightly", run).ref)
        'run:nightly@1'
    """
    return catalog_of(store).register(
        KIND, name, run.to_doc(), links={"read": list(run.reads)} if run.reads else {}
    )


def read_run(record: Record) -> RunDoc:
    """The typed document of a ``run`` record (older shapes upgraded).

    Raises:
        CorruptObject: The record is no run record, or its document does not validate.

    Example:
        >>> read_run(catalog_of(store).get("run", "nightly")).status  # doctest: +SKIP
        'running'
    """
    if record.kind != KIND:
        raise CorruptObject(f"{record.ref} is no run record", ref=str(record.ref))
    return RunDoc.from_doc(record.doc, where=str(record.ref))
