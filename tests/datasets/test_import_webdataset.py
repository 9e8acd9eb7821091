"""Shards written by plain ``webdataset`` come into altakit without being rewritten."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Annotated

import numpy as np
import pytest

import altakit
from altakit.datasets.samples import Array, sample
from altakit.errors import ConfigError, DataError

N = 23


def rows() -> list[dict]:
    rng = np.random.default_rng(3)
    return [
        {
            "__key__": f"s{i:05d}",
            "npy": rng.standard_normal((2, 3)).astype(np.float32),
            "cls": i % 4,
            "json": {"i": i, "tag": f"t{i}"},
            "txt": f"caption {i} é",
            "png": bytes([137, 80, 78, 71, i % 256]),
        }
        for i in range(N)
    ]


@pytest.fixture
def wds_shards(tmp_path):
    wds = pytest.importorskip("webdataset")
    pattern = str(tmp_path / "shards-%03d.tar")
    with wds.ShardWriter(pattern, maxcount=10, verbose=0) as sink:
        for row in rows():
            sink.write(row)
    assert sorted(p.name for p in tmp_path.glob("*.tar")) == [f"shards-{i:03d}.tar" for i in range(3)]
    return str(tmp_path / "shards-{000..002}.tar")


def check_sample(got, row) -> None:
    np.testing.assert_array_equal(got.npy, row["npy"])
    assert got.npy.dtype == np.float32
    assert got.cls == row["cls"] and json.loads(got.json) == row["json"]
    assert got.txt == row["txt"] and got.png == row["png"]


def test_plain_webdataset_shards_import_and_read_back_exactly(wds_shards, local_store):
    ds = altakit.import_dataset(wds_shards, "wds", store=local_store)
    assert ds.version == 1 and len(ds) == N and ds.manifest["format"] == "webdataset/1"
    assert [s["count"] for s in ds.manifest["shards"]] == [10, 10, 3]
    assert all(len(s["checksum"]) > 10 and s["bytes"] > 0 for s in ds.manifest["shards"])
    kinds = {f["name"]: f["kind"] for f in ds.manifest["schema"]["fields"]}
    assert kinds == {"cls": "int", "json": "str", "npy": "array", "png": "bytes", "txt": "str"}
    again = altakit.load_dataset("wds", store=local_store)
    got = list(again)
    assert len(got) == N
    for g, row in zip(got, rows(), strict=True):
        check_sample(g, row)
    assert "wds" in [r.name for r in altakit.catalog_of(local_store).list("dataset")]


def test_imported_shards_feed_the_exact_once_torch_loader(wds_shards, local_store):
    torch = pytest.importorskip("torch")
    altakit.import_dataset(wds_shards, "wds", store=local_store)
    ds = altakit.load_dataset("wds", store=local_store)
    seen = []
    for batch in ds.torch(4, seed=1, num_workers=2):
        assert isinstance(batch["npy"], torch.Tensor) and batch["npy"].shape[1:] == (2, 3)
        for npy, cls in zip(batch["npy"].numpy(), batch["cls"].tolist(), strict=True):
            match = [i for i, r in enumerate(rows()) if np.array_equal(r["npy"], npy)]
            assert len(match) == 1 and rows()[match[0]]["cls"] == cls
            seen.append(match[0])
    assert sorted(seen) == list(range(N))


def test_shards_in_the_store_are_registered_in_place(wds_shards, local_store, tmp_path):
    for i in range(3):
        local_store.put(f"raw/shards-{i:03d}.tar", (tmp_path / f"shards-{i:03d}.tar").read_bytes())
    ds = altakit.import_dataset("raw/shards-{000..002}.tar", "inplace", store=local_store)
    assert [s["key"] for s in ds.manifest["shards"]] == [f"raw/shards-{i:03d}.tar" for i in range(3)]
    for g, row in zip(ds, rows(), strict=True):
        check_sample(g, row)


def test_a_given_sample_type_and_typed_errors(wds_shards, local_store, tmp_path):
    @sample(name="given")
    class Given:
        npy: Annotated[np.ndarray, Array("float32", (2, 3))]
        cls: int

    ds = altakit.import_dataset(wds_shards, "given", sample_type=Given, store=local_store)
    assert [(s.cls, type(s).__name__) for s in ds][:2] == [(0, "Given"), (1, "Given")]

    @sample(name="wrong")
    class Wrong:
        label: int

    with pytest.raises(ConfigError, match="matches no member extension"):
        altakit.import_dataset(wds_shards, "wrong", sample_type=Wrong, store=local_store)
    odd = tmp_path / "odd.tar"
    with tarfile.open(odd, "w") as tar:
        info = tarfile.TarInfo("a.flac")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(DataError, match=r"\.flac cannot be imported") as err:
        altakit.import_dataset(str(odd), "odd", store=local_store)
    assert err.value.hint


def test_imported_shards_feed_tensorflow_like_torch(wds_shards, local_store):
    pytest.importorskip("tensorflow")
    pytest.importorskip("torch")
    ds = altakit.import_dataset(wds_shards, "wds", store=local_store)
    tf_batches = [{k: v.numpy() for k, v in b.items()} for b in ds.tensorflow(5, seed=2)]
    torch_batches = list(ds.torch(5, seed=2, num_workers=0))
    assert len(tf_batches) == len(torch_batches) == 5
    for a, b in zip(tf_batches, torch_batches, strict=True):
        for name in ("npy", "cls"):
            np.testing.assert_array_equal(a[name], b[name].numpy())


def test_shards_in_s3_import_by_key_and_by_url(wds_shards, s3_store, tmp_path):
    """Shards already in the loopback S3 store: brace patterns of keys and of ``s3://`` URLs under it."""
    for i in range(3):
        s3_store.put(f"raw/shards-{i:03d}.tar", (tmp_path / f"shards-{i:03d}.tar").read_bytes())
    by_key = altakit.import_dataset("raw/shards-{000..002}.tar", "s3keys", store=s3_store)
    url = f"{s3_store.url.rstrip('/')}/raw/shards-{{000..002}}.tar"
    by_url = altakit.import_dataset(url, "s3urls", store=s3_store)
    for ds in (by_key, by_url):
        assert [s["key"] for s in ds.manifest["shards"]] == [f"raw/shards-{i:03d}.tar" for i in range(3)]
        again = altakit.load_dataset(ds.name, store=s3_store)
        for g, row in zip(again, rows(), strict=True):
            check_sample(g, row)
        seen = sorted(i for b in again.batches(4, shuffle=True, seed=5) for i in b["cls"].tolist())
        assert seen == sorted(r["cls"] for r in rows())
    elsewhere = s3_store.url.replace("://", "://other-", 1) + "/raw/shards-000.tar"
    with pytest.raises(ConfigError, match="not under the store's URL") as err:
        altakit.import_dataset(elsewhere, "outside", store=s3_store)
    assert err.value.hint
