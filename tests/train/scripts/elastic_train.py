"""Run under torchrun (gloo): DDP over the digits dataset with altakit's exact-once loader and Checkpointer.

Usage: elastic_train.py STORE OUT_DIR PHASE [STOP]

PHASE ``first``: train STOP local batches per rank, save a checkpoint (model, optimizer, loader), stop.
PHASE ``resume``: resume from the checkpoint (on whatever world size torchrun gives) and finish the epoch.
Every rank writes the sample ids it trained on to OUT_DIR/seen-PHASE-RANK.json.
"""

from __future__ import annotations

import json
import os
import sys

import torch
import torch.distributed as dist

import altakit
from altakit.train.torch import Checkpointer


def main(store_url: str, out: str, phase: str, stop: int) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")  # rank, world size and rendezvous from torchrun's environment
    rank = dist.get_rank()
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    store = altakit.open_store(store_url)
    loader = altakit.load_dataset("digits", store=store).torch(32, seed=3)  # rank/world from dist
    ckpt = Checkpointer(store, "elastic", keep_last=3)
    if phase == "resume":
        resumed = ckpt.resume(model=model, optimizer=opt, loader=loader)
        assert resumed is not None, "no checkpoint to resume"
    seen: list[int] = []
    with model.join():  # ranks may get one batch fewer than others (every sample is delivered once)
        for i, batch in enumerate(loader, 1):
            seen.extend(batch["idx"].tolist())
            opt.zero_grad()
            logits = model(batch["image"].float().reshape(len(batch["idx"]), -1) / 16)
            torch.nn.functional.cross_entropy(logits, batch["label"]).backward()
            opt.step()
            if phase == "first" and i == stop:  # a batch taken from the loader is a batch delivered
                break
    if phase == "first":
        ckpt.save(step=stop, epoch=0, model=model, optimizer=opt, loader=loader)
    with open(os.path.join(out, f"seen-{phase}-{rank}.json"), "w") as f:
        json.dump({"world_size": dist.get_world_size(), "ids": seen}, f)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
