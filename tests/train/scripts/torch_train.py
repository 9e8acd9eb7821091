"""A small PyTorch training run on scikit-learn's digits, checkpointed to a store.

Usage: torch_train.py STORE RUN OUT [--kill-at-step N] [--kill-point stream|rename|manifest] [--epochs E]

Checkpoints every 7 steps (mid-epoch); resumes from the run's latest checkpoint.
``--kill-at-step`` SIGKILLs this process right after that step (mid-epoch);
``--kill-point`` SIGKILLs it inside the second checkpoint write: halfway through
streaming the state bytes into the store, before the new state version is renamed
into place, or after it but before the manifest commit.
The final model weights are written to OUT with torch.save.
"""

from __future__ import annotations

import argparse
import os
import signal

import numpy as np
import torch
from sklearn.datasets import load_digits

import altakit
from altakit.train.torch import Checkpointer

SAVE_EVERY = 7
BATCH = 64


class Loader:
    """A stateful, seeded shuffling loader (the interface of altakit's torch loader)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> None:
        self.x, self.y, self.seed = x, y, seed
        self.epoch, self.pos = 0, 0

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.pos, self.seed = state["epoch"], state["pos"], state["seed"]

    def __iter__(self):
        order = torch.randperm(len(self.x), generator=torch.Generator().manual_seed(self.seed + self.epoch))
        while self.pos < len(order):
            idx = order[self.pos : self.pos + BATCH]
            self.pos += len(idx)
            yield self.x[idx], self.y[idx]
        self.epoch, self.pos = self.epoch + 1, 0


def build() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(32, 10)
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("run")
    p.add_argument("out")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--kill-at-step", type=int, default=0)
    p.add_argument("--kill-point", default="")
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    model = build()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    loader = Loader(x, y)
    store = altakit.open_store(args.store)
    ckpt = Checkpointer(store, args.run, keep_last=2, keep_best=1, monitor="loss")
    resumed = ckpt.resume(model=model, optimizer=opt, scheduler=sched, loader=loader)
    step = resumed.step if resumed else 0
    saves = 0
    while loader.epoch < args.epochs:
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            step += 1
            if step % SAVE_EVERY == 0:
                saves += 1
                if args.kill_point and saves == 2:
                    _arm(args.kill_point, ckpt)
                ckpt.save(
                    step=step,
                    epoch=loader.epoch,
                    model=model,
                    optimizer=opt,
                    scheduler=sched,
                    loader=loader,
                    metrics={"loss": loss.item()},
                )
            if step == args.kill_at_step:
                os.kill(os.getpid(), signal.SIGKILL)
        sched.step()
    torch.save(model.state_dict(), args.out)
    print("done", step)


def _arm(point: str, ckpt: Checkpointer) -> None:
    """SIGKILL this process inside the next checkpoint write."""
    if point == "stream":  # half of the state bytes are in the store's temp file
        from altakit.store.stream import FileSpool

        def append(spool, view):
            os.write(spool._fd, view[: view.nbytes // 2])
            os.kill(os.getpid(), signal.SIGKILL)

        FileSpool._append = append
    elif point == "rename":  # the state bytes are written and fsynced, not yet renamed into place

        def rename(src, dst):
            os.kill(os.getpid(), signal.SIGKILL)

        os.rename = rename
    elif point == "manifest":  # the state bytes are written, the manifest not committed
        os.environ["ALTAKIT_FAULT"] = "checkpoint.state_written"


if __name__ == "__main__":
    main()
