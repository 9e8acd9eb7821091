"""Array fields as ``<key>.<field>.npy`` members: exact values through altakit, plain webdataset and np.load.

Shards of format ``altakit.shards/2`` hold each array field as ``np.save`` bytes; every
dtype (byte order included), shape (0-d, empty) and memory layout reads back exactly,
field names with dots stay unambiguous, and shards of format ``/1`` (arrays inside the
``.mp`` map) still read.
"""

from __future__ import annotations

import io
import tarfile
from typing import Annotated, Any

import numpy as np
import pytest

import altakit
from altakit.datasets.samples import Array, SampleField, SampleSchema, sample


@sample(name="every_array")
class Every:
    half: np.ndarray
    flags: np.ndarray
    big: np.ndarray
    scalar: np.ndarray
    empty: np.ndarray
    strided: np.ndarray
    fortran: np.ndarray
    fixed: Annotated[np.ndarray, Array("uint16", (2, 3))]
    label: int
    maybe: np.ndarray | None = None


def every(n: int) -> list[Every]:
    rng = np.random.default_rng(11)
    out = []
    for i in range(n):
        wide = rng.standard_normal((4, 6))
        out.append(
            Every(
                half=rng.standard_normal((i % 3 + 1, 2)).astype(np.float16),
                flags=rng.integers(0, 2, (3, i % 2 + 1)).astype(bool),
                big=np.arange(i, i + 5, dtype=">i4"),  # big-endian stays big-endian
                scalar=np.array(i * 1.5, dtype=">f8"),  # 0-d
                empty=np.zeros((0, 3), dtype=np.int8),
                strided=wide[:, ::2],  # not contiguous
                fortran=np.asfortranarray(wide.astype(np.float32)),
                fixed=rng.integers(0, 60000, (2, 3)).astype(np.uint16),
                label=i,
                maybe=None if i % 2 else np.full(2, i, dtype=np.complex64),
            )
        )
    return out


ARRAYS = ("half", "flags", "big", "scalar", "empty", "strided", "fortran", "fixed", "maybe")


def same(got: Any, want: Any, where: str) -> None:
    if want is None:
        assert got is None, where
        return
    want = np.asarray(want)
    assert isinstance(got, np.ndarray), where
    assert (got.dtype.str, got.shape) == (want.dtype.str, want.shape), where
    assert got.tobytes() == np.ascontiguousarray(want).tobytes(), where


def row(column: Any, k: int) -> Any:
    """Row ``k`` of a batch column: a stacked array keeps its rows arrays (0-d too), a list holds them."""
    return column[k, ...] if isinstance(column, np.ndarray) else column[k]


def shard_bytes(ds) -> list[bytes]:
    return [ds.store.get(e["key"], e["version"]) for e in ds.manifest["shards"]]


def test_every_array_reads_back_exactly_through_altakit(local_store):
    written = every(9)
    ds = altakit.write_dataset(written, "every", store=local_store, maxcount=4, progress=False)
    assert ds.manifest["format"] == "altakit.shards/2"
    again = altakit.load_dataset("every", store=local_store)
    for got, want in zip(again, written, strict=True):  # per sample
        for name in ARRAYS:
            same(getattr(got, name), getattr(want, name), name)
    rows = []
    for batch in again.batches(3):  # batches: stacked where they can be, lists where ragged
        for k in range(batch.size):
            rows.append({name: row(batch[name], k) for name in (*ARRAYS, "label")})
    assert [r["label"] for r in rows] == list(range(9))
    for got, want in zip(rows, written, strict=True):
        for name in ARRAYS:
            same(got[name], getattr(want, name), name)
    assert again.verify()["ok"]


def test_every_array_reads_back_exactly_with_plain_webdataset_tarfile_and_np_load(local_store, tmp_path):
    wds = pytest.importorskip("webdataset")
    written = every(9)
    ds = altakit.write_dataset(written, "every", store=local_store, maxcount=4, progress=False)
    paths = []
    for i, data in enumerate(shard_bytes(ds)):
        paths.append(tmp_path / f"shard-{i}.tar")
        paths[-1].write_bytes(data)
    got = list(wds.WebDataset([str(p) for p in paths], shardshuffle=False, empty_check=False).decode())
    assert len(got) == 9
    for s, want in zip(got, written, strict=True):
        assert s["mp"]["label"] == want.label  # scalars in the .mp map
        for name in ARRAYS:
            same(s.get(f"{name}.npy"), getattr(want, name), name)  # default decode: ndarrays
    members: dict[str, bytes] = {}
    for path in paths:
        with tarfile.open(path) as tar:
            for m in tar.getmembers():
                members[m.name] = tar.extractfile(m).read()  # type: ignore[union-attr]
    for i, want in enumerate(written):
        for name in ARRAYS:
            body = members.get(f"{i:09d}.{name}.npy")
            same(None if body is None else np.load(io.BytesIO(body)), getattr(want, name), name)


class Dotted:
    """Field names a member name could confuse: dots, an ``.npy`` suffix, ``mp``, a long name, a slash.

    (Plain webdataset lowercases member suffixes, so the long name is lowercase here.)
    """

    __altakit_schema__ = SampleSchema(
        "dotted",
        1,
        (
            SampleField("a.b", "array"),
            SampleField("x.npy", "array"),
            SampleField("mp", "array"),
            SampleField("l" * 120, "array"),
            SampleField("in/map", "array"),
            SampleField("n", "int"),
        ),
    )

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def test_field_names_with_dots_stay_unambiguous(local_store, tmp_path):
    wds = pytest.importorskip("webdataset")
    names = [f.name for f in Dotted.__altakit_schema__.fields if f.kind == "array"]
    written = [
        Dotted(**{name: np.full(k + 1, 10 * i + k) for k, name in enumerate(names)}, n=i) for i in range(5)
    ]
    ds = altakit.write_dataset(written, "dotted", store=local_store, progress=False)
    (got,) = list(altakit.load_dataset("dotted", store=local_store).batches(5))
    for k, name in enumerate(names):
        for i in range(5):
            same(row(got[name], i), np.full(k + 1, 10 * i + k), name)
    (data,) = shard_bytes(ds)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        first = [m.name for m in tar.getmembers() if m.name.startswith("000000000.")]
    # "in/map" cannot be a member name: it stays inside the .mp map
    assert first == ["000000000.mp", "000000000.a.b.npy", "000000000.x.npy.npy", "000000000.mp.npy",
                     f"000000000.{'l' * 120}.npy"]  # fmt: skip
    path = tmp_path / "dotted.tar"
    path.write_bytes(data)
    plain = list(wds.WebDataset([str(path)], shardshuffle=False, empty_check=False).decode())
    assert sorted(k for k in plain[0] if not k.startswith("__")) == sorted(
        ["mp", "a.b.npy", "x.npy.npy", "mp.npy", f"{'l' * 120}.npy"]
    )
    same(plain[3]["a.b.npy"], np.full(1, 30), "a.b")
    assert plain[3]["mp"]["n"] == 3


def test_shards_written_before_still_read(local_store, monkeypatch):
    """Format ``altakit.shards/1``: arrays inside the ``.mp`` map, read by every path."""
    import altakit.datasets.write as write
    from altakit.datasets.codec import encode

    written = every(9)
    with monkeypatch.context() as m:
        m.setattr(write, "FORMAT", "altakit.shards/1")
        m.setattr(write, "encode_parts", lambda obj, schema: (encode(obj, schema), []))
        ds = altakit.write_dataset(written, "old", store=local_store, maxcount=4, progress=False)
    assert ds.manifest["format"] == "altakit.shards/1"
    with tarfile.open(fileobj=io.BytesIO(shard_bytes(ds)[0])) as tar:
        assert all(name.endswith(".mp") for name in tar.getnames())
    again = altakit.load_dataset("old", store=local_store)
    for got, want in zip(again, written, strict=True):
        for name in ARRAYS:
            same(getattr(got, name), getattr(want, name), name)
    batches = list(again.batches(9))
    for name in ARRAYS:
        for k, want in enumerate(written):
            same(row(batches[0][name], k), getattr(want, name), name)
    assert again.verify()["ok"]


@sample(name="uniform_pair")
class Pair:
    image: Annotated[np.ndarray, Array("uint8", (3, 4))]
    label: int


def test_uniform_shards_take_the_columnar_path_and_the_torch_loader(local_store):
    torch = pytest.importorskip("torch")
    from altakit.datasets.columns import shard_columns
    from altakit.datasets.shards import index_shard, walk_tar

    written = [Pair(np.full((3, 4), i, np.uint8), i) for i in range(40)]
    ds = altakit.write_dataset(written, "pair", store=local_store, maxcount=20, progress=False)
    data = shard_bytes(ds)[0]
    keys, starts, sizes, members = index_shard(data, {}, 20)
    assert callable(keys)  # the vectorized index
    walked = walk_tar(data, {})
    assert (keys(), starts.tolist(), sizes.tolist()) == walked[:3]
    assert members.keys() == walked[3].keys() == {"image"}
    assert all((members["image"][j] == walked[3]["image"][j]).all() for j in (0, 1))
    shard = ds.source.fetch(0)
    assert shard.members and shard_columns(ds.schema, shard) is not None
    seen = {}
    for batch in ds.torch(8, seed=3, num_workers=2):
        assert isinstance(batch["image"], torch.Tensor)
        for image, label in zip(batch["image"].numpy(), batch["label"].tolist(), strict=True):
            seen[label] = image
    assert sorted(seen) == list(range(40))
    assert all((seen[i] == i).all() for i in range(40))
