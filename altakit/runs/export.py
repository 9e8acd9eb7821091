"""The HTML copy of an executed notebook: one nbconvert exporter per process, loaded ahead of need.

A new ``HTMLExporter`` compiles its Jinja templates (~0.15 s), and the first one of a process also
imports nbconvert's filters (markdown, pygments: ~0.3 s more); a scheduler job is a process of its
own, so each job paid both after its notebook ran. :func:`warm` loads the exporter on a thread while
the kernel runs the cells (this process only waits for the kernel then); :func:`html_body` uses it,
waiting for the loading if it is still under way. The exporter is reused by the next run of the same
process (``altakit workflow``), as ``jupyter nbconvert`` reuses one for many notebooks.

Example:
    >>> import nbformat, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "n.ipynb"
    >>> nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Hi")]), path)
    >>> "<h1" in html_body(path)
    True
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_exporter: list[Any] = []


def _loaded() -> Any:
    """The process's ``HTMLExporter``, its template loaded (call with ``_lock`` held)."""
    if not _exporter:
        from nbconvert import HTMLExporter

        exporter = HTMLExporter()
        _ = exporter.template  # loads and compiles the templates
        _exporter.append(exporter)
    return _exporter[0]


def _warm() -> None:
    try:
        with _lock:
            _loaded()
    except Exception:  # html_body loads it again and reports what fails
        return


def warm() -> None:
    """Load the HTML exporter on a daemon thread (a no-op once it is loaded)."""
    if not _exporter:
        threading.Thread(target=_warm, name="altakit-html-exporter", daemon=True).start()


def html_body(notebook: str | Path) -> str:
    """The HTML of the notebook file ``notebook``, as ``jupyter nbconvert --to html`` writes it.

    Raises:
        Exception: What nbconvert raises (an unreadable notebook, nbconvert missing).
    """
    with _lock:
        body, _ = _loaded().from_filename(str(notebook))
    return str(body)
