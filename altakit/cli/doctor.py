"""``altakit doctor``: what is installed, what is missing, and how to fix it.

It also checks the store's catalog (damaged records, orphan commits: every check of
``altakit catalog check``) and names the repair command when something is wrong.

Example:
    $ altakit doctor
    $ altakit doctor --store s3://team-bucket/altakit
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import typer

from altakit import config

#: Distributions whose versions the report shows, in order.
STACK = (
    "altakit", "altakit-widgets", "numpy", "polars", "pandas", "pyarrow", "deltalake", "webdataset",
    "torch", "tensorflow-cpu", "pyspark", "py4j", "boto3", "jupyterlab", "notebook", "ipywidgets",
    "voila", "papermill", "nbval", "moto", "playwright",
)  # fmt: skip
#: extra -> modules that must import for it to work.
EXTRAS = {
    "s3": ("boto3",),
    "jvm": ("py4j", "pyspark"),
    "spark": ("pyspark",),
    "torch": ("torch",),
    "lightning": ("lightning",),
    "tensorflow": ("tensorflow",),
    "postgres": ("psycopg",),
    "images": ("PIL",),
    "excel": ("fastexcel", "xlsxwriter"),
    "notebooks": ("papermill", "nbconvert", "ipykernel"),
    "widgets": ("altakit_widgets", "ipywidgets", "voila"),
}


@dataclass
class Check:
    """One line of the report: what, whether it is fine, details, the fix, and the mark when not fine."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    mark: str = "MISSING"


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _imports(modules: tuple[str, ...]) -> str | None:
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # any import failure is what doctor reports
            return f"{module}: {type(exc).__name__}: {exc}"
    return None


_PROBE = """
import json, sys
from altakit.cli.doctor import EXTRAS, _imports
print(json.dumps({extra: _imports(modules) for extra, modules in EXTRAS.items()}))
"""


def _probe_extras() -> dict[str, str | None]:
    """Which extras import, tried in a child interpreter (``extra -> error or None``).

    Heavy frameworks log while they load (TensorFlow's C++ start-up lines go straight to the terminal):
    the child's output is captured, so the report shows only what failed, and the user's environment
    and this process are left as they were (the child alone gets ``TF_CPP_MIN_LOG_LEVEL=2``).
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=600, env=env, check=False
    )
    lines = out.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1]) if out.returncode == 0 and lines else None
    except ValueError:
        found = None
    if not isinstance(found, dict):  # the probe itself died (a crashing import): say so for every extra
        why = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        return {extra: f"import probe failed: {why[:300]}" for extra in EXTRAS}
    return {extra: found.get(extra) for extra in EXTRAS}


def _command_version(argv: list[str]) -> str | None:
    if not shutil.which(argv[0]):
        return None
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if out.returncode == 0 and text else None


def _local_folder(url: str) -> Path | None:
    """The folder of a local store URL (a path or ``file://``), None for other stores."""
    if url.startswith("file://"):
        return Path(unquote(urlparse(url).path))
    return None if "://" in url else Path(url).expanduser()


def catalog_check(store_url: str | None = None, *, remote: bool = True) -> Check:
    """The report line for the catalog of ``store_url`` (default: the default store).

    Runs every check of ``altakit catalog check`` (:data:`altakit.cli.catalog.CHECKS`) without
    repairing. A local store that does not exist yet is fine (and is not created); a remote store
    is checked only when ``remote`` is true (``--quick`` skips it).

    Example:
        >>> import tempfile
        >>> catalog_check(tempfile.mkdtemp() + "/nowhere").detail
        'no store there yet'
    """
    from altakit.cli.catalog import run_checks
    from altakit.errors import AltakitError
    from altakit.store import open_store

    url = store_url or config.default_store_url()
    folder = _local_folder(url)
    if folder is not None and not folder.exists():
        return Check("catalog", True, "no store there yet")
    if folder is None and not remote:
        return Check("catalog", True, "not checked (--quick): run altakit catalog check")
    repair = "altakit catalog check --repair" + (f" --store {url}" if store_url else "")
    try:
        findings = run_checks(open_store(url))
    except AltakitError as exc:
        return Check("catalog", False, f"cannot check: {exc.message}", exc.hint or "", mark="FAILED")
    if not findings:
        return Check("catalog", True, "no damaged records or orphan commits")
    shown = "; ".join(f"{f.kind} {f.subject}" for f in findings[:3])
    more = f" and {len(findings) - 3} more" if len(findings) > 3 else ""
    return Check("catalog", False, f"{len(findings)} problem(s): {shown}{more}", repair, mark="DAMAGED")


def checks(import_extras: bool = True, *, store: str | None = None, remote: bool = True) -> list[Check]:
    """Run every check and return the report lines (``store``, ``remote``: see :func:`catalog_check`)."""
    result = [
        Check("python", sys.version_info >= (3, 11), sys.version.split()[0], "use Python 3.11 or newer")
    ]
    for dist in STACK:
        v = _version(dist)
        result.append(
            Check(dist, v is not None, v or "not installed", "make env (or pip install -e '.[all,dev]')")
        )
    if import_extras:
        for extra, error in _probe_extras().items():
            fix = "pip install -e ./widgets" if extra == "widgets" else f"pip install 'altakit[{extra}]'"
            result.append(Check(f"extra [{extra}]", error is None, error or "imports", fix))
    java = _command_version(["java", "-version"])
    result.append(
        Check("java", java is not None, java or "not found", "apt-get install -y openjdk-17-jre-headless")
    )
    chromium = _command_version(["chromium", "--version"])
    result.append(
        Check("chromium", chromium is not None, chromium or "not found", "apt-get install -y chromium")
    )
    default = config.default_store_url()
    result.append(Check("store", True, f"{default}  (set ${config.STORE_ENV} to change)"))
    result.append(Check("index", True, f"{config.default_index_url()}  (set ${config.INDEX_ENV} to change)"))
    result.append(catalog_check(store, remote=remote))
    return result


def doctor(
    quick: bool = typer.Option(
        False, "--quick", help="Skip importing the heavy extras and checking a remote store's catalog."
    ),
    store: str | None = typer.Option(
        None, "--store", help="Check this store's catalog (default: $ALTAKIT_STORE or ./data/store)."
    ),
) -> None:
    """Report the stack's versions, which extras import, Java, Chromium, where data lives, and its catalog."""
    report = checks(import_extras=not quick, store=store, remote=not quick)
    width = max(len(c.name) for c in report)
    for c in report:
        mark = typer.style("ok  ", fg="green") if c.ok else typer.style(c.mark, fg="red")
        line = f"{mark} {c.name.ljust(width)}  {c.detail}"
        if not c.ok and c.fix:
            line += typer.style(f"\n        fix: {c.fix}", fg="yellow")
        typer.echo(line)
    missing = [c for c in report if not c.ok]
    word = "missing" if all(c.mark == "MISSING" for c in missing) else "to fix"
    typer.echo(f"\n{len(missing)} {word}" if missing else "\neverything is in place")
    if missing:
        raise typer.Exit(1)
