"""Training jobs: which curated notebook trains what, and running it in a background process.

A table version trains with ``08_train_tabular.ipynb`` (features and target chosen
by the user); a typed-sample dataset of digits with ``05_train_pytorch.ipynb``.
Anything else is refused with a :class:`~altakit.errors.ConfigError` that says
why and what to do: nothing is ever trained on other data than the data picked.

:func:`start_job` runs the notebook with ``altakit run`` (papermill on a real
kernel, the run path :func:`altakit.runs.notebook.run_notebook` shares with the
workflow and Jupyter Scheduler) in a new process session, so it outlives the
kernel or Voila page that started it; the training run inside records its
history in the store, where :func:`altakit.train.live.live_metrics` reads it.

Example:
    >>> notebook, params = training_plan(store, "table:sensors@2", model="sensors-temp",
    ...                                  features=["humidity"], target="temperature")  # doctest: +SKIP
    >>> job = start_job(store, notebook, params)  # doctest: +SKIP
    >>> job.run  # doctest: +SKIP
    'panel/sensors-temp-20261207T153000'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit.catalog import catalog_of
from altakit.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from altakit.store import Store

#: The notebook that trains a table version.
TABULAR = "08_train_tabular.ipynb"
#: Notebooks that train a typed-sample dataset, by the name of its sample type.
BY_SAMPLE_TYPE = {"digit": "05_train_pytorch.ipynb"}


def trainable_refs(store: Store) -> list[str]:
    """Every table and dataset version of the catalog, newest first per name (``table:sensors@2`` …).

    Example:
        >>> trainable_refs(store)  # doctest: +SKIP
        ['table:sensors@2', 'table:sensors@1', 'dataset:digits@1']
    """
    catalog = catalog_of(store)
    refs: list[str] = []
    for kind in ("table", "dataset"):
        for rec in catalog.list(kind):
            refs += [str(r.ref) for r in reversed(catalog.versions(kind, rec.name))]
    return refs


def pick(refs: Sequence[str], wanted: str | None) -> str | None:
    """The ref of ``refs`` that ``wanted`` names: ``"sensors"``, ``"sensors@2"``, ``"table:sensors@2"``.

    Example:
        >>> pick(["table:line4@2", "table:line4@1", "dataset:digits@1"], "line4")
        'table:line4@2'
        >>> pick(["dataset:digits@1"], "digits@1"), pick(["dataset:digits@1"], "nope")
        ('dataset:digits@1', None)
    """
    if not wanted:
        return None
    for ref in refs:
        kind, _, spec = ref.partition(":")
        name = spec.partition("@")[0]
        if wanted in (ref, spec, name, f"{kind}:{name}"):
            return ref
    return None


def training_plan(
    store: Store,
    ref: str,
    *,
    model: str,
    epochs: int = 5,
    lr: float = 0.01,
    batch_size: int = 64,
    features: Sequence[str] = (),
    target: str = "",
    run_name: str = "",
) -> tuple[str, dict[str, Any]]:
    """The curated notebook that trains ``ref`` and its parameters; refuses what none can train.

    Raises:
        ConfigError: No notebook trains this data (naming why), or a table without features/target.
        NotFound: No such version.

    Example:
        >>> training_plan(store, "dataset:digits@1", model="digits")  # doctest: +SKIP
        ('05_train_pytorch.ipynb', {'dataset': 'digits@1', 'model_name': 'digits', ...})
    """
    from altakit.catalog.records import Ref, check_name

    parsed = Ref.parse(ref)
    record = catalog_of(store).resolve(parsed)
    spec = f"{record.ref.name}@{record.ref.version}"
    check_name(model)
    common = {"model_name": model, "epochs": int(epochs), "lr": float(lr), "batch_size": int(batch_size)}
    if run_name:
        common["run_name"] = run_name
    if parsed.kind == "table":
        if not target:
            raise ConfigError(f"which column of table {spec} should the model predict?", hint="pick a target")
        if not features:
            raise ConfigError(f"no feature columns of table {spec} chosen", hint="pick one or more features")
        return TABULAR, {"table": spec, "features": list(features), "target": target, **common}
    if parsed.kind == "dataset":
        sample_type = str((record.doc.get("schema") or {}).get("name") or "")
        notebook = BY_SAMPLE_TYPE.get(sample_type)
        if notebook is None:
            known = ", ".join(f"{k!r}" for k in BY_SAMPLE_TYPE)
            raise ConfigError(
                f"no curated notebook trains dataset {spec} ({sample_type or 'untyped'} samples)",
                dataset=spec,
                hint=f"the training notebooks train tables and datasets of {known} samples: copy "
                f"05_train_pytorch.ipynb and put your model in it, or ingest the data as a table",
            )
        return notebook, {"dataset": spec, **common}
    raise ConfigError(f"{ref} is not a table or a dataset", hint="pick a table or a dataset version")


def curated_folder(folder: str | Path | None = None) -> Path:
    """The folder of the curated notebooks: ``folder``, else the working folder or its parent
    (a dashboard runs in ``notebooks/dashboards/``).

    Raises:
        NotFound: No folder there holds the training notebooks.
    """
    places = [Path(folder)] if folder else [Path.cwd(), Path.cwd().parent]
    for place in places:
        if (place / TABULAR).is_file():
            return place.resolve()
    raise NotFound(
        f"no curated training notebooks in {', '.join(str(p) for p in places)}",
        hint="give the panel notebooks='path/to/notebooks'",
    )


@dataclass
class TrainingJob:
    """A curated notebook running as a job in a background process.

    Attributes:
        run: The training run's name (what :func:`altakit.train.live.live_metrics` reads).
        notebook: The notebook executed.
        parameters: Its papermill parameters.
        proc: The ``altakit run`` process.
        log: Its output.
    """

    run: str
    notebook: Path
    parameters: dict[str, Any]
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def done(self) -> bool:
        """True once the process ended."""
        return self.proc.poll() is not None

    def tail(self, chars: int = 600) -> str:
        """The end of the job's output (why it failed)."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def job_run_name(model: str) -> str:
    """A fresh run name for a job started from a panel: ``jobs/<model>-<UTC time>``."""
    return f"jobs/{model}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid() % 10000:04d}"


def start_job(
    store: Store,
    notebook: str | Path,
    parameters: Mapping[str, Any],
    *,
    folder: str | Path | None = None,
) -> TrainingJob:
    """Run a curated ``notebook`` with ``parameters`` as ``altakit run`` in a background process.

    The parameters get a fresh ``run_name`` unless they have one. The process starts a new
    session (it outlives the kernel that started it); its output goes to
    ``<home>/runs/jobs/<run>.log``.

    Raises:
        NotFound: No such notebook.

    Example:
        >>> job = start_job(store, "08_train_tabular.ipynb", params)  # doctest: +SKIP
    """
    from altakit import config

    path = Path(notebook)
    if not path.is_absolute():
        path = curated_folder(folder) / path
    if not path.is_file():
        raise NotFound(f"no notebook {str(path)!r}", hint="give the panel the curated notebooks' folder")
    params = dict(parameters)
    params.setdefault("run_name", job_run_name(str(params.get("model_name") or "model")))
    logs = config.project_home().resolve() / "runs" / "jobs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{str(params['run_name']).replace('/', '-')}.log"
    argv = [sys.executable, "-c", "import sys; from altakit.cli import run; sys.argv[0] = 'altakit'; run()",
            "run", str(path), "--store", store.url]  # fmt: skip
    for key, value in params.items():
        argv += ["-p", key, json.dumps(value)]  # JSON is YAML: `altakit run -p` reads it back typed
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=path.parent, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    return TrainingJob(str(params["run_name"]), path, params, proc, log)
