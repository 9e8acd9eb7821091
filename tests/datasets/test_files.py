"""FileDataset: one sample per file, latest version only, decoders by extension, torch and TF."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from datakit_types import digits

import altakit
from altakit.datasets.files import Decoders, FileDataset, decode_png, encode_png
from altakit.errors import ConfigError, DataError


@pytest.fixture
def image_store(any_store):
    """40 digit PNGs in two class folders; every file written twice (only the latest may be read)."""
    for d in digits(40):
        key = f"imgs/{'even' if d.label % 2 == 0 else 'odd'}/{d.idx:03d}.png"
        any_store.put(key, encode_png(np.zeros((8, 8), np.uint8)))
        any_store.put(key, encode_png(d.image))
    return any_store


def test_png_roundtrip_all_filters():
    rgb = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    assert np.array_equal(decode_png(encode_png(rgb)), rgb)
    # rows stored with the Sub, Up, Average and Paeth filters decode too
    import struct
    import zlib

    gray = rgb[..., 0].astype(np.int32)
    rows = []
    for y, f in zip(range(5), [1, 2, 3, 4, 0], strict=True):
        prev = gray[y - 1] if y else np.zeros(7, np.int32)
        line = gray[y]
        left = np.concatenate([[0], line[:-1]])
        up_left = np.concatenate([[0], prev[:-1]])
        if f == 1:
            pred = left
        elif f == 2:
            pred = prev
        elif f == 3:
            pred = (left + prev) // 2
        elif f == 4:
            pa, pb, pc = abs(prev - up_left), abs(left - up_left), abs(left + prev - 2 * up_left)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, up_left))
        else:
            pred = 0
        rows.append(bytes([f]) + ((line - pred) % 256).astype(np.uint8).tobytes())

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 7, 5, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )
    assert np.array_equal(decode_png(png), rgb[..., 0])


def test_file_dataset_reads_latest_versions_with_folder_labels(image_store):
    files = FileDataset(image_store, "imgs/", pattern="*.png", label="folder")
    assert len(files) == 40 and files.classes == ["even", "odd"]
    want = {d.idx: d for d in digits(40)}
    for i in (0, 25):
        image, label = files[i]
        d = want[int(files.files[i].key[-7:-4])]
        assert np.array_equal(image, d.image) and label == d.label % 2


def test_torch_and_tensorflow_constructors_agree(image_store):
    files = FileDataset(
        image_store, "imgs/", pattern="*.png", label="folder", transform=lambda x: x.astype(np.float32) / 255
    )
    images, labels = next(iter(files.torch(batch_size=40)))
    assert tuple(images.shape) == (40, 8, 8) and labels.tolist() == [files[i][1] for i in range(40)]
    tf_images, tf_labels = next(iter(files.tensorflow(batch_size=40)))
    np.testing.assert_array_equal(tf_images.numpy(), images.numpy())
    np.testing.assert_array_equal(tf_labels.numpy(), labels.numpy())


def test_decoders_by_extension(local_store):
    buf = io.BytesIO()
    np.save(buf, np.arange(6).reshape(2, 3))
    local_store.put("f/a.npy", buf.getvalue())
    local_store.put("f/b.csv", b"x,y\n1,2\n3,4\n")
    local_store.put("f/c.json", json.dumps({"k": [1, 2]}).encode())
    local_store.put("f/d.txt", b"hello")
    files = FileDataset(local_store, "f/", pattern="*.*", label=lambda key: key.rpartition(".")[2])
    assert files[0][0].tolist() == [[0, 1, 2], [3, 4, 5]] and files[0][1] == "npy"
    assert files[1][0].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert files[2][0] == {"k": [1, 2]}
    with pytest.raises(ConfigError, match="no decoder"):
        files[3]
    decoders = Decoders()
    decoders.register("txt", bytes.decode)
    assert FileDataset(local_store, "f/", "*.txt", decoders=decoders)[0] == "hello"
    local_store.put("f/bad.png", b"not a png")
    with pytest.raises(DataError, match=r"f/bad\.png"):
        FileDataset(local_store, "f/", "bad.png")[0]
    _ = altakit
