"""Streamed S3 writes (``open_writer``), against moto's server on loopback.

The bytes gather in part-sized buffers and upload on commit: one PUT when small,
else a multipart upload whose parts go out in parallel. What must hold: a
multi-part version round-trips and verifies, damaged bytes are refused, and a
producer failure, an interrupt during the upload or a killed writer leaves no
version and (except for a killed process) no open multipart upload.
"""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from fixtures.s3 import FAST_RETRIES, MotoServer, make_bucket

import altakit
from altakit.errors import CorruptObject, StoreUnavailable
from altakit.store import stream
from altakit.store.names import checksum
from altakit.store.s3_parts import PartSpool, StagedParts

pytestmark = pytest.mark.s3
MiB = 1024 * 1024
PART = 5 * MiB  # the smallest part S3 takes


def _open(server: MotoServer, bucket: str, **options):
    opts = {**FAST_RETRIES, "part_size": PART, "multipart_threshold": PART, **options}
    return altakit.open_store(f"s3://{bucket}/p", endpoint_url=server.url, **opts)


@pytest.fixture
def parts_store(s3_server: MotoServer, s3_bucket: str):
    """An S3 store with 5 MiB parts, so a few MiB make a multipart upload."""
    store = _open(s3_server, s3_bucket)
    yield store
    store.close()


def _uploads(store) -> list[dict]:
    """The multipart uploads open in the store's bucket."""
    return store._client().list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])


def _etag(store, version) -> str:
    return store._client().head_object(Bucket=store.bucket, Key=store._key(version.name))["ETag"].strip('"')


def _pieces(data: bytes, seed: int = 0) -> list[bytes]:
    """``data`` cut into writes of many sizes: gathered small ones, part-straddling and huge ones."""
    rnd = random.Random(seed)
    sizes = [1, 100, 70_000, PART - 1, 3 * MiB, 2 * stream.HASH_STEP + 5]
    out, pos = [], 0
    while pos < len(data):
        n = rnd.choice(sizes)
        out.append(data[pos : pos + n])
        pos += n
    return out


def test_streamed_multipart_version_round_trips(parts_store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "HASH_STEP", 1 * MiB)  # hashed span by span, across part boundaries
    monkeypatch.setattr(stream, "JOB_STEP", 64 * 1024)  # large writes: the hash goes on from the parts
    data = random.Random(1).randbytes(3 * PART + 12_345)
    with parts_store.open_writer("ckpt/state") as f:
        for piece in _pieces(data):
            f.write(piece)
    v = f.version
    assert v is not None and (v.size, v.checksum) == (len(data), checksum(data))
    assert _etag(parts_store, v).endswith("-4")  # four parts: a multipart upload
    assert parts_store.versions("ckpt/state") == [v]
    digest = parts_store.read_verified("ckpt/state", lambda r: hashlib.sha256(r.read()).digest())
    assert digest == hashlib.sha256(data).digest()
    assert parts_store.get("ckpt/state") == data
    assert _uploads(parts_store) == []


def test_small_streams_are_one_put(s3_server: MotoServer, s3_bucket: str) -> None:
    store = _open(s3_server, s3_bucket, multipart_threshold=16 * MiB)
    for size in (0, 1000, PART, 3 * PART):  # one part, or several below the threshold: joined
        data = random.Random(size).randbytes(size)
        with store.open_writer(f"s/{size}") as f:
            f.write(data)
        assert "-" not in _etag(store, f.version) and store.get(f"s/{size}") == data


def test_part_spool_buffers_and_frees() -> None:
    spool = PartSpool(PART)
    data = random.Random(2).randbytes(2 * PART + 7)
    for piece in _pieces(data, seed=3):
        spool.write(memoryview(piece))
    staged = spool.finish()
    assert spool.checksum() == checksum(data)
    assert [len(p) for p in staged.parts] == [PART, PART, 7] and b"".join(staged.parts) == data
    staged.release()
    assert staged.parts == []
    views = StagedParts.of_view(memoryview(data), PART).parts
    assert [v.obj is data for v in views] == [True, True, True]  # cut, not copied


def test_damaged_multipart_version_is_refused(parts_store) -> None:
    old = parts_store.put("k", b"older bytes")
    data = random.Random(4).randbytes(2 * PART + 99)
    with parts_store.open_writer("k") as f:
        f.write(data)
    damaged = bytearray(data)
    damaged[PART + 1] ^= 0xFF  # one bit in the second part, same length
    parts_store._client().put_object(
        Bucket=parts_store.bucket, Key=parts_store._key(f.version.name), Body=bytes(damaged)
    )
    with pytest.raises(CorruptObject, match="fails its checksum"):
        parts_store.read_verified("k", lambda r: r.read())
    with pytest.raises(CorruptObject):
        parts_store.get("k")
    assert parts_store.get("k", version=old.id) == b"older bytes"


def test_producer_failure_commits_nothing(parts_store) -> None:
    old = parts_store.put("k", b"previous")
    with pytest.raises(RuntimeError), parts_store.open_writer("k") as f:
        f.write(random.Random(5).randbytes(2 * PART))
        raise RuntimeError("the producer failed")
    assert f.version is None
    assert parts_store.versions("k") == [old] and parts_store.get("k") == b"previous"
    assert _uploads(parts_store) == []


class _Interrupted(BaseException):
    """What the test's SIGINT handler raises (as Ctrl-C raises KeyboardInterrupt)."""


def _when_uploading(store, then) -> threading.Thread:
    """A thread that calls ``then()`` as soon as a multipart upload is open in the bucket."""
    import boto3

    # made here, not in the thread: creating boto3 clients is not thread-safe
    client = boto3.client("s3", endpoint_url=store.endpoint_url, region_name="us-east-1")

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if client.list_multipart_uploads(Bucket=store.bucket).get("Uploads"):
                then()
                return
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_interrupt_during_the_upload_aborts_it(s3_server: MotoServer, s3_bucket: str) -> None:
    """Ctrl-C while the parts upload: the upload is aborted, nothing is visible, the old version stays."""
    store = _open(s3_server, s3_bucket, max_concurrency=1)  # one part at a time: slow enough to hit
    old = store.put("ckpt/state", b"previous")
    w = store.open_writer("ckpt/state")
    w.write(random.Random(6).randbytes(12 * PART))

    def interrupt(signum, frame):
        raise _Interrupted

    main = threading.main_thread().ident
    assert main is not None
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        watcher = _when_uploading(store, lambda: signal.pthread_kill(main, signal.SIGINT))
        with pytest.raises(_Interrupted):
            w.close()
            time.sleep(30)  # a late signal lands here: the version is then checked below
        watcher.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert w.version is None
    assert store.versions("ckpt/state") == [old] and store.get("ckpt/state") == b"previous"
    assert _uploads(store) == []


def test_server_gone_during_the_upload(s3_env, tmp_path) -> None:
    """The endpoint dies mid-upload: a typed error; when it comes back, only the old version is there."""
    server = MotoServer(log_dir=str(tmp_path))
    server.start()
    try:
        bucket = make_bucket(server.url)
        store = _open(server, bucket, max_concurrency=1)
        old = store.put("k", b"previous")
        seed_file = tmp_path / "old.bin"
        seed_file.write_bytes(b"previous")
        w = store.open_writer("k")
        w.write(random.Random(7).randbytes(12 * PART))
        watcher = _when_uploading(store, server.stop)
        with pytest.raises(StoreUnavailable) as err:
            w.close()
        watcher.join()
        assert w.version is None and err.value.hint
        server.start(seed={bucket: {store._key(old.name): seed_file}})  # a durable server comes back
        assert store.versions("k") == [old] and store.get("k") == b"previous"
    finally:
        server.stop()


WRITER = r"""
import os, sys
import altakit
store = altakit.open_store(sys.argv[1], endpoint_url=sys.argv[2], part_size=5 << 20,
                           multipart_threshold=5 << 20, max_concurrency=1)
w = store.open_writer("ckpt/state")
w.write(os.urandom(12 * (5 << 20)))
print("closing", flush=True)
w.close()
print("committed", flush=True)
"""


def test_killed_writer_commits_nothing(parts_store, s3_server: MotoServer) -> None:
    """SIGKILL during the upload: no version; the open upload is invisible (a lifecycle rule ends it)."""
    old = parts_store.put("ckpt/state", b"previous")
    url = f"s3://{parts_store.bucket}/{parts_store.prefix}"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, s3_server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "closing", proc.stderr.read()
        watcher = _when_uploading(parts_store, proc.kill)
        proc.wait(timeout=60)
        watcher.join()
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL, "the writer finished before the kill landed"
    assert parts_store.versions("ckpt/state") == [old] and parts_store.get("ckpt/state") == b"previous"
    assert [v.key for v in parts_store.list()] == ["ckpt/state"]
    assert len(_uploads(parts_store)) == 1  # left open, and invisible to every read
