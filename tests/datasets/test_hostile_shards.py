"""Hostile tar shards: every size and offset read from a shard is checked; a bad one is a DataError, fast.

A negative member size used to move the parser backwards, so a 2.5 KB shard hung
``load_dataset`` forever. Each case runs under a timeout (here and in a child
process for the whole ``load_dataset`` path), so a regression fails in seconds.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import textwrap

import pytest
from datakit_types import digits

import altakit
from altakit.datasets.manifest import register_manifest
from altakit.datasets.members import samples_of
from altakit.datasets.shards import BLOCK, index_tar, parse_tar
from altakit.errors import DataError

pytestmark = pytest.mark.timeout(60, method="signal")


def header(name: str, size_field: bytes) -> bytes:
    """A ustar header for ``name`` whose size field is ``size_field`` verbatim (checksum fixed up)."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = 0, 0o644, 0
    raw = bytearray(info.tobuf(tarfile.USTAR_FORMAT))
    raw[124:136] = size_field.ljust(12, b"\0")[:12]
    raw[148:156] = b" " * 8
    raw[148:156] = b"%06o\0 " % sum(raw)
    return bytes(raw)


def member(name: str, body: bytes) -> bytes:
    return header(name, b"%011o" % len(body)) + body + bytes(-len(body) % BLOCK)


END = bytes(2 * BLOCK)


def hostile(ext: str = "mp") -> dict[str, bytes]:
    """Case name → crafted shard bytes (about 2.5 KB each, like the reproduction)."""
    good = member(f"000000000.{ext}", b"\x80") + member(f"000000001.{ext}", b"\x80")
    name = f"000000002.{ext}"
    return {
        "negative size": good + header(name, b"-0000001000") + END,
        "negative size, first member": header(name, b"-0000003000") + good + END,
        "size past the end": good + header(name, b"%011o" % 4096) + bytes(BLOCK) + END,
        "offset overflow": good + header(name, b"77777777777") + END,
        "truncated header": good + header(name, b"%011o" % 1)[:300],
        "size not a number": good + header(name, b"12z4") + END,
    }


HOSTILE = hostile()
GOOD = member("000000000.mp", b"\x80") + member("000000001.mp", b"\x80")


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_parse_tar_refuses_hostile_shards(case):
    where = {"dataset": "hostile", "shard": "datasets/hostile/x/shard-000000.tar"}
    with pytest.raises(DataError) as caught:
        parse_tar(HOSTILE[case], where)
    assert caught.value.fields["shard"] == where["shard"]
    assert "shard-000000.tar" in str(caught.value) and "rewrite the dataset version" in str(caught.value)
    with pytest.raises(DataError):  # the vectorized index of equal-sized members falls back to parse_tar
        index_tar(HOSTILE[case], where, 3)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_import_reader_refuses_hostile_shards(case):
    data = hostile("cls")[case]
    with pytest.raises(DataError, match=r"malformed tar|not a readable tar"):
        samples_of(data, {"dataset": "imp", "shard": "s.tar"})


def test_load_dataset_on_a_negative_size_shard_fails_fast(tmp_path):
    """The reproduction: a dataset whose pinned shard has a negative member size; a child process
    runs ``load_dataset`` so a regression (an endless loop, maybe on a reader thread) is killed
    by the timeout instead of hanging the test run."""
    store = altakit.open_store(str(tmp_path / "store"))
    ds = altakit.write_dataset(digits(4), "hostile", store=store, maxcount=4, progress=False)
    entry = dict(ds.manifest["shards"][0])
    good = store.get(entry["key"], entry["version"])
    bad = bytearray(good)
    bad[124:136] = b"-0000001000\0"  # the first member's size: -512, one header back
    v = store.put(entry["key"], bytes(bad))
    entry.update(version=v.id, bytes=v.size, checksum=v.checksum)
    doc = dict(ds.manifest, shards=[entry])
    version = register_manifest(store, "hostile", doc).version
    script = textwrap.dedent(
        f"""
        import altakit
        from altakit.errors import DataError
        ds = altakit.load_dataset("hostile@{version}", store={str(tmp_path / "store")!r}, cache_dir=None)
        try:
            list(ds)
        except DataError as exc:
            print("DataError", exc.fields.get("shard"))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=45)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"DataError {entry['key']}"


def test_well_formed_shards_still_parse():
    keys, _, sizes = parse_tar(GOOD + END, {})
    assert (keys, sizes) == (["000000000", "000000001"], [1, 1])
    with tarfile.open(fileobj=io.BytesIO(GOOD + END)) as tar:  # and plain tar agrees
        assert [m.name for m in tar] == ["000000000.mp", "000000001.mp"]
