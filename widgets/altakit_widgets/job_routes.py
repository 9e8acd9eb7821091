"""REST routes between altakit runs and Jupyter Scheduler jobs: re-run a run as a job; a job's run.

- ``POST {api}/runs/{name}/{version}/rerun`` ``{"same_data": bool}`` → ``{"job_id", "run": null, "pins"}``:
  a new Jupyter Scheduler job that executes the same notebook with the same parameters; with
  ``same_data`` every read is pinned to the version the run read
  (:func:`altakit.runs.notebook.same_data`), else it reads the latest.
- ``GET {api}/jobs/{job_id}/run`` → ``{"run": "run:NAME@N" | null, "status", "status_message"}``:
  the run record a job wrote (null until it ends) and the job's status.

The job is created through the server's own Jupyter Scheduler (``settings["scheduler"]``),
so it is listed, stoppable and downloadable like any job. The notebook of a run that
came from a job is the scheduler's staged copy of that job's input (what actually ran;
:class:`altakit_widgets.jobs.AltakitScheduler` accepts it as input); the notebook of an
``altakit run`` must lie under the server's root. Catalog reads run on the catalog
service's worker thread, scheduler calls on the event loop (as the scheduler's own
handlers make them). Errors are JSON ``{"message", "hint"}``.

Example:
    $ curl -X POST -H "Authorization: token $T" -d '{"same_data": true}' \\
        http://127.0.0.1:8888/altakit/api/runs/report/3/rerun
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from altakit_widgets.handlers import CatalogHandler

if TYPE_CHECKING:
    from altakit.catalog import Catalog

#: Output formats of a re-run whose original job is gone (or that was an ``altakit run``).
DEFAULT_FORMATS = ["ipynb", "html"]


def rerun_plan(cat: Catalog, name: str, version: int, same_data: bool) -> dict[str, Any]:
    """What re-running ``run:name@version`` needs: its notebook, parameters, job, and the pins.

    Raises:
        NotFound: No such run.
    """
    from altakit.runs.notebook import same_data as pins_of_run

    record = cat.get("run", name, version)
    doc = record.doc
    pins = pins_of_run(cat.store, str(record.ref))[2] if same_data else {}
    return {
        "ref": str(record.ref),
        "notebook": str((doc.get("notebook") or {}).get("path") or ""),
        "parameters": dict(doc.get("parameters") or {}),
        "job": doc.get("job") or None,
        "pins": dict(pins),
    }


def run_of_job(cat: Catalog, notebook: str, job_id: str) -> str | None:
    """The ref of the run record job ``job_id`` (input ``notebook``) wrote, newest first; None if none yet."""
    from altakit.runs.notebook import run_name

    name = run_name(Path(notebook))
    for record in reversed(cat.versions("run", name)):
        if (record.doc.get("job") or {}).get("id") == job_id:
            return str(record.ref)
    return None


class JobRoutesHandler(CatalogHandler):
    """Base: the server's Jupyter Scheduler, and answers whose work spans catalog and scheduler."""

    @property
    def scheduler(self) -> Any:
        from altakit.errors import ServiceUnavailable

        found = self.settings.get("scheduler")
        if found is None:
            raise ServiceUnavailable(
                "Jupyter Scheduler is not running in this server",
                hint="jupyter server extension enable --sys-prefix jupyter_scheduler",
            )
        return found

    def scheduler_job(self, job_id: str) -> Any:
        """The scheduler's job ``job_id`` (``NotFound`` when it has none)."""
        from sqlalchemy.exc import NoResultFound

        from altakit.errors import NotFound

        try:
            return self.scheduler.get_job(job_id, False)
        except NoResultFound:
            raise NotFound(f"no job {job_id!r}", hint="list the jobs in the Notebook Jobs panel") from None

    async def jobs_reply(self, work: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        """:meth:`reply` for work that calls the scheduler: its errors are the client's (400)."""
        from jupyter_scheduler.exceptions import SchedulerError

        from altakit.errors import ConfigError

        async def checked() -> dict[str, Any]:
            try:
                return await work()
            except SchedulerError as exc:
                raise ConfigError(
                    f"Jupyter Scheduler: {exc}", hint="see the job in the Notebook Jobs panel"
                ) from exc

        await self.reply(checked, what="jobs")


class RerunHandler(JobRoutesHandler):
    """``POST {api}/runs/{name}/{version}/rerun``."""

    @web.authenticated
    @authorized
    async def post(self, name: str, version: str) -> None:
        await self.jobs_reply(lambda: self._rerun(name, int(version)))

    async def _rerun(self, name: str, version: int) -> dict[str, Any]:
        from altakit.errors import ConfigError

        same_data = self.body_json().get("same_data", False)
        if not isinstance(same_data, bool):
            raise ConfigError("same_data must be true or false", hint='send {"same_data": true}')
        scheduler = self.scheduler
        plan = await self.service.call(lambda cat: rerun_plan(cat, name, version, same_data))
        job_id = self._create(scheduler, plan)
        return {"job_id": job_id, "run": None, "pins": plan["pins"]}

    def _create(self, scheduler: Any, plan: dict[str, Any]) -> str:
        from jupyter_scheduler.models import CreateJob

        from altakit_widgets.jobs import PINS_PARAMETER, scheduler_parameters

        old = self._old_job(plan["job"])
        fields: dict[str, Any] = {
            "name": f"{plan['ref']} re-run",
            "output_formats": list(DEFAULT_FORMATS),
            "runtime_environment_parameters": {},
        }
        if old is not None:
            fields = {
                "name": old.name,
                "output_formats": list(old.output_formats or DEFAULT_FORMATS),
                "runtime_environment_name": old.runtime_environment_name,
                "runtime_environment_parameters": dict(old.runtime_environment_parameters or {}),
                "compute_type": old.compute_type,
                "job_definition_id": old.job_definition_id,
            }
        else:
            fields["runtime_environment_name"] = self._environment()
        environment = fields["runtime_environment_parameters"]
        environment.pop(PINS_PARAMETER, None)
        if plan["pins"]:
            environment[PINS_PARAMETER] = json.dumps(plan["pins"], sort_keys=True)
        parameters = old.parameters if old is not None and old.parameters is not None else None
        model = CreateJob(
            input_uri=self._input_uri(scheduler, plan),
            parameters=parameters if parameters is not None else scheduler_parameters(plan["parameters"]),
            **{k: v for k, v in fields.items() if v is not None},
        )
        return str(scheduler.create_job(model))

    def _old_job(self, job: Any) -> Any:
        """The scheduler's record of the job the run came from (None: not from a job, or deleted since)."""
        from altakit.errors import NotFound

        if not isinstance(job, dict) or not job.get("id"):
            return None
        try:
            return self.scheduler_job(str(job["id"]))
        except NotFound:
            return None

    def _environment(self) -> str:
        manager = self.settings.get("environments_manager")
        found = manager.list_environments() if manager is not None else []
        return str(found[0].name) if found else "python3"

    def _input_uri(self, scheduler: Any, plan: dict[str, Any]) -> str:
        """The notebook to execute: the run's staged input (a job's), or its notebook under the root."""
        from altakit.errors import NotFound

        path = plan["notebook"]
        root = os.path.realpath(scheduler.root_dir)
        if path and os.path.realpath(path).startswith(root + os.sep) and os.path.isfile(path):
            return os.path.relpath(os.path.realpath(path), root)
        if path and os.path.isabs(path) and scheduler.file_exists(path):
            return str(path)
        raise NotFound(
            f"the notebook of {plan['ref']} is not where this server can run it",
            hint="re-run it where its notebook is: altakit run --same-data " + plan["ref"],
        )


class JobRunHandler(JobRoutesHandler):
    """``GET {api}/jobs/{job_id}/run``."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        async def find() -> dict[str, Any]:
            job = self.scheduler_job(job_id)
            ref = await self.service.call(lambda cat: run_of_job(cat, job.input_filename, job_id))
            return {"run": ref, "status": str(job.status), "status_message": job.status_message}

        await self.jobs_reply(find)


def routes(api: str) -> list[tuple[str, type[CatalogHandler]]]:
    """The job routes under ``api`` (before the catalog's ``runs/{name}`` route, which would take them)."""
    return [
        (url_path_join(api, "runs", "(.+)", "([0-9]+)", "rerun"), RerunHandler),
        (url_path_join(api, "jobs", r"([A-Za-z0-9_-]+)", "run"), JobRunHandler),
    ]
