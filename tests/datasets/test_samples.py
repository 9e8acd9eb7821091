"""Typed samples: encoding, schema identity, rebuilding types."""

from __future__ import annotations

import pickle
from typing import Annotated

import msgpack
import numpy as np
import pytest
from datakit_types import Digit

import altakit
from altakit.datasets.codec import decode, encode
from altakit.datasets.samples import Array, SampleSchema, build_type, schema_of
from altakit.errors import ConfigError, DataError


@altakit.sample(name="mixed", version=3)
class Mixed:
    x: np.ndarray
    f: float
    flag: bool
    text: str
    blob: bytes
    maybe: Annotated[np.ndarray, Array("float32", (None, 2))] | None = None
    note: str | None = None


def test_roundtrip_every_kind_of_field():
    m = Mixed(
        np.arange(6, dtype=">i2").reshape(2, 3), 1.5, True, "hé", b"\x00\x01", np.ones((4, 2), "float32")
    )
    values = decode(schema_of(Mixed), encode(m))
    assert values["x"].dtype == np.dtype(">i2") and values["x"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert (values["f"], values["flag"], values["text"], values["blob"]) == (1.5, True, "hé", b"\x00\x01")
    assert values["maybe"].shape == (4, 2) and values["note"] is None


def test_plain_msgpack_reads_a_sample():
    raw = msgpack.unpackb(encode(Digit(np.eye(8, dtype=np.uint8), 3, 0)))
    dtype, shape, data = raw["image"]
    assert np.frombuffer(data, dtype).reshape(shape).trace() == 8 and raw["label"] == 3


def test_schema_identity_is_stable_and_sensitive():
    s = schema_of(Mixed)
    assert (s.name, s.version) == ("mixed", 3)
    assert (
        SampleSchema.from_doc(s.to_doc()) == s
        and SampleSchema.from_doc(s.to_doc()).fingerprint == s.fingerprint
    )

    @altakit.sample(name="mixed", version=3)
    class Other:
        x: np.ndarray

    assert schema_of(Other).fingerprint != s.fingerprint


def test_type_rebuilt_from_stored_schema_decodes_and_pickles():
    cls = build_type(schema_of(Digit).to_doc())
    assert cls is not Digit and schema_of(cls).fingerprint == schema_of(Digit).fingerprint
    obj = cls(**decode(schema_of(cls), encode(Digit(np.zeros((8, 8), np.uint8), 7, 1))))
    again = pickle.loads(pickle.dumps(obj))
    assert again.label == 7 and again.image.shape == (8, 8)


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        (Digit(np.zeros((8, 8), np.float32), 1, 0), "dtype"),
        (Digit(np.zeros((8, 7), np.uint8), 1, 0), "shape"),
        (Digit(np.zeros((8, 8), np.uint8), "one", 0), "should be int"),  # type: ignore[arg-type]
        (Digit(np.zeros((8, 8), np.uint8), None, 0), "not optional"),  # type: ignore[arg-type]
    ],
)
def test_encoding_checks_fields(obj, match):
    with pytest.raises(DataError, match=match):
        encode(obj)


def test_unsupported_field_types_are_refused():
    with pytest.raises(ConfigError, match="not supported"):

        @altakit.sample
        class Bad:
            x: list

    with pytest.raises(ConfigError, match="object arrays"):

        @altakit.sample
        class Obj:
            x: Annotated[np.ndarray, Array("O")]


def test_views_into_the_shard_match_msgpack():
    from altakit.datasets.codec import unpack, unpack_views

    m = Mixed(np.arange(70000, dtype="<i4"), -2.5, False, "x" * 40, b"b" * 300, None, "n")
    raw = b"pad" + encode(m) + b"tail"
    fast = unpack_views(raw, 3, len(raw) - 7)
    slow = unpack(raw[3:-4])
    assert fast.keys() == slow.keys() and isinstance(fast["x"][2], memoryview)
    assert bytes(fast["x"][2]) == slow["x"][2] and fast["x"][:2] == slow["x"][:2]
    assert {k: v for k, v in fast.items() if k != "x"} == {k: v for k, v in slow.items() if k != "x"}
    with pytest.raises(DataError, match="corrupt msgpack"):
        unpack_views(raw, 3, len(raw) - 8)


def test_large_samples_batch_through_views(local_store):
    @altakit.sample(name="big")
    class Big:
        data: Annotated[np.ndarray, Array("uint16", (128, 256))]
        label: int

    arrays = np.random.default_rng(1).integers(0, 60000, (12, 128, 256), dtype=np.uint16)
    ds = altakit.write_dataset((Big(arrays[i], i) for i in range(12)), "big", store=local_store, maxcount=5,
                               progress=False)  # fmt: skip
    got = {}
    for batch in ds.batches(4, shuffle=True, seed=3):
        assert batch["data"].flags.writeable and batch["data"].dtype == np.uint16
        got.update({int(i): a for i, a in zip(batch["label"], batch["data"], strict=True)})
    assert sorted(got) == list(range(12)) and all(np.array_equal(got[i], arrays[i]) for i in range(12))
