"""Catalog records of sample datasets: their own kinds, and stores written by older altakit still read."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import msgpack
import numpy as np
import pytest

import altakit
from altakit.catalog import catalog_of
from altakit.ingestion import SchemaRegistry


def test_a_sample_type_does_not_collide_with_ingestion_schemas(local_store):
    @altakit.sample(name="sensors")
    class Reading:
        t: float
        values: np.ndarray

    rows = [Reading(float(i), np.arange(3, dtype=np.float32)) for i in range(4)]
    altakit.write_dataset(rows, "readings", store=local_store, progress=False)
    # the sample type's schema is not a table schema of a dataset called "sensors"
    assert SchemaRegistry(local_store).approved("sensors") is None
    assert [r.kind for r in catalog_of(local_store).list()] == ["dataset", "sample_type"]


# ----------------------------------------------------------------- a store written by older altakit
OLD_FIELDS = [
    {"name": "x", "kind": "array", "optional": False, "dtype": "<f4", "shape": [3]},
    {"name": "label", "kind": "int", "optional": False},
    {"name": "note", "kind": "str", "optional": True},
]


def old_schema_doc() -> dict:
    """A sample type's schema exactly as ``shards.register_schema`` recorded it (kind ``schema``)."""
    body = {"name": "legacy", "version": 1, "fields": OLD_FIELDS}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return {**body, "fingerprint": hashlib.sha256(text.encode()).hexdigest()[:16]}


def old_shard(first: int, n: int) -> bytes:
    """A tar of ``<key>.msgpack`` members, each one msgpack map with arrays as [dtype, shape, bytes]."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(first, first + n):
            x = np.full(3, i, dtype="<f4")
            body = msgpack.packb(
                {"x": ["<f4", [3], x.tobytes()], "label": i, "note": None}, use_bin_type=True
            )
            info = tarfile.TarInfo(f"{i:09d}.msgpack")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


@pytest.fixture
def old_store(local_store):
    """A store holding what older altakit wrote: a ``schema`` record and a manifest pointing at it."""
    cat = catalog_of(local_store)
    schema_ref = str(cat.register("schema", "legacy", old_schema_doc()).ref)
    shards = []
    for n, (first, count) in enumerate([(0, 4), (4, 3)]):
        key = f"datasets/legacy/old-write/shard-{n:06d}.tar"
        v = local_store.put(key, old_shard(first, count))
        shards.append(
            {
                "key": key,
                "version": v.id,
                "count": count,
                "first": first,
                "bytes": v.size,
                "checksum": v.checksum,
            }
        )
    manifest = {
        "format": "altakit.shards/1",
        "schema": old_schema_doc(),
        "schema_ref": schema_ref,
        "count": 7,
        "bytes": sum(s["bytes"] for s in shards),
        "shards": shards,
        "description": "written by older altakit",
    }
    cat.register("dataset", "legacy", manifest, links={"schema": schema_ref})
    return local_store


def test_an_old_store_reads_through_the_new_owners(old_store):
    from altakit.datasets.manifest import read_manifest, read_sample_type

    ds = altakit.load_dataset("legacy", store=old_store)
    assert ds.manifest["schema_ref"] == "schema:legacy@1" and len(ds) == 7
    got = list(ds)
    assert [s.label for s in got] == list(range(7)) and all(s.note is None for s in got)
    assert np.array_equal(got[5].x, np.full(3, 5, dtype="<f4"))
    batch = next(ds.batches(7))
    assert batch["label"].tolist() == list(range(7)) and batch["x"].shape == (7, 3)
    assert ds.verify()["ok"]
    # the old schema record reads as a sample type, with the fingerprint it was written with
    sample_type = read_sample_type(old_store, ds.manifest["schema_ref"])
    assert sample_type.schema() == ds.schema and sample_type.fingerprint == old_schema_doc()["fingerprint"]
    assert (
        read_manifest(catalog_of(old_store).resolve("dataset:legacy")).description
        == "written by older altakit"
    )
    # a new version of it links to a new sample_type record; the old records stay as they are
    again = altakit.write_dataset(got, "legacy", store=old_store, progress=False)
    assert again.version == 2 and again.manifest["schema_ref"] == "sample_type:legacy@1"
    assert again.schema.fingerprint == ds.schema.fingerprint
    assert [s.label for s in altakit.load_dataset("legacy@1", store=old_store)] == list(range(7))


def test_a_broken_manifest_is_a_typed_error_naming_the_record(local_store):
    from altakit.datasets.manifest import read_sample_type
    from altakit.errors import CorruptObject

    cat = catalog_of(local_store)
    cat.register("dataset", "half", {"format": "altakit.shards/1", "count": 3})
    with pytest.raises(CorruptObject, match=r"dataset:half@1.*lacks"):
        altakit.load_dataset("half", store=local_store)
    table = cat.register("schema", "sensors", {"fields": {"t": "datetime"}, "approved_by": "ana"})
    with pytest.raises(CorruptObject, match="table schema"):
        read_sample_type(local_store, table.ref)
