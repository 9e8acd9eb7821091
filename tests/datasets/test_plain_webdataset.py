"""Independent readers: altakit shards open with plain ``webdataset`` (its default decoders) and ``tarfile``.

These tests are the contract that the shard format stays open: nothing here imports altakit to read.
"""

from __future__ import annotations

import tarfile
from typing import Annotated

import numpy as np
import pytest

import altakit
from altakit.datasets.samples import Array, sample


@sample(name="open_record")
class Record:
    image: Annotated[np.ndarray, Array("float32", (3, 4))]
    mask: Annotated[np.ndarray, Array("uint8", (5,))]
    label: int
    score: float
    flag: bool
    text: str
    blob: bytes
    note: str | None = None


def records(n: int) -> list[Record]:
    rng = np.random.default_rng(7)
    return [
        Record(
            rng.standard_normal((3, 4)).astype(np.float32),
            rng.integers(0, 255, 5, dtype=np.uint8),
            i,
            i / 3,
            i % 2 == 0,
            f"text {i} é",
            bytes([i % 256]) * 3,
            None if i % 3 else f"note {i}",
        )
        for i in range(n)
    ]


def shard_files(ds, tmp_path) -> list[str]:
    paths = []
    for i, entry in enumerate(ds.manifest["shards"]):
        path = tmp_path / f"shard-{i:06d}.tar"
        path.write_bytes(ds.store.get(entry["key"], entry["version"]))
        paths.append(str(path))
    return paths


def test_plain_webdataset_default_decode_gives_every_value(local_store, tmp_path):
    wds = pytest.importorskip("webdataset")
    written = records(25)
    ds = altakit.write_dataset(written, "open", store=local_store, maxcount=10, progress=False)
    paths = shard_files(ds, tmp_path)
    assert len(paths) == 3
    got = list(wds.WebDataset(paths, shardshuffle=False, empty_check=False).decode())
    assert [s["__key__"] for s in got] == [f"{i:09d}" for i in range(25)]
    for rec, s in zip(written, got, strict=True):
        doc = s["mp"]  # the default decoders unpack .mp members: a dict, not bytes
        assert isinstance(doc, dict), type(doc)
        assert sorted(doc) == ["blob", "flag", "label", "note", "score", "text"]
        for name in ("label", "score", "flag", "text", "blob", "note"):
            assert doc[name] == getattr(rec, name), name
        for name in ("image", "mask"):
            arr = s[f"{name}.npy"]  # each array field is its own .npy member: an ndarray
            assert isinstance(arr, np.ndarray) and arr.dtype == getattr(rec, name).dtype
            np.testing.assert_array_equal(arr, getattr(rec, name))


def test_tarfile_lists_conventional_member_names(local_store, tmp_path):
    ds = altakit.write_dataset(records(12), "open", store=local_store, maxcount=5, progress=False)
    for path in shard_files(ds, tmp_path):
        with tarfile.open(path) as tar:
            members = tar.getmembers()
            assert members and all(m.isfile() for m in members)
            names = [m.name.split(".", 1) for m in members]
            assert all(key.isdigit() and len(key) == 9 for key, _ in names)
            assert [ext for _, ext in names[:3]] == ["mp", "image.npy", "mask.npy"]


def test_old_msgpack_member_shards_still_read(local_store):
    """Shards written before the ``.mp`` name (members ``<key>.msgpack``) read through both index paths."""
    from altakit.datasets.shards import index_tar, parse_tar

    ds = altakit.write_dataset(records(4), "open", store=local_store, progress=False)
    entry = ds.manifest["shards"][0]
    data = local_store.get(entry["key"], entry["version"])
    old = rename_members(data, ".mp", ".msgpack")
    keys, starts, sizes = parse_tar(old, {})
    assert keys == [f"{i:09d}" for i in range(4)]
    fast_keys, _, fast_sizes = index_tar(old, {}, 4)
    assert (list(fast_keys() if callable(fast_keys) else fast_keys), list(fast_sizes)) == (keys, sizes)
    assert [bytes(old[s : s + n]) for s, n in zip(starts, sizes, strict=True)] == [
        bytes(data[s : s + n]) for s, n in zip(*parse_tar(data, {})[1:], strict=True)
    ]


def rename_members(data: bytes, old: str, new: str) -> bytes:
    import io

    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data)) as src,
        tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as dst,
    ):
        for m in src.getmembers():
            body = src.extractfile(m).read()
            m.name = m.name.replace(old, new)
            dst.addfile(m, io.BytesIO(body))
    return out.getvalue()
