"""Typed datasets vs the peers, in one run on the same samples.

Samples: 100,000 of a 3x32x32 uint8 image + int label (``--quick``: 20,000), and
2,000 of 256 KB (``--quick``: 300). Compared: altakit (in process, and through a
PyTorch DataLoader with 0 and 2 workers), plain webdataset reading altakit's own
shards with a msgpack decode, Hugging Face ``datasets`` (Arrow; one sample at a
time and in batches of 256), MosaicML streaming (MDS, run in its own venv given
by ``--mds-python``; skipped when absent), a file-per-sample folder of ``.npy``,
and the raw read rate of the shard bytes (the limit). On loopback S3 (moto):
altakit's first epoch (download into the shard cache) and second epoch (cache),
next to the raw GET rate of the shards.

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

import msgpack
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, best_of, moto_server, rate, report

import altakit
from altakit.samples import Array

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


def drain_batches(it: Any) -> int:
    n = 0
    for b in it:
        n += len(b["label"])
    return n


# ---------------------------------------------------------------- webdataset
def wds_decode(sample: dict[str, Any]) -> tuple[np.ndarray, int]:
    doc = msgpack.unpackb(sample["msgpack"])
    dtype, shape, data = doc[next(k for k in doc if k != "label")]
    return np.frombuffer(data, dtype).reshape(shape), doc["label"]


def wds_pipeline(paths: list[str]) -> Any:
    import webdataset as wds

    return wds.WebDataset(paths, shardshuffle=False, empty_check=False).map(wds_decode)


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
import json, sys, time, numpy as np
from streaming import MDSWriter, StreamingDataset
src, out, local = sys.argv[1], sys.argv[2], sys.argv[3]
images = np.load(src + "/images.npy"); labels = np.load(src + "/labels.npy")
with MDSWriter(out=out, columns={"image": "ndarray:uint8", "label": "int"}, size_limit="64mb") as w:
    for i in range(len(images)):
        w.write({"image": images[i], "label": int(labels[i])})
ds = StreamingDataset(local=out, shuffle=False, batch_size=256)
best = 1e9
for _ in range(2):
    t = time.perf_counter(); n = 0
    for s in ds:
        n += 1
    best = min(best, time.perf_counter() - t)
res = {"inprocess": n / best}
try:
    from torch.utils.data import DataLoader
    t = time.perf_counter()
    for _ in DataLoader(ds, batch_size=256, num_workers=2):
        pass
    res["loader2"] = n / (time.perf_counter() - t)
except Exception as exc:
    res["loader_error"] = str(exc)
print("MDS-RESULT " + json.dumps(res))
"""


def mds_run(python: str, tmp: str, images: np.ndarray, labels: np.ndarray, tag: str) -> dict[str, float]:
    src = os.path.join(tmp, f"mds-src-{tag}")
    os.makedirs(src, exist_ok=True)
    np.save(os.path.join(src, "images.npy"), images)
    np.save(os.path.join(src, "labels.npy"), labels)
    out = os.path.join(tmp, f"mds-{tag}")
    proc = subprocess.run(
        [python, "-c", MDS_SCRIPT, src, out, out], capture_output=True, text=True, timeout=900
    )
    for line in proc.stdout.splitlines():
        if line.startswith("MDS-RESULT "):
            return json.loads(line.split(" ", 1)[1])
    raise RuntimeError(proc.stderr[-2000:])


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
    ds = altakit.load_dataset(kind, store=store)
    fast = altakit.load_dataset(kind, store=store, verify=False)
    paths = shard_paths(ds)
    rep = args.repeat
    unit = "samples/s"
    r_raw = rate(n, timed(lambda: raw_read(paths), rep))
    r_ours = rate(n, timed(lambda: drain_batches(ds.batches(BATCH)), rep))
    r_fast = rate(n, timed(lambda: drain_batches(fast.batches(BATCH)), rep))
    r_shuf = rate(n, timed(lambda: drain_batches(ds.batches(BATCH, shuffle=True, seed=1)), rep))
    import torch  # noqa: F401  (imported before timing: the import is not part of a read)

    r_t0 = rate(n, timed(lambda: drain_batches(ds.torch(BATCH, seed=1, num_workers=0)), rep))
    r_t2 = rate(n, timed(lambda: drain_batches(ds.torch(BATCH, seed=1, num_workers=2)), rep))
    r_t2f = rate(n, timed(lambda: drain_batches(fast.torch(BATCH, seed=1, num_workers=2)), rep))
    label = f"{kind} {n} x {images[0].nbytes // 1024} KB"
    big = 0.7 if kind == "large" else None
    raw_label = "raw shard bytes"
    rows.append(
        Row(f"{label}: in process vs raw read", unit, "altakit batches", r_ours, raw_label, r_raw, goal=big)
    )
    rows.append(
        Row(f"{label}: in process, verify=False", unit, "altakit batches", r_fast, raw_label, r_raw, goal=big)
    )
    rows.append(
        Row(f"{label}: shuffled vs unshuffled", unit, "altakit shuffled", r_shuf, "altakit in order", r_ours)
    )
    rows.append(Row(f"{label}: torch 0 workers", unit, "altakit torch", r_t0, "raw shard bytes", r_raw))
    rows.append(Row(f"{label}: torch 2 workers", unit, "altakit torch", r_t2, "raw shard bytes", r_raw))
    peers_loader: dict[str, float] = {}
    peers_inproc: dict[str, float] = {}
    peers_inproc["webdataset+msgpack"] = rate(n, timed(lambda: wds_inprocess(paths), 1))
    peers_loader["webdataset+msgpack"] = rate(n, timed(lambda: wds_loader(paths, 2), 1))
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
        rows.append(Row(f"{label}: DataLoader 2 workers", unit, "altakit torch", r_t2, peer, value,
                        goal=6.0 if kind == "small" else None))  # fmt: skip
    extra[kind] = {
        "raw": r_raw, "altakit_inprocess": r_ours, "altakit_inprocess_noverify": r_fast,
        "altakit_shuffled": r_shuf,
        "altakit_torch0": r_t0, "altakit_torch2": r_t2, "altakit_torch2_noverify": r_t2f,
        "peers_inprocess": peers_inproc, "peers_loader2": peers_loader,
    }  # fmt: skip
    if kind == "small":
        extra["absolute_goals"] = {
            "in process >= 150,000/s": r_ours >= 150_000,
            "DataLoader 2 workers >= 100,000/s": r_t2 >= 100_000,
        }
    if not args.skip_s3:
        run_s3(kind, cls, images, labels, maxcount, tmp, rows, extra)


def run_s3(kind: str, cls: Any, images: np.ndarray, labels: np.ndarray, maxcount: int, tmp: str,
           rows: list[Row], extra: dict) -> None:  # fmt: skip
    n = len(images)
    with moto_server() as url:
        import boto3

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
        client = boto3.client("s3", endpoint_url=url)

        def raw() -> None:
            for s in ds.manifest["shards"]:
                v = store.resolve(s["key"], s["version"])
                client.get_object(Bucket="bench", Key="data/" + v.name)["Body"].read()

        r_raw = rate(n, timed(raw, 1))
    label = f"{kind} S3 loopback"
    unit = "samples/s"
    rows.append(Row(f"{label}: epoch 1 (download)", unit, "altakit", first, "raw S3 GET of shards", r_raw))
    rows.append(
        Row(f"{label}: epoch 2 (shard cache)", unit, "altakit", second, "raw S3 GET of shards", r_raw)
    )
    rows.append(
        Row(f"{label}: epoch 2, torch 2 workers", unit, "altakit", second2, "raw S3 GET of shards", r_raw)
    )
    extra[f"{kind}_s3"] = {"raw_get": r_raw, "epoch1": first, "epoch2": second, "epoch2_torch2": second2}


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
        "altakit verify=True re-checks each shard's SHA-256 on every read (the default); "
        "verify=False checks size only",
        "S3 peers other than the raw GET are not measured (plain webdataset would need a pipe: URL)",
    ]
    report("datasets", rows, notes, quick=args.quick, **extra)


if __name__ == "__main__":
    main()
