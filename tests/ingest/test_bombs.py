"""Decompression bombs: every path that expands bytes stops at the caps, early, with a typed error.

The bombs are built here (zeros compress ~1000:1, so 16 MB of zeros is a few KB); the caps are
small (the spec's ``max_unpacked_bytes``, ``max_unpack_ratio``) so each test runs in about a second.
The temp folder is watched while it fills: it never holds more than the cap and one chunk.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

import altakit
from altakit.errors import ConfigError, IngestError
from altakit.ingestion.readers import limits
from altakit.ingestion.readers.limits import UnpackLimitExceeded
from altakit.ingestion.spec import IngestSpec

MB = 1024 * 1024
CAP = 4 * MB
ZEROS = 16 * MB  # four times the cap


def _stream(compress, total: int = ZEROS) -> bytes:
    """``total`` zero bytes through a streaming compressor (never all in memory)."""
    buf = io.BytesIO()
    with compress(buf) as out:
        for _ in range(total // MB):
            out.write(b"0" * MB)
    return buf.getvalue()


def _gz(total: int = ZEROS) -> bytes:
    return _stream(lambda b: gzip.GzipFile(fileobj=b, mode="wb", compresslevel=9), total)


def _zst(total: int = ZEROS) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        for _ in range(total // MB):
            out.write(b"0" * MB)
    return sink.getvalue().to_pybytes()


def _zip(members: dict[str, int]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, size in members.items():
            with z.open(name, "w", force_zip64=True) as out:
                for _ in range(size // MB):
                    out.write(b"0" * MB)
    return buf.getvalue()


def _tar(size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo("big.csv")
        info.size = size
        t.addfile(info, io.BytesIO(b"0" * size))
    return buf.getvalue()


BOMBS = {
    "a.csv.gz": lambda: _gz(),
    "a.csv.bz2": lambda: bz2.compress(b"0" * ZEROS, 9),
    "a.csv.xz": lambda: lzma.compress(b"0" * ZEROS),
    "a.csv.zst": lambda: _zst(),
    "a.zip": lambda: _zip({"x.csv": ZEROS}),
    "a.tar": lambda: _tar(ZEROS),
    "a.tar.gz": lambda: gzip.compress(_tar(ZEROS), 9),
    "nested.zip": lambda: _zip_of({"inner.csv.gz": _gz()}),
}


def _zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def peak(monkeypatch):
    """The most bytes the ingest's temp folder held at any write (``peak["bytes"]``)."""
    seen = {"bytes": 0, "writes": 0}
    write = limits.write_chunk

    def watched(dst, chunk, name, workdir):
        write(dst, chunk, name, workdir)
        dst.flush()
        held = sum(e.stat().st_size for e in os.scandir(workdir) if e.is_file())
        seen["bytes"], seen["writes"] = max(seen["bytes"], held), seen["writes"] + 1

    monkeypatch.setattr(limits, "write_chunk", watched)
    return seen


def _ingest(store, tmp_path, name, data, **spec):
    path = tmp_path / name
    path.write_bytes(data)
    return altakit.ingest(str(path), "t", {"policy": "add_new_columns", **spec}, store=store)


@pytest.mark.parametrize("name", list(BOMBS))
def test_every_compressed_format_stops_at_the_size_cap(local_store, tmp_path, peak, name):
    data = BOMBS[name]()
    with pytest.raises(UnpackLimitExceeded) as info:
        _ingest(local_store, tmp_path, name, data, max_unpacked_bytes=CAP)
    err = info.value
    assert isinstance(err, IngestError) and name in str(err) and "bomb" in str(err)
    assert err.fields["limit"] == "max_unpacked_bytes" and "max_unpacked_bytes" in err.hint
    # the received file (a tar is as big as what it holds) plus at most the cap and one chunk
    assert peak["bytes"] <= len(data) + CAP + MB
    assert not local_store.list("")  # nothing written


@pytest.mark.parametrize("name", ["a.zip", "a.tar"])
def test_archives_that_declare_too_much_are_refused_before_any_member_is_read(
    local_store, tmp_path, peak, name
):
    with pytest.raises(UnpackLimitExceeded, match="declares"):
        _ingest(local_store, tmp_path, name, BOMBS[name](), max_unpacked_bytes=CAP)
    assert peak["writes"] == 0


def test_the_ratio_cap_stops_a_small_file_that_expands_a_lot(local_store, tmp_path, peak, monkeypatch):
    monkeypatch.setattr(limits, "RATIO_FLOOR", MB)  # the default floor is 64 MiB: small here
    data = _gz(64 * MB)  # ~64 KB
    with pytest.raises(UnpackLimitExceeded) as info:
        _ingest(local_store, tmp_path, "a.csv.gz", data, max_unpack_ratio=20)
    assert info.value.fields["limit"] == "max_unpack_ratio" and "max_unpack_ratio" in info.value.hint
    assert peak["bytes"] <= len(data) + 20 * len(data) + MB


def test_the_size_cap_counts_every_input_of_the_ingest(local_store, tmp_path, peak):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):  # each 3 MB, under the cap alone; 12 MB together
        (folder / f"p{i}.csv.gz").write_bytes(gzip.compress(b"v\n" + b"1\n" * (3 * MB // 2)))
    with pytest.raises(UnpackLimitExceeded, match=r"p2\.csv\.gz"):
        altakit.ingest(str(folder / "*.csv.gz"), "t", {"max_unpacked_bytes": 8 * MB}, store=local_store)
    report = altakit.ingest(str(folder / "p0.csv.gz"), "t", {"max_unpacked_bytes": 8 * MB}, store=local_store)
    assert report.rows_in == 3 * MB // 2


def test_a_workbook_whose_parts_declare_too_much_is_refused_before_it_is_read(local_store, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", " " * ZEROS)
    with pytest.raises(UnpackLimitExceeded, match=r"book\.xlsx: declares"):
        _ingest(local_store, tmp_path, "book.xlsx", buf.getvalue(), max_unpacked_bytes=CAP)


def _parquet_of_zeros(path: Path, rows_per_group: int, groups: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"x": pa.array([0] * rows_per_group, pa.int64())})
    with pq.ParquetWriter(path, table.schema, compression="zstd") as w:
        for _ in range(groups):
            w.write_table(table)


def test_a_parquet_file_whose_pages_declare_too_much_is_refused(local_store, tmp_path):
    _parquet_of_zeros(tmp_path / "z.parquet", 1_000_000, 2)  # 16 MB as int64, a few KB on disk
    with pytest.raises(UnpackLimitExceeded, match=r"z\.parquet: declares"):
        altakit.ingest(str(tmp_path / "z.parquet"), "t", {"max_unpacked_bytes": CAP}, store=local_store)
    assert altakit.ingest(str(tmp_path / "z.parquet"), "t", store=local_store).rows_in == 2_000_000


def _child(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALTAKIT_INDEX": f"sqlite:///{tmp_path / 'index.sqlite'}"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )


def test_default_caps_keep_memory_bounded_on_a_parquet_bomb(tmp_path):
    # 200 M zeros: 1.6 GB once read, ~300 KB on disk; the defaults refuse it by its ratio
    _parquet_of_zeros(tmp_path / "bomb.parquet", 1_000_000, 200)
    done = _child(
        f"""
        import altakit
        from altakit.ingestion.readers.limits import UnpackLimitExceeded
        store = altakit.open_store({str(tmp_path / "store")!r})
        try:
            altakit.ingest({str(tmp_path / "bomb.parquet")!r}, "t", store=store)
            print("READ")
        except UnpackLimitExceeded as exc:
            print("REFUSED", exc.fields["limit"])
        # VmHWM: this process's own peak (ru_maxrss keeps the parent's across fork and exec)
        hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
        print("MAXRSS_KB", int(hwm.split()[1]))
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "REFUSED max_unpack_ratio" in done.stdout
    rss = int(done.stdout.split("MAXRSS_KB")[1])
    assert rss < 1024 * 1024, rss  # KB: under 1 GiB, while reading it would take 1.6 GB


def test_a_full_temp_folder_is_a_typed_error_not_a_damaged_file(tmp_path):
    # a real limit on file size (RLIMIT_FSIZE): the write past it fails as a full disk does
    (tmp_path / "big.csv.gz").write_bytes(_gz(ZEROS))
    done = _child(
        f"""
        import resource, signal, altakit
        from altakit.errors import IngestError
        store = altakit.open_store({str(tmp_path / "store")!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({4 * MB}, {4 * MB}))
        spec = {{"max_unpack_ratio": 100000}}
        try:
            altakit.ingest({str(tmp_path / "big.csv.gz")!r}, "t", spec, store=store)
        except IngestError as exc:
            print(type(exc).__name__, "|", exc)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("UnpackLimitExceeded |"), done.stdout
    assert "ran out of space" in done.stdout and "damaged" not in done.stdout


def test_the_caps_are_checked_when_the_spec_is_loaded():
    spec = IngestSpec.load({"max_unpacked_bytes": MB, "max_unpack_ratio": 2.5, "value_excerpt": 0})
    assert spec.unpack_limits().max_bytes == MB and spec.read_options().limits.max_ratio == 2.5
    for bad in ({"max_unpacked_bytes": 0}, {"max_unpack_ratio": -1}, {"value_excerpt": -1}):
        with pytest.raises(ConfigError):
            IngestSpec.load(bad)
