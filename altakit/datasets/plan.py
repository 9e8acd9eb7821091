"""Which samples go into which batch, on which rank and worker, in which order.

One epoch is one global sequence of samples, fixed by ``(seed, epoch)`` only:
shards are permuted, then the samples of each window of ``window`` consecutive
shards are permuted together. The sequence is cut into global batches of
``batch_size``. Rank ``r`` of ``R`` owns global batches ``r, r+R, r+2R …``
(its local batches ``j = 0, 1, 2 …``), and worker ``w`` of ``W`` owns local
batches ``start + w, start + w + W …``. A PyTorch DataLoader collects worker
outputs round-robin, so a rank sees its local batches in order ``j = 0, 1, 2 …``
whatever ``W`` is; resuming at batch ``start`` is just a different ``start``.

Resuming on another number of ranks: ranks train in lockstep, so when every rank
of ``R`` has delivered ``j`` local batches, global batches ``0 … offset + j·R - 1``
are done. The new ranks share the rest: rank ``r`` of ``R'`` owns global batches
``offset' + r, offset' + r + R' …`` with ``offset' = offset + j·R`` (the plan's
``offset``), so no sample is delivered twice or missed (:func:`resume_point`).

Remainders: without ``drop_last`` every sample is delivered exactly once; the
last global batch may be short and ranks may get one batch fewer than others
(use ``torch.distributed.algorithms.Join`` with DDP, or ``drop_last=True``).
With ``drop_last=True`` the short batch and the trailing batches that do not
fill a round across all ranks are left out, so every rank gets the same number
of full batches; :attr:`EpochPlan.dropped` counts the samples left out.

Example:
    >>> plan = EpochPlan([3, 2], batch_size=2, shuffle=False)
    >>> plan.num_batches, [plan.batch(j)[1].tolist() for j in range(3)]
    (3, [[0, 1], [2, 0], [1]])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from altakit.errors import ConfigError


@dataclass
class EpochPlan:
    """The sample order of one epoch for one rank.

    Args:
        counts: Samples per shard (from the manifest).
        batch_size: Samples per batch.
        shuffle: Permute shards and samples (else manifest order).
        seed: Shuffle seed.
        epoch: Epoch number (a new order each epoch).
        window: Shards whose samples are mixed together when shuffling.
        rank: This process's rank.
        world_size: Number of ranks.
        drop_last: Give every rank the same number of full batches (see module docs).
        offset: Global batches of this epoch delivered before, by ranks of another world size.
    """

    counts: list[int]
    batch_size: int
    shuffle: bool = True
    seed: int = 0
    epoch: int = 0
    window: int = 1
    rank: int = 0
    world_size: int = 1
    drop_last: bool = False
    offset: int = 0
    _order: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.window < 1:
            raise ConfigError(f"window must be at least 1, got {self.window}")
        if not 0 <= self.rank < self.world_size:
            raise ConfigError(f"rank {self.rank} is not in 0..{self.world_size - 1}")
        if self.offset < 0:
            raise ConfigError(f"offset must be at least 0, got {self.offset}")

    @property
    def total(self) -> int:
        """Samples in the dataset."""
        return int(sum(self.counts))

    @property
    def global_batches(self) -> int:
        """Batches over all ranks this epoch."""
        n, b = self.total, self.batch_size
        if not self.drop_last:
            return -(-n // b)
        full = max(0, n // b - self.offset)  # full batches left for this world
        return min(self.offset, n // b) + full // self.world_size * self.world_size

    @property
    def num_batches(self) -> int:
        """Batches this rank gets this epoch."""
        return len(range(self.offset + self.rank, self.global_batches, self.world_size))

    @property
    def dropped(self) -> int:
        """Samples no rank gets this epoch (only with ``drop_last``)."""
        return max(0, self.total - self.global_batches * self.batch_size) if self.drop_last else 0

    def order(self) -> tuple[np.ndarray, np.ndarray]:
        """``(shard index, sample index within shard)`` of the whole epoch, in order."""
        if self._order is not None:
            return self._order
        counts = np.asarray(self.counts, dtype=np.int64)
        shard_order = self._shard_order()
        shard_ids, sample_ids = [], []
        for w in range(0, len(shard_order), self.window):
            group = shard_order[w : w + self.window]
            sid = np.repeat(group, counts[group])
            idx = np.concatenate([np.arange(c) for c in counts[group]]) if len(group) else np.arange(0)
            if self.shuffle:
                perm = np.random.default_rng([self.seed, self.epoch, w]).permutation(len(sid))
                sid, idx = sid[perm], idx[perm]
            shard_ids.append(sid)
            sample_ids.append(idx)
        empty = np.zeros(0, dtype=np.int64)
        self._order = (
            np.concatenate(shard_ids) if shard_ids else empty,
            np.concatenate(sample_ids) if sample_ids else empty,
        )
        return self._order

    def _shard_order(self) -> np.ndarray:
        if self.shuffle:
            return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.counts))
        return np.arange(len(self.counts))

    def group_bounds(self) -> np.ndarray:
        """Where each window of shards starts in the epoch order, then the total (ascending)."""
        counts = np.asarray(self.counts, dtype=np.int64)[self._shard_order()]
        sizes = [int(counts[w : w + self.window].sum()) for w in range(0, len(counts), self.window)]
        return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)

    def pieces(self, start: int, worker: int, workers: int) -> list[tuple[int, int, int]]:
        """The work of worker ``worker`` of ``workers`` when the split is by window of shards.

        Window ``k`` (``window`` shards, in epoch order) belongs to worker ``k % workers``, so every
        shard is read by one worker only. A piece ``(j, lo, hi)`` is samples ``lo:hi`` of local
        batch ``j`` (``start`` and on) that lie in one of this worker's windows; the pieces of a
        batch, ordered by ``lo``, make up exactly :meth:`batch`.
        """
        bounds = self.group_bounds()
        b = self.batch_size
        out: list[tuple[int, int, int]] = []
        for j in range(start, self.num_batches):
            first = self.global_index(j) * b
            lo, end = first, min(first + b, self.total)
            k = int(np.searchsorted(bounds, lo, side="right")) - 1
            while lo < end:
                hi = min(end, int(bounds[k + 1]))
                if hi > lo and k % workers == worker:
                    out.append((j, lo - first, hi - first))
                lo, k = max(lo, hi), k + 1
        return out

    def global_index(self, j: int) -> int:
        """The global batch number of this rank's local batch ``j``."""
        return self.offset + self.rank + j * self.world_size

    def batch(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """``(shard indices, sample indices)`` of this rank's local batch ``j``."""
        if not 0 <= j < self.num_batches:
            raise IndexError(f"batch {j} is not in 0..{self.num_batches - 1}")
        shard_ids, sample_ids = self.order()
        i = self.global_index(j)
        sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return shard_ids[sl], sample_ids[sl]

    def worker_batches(self, start: int, worker: int, workers: int) -> range:
        """Local batches worker ``worker`` of ``workers`` produces, starting the epoch at ``start``."""
        return range(start + worker, self.num_batches, max(1, workers))


#: What a resumed loader must share with the one that saved its state.
MUST_MATCH = (
    "batch_size",
    "dataset",
    "manifest_count",
    "seed",
    "shuffle",
    "window",
    "drop_last",
)


def loader_state(
    dataset: Any, batch_size: int, options: dict[str, Any], epoch: int, batches: int, skipped: int
) -> dict[str, Any]:
    """A loader's ``state_dict()``: epoch, batches delivered, and what must match on resume.

    The same for the PyTorch and the TensorFlow loader, so either resumes the other.
    """
    return {
        "epoch": epoch,
        "batches": batches,
        "skipped": skipped,
        "batch_size": batch_size,
        "dataset": dataset.name,
        "manifest_count": int(dataset.manifest["count"]),
        **{k: options[k] for k in ("seed", "shuffle", "window", "world_size", "drop_last")},
        "offset": int(options.get("offset", 0)),
    }


def check_resume(state: dict[str, Any], mine: dict[str, Any]) -> None:
    """Refuse ``state`` if it was saved by a loader with another dataset, batch size, seed …"""
    for k in MUST_MATCH:
        if state.get(k) != mine[k]:
            raise ConfigError(
                f"cannot resume: {k} was {state.get(k)!r}, this loader has {mine[k]!r}",
                hint="resume with the same dataset, batch size, seed, shuffle, window and drop_last",
            )


def resume_point(state: dict[str, Any], world_size: int) -> tuple[int, int]:
    """``(offset, batches)`` where a loader on ``world_size`` ranks resumes ``state`` (checked first).

    On the world size that saved ``state``, the same point; on another one, the global batches
    every rank delivered become the plan's offset and the new ranks start their local count at 0
    (ranks train in lockstep: the state of one rank is the state of all).

    Example:
        >>> saved = {"world_size": 4, "offset": 0, "batches": 3}
        >>> resume_point(saved, 4), resume_point(saved, 3)
        ((0, 3), (12, 0))
    """
    offset, batches = int(state.get("offset", 0)), int(state["batches"])
    saved_world = int(state.get("world_size", 1))
    if saved_world == world_size:
        return offset, batches
    return offset + batches * saved_world, 0
