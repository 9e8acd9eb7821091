"""fsspec's own abstract test suite over the ``altakit://`` filesystem, on a local and an S3 store.

``fsspec.tests.abstract`` is the suite fsspec's implementations run (copy, get,
put, open, pipe). Each case gets a fresh, empty store (``local_store`` or
``s3_store``, the moto server on loopback). Directories are derived from keys,
so the filesystem declares ``supports_empty_directories = False``, as s3fs does.
"""

from __future__ import annotations

import posixpath

import pytest
from fsspec.tests.abstract import AbstractFixtures
from fsspec.tests.abstract.copy import AbstractCopyTests
from fsspec.tests.abstract.get import AbstractGetTests
from fsspec.tests.abstract.open import AbstractOpenTests
from fsspec.tests.abstract.pipe import AbstractPipeTests
from fsspec.tests.abstract.put import AbstractPutTests

from altakit.store.fsspec import StoreFileSystem


class StoreFixtures(AbstractFixtures):
    """The fixtures fsspec's suite asks for, over a fresh store of each kind."""

    @pytest.fixture(params=["local", "s3"])
    def fs(self, request):
        return StoreFileSystem(store=request.getfixturevalue(f"{request.param}_store"))

    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def fs_path(self):
        return "abstract"

    @pytest.fixture
    def supports_empty_directories(self):
        return False


class TestStoreCopy(StoreFixtures, AbstractCopyTests):
    pass


class TestStoreGet(StoreFixtures, AbstractGetTests):
    pass


class TestStorePut(StoreFixtures, AbstractPutTests):
    pass


class TestStoreOpen(StoreFixtures, AbstractOpenTests):
    pass


class TestStorePipe(StoreFixtures, AbstractPipeTests):
    pass
