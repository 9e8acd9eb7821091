"""Root test setup, applied to every collected path (tests/ and the notebooks nbval runs).

Everything a test or a kernel it starts writes (Jupyter dirs, IPython, Keras, the
default store) goes under one temp folder, never ``$HOME`` or the repository.
"""

from __future__ import annotations

import faulthandler
import importlib
import os
import tempfile
from pathlib import Path

import pytest

_SANDBOX = Path(tempfile.mkdtemp(prefix="altakit-tests-"))
for _var, _sub in {
    "JUPYTER_CONFIG_DIR": "jupyter/config",
    "JUPYTER_DATA_DIR": "jupyter/data",
    "JUPYTER_RUNTIME_DIR": "jupyter/runtime",
    "IPYTHONDIR": "ipython",
    "KERAS_HOME": "keras",
    "MPLCONFIGDIR": "mpl",
    "ALTAKIT_HOME": "home",
}.items():
    os.environ.setdefault(_var, str(_SANDBOX / _sub))
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """A crash prints the thread that crashed, only: CI shows the head of a long log, not the end.

    It writes where pytest's faulthandler plugin does (its copy of stderr); without that plugin (or
    if pytest moves its key) pytest's own setting, every thread, stays.
    """
    key = getattr(importlib.import_module("_pytest.faulthandler"), "fault_handler_stderr_fd_key", None)
    if key is not None and key in config.stash:
        faulthandler.enable(file=config.stash[key], all_threads=False)
