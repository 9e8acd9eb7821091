"""A refused ``write_dataset`` leaves nothing behind: checked up front, or cleaned up when refused later."""

from __future__ import annotations

import os

import numpy as np
import pytest

import altakit
from altakit.errors import ConfigError


@altakit.sample
class Row:
    x: np.ndarray
    y: int


@altakit.sample
class Other:
    z: int


def rows(n: int):
    return (Row(np.ones(4), i) for i in range(n))


def leftovers(store) -> list[str]:
    """Every object and temp file in the local store."""
    keys = [v.key for v in store.list("")] + [v.key for v in store.list("_altakit/")]
    return keys + os.listdir(store.root / ".altakit-tmp")


@pytest.mark.parametrize("name", ["bad name!", "../up", "", "a/" * 120 + "b"])
def test_a_bad_name_is_refused_before_any_shard_is_written(local_store, name):
    with pytest.raises(ConfigError, match="invalid record name"):
        altakit.write_dataset(rows(50), name, store=local_store, maxcount=10, progress=False)
    assert leftovers(local_store) == []


def test_bad_options_and_no_samples_write_nothing(local_store):
    with pytest.raises(ConfigError):
        altakit.write_dataset(rows(5), "rows", store=local_store, maxcount=0, progress=False)
    with pytest.raises(ConfigError, match="no samples"):
        altakit.write_dataset(iter([]), "rows", store=local_store, progress=False)
    with pytest.raises(ConfigError, match="description"):
        altakit.write_dataset(rows(5), "rows", store=local_store, description=3, progress=False)  # type: ignore[arg-type]
    assert leftovers(local_store) == []


def test_a_write_refused_halfway_removes_the_shards_it_wrote(local_store):
    mixed = [*rows(25), Other(1)]
    with pytest.raises(ConfigError, match="one sample type"):
        altakit.write_dataset(mixed, "rows", store=local_store, maxcount=10, progress=False)
    assert leftovers(local_store) == []

    def failing():
        yield from rows(25)
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError):
        altakit.write_dataset(failing(), "rows", store=local_store, maxcount=10, progress=False)
    assert leftovers(local_store) == []


def test_a_refused_import_removes_the_shards_it_put(local_store, tmp_path):
    import io
    import tarfile

    from altakit.errors import DataError

    path = tmp_path / "s-0.tar"
    with tarfile.open(path, "w") as tar:
        for member, body in [("a.cls", b"3"), ("a.xyz", b"?")]:  # .xyz cannot be imported
            info = tarfile.TarInfo(member)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    with pytest.raises(ConfigError, match="invalid record name"):
        altakit.import_dataset(str(path), "bad name!", store=local_store)
    with pytest.raises(DataError, match="cannot be imported"):
        altakit.import_dataset(str(path), "imp", store=local_store)
    assert leftovers(local_store) == []
