"""Store browser listing: the first page of a folder holding 100,000 keys, server-side, next to its peers.

What the REST route ``GET {api}/store/list?prefix=big/&limit=200`` runs on the server
(:func:`altakit.store.browse.list_folder` → ``Store.list_page``), timed without HTTP:

- local store vs ``os.scandir`` of the folder, first 200 names (the floor: one readdir, in directory
  order), and vs ``os.listdir`` + the 200 smallest names (the floor of a page in key order: every name
  of the folder is read once, as the store must to page in order);
- S3 store on a loopback moto server vs raw boto3 ``list_objects_v2(MaxKeys=200, Delimiter="/")``;
- both vs the store's full one-level listing (``store.list(prefix, recursive=False)``), what a
  browser without paging would have to do.

Goals (issue 12): first page in <= 150 ms locally and <= 300 ms on the loopback S3, printed as
absolute times; the ratio columns compare with the peers of the same run. Nothing fails on timing.

Usage:
    .venv/bin/python bench/bench_browse.py             # 100,000 keys
    .venv/bin/python bench/bench_browse.py --quick     # 10,000 keys, one repeat
    .venv/bin/python bench/bench_browse.py --only local
"""

from __future__ import annotations

import argparse
import heapq
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import Row, best_of, moto_server, rate, report

import altakit
from altakit.store.browse import list_folder
from altakit.store.local import LocalStore
from altakit.store.names import SEP, Version, checksum, new_id

PAGE = 200
GOAL_LOCAL_MS = 150.0
GOAL_S3_MS = 300.0


def fill_local(root: Path, keys: int) -> LocalStore:
    """``keys`` one-byte keys ``big/k000000.bin`` … through the store's own ``put``."""
    store = LocalStore(root, fsync=False)
    for i in range(keys):
        store.put(f"big/k{i:06d}.bin", b"x")
    store.put("big/sub/inner.txt", b"x")
    return store


def fill_s3(endpoint: str, keys: int) -> tuple[object, str, str]:
    """A bucket with ``keys`` one-byte versions under ``store/big/``, written with raw boto3 (setup only)."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    bucket = "browse-bench"
    client.create_bucket(Bucket=bucket)
    digest = checksum(b"x")

    def put(i: int) -> None:
        name = Version(f"big/k{i:06d}.bin", new_id(), 1, digest, "bench@host").name
        client.put_object(Bucket=bucket, Key=f"store/{name}", Body=b"x")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(keys)))
    return client, bucket, "store/"


def check_page(page: dict, keys: int) -> None:
    assert len(page["keys"]) + len(page["folders"]) == min(PAGE, keys + 1), page
    assert page["keys"][0]["key"] == "big/k000000.bin" and page["next"] is not None


def run(args: argparse.Namespace) -> tuple[list[Row], list[str], dict]:
    rows: list[Row] = []
    notes: list[str] = []
    times: dict[str, float] = {}
    parts = set((args.only or "local,s3").split(","))
    folder = Path(tempfile.mkdtemp(prefix="altakit-bench-browse-", dir=args.dir))
    if "local" in parts:
        start = time.perf_counter()
        store = fill_local(folder / "local", args.keys)
        notes.append(f"local: {args.keys:,} keys written in {time.perf_counter() - start:.1f} s")
        check_page(list_folder(store, "big/", None, PAGE), args.keys)
        ours = best_of(lambda: list_folder(store, "big/", None, PAGE), args.repeat)

        def scandir_first() -> list[str]:
            with os.scandir(store.root / "big") as it:
                return [e.name for _, e in zip(range(PAGE), it, strict=False)]

        def listdir_sorted_first() -> list[str]:
            return heapq.nsmallest(PAGE, os.listdir(store.root / "big"))

        peer = best_of(scandir_first, args.repeat)
        ordered = best_of(listdir_sorted_first, args.repeat)
        full = best_of(lambda: store.list("big/", recursive=False), 1)
        times |= {"local_page_s": ours, "local_scandir_s": peer, "local_listdir_sorted_s": ordered}
        times |= {"local_full_list_s": full}
        name = f"local first page of {args.keys:,} keys"
        rows.append(Row(name, "page/s", "list_page", rate(1, ours), "os.scandir first 200", rate(1, peer)))
        rows.append(
            Row(name, "page/s", "list_page", rate(1, ours), "os.listdir, 200 smallest", rate(1, ordered))
        )
        rows.append(Row(name, "page/s", "list_page", rate(1, ours), "store.list (all keys)", rate(1, full)))
        verdict = "ok" if ours * 1000 <= GOAL_LOCAL_MS else "MISSED"
        notes.append(f"local first page: {ours * 1000:.1f} ms (goal <= {GOAL_LOCAL_MS:.0f} ms: {verdict})")
    if "s3" in parts:
        try:
            with moto_server() as endpoint:
                start = time.perf_counter()
                client, bucket, base = fill_s3(endpoint, args.keys)
                notes.append(f"s3: {args.keys:,} keys written in {time.perf_counter() - start:.1f} s")
                s3 = altakit.open_store(f"s3://{bucket}/store", endpoint_url=endpoint)
                check_page(list_folder(s3, "big/", None, PAGE), args.keys - 1)
                ours = best_of(lambda: list_folder(s3, "big/", None, PAGE), args.repeat)
                params = {"Bucket": bucket, "Prefix": f"{base}big/", "Delimiter": "/", "MaxKeys": PAGE}
                peer = best_of(lambda: client.list_objects_v2(**params), args.repeat)  # type: ignore[attr-defined]
                full = best_of(lambda: s3.list("big/", recursive=False), 1)
                times |= {"s3_page_s": ours, "s3_boto3_page_s": peer, "s3_full_list_s": full}
                name = f"S3 first page of {args.keys:,} keys"
                rows.append(
                    Row(
                        name, "page/s", "list_page", rate(1, ours), "boto3 list_objects_v2 200", rate(1, peer)
                    )
                )
                rows.append(
                    Row(name, "page/s", "list_page", rate(1, ours), "store.list (all keys)", rate(1, full))
                )
                verdict = "ok" if ours * 1000 <= GOAL_S3_MS else "MISSED"
                notes.append(f"S3 first page: {ours * 1000:.1f} ms (goal <= {GOAL_S3_MS:.0f} ms: {verdict})")
        except RuntimeError as exc:  # no moto here
            notes.append(f"s3 skipped: {exc}")
    assert SEP  # the names above are the store's own
    return rows, notes, times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 keys, one repeat (a smoke run)")
    parser.add_argument("--keys", type=int, help="keys in the folder (default 100000, quick 10000)")
    parser.add_argument("--repeat", type=int, help="best of N (default 5, quick 1)")
    parser.add_argument("--only", help="comma-separated parts: local,s3")
    parser.add_argument("--dir", help="scratch folder (default: the system temp dir)")
    args = parser.parse_args(argv)
    args.keys = args.keys or (10_000 if args.quick else 100_000)
    args.repeat = args.repeat or (1 if args.quick else 5)
    rows, notes, times = run(args)
    for note in notes:
        print(note)
    report("browse", rows, notes, params={"keys": args.keys, "page": PAGE}, timings_s=times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
