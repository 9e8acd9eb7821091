"""Run the image's start script the way OpenShift runs the image: an arbitrary UID in group 0.

No Docker engine runs here, so the tests run ``openshift/start-altakit`` directly
as UID 23456, GID 0 (``setpriv``), with a fresh group-writable HOME and the repo's
environment relocated into a temp folder that UID can use: a venv on a Python
3.11 the UID can execute, whose site-packages pull in the repo ``.venv``'s, with
its ``share``/``etc`` (JupyterLab assets, Voila templates, server config) linked.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fixtures.parts import need

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "openshift" / "start-altakit"
UID = 23456
#: Console scripts the start script calls, re-pointed at the relocated venv's python.
COMMANDS = (
    "jupyter",
    "jupyter-lab",
    "jupyter-server",
    "voila",
    "papermill",
    "altakit",
    "jupyterhub-singleuser",
)


@dataclass
class UidEnv:
    """A place where UID 23456 (group 0) can run the start script.

    Attributes:
        base: Group-0, group-writable temp folder holding everything below.
        home: The fresh HOME.
        venv: The relocated venv (``ALTAKIT_VENV``).
    """

    base: Path
    home: Path
    venv: Path

    def env(self, **extra: str) -> dict[str, str]:
        """A clean environment for the start script, plus ``extra``."""
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "TMPDIR": str(self.base / "tmp"),
            "LANG": "C.UTF-8",
            "ALTAKIT_VENV": str(self.venv),
            "ALTAKIT_NOTEBOOKS": str(REPO / "notebooks"),
            "ALTAKIT_IP": "127.0.0.1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(extra)
        return env

    def argv(self, *args: str) -> list[str]:
        """``args`` run as UID 23456, GID 0, no supplementary groups."""
        return ["setpriv", f"--reuid={UID}", "--regid=0", "--clear-groups", *args]

    def run(self, *args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
        """Run ``args`` as the UID to completion."""
        return subprocess.run(self.argv(*args), env=env, capture_output=True, text=True, timeout=timeout)


def _group_writable_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, 0, 0)
    path.chmod(0o2775)
    return path


def _runnable_python(base: Path) -> str | None:
    """A Python 3.11 interpreter that the UID can execute (the repo's may live under /root)."""
    for candidate in ("/usr/bin/python3.11", "/usr/local/bin/python3.11", sys._base_executable):
        if not candidate or not os.path.exists(candidate):
            continue
        probe = subprocess.run(
            ["setpriv", f"--reuid={UID}", "--regid=0", "--clear-groups", "sh", "-c",
             'test -x "$0" && "$0" -c "import sys, venv; assert sys.version_info[:2] == (3, 11)"', candidate],
            capture_output=True, cwd=base, timeout=60,
        )  # fmt: skip
        if probe.returncode == 0:
            return candidate
    return None


def _relocate_venv(python: str, venv: Path) -> None:
    """Build ``venv`` on ``python`` with the repo ``.venv``'s packages, data and commands."""
    subprocess.run([python, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    repo_venv = Path(sys.prefix)
    site = Path(sysconfig.get_path("purelib"))
    own_site = next((venv / "lib").glob("python3.*/site-packages"))
    # an "import" line runs, so the repo site's own .pth files (editable installs) load too
    (own_site / "altakit_repo_venv.pth").write_text(f"import site; site.addsitedir({str(site)!r})\n")
    for sub in ("share", "etc"):
        if (repo_venv / sub).exists():
            (venv / sub).symlink_to(repo_venv / sub)
    for name in COMMANDS:
        src = repo_venv / "bin" / name
        if src.is_file():
            body = src.read_text().split("\n", 1)[1]
            (venv / "bin" / name).write_text(f"#!{venv / 'bin' / 'python'}\n{body}")
            (venv / "bin" / name).chmod(0o755)


@pytest.fixture(scope="session")
def uid_env() -> Iterator[UidEnv]:
    """The relocated environment and a fresh HOME for UID 23456 (see the module docstring)."""
    need(os.geteuid() == 0, "switching to UID 23456 needs root")
    need(shutil.which("setpriv") is not None, "setpriv is missing (apt-get install -y util-linux)")
    base = _group_writable_dir(Path(tempfile.mkdtemp(prefix="altakit-uid-", dir="/tmp")))
    try:
        python = _runnable_python(base)
        need(python is not None, f"no Python 3.11 that UID {UID} can execute (apt-get install -y python3)")
        assert python is not None
        _group_writable_dir(base / "tmp")
        venv = base / "venv"
        _relocate_venv(python, venv)
        yield UidEnv(base=base, home=_group_writable_dir(base / "home"), venv=venv)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> int:
    """Poll ``url`` until it answers; return the status. Fails, with ``log``, if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text()[-4000:]
            raise AssertionError(f"server exited with {proc.returncode} before answering {url}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"no answer from {url} within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


@pytest.fixture
def server(uid_env: UidEnv) -> Iterator:
    """Start the start script as the UID in the background; stop it (its whole group) afterwards.

    Yields a function ``start(*args, **env) -> (Popen, log path)``.
    """
    started: list[subprocess.Popen] = []
    logs = uid_env.base / "logs"
    _group_writable_dir(logs)

    def start(*args: str, **env: str) -> tuple[subprocess.Popen, Path]:
        log = logs / f"server-{len(started)}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                uid_env.argv(str(SCRIPT), *args), env=uid_env.env(**env), stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        started.append(proc)
        return proc, log

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def group_writable(path: Path) -> bool:
    """True if group 0 may write ``path``."""
    st = path.stat()
    return st.st_gid == 0 and bool(st.st_mode & stat.S_IWGRP)
