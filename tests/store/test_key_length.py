"""A key longer than the filesystem can hold under the store's root is an InvalidKey, not a raw OSError.

The error names the key's length and the limit and no filesystem path; it comes
before anything is written (no temp file, no folder). Local and JVM stores.
"""

from __future__ import annotations

import os

import pytest

import altakit
from altakit.errors import InvalidKey

#: 300 characters in three folders of 99 (every segment is short: only the whole key is too long).
KEY = "/".join(["k" * 99] * 3) + "/x"


def deep_root(tmp_path) -> str:
    """A folder so deep that a 300-char key's versions pass PATH_MAX (4096) under it."""
    root = os.path.join(str(tmp_path), *["d" * 100] * 37)
    os.makedirs(root)
    shortest_version = len(
        "✹/20261207T064652136483103Z_7f837f2e~1~a1fce4363854ff888cff4b8e7875d600~a".encode()
    )
    assert len(root) + 1 + len(KEY) + shortest_version >= 4096  # the filesystem would refuse it
    return root


def check_refused(store, root: str) -> None:
    for write in (lambda: store.put(KEY, b"x"), lambda: store.open_writer(KEY)):
        with pytest.raises(InvalidKey) as caught:
            write()
        error = caught.value
        assert error.fields["key_bytes"] == len(KEY) == 301
        assert 0 < error.fields["limit"] < len(KEY)
        text = str(error)
        assert f"{len(KEY)} bytes" in text and f"{error.fields['limit']}-byte limit" in text
        assert "d" * 100 not in text and str(root) not in text  # no filesystem path
    short = "k/" + "x" * 50
    assert store.put(short, b"fits").size == 4  # the store itself works


def test_local_store_refuses_a_key_too_long_for_its_root(tmp_path):
    root = deep_root(tmp_path)
    store = altakit.open_store(root)
    check_refused(store, root)
    assert os.listdir(os.path.join(root, ".altakit-tmp")) == []
    assert sorted(os.listdir(root)) == [".altakit-tmp", "k"]  # no folder of the long key


def test_jvm_store_refuses_a_key_too_long_for_its_root(jvm_gateway, tmp_path):
    root = deep_root(tmp_path)
    store = altakit.open_store(f"jvm+file://{root}", gateway=jvm_gateway)
    try:
        check_refused(store, root)
    finally:
        store.close()
    assert os.listdir(os.path.join(root, ".altakit-tmp")) == []


def test_local_store_maps_a_too_long_path_to_invalid_key_when_no_limit_was_known(tmp_path, monkeypatch):
    """A filesystem stricter than PATH_MAX says: the OSError becomes an InvalidKey, without the path."""
    from altakit.store.local import LocalStore

    root = deep_root(tmp_path)
    store = altakit.open_store(root)
    monkeypatch.setattr(LocalStore, "_key_limit", lambda self: None)
    with pytest.raises(InvalidKey, match="over what the filesystem allows") as caught:
        store.put(KEY, b"x")
    assert caught.value.__cause__ is None and "d" * 100 not in str(caught.value)
    with pytest.raises(InvalidKey):
        store.versions(KEY)  # a read of such a key: the same error
    assert os.listdir(os.path.join(root, ".altakit-tmp")) == []
