"""Run by test_gloo_*: 2 ranks on gloo, each reading with 2 DataLoader workers; rank 0 writes all ids."""

from __future__ import annotations

import json
import sys

import torch.distributed as dist
import torch.multiprocessing as mp

import altakit


def run(rank: int, store_root: str, rdzv: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{rdzv}", rank=rank, world_size=2)
    ds = altakit.load_dataset("digits", store=store_root)
    loader = ds.torch(64, seed=5, num_workers=2)  # rank and world size come from torch.distributed
    result = {}
    for epoch in range(2):
        mine = [b["idx"].tolist() for b in loader]
        gathered: list = [None, None]
        dist.all_gather_object(gathered, mine)
        result[str(epoch)] = gathered
    if rank == 0:
        with open(out, "w") as f:
            json.dump(result, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(run, args=tuple(sys.argv[1:4]), nprocs=2, join=True)
