"""A killed ``altakit run`` leaves no secret readable by others anywhere.

While the kernel runs, papermill saves the partly executed notebook after every
cell. These tests SIGKILL a real ``altakit run`` child process while its
kernel runs (after a cell printed a secret from the environment) and at the
``run.executed`` fault point (papermill done, nothing redacted yet, the
notebook failed), then search every byte under the test's folders — runs
folder, store, home, temp folder — for the secret. Only the run's private
folder may hold it, and only its owner may read it (0700 folder, 0600 file);
the next run removes that folder.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from fixtures.notebooks import write_notebook

import altakit
from altakit.catalog import catalog_of
from altakit.procs import host_tag
from altakit.runs.notebook import PRIVATE_PREFIX, sweep_private

ALTAKIT = str(Path(sys.executable).parent / "altakit")


def _setup(tmp_path: Path) -> tuple[dict[str, str], str, list[str]]:
    secret = "kill-" + secrets.token_hex(12)
    (tmp_path / "tmp").mkdir()
    env = {
        **os.environ,
        "PGPASSWORD": secret,
        "TMPDIR": str(tmp_path / "tmp"),  # the private folders land here
        "ALTAKIT_HOME": str(tmp_path / "home"),
        "ALTAKIT_INDEX": f"sqlite:///{tmp_path / 'home' / 'index.sqlite'}",
    }
    env.pop("ALTAKIT_FAULT", None)
    args = ["--store", str(tmp_path / "store"), "--out", str(tmp_path / "runs")]
    return env, secret, args


def _run(nb: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [ALTAKIT, "run", str(nb), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def _holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def _private_folders(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "tmp").glob(f"{PRIVATE_PREFIX}*"))


def _assert_only_private_holds(tmp_path: Path, secret: str) -> Path:
    """The secret is on disk only in one private folder (proof the kill hit the window), owner-only."""
    holding = _holding(tmp_path, secret)
    assert [p for p in holding if not p.parent.name.startswith(PRIVATE_PREFIX)] == []
    (private,) = _private_folders(tmp_path)
    assert holding == [private / "executed.ipynb"]
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert stat.S_IMODE((private / "executed.ipynb").stat().st_mode) == 0o600
    return private


def _rerun_sweeps_and_redacts(tmp_path: Path, env: dict[str, str], secret: str, args: list[str]) -> None:
    """A later run removes the leftover private folder and keeps its own notebook redacted."""
    nb = write_notebook(
        tmp_path / "again.ipynb",
        "import os\nprint('again', os.environ['PGPASSWORD'])",
        parameters="marker = ''",
    )
    done = _run(nb, args, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _private_folders(tmp_path) == []
    assert _holding(tmp_path, secret) == []
    rec = catalog_of(altakit.open_store(tmp_path / "store")).resolve("run:again")
    assert "again [redacted]:PGPASSWORD" in Path(rec.doc["local"]["executed"]).read_text(encoding="utf-8")
    assert rec.doc["redacted"] == ["PGPASSWORD"]


def test_run_killed_while_the_kernel_runs_leaves_the_secret_in_no_readable_file(tmp_path):
    env, secret, args = _setup(tmp_path)
    marker = tmp_path / "kernel.pid"
    nb = write_notebook(
        tmp_path / "slow.ipynb",
        "import os\nprint('connecting with', os.environ['PGPASSWORD'])",
        # papermill saved the notebook with the cell above's output before this cell starts
        "import pathlib, time\npathlib.Path(marker).write_text(str(os.getpid()))\ntime.sleep(3600)",
        parameters="marker = ''",
    )
    child = subprocess.Popen(
        [ALTAKIT, "run", str(nb), "-p", "marker", str(marker), *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    kernel = None
    try:
        deadline = time.monotonic() + 300  # a guard against a hang, not a timing assertion
        while not (marker.is_file() and marker.read_text()) and child.poll() is None:
            assert time.monotonic() < deadline, "the notebook never reached its second cell"
            time.sleep(0.2)
        assert child.poll() is None, "altakit run ended before it could be killed"
        kernel = int(marker.read_text())
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if kernel is not None:  # the orphaned kernel
            with contextlib.suppress(ProcessLookupError):
                os.kill(kernel, signal.SIGKILL)
    marker.unlink()

    _assert_only_private_holds(tmp_path, secret)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert not any(p.is_file() for p in (tmp_path / "store").rglob("*"))
    _rerun_sweeps_and_redacts(tmp_path, env, secret, args)


def test_failed_notebook_killed_before_redaction_leaves_nothing_readable(tmp_path):
    env, secret, args = _setup(tmp_path)
    nb = write_notebook(
        tmp_path / "fails.ipynb",
        "import os\nprint('connecting with', os.environ['PGPASSWORD'])",
        "raise RuntimeError('login failed for ' + os.environ['PGPASSWORD'])",
        parameters="marker = ''",
    )
    done = subprocess.run(
        [ALTAKIT, "run", str(nb), *args], env={**env, "ALTAKIT_FAULT": "run.executed"},
        capture_output=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr.decode(errors="replace")
    _assert_only_private_holds(tmp_path, secret)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())

    # the retry: the failed notebook ends redacted, in the runs folder and the store
    done = _run(nb, args, env)
    assert done.returncode == 1 and "FAILED" in done.stdout, done.stdout + done.stderr
    assert _private_folders(tmp_path) == [] and _holding(tmp_path, secret) == []
    (executed,) = (tmp_path / "runs").glob("fails-*.ipynb")
    text = executed.read_text(encoding="utf-8")
    assert "connecting with [redacted]:PGPASSWORD" in text
    assert "login failed for [redacted]:PGPASSWORD" in text
    assert '"output_path": "' + str(executed) in text  # not the private file's path
    doc = catalog_of(altakit.open_store(tmp_path / "store")).resolve("run:fails").doc
    assert doc["status"] == "failed" and "[redacted]:PGPASSWORD" in doc["error"]


def test_sweep_keeps_live_runs_and_other_users_links(tmp_path):
    host = host_tag()
    live = tmp_path / f"{PRIVATE_PREFIX}{os.getpid()}@{host}-live"
    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    dead = tmp_path / f"{PRIVATE_PREFIX}{dead_pid.pid}@{host}-dead"
    elsewhere = tmp_path / f"{PRIVATE_PREFIX}1@another-host-xyz"
    for folder in (live, dead, elsewhere):
        folder.mkdir(mode=0o700)
        (folder / "executed.ipynb").write_text("{}")
    target = tmp_path / "not-mine"
    target.mkdir()
    (tmp_path / f"{PRIVATE_PREFIX}{dead_pid.pid}@{host}-link").symlink_to(target)

    assert sweep_private(tmp_path) == [dead]
    assert live.is_dir() and elsewhere.is_dir() and target.is_dir()
    old = time.time() - 2 * 24 * 3600
    os.utime(elsewhere / "executed.ipynb", (old, old))
    os.utime(elsewhere, (old, old))
    assert sweep_private(tmp_path) == [elsewhere]
