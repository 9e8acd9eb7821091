"""Jupyter Scheduler runs altakit notebooks: the execution manager and the scheduler altakit configures.

Jupyter Scheduler ("Create Notebook Job", job definitions with cron schedules)
starts each job in a process of its own and hands it to the configured
*execution manager*. :class:`AltakitExecutionManager` executes the staged input
notebook through :func:`altakit.runs.notebook.run_notebook` — the one execution
path ``altakit run`` and the workflow share — so a scheduled notebook is a run
like any other:

- the job's parameters are injected into the ``parameters`` cell by papermill, each
  value read as YAML like ``altakit run -p`` reads it (``500`` is a number, ``abc`` a
  string, ``"'5'"`` the string ``5``); a secret-looking parameter is refused: the job
  fails with the refusal's message and hint as its status message, nothing runs;
- secret environment values are redacted from everything kept: the run record,
  the notebook and HTML copies in the store, and the job's own output files, which
  are written from those redacted copies;
- the run record (``run:<notebook stem>@N``) names the job (``job``: ``{"id",
  "definition"}``); reads are pinned to ``runtime_environment_parameters
  ["altakit_pins"]`` (a JSON object such as ``{"table:sensors": 4}``; none: latest),
  ``["altakit_store"]`` names another store than ``$ALTAKIT_STORE``.

:class:`AltakitScheduler` is Jupyter Scheduler's own ``Scheduler`` with two
changes: a job whose process died without reporting (SIGKILL, out of memory, a
server restart) is shown ``FAILED`` instead of ``IN_PROGRESS`` forever, and its
run is recorded as failed; and a notebook the scheduler staged itself (an earlier
job's input) may be the input of a new job — that is how "re-run" re-executes
exactly the notebook that ran (:mod:`altakit_widgets.job_routes`).

Both are configured by Jupyter Scheduler's own config file, which this package installs
(``etc/jupyter/jupyter_jupyter_scheduler_config.json``; ``make env`` copies it into the venv for the
editable install; Jupyter reads ``jupyter_server_config.d`` only to enable extensions)::

    {"SchedulerApp": {"scheduler_class": "altakit_widgets.jobs.AltakitScheduler"},
     "Scheduler": {"execution_manager_class": "altakit_widgets.jobs.AltakitExecutionManager"}}

Example:
    >>> job_parameters({"rows": "500", "day": "2026-01-02", "name": "line4", "quoted": "'5'"})
    {'rows': 500, 'day': '2026-01-02', 'name': 'line4', 'quoted': '5'}
    >>> job_pins({"altakit_pins": '{"table:sensors": 4}'})
    {'table:sensors': 4}
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jupyter_scheduler.executors import ExecutionManager
from jupyter_scheduler.models import DescribeJob, JobFeature, Status
from jupyter_scheduler.orm import Job
from jupyter_scheduler.scheduler import Scheduler

#: ``runtime_environment_parameters`` key: JSON object of pinned reads (``{"table:sensors": 4}``).
PINS_PARAMETER = "altakit_pins"
#: ``runtime_environment_parameters`` key: the store URL the job runs against (default ``$ALTAKIT_STORE``).
STORE_PARAMETER = "altakit_store"
#: ``runtime_environment_parameters`` key: seconds one cell may run (default: as ``altakit run``, 600).
TIMEOUT_PARAMETER = "altakit_cell_timeout"
#: The status message of a job whose process ended without reporting.
LOST = "the job's process ended without reporting a result (killed, out of memory, or the server stopped)"
#: Longest status message kept (the scheduler's column holds 1024 characters).
MAX_MESSAGE = 1000
_log = logging.getLogger(__name__)


# ------------------------------------------------------------------ job fields
def job_parameters(given: Mapping[str, str] | None) -> dict[str, Any]:
    """The job's parameters (strings, as Jupyter Scheduler keeps them) as papermill parameters.

    Each value is read as YAML, as ``altakit run -p`` reads values (numbers, booleans, lists, quoted
    strings); a value YAML cannot read, or one that reads as a date, stays the string it was.

    Example:
        >>> job_parameters({"lr": "0.1", "ok": "true", "text": "a: b: c"})
        {'lr': 0.1, 'ok': True, 'text': 'a: b: c'}
    """
    import yaml

    out: dict[str, Any] = {}
    for name, raw in (given or {}).items():
        try:
            value = yaml.safe_load(raw) if isinstance(raw, str) else raw
        except yaml.YAMLError:
            value = raw
        out[name] = raw if isinstance(value, date | datetime) else value
    return out


def scheduler_parameters(parameters: Mapping[str, Any]) -> dict[str, str]:
    """``parameters`` as the strings Jupyter Scheduler keeps, read back unchanged by :func:`job_parameters`.

    Example:
        >>> scheduler_parameters({"rows": 500, "name": "line4", "code": "5", "day": "2026-01-02"})
        {'rows': '500', 'name': 'line4', 'code': '"5"', 'day': '2026-01-02'}
        >>> job_parameters(scheduler_parameters({"code": "5", "xs": [1, 2]}))
        {'code': '5', 'xs': [1, 2]}
    """
    out: dict[str, str] = {}
    for name, value in parameters.items():
        text = value if isinstance(value, str) else json.dumps(value)
        if job_parameters({name: text})[name] != value:
            text = json.dumps(value)
        out[name] = text
    return out


def job_pins(environment_parameters: Mapping[str, Any] | None) -> dict[str, int]:
    """The pins of a job: ``runtime_environment_parameters["altakit_pins"]`` (``{}``: read the latest).

    Raises:
        ConfigError: The value is not a JSON object of ``kind:name`` → version number.

    Example:
        >>> job_pins({}), job_pins({"altakit_pins": ""})
        ({}, {})
    """
    from altakit.errors import ConfigError
    from altakit.runs.reads import check_pins

    raw = (environment_parameters or {}).get(PINS_PARAMETER)
    if raw is None or raw == "":
        return {}
    try:
        pins = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        pins = None
    if not isinstance(pins, dict):
        raise ConfigError(f"{PINS_PARAMETER} is not a JSON object of pins", hint='e.g. {"table:sensors": 4}')
    return check_pins(pins)


def _kernel_of(notebook: Path) -> str:
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    return str(nb.metadata.get("kernelspec", {}).get("name") or "python3")


def _failure_text(exc: BaseException) -> str:
    """The status message of a failed job: message and hint of an altakit error, secrets redacted."""
    from altakit.errors import AltakitError
    from altakit.runs.secrets import Redactor, secret_env_values

    text = str(exc) if isinstance(exc, AltakitError) else f"{type(exc).__name__}: {exc}"
    return Redactor(secret_env_values()).text(text.strip())[:MAX_MESSAGE]


class JobFailed(Exception):
    """The notebook of a job failed (its error is the job's status message, already redacted)."""


# ------------------------------------------------------------------ execution
class AltakitExecutionManager(ExecutionManager):  # type: ignore[misc]
    """Executes a Jupyter Scheduler job through altakit's run path (see the module docstring).

    Jupyter Scheduler builds one in its own process per job (``job_id``, ``root_dir``, ``db_url``,
    ``staging_paths``) and calls :meth:`process`, which calls :meth:`execute`.

    Example:
        >>> AltakitExecutionManager.supported_features(AltakitExecutionManager)[JobFeature.stop_job]
        True
    """

    def execute(self) -> None:
        """Run the staged input notebook with the job's parameters; write the requested output formats.

        Raises:
            AltakitError: Refused before anything ran (a secret-looking parameter, bad pins).
            JobFailed: The notebook failed (its outputs are written up to the failing cell).
        """
        from altakit.runs.notebook import run_notebook

        job = self.model
        environment = dict(job.runtime_environment_parameters or {})
        src = Path(self.staging_paths["input"])
        timeout = environment.get(TIMEOUT_PARAMETER)
        result = run_notebook(
            src,
            job_parameters(job.parameters),
            store=str(environment.get(STORE_PARAMETER) or "") or None,
            kernel=_kernel_of(src),
            timeout=int(timeout) if timeout else 600,
            pins=job_pins(environment),
            job={"id": job.job_id, "definition": job.job_definition_id},
        )
        self.write_outputs(job.output_formats or [], result.executed, result.html)
        if not result.ok:
            raise JobFailed(result.error or "the notebook failed")

    def write_outputs(self, formats: list[str], executed: Path, page: Path) -> None:
        """Write each requested output format into the job's staging paths, from the redacted copies.

        ``ipynb`` and ``html`` are the copies the run kept; any other format is exported with
        nbconvert from the redacted notebook and redacted again.
        """
        import fsspec

        from altakit.runs.secrets import Redactor, secret_env_values

        for fmt in formats:
            target = self.staging_paths.get(fmt)
            if not target or not executed.exists():
                continue
            if fmt in ("ipynb", "html") and (executed if fmt == "ipynb" else page).exists():
                with (
                    open(executed if fmt == "ipynb" else page, "rb") as src,
                    fsspec.open(target, "wb") as dst,
                ):
                    shutil.copyfileobj(src, dst)
                continue
            import nbconvert

            body, _ = nbconvert.get_exporter(fmt)().from_filename(str(executed))
            text = Redactor(secret_env_values()).text(body) if isinstance(body, str) else body
            with fsspec.open(target, "w" if isinstance(text, str) else "wb") as dst:
                dst.write(text)

    def on_failure(self, e: Exception) -> None:
        """Mark the job failed with the error's message and hint (redacted); no traceback in the log."""
        message = _failure_text(e)
        with self.db_session() as session:
            session.query(Job).filter(Job.job_id == self.job_id).update(
                {"status": Status.FAILED, "status_message": message}
            )
            session.commit()
        _log.warning("altakit job %s failed: %s", self.job_id, message)

    # the scheduler calls supported_features and validate on the class, with the class as first argument
    def supported_features(cls) -> dict[JobFeature, bool]:
        """What the job dialog offers: as Jupyter Scheduler's default execution manager."""
        return {
            JobFeature.job_name: True,
            JobFeature.output_formats: True,
            JobFeature.job_definition: False,
            JobFeature.idempotency_token: False,
            JobFeature.tags: False,
            JobFeature.email_notifications: False,
            JobFeature.timeout_seconds: False,
            JobFeature.retry_on_timeout: False,
            JobFeature.max_retries: False,
            JobFeature.min_retry_interval_millis: False,
            JobFeature.output_filename_template: False,
            JobFeature.stop_job: True,
            JobFeature.delete_job: True,
        }

    def validate(cls, input_path: str) -> bool:
        """Whether ``input_path`` is a notebook that names its kernel (as the default manager checks)."""
        try:
            import nbformat

            nb = nbformat.read(input_path, as_version=4)
            return bool(nb.metadata.kernelspec["name"])
        except Exception:
            return False


# ------------------------------------------------------------------ scheduler
def _process_gone(pid: int | None, started_ms: int | None) -> bool:
    """Whether the job process ``pid`` (its job started at ``started_ms``) is gone: no such process, a
    zombie, or a newer process that reuses the pid."""
    import multiprocessing

    import psutil

    multiprocessing.active_children()  # reaps finished job processes (zombies) the server started
    if not pid:
        return True
    try:
        proc = psutil.Process(pid)
        if proc.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return True
        return started_ms is not None and proc.create_time() * 1000 > started_ms + 1000
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # cannot be asked: assume it runs
        return False


def record_lost_run(job: Any, notebook: str, pid: int | None = None) -> str:
    """Record the run of ``job`` (a ``DescribeJob`` whose process ``pid`` died) as failed, with :data:`LOST`
    as its error and no notebook copies; returns its ref.

    The run is recorded where the job's run would have been: ``run:<notebook stem>`` in the job's store.
    """
    from datetime import UTC

    from altakit.runs.notebook import run_name
    from altakit.runs.record import RunDoc, environment, jsonable, record_run
    from altakit.runs.secrets import Redactor, secret_env_values
    from altakit.store import open_store

    settings = dict(job.runtime_environment_parameters or {})
    started = datetime.fromtimestamp(job.start_time / 1000, UTC) if job.start_time else datetime.now(UTC)
    parameters = jsonable(job_parameters(job.parameters))
    run = RunDoc(
        status="failed",
        parameters=parameters,
        started=started.isoformat(),
        environment={**environment(), "pid": pid, "kernel": None},
        notebook={"path": notebook, "parameters": parameters},
        seconds=round(datetime.now(UTC).timestamp() - started.timestamp(), 2),
        error=LOST,
        pins=job_pins(settings),
        job={"id": job.job_id, "definition": job.job_definition_id},
    )
    redactor = Redactor(secret_env_values())
    run = RunDoc.from_doc({**redactor.value(run.to_doc()), "redacted": sorted(redactor.found)})
    store = open_store(str(settings.get(STORE_PARAMETER) or "") or None)
    return str(record_run(store, run_name(Path(job.input_filename)), run).ref)


class AltakitScheduler(Scheduler):  # type: ignore[misc]
    """Jupyter Scheduler's ``Scheduler``: lost jobs shown failed, staged notebooks accepted as input.

    Example:
        >>> issubclass(AltakitScheduler, Scheduler)
        True
    """

    def fail_lost_jobs(self) -> list[str]:
        """Mark ``FAILED`` every running job whose process is gone (see :func:`_process_gone`), and
        record its run as failed in the catalog (:func:`record_lost_run`); a stopping one is ``STOPPED``.

        Each job is moved by a conditional update, so two servers sharing a database record it once.

        Returns:
            The ids of the jobs marked failed.
        """
        lost = []
        with self.db_session() as session:
            running = session.query(Job).filter(Job.status.in_([Status.IN_PROGRESS, Status.STOPPING])).all()
            for job in running:
                if not _process_gone(job.pid, job.start_time):
                    continue
                stopping = job.status == Status.STOPPING
                moved = (
                    session.query(Job)
                    .filter(Job.job_id == job.job_id, Job.status == job.status)
                    .update({"status": Status.STOPPED if stopping else Status.FAILED,
                             "status_message": None if stopping else LOST}, synchronize_session=False)
                )  # fmt: skip
                if moved and not stopping:
                    lost.append((DescribeJob.from_orm(job), job.pid))
            session.commit()
        for job, pid in lost:
            self.log.warning("altakit: job %s: %s", job.job_id, LOST)
            try:
                record_lost_run(job, self.get_staging_paths(job)["input"], pid)
            except Exception as exc:  # the scheduler's API must answer; the admin sees why
                self.log.warning("altakit: job %s: its run could not be recorded: %s", job.job_id, exc)
        return [job.job_id for job, _ in lost]

    def get_job(self, job_id: str, job_files: bool | None = True) -> Any:
        self.fail_lost_jobs()
        return super().get_job(job_id, job_files)

    def list_jobs(self, query: Any) -> Any:
        self.fail_lost_jobs()
        return super().list_jobs(query)

    def count_jobs(self, query: Any) -> int:
        self.fail_lost_jobs()
        return int(super().count_jobs(query))

    def staged_input(self, job_id: str) -> str:
        """The path of the input notebook the scheduler staged for job ``job_id`` (what it executed)."""
        return str(self.get_staging_paths(super().get_job(job_id, False))["input"])

    def file_exists(self, path: str) -> bool:
        """``path`` under the server's root, or a notebook this scheduler staged (an earlier job's input)."""
        if super().file_exists(path):
            return True
        if not os.path.isabs(path):
            return False
        staging = os.path.realpath(self.staging_path) + os.sep
        real = os.path.realpath(path)
        return real.startswith(staging) and real.endswith(".ipynb") and os.path.isfile(real)
