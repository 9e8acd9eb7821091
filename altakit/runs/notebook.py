"""Batch runs: execute one notebook with parameters and record it in the catalog.

:func:`run_notebook` executes a notebook with papermill on a real kernel, keeps
the executed copy and an HTML copy in a local folder, writes both into the
store (``runs/<name>/<notebook>.ipynb`` / ``.html``, one store version per run)
and registers a catalog record of kind ``"run"`` with the parameters, status,
duration, environment and the store versions of both copies. ``altakit run``
and the OpenShift CronJob call it; :mod:`altakit.runs.workflow` shares its
execution pieces (:func:`execute`, :func:`export_html`).

Secrets never land in a notebook: papermill writes every parameter into the
executed notebook, so parameters that look like secrets are refused
(:func:`check_parameters`); pass secrets through the environment instead. As a
second guard, the values of secret-looking environment variables are redacted
from the executed notebook before it is kept anywhere.

Example:
    >>> result = run_notebook("notebooks/01_store_quickstart.ipynb", {"rows": 100})  # doctest: +SKIP
    >>> result.ok, str(result.record.ref)  # doctest: +SKIP
    (True, 'run:01_store_quickstart@1')
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit import config
from altakit.catalog import catalog_of
from altakit.errors import ConfigError, MissingDependency, NotFound

if TYPE_CHECKING:
    from altakit.catalog import Record
    from altakit.store import Store

#: Where ``altakit run`` keeps local copies unless told (``--out``).
RUNS_DIR_ENV = "ALTAKIT_RUNS_DIR"
#: Name segments that always mark a secret: any non-empty text value is refused.
_SECRET_WORDS = re.compile(
    r"(?i)(?:^|[_\-.])(secret|secrets|password|passwd|passphrase|token|tokens|credential|credentials"
    r"|apikey|api[_\-]?key|access[_\-]?key|private[_\-]?key|secret[_\-]?key|auth)(?:$|[_\-.])"
)
#: A ``key`` segment marks a secret only when the value looks like a credential.
_KEY_WORD = re.compile(r"(?i)(?:^|[_\-.])key(?:$|[_\-.])")
#: Values that are credentials whatever their parameter is called.
_SECRET_VALUES = {
    "an AWS access key id": re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    "a Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "a JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
    "a URL with a password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"),
}
_CREDENTIAL_LIKE = re.compile(r"^[A-Za-z0-9+/=_\-]{16,}$")
_ENV_HINT = (
    "pass secrets through the environment (export MY_TOKEN=… before the run and read "
    "os.environ['MY_TOKEN'] in the notebook): papermill writes every parameter into the executed notebook"
)
_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")
REDACTED = "[redacted]"


@dataclass
class RunResult:
    """The outcome of :func:`run_notebook`.

    Attributes:
        ok: True when every cell ran.
        executed: Local path of the executed notebook.
        html: Local path of its HTML copy.
        seconds: Wall-clock duration of the execution.
        error: ``Type: message`` of the failure ("" when ``ok``).
        record: The catalog record of kind ``"run"``.
    """

    ok: bool
    executed: Path
    html: Path
    seconds: float
    error: str
    record: Record


# ------------------------------------------------------------------ secrets
def _looks_like_credential(value: str) -> bool:
    has = (any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value))
    return bool(_CREDENTIAL_LIKE.match(value)) and (sum(has) >= 2 or len(value) >= 32)


def secret_reason(name: str, value: Any) -> str | None:
    """Why the parameter ``name=value`` looks like a secret, or ``None`` if it does not.

    Example:
        >>> secret_reason("api_token", "abc123def456")
        "its name 'api_token' marks a secret"
        >>> secret_reason("rows", 500) is None
        True
    """
    if isinstance(value, Mapping):
        for k, v in value.items():
            reason = secret_reason(f"{name}.{k}", v)
            if reason:
                return reason
        return None
    if isinstance(value, list | tuple | set):
        return next((r for r in (secret_reason(name, v) for v in value) if r), None)
    if not isinstance(value, str) or not value:
        return None
    for what, pattern in _SECRET_VALUES.items():
        if pattern.search(value):
            return f"its value looks like {what}"
    if _SECRET_WORDS.search(name):
        return f"its name {name!r} marks a secret"
    if _KEY_WORD.search(name) and _looks_like_credential(value):
        return f"its name {name!r} and its value look like a credential"
    return None


def check_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``parameters`` as a dict, or refuse any that looks like a secret.

    Raises:
        ConfigError: A parameter looks like a secret (``fields['parameter']`` names it).

    Example:
        >>> check_parameters({"rows": 500, "store_url": "s3://bucket/x"})
        {'rows': 500, 'store_url': 's3://bucket/x'}
        >>> check_parameters({"password": "hunter2"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        altakit.errors.ConfigError: parameter 'password' looks like a secret: ...
    """
    if not isinstance(parameters, Mapping):
        raise ConfigError("parameters must be a mapping of name to value", hint="e.g. {'rows': 500}")
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(
                f"parameter name {name!r} is not a Python identifier", hint="e.g. rows, store_url"
            )
        reason = secret_reason(name, value)
        if reason:
            raise ConfigError(
                f"parameter {name!r} looks like a secret: {reason}; refused", parameter=name, hint=_ENV_HINT
            )
    return dict(parameters)


def secret_env_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Values of environment variables whose names mark a secret (6 characters or more)."""
    env = os.environ if environ is None else environ
    return {
        name: value
        for name, value in env.items()
        if len(value) >= 6
        and (_SECRET_WORDS.search(name) or (_KEY_WORD.search(name) and _looks_like_credential(value)))
    }


def redact_file(path: Path, secrets: Mapping[str, str]) -> list[str]:
    """Replace every secret value in the text file ``path``; return the names found."""
    text = path.read_text(encoding="utf-8")
    found = []
    for name, value in sorted(secrets.items(), key=lambda kv: -len(kv[1])):
        if value in text:
            text = text.replace(value, f"{REDACTED}:{name}")
            found.append(name)
    if found:
        path.write_text(text, encoding="utf-8")
    return found


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
        )
    except Exception as exc:  # the failure is the result; callers report it
        error = f"{type(exc).__name__}: {exc}".strip()[:2000]
    return round(time.perf_counter() - start, 2), error


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


def environment(kernel: str) -> dict[str, str]:
    """What a run record says about where it ran (versions, host, kernel)."""
    import altakit

    env = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "host": socket.gethostname(),
        "altakit": altakit.__version__,
        "kernel": kernel,
        "executable": sys.executable,
    }
    with contextlib.suppress(Exception):
        env["papermill"] = _papermill().__version__
    return env


def run_name(notebook: Path) -> str:
    """The catalog name of runs of ``notebook``: its file stem, made a valid record name."""
    name = _NAME_RE.sub("-", notebook.stem).strip("-._")
    return name or "notebook"


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
        ``status: "failed"`` (it is not raised).

    Raises:
        ConfigError: A parameter looks like a secret (nothing runs), or the notebook is not ``.ipynb``.
        NotFound: No such notebook.

    Example:
        >>> r = run_notebook("report.ipynb", {"day": "2026-01-02"}, store="s3://team/x")  # doctest: +SKIP
    """
    from altakit.store import open_store

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
    target = store if store is not None and not isinstance(store, str) else None
    target = target or open_store(store or config.default_store_url())
    name = run_name(src)
    started = datetime.now(UTC)
    folder = Path(out or os.environ.get(RUNS_DIR_ENV) or config.project_home() / "runs").expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{src.stem}-{started:%Y%m%dT%H%M%S}{started.microsecond:06d}Z"
    executed, page = folder / f"{stem}.ipynb", folder / f"{stem}.html"
    with _kernel_env(kernel_env):
        seconds, error = execute(src, executed, params, kernel=kernel, timeout=timeout)
    redacted: list[str] = []
    if executed.exists():
        redacted = redact_file(executed, secret_env_values())
    html_error = ""
    try:
        export_html(executed, page)
    except Exception as exc:  # the executed notebook is the run's result; a missing HTML copy is noted
        html_error = f"{type(exc).__name__}: {exc}".strip()[:500]
    for secret in secret_env_values().values():
        error = error.replace(secret, REDACTED)
    doc: dict[str, Any] = {
        "notebook": str(src),
        "parameters": json.loads(json.dumps(params, default=str)),
        "status": "failed" if error else "ok",
        "error": error,
        "started": started.isoformat(),
        "seconds": seconds,
        "environment": environment(kernel),
        "redacted": redacted,
        "html_error": html_error,
        "local": {"executed": str(executed), "html": str(page)},
    }
    for label, path, suffix in (("executed", executed, ".ipynb"), ("html", page, ".html")):
        if path.exists():
            version = target.put(f"runs/{name}/{src.stem}{suffix}", path)
            doc[label] = {"key": version.key, "version": version.id, "store": target.url}
    with catalog_of(target) as cat:
        record = cat.register("run", name, doc)
    return RunResult(not error, executed, page, seconds, error, record)
