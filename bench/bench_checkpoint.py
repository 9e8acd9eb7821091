"""Checkpoint save/load through the store next to the frameworks' own local saves, in one run.

- torch state (a dict of tensors): the altakit torch Checkpointer on the local
  store vs ``torch.save`` / ``torch.load(weights_only=True)`` on local disk. The
  store fsyncs every version, so its save is compared with ``torch.save`` + fsync
  (same durability) and with the crash-safe recipe (``torch.save`` to a temp file,
  fsync, ``os.replace``: a new file each time, as the store writes), and a store
  opened with ``fsync=False`` with plain ``torch.save``; the durable store vs plain
  ``torch.save`` is printed too;
- the same checkpoint on S3 (loopback moto) vs raw boto3: ``torch.save`` to memory
  + ``upload_fileobj`` (the same work), ``upload_fileobj`` of ready bytes next to
  ``store.put`` of the same bytes, and ``download_fileobj`` + ``torch.load``;
- a Keras model: the KerasCheckpointer (``.keras`` streamed into the store) vs
  ``model.save`` (± fsync, and the same crash-safe recipe) / ``keras.saving.load_model``,
  both ``safe_mode=True``.

Every store save also commits the run's manifest and purges the checkpoint it
replaces (``keep_last=1``); every store load verifies the SHA-256 of the bytes.
Contenders alternate within each round, in an order rotating from round to round
(``os.sync()`` before every call); rates are the medians of the rounds (one lucky
round of either side does not decide), and the best-round ratio and the median CPU
seconds per call (all threads of this process: the store's hashing thread included)
are printed next to them.

Goals: local store >= 0.8x the direct local save/load; S3 store >= 0.9x raw boto3.

Usage:
    .venv/bin/python bench/bench_checkpoint.py            # 200 MB state, 5 rounds
    .venv/bin/python bench/bench_checkpoint.py --quick    # 20 MB, 2 rounds
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from common import MB, Row, moto_server, rate, report

import altakit

GOAL_LOCAL = 0.8
GOAL_S3 = 0.9


def torch_state(size: int) -> dict:
    import torch

    n = size // 4 // 50
    g = torch.Generator().manual_seed(0)
    return {f"layer{i}.weight": torch.randn(n, generator=g) for i in range(50)}


def rounds(contenders: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    """Wall times of each contender, one call per round, the order rotating each round.

    Rotating means no contender always runs right after the same other one (whose
    freed memory or dirty pages it would inherit). The CPU seconds of this process
    (all threads) per call are kept under ``"<name> cpu"``.
    """
    times: dict[str, list[float]] = {}
    order = list(contenders.items())
    for n in range(max(1, repeat)):
        for name, fn in order[n % len(order) :] + order[: n % len(order)]:
            os.sync()  # nobody pays for another's dirty pages
            cpu, start = time.process_time(), time.perf_counter()
            fn()
            times.setdefault(name, []).append(time.perf_counter() - start)
            times.setdefault(f"{name} cpu", []).append(time.process_time() - cpu)
    return times


def row(
    name: str, mb: float, times: dict[str, list[float]], ours: str, peer: str, goal: float | None, note: str
) -> Row:
    """A Row from the median rounds, with the best-round ratio and CPU seconds in the note."""
    best = min(times[peer]) / min(times[ours])
    cpu = {who: statistics.median(times[f"{who} cpu"]) for who in (ours, peer)}
    return Row(
        name,
        "MB/s",
        ours,
        rate(mb, statistics.median(times[ours])),
        peer,
        rate(mb, statistics.median(times[peer])),
        goal,
        f"{note}; best-round ratio {best:.2f}x; CPU s/op {cpu[ours]:.2f} vs {cpu[peer]:.2f}",
        extra={
            "best_ratio": best,
            "seconds": {ours: times[ours], peer: times[peer]},
            "cpu_seconds": {who: times[f"{who} cpu"] for who in (ours, peer)},
        },
    )


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="20 MB, 2 rounds")
    p.add_argument("--size-mb", type=float, default=None)
    p.add_argument("--repeat", type=int, default=None, help="rounds per contender")
    p.add_argument("--only", default="torch,s3,keras", help="comma-separated parts")
    p.add_argument("--dir", default=None, help="scratch folder (default: system temp)")
    args = p.parse_args()
    size_mb = args.size_mb or (20 if args.quick else 200)
    repeat = args.repeat or (2 if args.quick else 5)
    parts = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="altakit-bench-ckpt-", dir=args.dir))
    rows: list[Row] = []
    notes: list[str] = [f"state {size_mb:g} MB; median of {repeat} alternating rounds"]
    try:
        if "torch" in parts:
            _torch_local(work, size_mb, repeat, rows)
        if "s3" in parts:
            try:
                # loopback moto swings 1.3-2.5 s per 200 MB upload from round to round: all rounds
                _torch_s3(work, size_mb, repeat, rows)
            except Exception as exc:  # moto/boto3 missing: report, do not fail
                notes.append(f"S3 skipped: {exc!r}")
                traceback.print_exc()
        if "keras" in parts:
            try:
                _keras_local(work, size_mb, repeat, rows)
            except ImportError as exc:
                notes.append(f"Keras skipped: {exc!r}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    notes += [f"{r.name}, {r.ours} vs {r.peer}: {r.note}" for r in rows]
    report("checkpoint", rows, notes, size_mb=size_mb)


def local_rows(
    framework: str,
    mb: float,
    repeat: int,
    peer: tuple[str, Callable[[Path], None], str, Callable[[], Any]],
    stores: tuple[Any, Any],
    obj: Any,
    path: Path,
    load_note: str,
) -> list[Row]:
    """Save and load rounds of a framework's own local save vs the durable and ``fsync=False`` stores.

    ``peer`` is ``(save name, save(path), load name, load())``; the peer's save runs plain,
    with fsync, and as the crash-safe recipe (a temp file, fsync, ``os.replace`` over the old
    one: a new file each time, as the store writes).
    """
    name, save, load_name, load = peer
    tmp = path.with_name(f"tmp-{path.name}")

    def peer_save(fsync: bool, atomic: bool = False) -> None:
        target = tmp if atomic else path
        save(target)
        if fsync:
            fsync_path(target)
        if atomic:
            os.replace(target, path)

    durable, fast = stores
    saves = rounds(
        {
            f"{name}+fsync": lambda: peer_save(True),
            f"{name} atomic": lambda: peer_save(True, atomic=True),
            "local store": lambda: durable.save(obj, step=1),
            name: lambda: peer_save(False),
            "store fsync=False": lambda: fast.save(obj, step=1),
        },
        repeat,
    )
    loads = rounds({load_name: load, "local store": lambda: durable.load("latest")}, repeat)
    label = f"{framework} save {mb:.0f} MB"
    atomic = "both atomic and durable: a new file, fsync, rename (a same-path save is not crash-safe)"
    return [
        row(label, mb, saves, "local store", f"{name}+fsync", GOAL_LOCAL, "both durable (fsync)"),
        row(label, mb, saves, "local store", f"{name} atomic", GOAL_LOCAL, atomic),
        row(label, mb, saves, "store fsync=False", name, GOAL_LOCAL, "neither fsyncs"),
        row(label, mb, saves, "local store", name, None, "store fsyncs, peer does not"),
        row(f"{framework} load {mb:.0f} MB", mb, loads, "local store", load_name, GOAL_LOCAL, load_note),
    ]


def _torch_local(work: Path, size_mb: float, repeat: int, rows: list[Row]) -> None:
    import torch

    from altakit.train.torch import Checkpointer

    state = torch_state(int(size_mb * MB))
    mb = sum(t.numel() * 4 for t in state.values()) / MB
    path = work / "peer.pt"
    stores = (
        Checkpointer(altakit.open_store(work / "store"), "bench", keep_last=1),
        Checkpointer(altakit.open_store(work / "store-nofsync", fsync=False), "bench", keep_last=1),
    )
    peer = (
        "torch.save",
        lambda p: torch.save(state, p),
        "torch.load",
        lambda: torch.load(path, weights_only=True),
    )
    note = "store: torch.load(weights_only) from the file while SHA-256 verifies it"
    rows += local_rows("torch", mb, repeat, peer, stores, state, path, note)


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

        def raw_save() -> None:
            out = io.BytesIO()
            torch.save(state, out)
            out.seek(0)
            client.upload_fileobj(out, "bench", "raw/state.pt")

        def raw_get() -> None:
            out = io.BytesIO()
            client.download_fileobj("bench", "raw/state.pt", out)
            out.seek(0)
            torch.load(out, weights_only=True)

        def put_same_bytes() -> None:
            v = store.put("same/state.pt", data)
            store.purge("same/state.pt", v)  # as the checkpointer purges the version it replaces

        saves = rounds(
            {
                "boto3 torch.save+upload": raw_save,
                "S3 store": lambda: ckpt.save(state, step=1),
                "boto3 upload": lambda: client.upload_fileobj(io.BytesIO(data), "bench", "raw/state.pt"),
                "store.put": put_same_bytes,
            },
            repeat,
        )
        loads = rounds({"boto3 download": raw_get, "S3 store": lambda: ckpt.load("latest")}, repeat)
        store.close()
    rows += [
        row(
            f"S3 save {mb:.0f} MB",
            mb,
            saves,
            "S3 store",
            "boto3 torch.save+upload",
            GOAL_S3,
            "both torch.save to memory and upload; the store also commits the manifest",
        ),
        row(
            f"S3 put {mb:.0f} MB",
            mb,
            saves,
            "store.put",
            "boto3 upload",
            GOAL_S3,
            "the same ready bytes; the store hashes them first (the name holds the checksum)",
        ),
        row(
            f"S3 save {mb:.0f} MB",
            mb,
            saves,
            "S3 store",
            "boto3 upload",
            None,
            "peer sends ready bytes: no serialisation, no manifest",
        ),
        row(
            f"S3 load {mb:.0f} MB",
            mb,
            loads,
            "S3 store",
            "boto3 download",
            GOAL_S3,
            "both torch.load(weights_only) the bytes; the store verifies SHA-256 meanwhile",
        ),
    ]


def _keras_local(work: Path, size_mb: float, repeat: int, rows: list[Row]) -> None:
    import keras

    from altakit.train.keras import KerasCheckpointer

    width = 1000
    depth = max(1, int(size_mb * MB / 4 / width / width))
    model = keras.Sequential([keras.Input((width,)), *[keras.layers.Dense(width) for _ in range(depth)]])
    mb = model.count_params() * 4 / MB
    path = work / "peer.keras"
    stores = (
        KerasCheckpointer(altakit.open_store(work / "kstore"), "kbench", keep_last=1),
        KerasCheckpointer(altakit.open_store(work / "kstore-nofsync", fsync=False), "kbench", keep_last=1),
    )
    peer = ("model.save", model.save, "load_model", lambda: keras.saving.load_model(path, safe_mode=True))
    note = "both safe_mode=True; the store verifies SHA-256 meanwhile"
    rows += local_rows("keras", mb, repeat, peer, stores, model, path, note)


if __name__ == "__main__":
    main()
