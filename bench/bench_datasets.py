"""Typed datasets vs the peers, in one run on the same samples.

Samples: 100,000 of a 3x32x32 uint8 image + int label (``--quick``: 20,000), and
2,000 of 256 KB (``--quick``: 300). Compared: altakit (in process, and through a
PyTorch DataLoader with 0 and 2 workers), plain webdataset reading altakit's own
shards with its default ``.decode()`` (``.mp`` → dict, ``.npy`` → ndarray), Hugging Face
``datasets`` (Arrow; one sample at a time and in batches of 256), MosaicML streaming
(MDS, run in its own venv given by ``--mds-python``; skipped when absent), a
file-per-sample folder of ``.npy``, and the raw read rate of the shard bytes (the
limit: ``f.read()`` into a new ``bytes``, and ``readinto`` one reused buffer, a bare
copy out of the page cache).

altakit verifies a shard version's SHA-256 the first time it is read and trusts
it afterwards while the file is unchanged, so the first epoch (every shard
hashed) and later epochs are reported apart; ``verify=False`` (size checks only)
is shown too. On loopback S3 (moto): altakit's first epoch (download, verified
into the shard cache) and second epoch (cache), plain webdataset streaming the
same S3 shards through a boto3 ``gopen`` handler (every epoch downloads: it has
no cache), and the raw GET rate of the shards.

Run:
    .venv/bin/python bench/bench_datasets.py --quick
    .venv/bin/python bench/bench_datasets.py --mds-python build/mds-venv/bin/python

Writes ``bench/results/datasets.json``. Timings never fail anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, best_of, moto_server, rate, report

import altakit
from altakit.datasets.samples import Array

BATCH = 256


@altakit.sample(name="bench-small")
class Small:
    image: Annotated[np.ndarray, Array("uint8", (3, 32, 32))]
    label: int


@altakit.sample(name="bench-large")
class Large:
    data: Annotated[np.ndarray, Array("uint8", (512, 512))]
    label: int


def shard_paths(ds: Any) -> list[str]:
    """Local file paths of a dataset's shards (local store only)."""
    store = ds.store
    return [str(store._path(store.resolve(s["key"], s["version"]).name)) for s in ds.manifest["shards"]]


def timed(fn: Any, repeat: int) -> float:
    return best_of(fn, repeat=repeat, long_s=3.0)


# ---------------------------------------------------------------- altakit and raw
def raw_read(paths: list[str]) -> None:
    for p in paths:
        with open(p, "rb") as f:
            f.read()


def raw_readinto(paths: list[str]) -> Any:
    """Read every shard into one buffer made (and touched) beforehand: a bare page-cache copy."""
    buf = np.ones(max(os.path.getsize(p) for p in paths), dtype=np.uint8)

    def read() -> None:
        for p in paths:
            with open(p, "rb", buffering=0) as f:
                f.readinto(buf)

    return read


def cold(tmp: str) -> None:
    """Forget which shard versions were verified: the next read is a first epoch."""
    os.environ["ALTAKIT_SHARD_CACHE"] = tempfile.mkdtemp(dir=tmp, prefix="trust-")


def drain_batches(it: Any) -> int:
    n = 0
    for b in it:
        n += len(b["label"])
    return n


# ---------------------------------------------------------------- webdataset
def wds_fields(sample: dict[str, Any]) -> tuple[np.ndarray, int]:
    """What a user's plain code picks from a decoded sample: the array member and the label."""
    return next(v for k, v in sample.items() if k.endswith(".npy")), sample["mp"]["label"]


def wds_pipeline(paths: list[str]) -> Any:
    import webdataset as wds

    # webdataset's default decoders: .mp → dict (msgpack), .npy → a new, writable ndarray (np.load)
    return wds.WebDataset(paths, shardshuffle=False, empty_check=False).decode().map(wds_fields)


S3_ENDPOINT = ""  # set by run_s3; forked DataLoader workers inherit it


def gopen_s3(url: str, mode: str = "rb", bufsize: int = 8192, **kw: Any) -> Any:
    """A webdataset ``gopen`` handler for ``s3://bucket/key``: a boto3 streaming GET."""
    import boto3

    bucket, key = url.removeprefix("s3://").split("/", 1)
    return boto3.client("s3", endpoint_url=S3_ENDPOINT).get_object(Bucket=bucket, Key=key)["Body"]


def wds_inprocess(paths: list[str]) -> None:
    for _ in wds_pipeline(paths):
        pass


def wds_loader(paths: list[str], workers: int) -> None:
    from torch.utils.data import DataLoader

    for _ in DataLoader(wds_pipeline(paths), batch_size=BATCH, num_workers=workers):
        pass


# ---------------------------------------------------------------- file per sample
class FolderDataset:
    """Map-style: one .npy per sample, label in the file name."""

    def __init__(self, folder: str) -> None:
        self.files = sorted(os.listdir(folder))
        self.folder = folder

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        name = self.files[i]
        return np.load(os.path.join(self.folder, name)), int(name.split("_")[1].split(".")[0])


def write_folder(folder: str, images: np.ndarray, labels: np.ndarray) -> None:
    os.makedirs(folder, exist_ok=True)
    for i in range(len(images)):
        np.save(os.path.join(folder, f"{i:07d}_{labels[i]}.npy"), images[i])


def folder_inprocess(ds: FolderDataset) -> None:
    for i in range(len(ds)):
        ds[i]


def folder_loader(ds: FolderDataset, workers: int) -> None:
    from torch.utils.data import DataLoader

    for _ in DataLoader(ds, batch_size=BATCH, num_workers=workers):
        pass


# ---------------------------------------------------------------- Hugging Face datasets
def hf_build(folder: str, images: np.ndarray, labels: np.ndarray) -> Any:
    import datasets as hf

    feats = hf.Features(
        {"image": hf.Array3D(shape=images.shape[1:], dtype="uint8") if images.ndim == 4
         else hf.Array2D(shape=images.shape[1:], dtype="uint8"), "label": hf.Value("int64")}
    )  # fmt: skip

    def gen() -> Any:
        for i in range(len(images)):
            yield {"image": images[i], "label": int(labels[i])}

    hf.Dataset.from_generator(gen, features=feats, cache_dir=folder + "-cache").save_to_disk(folder)
    return hf.load_from_disk(folder)


def hf_single(d: Any) -> None:
    for _ in d.with_format("numpy"):
        pass


def hf_batched(d: Any) -> None:
    for _ in d.with_format("numpy").iter(batch_size=BATCH):
        pass


def hf_loader(d: Any, workers: int) -> None:
    from torch.utils.data import DataLoader

    for _ in DataLoader(d.with_format("torch"), batch_size=BATCH, num_workers=workers):
        pass


# ---------------------------------------------------------------- MosaicML streaming
MDS_SCRIPT = r"""
import json, os, sys, time, numpy as np
from streaming import MDSWriter, StreamingDataset
src, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
if not os.path.exists(os.path.join(out, "index.json")):
    images = np.load(src + "/images.npy"); labels = np.load(src + "/labels.npy")
    with MDSWriter(out=out, columns={"image": "ndarray:uint8", "label": "int"}, size_limit="64mb") as w:
        for i in range(len(images)):
            w.write({"image": images[i], "label": int(labels[i])})
ds = StreamingDataset(local=out, shuffle=False, batch_size=256)
n = ds.num_samples
if mode == "inprocess":
    best = 1e9
    for _ in range(2):
        t = time.perf_counter()
        for s in ds:
            pass
        best = min(best, time.perf_counter() - t)
else:  # a fresh process: MDS workers must fork before the main process iterates
    from torch.utils.data import DataLoader
    t = time.perf_counter()
    for _ in DataLoader(ds, batch_size=256, num_workers=2):
        pass
    best = time.perf_counter() - t
print("MDS-RESULT " + json.dumps({mode: n / best}))
"""


def mds_run(python: str, tmp: str, images: np.ndarray, labels: np.ndarray, tag: str) -> dict[str, float]:
    src = os.path.join(tmp, f"mds-src-{tag}")
    os.makedirs(src, exist_ok=True)
    np.save(os.path.join(src, "images.npy"), images)
    np.save(os.path.join(src, "labels.npy"), labels)
    out = os.path.join(tmp, f"mds-{tag}")
    found: dict[str, float] = {}
    for mode in ("inprocess", "loader2"):
        proc = subprocess.run(
            [python, "-c", MDS_SCRIPT, src, out, mode], capture_output=True, text=True, timeout=900
        )
        lines = [x for x in proc.stdout.splitlines() if x.startswith("MDS-RESULT ")]
        if not lines:
            raise RuntimeError(f"{mode}: {proc.stderr[-2000:]}")
        found.update(json.loads(lines[-1].split(" ", 1)[1]))
    return found


# ---------------------------------------------------------------- one sample size
def run_size(kind: str, n: int, tmp: str, args: argparse.Namespace, rows: list[Row], extra: dict) -> None:
    rng = np.random.default_rng(0)
    cls = Small if kind == "small" else Large
    shape = (3, 32, 32) if kind == "small" else (512, 512)
    images = rng.integers(0, 255, (n, *shape), dtype=np.uint8)
    labels = rng.integers(0, 10, n)
    store = altakit.open_store(os.path.join(tmp, f"store-{kind}"))
    maxcount = 10_000 if kind == "small" else 200
    t0 = time.perf_counter()
    altakit.write_dataset(
        (cls(images[i], int(labels[i])) for i in range(n)),
        kind,
        store=store,
        maxcount=maxcount,
        progress=False,
    )
    extra[f"{kind}_write_samples_per_s"] = n / (time.perf_counter() - t0)
    paths = shard_paths(altakit.load_dataset(kind, store=store))
    rep = args.repeat
    unit = "samples/s"
    r_raw = rate(n, timed(lambda: raw_read(paths), rep))
    r_into = rate(n, timed(raw_readinto(paths), rep))
    import torch  # noqa: F401  (imported before timing: the import is not part of a read)

    def first(make: Any) -> float:  # one verifying epoch: every shard hashed
        cold(tmp)
        ds = altakit.load_dataset(kind, store=store)
        return rate(n, timed(lambda: drain_batches(make(ds)), 1))

    r_first = first(lambda d: d.batches(BATCH))
    r_t2_first = first(lambda d: d.torch(BATCH, seed=1, num_workers=2))
    cold(tmp)
    ds = altakit.load_dataset(kind, store=store)
    drain_batches(ds.batches(BATCH))  # epoch 1: verifies (measured above)
    fast = altakit.load_dataset(kind, store=store, verify=False)
    r_ours = rate(n, timed(lambda: drain_batches(ds.batches(BATCH)), rep))
    r_fast = rate(n, timed(lambda: drain_batches(fast.batches(BATCH)), rep))
    r_shuf = rate(n, timed(lambda: drain_batches(ds.batches(BATCH, shuffle=True, seed=1)), rep))
    r_t0 = rate(n, timed(lambda: drain_batches(ds.torch(BATCH, seed=1, num_workers=0)), rep))
    r_t2 = rate(n, timed(lambda: drain_batches(ds.torch(BATCH, seed=1, num_workers=2)), rep))
    r_t2f = rate(n, timed(lambda: drain_batches(fast.torch(BATCH, seed=1, num_workers=2)), rep))
    label = f"{kind} {n} x {images[0].nbytes // 1024} KB"
    big = 0.7 if kind == "large" else None
    raw_label, into_label = "raw f.read()", "raw readinto"
    ours, later = "altakit batches", "altakit, epoch 2+"
    for peer, value in ((raw_label, r_raw), (into_label, r_into)):
        rows.append(
            Row(f"{label}: in process, epoch 2+ vs raw read", unit, ours, r_ours, peer, value, goal=big)
        )
    rows.append(Row(f"{label}: in process, epoch 1 (verifies)", unit, ours, r_first, into_label, r_into))
    rows.append(Row(f"{label}: in process, verify=False", unit, ours, r_fast, into_label, r_into))
    rows.append(Row(f"{label}: shuffled vs in order", unit, "altakit shuffled", r_shuf, later, r_ours))
    rows.append(Row(f"{label}: torch 0 workers", unit, "altakit torch", r_t0, into_label, r_into))
    rows.append(
        Row(f"{label}: torch 2 workers, epoch 1", unit, "altakit torch", r_t2_first, into_label, r_into)
    )
    rows.append(Row(f"{label}: torch 2 workers, epoch 2+", unit, "altakit torch", r_t2, into_label, r_into))
    peers_loader: dict[str, float] = {}
    peers_inproc: dict[str, float] = {}
    peers_inproc["webdataset .decode()"] = rate(n, timed(lambda: wds_inprocess(paths), 1))
    peers_loader["webdataset .decode()"] = rate(n, timed(lambda: wds_loader(paths, 2), 1))
    if kind == "small" or not args.quick:
        folder = os.path.join(tmp, f"folder-{kind}")
        write_folder(folder, images, labels)
        fds = FolderDataset(folder)
        peers_inproc["file per sample"] = rate(n, timed(lambda: folder_inprocess(fds), 1))
        peers_loader["file per sample"] = rate(n, timed(lambda: folder_loader(fds, 2), 1))
    try:
        hfd = hf_build(os.path.join(tmp, f"hf-{kind}"), images, labels)
        peers_inproc["HF datasets, 1 at a time"] = rate(n, timed(lambda: hf_single(hfd), 1))
        peers_inproc["HF datasets, batches of 256"] = rate(n, timed(lambda: hf_batched(hfd), 1))
        peers_loader["HF datasets"] = rate(n, timed(lambda: hf_loader(hfd, 2), 1))
    except ImportError:
        extra["notes"].append("Hugging Face datasets is not installed: skipped")
    if args.mds_python and os.path.exists(args.mds_python):
        try:
            mds = mds_run(args.mds_python, tmp, images, labels, kind)
            peers_inproc["MosaicML streaming (MDS)"] = mds["inprocess"]
            if "loader2" in mds:
                peers_loader["MosaicML streaming (MDS)"] = mds["loader2"]
        except Exception as exc:  # its own venv; report, never fail
            extra["notes"].append(f"MosaicML streaming failed: {str(exc)[-300:]}")
    else:
        extra["notes"].append("MosaicML streaming skipped (no --mds-python venv)")
    for peer, value in peers_inproc.items():
        rows.append(Row(f"{label}: in process", unit, "altakit batches", r_ours, peer, value))
    for peer, value in peers_loader.items():
        goal = 6.0 if kind == "small" else None
        rows.append(Row(f"{label}: DataLoader 2 workers, epoch 2+", unit, "altakit torch", r_t2, peer, value,
                        goal=goal))  # fmt: skip
        rows.append(Row(f"{label}: DataLoader 2 workers, epoch 1", unit, "altakit torch", r_t2_first, peer,
                        value, goal=goal))  # fmt: skip
    extra[kind] = {
        "raw": r_raw, "raw_readinto": r_into,
        "altakit_inprocess": r_ours, "altakit_inprocess_epoch1": r_first,
        "altakit_inprocess_noverify": r_fast, "altakit_shuffled": r_shuf,
        "altakit_torch0": r_t0, "altakit_torch2": r_t2, "altakit_torch2_epoch1": r_t2_first,
        "altakit_torch2_noverify": r_t2f, "peers_inprocess": peers_inproc, "peers_loader2": peers_loader,
    }  # fmt: skip
    if kind == "small":
        extra["absolute_goals"] = {
            "in process >= 150,000/s (epoch 2+)": r_ours >= 150_000,
            "in process >= 150,000/s (epoch 1)": r_first >= 150_000,
            "DataLoader 2 workers >= 100,000/s (epoch 2+)": r_t2 >= 100_000,
            "DataLoader 2 workers >= 100,000/s (epoch 1)": r_t2_first >= 100_000,
        }
    if not args.skip_s3:
        run_s3(kind, cls, images, labels, maxcount, tmp, rows, extra)


def run_s3(kind: str, cls: Any, images: np.ndarray, labels: np.ndarray, maxcount: int, tmp: str,
           rows: list[Row], extra: dict) -> None:  # fmt: skip
    global S3_ENDPOINT
    import importlib

    gopen = importlib.import_module("webdataset.gopen")  # the module (webdataset.gopen is also a function)
    n = len(images)
    with moto_server() as url:
        import boto3

        S3_ENDPOINT = url
        gopen.gopen_schemes["s3"] = gopen_s3
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket="bench")
        store = altakit.open_store("s3://bench/data", endpoint_url=url)
        altakit.write_dataset(
            (cls(images[i], int(labels[i])) for i in range(n)),
            kind,
            store=store,
            maxcount=maxcount,
            progress=False,
        )
        cache = os.path.join(tmp, f"s3cache-{kind}")
        ds = altakit.load_dataset(kind, store=store, cache_dir=cache)
        t = time.perf_counter()
        drain_batches(ds.batches(BATCH))
        first = rate(n, time.perf_counter() - t)
        second = rate(n, timed(lambda: drain_batches(ds.batches(BATCH)), 2))
        second2 = rate(n, timed(lambda: drain_batches(ds.torch(BATCH, num_workers=2)), 1))
        fresh = altakit.load_dataset(kind, store=store, cache_dir=os.path.join(tmp, f"s3cache2-{kind}"))
        first2 = rate(n, timed(lambda: drain_batches(fresh.torch(BATCH, num_workers=2)), 1))  # empty cache
        client = boto3.client("s3", endpoint_url=url)
        names = ["data/" + store.resolve(s["key"], s["version"]).name for s in ds.manifest["shards"]]
        urls = [f"s3://bench/{name}" for name in names]

        def raw() -> None:
            for name in names:
                client.get_object(Bucket="bench", Key=name)["Body"].read()

        r_raw = rate(n, timed(raw, 1))
        r_wds = rate(n, timed(lambda: wds_inprocess(urls), 1))
        r_wds2 = rate(n, timed(lambda: wds_loader(urls, 2), 1))
    label = f"{kind} S3 loopback"
    unit = "samples/s"
    get, wds_label = "raw S3 GET of shards", "webdataset .decode()"
    for what, ours, peer, value in (
        ("in process, epoch 1 (download)", first, get, r_raw),
        ("in process, epoch 1 (download)", first, wds_label, r_wds),
        ("in process, epoch 2 (shard cache)", second, get, r_raw),
        ("in process, epoch 2 (shard cache)", second, wds_label, r_wds),
        ("torch 2 workers, epoch 1 (download)", first2, wds_label, r_wds2),
        ("torch 2 workers, epoch 2 (shard cache)", second2, wds_label, r_wds2),
    ):
        rows.append(Row(f"{label}: {what}", unit, "altakit", ours, peer, value))
    extra[f"{kind}_s3"] = {
        "raw_get": r_raw, "epoch1": first, "epoch2": second, "epoch1_torch2": first2,
        "epoch2_torch2": second2, "webdataset": r_wds, "webdataset_loader2": r_wds2,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20,000 small and 300 large samples")
    parser.add_argument("--skip-s3", action="store_true", help="leave out the loopback S3 runs")
    parser.add_argument(
        "--mds-python", default="build/mds-venv/bin/python", help="python of a mosaicml-streaming venv"
    )
    parser.add_argument("--repeat", type=int, default=2, help="best of N for altakit timings")
    args = parser.parse_args()
    rows: list[Row] = []
    extra: dict[str, Any] = {"notes": []}
    with tempfile.TemporaryDirectory(prefix="altakit-bench-ds-") as tmp:
        run_size("small", 20_000 if args.quick else 100_000, tmp, args, rows, extra)
        run_size("large", 300 if args.quick else 2_000, tmp, args, rows, extra)
    notes = [
        *extra.pop("notes"),
        f"goals (small): {extra.get('absolute_goals')}",
        "peers through the DataLoader use batch_size=256 with torch's default collate in the workers",
        "altakit verify=True (the default) hashes a shard version on its first read and trusts it while "
        "the file is unchanged: epoch 1 = every shard hashed, epoch 2+ = size checks only, like verify=False",
        "raw readinto = one reused buffer, a bare page-cache copy; raw f.read() = a new bytes per shard",
        "webdataset on S3 streams every epoch from S3 (no cache); altakit epoch 2 reads its shard cache",
    ]
    report("datasets", rows, notes, quick=args.quick, **extra)


if __name__ == "__main__":
    main()
