"""A real Jupyter server with Jupyter Scheduler and altakit's execution manager, and a small client for
the scheduler's REST API (``/scheduler/jobs``, ``/scheduler/job_definitions``) and altakit's job routes.

Altakit's scheduler and execution manager are selected by the shipped Jupyter Scheduler config file
(``widgets/jupyter-config/jupyter_jupyter_scheduler_config.json``): ``make env`` copies it into the
venv, whose config Jupyter prefers inside a venv, and it is copied into each server's own config folder
here too (what counts where the user's config folder comes first).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_servers import REPO, Server, free_port, serve

import altakit
from altakit.catalog import Catalog

TOKEN = "jobs-token"
SCHEDULER_CONFIG = REPO / "widgets" / "jupyter-config" / "jupyter_jupyter_scheduler_config.json"
DONE = ("COMPLETED", "FAILED", "STOPPED")


@contextmanager
def scheduler_server(folder: Path, store: Path, *options: str):
    """``jupyter server`` rooted at ``folder`` on ``store``, token :data:`TOKEN`, with extra ``options``."""
    (folder / "jupyter-config").mkdir(parents=True, exist_ok=True)
    shutil.copy(SCHEDULER_CONFIG, folder / "jupyter-config" / SCHEDULER_CONFIG.name)
    port = free_port()
    argv = [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            "--ServerApp.base_url=/user/x/", f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={folder}", *options]  # fmt: skip
    with serve(argv, f"http://127.0.0.1:{port}/user/x/api", folder, store) as server:
        yield Client(server)


@dataclass
class Client:
    """REST calls to one server; every body received is kept in ``bodies`` (leak checks)."""

    server: Server
    bodies: list[bytes] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.server.url.removesuffix("api")

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Authorization": f"token {TOKEN}"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        self.bodies.append(raw)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw

    def environment(self) -> str:
        status, body = self.call("GET", "scheduler/runtime_environments")
        assert status == 200, body
        return body[0]["name"]

    def create_job(self, notebook: str, parameters: dict[str, str] | None = None, **extra: Any) -> str:
        body = {"input_uri": notebook, "runtime_environment_name": self.environment(), "name": notebook,
                "output_formats": ["ipynb", "html"], "parameters": parameters or {}, **extra}  # fmt: skip
        status, answer = self.call("POST", "scheduler/jobs", body)
        assert status == 200, answer
        return answer["job_id"]

    def job(self, job_id: str) -> dict[str, Any]:
        status, body = self.call("GET", f"scheduler/jobs/{job_id}")
        assert status == 200, body
        return body

    def wait(self, job_id: str, statuses: tuple[str, ...] = DONE, timeout: float = 240) -> dict[str, Any]:
        """The job once its status is one of ``statuses`` (a guard against a hang, not a timing check)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)  # a new job reads STOPPED until its process starts it
            if job["status"] in statuses and (job["status"] != "STOPPED" or job.get("start_time")):
                return job
            assert time.monotonic() < deadline, f"job {job_id} still {job['status']}: {self.log_tail()}"
            time.sleep(0.5)

    def download(self, job_id: str, timeout: float = 60) -> dict[str, str]:
        """The job's files copied into the server's root (the Download button): format → text."""
        status, body = self.call("GET", f"scheduler/jobs/{job_id}/download_files")
        assert status == 204, body
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["downloaded"]:
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.3)
        out = {}
        for item in job["job_files"]:
            status, raw = self.call("GET", f"files/{item['file_path']}")
            assert status == 200, item
            out[item["file_format"]] = raw.decode() if isinstance(raw, bytes) else json.dumps(raw)
        return out

    def log_tail(self) -> str:
        return self.server.log.read_text()[-3000:]


def catalog(store: Path) -> Catalog:
    """The catalog of ``store`` with the index its server uses."""
    from jupyter_servers import index_url

    return Catalog(altakit.open_store(store), index_url(store))


def ingest(store: Path, folder: Path, rows: int, day: int) -> None:
    """A new version of table ``sensors`` holding ``rows`` more rows."""
    path = folder / f"day{day}.csv"
    path.write_text("t,v\n" + "".join(f"2026-01-{day:02d}T00:{i:02d}:00,{i}\n" for i in range(rows)))
    report = altakit.ingest(
        str(path), "sensors", {"policy": "add_new_columns"}, store=altakit.open_store(store)
    )
    assert report.rows_written == rows
