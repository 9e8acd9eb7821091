"""`altakit --version` and `altakit doctor` as a newcomer runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import altakit

BIN = Path(sys.executable).parent / "altakit"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, timeout=120)


def test_version() -> None:
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"altakit {altakit.__version__}"


def test_doctor_reports_stack_and_locations(tmp_path: Path) -> None:
    env = {**os.environ, "ALTAKIT_STORE": "s3://team/altakit", "ALTAKIT_HOME": str(tmp_path)}
    out = run("doctor", "--quick", env=env)
    text = out.stdout
    for name in ("polars", "torch", "tensorflow-cpu", "jupyterlab", "java", "chromium", "store", "index"):
        assert name in text
    assert "s3://team/altakit" in text
    assert f"sqlite:///{tmp_path}/catalog.sqlite" in text


def test_doctor_names_the_fix_for_a_missing_part(tmp_path: Path) -> None:
    # a PATH with python but without java or chromium
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bindir)}
    out = run("doctor", "--quick", env=env)
    assert out.returncode == 1
    assert "MISSING" in out.stdout
    assert "fix: apt-get install -y openjdk-17-jre-headless" in out.stdout
    assert "fix: apt-get install -y chromium" in out.stdout


def test_doctor_checks_extras_import() -> None:
    from altakit.cli.doctor import EXTRAS, checks

    report = {c.name: c for c in checks(import_extras=True)}
    for extra in EXTRAS:
        check = report[f"extra [{extra}]"]
        assert check.ok, check.detail


def test_errors_print_hint_not_traceback(tmp_path: Path) -> None:
    out = run("workflow", "--notebooks", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert out.returncode == 1
    assert "error: no notebooks folder" in out.stderr
    assert "Traceback" not in out.stderr
