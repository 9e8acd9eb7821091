"""Shared test setup.

Parts a test needs (Chromium, Java, the S3 server, PostgreSQL) are checked with
:func:`need`: missing, the test fails under ``CI=true`` and skips with the
reason elsewhere. Fixture plugins live in ``tests/fixtures/``. Everything a test
writes (Jupyter dirs, IPython, Keras, stores) goes under a temp folder, never
``$HOME``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ["fixtures.parts", "fixtures.s3", "fixtures.jvm", "fixtures.postgres"]

_SANDBOX = Path(tempfile.mkdtemp(prefix="altakit-tests-"))
for var, sub in {
    "JUPYTER_CONFIG_DIR": "jupyter/config",
    "JUPYTER_DATA_DIR": "jupyter/data",
    "JUPYTER_RUNTIME_DIR": "jupyter/runtime",
    "IPYTHONDIR": "ipython",
    "KERAS_HOME": "keras",
    "MPLCONFIGDIR": "mpl",
}.items():
    os.environ.setdefault(var, str(_SANDBOX / sub))
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def local_store(tmp_path):
    """A fresh, empty local store."""
    import altakit

    return altakit.open_store(tmp_path / "store")
