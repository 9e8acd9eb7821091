"""PyTorch adapter: an IterableDataset of whole batches and a resumable DataLoader.

Workers decode whole batches (see :mod:`altakit.datasets.reader`) straight into
shared-memory slots (:mod:`altakit.datasets.slots`) and send only the slot number;
the main process wraps the slot's columns with ``torch.from_numpy`` (no copy;
the slot is reused once the batch is dropped). Columns that do not fit a slot
go as NumPy through the pipe (batches over :data:`PIPE_BYTES` as tensors in
shared memory), so samples never cross the process boundary one by one. With
two or more workers the epoch is split by window of shards
(:meth:`~altakit.datasets.plan.EpochPlan.pieces`): each shard is read and verified
by one worker only, and the loader puts the pieces of a batch that straddles
two windows back together, in order (an error from a worker is raised as soon
as it arrives). Every sample is delivered exactly once per epoch
over all ranks and workers; the order depends only on ``seed`` and the epoch (see
:mod:`altakit.datasets.plan`). :meth:`Loader.state_dict` records the epoch and the
number of batches delivered; :meth:`Loader.load_state_dict` resumes right after
the last delivered batch, with any worker count.

Example:
    >>> loader = ds.torch(batch_size=256, shuffle=True, seed=0, num_workers=2)  # doctest: +SKIP
    >>> for batch in loader:  # doctest: +SKIP
    ...     batch["image"].shape, batch["label"].dtype
    (torch.Size([256, 3, 32, 32]), torch.int64)
    >>> state = loader.state_dict()  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from altakit.datasets.plan import check_resume, loader_state, resume_point
from altakit.datasets.slots import SLOT, SlotRing, slot_bytes
from altakit.errors import AltakitError, ConfigError

_ERROR = "__altakit_error__"
#: Batches up to this size leave a worker as pickled NumPy through the pipe; larger ones as tensors in
#: shared memory (one copy fewer, but a new segment and a socket round trip per tensor).
PIPE_BYTES = 8 * 1024 * 1024
#: Decoded samples the main process may hold while it puts worker pieces back in order.
HOLD_BYTES = 512 * 1024 * 1024
#: Shared memory for the slot rings of one loader (all workers together).
RING_BYTES = 256 * 1024 * 1024
_SPAN = "__span__"


def to_torch(batch: dict[str, Any]) -> dict[str, Any]:
    """NumPy columns as tensors (zero-copy where possible); lists stay lists."""
    out: dict[str, Any] = {}
    for name, col in batch.items():
        if isinstance(col, torch.Tensor):
            out[name] = col
        elif isinstance(col, np.ndarray):
            out[name] = torch.from_numpy(col if col.flags.writeable else col.copy())
        elif isinstance(col, list) and col and isinstance(col[0], np.ndarray):
            out[name] = [torch.from_numpy(a.copy()) for a in col]
        else:
            out[name] = col
    return out


def _nbytes(batch: dict[str, Any]) -> int:
    return sum(col.nbytes for col in batch.values() if isinstance(col, np.ndarray))


class ShardIterable(IterableDataset):
    """The batches of one rank for one epoch, split over DataLoader workers.

    Args:
        dataset: An altakit :class:`~altakit.datasets.dataset.Dataset`.
        batch_size: Samples per batch.
        plan_options: ``shuffle``, ``seed``, ``window``, ``rank``, ``world_size``, ``drop_last``.
        keys: Add a ``"__key__"`` list to each batch.
    """

    def __init__(
        self, dataset: Any, batch_size: int, plan_options: dict[str, Any], keys: bool = False
    ) -> None:
        self.dataset, self.batch_size, self.plan_options, self.keys = dataset, batch_size, plan_options, keys
        self.epoch = 0
        self.start = 0
        #: Yield NumPy columns and leave the tensors to the consumer (set by :class:`Loader`).
        self.numpy = False
        #: Split the work by window of shards and yield pieces of batches (set by :class:`Loader`).
        self.pieces = False
        #: One shared-memory slot ring per worker (set by :class:`Loader` before the workers start).
        self.rings: list[SlotRing] = []
        dataset.reader(self.plan())  # fail early on a bad pipeline

    def plan(self) -> Any:
        """This epoch's plan."""
        return self.dataset.plan(self.batch_size, epoch=self.epoch, **self.plan_options)

    def __len__(self) -> int:
        return self.plan().num_batches

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        plan = self.plan()
        if info is not None:
            self.dataset.source.threads = 1  # this worker's own copy: the workers are the parallelism
        reader = self.dataset.reader(plan, keys=self.keys)
        ring = self.rings[worker] if info is not None and worker < len(self.rings) else None
        if ring is not None:
            reader.empty = ring.empty
        if self.pieces and info is not None:
            pieces = plan.pieces(self.start, worker, workers)
            batches = reader.read_pieces(pieces)
        else:
            pieces = []
            batches = reader.read(plan.worker_batches(self.start, worker, workers))
        try:
            for n, batch in enumerate(batches):
                out = ring.seal(batch) if ring is not None else dict(batch)
                if not self.numpy or _nbytes(out) > PIPE_BYTES:
                    out = to_torch(out)
                if pieces:
                    out[_SPAN] = pieces[n][1:]
                out["__index__"] = batch.index
                out["__skipped__"] = batch.skipped
                yield out
        except AltakitError as exc:
            # torch rebuilds worker errors from their message only: send ours whole (fields kept)
            if info is None:
                raise
            yield {_ERROR: exc}


def _identity(x: Any) -> Any:
    return x


def _split_by_shards(iterable: ShardIterable, workers: int) -> bool:
    """Whether workers split the epoch by window of shards (each shard read and verified once).

    Worth it when a shard holds at least two batches (else whole batches touch few shards each,
    and a batch made of pieces costs the main process a copy). The main process holds the
    pieces that arrive ahead of their turn: about ``workers - 1`` windows of decoded samples,
    so this is used only while that stays under :data:`HOLD_BYTES`, and only for datasets
    without map / filter stages.
    """
    dataset = iterable.dataset
    shards = dataset.source.shards
    if workers < 2 or dataset.stages or not shards:
        return False
    if sum(int(s["count"]) for s in shards) < 2 * iterable.batch_size * len(shards):
        return False
    biggest = max(int(s["bytes"]) for s in shards)
    return (workers - 1) * biggest * int(iterable.plan_options.get("window", 1)) <= HOLD_BYTES


def _open(rings: list[SlotRing], item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with its slot columns as arrays (views of the slot)."""
    return rings[item[SLOT][0]].take(item) if SLOT in item else item


def _assemble(
    items: Iterator[dict[str, Any]], plan: Any, start: int, open_item: Callable[..., dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Put worker pieces back together into local batches ``start, start + 1 …``, in order.

    ``open_item(item)`` turns an item's slot columns into arrays.
    """
    waiting: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    covered: dict[int, int] = {}
    j = start
    for item in items:
        if _ERROR in item:
            yield item
            return
        lo, hi = item.pop(_SPAN)
        k = item["__index__"]
        waiting.setdefault(k, []).append((lo, open_item(item)))
        covered[k] = covered.get(k, 0) + hi - lo
        while j < plan.num_batches and covered.get(j) == len(plan.batch(j)[0]):
            del covered[j]
            yield _merge([p for _, p in sorted(waiting.pop(j), key=lambda x: x[0])])
            j += 1
    if waiting:
        raise RuntimeError(f"batches {sorted(waiting)} arrived incomplete from the workers")


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One batch from its pieces (in sample order)."""
    if len(parts) == 1:
        return parts[0]
    out: dict[str, Any] = {
        "__index__": parts[0]["__index__"],
        "__skipped__": sum(p["__skipped__"] for p in parts),
    }
    for name in parts[0]:
        if name in out:
            continue
        cols = [p[name].numpy() if isinstance(p[name], torch.Tensor) else p[name] for p in parts]
        if all(
            isinstance(c, np.ndarray) and c.dtype == cols[0].dtype and c.shape[1:] == cols[0].shape[1:]
            for c in cols
        ):
            out[name] = np.concatenate(cols)
        else:
            out[name] = [
                v for c in cols for v in (c.tolist() if isinstance(c, np.ndarray) and c.ndim == 1 else c)
            ]
    return out


class Loader(DataLoader):
    """A DataLoader over a :class:`ShardIterable` that counts delivered batches and can resume.

    The epoch advances after each complete pass; :meth:`set_epoch` sets it.
    Batches left empty by filters or skipped samples are not handed out (they still count).
    After each epoch :attr:`skipped` holds the number of bad samples skipped.
    """

    def __init__(self, iterable: ShardIterable, **kwargs: Any) -> None:
        if kwargs.get("persistent_workers"):
            raise ConfigError(
                "persistent_workers is not supported", hint="leave it off; workers restart per epoch"
            )
        super().__init__(iterable, batch_size=None, collate_fn=_identity, **kwargs)
        self.shards = iterable
        # Workers send NumPy columns through the pipe in one pickle per batch, which is several times
        # cheaper than torch's shared-memory handover (a new segment and a socket per tensor); the
        # main process wraps them with torch.from_numpy (no copy). Pinned memory needs tensors.
        iterable.numpy = not self.pin_memory
        iterable.pieces = iterable.numpy and _split_by_shards(iterable, self.num_workers)
        self.delivered = 0
        self.skipped = 0

    @property
    def epoch(self) -> int:
        """The current epoch."""
        return self.shards.epoch

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` from its beginning at the next iteration."""
        self.shards.epoch, self.delivered = epoch, 0
        self.shards.plan_options["offset"] = 0

    def __len__(self) -> int:
        return len(self.shards)

    def _rings(self) -> list[SlotRing]:
        """One slot ring per worker, when batches travel as NumPy and a slot holds a batch.

        Slots cover the batches in flight, the caller's last few and, when the epoch is split by
        window of shards, the pieces the main process holds until their turn (one window).
        """
        workers, batch = self.num_workers, self.shards.batch_size
        size = slot_bytes(self.shards.dataset._current_schema(), batch)
        if not (self.shards.numpy and workers and size):
            return []
        slots = (self.prefetch_factor or 2) + 4
        if self.shards.pieces:
            counts = [int(s["count"]) for s in self.shards.dataset.source.shards]
            slots += -(-max(counts) * int(self.shards.plan_options.get("window", 1)) // batch) + 1
        slots = min(slots, RING_BYTES // (workers * size))
        return [SlotRing(slots, size, w) for w in range(workers)] if slots else []

    def __iter__(self) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        self.shards.start = self.delivered
        if self.delivered == 0:
            self.skipped = 0
        self.shards.rings = rings = self._rings()  # before super().__iter__() forks the workers
        try:
            items = super().__iter__()
        finally:
            self.shards.rings = []  # made for this pass only
        open_item = functools.partial(_open, rings)
        if self.shards.pieces:
            batches = _assemble(items, self.shards.plan(), self.delivered, open_item)
        else:
            batches = map(open_item, items)
        for batch in batches:
            if _ERROR in batch:
                raise batch[_ERROR]
            self.delivered = batch.pop("__index__") + 1
            self.skipped += batch.pop("__skipped__")
            if any(len(v) for v in batch.values()):
                yield to_torch(batch) if self.shards.numpy else batch
        if self.skipped:
            warnings.warn(
                f"dataset {self.shards.dataset.name!r}, epoch {self.epoch}: "
                f"skipped {self.skipped} bad samples",
                stacklevel=2,
            )
        self.shards.epoch += 1
        self.delivered = 0
        self.shards.plan_options["offset"] = 0  # a resumed epoch's offset ends with it

    def state_dict(self) -> dict[str, Any]:
        """Where the loader stands: epoch and batches delivered (plus what must match on resume)."""
        shards = self.shards
        return loader_state(
            shards.dataset, shards.batch_size, shards.plan_options, shards.epoch, self.delivered, self.skipped
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume after the last batch that ``state`` recorded as delivered.

        Any ``num_workers``; any world size too: the ranks share what no rank delivered yet
        (:func:`altakit.datasets.plan.resume_point`).
        """
        check_resume(state, self.state_dict())
        self.shards.epoch = int(state["epoch"])
        offset, self.delivered = resume_point(state, int(self.shards.plan_options["world_size"]))
        self.shards.plan_options["offset"] = offset
        self.skipped = int(state.get("skipped", 0))


def loader(
    dataset: Any,
    batch_size: int = 256,
    *,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    window: int = 1,
    num_workers: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
    drop_last: bool = False,
    keys: bool = False,
    **loader_kwargs: Any,
) -> Loader:
    """A resumable PyTorch DataLoader of tensor batches.

    Args:
        dataset: An altakit Dataset.
        batch_size: Samples per batch.
        shuffle: Shuffle shards and samples (order depends on ``seed`` and epoch only).
        seed: Shuffle seed.
        epoch: First epoch.
        window: Shards whose samples are mixed together.
        num_workers: DataLoader worker processes.
        rank: This rank (default: from ``torch.distributed`` if initialized, else 0).
        world_size: Number of ranks (default: from ``torch.distributed``, else 1).
        drop_last: Equal numbers of full batches on every rank (see :mod:`altakit.datasets.plan`).
        keys: Add each sample's key as ``batch["__key__"]``.
        **loader_kwargs: More DataLoader options (``pin_memory``, ``prefetch_factor``, ``timeout``).

    Example:
        >>> loader = ds.torch(64, seed=1, num_workers=2)  # doctest: +SKIP
    """
    if rank is None or world_size is None:
        ready = dist.is_available() and dist.is_initialized()
        rank = rank if rank is not None else (dist.get_rank() if ready else 0)
        world_size = world_size if world_size is not None else (dist.get_world_size() if ready else 1)
    options = {
        "shuffle": shuffle,
        "seed": seed,
        "window": window,
        "rank": rank,
        "world_size": world_size,
        "drop_last": drop_last,
        "offset": 0,
    }
    iterable = ShardIterable(dataset, batch_size, options, keys=keys)
    iterable.epoch = epoch
    return Loader(iterable, num_workers=num_workers, **loader_kwargs)
