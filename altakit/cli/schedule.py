"""``altakit schedule export``: a Jupyter Scheduler job definition as an OpenShift/Kubernetes CronJob.

Jupyter Scheduler fires schedules only while the user's Jupyter server runs; a hub
culls idle servers, and the schedule stops with them. The exported CronJob runs
the same notebook with the same parameters on the same cron schedule and time
zone in the altakit image, without a Jupyter server: its container runs
``start-altakit run NOTEBOOK -p KEY VALUE … --store URL`` (``altakit run``, the
execution path the scheduler's jobs share), with the store's credentials taken
from a Secret (``envFrom``), never written into the manifest.

The notebook is the one the scheduler runs (its staged copy of the definition's
input), shipped in a ConfigMap beside the CronJob and mounted read-only at
:data:`MOUNT`; ``--notebook PATH`` names a notebook inside the image (or a volume
you mount) instead, and no ConfigMap is written.

Example:
    $ altakit schedule export 3f2c…-definition-id --store s3://team/store --secret altakit-s3 > cron.yaml
    $ oc apply -f cron.yaml
"""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Jupyter Scheduler job definitions as OpenShift/Kubernetes CronJobs.",
                  no_args_is_help=True)  # fmt: skip

#: Where the ConfigMap's notebook is mounted in the container.
MOUNT = "/opt/altakit/job"
#: The image's registry path on OpenShift (``--image`` overrides it).
DEFAULT_IMAGE = "image-registry.openshift-image-registry.svc:5000/altakit/altakit:{version}"
#: A ConfigMap holds at most 1 MiB; the notebook must leave room for the rest.
MAX_NOTEBOOK = 900_000
_FIELDS = ("job_definition_id", "name", "input_filename", "parameters", "schedule", "timezone",
           "runtime_environment_parameters", "active")  # fmt: skip


def scheduler_db_url() -> str:
    """Jupyter Scheduler's default database (``sqlite:///<jupyter data dir>/scheduler.sqlite``)."""
    from jupyter_core.paths import jupyter_data_dir

    return f"sqlite:///{jupyter_data_dir()}/scheduler.sqlite"


def staging_folder() -> Path:
    """Jupyter Scheduler's default staging area (``<jupyter data dir>/scheduler_staging_area``)."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "scheduler_staging_area"


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value else value


def read_definition(definition: str, db_url: str | None = None) -> dict[str, Any]:
    """The job definition ``definition``: a JSON file (as ``GET /scheduler/job_definitions/{id}`` returns
    it), or an id looked up in the scheduler's database.

    Raises:
        NotFound: No such file or definition.
        ConfigError: The file is no job definition, or the definition has no schedule.
    """
    from altakit.errors import ConfigError, NotFound

    path = Path(definition).expanduser()
    if definition.endswith(".json") or path.is_file():
        if not path.is_file():
            raise NotFound(f"no such file {definition!r}", hint="give a definition id or a JSON file")
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{path.name} is not JSON: {exc}") from exc
        if not isinstance(found, dict) or "input_filename" not in found:
            raise ConfigError(
                f"{path.name} is not a job definition", hint="save GET /scheduler/job_definitions/ID"
            )
    else:
        found = _from_db(definition, db_url or scheduler_db_url())
    found = {k: _json(found.get(k)) if k in ("parameters", "runtime_environment_parameters") else found.get(k)
             for k in _FIELDS}  # fmt: skip
    if not found.get("schedule"):
        raise ConfigError(
            f"job definition {found.get('name')!r} has no schedule", hint="give it a cron schedule first"
        )
    return found


def _from_db(definition: str, db_url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    from altakit.errors import NotFound, ServiceUnavailable

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            row = (
                conn.execute(
                    text(f"SELECT {', '.join(_FIELDS)} FROM job_definitions WHERE job_definition_id = :id"),
                    {"id": definition},
                )
                .mappings()
                .first()
            )
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(
            "cannot read Jupyter Scheduler's database", hint="pass --db URL, or a JSON file of the definition"
        ) from exc
    finally:
        engine.dispose()
    if row is None:
        raise NotFound(f"no job definition {definition!r}", hint="list them: GET /scheduler/job_definitions")
    return dict(row)


def cli_value(raw: str) -> str:
    """A job parameter as ``altakit run -p`` must be given it to read what the scheduler's job reads.

    Jupyter Scheduler keeps parameters as strings; altakit's execution manager reads each as YAML but
    keeps a date, or text YAML cannot read, as the string it was. ``altakit run -p`` reads values as
    YAML too, so those are quoted.

    Example:
        >>> cli_value("500"), cli_value("line4"), cli_value("2026-01-02"), cli_value("a: b: c")
        ('500', 'line4', '"2026-01-02"', '"a: b: c"')
    """
    import yaml

    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return json.dumps(raw)
    return json.dumps(raw) if isinstance(value, date | datetime) else raw


def resource_name(text: str) -> str:
    """A Kubernetes name (DNS-1123 label, ≤ 52 characters, as a CronJob's name must be) from ``text``.

    Example:
        >>> resource_name("Nightly report (line 4)")
        'nightly-report-line-4'
    """
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:52].strip("-")
    return name or "altakit-job"


def cronjob(
    found: dict[str, Any],
    *,
    image: str,
    store: str,
    secret: str,
    notebook: str | None = None,
    notebook_text: str | None = None,
) -> list[dict[str, Any]]:
    """The manifests equivalent to job definition ``found``: a ConfigMap of the notebook (unless
    ``notebook`` names one in the image) and the CronJob.

    Raises:
        ConfigError: The definition pins its reads (``altakit run`` takes no pins), or the notebook
            is too large for a ConfigMap.
    """
    from altakit.errors import ConfigError
    from altakit.runs.secrets import check_parameters

    environment = found.get("runtime_environment_parameters") or {}
    if environment.get("altakit_pins"):
        raise ConfigError(
            "the job definition pins its reads; a CronJob re-runs on the latest data",
            hint="remove the pins from the definition, or export a copy without them",
        )
    parameters = {str(k): str(v) for k, v in (found.get("parameters") or {}).items()}
    check_parameters(parameters)  # a secret never lands in a manifest either
    name = resource_name(str(found.get("name") or found["input_filename"]))
    labels = {"app.kubernetes.io/name": "altakit", "app.kubernetes.io/component": "scheduled-notebook",
              "app.kubernetes.io/instance": name}  # fmt: skip
    docs: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    if notebook is None:
        if notebook_text is None or len(notebook_text.encode()) > MAX_NOTEBOOK:
            raise ConfigError(
                "the notebook is missing or too large for a ConfigMap",
                hint="pass --notebook PATH: the notebook's path inside the image or a mounted volume",
            )
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": f"{name}-notebook", "labels": labels},
                     "data": {found["input_filename"]: notebook_text}})  # fmt: skip
        mounts.append({"name": "notebook", "mountPath": MOUNT, "readOnly": True})
        volumes.append({"name": "notebook", "configMap": {"name": f"{name}-notebook"}})
        notebook = f"{MOUNT}/{found['input_filename']}"
    args = ["start-altakit", "run", notebook]
    for key, value in parameters.items():
        args += ["-p", key, cli_value(value)]
    args += ["--store", store]
    container: dict[str, Any] = {
        "name": "run",
        "image": image,
        "args": args,  # args, not command: the image's ENTRYPOINT (tini) stays in front
        "envFrom": [{"secretRef": {"name": secret}}],
        "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    if mounts:
        container["volumeMounts"] = mounts
    restricted = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    pod: dict[str, Any] = {"restartPolicy": "Never", "containers": [container], "securityContext": restricted}
    if volumes:
        pod["volumes"] = volumes
    docs.append({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "labels": labels,
                     "annotations": {"altakit.io/job-definition": str(found.get("job_definition_id") or "")}},
        "spec": {
            "schedule": found["schedule"],
            "timeZone": found.get("timezone") or "Etc/UTC",
            "suspend": found.get("active") is False,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {"backoffLimit": 1, "template": {"metadata": {"labels": labels}, "spec": pod}}
            },
        },
    })  # fmt: skip
    return docs


@app.command("export")
def export(
    definition: Annotated[
        str, typer.Argument(help="A job definition id (from the scheduler's database) or a JSON file.")
    ],
    store: Annotated[
        str | None, typer.Option(help="Store URL the job runs against (default: $ALTAKIT_STORE).")
    ] = None,
    secret: Annotated[
        str, typer.Option(help="Secret holding the store's credentials (envFrom).")
    ] = "altakit-s3",
    image: Annotated[
        str | None, typer.Option(help="The altakit image (default: the OpenShift registry's).")
    ] = None,
    notebook: Annotated[
        str | None, typer.Option(help="The notebook's path in the image; default: a ConfigMap.")
    ] = None,
    db: Annotated[str | None, typer.Option(help="Jupyter Scheduler's database URL.")] = None,
    staging: Annotated[Path | None, typer.Option(help="Jupyter Scheduler's staging folder.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the YAML here (default: stdout).")
    ] = None,
) -> None:
    """Write DEFINITION as an OpenShift/Kubernetes CronJob (and a ConfigMap of its notebook), as YAML.

    The CronJob runs the notebook with the definition's parameters on its cron schedule and time
    zone, in the altakit image, with the store's credentials from a Secret (envFrom).
    """
    import yaml

    from altakit import __version__, config
    from altakit.store.credentials import check_store_url

    found = read_definition(definition, db)
    target = store or os.environ.get(config.STORE_ENV) or config.default_store_url()
    check_store_url(
        target, target.split("://", 1)[0] if "://" in target else "file"
    )  # credentials: the Secret
    text = None
    if notebook is None:
        path = Path(definition).with_name(found["input_filename"]) if Path(definition).is_file() else None
        folder = staging or staging_folder()
        staged = folder / str(found.get("job_definition_id") or "") / found["input_filename"]
        source = staged if staged.is_file() else path
        text = source.read_text(encoding="utf-8") if source is not None and source.is_file() else None
    docs = cronjob(found, image=image or DEFAULT_IMAGE.format(version=__version__), store=target,
                   secret=secret, notebook=notebook, notebook_text=text)  # fmt: skip
    rendered = yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)
    if out is None:
        typer.echo(rendered, nl=False)
    else:
        out.write_text(rendered, encoding="utf-8")
        typer.echo(f"wrote {out} ({', '.join(d['kind'] for d in docs)})", err=True)
