"""Notebook jobs: altakit's Jupyter Scheduler execution manager next to plain papermill, and Create → kernel.

1. The same parameterized notebook, executed with its outputs (executed ``.ipynb`` + HTML) by:

   - :class:`altakit_widgets.jobs.AltakitExecutionManager` (what a scheduler job runs: papermill through
     ``run_notebook``, secrets redacted, the run recorded in the catalog, both copies stored, the job's
     output files written), driven as the scheduler's job process drives it (``process()`` on a real
     scheduler database);
   - plain papermill (``execute_notebook`` + nbconvert's HTML export into the same two files, one
     ``HTMLExporter`` reused across jobs as altakit reuses its own within a process): the peer;
   - Jupyter Scheduler's ``DefaultExecutionManager`` (nbclient, no papermill, nothing recorded): reference.

   Goal (issue 19): altakit's overhead over plain papermill ≤ 10 % (ratio ≥ 0.91), for a short notebook
   (kernel start dominates) and a typical one (a few seconds of work). These run in this process, with
   papermill and nbconvert already imported; part 2's "Create → job done" is the whole job in a
   process of its own, as the scheduler runs it.

2. "Create" → kernel running: the time from ``POST /scheduler/jobs`` on a real Jupyter server until the
   notebook's first cell runs (it writes the clock to a file), with altakit's scheduler and execution
   manager, next to the same server running Jupyter Scheduler's default ones; and "Create" → job done
   (``COMPLETED``, ipynb + HTML written): the whole job in its own process as the scheduler runs it
   (imports, kernel start and shutdown, HTML export), where part 1 runs the managers in this process.

Nothing fails on timing. Usage:
    .venv/bin/python bench/bench_jobs.py            # 5 rounds (3 Create → kernel jobs each side)
    .venv/bin/python bench/bench_jobs.py --quick    # 1 repeat, short notebook only
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from common import REPO, Row, best_of, rate, report

SHORT = "print('sum', sum(range(rows)))"
TYPICAL = (
    "import numpy as np, pandas as pd\n"
    "x = np.random.default_rng(0).random((rows, 64))\n"
    "for _ in range(60):\n"
    "    x = np.tanh(x @ np.full((64, 64), 1 / 64))\n"
    "frame = pd.DataFrame(x[:, :8]).describe()\n"
    "frame"
)
ENDED = ("COMPLETED", "FAILED", "STOPPED")
STAMP = "import time, pathlib\npathlib.Path(stamp).write_text(repr(time.time()))"


def notebook(path: Path, body: str, parameters: str) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


# ---------------------------------------------------------------- 1. overhead
class Jobs:
    """A real Jupyter Scheduler database and staging area, holding one job per execution."""

    def __init__(self, folder: Path) -> None:
        from jupyter_scheduler.orm import create_tables

        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.db_url = f"sqlite:///{folder / 'scheduler.sqlite'}"
        create_tables(self.db_url)

    def job(self, src: Path, parameters: dict[str, str]) -> tuple[str, dict[str, str]]:
        from jupyter_scheduler.orm import Job, create_session

        with create_session(self.db_url)() as session:
            job = Job(runtime_environment_name="python3", input_filename=src.name, name="bench",
                      output_formats=["ipynb", "html"], parameters=parameters)  # fmt: skip
            session.add(job)
            session.commit()
            job_id = job.job_id
        staging = self.folder / "staging" / job_id
        staging.mkdir(parents=True)
        (staging / src.name).write_bytes(src.read_bytes())
        paths = {"input": str(staging / src.name), "ipynb": str(staging / "out.ipynb"),
                 "html": str(staging / "out.html")}  # fmt: skip
        return job_id, paths

    def run(self, manager: type, src: Path, parameters: dict[str, str]) -> None:
        job_id, paths = self.job(src, parameters)
        manager(job_id=job_id, root_dir=str(self.folder), db_url=self.db_url, staging_paths=paths).process()
        from jupyter_scheduler.orm import Job, create_session

        with create_session(self.db_url)() as session:
            status = session.query(Job.status).filter(Job.job_id == job_id).scalar()
        if status != "COMPLETED":
            raise RuntimeError(f"{manager.__name__}: job {status}")


_EXPORTER: list[object] = []


def plain_papermill(src: Path, out: Path, parameters: dict[str, object]) -> None:
    """The peer: papermill, then nbconvert's HTML export with one exporter reused across jobs (as the
    altakit manager reuses its own within a process: templates compiled once)."""
    import papermill
    from nbconvert import HTMLExporter

    papermill.execute_notebook(str(src), str(out / "pm.ipynb"), parameters=parameters, progress_bar=False,
                               cwd=str(src.parent))  # fmt: skip
    if not _EXPORTER:
        _EXPORTER.append(HTMLExporter())
    body, _ = _EXPORTER[0].from_filename(str(out / "pm.ipynb"))  # type: ignore[attr-defined]
    (out / "pm.html").write_text(body, encoding="utf-8")


def _cpu() -> float:
    """CPU seconds this process (the job's driver, not its kernel) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _times(jobs: Jobs, src: Path, n: int, repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """Fastest wall seconds and fewest driver CPU seconds of each contender on notebook ``src`` with
    ``rows = n``, the contenders interleaved (one run of each per round), so a load that comes and goes
    on a shared machine hits them alike. The driver's CPU time (everything but the kernel) is what a
    manager adds to papermill, and moves little with the machine's load."""
    from altakit_widgets.jobs import AltakitExecutionManager
    from jupyter_scheduler.executors import DefaultExecutionManager

    given = {"rows": str(n)}
    contenders = {
        "altakit": lambda: jobs.run(AltakitExecutionManager, src, given),
        "papermill": lambda: plain_papermill(src, jobs.folder, {"rows": n}),
        "default": lambda: jobs.run(DefaultExecutionManager, src, given),
    }
    plain_papermill(src, jobs.folder, {"rows": n})  # warm: imports, kernel spec, page cache
    jobs.run(AltakitExecutionManager, src, given)
    wall = dict.fromkeys(contenders, float("inf"))
    cpu = dict.fromkeys(contenders, float("inf"))
    for _ in range(repeat):
        for name, fn in contenders.items():
            before = _cpu()
            wall[name] = min(wall[name], best_of(fn, 1, long_s=0))
            cpu[name] = min(cpu[name], _cpu() - before)
    return wall, cpu


def overhead(folder: Path, repeat: int, quick: bool) -> tuple[list[Row], dict[str, float]]:
    os.environ["ALTAKIT_STORE"] = str(folder / "store")
    os.environ["ALTAKIT_HOME"] = str(folder / "home")
    jobs, rows, seconds = Jobs(folder), [], {}
    cases = [("short", SHORT, 1000)] + ([] if quick else [("typical", TYPICAL, 40_000)])
    for label, body, n in cases:
        times, cpu = _times(jobs, notebook(folder / f"{label}.ipynb", body, "rows = 10"), n, repeat)
        seconds |= {f"{label} {k}": v for k, v in times.items()}
        seconds |= {f"{label} {k} driver CPU": v for k, v in cpu.items()}
        note = f"{times['altakit']:.2f} s vs {times['papermill']:.2f} s (ipynb + HTML)"
        rows.append(Row(f"{label} notebook job", "run/s", "altakit manager", rate(1, times["altakit"]),
                        "plain papermill", rate(1, times["papermill"]), goal=0.91, note=note))  # fmt: skip
        rows.append(Row(f"{label} notebook job", "run/s", "altakit manager", rate(1, times["altakit"]),
                        "scheduler default manager", rate(1, times["default"]),
                        note=f"default {times['default']:.2f} s (nbclient, nothing recorded)"))  # fmt: skip
        note = f"{cpu['altakit']:.2f} vs {cpu['papermill']:.2f} CPU-s, kernel excluded"
        rows.append(Row(f"{label} job, driver CPU", "job/CPU-s", "altakit manager", rate(1, cpu["altakit"]),
                        "plain papermill", rate(1, cpu["papermill"]), note=note))  # fmt: skip
    return rows, seconds


# ---------------------------------------------------------------- 2. Create → kernel
@contextlib.contextmanager
def server(folder: Path, *options: str) -> Iterator[tuple[str, str]]:
    """A real Jupyter server (tests/widgets' helper) with altakit's scheduler configuration; yields its
    base URL and token."""
    for extra in (REPO / "tests", REPO / "tests" / "widgets"):
        if str(extra) not in sys.path:
            sys.path.insert(0, str(extra))
    import shutil

    from jupyter_servers import free_port, serve

    config = REPO / "widgets" / "jupyter-config" / "jupyter_jupyter_scheduler_config.json"
    (folder / "jupyter-config").mkdir(parents=True, exist_ok=True)
    shutil.copy(config, folder / "jupyter-config" / config.name)
    port, token = free_port(), "bench-token"
    argv = [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}", *options]  # fmt: skip
    with serve(argv, f"http://127.0.0.1:{port}/api", folder, folder / "store"):
        yield f"http://127.0.0.1:{port}/", token


def _call(base: str, token: str, method: str, path: str, body: object = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Authorization": f"token {token}"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")


def _first_cell(base: str, token: str, folder: Path, i: int) -> tuple[float, float]:
    """Seconds from POST /scheduler/jobs to job ``i``'s first cell, and to the job shown ``COMPLETED``
    (its outputs, ipynb + HTML, written; the job's process does the whole job, imports included)."""
    env = _call(base, token, "GET", "scheduler/runtime_environments")[0]["name"]  # type: ignore[index]
    stamp = folder / f"stamp-{i}.txt"
    body = {"input_uri": "stamp.ipynb", "runtime_environment_name": env, "name": f"bench {i}",
            "output_formats": ["ipynb", "html"], "parameters": {"stamp": repr(str(stamp))}}  # fmt: skip
    start = time.time()
    job_id = _call(base, token, "POST", "scheduler/jobs", body)["job_id"]
    while not (stamp.exists() and stamp.read_text()):
        if time.time() - start > 300:
            raise RuntimeError(f"job {job_id} never ran its first cell")
        time.sleep(0.02)
    seconds = float(stamp.read_text()) - start
    while (status := _call(base, token, "GET", f"scheduler/jobs/{job_id}")["status"]) not in ENDED:
        time.sleep(0.02)
    if status != "COMPLETED":
        raise RuntimeError(f"job {job_id} {status}")
    return seconds, time.time() - start


def create_to_kernel(folder: Path, repeat: int) -> dict[str, list[float]]:
    """Seconds from POST /scheduler/jobs to the notebook's first cell, and to the job done, on two servers
    at once, altakit's scheduler configuration and Jupyter Scheduler's default one, their jobs taking
    turns; ``{"altakit": [...], "default": [...], "altakit done": [...], "default done": [...]}``."""
    folders = {"altakit": folder / "altakit", "default": folder / "default"}
    for place in folders.values():
        place.mkdir(parents=True, exist_ok=True)
        notebook(place / "stamp.ipynb", STAMP, "stamp = ''")
    default = (
        "--SchedulerApp.scheduler_class=jupyter_scheduler.scheduler.Scheduler",
        "--Scheduler.execution_manager_class=jupyter_scheduler.executors.DefaultExecutionManager",
    )
    out: dict[str, list[float]] = {"altakit": [], "default": [], "altakit done": [], "default done": []}
    with server(folders["altakit"]) as ours, server(folders["default"], *default) as theirs:
        for i in range(repeat + 1):  # the first job of each warms its server's imports
            for name, (base, token) in (("altakit", ours), ("default", theirs)):
                seconds, done = _first_cell(base, token, folders[name], i)
                if i:
                    out[name].append(seconds)
                    out[f"{name} done"].append(done)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, the short notebook only")
    args = parser.parse_args()
    repeat = 1 if args.quick else 5
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        folder = Path(tmp)
        rows, seconds = overhead(folder / "overhead", repeat, args.quick)
        turns = create_to_kernel(folder, min(repeat, 3))
    ours, default = turns["altakit"], turns["default"]
    a, d = statistics.median(ours), statistics.median(default)
    rows.append(Row("Create → kernel running", "job/s", "altakit manager", rate(1, a),
                    "scheduler default manager", rate(1, d),
                    note=f"median {a:.2f} s vs {d:.2f} s of {len(ours)} jobs"))  # fmt: skip
    a_done, d_done = statistics.median(turns["altakit done"]), statistics.median(turns["default done"])
    rows.append(Row("Create → job done (own process)", "job/s", "altakit manager", rate(1, a_done),
                    "scheduler default manager", rate(1, d_done),
                    note=f"median {a_done:.2f} s vs {d_done:.2f} s, ipynb + HTML"))  # fmt: skip
    notes = [
        "run/s: one job (kernel start, cells, ipynb + HTML written); goal: altakit within 10 % of papermill",
        "the altakit manager also records the run, stores both copies and redacts secrets",
        f"Create → kernel (POST /scheduler/jobs → first cell), median: altakit {a:.2f} s, default {d:.2f} s",
        f"Create → done (→ COMPLETED, in the job's own process), median: altakit {a_done:.2f} s, "
        f"default {d_done:.2f} s (the default manager records nothing)",
    ]
    report("jobs", rows, notes, seconds=seconds, create_to_kernel=turns)


if __name__ == "__main__":
    main()
