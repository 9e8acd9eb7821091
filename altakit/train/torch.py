"""PyTorch: checkpoint and resume a plain training loop through the store.

:class:`Checkpointer` saves model, optimizer, scheduler, data-loader and RNG
state in one ``torch.save`` payload (a new store version) and :meth:`resume`
puts everything back, so a resumed run continues exactly where it stopped.
Loading never unpickles code: ``torch.load(weights_only=True)``. Under DDP only
rank 0 writes (the model is unwrapped, so keys carry no ``module.`` prefix) and
any world size can resume. Lightning runs checkpoint through the same
checkpointer with :mod:`altakit.train.lightning` (``StoreCheckpoint``).

Example:
    >>> ckpt = Checkpointer(store, "digits", monitor="val_loss")  # doctest: +SKIP
    >>> resumed = ckpt.resume(model=model, optimizer=opt, scheduler=sched, loader=loader)  # doctest: +SKIP
    >>> start = resumed.epoch if resumed else 0  # doctest: +SKIP
    >>> for epoch in range(start, epochs):  # doctest: +SKIP
    ...     step = train_one_epoch(...)
    ...     ckpt.save(step=step, epoch=epoch + 1, model=model, optimizer=opt,
    ...               scheduler=sched, loader=loader, metrics={"val_loss": v})
"""

from __future__ import annotations

import io
import pickle
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import torch

from altakit.errors import CheckpointError, ConfigError
from altakit.store.base import Store
from altakit.store.names import Version
from altakit.train import checkpoint as _ckpt
from altakit.train.checkpoint import Checkpoint, Which

PAYLOAD = "altakit.torch/1"


def rank() -> int:
    """This process's rank under ``torch.distributed`` (0 when not distributed)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


def world_size() -> int:
    """Number of processes under ``torch.distributed`` (1 when not distributed)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return 1


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP / DataParallel wrappers."""
    while isinstance(model, torch.nn.parallel.DistributedDataParallel | torch.nn.DataParallel):
        model = model.module
    return model


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch (and CUDA) RNG states, in types ``weights_only`` loading accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(np.asarray(keys).astype(np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore states captured by :func:`rng_state`."""
    random.setstate(_tuples(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def encode(state: Mapping[str, Any]) -> memoryview:
    """``torch.save`` of ``state`` into memory."""
    buf = io.BytesIO()
    torch.save(dict(state), buf)
    return buf.getbuffer()


def decode(data: bytes | BinaryIO, *, where: str = "checkpoint", map_location: Any = "cpu") -> Any:
    """``torch.load(weights_only=True)`` of bytes or a binary file; payloads needing unpickling are refused.

    Raises:
        CheckpointError: The bytes are not a torch payload, or hold code or unknown objects.
    """
    file = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    try:
        return torch.load(file, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as exc:
        raise CheckpointError(
            f"{where} is not a safe torch payload: {str(exc).splitlines()[0][:300]}",
            where=where,
            hint="only tensors, numbers, strings and containers load (weights_only=True); "
            "re-save it with altakit.train.torch",
        ) from exc


@dataclass
class Resumed:
    """What :meth:`Checkpointer.resume` restored.

    Attributes:
        epoch: Epoch saved with the checkpoint (by convention: epochs completed).
        step: Global step saved with the checkpoint.
        metrics: Metrics saved with it.
        checkpoint: Its listing (version, size …).
        model: The model, weights loaded.
        optimizer: The optimizer, state loaded (None if not given).
        scheduler: The scheduler, state loaded (None if not given).
        loader: The data loader, state loaded (None if not given).
        rng: The RNG states that were restored.
        extra: The ``extra`` dict given to ``save``.
    """

    epoch: int | None
    step: int
    metrics: dict[str, float]
    checkpoint: Checkpoint
    model: Any = None
    optimizer: Any = None
    scheduler: Any = None
    loader: Any = None
    rng: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class Checkpointer(_ckpt.Checkpointer):
    """Checkpoints of a PyTorch run in a store; only rank 0 writes.

    Args:
        store: Any altakit store.
        run: Run name.
        writer: Whether this process writes (default: rank 0 only).
        **options: ``prefix``, ``keep_last``, ``keep_best``, ``monitor``, ``mode``
            (see :class:`altakit.train.checkpoint.Checkpointer`).

    Example:
        >>> ckpt = Checkpointer(store, "digits", keep_last=2)  # doctest: +SKIP
        >>> ckpt.save(step=100, epoch=1, model=model, optimizer=opt)  # doctest: +SKIP
    """

    format = "torch"

    def __init__(self, store: Store, run: str, *, writer: bool | None = None, **options: Any) -> None:
        super().__init__(store, run, writer=rank() == 0 if writer is None else writer, **options)

    def save(  # type: ignore[override]
        self,
        state: Mapping[str, Any] | None = None,
        *,
        step: int,
        epoch: int | None = None,
        metrics: Mapping[str, float] | None = None,
        model: torch.nn.Module | None = None,
        optimizer: Any = None,
        scheduler: Any = None,
        loader: Any = None,
        extra: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Checkpoint | None:
        """Save a training checkpoint (or an arbitrary ``state`` dict of tensors).

        With ``model`` (and optionally ``optimizer``, ``scheduler``, ``loader``),
        their ``state_dict()`` plus the RNG states are saved. Under DDP, every
        rank calls this; rank 0 writes and all ranks wait for it.

        Returns:
            The new checkpoint on the writer, None elsewhere.
        """
        if state is None:
            if model is None:
                raise ConfigError(
                    "save() needs model=… or a state dict", hint="ckpt.save(step=s, model=model)"
                )
            state = {
                "format": PAYLOAD,
                "model": unwrap(model).state_dict(),
                "optimizer": optimizer.state_dict() if optimizer is not None else None,
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "loader": _loader_state(loader),
                "rng": rng_state(),
                "epoch": epoch,
                "step": step,
                "extra": dict(extra or {}),
            }
        info = {"torch": torch.__version__, "world_size": world_size(), **(meta or {})}
        saved = super().save(state, step=step, epoch=epoch, metrics=metrics, meta=info)
        if world_size() > 1:
            torch.distributed.barrier()  # every rank sees the checkpoint before going on
        return saved

    def write_state(self, state: Any) -> Version:
        """``torch.save`` of a state dict straight into a new store version (no copy in memory)."""
        if not isinstance(state, Mapping):
            raise ConfigError(f"torch checkpoints save a dict, not {type(state).__name__}")
        with self.store.open_writer(self.state_key) as f:
            torch.save(dict(state), f)  # type: ignore[arg-type]  # a binary file object, as torch.save takes
        assert f.version is not None
        return f.version

    def load(
        self, which: Which = "latest", *, map_location: Any = "cpu"
    ) -> tuple[dict[str, Any], Checkpoint]:
        """The saved state dict and its listing (safe load; checksum verified).

        Raises:
            NotFound: No such checkpoint.
            CorruptObject: The bytes fail their checksum.
            CheckpointError: Not a torch checkpoint.
        """
        ckpt = self.find(which)
        self.check_format(ckpt)
        where = f"checkpoint {ckpt.version} of run {self.run!r}"
        ckpt, state = self.read(ckpt, lambda f: decode(f, where=where, map_location=map_location))
        return state, ckpt

    def resume(
        self,
        *,
        model: torch.nn.Module,
        optimizer: Any = None,
        scheduler: Any = None,
        loader: Any = None,
        which: Which = "latest",
        restore_rng: bool = True,
        map_location: Any = "cpu",
    ) -> Resumed | None:
        """Restore a run from its checkpoint; None when the run has none yet.

        Every rank may call it (each reads; nothing is written). The checkpoint is
        pinned: retention never deletes the checkpoint a run resumed from.

        Raises:
            CheckpointError: The checkpoint does not match the model or optimizer.
            CorruptObject: The bytes fail their checksum.
        """
        if not self.checkpoints():
            return None
        state, ckpt = self.load(which, map_location=map_location)
        if not isinstance(state, dict) or state.get("format") != PAYLOAD:
            raise CheckpointError(
                f"checkpoint {ckpt.version} of run {self.run!r} holds a plain state, not a training state",
                run=self.run,
                version=ckpt.version,
                hint="use ckpt.load() for checkpoints saved with save(state)",
            )
        load_weights(model, state["model"], where=f"checkpoint {ckpt.version} of run {self.run!r}")
        _load_into(optimizer, state.get("optimizer"), "optimizer", ckpt)
        _load_into(scheduler, state.get("scheduler"), "scheduler", ckpt)
        _load_into(loader, state.get("loader"), "loader", ckpt)
        if restore_rng:
            set_rng_state(state["rng"])
        return Resumed(
            epoch=state.get("epoch"),
            step=int(state.get("step") or 0),
            metrics=dict(ckpt.metrics),
            checkpoint=ckpt,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            loader=loader,
            rng=state["rng"],
            extra=state.get("extra") or {},
        )


def load_weights(model: torch.nn.Module, state: Mapping[str, Any], *, where: str = "checkpoint") -> None:
    """Load a state dict (or a training payload's model part) into ``model``, strictly.

    Raises:
        CheckpointError: Keys or shapes differ from the model's.
    """
    if state.get("format") == PAYLOAD:
        state = state["model"]
    try:
        unwrap(model).load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{where} does not match the model: {str(exc).strip()[:600]}",
            where=where,
            hint="build the same architecture that was trained, or restore another checkpoint",
        ) from exc


def model_bytes(model: torch.nn.Module) -> bytes:
    """The bytes the registry stores for a model: its state dict, ``torch.save``-d."""
    return bytes(encode(unwrap(model).state_dict()))


def load_model_bytes(data: bytes, model: torch.nn.Module | None, where: str) -> torch.nn.Module:
    """Load registry bytes into ``model`` (safe load; strict keys and shapes)."""
    if model is None:
        raise ConfigError(
            f"{where} is a PyTorch model: pass model= with its architecture",
            hint="load_model('digits@champion', model=Net()) — torch weights carry no code",
        )
    load_weights(model, decode(data, where=where), where=where)
    return model


def _loader_state(loader: Any) -> Any:
    if loader is None:
        return None
    if not hasattr(loader, "state_dict"):
        raise ConfigError(
            f"the loader ({type(loader).__name__}) has no state_dict()",
            hint="pass an altakit loader, a torchdata StatefulDataLoader, or leave loader out",
        )
    return loader.state_dict()


def _load_into(obj: Any, state: Any, what: str, ckpt: Checkpoint) -> None:
    if obj is None:
        return
    if state is None:
        raise CheckpointError(
            f"checkpoint {ckpt.version} of run {ckpt.run!r} holds no {what} state",
            run=ckpt.run,
            version=ckpt.version,
            hint=f"it was saved without {what}=…; resume without it",
        )
    try:
        obj.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint {ckpt.version} of run {ckpt.run!r} does not match the {what}: {exc}",
            run=ckpt.run,
            version=ckpt.version,
            hint=f"build the {what} as in the run that saved it",
        ) from exc


def _tuples(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_tuples(v) for v in value)
    return value
