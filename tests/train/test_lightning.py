"""Lightning: StoreCheckpoint saves to the store, resumes where it stopped, survives SIGKILL mid-epoch.

This file is also the training subprocess of the SIGKILL and DDP tests::

    python test_lightning.py STORE RUN ROOT [--kill-at-step N] [--ddp]

It fits a tiny model for 3 epochs of 6 batches, checkpointing every 4 steps and
at epoch ends, resuming from the run's latest checkpoint; ``--kill-at-step``
SIGKILLs it right after that step. The uninterrupted run and the resumed one run
in the test process (same seeds, one thread, deterministic): importing Lightning
in a subprocess costs seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

import altakit  # noqa: E402
from altakit.errors import CheckpointError  # noqa: E402
from altakit.train.lightning import StoreCheckpoint, lightning_callback  # noqa: E402
from altakit.train.registry import ModelRegistry  # noqa: E402
from altakit.train.torch import Checkpointer  # noqa: E402

# Lightning 2.6 on torch 2.13: a deprecation inside Lightning's pytree helper, not ours
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*LeafSpec.*:DeprecationWarning", "ignore:.*LeafSpec.*:FutureWarning"
)

N, BATCH, EPOCHS, SAVE_EVERY = 192, 32, 3, 4  # 6 batches an epoch, 18 steps


class Loader:
    """A sized, stateful, seeded shuffling loader (Lightning saves and restores its position)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> None:
        self.x, self.y, self.seed = x, y, seed
        self.epoch, self.pos = 0, 0

    def __len__(self) -> int:
        return math.ceil(len(self.x) / BATCH)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.pos, self.seed = state["epoch"], state["pos"], state["seed"]

    def __iter__(self):
        if self.pos >= len(self.x):  # the previous epoch ran to its end
            self.epoch, self.pos = self.epoch + 1, 0
        order = torch.randperm(len(self.x), generator=torch.Generator().manual_seed(self.seed + self.epoch))
        while self.pos < len(order):
            idx = order[self.pos : self.pos + BATCH]
            self.pos += len(idx)
            yield self.x[idx], self.y[idx]


class Net(L.LightningModule):
    """Dropout (RNG), SGD with momentum (optimizer state) and StepLR (scheduler state)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 2)
        )

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("loss", loss)
        return loss

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)]


class Probe(L.Callback):
    """Records where a fit starts and which batches it runs; SIGKILLs after ``kill_at`` steps."""

    def __init__(self, kill_at: int = 0) -> None:
        self.kill_at, self.start, self.batches = kill_at, None, []

    def on_train_start(self, trainer, module) -> None:
        weights = {k: v.clone() for k, v in module.state_dict().items()}
        self.start = (trainer.global_step, trainer.current_epoch, weights)

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.batches.append((trainer.current_epoch, batch_idx))

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, 8, generator=g)
    return x, (x[:, 0] + x[:, 1] > 0).long()


def fit(store, run: str, root, *, kill_at: int = 0, **trainer_args) -> tuple[Net, StoreCheckpoint, Probe]:
    """Seed, build, resume from the run's latest checkpoint if any, fit."""
    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    module = Net()
    cb = StoreCheckpoint(
        altakit.open_store(store), run, every_n_train_steps=SAVE_EVERY, keep_last=2, monitor="loss"
    )
    probe = Probe(kill_at)
    args = {"max_epochs": EPOCHS, "devices": 1, **trainer_args}
    trainer = L.Trainer(
        accelerator="cpu",
        callbacks=[probe, cb],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        num_sanity_val_steps=0,
        default_root_dir=str(root),
        **args,
    )
    trainer.fit(module, Loader(*data()), ckpt_path=cb.resume_path())
    return module, cb, probe


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoints_land_in_the_store_with_retention(tmp_path):
    store = tmp_path / "store"
    module, cb, _ = fit(store, "lit/full", tmp_path)
    # every 4 steps and at epoch ends (6, 12, 18); step 12 is both, saved once
    assert [(c.step, c.epoch) for c in cb.saved] == [(4, 0), (6, 1), (8, 1), (12, 2), (16, 2), (18, 3)]
    kept = cb.checkpoints()
    assert [c.version for c in kept][-2:] == [c.version for c in cb.saved][-2:]
    assert all(c.format == "lightning" and "loss" in c.metrics for c in kept)
    assert kept[-1].meta["lightning"] and kept[-1].meta["world_size"] == 1
    best = min(cb.saved, key=lambda c: c.metrics["loss"])
    assert {c.version for c in kept} == {best.version, *(c.version for c in cb.saved[-2:])}
    ckpt = cb.checkpointer
    assert len(ckpt.store.versions(ckpt.state_key)) == len(kept)  # the dropped ones are purged
    state, last = cb.load("latest")
    assert last.step == state["global_step"] == 18
    assert _same(state["state_dict"], module.state_dict())
    # a plain-loop torch checkpointer refuses a Lightning checkpoint
    with pytest.raises(CheckpointError, match="'lightning', not 'torch'"):
        Checkpointer(ckpt.store, "lit/full").load()
    assert isinstance(lightning_callback(ckpt.store, "lit/other"), StoreCheckpoint)
    # the registry keeps the module's weights of a Lightning checkpoint; they load into a fresh module
    registry = ModelRegistry(ckpt.store)
    registered = registry.register("lit-net", ckpt.find("best"), metrics={"loss": best.metrics["loss"]})
    loaded = registry.load_model(f"lit-net@{registered.version}", model=Net())
    assert _same(loaded.state_dict(), cb.load(best.version)[0]["state_dict"])


def test_resume_continues_at_the_saved_step_with_the_saved_weights(tmp_path):
    store = tmp_path / "store"
    _, first, probe = fit(store, "lit/r", tmp_path, max_steps=10)  # stops mid-epoch 1
    assert probe.start[:2] == (0, 0) and first.saved[-1].step == 10
    saved, ckpt = first.load("latest")
    assert (ckpt.step, ckpt.epoch) == (10, 1)

    _, cb, probe = fit(store, "lit/r", tmp_path)
    step, epoch, weights = probe.start
    assert (step, epoch) == (10, 1)
    assert _same(weights, saved["state_dict"])
    assert probe.batches[0] == (1, 4)  # batches 0-3 of epoch 1 ran before the save
    assert len(probe.batches) == 18 - 10
    assert cb.saved[-1].step == 18
    assert ckpt.version in {c.version for c in cb.checkpoints()}  # resumed-from: pinned, never purged


def test_resume_path_is_none_for_a_new_run(local_store):
    assert StoreCheckpoint(local_store, "nothing/yet").resume_path() is None


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path):
    store = tmp_path / "store"
    full, _, _ = fit(store, "full", tmp_path)
    cmd = [sys.executable, __file__, str(store), "cut", str(tmp_path), "--kill-at-step", "11"]
    killed = subprocess.run(cmd, capture_output=True, text=True, timeout=120)  # epoch 1, batch 4 of 6
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    latest = StoreCheckpoint(altakit.open_store(store), "cut").load()[1]
    assert (latest.step, latest.epoch) == (8, 1)  # the last save before the kill: mid-epoch
    resumed, _, probe = fit(store, "cut", tmp_path)
    assert probe.start[:2] == (8, 1) and probe.batches[0] == (1, 2) and len(probe.batches) == 18 - 8
    assert _same(full.state_dict(), resumed.state_dict())


def test_ddp_two_processes_one_writer_then_resume_on_one(tmp_path):
    store = tmp_path / "store"
    cmd = [sys.executable, __file__, str(store), "ddp", str(tmp_path), "--ddp"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    wrote = {r: json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)}
    assert wrote == {0: [4, 6, 8, 12, 16, 18], 1: []}  # every rank saved; only global zero wrote
    state, last = StoreCheckpoint(altakit.open_store(store), "ddp").load()
    assert (last.step, last.epoch, last.meta["world_size"]) == (18, 3, 2)
    # resume the 2-process run on 1 process for one more epoch
    _, cb, probe = fit(store, "ddp", tmp_path, max_epochs=EPOCHS + 1)
    step, epoch, weights = probe.start
    assert (step, epoch) == (18, 3) and _same(weights, state["state_dict"])
    assert len(probe.batches) == 6 and cb.saved[-1].step == 24
    assert cb.saved[-1].meta["world_size"] == 1


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("run")
    p.add_argument("root")
    p.add_argument("--kill-at-step", type=int, default=0)
    p.add_argument("--ddp", action="store_true", help="2 CPU processes (gloo); each writes what it saved")
    args = p.parse_args()
    if not args.ddp:
        fit(args.store, args.run, args.root, kill_at=args.kill_at_step)
        return
    _, cb, _ = fit(args.store, args.run, args.root, devices=2, strategy="ddp")
    rank = int(os.environ.get("LOCAL_RANK", "0"))
    with open(os.path.join(args.root, f"rank{rank}.json"), "w") as f:
        json.dump([c.step for c in cb.saved], f)


if __name__ == "__main__":
    main()
