"""The kernel of one notebook execution: started before papermill, shut down behind the run's keeping.

:func:`altakit.runs.notebook.executing` starts the kernel itself and hands it to papermill (``km=``),
instead of letting papermill start it, for two reasons of speed that change nothing in what runs:

- the kernel process boots (imports ipykernel, ~0.5 s of its own CPU) while this process imports
  papermill and reads and parameterizes the notebook, instead of after;
- once the last cell ran, the kernel is asked to shut down (as papermill would: an interrupt, then a
  shutdown request on the control channel) and this process keeps the run (redaction, HTML, store,
  catalog) while the kernel ends; :meth:`KernelRun.wait` then waits for it as papermill would have
  (killed if it does not end within the kernel manager's ``shutdown_wait_time``).

The kernel listens on IPC sockets (Unix) rather than TCP (:func:`kernel_manager_class`).

Example:
    >>> run = KernelRun("python3", ".")
    >>> run.wait()  # never started: nothing to do
    >>> run.manager is None
    True
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)
#: How often :meth:`KernelRun.wait` looks whether the kernel process has ended (seconds).
POLL_SECONDS = 0.01


def kernel_manager_class() -> type[Any]:
    """The kernel manager of notebook runs: jupyter_client's ``AsyncKernelManager`` on IPC sockets,
    remembering the clients it made (:class:`KernelRun` stops their channels).

    The kernel runs on this machine for this user only: Unix sockets in the Jupyter runtime folder need
    no TCP port, and ipykernel then has no unencrypted-TCP warning to print for every notebook.
    Windows has no IPC transport: kernels keep TCP there.

    Example:
        >>> kernel_manager_class()(kernel_name="python3").transport in ("ipc", "tcp")
        True
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class RunKernelManager(AsyncKernelManager):  # type: ignore[misc]
        clients: list[Any]

        def client(self, **kwargs: Any) -> Any:
            made = super().client(**kwargs)
            self.__dict__.setdefault("clients", []).append(made)
            return made

    if os.name == "nt":
        return RunKernelManager

    class IPCKernelManager(RunKernelManager):
        @default("transport")
        def _transport_default(self) -> str:
            return "ipc"

        @default("ip")
        def _ip_default(self) -> str:
            path = os.path.splitext(self.connection_file)[0] + "-ipc" if self.connection_file else ""
            if path and len(path) < 90:  # a Unix socket path holds ~104 bytes, with "-<port>" after it
                return path
            return os.path.join(tempfile.gettempdir(), f"altakit-kernel-{os.getpid()}-{id(self):x}-ipc")

    return IPCKernelManager


class KernelRun:
    """One kernel for one notebook execution: :meth:`start`, give :attr:`manager` to papermill
    (``km=``), :meth:`stop` when it returned, :meth:`wait` when the run is kept.

    Args:
        kernel: The kernel name (``python3``).
        cwd: The folder the kernel runs in (the notebook's).
    """

    def __init__(self, kernel: str, cwd: str | Path) -> None:
        self.kernel = kernel
        self.cwd = str(cwd)
        self.manager: Any = None
        self._stopping = False

    def start(self) -> None:
        """Launch the kernel process (in the current environment); returns without waiting for it to be
        ready (papermill's client waits, up to its start timeout).

        Raises:
            Exception: What jupyter_client raises (no such kernel, the process could not start).
        """
        from jupyter_core.utils import run_sync

        self.manager = kernel_manager_class()(kernel_name=self.kernel)
        # as nbclient starts its own kernels: IPython history in memory, not in the user's history file
        extra = ["--HistoryManager.hist_file=:memory:"] if self.manager.ipykernel else []
        run_sync(self.manager.start_kernel)(extra_arguments=extra, cwd=self.cwd)

    def stop(self) -> None:
        """Ask the kernel to shut down (an interrupt, then a shutdown request); do not wait for it."""
        from jupyter_core.utils import run_sync

        km = self.manager
        if km is None or self._stopping:
            return
        self._stopping = True
        try:
            if run_sync(km.is_alive)():
                run_sync(km.interrupt_kernel)()
                run_sync(km.request_shutdown)()
        except Exception as exc:  # it is ending anyway; wait() kills what is left
            _log.debug("kernel shutdown request failed: %s", exc)

    def wait(self) -> None:
        """Wait for the kernel to end (asked to shut down first if :meth:`stop` was not called; killed
        if it takes longer than ``shutdown_wait_time``), then remove its connection file and stop the
        clients' channels. What papermill's own shutdown does, looking every :data:`POLL_SECONDS`."""
        from jupyter_core.utils import run_sync

        if self.manager is None:
            return
        self.stop()
        km, self.manager = self.manager, None
        try:
            if km.has_kernel:  # polled every 10 ms, not jupyter_client's 100 ms: a job ends that much sooner
                run_sync(km.finish_shutdown)(pollinterval=POLL_SECONDS)
        except RuntimeError as exc:  # as nbclient: a kernel that is already gone is fine
            if "No kernel is running!" not in str(exc):
                raise
        finally:
            try:
                run_sync(km.cleanup_resources)()
            finally:
                for client in km.__dict__.get("clients", []):
                    client.stop_channels()
