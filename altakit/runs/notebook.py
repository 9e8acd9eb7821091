"""Batch runs: execute one notebook with parameters and record it in the catalog.

:func:`run_notebook` executes a notebook with papermill on a real kernel, keeps
the executed copy and an HTML copy in a local folder, writes both into the
store (``runs/<name>/<notebook>.ipynb`` / ``.html``, one store version per run)
and registers a run record (:class:`altakit.runs.record.RunDoc`) with the
parameters, status, duration, environment and the store versions of both
copies. ``altakit run`` and the OpenShift CronJob call it;
:mod:`altakit.runs.workflow` shares its execution (:func:`execute`) and the
way a run is kept (:func:`keep_run`).

Secrets never land in a notebook (:mod:`altakit.runs.secrets`): parameters that
look like secrets are refused before anything runs, and the values of
secret-looking environment variables are redacted from the executed notebook
before it is kept anywhere.

Example:
    >>> result = run_notebook("notebooks/01_store_quickstart.ipynb", {"rows": 100})  # doctest: +SKIP
    >>> result.ok, str(result.record.ref)  # doctest: +SKIP
    (True, 'run:01_store_quickstart@1')
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit import config
from altakit.catalog import catalog_of
from altakit.errors import ConfigError, MissingDependency, NotFound
from altakit.runs.record import RunDoc, environment, jsonable, record_run
from altakit.runs.secrets import REDACTED, check_parameters, redact_file, secret_env_values
from altakit.store import open_store

if TYPE_CHECKING:
    from altakit.catalog import Record
    from altakit.store import Store

#: Where ``altakit run`` keeps local copies unless told (``--out``).
RUNS_DIR_ENV = "ALTAKIT_RUNS_DIR"
_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class RunResult:
    """The outcome of :func:`run_notebook`.

    Attributes:
        ok: True when every cell ran.
        executed: Local path of the executed notebook.
        html: Local path of its HTML copy.
        seconds: Wall-clock duration of the execution.
        error: ``Type: message`` of the failure ("" when ``ok``).
        record: The run record (its document is a :class:`~altakit.runs.record.RunDoc`).
    """

    ok: bool
    executed: Path
    html: Path
    seconds: float
    error: str
    record: Record


# ---------------------------------------------------------------- execution
def _papermill() -> Any:
    try:
        import papermill
    except ImportError as exc:
        raise MissingDependency(
            "running notebooks needs papermill", extra="notebooks", hint="pip install 'altakit[notebooks]'"
        ) from exc
    return papermill


def execute(
    src: Path, dst: Path, parameters: Mapping[str, Any], *, kernel: str = "python3", timeout: int = 600
) -> tuple[float, str]:
    """Execute notebook ``src`` into ``dst`` with papermill, in ``src``'s folder.

    Returns:
        ``(seconds, error)``; ``error`` is ``""`` on success, else ``"Type: message"``
        (a failed notebook is reported, not raised; ``dst`` then holds the cells up to the failure).
    """
    papermill = _papermill()
    start = time.perf_counter()
    error = ""
    try:
        papermill.execute_notebook(
            str(src),
            str(dst),
            parameters=dict(parameters),
            kernel_name=kernel,
            cwd=str(src.parent),
            progress_bar=False,
            execution_timeout=timeout,
            **_kernel_manager(),
        )
    except Exception as exc:  # the failure is the result; callers report it
        error = f"{type(exc).__name__}: {exc}".strip()[:2000]
    return round(time.perf_counter() - start, 2), error


def _kernel_manager() -> dict[str, Any]:
    """papermill options that start the kernel on local IPC sockets instead of TCP.

    The kernel runs on this machine for this user only: Unix sockets in the Jupyter runtime folder need no
    TCP port, and ipykernel then has no unencrypted-TCP warning to print for every notebook.
    Windows has no IPC transport: kernels keep TCP there.
    """
    if os.name == "nt":
        return {}
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self) -> str:
            return "ipc"

        @default("ip")
        def _ip_default(self) -> str:
            path = os.path.splitext(self.connection_file)[0] + "-ipc" if self.connection_file else ""
            if path and len(path) < 90:  # a Unix socket path holds ~104 bytes, with "-<port>" after it
                return path
            return os.path.join(tempfile.gettempdir(), f"altakit-kernel-{os.getpid()}-{id(self):x}-ipc")

    return {"kernel_manager_class": IPCKernelManager}


def export_html(executed: Path, page: Path) -> Path | None:
    """Write the HTML copy of the executed notebook; ``None`` if there is nothing to export."""
    if not executed.exists():
        return None
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(executed))
    page.write_text(body, encoding="utf-8")
    return page


@contextlib.contextmanager
def _kernel_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for kernels started inside the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_name(notebook: Path) -> str:
    """The catalog name of runs of ``notebook``: its file stem, made a valid record name."""
    name = _NAME_RE.sub("-", notebook.stem).strip("-._")
    return name or "notebook"


def keep_run(
    store: Store,
    src: Path,
    parameters: Mapping[str, Any],
    kernel: str,
    started: datetime,
    seconds: float,
    error: str,
    executed: Path,
    page: Path,
) -> Record:
    """Keep one executed notebook: redact it, export HTML, store both copies, register the run record.

    The one path by which ``altakit run`` and the workflow keep a run. Secret
    environment values are redacted from the executed notebook (before its HTML
    copy is made) and from ``error``; both copies go into the store as
    ``runs/<name>/<notebook>.ipynb`` / ``.html``; the run record
    (:class:`~altakit.runs.record.RunDoc`) names them, with the local copies.

    Returns:
        The run record (``status`` ``finished``, or ``failed`` when ``error`` is not empty).

    Example:
        >>> rec = keep_run(store, src, {"rows": 5}, "python3", started, 1.5, "", out, page)  # doctest: +SKIP
    """
    redacted = redact_file(executed, secret_env_values()) if executed.exists() else []
    html_error = ""
    try:
        export_html(executed, page)
    except Exception as exc:  # the executed notebook is the run's result; a missing HTML copy is noted
        html_error = f"{type(exc).__name__}: {exc}".strip()[:500]
    for secret in secret_env_values().values():
        error = error.replace(secret, REDACTED)
    name = run_name(src)
    stored: dict[str, dict[str, Any]] = {}
    for label, path, suffix in (("executed", executed, ".ipynb"), ("html", page, ".html")):
        if path.exists():
            version = store.put(f"runs/{name}/{src.stem}{suffix}", path)
            stored[label] = {"key": version.key, "version": version.id, "store": store.url}
    given: dict[str, Any] = jsonable(dict(parameters))
    run = RunDoc(
        status="failed" if error else "finished",
        parameters=given,
        started=started.isoformat(),
        environment=environment(kernel),
        notebook={"path": str(src), "parameters": given},
        seconds=seconds,
        error=error,
        executed=stored.get("executed"),
        html=stored.get("html"),
        local={"executed": str(executed), "html": str(page)},
        redacted=redacted,
        html_error=html_error,
    )
    with catalog_of(store):  # closes the index connections this command opened
        return record_run(store, name, run)


def run_notebook(
    notebook: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    store: Store | str | None = None,
    out: str | Path | None = None,
    kernel: str = "python3",
    timeout: int = 600,
) -> RunResult:
    """Execute ``notebook`` with ``parameters`` and record the run in the store's catalog.

    Args:
        notebook: The ``.ipynb`` to execute (it runs in its own folder).
        parameters: Papermill parameters; secret-looking ones are refused.
        store: A store or store URL (default: ``$ALTAKIT_STORE`` or the project's store). A URL is
            also given to the kernel as ``$ALTAKIT_STORE``, so the notebook's default store is the same.
        out: Folder for the local copies (default ``$ALTAKIT_RUNS_DIR`` or ``<home>/runs``).
        kernel: Kernel name.
        timeout: Seconds one cell may run.

    Returns:
        The :class:`RunResult`; a failed notebook gives ``ok=False`` and a record with
        ``status: "failed"`` (it is not raised); one that ran to the end ``status: "finished"``.

    Raises:
        ConfigError: A parameter looks like a secret (nothing runs), or the notebook is not ``.ipynb``.
        NotFound: No such notebook.

    Example:
        >>> r = run_notebook("report.ipynb", {"day": "2026-01-02"}, store="s3://team/x")  # doctest: +SKIP
    """
    params = check_parameters(parameters or {})
    src = Path(notebook).expanduser().resolve()
    if not src.is_file():
        raise NotFound(f"no such notebook {str(notebook)!r}", path=str(notebook), hint="check the path")
    if src.suffix != ".ipynb":
        raise ConfigError(f"{src.name} is not a notebook (.ipynb)", path=str(src))
    _papermill()
    kernel_env = {config.HOME_ENV: os.environ.get(config.HOME_ENV) or str(config.project_home().resolve())}
    if isinstance(store, str):
        kernel_env[config.STORE_ENV] = store
    target = open_store(store or None)
    started = datetime.now(UTC)
    folder = Path(out or os.environ.get(RUNS_DIR_ENV) or config.project_home() / "runs").expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{src.stem}-{started:%Y%m%dT%H%M%S}{started.microsecond:06d}Z"
    executed, page = folder / f"{stem}.ipynb", folder / f"{stem}.html"
    with _kernel_env(kernel_env):
        seconds, error = execute(src, executed, params, kernel=kernel, timeout=timeout)
    record = keep_run(target, src, params, kernel, started, seconds, error, executed, page)
    error = str(record.doc["error"])
    return RunResult(not error, executed, page, seconds, error, record)
