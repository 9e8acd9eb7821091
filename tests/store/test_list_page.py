"""``Store.list_page``: one folder level paged server-side; local, S3, a wrapper, the generic fallback."""

from __future__ import annotations

import pytest

import altakit
from altakit.errors import AltakitError
from altakit.store.crypto import EncryptedStore
from altakit.store.local import LocalStore


class GenericStore(LocalStore):
    """A local store without its fast ``_level``: the base class's fallback pages it."""

    def _level(self, folder, after, limit):
        return altakit.Store._level(self, folder, after, limit)


def fill(store) -> set[str]:
    keys = {f"big/k{i:04d}.txt" for i in range(450)} | {
        "big/sub/x",
        "big/sub2/y/z",
        "top.csv",
        "big/k0001.txt",
    }
    for key in sorted(keys):
        store.put(key, key.encode())
    store.put("big/k0002.txt", b"again")  # two versions: the latest is listed
    store.put("big/gone", b"x")
    store.delete("big/gone")  # a deleted key is left out
    return keys


def walk(store, prefix: str, limit: int) -> tuple[list[str], list[str]]:
    folders, keys, cursor, pages = [], [], None, 0
    while True:
        page = store.list_page(prefix, cursor, limit)
        assert len(page.folders) + len(page.keys) <= limit
        folders += page.folders
        keys += [v.key for v in page.keys]
        pages += 1
        cursor = page.next
        if cursor is None:
            return folders, keys
        assert pages < 1000


def check(store) -> None:
    fill(store)
    folders, keys = walk(store, "big/", 37)
    assert sorted(folders) == ["big/sub/", "big/sub2/"] and len(folders) == 2
    assert sorted(keys) == sorted(f"big/k{i:04d}.txt" for i in range(450)) and len(keys) == 450
    page = store.list_page("big/", None, 1000)
    latest = {v.key: v for v in page.keys}
    assert store.get("big/k0002.txt", version=latest["big/k0002.txt"].id) == b"again"
    assert page.next is None
    root = store.list_page("", None, 10)
    assert root.folders == ["big/"] and [v.key for v in root.keys] == ["top.csv"]  # no _altakit/
    assert store.list_page("nothing/").keys == [] and store.list_page("nothing/").next is None
    for bad in ("big", "/abs/", "a/../b/"):
        with pytest.raises(AltakitError):
            store.list_page(bad)
    with pytest.raises(AltakitError):
        store.list_page("big/", None, 0)


def test_local(tmp_path):
    store = altakit.open_store(tmp_path / "s")
    store.put("_altakit/catalog/x", b"{}", reserved=True)
    (tmp_path / "s" / "big").mkdir()
    for i in range(40):  # stray files in a store folder are not entries
        (tmp_path / "s" / "big" / f"k{i:04d}.stray").write_bytes(b"")
    check(store)


def test_generic_fallback(tmp_path):
    check(GenericStore(tmp_path / "s"))


def test_encrypted_wrapper(tmp_path):
    check(EncryptedStore(LocalStore(tmp_path / "s"), key=b"k" * 32))


def test_s3(s3_store):
    check(s3_store)
