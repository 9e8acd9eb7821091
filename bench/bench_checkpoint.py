"""Checkpoint save/load through the store next to the frameworks' own local saves, in one run.

- torch state (a dict of tensors): altakit Checkpointer on the local store vs
  ``torch.save`` / ``torch.load(weights_only=True)`` on local disk (the store
  fsyncs every version; the peer is measured with and without fsync);
- the same checkpoint on S3 (loopback moto) vs raw boto3 ``put_object`` /
  ``get_object`` of the same bytes;
- a Keras model: the store checkpoint (``.keras`` into the store) vs
  ``model.save`` / ``keras.saving.load_model`` on local disk.

Goals: local store >= 0.8x the direct local save/load; S3 store >= 0.9x raw boto3.

Usage:
    .venv/bin/python bench/bench_checkpoint.py            # 200 MB state
    .venv/bin/python bench/bench_checkpoint.py --quick    # 20 MB, one repeat
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from common import MB, Row, best_of, moto_server, rate, report

import altakit

GOAL_LOCAL = 0.8
GOAL_S3 = 0.9


def torch_state(size: int) -> dict:
    import torch

    n = size // 4 // 50
    g = torch.Generator().manual_seed(0)
    return {f"layer{i}.weight": torch.randn(n, generator=g) for i in range(50)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="20 MB, one repeat")
    p.add_argument("--size-mb", type=float, default=None)
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--dir", default=None, help="scratch folder (default: system temp)")
    args = p.parse_args()
    size_mb = args.size_mb or (20 if args.quick else 200)
    repeat = args.repeat or (1 if args.quick else 3)
    work = Path(tempfile.mkdtemp(prefix="altakit-bench-ckpt-", dir=args.dir))
    rows: list[Row] = []
    notes: list[str] = [f"state {size_mb:g} MB, best of {repeat}"]
    try:
        _torch_local(work, size_mb, repeat, rows)
        try:
            _torch_s3(work, size_mb, repeat, rows)
        except Exception as exc:  # moto/boto3 missing: report, do not fail
            notes.append(f"S3 skipped: {exc!r}")
            traceback.print_exc()
        try:
            _keras_local(work, size_mb, repeat, rows)
        except ImportError as exc:
            notes.append(f"Keras skipped: {exc!r}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report("checkpoint", rows, notes, size_mb=size_mb)


def _torch_local(work: Path, size_mb: float, repeat: int, rows: list[Row]) -> None:
    import torch

    from altakit.train.torch import Checkpointer

    state = torch_state(int(size_mb * MB))
    mb = sum(t.numel() * 4 for t in state.values()) / MB
    path = work / "peer.pt"

    def peer_save(fsync: bool) -> None:
        with open(path, "wb") as f:
            torch.save(state, f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())

    t_peer = best_of(lambda: peer_save(False), repeat)
    t_peer_sync = best_of(lambda: peer_save(True), repeat)
    t_peer_load = best_of(lambda: torch.load(path, weights_only=True), repeat)
    store = altakit.open_store(work / "store")
    ckpt = Checkpointer(store, "bench", keep_last=1)
    t_ours = best_of(lambda: ckpt.save(state, step=1), repeat)
    t_ours_load = best_of(lambda: ckpt.load("latest"), repeat)
    note = "store: torch.save to memory + SHA-256 + write + fsync + manifest commit"
    rows += [
        Row(
            f"torch save {mb:.0f} MB",
            "MB/s",
            "local store",
            rate(mb, t_ours),
            "torch.save",
            rate(mb, t_peer),
            GOAL_LOCAL,
            note,
        ),
        Row(
            f"torch save {mb:.0f} MB",
            "MB/s",
            "local store",
            rate(mb, t_ours),
            "torch.save+fsync",
            rate(mb, t_peer_sync),
            None,
            "same durability on both sides",
        ),
        Row(
            f"torch load {mb:.0f} MB",
            "MB/s",
            "local store",
            rate(mb, t_ours_load),
            "torch.load",
            rate(mb, t_peer_load),
            GOAL_LOCAL,
            "store: read + checksum + torch.load(weights_only)",
        ),
    ]


def _torch_s3(work: Path, size_mb: float, repeat: int, rows: list[Row]) -> None:
    import boto3
    import torch

    from altakit.train.torch import Checkpointer

    state = torch_state(int(size_mb * MB))
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    mb = len(data) / MB
    with moto_server() as url:
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        client.create_bucket(Bucket="bench")
        store = altakit.open_store("s3://bench/ckpt", endpoint_url=url)
        ckpt = Checkpointer(store, "bench", keep_last=1)

        def raw_put() -> None:
            client.upload_fileobj(io.BytesIO(data), "bench", "raw/state.pt")

        def raw_get() -> None:
            out = io.BytesIO()
            client.download_fileobj("bench", "raw/state.pt", out)
            torch.load(io.BytesIO(out.getvalue()), weights_only=True)

        t_raw = best_of(raw_put, repeat)
        t_raw_load = best_of(raw_get, repeat)
        t_ours = best_of(lambda: ckpt.save(state, step=1), repeat)
        t_ours_load = best_of(lambda: ckpt.load("latest"), repeat)
        store.close()
    rows += [
        Row(
            f"S3 save {mb:.0f} MB",
            "MB/s",
            "S3 store",
            rate(mb, t_ours),
            "boto3 upload",
            rate(mb, t_raw),
            GOAL_S3,
            "store includes torch.save to memory and the manifest commit; boto3 sends ready bytes",
        ),
        Row(
            f"S3 load {mb:.0f} MB",
            "MB/s",
            "S3 store",
            rate(mb, t_ours_load),
            "boto3 download",
            rate(mb, t_raw_load),
            GOAL_S3,
            "both sides torch.load(weights_only) the bytes",
        ),
    ]


def _keras_local(work: Path, size_mb: float, repeat: int, rows: list[Row]) -> None:
    import keras

    from altakit.train.checkpoint import Checkpointer
    from altakit.train.keras import restore_model

    width = 1000
    depth = max(1, int(size_mb * MB / 4 / width / width))
    model = keras.Sequential([keras.Input((width,)), *[keras.layers.Dense(width) for _ in range(depth)]])
    mb = model.count_params() * 4 / MB
    path = work / "peer.keras"
    t_peer = best_of(lambda: model.save(path), repeat)
    t_peer_load = best_of(lambda: keras.saving.load_model(path, safe_mode=True), repeat)
    store = altakit.open_store(work / "kstore")
    ckpt = Checkpointer(store, "kbench", keep_last=1)
    ckpt.format = "keras"
    tmp = work / "tmp.keras"

    def ours() -> None:
        model.save(tmp)
        ckpt.save(tmp, step=1)

    t_ours = best_of(ours, repeat)
    t_ours_load = best_of(lambda: restore_model(store, "kbench"), repeat)
    rows += [
        Row(
            f"keras save {mb:.0f} MB",
            "MB/s",
            "local store",
            rate(mb, t_ours),
            "model.save",
            rate(mb, t_peer),
            GOAL_LOCAL,
            "store: model.save to temp + put (hash, copy, fsync)",
        ),
        Row(
            f"keras load {mb:.0f} MB",
            "MB/s",
            "local store",
            rate(mb, t_ours_load),
            "load_model",
            rate(mb, t_peer_load),
            GOAL_LOCAL,
            "both safe_mode=True",
        ),
    ]


if __name__ == "__main__":
    main()
