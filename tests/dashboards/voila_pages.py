"""Helpers of the dashboard tests: Voila serving ``notebooks/dashboards/`` as the image does, a page.

:func:`dashboards` starts Voila on the folder with the flags ``start-altakit voila`` passes (sources
stripped, no tracebacks, idle kernels culled), here with a short culling window; :func:`kernels`
counts the kernel processes the server runs.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jupyter_servers import REPO, Server, free_port, serve

DASHBOARDS = REPO / "notebooks" / "dashboards"
WAIT = 120_000


def cull_flags(idle: int, interval: int) -> list[str]:
    """The culling options start-altakit and `make lab` pass, with a window for tests."""
    manager = "--MappingKernelManager"
    return [f"{manager}.cull_idle_timeout={idle}", f"{manager}.cull_interval={interval}",
            f"{manager}.cull_connected=False"]  # fmt: skip


@contextmanager
def dashboards(folder: Path, store: Path, *extra: str) -> Iterator[Server]:
    """Voila on ``notebooks/dashboards`` (a folder: the pages link to each other); the environment is ours."""
    port = free_port()
    argv = [sys.executable, "-m", "voila", str(DASHBOARDS), "--no-browser", "--Voila.ip=127.0.0.1",
            f"--port={port}", "--strip_sources=True", "--show_tracebacks=False", *extra]  # fmt: skip
    with serve(argv, f"http://127.0.0.1:{port}/", folder, store) as server:
        yield server


def kernels(server: Server) -> int:
    """Kernel processes the server runs now (children started with ipykernel)."""
    import psutil

    count = 0
    for child in psutil.Process(server.proc.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):  # exited while we looked
            count += "ipykernel_launcher" in " ".join(child.cmdline())
    return count
