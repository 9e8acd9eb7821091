"""DDP with gloo on 2 CPU processes; every rank calls Checkpointer.save, only rank 0 writes.

Usage: ddp_train.py STORE OUT_DIR  (rank 0 writes its final weights to OUT_DIR/rank0.pt)
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import altakit
from altakit.train.torch import Checkpointer


def worker(rank: int, store_url: str, out: str, init: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(rank)
    ckpt = Checkpointer(altakit.open_store(store_url), "ddp", keep_last=10)
    for epoch in range(2):
        for _ in range(3):
            x = torch.randn(16, 8, generator=gen)
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
        ckpt.save(step=(epoch + 1) * 3, epoch=epoch + 1, model=model, optimizer=opt)
    if rank == 0:
        torch.save(model.module.state_dict(), f"{out}/rank0.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    store_url, out = sys.argv[1], sys.argv[2]
    mp.spawn(worker, args=(store_url, out, f"file://{out}/pg-init"), nprocs=2, join=True)
