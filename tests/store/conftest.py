"""The ``store`` fixture: every backend and wrapper, each fresh and empty.

``local_store`` lives in ``tests/conftest.py``; ``s3_store`` and ``jvm_store`` in
``tests/fixtures/s3.py`` and ``tests/fixtures/jvm.py``. The wrapper stores here
wrap a local store; their bounds are small so tests reach both cache layers.
"""

from __future__ import annotations

import os

import pytest

KINDS = ["local", "s3", "jvm", "cached", "encrypted", "cached_encrypted"]


@pytest.fixture(params=KINDS)
def store(request):
    """Each backend and wrapper in turn (select with ``-k local``, ``-k cached`` …)."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def cached_store(local_store, tmp_path):
    """A local store behind a cache: objects up to 1 MiB in memory, larger ones on disk."""
    from altakit.store import CachedStore

    return CachedStore(
        local_store,
        memory_bytes=8 << 20,
        max_object_bytes=1 << 20,
        disk_dir=tmp_path / "cache",
        disk_bytes=64 << 20,
    )


@pytest.fixture
def encrypted_store(local_store):
    """A local store holding only ciphertext (fresh random master key)."""
    from altakit.store import EncryptedStore

    return EncryptedStore(local_store, key=os.urandom(32))


@pytest.fixture
def cached_encrypted_store(local_store, tmp_path):
    """A cache (memory and disk) over an encrypted local store with small segments."""
    from altakit.store import CachedStore, EncryptedStore

    inner = EncryptedStore(local_store, key=os.urandom(32), segment_bytes=4096)
    return CachedStore(
        inner,
        memory_bytes=4 << 20,
        max_object_bytes=256 << 10,
        disk_dir=tmp_path / "cache",
        disk_bytes=48 << 20,
    )
