"""Run the curated notebook workflow headless: the README's main job.

The curated notebooks are ``notebooks/NN_*.ipynb``; they run in number order
with papermill on a real kernel, each receiving the same parameters (e.g.
``store_url``). Every executed notebook is kept, with an HTML copy, in the output
folder and in the store, and recorded as a run (:func:`altakit.runs.notebook.keep_run`,
the same path as ``altakit run``); a report (``report.html`` and ``report.json``)
lists what ran, how long it took, what failed and each run record. A failed
notebook stops nothing else from being reported.

Example:
    >>> report = run_workflow("notebooks", "build/run")  # doctest: +SKIP
    >>> report.ok, report.html  # doctest: +SKIP
    (True, PosixPath('build/run/report.html'))
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit.errors import NotFound
from altakit.runs.notebook import executing, keep_run
from altakit.runs.secrets import Redactor, check_parameters, secret_env_values
from altakit.store import open_store

if TYPE_CHECKING:
    from altakit.store import Store

_CURATED = re.compile(r"^\d\d_.+\.ipynb$")


@dataclass
class NotebookResult:
    """The outcome of one notebook."""

    name: str
    executed: str
    html: str
    seconds: float
    ok: bool
    error: str = ""
    run: str = ""


@dataclass
class WorkflowReport:
    """The outcome of a workflow run; ``html`` and ``json`` are the report files."""

    out: Path
    parameters: dict[str, Any]
    notebooks: list[NotebookResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every notebook ran to the end."""
        return all(n.ok for n in self.notebooks)

    @property
    def html(self) -> Path:
        return self.out / "report.html"

    @property
    def json(self) -> Path:
        return self.out / "report.json"


def curated_notebooks(folder: str | Path) -> list[Path]:
    """The numbered notebooks of ``folder`` in run order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotFound(f"no notebooks folder {str(folder)!r}", hint="run from the repository root")
    return sorted(p for p in folder.iterdir() if _CURATED.match(p.name))


def run_workflow(
    notebooks: str | Path = "notebooks",
    out: str | Path = "build/run",
    parameters: dict[str, Any] | None = None,
    kernel: str = "python3",
    timeout: int = 600,
    store: Store | str | None = None,
) -> WorkflowReport:
    """Execute every curated notebook in order and write the report.

    Args:
        notebooks: Folder of ``NN_*.ipynb`` notebooks.
        out: Folder for executed notebooks, HTML copies and the report.
        parameters: Papermill parameters given to every notebook.
        kernel: Kernel name to execute with.
        timeout: Seconds one cell may run.
        store: Where the runs are recorded (default: the ``store_url`` parameter, else the default
            store — the one the notebooks themselves use).

    Returns:
        The :class:`WorkflowReport` (also written to ``out/report.json``).

    Raises:
        ConfigError: A parameter looks like a secret (see :func:`altakit.runs.secrets.check_parameters`).
        MissingDependency: papermill is not installed.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = WorkflowReport(out=out, parameters=check_parameters(parameters or {}))
    target = open_store(store if store is not None else report.parameters.get("store_url") or None)
    for src in curated_notebooks(notebooks):
        executed, page = out / src.name, out / f"{src.stem}.html"
        started = datetime.now(UTC)
        redactor = Redactor(secret_env_values())  # one per notebook: its record names what it redacted
        params = report.parameters
        running = executing(src, executed, params, kernel=kernel, timeout=timeout, redactor=redactor)
        with running as (seconds, error, read):  # kept while the kernel shuts down
            run = keep_run(
                target,
                src,
                report.parameters,
                kernel,
                started,
                seconds,
                error,
                executed,
                page,
                redactor,
                read=read,
            )
        error = str(run.doc["error"])
        result = NotebookResult(src.name, str(executed), str(page), seconds, not error, error, str(run.ref))
        report.notebooks.append(result)
    _write_report(report)
    return report


def _write_report(report: WorkflowReport) -> None:
    data = {
        "ok": report.ok,
        "parameters": report.parameters,
        "notebooks": [asdict(n) for n in report.notebooks],
    }
    report.json.write_text(json.dumps(data, indent=2, default=str))
    rows = "".join(
        f"<tr><td><a href='{html.escape(Path(n.html).name)}'>{html.escape(n.name)}</a></td>"
        f"<td>{'ok' if n.ok else 'FAILED'}</td><td>{n.seconds:.1f} s</td>"
        f"<td><pre>{html.escape(n.error)}</pre></td></tr>"
        for n in report.notebooks
    )
    report.html.write_text(
        "<!doctype html><meta charset='utf-8'><title>altakit workflow</title>"
        f"<h1>altakit workflow: {'ok' if report.ok else 'FAILED'}</h1>"
        f"<p>parameters: <code>{html.escape(json.dumps(report.parameters, default=str))}</code></p>"
        f"<table border=1><tr><th>notebook</th><th>status</th><th>time</th><th>error</th></tr>{rows}</table>"
    )
