"""The ``catalog`` fixture: a fresh store with its index on SQLite, then on PostgreSQL.

Select one with ``-k sqlite`` or ``-k postgres``; the PostgreSQL server comes
from ``tests/fixtures/postgres.py``.
"""

from __future__ import annotations

import pytest

from altakit.catalog import Catalog


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def index_url(request, tmp_path) -> str:
    """An empty index: a SQLite file in ``tmp_path``, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index' / 'catalog.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def catalog(local_store, index_url):
    """A catalog over an empty local store, closed after the test."""
    cat = Catalog(local_store, index_url=index_url)
    yield cat
    cat.close()
