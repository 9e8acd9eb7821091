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
before it is kept anywhere. While the kernel runs, papermill saves the partly
executed notebook after every cell: it saves it into a private folder
(``$TMPDIR/altakit-run-<pid>@<host>-…``, mode 0700, the file 0600), and only
the redacted notebook is ever written to the runs folder. A run killed
part-way leaves its private folder behind, readable by its owner only; the
next run on the same machine removes it once its process is gone
(:func:`sweep_private`).

Example:
    >>> result = run_notebook("notebooks/01_store_quickstart.ipynb", {"rows": 100})  # doctest: +SKIP
    >>> result.ok, str(result.record.ref)  # doctest: +SKIP
    (True, 'run:01_store_quickstart@1')
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit import config, faults, procs
from altakit.catalog import catalog_of
from altakit.errors import ConfigError, MissingDependency, NotFound
from altakit.runs import export, reads
from altakit.runs.kernels import KernelRun
from altakit.runs.record import RunDoc, environment, jsonable, read_run, record_run
from altakit.runs.secrets import (
    Redactor,
    check_parameters,
    redact_notebook,
    redact_notebook_text,
    secret_env_values,
)
from altakit.store import open_store

if TYPE_CHECKING:
    from altakit.catalog import Record
    from altakit.store import Store

#: Where ``altakit run`` keeps local copies unless told (``--out``).
RUNS_DIR_ENV = "ALTAKIT_RUNS_DIR"
_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")
#: Name prefix of the private folders notebooks execute in (in the OS temp folder).
PRIVATE_PREFIX = "altakit-run-"
_PRIVATE_RE = re.compile(re.escape(PRIVATE_PREFIX) + r"(?P<pid>\d+)@(?P<host>[A-Za-z0-9.-]*)-")
#: A private folder of another machine (a shared temp folder) is removed when untouched this long (seconds).
STALE_AFTER = 24 * 3600
#: ``run.executed``: papermill is done, the unredacted notebook is only in the private folder.
FAULT_POINTS = ("run.executed",)


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


def _require_papermill() -> None:
    """Raise :class:`MissingDependency` unless papermill is installed (without importing it)."""
    import importlib.util

    if importlib.util.find_spec("papermill") is None:
        _papermill()


def execute(
    src: Path,
    dst: Path,
    parameters: Mapping[str, Any],
    *,
    kernel: str = "python3",
    timeout: int = 600,
    redactor: Redactor | None = None,
    pins: Mapping[str, int] | None = None,
) -> tuple[float, str, tuple[list[str], list[str]]]:
    """Execute notebook ``src`` with papermill, in ``src``'s folder; write it, redacted, to ``dst``.

    :func:`executing` without anything to do while the kernel shuts down: when this returns, the
    kernel has ended.

    Returns:
        ``(seconds, error, read)`` (see :func:`executing`).
    """
    with executing(
        src, dst, parameters, kernel=kernel, timeout=timeout, redactor=redactor, pins=pins
    ) as outcome:
        return outcome


@contextlib.contextmanager
def executing(
    src: Path,
    dst: Path,
    parameters: Mapping[str, Any],
    *,
    kernel: str = "python3",
    timeout: int = 600,
    redactor: Redactor | None = None,
    pins: Mapping[str, int] | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[float, str, tuple[list[str], list[str]]]]:
    """Execute notebook ``src`` with papermill, in ``src``'s folder; write it, redacted, to ``dst``;
    the block runs while the kernel shuts down.

    Papermill saves the notebook as it runs into a private file (:func:`private_folder`), never
    into ``dst``'s folder; when it is done — finished or failed — the notebook is redacted with
    ``redactor`` (default: the secret environment values, :func:`secret_env_values`) and written
    to ``dst`` in one step, and the private folder is removed when the block ends. A run killed
    before that leaves only its private folder, which a later run removes (:func:`sweep_private`).

    The kernel notes the table, dataset and model versions it reads in the private folder, and
    reads the ``pins`` (:mod:`altakit.runs.reads`); ``env`` is set in its environment besides.

    The kernel is started first, so it boots while papermill is imported and reads the notebook;
    once the last cell ran it is asked to shut down, and the block (keeping the run: HTML, store,
    catalog) runs while it does; leaving the block waits for it to end (killed if it does not).

    Yields:
        ``(seconds, error, read)``; ``error`` is ``""`` on success, else ``"Type: message"``, redacted
        (a failed notebook is reported, not raised; ``dst`` then holds the cells up to the failure);
        ``read`` is ``(reads, unversioned)`` (:func:`altakit.runs.reads.collect`).

    Example:
        >>> with executing(src, out, {"rows": 5}) as (seconds, error, read):  # doctest: +SKIP
        ...     keep_run(store, src, {"rows": 5}, "python3", started, seconds, error, out, page)
    """
    _require_papermill()
    redactor = redactor if redactor is not None else Redactor(secret_env_values())
    dst.unlink(missing_ok=True)  # what is there is an earlier run's, not this one's
    kernel_env = {**(env or {}), reads.PINS_ENV: json.dumps(reads.check_pins(pins or {}))}
    private = private_folder()
    kernel_run = KernelRun(kernel, src.parent)
    try:
        raw = private / "executed.ipynb"
        os.close(os.open(raw, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # papermill keeps the mode
        kernel_env[reads.READS_ENV] = str(private / "reads.jsonl")
        start = time.perf_counter()
        error = ""
        try:
            with _kernel_env(kernel_env):
                kernel_run.start()  # it boots while papermill is imported and the notebook read
            papermill = _papermill()
            sweep_private()
            papermill.execute_notebook(
                str(src),
                str(raw),
                parameters=dict(parameters),
                kernel_name=kernel,
                cwd=str(src.parent),
                progress_bar=False,
                execution_timeout=timeout,
                km=kernel_run.manager,
                on_notebook_start=_warm_html,  # the kernel is ready: load the HTML exporter meanwhile
            )
        except MissingDependency:
            raise
        except Exception as exc:  # the failure is the result; callers report it
            error = redactor.text(f"{type(exc).__name__}: {exc}".strip()[:2000])
        seconds = round(time.perf_counter() - start, 2)
        kernel_run.stop()  # it ends while the run is kept
        faults.point("run.executed")
        if raw.stat().st_size:  # papermill wrote the notebook (not so if it failed before)
            text = redact_notebook_text(
                raw.read_text(encoding="utf-8"), redactor, metadata={"output_path": str(dst)}
            )
            _write_atomically(dst, text)
        yield seconds, error, reads.collect(private / "reads.jsonl")
    finally:
        try:
            kernel_run.wait()
        finally:  # the private folder holds the unredacted notebook: it goes whatever the wait did
            shutil.rmtree(private, ignore_errors=True)


def _warm_html(**_: Any) -> None:
    """nbclient's ``on_notebook_start`` hook: load the HTML exporter while the cells run."""
    export.warm()


def _write_atomically(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: into a hidden file beside it, then renamed over it."""
    part = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}.partial")
    try:
        part.write_text(text, encoding="utf-8")
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def private_folder() -> Path:
    """A new folder only this user can enter (mode 0700), in the OS temp folder, for one execution.

    Its name, ``altakit-run-<pid>@<host tag>-<random>``, tells :func:`sweep_private` whose it is.

    Example:
        >>> folder = private_folder()
        >>> oct(folder.stat().st_mode & 0o777), folder.name.startswith(PRIVATE_PREFIX)
        ('0o700', True)
        >>> folder.rmdir()
    """
    return Path(tempfile.mkdtemp(prefix=f"{PRIVATE_PREFIX}{os.getpid()}@{procs.host_tag()}-"))


def _newest(folder: Path) -> float:
    times = [folder.lstat().st_mtime]
    for entry in folder.iterdir():
        with contextlib.suppress(OSError):
            times.append(entry.lstat().st_mtime)
    return max(times)


def sweep_private(root: str | Path | None = None, *, stale_after: float = STALE_AFTER) -> list[Path]:
    """Remove the private folders that killed runs left in ``root`` (default: the OS temp folder).

    A folder is removed when it is this user's and the run that made it is gone: on this machine,
    its process no longer exists; from another machine (a shared temp folder), nothing in it changed
    for ``stale_after`` seconds. Links and other users' folders are left alone.

    Returns:
        The folders removed.

    Example:
        >>> sweep_private(tempfile.mkdtemp())
        []
    """
    folder = Path(root if root is not None else tempfile.gettempdir())
    uid, removed = getattr(os, "getuid", lambda: None)(), []
    for entry in folder.glob(f"{PRIVATE_PREFIX}*"):
        m = _PRIVATE_RE.match(entry.name)
        try:
            st = entry.lstat()
            if not m or not stat.S_ISDIR(st.st_mode) or (uid is not None and st.st_uid != uid):
                continue
            running = procs.running_here(m["host"], int(m["pid"]))
            stale = not running if running is not None else time.time() - _newest(entry) > stale_after
        except OSError:  # gone meanwhile, or unreadable: not ours to judge
            continue
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def export_html(executed: Path, page: Path, redactor: Redactor | None = None) -> Path | None:
    """Write the HTML copy of the executed notebook, redacted by ``redactor`` before it is written;
    ``None`` if there is nothing to export."""
    if not executed.exists():
        return None
    body = export.html_body(executed)
    _write_atomically(page, redactor.text(body) if redactor is not None else body)
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
    redactor: Redactor | None = None,
    *,
    read: tuple[list[str], list[str]] = ([], []),
    pins: Mapping[str, int] | None = None,
    job: Mapping[str, Any] | None = None,
) -> Record:
    """Keep one executed notebook: redact it, export HTML, store both copies, register the run record.

    The one path by which ``altakit run`` and the workflow keep a run. Secret
    environment values and URL passwords (:class:`~altakit.runs.secrets.Redactor`)
    are redacted from every decoded string of the executed notebook (before its
    HTML copy is made), from the HTML copy and from every string of the run record
    (``error`` included); both copies go into the store as
    ``runs/<name>/<notebook>.ipynb`` / ``.html``; the run record
    (:class:`~altakit.runs.record.RunDoc`) names them, with the local copies.
    Give the ``redactor`` :func:`execute` used, so the record names every secret it redacted;
    ``read`` is what :func:`altakit.runs.reads.collect` found (``reads``, ``unversioned``), ``pins``
    what the run was pinned to and ``job`` the scheduler job it ran for.

    Returns:
        The run record (``status`` ``finished``, or ``failed`` when ``error`` is not empty).

    Example:
        >>> rec = keep_run(store, src, {"rows": 5}, "python3", started, 1.5, "", out, page)  # doctest: +SKIP
    """
    redactor = redactor if redactor is not None else Redactor(secret_env_values())
    if executed.exists():
        redact_notebook(executed, redactor)  # decoded JSON strings; execute() did it already: a second guard
    html_error = ""
    try:
        export_html(executed, page, redactor)  # made from the redacted notebook, redacted again
    except Exception as exc:  # the executed notebook is the run's result; a missing HTML copy is noted
        html_error = f"{type(exc).__name__}: {exc}".strip()[:500]
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
        html_error=html_error,
        reads=read[0],
        unversioned=read[1],
        pins=dict(pins or {}),
        job=dict(job) if job is not None else None,
    )
    doc = redactor.value(run.to_doc())  # error, parameters, paths: every string of the record
    run = RunDoc.from_doc({**doc, "redacted": sorted(redactor.found)})
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
    pins: Mapping[str, int] | None = None,
    job: Mapping[str, Any] | None = None,
) -> RunResult:
    """Execute ``notebook`` with ``parameters`` and record the run in the store's catalog.

    The table, dataset and model versions the notebook reads through altakit are recorded on
    the run (``reads``, each a ``read`` link); ``pins`` makes its unversioned reads read the
    given versions (:mod:`altakit.runs.reads`; :func:`same_data` gives a recorded run's).

    Args:
        notebook: The ``.ipynb`` to execute (it runs in its own folder).
        parameters: Papermill parameters; secret-looking ones are refused.
        store: A store or store URL (default: ``$ALTAKIT_STORE`` or the project's store). A URL is
            also given to the kernel as ``$ALTAKIT_STORE``, so the notebook's default store is the same.
        out: Folder for the local copies (default ``$ALTAKIT_RUNS_DIR`` or ``<home>/runs``).
        kernel: Kernel name.
        timeout: Seconds one cell may run.
        pins: ``{"kind:name": version}`` the notebook's unversioned reads read (default: the latest).
        job: ``{"id", "definition"}`` of the Jupyter Scheduler job this run is, kept on the record.

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
    pinned = reads.check_pins(pins or {})
    src = Path(notebook).expanduser().resolve()
    if not src.is_file():
        raise NotFound(f"no such notebook {str(notebook)!r}", path=str(notebook), hint="check the path")
    if src.suffix != ".ipynb":
        raise ConfigError(f"{src.name} is not a notebook (.ipynb)", path=str(src))
    _require_papermill()
    kernel_env = {config.HOME_ENV: os.environ.get(config.HOME_ENV) or str(config.project_home().resolve())}
    if isinstance(store, str):
        kernel_env[config.STORE_ENV] = store
    target = open_store(store or None)
    # the kernel records into the index this process reads, whatever it would pick for its default store
    kernel_env[config.INDEX_ENV] = catalog_of(target).index.url
    started = datetime.now(UTC)
    folder = Path(out or os.environ.get(RUNS_DIR_ENV) or config.project_home() / "runs").expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{src.stem}-{started:%Y%m%dT%H%M%S}{started.microsecond:06d}Z"
    executed, page = folder / f"{stem}.ipynb", folder / f"{stem}.html"
    with _kernel_env(kernel_env):
        redactor = Redactor(secret_env_values())
    running = executing(
        src, executed, params, kernel=kernel, timeout=timeout, redactor=redactor, pins=pinned, env=kernel_env
    )
    with running as (seconds, error, read):  # the run is kept while the kernel shuts down
        record = keep_run(
            target, src, params, kernel, started, seconds, error, executed, page, redactor,
            read=read, pins=pinned, job=job,
        )  # fmt: skip
    error = str(record.doc["error"])
    return RunResult(not error, executed, page, seconds, error, record)


def same_data(store: Store | str | None, run: str) -> tuple[Path, dict[str, Any], dict[str, int]]:
    """What re-runs a recorded run on the same snapshot: its notebook, parameters and pins.

    Args:
        store: The store whose catalog holds the run (default: the project store).
        run: ``"run:NAME@N"``, ``"NAME@N"`` or ``"NAME"`` (its latest run).

    Returns:
        ``(notebook, parameters, pins)``; the pins read every unversioned read of the run at
        the version it read then.

    Raises:
        NotFound: No such run.
        ConfigError: The run is no notebook run, or it read one name at two versions unversioned.

    Example:
        >>> nb, params, pins = same_data(None, "run:report@3")  # doctest: +SKIP
        >>> run_notebook(nb, params, pins=pins)  # doctest: +SKIP
    """
    from altakit.catalog import Ref

    text = run if run.startswith("run:") else f"run:{run}"
    record = catalog_of(open_store(store)).resolve(Ref.parse(text))
    doc = read_run(record)
    if not doc.notebook or not doc.notebook.get("path"):
        raise ConfigError(
            f"{record.ref} is no notebook run",
            ref=str(record.ref),
            hint="re-run a run of altakit run or a job",
        )
    return Path(str(doc.notebook["path"])), dict(doc.parameters), reads.pins_of(doc.unversioned)
