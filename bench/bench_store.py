"""Store throughput next to its peers, measured in one run.

- local store vs the OS copying the file (``shutil.copyfile`` + fsync, as the store fsyncs);
- S3 store vs raw boto3 ``upload_file`` / ``download_file`` on the same loopback moto server;
- JVM store (py4j + Hadoop ``FileSystem``) vs the local store;
- many small objects (1–4 KiB) read cold vs through :class:`~altakit.store.cache.CachedStore`.

Goals: S3 store >= 0.9x raw boto3, JVM >= 0.5x local store, cached >= 20x cold.
A part that cannot run here (no Java, no moto, backend missing) is skipped with a note.

Usage:
    .venv/bin/python bench/bench_store.py            # 100 MB objects, 10,000 small objects
    .venv/bin/python bench/bench_store.py --quick    # 20 MB, 1,000 small objects, one repeat
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from common import MB, Row, best_of, moto_server, rate, report

import altakit
from altakit.store.base import Store
from altakit.store.sources import CHUNK

GOAL_S3 = 0.9
GOAL_JVM = 0.5
GOAL_CACHE = 20.0


class Skip(Exception):
    """A part of the benchmark cannot run here."""


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _drain(f) -> int:
    n = 0
    while chunk := f.read(CHUNK):
        n += len(chunk)
    return n


def _stream_to(store: Store, key: str, dst: Path) -> None:
    with store.open(key) as f, open(dst, "wb") as out:
        shutil.copyfileobj(f, out, CHUNK)


class Bench:
    """Runs the parts and collects rows and notes."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.size = int(args.size_mb * MB)
        self.work = Path(tempfile.mkdtemp(prefix="altakit-bench-", dir=args.dir))
        self.src = self.work / "src.bin"
        with open(self.src, "wb") as f:
            for _ in range(0, self.size, CHUNK):
                f.write(os.urandom(min(CHUNK, self.size - f.tell())))
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.timings: dict[str, float] = {}

    def time(self, label: str, fn: Callable[[], object], setup: Callable[[], object] | None = None) -> float:
        seconds = best_of(fn, self.args.repeat, setup)
        self.timings[label] = seconds
        print(f"  {label:<44} {seconds:8.3f} s", flush=True)
        return seconds

    def mbps(self, label: str, fn: Callable[[], object], setup: Callable[[], object] | None = None) -> float:
        return rate(self.size / MB, self.time(label, fn, setup))

    def _big_put(self, store: Store, key: str) -> Callable[[], object]:
        def put() -> None:
            store.put(key, self.src)

        return put

    # ------------------------------------------------------------------ local
    def local(self) -> None:
        store = altakit.open_store(self.work / "local")
        dst = self.work / "copy.bin"
        mb = self.size // MB

        def os_copy() -> None:
            shutil.copyfile(self.src, dst)
            _fsync(dst)

        write = self.mbps("local store put (fsync)", self._big_put(store, "big/obj.bin"))
        peer = self.mbps("shutil.copyfile + fsync", os_copy)
        plain = self.mbps("shutil.copyfile (no fsync)", lambda: shutil.copyfile(self.src, dst))
        self.rows.append(Row(f"local write {mb} MB", "MB/s", "store.put", write, "copyfile+fsync", peer))
        self.rows.append(Row(f"local write {mb} MB", "MB/s", "store.put", write, "copyfile", plain))
        read = self.mbps("local store get (verified)", lambda: store.get("big/obj.bin"))
        peer = self.mbps("Path.read_bytes", dst.read_bytes)
        self.rows.append(Row(f"local read {mb} MB", "MB/s", "store.get", read, "read_bytes", peer))
        self.local_rates = {"write": write, "read": read}

        def stream() -> None:
            with store.open("big/obj.bin") as f:
                _drain(f)

        def os_stream() -> None:
            with open(dst, "rb") as f:
                _drain(f)

        ours = self.mbps("local store open + read (stream)", stream)
        peer = self.mbps("open + read (stream)", os_stream)
        self.rows.append(Row(f"local stream {mb} MB", "MB/s", "store.open", ours, "open", peer))
        dst.unlink(missing_ok=True)

    # --------------------------------------------------------------------- s3
    def s3(self) -> None:
        try:
            import boto3
        except ImportError as exc:
            raise Skip("boto3 is not installed (pip install 'altakit[s3]')") from exc
        try:
            server = moto_server()
            endpoint = server.__enter__()
        except Exception as exc:
            raise Skip(f"moto server unavailable: {exc}") from exc
        try:
            self._s3(boto3, endpoint)
        finally:
            server.__exit__(None, None, None)

    def _s3(self, boto3, endpoint: str) -> None:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="bench")
        store = altakit.open_store("s3://bench/store", endpoint_url=endpoint)
        mb = self.size // MB
        dst = self.work / "s3-down.bin"
        ours = self.mbps("s3 store put", self._big_put(store, "big/obj.bin"))
        peer = self.mbps(
            "boto3 upload_file", lambda: client.upload_file(str(self.src), "bench", "raw/obj.bin")
        )
        self.rows.append(Row(f"S3 write {mb} MB", "MB/s", "store.put", ours, "upload_file", peer, GOAL_S3))
        ours = self.mbps("s3 store open -> file (stream)", lambda: _stream_to(store, "big/obj.bin", dst))
        peer = self.mbps(
            "boto3 download_file", lambda: client.download_file("bench", "raw/obj.bin", str(dst))
        )
        self.rows.append(Row(f"S3 read {mb} MB", "MB/s", "store.open", ours, "download_file", peer, GOAL_S3))

        def raw_get() -> None:
            client.download_fileobj("bench", "raw/obj.bin", io.BytesIO())

        ours = self.mbps("s3 store get (bytes, verified)", lambda: store.get("big/obj.bin"))
        peer = self.mbps("boto3 download_fileobj(BytesIO)", raw_get)
        self.rows.append(Row(f"S3 get {mb} MB", "MB/s", "store.get", ours, "download_fileobj", peer, GOAL_S3))
        dst.unlink(missing_ok=True)
        if self.args.s3_small:
            self.cache(store, self.args.s3_small, "S3")
        store.close()

    # -------------------------------------------------------------------- jvm
    def jvm(self) -> None:
        if not shutil.which("java"):
            raise Skip("Java is not installed (apt-get install openjdk-17-jre-headless)")
        if not hasattr(self, "local_rates"):
            raise Skip("the JVM row compares with the local store: run the local part too")
        try:
            store = altakit.open_store(f"jvm+{(self.work / 'jvm').as_uri()}")
        except altakit.AltakitError as exc:
            raise Skip(f"JVM store unavailable: {exc}") from exc
        mb = self.size // MB
        try:
            ours = self.mbps("jvm store put", self._big_put(store, "big/obj.bin"))
            local = self.local_rates["write"]
            self.rows.append(
                Row(f"JVM write {mb} MB", "MB/s", "jvm store", ours, "local store", local, GOAL_JVM)
            )
            ours = self.mbps("jvm store get (verified)", lambda: store.get("big/obj.bin"))
            local = self.local_rates["read"]
            self.rows.append(
                Row(f"JVM read {mb} MB", "MB/s", "jvm store", ours, "local store", local, GOAL_JVM)
            )
        finally:
            store.close()

    # ------------------------------------------------------------------ cache
    def cache(self, base: Store, count: int, label: str) -> None:
        try:
            from altakit.store.cache import CachedStore
        except ImportError as exc:
            raise Skip(f"altakit.store.cache is not available: {exc}") from exc
        rng = random.Random(1)
        items = []
        start = time.perf_counter()
        for i in range(count):
            key = f"small/{i // 100:03d}/{i:05d}.bin"
            items.append((key, base.put(key, rng.randbytes(rng.randint(1024, 4096))).id))
        print(
            f"  ({label}: wrote {count:,} small objects in {time.perf_counter() - start:.1f} s)", flush=True
        )

        def read_all(store: Store) -> None:
            for key, vid in items:
                store.get(key, version=vid)

        cold = self.time(f"{label}: {count:,} gets, cold", lambda: read_all(base))
        cached = CachedStore(base)
        first = self.time(
            f"{label}: {count:,} gets, cache filling", lambda: (cached.clear(), read_all(cached))
        )
        read_all(cached)
        warm = self.time(f"{label}: {count:,} gets, cache warm", lambda: read_all(cached))
        self.rows.append(
            Row(
                f"{count:,} small objects, {label}",
                "obj/s",
                "cached",
                rate(count, warm),
                "cold",
                rate(count, cold),
                GOAL_CACHE,
                note=f"first pass through the cache: {rate(count, first):,.0f} obj/s",
            )
        )

    def small_local(self) -> None:
        self.cache(altakit.open_store(self.work / "small"), self.args.small, "local")

    # -------------------------------------------------------------------- run
    def run(self) -> None:
        parts = {"local": self.local, "s3": self.s3, "jvm": self.jvm, "cache": self.small_local}
        chosen = self.args.only.split(",") if self.args.only else list(parts)
        try:
            for name in chosen:
                print(f"== {name}", flush=True)
                try:
                    parts[name]()
                except Skip as exc:
                    self.notes.append(f"{name}: skipped: {exc}")
                    print(f"  skipped: {exc}", flush=True)
                except Exception as exc:  # report and go on: one broken part must not hide the others
                    traceback.print_exc()
                    self.notes.append(f"{name}: failed: {type(exc).__name__}: {exc}")
        finally:
            shutil.rmtree(self.work, ignore_errors=True)
        params = {k: v for k, v in vars(self.args).items() if k != "dir"}
        report("store", self.rows, self.notes, params=params, timings_s=self.timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat (a smoke run)")
    parser.add_argument("--size-mb", type=float, help="size of the large object (default 100, quick 20)")
    parser.add_argument(
        "--small", type=int, help="small objects on the local store (default 10000, quick 1000)"
    )
    parser.add_argument("--s3-small", type=int, help="small objects on S3 (default 1000, quick 200; 0 = off)")
    parser.add_argument("--repeat", type=int, help="best of N (default 3, quick 1)")
    parser.add_argument("--only", help="comma-separated parts: local,s3,jvm,cache")
    parser.add_argument("--dir", help="scratch folder (default: the system temp dir)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.size_mb = args.size_mb or (20 if quick else 100)
    args.small = args.small if args.small is not None else (1000 if quick else 10_000)
    args.s3_small = args.s3_small if args.s3_small is not None else (200 if quick else 1000)
    args.repeat = args.repeat or (1 if quick else 3)
    Bench(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
