"""Shard versions are verified once per unchanged file; any change to the file is caught again."""

from __future__ import annotations

import os

import pytest
from datakit_types import digits

import altakit
from altakit.datasets.fetch import ShardFetcher, Trust
from altakit.errors import DataError


@pytest.fixture
def trust_dir(tmp_path, monkeypatch):
    """A fresh place for the verified-version markers (as a new machine would have)."""
    monkeypatch.setenv("ALTAKIT_SHARD_CACHE", str(tmp_path / "shard-cache"))
    return tmp_path / "shard-cache"


@pytest.fixture
def three(local_store, trust_dir):
    """30 digits in 3 shards of 10."""
    return altakit.write_dataset(digits(30), "three", store=local_store, maxcount=10, progress=False)


def shard_path(ds, n: int):
    entry = ds.manifest["shards"][n]
    return ds.store._path(ds.store.resolve(entry["key"], entry["version"]).name)


def epoch(ds) -> list[int]:
    return [i for b in ds.batches(7) for i in b["idx"].tolist()]


def test_each_version_is_hashed_once_across_readers_and_processes(three, trust_dir):
    first = altakit.load_dataset("three", store=three.store)
    assert epoch(first) == list(range(30)) and first.source.fetcher.verified == 3
    assert epoch(first) == list(range(30)) and first.source.fetcher.verified == 3  # trusted now
    again = altakit.load_dataset("three", store=three.store)
    assert epoch(again) == list(range(30)) and again.source.fetcher.verified == 0
    assert len(list(trust_dir.glob("verified-*/*"))) == 3  # what DataLoader workers and later runs see
    loader = again.torch(8, shuffle=False, num_workers=2)
    assert sorted(i for b in loader for i in b["idx"].tolist()) == list(range(30))


def test_a_byte_damaged_after_the_first_read_is_caught(three):
    ds = altakit.load_dataset("three", store=three.store)
    epoch(ds)
    path = shard_path(three, 1)
    st = os.stat(path)
    raw = bytearray(path.read_bytes())
    raw[700] ^= 0xFF
    with open(path, "r+b") as f:  # in place: same inode and size
        f.write(raw)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # even with the old mtime back
    with pytest.raises(DataError, match="checksum") as info:
        epoch(ds)
    assert info.value.fields["shard"] == three.manifest["shards"][1]["key"]
    with pytest.raises(DataError, match="checksum"):
        epoch(altakit.load_dataset("three", store=three.store))
    report = altakit.load_dataset("three", store=three.store).verify()
    assert not report["ok"] and len(report["errors"]) == 1


def test_dataset_verify_rehashes_trusted_versions(three):
    epoch(altakit.load_dataset("three", store=three.store))
    fetcher = ShardFetcher(three.store, None, 0, trust=False)
    for entry in three.manifest["shards"]:
        fetcher.fetch("three", entry)
    assert fetcher.verified == 3


def test_verify_false_checks_sizes_only(three):
    ds = altakit.load_dataset("three", store=three.store, verify=False)
    assert epoch(ds) == list(range(30)) and ds.source.fetcher.verified == 0


def test_markers_in_a_folder_others_can_write_are_not_trusted(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert Trust(shared).folder is None
    assert Trust(tmp_path / "mine").folder == tmp_path / "mine"


def test_truncated_shard_is_named_not_mapped_past_its_end(three):
    path = shard_path(three, 2)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="bytes, manifest says") as info:
        epoch(altakit.load_dataset("three", store=three.store))
    assert info.value.fields["shard"] == three.manifest["shards"][2]["key"]
