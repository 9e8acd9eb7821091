"""Shared test setup.

Parts a test needs (Chromium, Java, the S3 server, PostgreSQL) are checked with
:func:`need`: missing, the test fails under ``CI=true`` and skips with the
reason elsewhere. Fixture plugins live in ``tests/fixtures/``. The sandboxed environment
(Jupyter dirs, ``ALTAKIT_HOME`` …) is set in the root ``conftest.py``.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "fixtures.parts",
    "fixtures.s3",
    "fixtures.jvm",
    "fixtures.postgres",
    "fixtures.readings",
    "fixtures.duck",
]


@pytest.fixture
def local_store(tmp_path):
    """A fresh, empty local store."""
    import altakit

    return altakit.open_store(tmp_path / "store")
