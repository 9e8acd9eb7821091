"""Every way the project starts Jupyter or Voila culls idle kernels (issue #20).

``start-altakit`` runs with a stand-in environment whose ``jupyter``/``voila``/
``jupyterhub-singleuser`` print the options they get; ``make -n lab`` prints the
command ``make lab`` runs. The culling itself is tested on a real Voila in
``test_dashboard_kernels.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_servers import REPO

SCRIPT = REPO / "openshift" / "start-altakit"
CULL = "--MappingKernelManager.cull_idle_timeout="


@pytest.fixture
def venv(tmp_path) -> Path:
    """A stand-in ALTAKIT_VENV: python, and servers that print their arguments one per line (and log
    each call to ``<name>.log``)."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    for name in ("jupyter", "voila", "jupyterhub-singleuser"):
        (bin_dir / name).write_text('#!/bin/sh\nprintf "%s\\n" "$*" >>"$0.log"\nprintf "%s\\n" "$@"\n')
        (bin_dir / name).chmod(0o755)
    return bin_dir.parent


def _start(venv: Path, tmp_path: Path, *args: str, **env: str) -> list[str]:
    (tmp_path / "nb.ipynb").write_text("{}")
    run_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "ALTAKIT_VENV": str(venv),
               "ALTAKIT_COPY_NOTEBOOKS": "0", **env}  # fmt: skip
    done = subprocess.run(["bash", str(SCRIPT), *args], env=run_env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_start_script_culls_idle_kernels(venv, tmp_path):
    lab = _start(venv, tmp_path, "lab")
    assert f"{CULL}3600" in lab and "--MappingKernelManager.cull_connected=False" in lab
    voila = _start(venv, tmp_path, "voila", str(tmp_path / "nb.ipynb"))
    assert f"{CULL}600" in voila and "--MappingKernelManager.cull_interval=60" in voila
    hub = _start(venv, tmp_path, "singleuser", JUPYTERHUB_API_TOKEN="t")
    assert f"{CULL}3600" in hub
    tuned = _start(venv, tmp_path, "voila", str(tmp_path / "nb.ipynb"), ALTAKIT_CULL_IDLE="120")
    assert f"{CULL}120" in tuned
    off = _start(venv, tmp_path, "voila", str(tmp_path / "nb.ipynb"), ALTAKIT_CULL_IDLE="0")
    assert not any(a.startswith(CULL) for a in off)


def test_make_lab_culls_idle_kernels():
    done = subprocess.run(["make", "-n", "lab"], cwd=REPO, capture_output=True, text=True, timeout=60)
    command = done.stdout.split("jupyter lab", 1)[-1]
    assert f"{CULL}3600" in command and "cull_connected=False" in command, done.stdout


def test_shipped_dashboards_are_trusted_when_copied(venv, tmp_path):
    shipped = tmp_path / "shipped"
    (shipped / "dashboards").mkdir(parents=True)
    (shipped / "dashboards" / "home.ipynb").write_text("{}")
    _start(venv, tmp_path, "voila", str(tmp_path / "nb.ipynb"), ALTAKIT_NOTEBOOKS=str(shipped),
           ALTAKIT_COPY_NOTEBOOKS="1")  # fmt: skip
    calls = (venv / "bin" / "jupyter.log").read_text().splitlines()
    copied = tmp_path / "home" / "altakit-notebooks" / "dashboards" / "home.ipynb"
    assert calls == [f"trust {copied}"], calls


def test_make_lab_trusts_the_dashboards():
    done = subprocess.run(["make", "-n", "lab"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "jupyter trust notebooks/dashboards/*.ipynb" in done.stdout, done.stdout
