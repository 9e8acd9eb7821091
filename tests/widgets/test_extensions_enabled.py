"""In the environment ``make env`` builds, Jupyter lists the altakit server and lab extensions (and Jupyter
Scheduler's, configured to run jobs through altakit) as enabled.

``jupyter server extension list`` and ``jupyter labextension list`` run from the project's
venv with the user's own Jupyter folders pointed at empty temp folders, so only what the
venv itself enables counts.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from fixtures.parts import need
from jupyter_servers import REPO

VENV = REPO / ".venv"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _env(tmp_path: Path) -> dict[str, str]:
    """The environment with the user's Jupyter folders empty, the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env |= {"JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "IPYTHONDIR": str(tmp_path / "ipython"),
            "PATH": f"{VENV / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"}  # fmt: skip
    return env


def jupyter(tmp_path: Path, *args: str) -> str:
    """Output of ``jupyter <args>`` from the venv, user config and data folders empty."""
    exe = VENV / "bin" / "jupyter"
    need(exe.exists(), "the project's venv is not built (make env)")
    out = subprocess.run([str(exe), *args], env=_env(tmp_path), capture_output=True, text=True, timeout=300,
                         check=True)  # fmt: skip
    return ANSI.sub("", out.stdout + out.stderr)


def test_the_server_extension_is_enabled_and_loads(tmp_path):
    text = jupyter(tmp_path, "server", "extension", "list")
    venv_config = str(VENV / "etc" / "jupyter")
    section = text.split(f"Config dir: {venv_config}", 1)
    assert len(section) == 2, text
    venv_part = section[1].split("Config dir:", 1)[0]
    assert re.search(r"^\s*altakit_widgets enabled\s*$", venv_part, re.M), text
    assert re.search(r"altakit_widgets \S+ OK", venv_part), text


def test_the_lab_extension_is_enabled(tmp_path):
    text = jupyter(tmp_path, "labextension", "list")
    assert re.search(r"^\s*altakit v\S+ enabled OK", text, re.M), text
    assert (
        "altakit" not in text.split("Disabled extensions:", 1)[-1] if "Disabled extensions:" in text else True
    )


def test_jupyter_scheduler_is_enabled_and_loads(tmp_path):
    text = jupyter(tmp_path, "server", "extension", "list")
    venv_part = text.split(f"Config dir: {VENV / 'etc' / 'jupyter'}", 1)[-1].split("Config dir:", 1)[0]
    assert re.search(r"^\s*jupyter_scheduler enabled\s*$", venv_part, re.M), text
    assert re.search(r"jupyter_scheduler \S+ OK", venv_part), text
    labs = jupyter(tmp_path, "labextension", "list")
    assert re.search(r"^\s*@jupyterlab/scheduler v\S+ enabled OK", labs, re.M), labs


def test_jupyter_scheduler_runs_jobs_through_altakit(tmp_path):
    """A server from make env's venv runs jobs with altakit's scheduler and execution manager."""
    need((VENV / "bin" / "python").exists(), "the project's venv is not built (make env)")
    probe = (
        "from jupyter_server.serverapp import ServerApp\n"
        "app = ServerApp()\n"
        "app.initialize(['--no-browser', '--allow-root', '--ServerApp.port=0'])\n"
        "s = app.web_app.settings['scheduler']\n"
        "m = s.execution_manager_class\n"
        "print('CLASSES', f'{type(s).__module__}.{type(s).__name__}', f'{m.__module__}.{m.__name__}')\n"
    )
    out = subprocess.run([str(VENV / "bin" / "python"), "-c", probe], env=_env(tmp_path), capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)  # fmt: skip
    line = [x for x in out.stdout.splitlines() if x.startswith("CLASSES ")]
    assert line == [
        "CLASSES altakit_widgets.jobs.AltakitScheduler altakit_widgets.jobs.AltakitExecutionManager"
    ], out.stdout + out.stderr
