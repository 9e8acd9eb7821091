"""Bad input: errors name dataset, shard and sample key; on_error="skip" counts and reports skips."""

from __future__ import annotations

import io
import tarfile
import warnings

import msgpack
import numpy as np
import pytest
from datakit_types import digits
from typer.testing import CliRunner

import altakit
from altakit.cli import app
from altakit.datasets.manifest import register_manifest
from altakit.datasets.npy import npy_bytes
from altakit.datasets.shards import parse_tar
from altakit.errors import DataError

BAD_KEY = "000000012"  # the third sample of shard 1


@pytest.fixture
def small(local_store):
    """30 digits in 3 shards of 10."""
    return altakit.write_dataset(digits(30), "small", store=local_store, maxcount=10, progress=False)


def shard_bytes(ds, n: int) -> bytes:
    entry = ds.manifest["shards"][n]
    return ds.store.get(entry["key"], entry["version"])


def with_shard(ds, n: int, data: bytes, **entry_changes) -> int:
    """Register a new version of ``ds`` whose shard ``n`` holds ``data``; returns the version."""
    entry = dict(ds.manifest["shards"][n])
    v = ds.store.put(entry["key"], data)
    entry.update(version=v.id, bytes=v.size, checksum=v.checksum, **entry_changes)
    doc = dict(ds.manifest)
    doc["shards"] = [entry if i == n else s for i, s in enumerate(doc["shards"])]
    return register_manifest(ds.store, ds.name, doc).version


def replace_members(data: bytes, key: str, bodies: dict[str, bytes]) -> bytes:
    """The tar with member ``<key>.<ext>`` holding ``bodies[ext]`` instead, for each ``ext``."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data)) as src,
        tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as dst,
    ):
        for m in src.getmembers():
            body = src.extractfile(m).read()
            stem, _, ext = m.name.partition(".")
            if stem == key and ext in bodies:
                body = bodies[ext]
            m.size = len(body)
            dst.addfile(m, io.BytesIO(body))
    return out.getvalue()


def good_doc(ds) -> dict:
    keys, starts, sizes = parse_tar(shard_bytes(ds, 1), {})
    i = keys.index(BAD_KEY)
    return msgpack.unpackb(shard_bytes(ds, 1)[starts[i] : starts[i] + sizes[i]])


def bad_payloads(ds) -> dict[str, dict[str, bytes]]:
    """Per error message: the members of sample BAD_KEY to replace (``mp``: map, ``image.npy``: array)."""
    doc = good_doc(ds)
    assert "image" not in doc  # arrays are .npy members
    missing = {k: v for k, v in doc.items() if k != "label"}
    wrong_type = {**doc, "label": "seven"}
    twice = {**doc, "image": ["|u1", [8, 8], np.zeros((8, 8), "u1").tobytes()]}
    return {
        "corrupt msgpack": {"mp": b"\xc1\xc1 not msgpack"},
        "missing field 'label'": {"mp": msgpack.packb(missing)},
        "dtype <f4": {"image.npy": npy_bytes(np.zeros((8, 8), "<f4"))},
        "shape \\(4, 16\\)": {"image.npy": npy_bytes(np.zeros((4, 16), "u1"))},
        "should be int": {"mp": msgpack.packb(wrong_type)},
        "corrupt .npy member": {"image.npy": npy_bytes(np.zeros((8, 8), "u1"))[:-5]},
        "both in the map and an .npy member": {"mp": msgpack.packb(twice)},
    }


def assert_names(exc: DataError, ds, key: str | None = BAD_KEY) -> None:
    shard = ds.manifest["shards"][1]["key"]
    assert exc.fields["dataset"] == "small" and exc.fields["shard"] == shard
    assert "'small'" in str(exc) and shard in str(exc)
    if key is not None:
        assert exc.fields["key"] == key and key in str(exc)


@pytest.mark.parametrize("case", range(7))
def test_bad_sample_raises_naming_dataset_shard_and_key(small, case):
    match, payload = list(bad_payloads(small).items())[case]
    version = with_shard(small, 1, replace_members(shard_bytes(small, 1), BAD_KEY, payload))
    ds = altakit.load_dataset(f"small@{version}", store=small.store)
    for read in (
        lambda: list(ds),
        lambda: list(ds.batches(7, shuffle=True, seed=1)),
        lambda: list(ds.torch(7, num_workers=2)),
    ):
        with pytest.raises(DataError, match=match) as info:
            read()
        assert_names(info.value, small)
    report = ds.verify()
    assert not report["ok"] and report["errors"][0]["key"] == BAD_KEY and report["samples"] == 29


@pytest.mark.parametrize("case", [0, 3])
def test_skip_counts_and_reports_bad_samples(small, case):
    payload = list(bad_payloads(small).values())[case]
    version = with_shard(small, 1, replace_members(shard_bytes(small, 1), BAD_KEY, payload))
    ds = altakit.load_dataset(f"small@{version}", store=small.store, on_error="skip")
    with pytest.warns(UserWarning, match="skipped 1 bad samples"):
        got = [s.idx for s in ds]
    assert ds.skipped == 1 and sorted(got) == [i for i in range(30) if i != 12]
    loader = ds.torch(4, seed=2, num_workers=2)
    with pytest.warns(UserWarning, match="skipped 1 bad samples"):
        flat = sorted(i for b in loader for i in b["idx"].tolist())
    assert loader.skipped == 1 and flat == [i for i in range(30) if i != 12]


def test_truncated_tar(small):
    data = shard_bytes(small, 1)
    version = with_shard(small, 1, data[: len(data) // 2 + 100])
    ds = altakit.load_dataset(f"small@{version}", store=small.store)
    with pytest.raises(DataError, match="truncated tar") as info:
        list(ds.batches(8))
    assert_names(info.value, small, key=None)
    assert info.value.fields["key"].startswith("0000000")
    skipping = altakit.load_dataset(f"small@{version}", store=small.store, on_error="skip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert sum(b.size for b in skipping.batches(8)) == 20
    assert skipping.skipped == 10 and "skipped 10" in str(caught[-1].message)


def test_manifest_disagreeing_with_shards(small):
    version = with_shard(small, 1, shard_bytes(small, 1), count=11)
    ds = altakit.load_dataset(f"small@{version}", store=small.store)
    with pytest.raises(DataError, match="10 samples, manifest says 11") as info:
        list(ds)
    assert_names(info.value, small, key=None)
    assert info.value.fields["key"] == "000000019"  # the last sample the shard does hold
    fewer = with_shard(small, 1, shard_bytes(small, 1)[: -2 * 512 - 10 * 512] + b"\0" * 1024)
    with pytest.raises(DataError, match="manifest says"):
        list(altakit.load_dataset(f"small@{fewer}", store=small.store))
    out = CliRunner().invoke(app, ["dataset", "verify", f"small@{version}", "--store", str(small.store.root)])
    assert out.exit_code == 1 and "FAILED" in out.output


def test_damaged_bytes_in_the_store(small):
    entry = small.manifest["shards"][2]
    version = small.store.resolve(entry["key"], entry["version"])
    path = small.store._path(version.name)
    raw = bytearray(path.read_bytes())
    raw[700] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="checksum") as info:
        list(small)
    assert info.value.fields["shard"] == entry["key"] and info.value.fields["dataset"] == "small"
