"""Lightning: checkpoint a ``Trainer`` run to the store and resume it.

:class:`StoreCheckpoint` is a Lightning checkpoint callback. It saves Lightning's
own full checkpoint (module weights, optimizers, schedulers, loop progress,
stateful data loaders, callback states) plus the Python/NumPy/torch RNG states
through :class:`altakit.train.torch.Checkpointer`: atomic, one store version per
checkpoint, retention of the last N and best K by a monitored metric, and only
the global-zero process writes. :meth:`StoreCheckpoint.resume_path` reads the
chosen checkpoint back (checksum verified, safety-checked with
``torch.load(weights_only=True)``, pinned against retention) into a local file
for ``trainer.fit(ckpt_path=...)``; it returns None when the run has no
checkpoint yet, so the same script starts and resumes.

Mid-epoch checkpoints resume exactly when the training data loader is stateful
(``state_dict``/``load_state_dict``, e.g. altakit's torch loader or torchdata's
``StatefulDataLoader``): Lightning saves and restores its position. With a plain
``DataLoader`` the resumed epoch starts its data over.

Importing this module needs ``lightning`` (``pip install 'altakit[lightning]'``);
``import altakit`` never imports it.

Example:
    >>> import lightning.pytorch as L  # doctest: +SKIP
    >>> cb = StoreCheckpoint(store, "digits", every_n_train_steps=100, monitor="val_loss")  # doctest: +SKIP
    >>> trainer = L.Trainer(max_epochs=10, callbacks=[cb])  # doctest: +SKIP
    >>> trainer.fit(module, loader, ckpt_path=cb.resume_path())  # doctest: +SKIP
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from altakit.errors import CheckpointError, ConfigError, MissingDependency

try:
    import lightning
    from lightning.pytorch.callbacks import Checkpoint as _LightningCheckpoint
except ImportError as exc:  # pragma: no cover - exercised where Lightning is absent
    raise MissingDependency(
        "altakit.train.lightning needs lightning",
        extra="lightning",
        hint="pip install 'altakit[lightning]'",
    ) from exc

import torch

from altakit.store.base import Store
from altakit.train import torch as torch_train
from altakit.train.checkpoint import Checkpoint, Which

FORMAT = "lightning"


class LightningCheckpointer(torch_train.Checkpointer):
    """A torch checkpointer whose checkpoints hold Lightning's full checkpoint dict."""

    format = FORMAT


class StoreCheckpoint(_LightningCheckpoint):
    """Save a Lightning run's checkpoints to a store; resume from them.

    Args:
        store: Any altakit store.
        run: Run name (``/``-separated segments).
        every_n_train_steps: Save every N optimizer steps (mid-epoch); None: not by steps.
        every_n_epochs: Save at the end of every N training epochs; None or 0: not by epochs.
        monitor: Metric (from ``self.log``) that ranks checkpoints for ``keep_best``
            and ``resume_path("best")``.
        mode: ``"min"`` or ``"max"``.
        keep_last: How many of the newest checkpoints to keep.
        keep_best: How many of the best checkpoints by ``monitor`` to keep.
        prefix: Store prefix for all runs.

    Attributes:
        checkpointer: The :class:`LightningCheckpointer` doing the store work.
        saved: The checkpoints this callback saved in this process, oldest first.

    Example:
        >>> cb = StoreCheckpoint(store, "run", every_n_train_steps=50)  # doctest: +SKIP
        >>> trainer.fit(module, loader, ckpt_path=cb.resume_path())  # doctest: +SKIP
    """

    def __init__(
        self,
        store: Store,
        run: str,
        *,
        every_n_train_steps: int | None = None,
        every_n_epochs: int | None = 1,
        monitor: str | None = None,
        mode: str = "min",
        keep_last: int = 3,
        keep_best: int = 1,
        prefix: str = "checkpoints",
    ) -> None:
        for label, n in (("every_n_train_steps", every_n_train_steps), ("every_n_epochs", every_n_epochs)):
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
                raise ConfigError(f"{label} must be a whole number >= 0 or None, not {n!r}")
        if not every_n_train_steps and not every_n_epochs:
            raise ConfigError(
                "StoreCheckpoint saves nothing with neither every_n_train_steps nor every_n_epochs",
                hint="every_n_epochs=1 (the default) or every_n_train_steps=N",
            )
        # writer: decided per save from trainer.is_global_zero (ranks are unknown before fit)
        self.checkpointer = LightningCheckpointer(
            store,
            run,
            prefix=prefix,
            keep_last=keep_last,
            keep_best=keep_best,
            monitor=monitor,
            mode=mode,
            writer=False,
        )
        self.every_n_train_steps = every_n_train_steps or 0
        self.every_n_epochs = every_n_epochs or 0
        self.saved: list[Checkpoint] = []
        self._last_step_saved = -1
        self._pending_rng: dict[str, Any] | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    @property
    def state_key(self) -> str:
        """Key of this callback's state in Lightning checkpoints (one per store run)."""
        return f"StoreCheckpoint[{self.checkpointer.root}]"

    # ----------------------------------------------------------------- resuming
    def checkpoints(self) -> list[Checkpoint]:
        """The run's kept checkpoints in the store, oldest first."""
        return self.checkpointer.checkpoints()

    def load(self, which: Which = "latest") -> tuple[dict[str, Any], Checkpoint]:
        """Lightning's checkpoint dict (safe load, checksum verified) and its listing.

        ``state["state_dict"]`` holds the LightningModule's weights.
        """
        return self.checkpointer.load(which)

    def resume_path(self, which: Which = "latest") -> str | None:
        """A local file of the checkpoint ``which``, for ``trainer.fit(ckpt_path=…)``; None if none yet.

        The bytes are checksum-verified by the store and must load with
        ``torch.load(weights_only=True)``; the checkpoint is pinned so retention
        never deletes it. The file lives until the fit ends (``teardown``). Every
        rank may call this.

        Raises:
            CheckpointError: Not a Lightning checkpoint, or not a safe payload.
            CorruptObject: The stored bytes fail their checksum.
        """
        if not self.checkpoints():
            return None
        restored = self.checkpointer.restore(which)
        self.checkpointer.decode(restored)  # format check
        ckpt = restored.checkpoint
        where = f"checkpoint {ckpt.version} of run {ckpt.run!r}"
        state = torch_train.decode(restored.data, where=where)
        if not isinstance(state, dict) or not {"state_dict", "loops"} <= state.keys():
            raise CheckpointError(
                f"{where} is not a full Lightning checkpoint", run=ckpt.run, version=ckpt.version
            )
        del state
        self._cleanup()
        self._tmp = tempfile.TemporaryDirectory(prefix="altakit-lightning-")
        path = Path(self._tmp.name) / f"{ckpt.version}.ckpt"
        path.write_bytes(restored.data)
        return str(path)

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # ---------------------------------------------------------- Lightning hooks
    def state_dict(self) -> dict[str, Any]:
        """Callback state kept in each checkpoint: the RNG states at save time."""
        return {"rng": torch_train.rng_state(), "run": self.checkpointer.run}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the RNG states saved with the checkpoint (before any data is drawn)."""
        rng = state_dict.get("rng")
        if rng is not None:
            torch_train.set_rng_state(rng)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, idx: int) -> None:
        n, step = self.every_n_train_steps, trainer.global_step
        if (n and step > 0 and step % n == 0) or 0 < trainer.max_steps <= step:
            # the last step before max_steps is saved here, where Lightning resumes it mid-epoch
            self.save(trainer)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        n = self.every_n_epochs
        # an epoch cut short (max_steps) is not an epoch end: a checkpoint taken now would
        # resume at the next epoch and skip the rest of this one
        if n and (trainer.current_epoch + 1) % n == 0 and _last_batch_ran(trainer):
            self.save(trainer)

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._cleanup()

    # ------------------------------------------------------------------- saving
    def save(self, trainer: Any) -> Checkpoint | None:
        """Save the trainer's full checkpoint now; every rank calls it, global zero writes.

        The checkpoint's ``epoch`` is the number of epochs completed (the current
        one counts once its last batch ran) and ``step`` is ``trainer.global_step``.

        Returns:
            The new checkpoint on global zero, None elsewhere (or when this step was saved already).
        """
        step = int(trainer.global_step)
        if step == self._last_step_saved or trainer.sanity_checking:
            return None
        self._last_step_saved = step
        # every rank builds the dict (collective for sharded strategies), as Trainer.save_checkpoint does
        state = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
        self.checkpointer.writer = bool(trainer.is_global_zero)
        saved = self.checkpointer.save(
            state,
            step=step,
            epoch=epochs_done(trainer),
            metrics=_scalars(trainer.callback_metrics),
            meta={"lightning": lightning.__version__, "world_size": trainer.world_size},
        )
        if saved is not None:
            self.saved.append(saved)
        return saved


def lightning_callback(store: Store, run: str, **options: Any) -> StoreCheckpoint:
    """A Lightning callback that checkpoints the run to the store: a :class:`StoreCheckpoint`.

    Saves Lightning's full checkpoint (weights, optimizers, schedulers, loop and
    data-loader progress, RNG) every epoch or every N steps through the store's
    checkpointer (atomic, versioned, retention); only the global-zero process
    writes. Resume with ``trainer.fit(..., ckpt_path=callback.resume_path())``.

    Args:
        store: Any altakit store.
        run: Run name.
        **options: ``every_n_train_steps``, ``every_n_epochs``, ``monitor``, ``mode``,
            ``keep_last``, ``keep_best``, ``prefix``.

    Example:
        >>> trainer = L.Trainer(callbacks=[lightning_callback(store, "digits")])  # doctest: +SKIP
    """
    return StoreCheckpoint(store, run, **options)


def epochs_done(trainer: Any) -> int:
    """Epochs completed by ``trainer``: the current one counts once its last batch ran."""
    return int(trainer.current_epoch) + int(_last_batch_ran(trainer))


def _last_batch_ran(trainer: Any) -> bool:
    return bool(getattr(trainer.fit_loop.epoch_loop.batch_progress, "is_last_batch", False))


def _scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Finite scalar metrics as floats (tensors with one element, numbers)."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, torch.Tensor):
            if v.numel() != 1:
                continue
            v = v.item()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            out[k] = float(v)
    return out
