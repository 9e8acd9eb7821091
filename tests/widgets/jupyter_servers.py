"""Real Jupyter servers and Voila for the widget tests: subprocesses on loopback, an ephemeral port.

Each server gets its own Jupyter config folder (with the jupyter-config file that
``pip install ./widgets`` installs, so the shipped file is what enables the
extension), ``ALTAKIT_STORE`` / ``ALTAKIT_HOME`` pointing at a temp store, and a log
file; :func:`problems` lists its error lines.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXTENSION_CONFIG = REPO / "widgets" / "jupyter-config" / "jupyter_server_config.d" / "altakit_widgets.json"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"]  # fmt: skip


@dataclass
class Server:
    """A running server: ``url`` ends with the base URL's slash."""

    url: str
    proc: subprocess.Popen
    log: Path


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    """GET ``url`` (with ``Authorization: token …`` when given); ``(status, body)``."""
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def problems(log: Path) -> list[str]:
    """Error lines in a server log (``[E …]`` lines and tracebacks)."""
    return [line for line in log.read_text().splitlines() if line.startswith("[E ") or "Traceback" in line]


def index_url(store: Path) -> str:
    """The catalog index the tests and their servers share (as a hub shares one)."""
    return f"sqlite:///{store.parent / 'index.sqlite'}"


def _environment(folder: Path, store: Path) -> dict[str, str]:
    config = folder / "jupyter-config"
    (config / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
    shutil.copy(EXTENSION_CONFIG, config / "jupyter_server_config.d" / EXTENSION_CONFIG.name)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "ALTAKIT_STORE": str(store),
           "ALTAKIT_INDEX": index_url(store),
           "ALTAKIT_HOME": str(folder / "home"), "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
           "JUPYTER_DATA_DIR": str(folder / "jupyter-data"),
           "IPYTHONDIR": str(folder / "ipython")}  # fmt: skip
    env.pop("JUPYTER_TOKEN", None)
    return env


@contextmanager
def serve(argv: list[str], url: str, folder: Path, store: Path, timeout: float = 120) -> Iterator[Server]:
    """Start ``argv`` (a server) in ``folder`` and wait until ``url`` answers; stop it afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(argv, env=_environment(folder, store), cwd=folder, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer from {url} in {timeout:.0f} s:\n{log.read_text()[-4000:]}")
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.3)
        yield Server(url, proc, log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def jupyter_server(folder: Path, store: Path, token: str, base_url: str = "/user/x/"):
    """A Jupyter server (``jupyter server``) with the altakit extension, behind ``token``."""
    port = free_port()
    argv = [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.base_url={base_url}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}"]  # fmt: skip
    return serve(argv, f"http://127.0.0.1:{port}{base_url}api", folder, store)


def voila(notebook: Path, folder: Path, store: Path, base_url: str = "/"):
    """Voila serving ``notebook`` like the image does: sources stripped, tracebacks hidden."""
    port = free_port()
    argv = [sys.executable, "-m", "voila", str(notebook), "--no-browser", "--Voila.ip=127.0.0.1",
            f"--port={port}", f"--base_url={base_url}", "--strip_sources=True",
            "--show_tracebacks=False"]  # fmt: skip
    return serve(argv, f"http://127.0.0.1:{port}{base_url}", folder, store)
