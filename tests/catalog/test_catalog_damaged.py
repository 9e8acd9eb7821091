"""One damaged or foreign object under ``_altakit/`` never takes the catalog down (local store, loopback S3).

The damage is done the way it happens: a byte flipped in the stored file (or S3 object),
or an object written straight to the disk or the bucket, past the store's guard.
"""

from __future__ import annotations

import warnings

import pytest

from altakit.catalog import Catalog, ledger
from altakit.catalog.check import QUARANTINE, check_records
from altakit.catalog.records import DamagedRecordWarning
from altakit.errors import CorruptObject, InvalidKey
from altakit.store.names import Version, checksum, new_id

STORES = ["local_store", "s3_store"]


@pytest.fixture(params=STORES)
def store(request):
    return request.getfixturevalue(request.param)


def raw_get(store, name: str) -> bytes:
    """The stored bytes of object ``name``, read past the store (no verification)."""
    if hasattr(store, "bucket"):
        return store._client().get_object(Bucket=store.bucket, Key=store._key(name))["Body"].read()
    return store._path(name).read_bytes()


def raw_put(store, name: str, data: bytes) -> None:
    """Write object ``name`` past the store: straight to its file, or a plain S3 PUT."""
    if hasattr(store, "bucket"):
        store._client().put_object(Bucket=store.bucket, Key=store._key(name), Body=data)
        return
    path = store._path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.chmod(0o644)
    path.write_bytes(data)


def flip_byte(store, key: str) -> None:
    """Flip one bit in the middle of the latest version of ``key``, in place."""
    name = store.info(key).name
    data = bytearray(raw_get(store, name))
    data[len(data) // 2] ^= 0x01
    raw_put(store, name, bytes(data))


def place_foreign(store, key: str, data: bytes) -> Version:
    """A new, well-named version of ``key`` holding ``data``, written past the store's guard."""
    version = Version(key, new_id(), len(data), checksum(data), "intruder")
    raw_put(store, version.name, data)
    return version


def fresh_catalog(store, tmp_path, name: str) -> Catalog:
    """A client that builds its index from the store, as every new process does."""
    return Catalog(store, index_url=f"sqlite:///{tmp_path / name}.sqlite")


def fill(cat: Catalog) -> None:
    cat.register("dataset", "a", {"rows": 1})
    cat.register("dataset", "b", {"rows": 1})
    cat.register("dataset", "b", {"rows": 2})
    cat.register("model", "m", {"auc": 0.9}, links={"trained_on": "dataset:b"})


def refs(cat: Catalog) -> list[str]:
    return [str(r.ref) for r in cat.list()]


def test_a_flipped_byte_in_one_record_is_passed_over_reported_and_repaired(store, tmp_path) -> None:
    writer = fresh_catalog(store, tmp_path, "writer")
    fill(writer)
    key = ledger.record_key("dataset", "a", 1)
    flip_byte(store, key)
    damaged_bytes = raw_get(store, store.info(key).name)

    cat = fresh_catalog(store, tmp_path, "reader")
    with pytest.warns(DamagedRecordWarning, match="dataset:a@1"):
        assert refs(cat) == ["dataset:b@2", "model:m@1"]  # list works, without the damaged record
    assert [e.fields["key"] for e in cat.damaged] == [key]
    assert cat.register("dataset", "b", {"rows": 3}).version == 3  # and so does register
    [(_, relation, target)] = cat.lineage("model:m@1")
    assert (relation, str(target)) == ("trained_on", "dataset:b@2")
    with pytest.warns(DamagedRecordWarning):
        assert cat.reindex() == 4  # and reindex
    with pytest.raises(CorruptObject) as caught:  # reading it fails, with a hint that can be followed
        cat.get("dataset", "a")
    assert key in str(caught.value)
    assert f"altakit catalog check --repair --store {store.url}" in caught.value.hint

    [finding] = check_records(store)
    assert (finding.kind, finding.subject, finding.repaired) == ("damaged_record", key, False)
    assert "checksum" in finding.message
    [finding] = check_records(store, repair=True)
    assert finding.repaired
    assert check_records(store) == []
    # the bytes were moved aside, unchanged, not deleted
    [aside] = store.list(QUARANTINE)
    assert aside.key.startswith(f"{QUARANTINE}catalog/dataset/a/@/rec/1.json/")
    assert raw_get(store, aside.name) == damaged_bytes
    with warnings.catch_warnings():
        warnings.simplefilter("error", DamagedRecordWarning)
        assert refs(fresh_catalog(store, tmp_path, "after")) == ["dataset:b@3", "model:m@1"]
        assert cat.register("dataset", "a", {"rows": 5}).version == 2


def test_a_foreign_non_json_object_is_passed_over_reported_and_moved_aside(store, tmp_path) -> None:
    fill(fresh_catalog(store, tmp_path, "writer"))
    at_record = ledger.record_key("dataset", "c", 1)
    place_foreign(store, at_record, b"PK\x03\x04 a zip, not a record")
    place_foreign(store, f"{ledger.ROOT}notes.txt", b"left here by hand")
    no_record = f"{ledger.ROOT}NotAKind/x/@/rec/1.json"  # a key no record can have
    place_foreign(store, no_record, b"{}")

    cat = fresh_catalog(store, tmp_path, "reader")
    with pytest.warns(DamagedRecordWarning) as warned:
        assert refs(cat) == ["dataset:a@1", "dataset:b@2", "model:m@1"]
    assert {e.fields["key"] for e in cat.damaged} == {at_record, no_record}
    assert len(warned) == 2 and any("not JSON" in str(w.message) for w in warned)
    assert cat.register("model", "m", {"auc": 0.95}).version == 2

    found = {(f.kind, f.subject) for f in check_records(store)}
    assert found == {
        ("damaged_record", at_record),
        ("foreign_object", f"{ledger.ROOT}notes.txt"),
        ("foreign_object", no_record),
    }
    assert all(f.repaired for f in check_records(store, repair=True))
    assert check_records(store) == []
    assert len(store.list(QUARANTINE)) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", DamagedRecordWarning)
        assert refs(fresh_catalog(store, tmp_path, "after")) == ["dataset:a@1", "dataset:b@2", "model:m@2"]
        assert cat.register("dataset", "c", {"rows": 1}).version == 1  # its number was never claimed


def test_repair_restores_the_record_a_foreign_version_covered(local_store, tmp_path) -> None:
    cat = fresh_catalog(local_store, tmp_path, "writer")
    good = cat.register("dataset", "a", {"rows": 1})
    key = ledger.record_key("dataset", "a", 1)
    place_foreign(local_store, key, b"\x00\x01 not a record")
    with pytest.raises(CorruptObject, match="not JSON"):
        cat.get("dataset", "a", 1)
    [finding] = check_records(local_store, repair=True)
    assert finding.repaired and "restores version" in finding.message
    assert cat.get("dataset", "a", 1) == good
    assert check_records(local_store) == []


@pytest.mark.parametrize("kind", STORES)
def test_writes_under_the_reserved_prefix_are_refused(kind, request) -> None:
    store = request.getfixturevalue(kind)
    store.put("raw/a.csv", b"t\n1\n")
    key = ledger.record_key("dataset", "x", 1)
    writes = {
        "put": lambda **kw: store.put(key, b"junk", **kw),
        "open_writer": lambda **kw: store.open_writer(key, **kw).close(),
        "copy": lambda **kw: store.copy("raw/a.csv", key, **kw),
    }
    for what, write in writes.items():
        with pytest.raises(InvalidKey, match="reserved prefix") as caught:
            write()
        assert "catalog.register" in caught.value.hint, what
    assert store.list("_altakit/") == []  # nothing was written
    version = store.put(key, b"{}", reserved=True)  # altakit's own route
    for what, write in {
        "delete": lambda **kw: store.delete(key, **kw),
        "purge": lambda **kw: store.purge(key, version, **kw),
    }.items():
        with pytest.raises(InvalidKey, match="reserved prefix"):
            write()
        assert store.get(key) == b"{}", what
    store.purge(key, version, reserved=True)
    assert store.list("_altakit/") == []
