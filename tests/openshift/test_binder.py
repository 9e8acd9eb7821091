"""Binder: binder/environment.yml has Node.js for the extension's build, and binder/postBuild, run for real
(a throwaway venv layered on the project's, ``jlpm`` stubbed), ends with both altakit extensions enabled."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from fixtures.parts import need

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv"
LABEXT = REPO / "widgets" / "altakit_widgets" / "labextension"
POSTBUILD = REPO / "binder" / "postBuild"


def test_binder_environment_has_the_node_line_the_image_builds_with():
    deps = yaml.safe_load((REPO / "binder" / "environment.yml").read_text())["dependencies"]
    (node,) = [d for d in deps if isinstance(d, str) and d.startswith("nodejs=")]
    image = re.search(r"ARG NODE_IMAGE=node:(\d+)\.", (REPO / "openshift" / "Dockerfile").read_text())
    assert image and node == f"nodejs={image[1]}", (node, image)
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    for name in ("hatchling==", "hatch-jupyter-builder=="):
        assert any(p.startswith(name) for p in pip), f"{name} (postBuild builds ./widgets without isolation)"


def test_postbuild_builds_then_installs_widgets_not_editable():
    steps = [
        line.strip()
        for line in POSTBUILD.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert steps[0] == "set -euo pipefail"
    build = steps.index("(cd widgets && jlpm install --immutable && jlpm build:prod)")
    widgets = next(i for i, s in enumerate(steps) if "pip install" in s and "./widgets" in s)
    assert build < widgets < steps.index("bash openshift/check-extensions") == len(steps) - 1
    assert "-e ./widgets" not in steps[widgets], "an editable install skips the extensions' data files"


def _layered_venv(tmp_path: Path) -> Path:
    """A venv whose own prefix is empty but which imports the project venv's packages (pip, hatchling,
    jupyterlab…); ``jupyter`` scripts run its python, so Jupyter sees its prefix, not the project's."""
    venv = tmp_path / "venv"
    subprocess.run([VENV / "bin" / "python", "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    (site,) = (VENV / "lib").glob("python3.*/site-packages")
    (own,) = (venv / "lib").glob("python3.*/site-packages")
    (own / "_project_venv.pth").write_text(f"import site; site.addsitedir({str(site)!r})\n")
    for name in ("jupyter", "jupyter-labextension", "jupyter-server"):
        body = (VENV / "bin" / name).read_text().split("\n", 1)[1]
        (venv / "bin" / name).write_text(f"#!{venv / 'bin' / 'python'}\n{body}")
        (venv / "bin" / name).chmod(0o755)
    # Jupyter Scheduler, as binder/environment.yml installs it: its data files in the env's own prefix
    for rel in ("etc/jupyter/jupyter_server_config.d/jupyter_scheduler.json",
                "share/jupyter/labextensions/@jupyterlab/scheduler"):  # fmt: skip
        (venv / rel).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (VENV / rel).is_dir() else shutil.copy
        copy(VENV / rel, venv / rel)
    return venv


def _repo_copy(tmp_path: Path) -> Path:
    """What postBuild touches: the two distributions, the script and the check (no built extension)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, repo / name)
    shutil.copytree(REPO / "altakit", repo / "altakit", ignore=shutil.ignore_patterns("__pycache__"))
    ignore = shutil.ignore_patterns(
        "node_modules", "lib", ".yarn", "labextension", "*.egg-info", "*.tsbuildinfo"
    )
    shutil.copytree(REPO / "widgets", repo / "widgets", ignore=ignore)
    for rel in ("binder/postBuild", "openshift/check-extensions"):
        (repo / rel).parent.mkdir(exist_ok=True)
        shutil.copy(REPO / rel, repo / rel)
    return repo


def _jlpm_stub(tmp_path: Path) -> Path:
    """``jlpm``: logs its arguments; ``build:prod`` lays down the labextension `make env` built (no node)."""
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "jlpm").write_text(
        f'#!/bin/bash\necho "$*" >> {tmp_path}/jlpm.log\n'
        f'if [ "$1" = build:prod ]; then cp -r {LABEXT} altakit_widgets/labextension; fi\n'
    )
    (stub / "jlpm").chmod(0o755)
    return stub


def test_postbuild_enables_both_extensions(tmp_path):
    need((VENV / "bin" / "jupyter").exists(), "the project's venv is not built (make env)")
    need((LABEXT / "static" / "style.js").exists(), "the labextension is not built (make env)")
    venv, repo, stub = _layered_venv(tmp_path), _repo_copy(tmp_path), _jlpm_stub(tmp_path)
    env = {
        "HOME": str(tmp_path),
        "PATH": f"{venv / 'bin'}:{stub}:/usr/bin:/bin",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # pip's inverted switch: no isolation, the venv's setuptools
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    done = subprocess.run(
        ["bash", "binder/postBuild"], cwd=repo, env=env, capture_output=True, text=True, timeout=280
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "altakit lab and server extensions enabled" in out
    assert (tmp_path / "jlpm.log").read_text().split("\n")[:-1] == ["install --immutable", "build:prod"]
    ext = venv / "share" / "jupyter" / "labextensions" / "altakit"
    assert (ext / "package.json").exists() and (ext / "install.json").exists()
    assert (venv / "etc" / "jupyter" / "jupyter_server_config.d" / "altakit_widgets.json").exists()
    assert "Jupyter Scheduler's too (jobs run through altakit)" in out
    assert (venv / "etc" / "jupyter" / "jupyter_jupyter_scheduler_config.json").exists()


def test_postbuild_stops_when_the_build_fails(tmp_path):
    """``set -e``: a failing extension build stops postBuild before anything is installed."""
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "jlpm").write_text("#!/bin/bash\nexit 3\n")
    (stub / "jlpm").chmod(0o755)
    (stub / "python").write_text(f"#!/bin/bash\ntouch {tmp_path}/installed\n")
    (stub / "python").chmod(0o755)
    repo = tmp_path / "repo"
    (repo / "widgets").mkdir(parents=True)
    env = {"PATH": f"{stub}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(POSTBUILD)], cwd=repo, env=env, capture_output=True, timeout=60)
    assert done.returncode != 0 and not (tmp_path / "installed").exists()
    assert os.access(POSTBUILD, os.X_OK), "repo2docker runs postBuild only when it is executable"
