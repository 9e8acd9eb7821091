"""Keras 3: callbacks that checkpoint to the store, resume after interruptions, and stream events.

- :class:`StoreCheckpoint` saves the whole model (``.keras``, optimizer included)
  every epoch or every N steps, optionally only when a monitored metric improves,
  through a :class:`KerasCheckpointer` (the model streams into the store and back).
- :class:`BackupAndRestore` backs up weights and optimizer state (``.weights.h5``)
  and, at the start of the next ``fit``, restores them and the epoch to continue from.
- :class:`EventCallback` feeds an :class:`~altakit.events.EventStream`.

Nothing is unpickled: ``.keras`` files load with ``safe_mode=True`` and
``.weights.h5`` files are HDF5 arrays.

Example:
    >>> model.fit(x, y, epochs=10, callbacks=[
    ...     BackupAndRestore(store, "digits-keras"),
    ...     StoreCheckpoint(store, "digits-keras/best", monitor="val_loss", save_best_only=True),
    ... ])  # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import keras

from altakit.errors import CheckpointError, ConfigError
from altakit.events import EventStream
from altakit.store.base import Store
from altakit.store.names import Version
from altakit.train.checkpoint import Checkpoint, Checkpointer, Which


def _saving_lib() -> Any:
    # keras.saving's public functions take paths only; saving_lib, which they call with
    # ``open(path)``, takes the file itself: a store file streams with no temp file
    from keras.src.saving import saving_lib

    return saving_lib


def save_model_file(model: keras.Model, file: BinaryIO | io.BufferedIOBase) -> None:
    """Write the model as a ``.keras`` file (architecture, weights, optimizer state) into ``file``."""
    _saving_lib().save_model(model, file)


def load_model_file(file: BinaryIO, where: str = "model", *, compile: bool = True) -> keras.Model:
    """Load a ``.keras`` file object with ``safe_mode=True`` (no lambdas, no pickled code).

    Raises:
        CheckpointError: Not a ``.keras`` file, or it needs unsafe deserialization.
    """
    try:
        return _saving_lib().load_model(file, compile=compile, safe_mode=True)
    except (ValueError, TypeError, OSError, KeyError, zipfile.BadZipFile) as exc:
        raise CheckpointError(
            f"{where} is not a safe .keras model: {str(exc).splitlines()[0][:300]}",
            where=where,
            hint="save it with model.save('x.keras') and register custom layers with "
            "@keras.saving.register_keras_serializable",
        ) from exc


def model_bytes(model: keras.Model) -> bytes:
    """The model as ``.keras`` bytes (architecture, weights, optimizer state)."""
    buf = io.BytesIO()
    save_model_file(model, buf)
    return buf.getvalue()


def load_model_bytes(data: bytes, where: str = "model", *, compile: bool = True) -> keras.Model:
    """Load ``.keras`` bytes with ``safe_mode=True`` (see :func:`load_model_file`)."""
    return load_model_file(io.BytesIO(data), where, compile=compile)


class KerasCheckpointer(Checkpointer):
    """Checkpoints of whole Keras models (``.keras``) in a store, streamed in and out.

    Example:
        >>> ckpt = KerasCheckpointer(store, "digits-keras")  # doctest: +SKIP
        >>> ckpt.save(model, step=100, metrics={"val_loss": 0.3})  # doctest: +SKIP
        >>> model, checkpoint = ckpt.load("best")  # doctest: +SKIP
    """

    format = "keras"

    def write_state(self, state: Any) -> Version:
        """Write the model as ``.keras`` straight into a new store version."""
        if not isinstance(state, keras.Model):
            raise ConfigError(f"Keras checkpoints save a keras.Model, not {type(state).__name__}")
        with self.store.open_writer(self.state_key) as f:
            save_model_file(state, f)
        assert f.version is not None
        return f.version

    def load(self, which: Which = "latest", *, compile: bool = True) -> tuple[keras.Model, Checkpoint]:
        """The saved model (safe mode; checksum verified while it loads) and its listing.

        Raises:
            NotFound: No such checkpoint.
            CorruptObject: The bytes fail their checksum.
            CheckpointError: Not a Keras model checkpoint, or not a safe one.
        """
        ckpt = self.find(which)
        self.check_format(ckpt)
        where = f"checkpoint {ckpt.version} of run {self.run!r}"
        ckpt, model = self.read(ckpt, lambda f: load_model_file(f, where, compile=compile))
        return model, ckpt


def load_weights_bytes(model: keras.Model, data: bytes, where: str = "checkpoint") -> None:
    """Load ``.weights.h5`` or ``.keras`` bytes into a built model (optimizer state too, if compiled).

    An uncompiled model (inference) takes the layers' weights; the optimizer state is skipped.

    Raises:
        ConfigError: The model is not built (or not a Keras model).
        CheckpointError: The weights do not match the model (the message names no file).
    """
    if not isinstance(model, keras.Model):
        raise ConfigError(
            f"weights load into a keras.Model, not {type(model).__name__}",
            hint="pass model= with the architecture that was trained",
        )
    if not model.built:
        raise ConfigError(
            "the model must be built before weights load into it",
            hint="call model.build(input_shape) or model(x[:1]) first",
        )
    optimizer = getattr(model, "optimizer", None)  # an uncompiled model has none
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    suffix = "model.keras" if data[:2] == b"PK" else "state.weights.h5"
    with tempfile.TemporaryDirectory(prefix="altakit-keras-") as tmp:
        path = Path(tmp) / suffix
        path.write_bytes(data)
        try:
            model.load_weights(path)
        except (ValueError, KeyError, OSError, TypeError) as exc:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0].replace(str(path), suffix)
            raise CheckpointError(
                f"{where} does not match the model: {reason.replace(tmp, '')[:400]}",
                where=where,
                hint="build and compile the same architecture and optimizer that were trained",
            ) from exc


class _StoreCallback(keras.callbacks.Callback):
    """Counts steps and saves on epochs or every N steps."""

    def __init__(self, save_freq: str | int) -> None:
        super().__init__()
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
        ):
            raise ConfigError(f"save_freq must be 'epoch' or a whole number >= 1, not {save_freq!r}")
        self.save_freq = save_freq
        self.epoch = 0
        self.batch = 0
        self.step = 0

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.epoch = epoch
        self.batch = 0

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.batch = batch + 1
        self.step = int(self.model.optimizer.iterations.numpy()) if self.model.optimizer else self.step + 1
        if self.save_freq != "epoch" and self.step % int(self.save_freq) == 0:
            self._save(self.epoch, self.batch, logs or {})

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch + 1, 0, logs or {})

    def _save(self, epoch: int, batch: int, logs: Mapping[str, Any]) -> None:
        raise NotImplementedError


class StoreCheckpoint(_StoreCallback):
    """Save the whole model (``.keras``) to the store every epoch or every ``save_freq`` steps.

    Args:
        store: Any altakit store.
        run: Run name; checkpoints go to ``checkpoints/<run>/``.
        monitor: Metric for ``save_best_only`` and for keeping the best (``"val_loss"``).
        mode: ``"min"``, ``"max"``, or ``"auto"`` (max for accuracy-like names, else min).
        save_best_only: Save only when ``monitor`` improves.
        save_freq: ``"epoch"`` or a number of steps.
        keep_last: Newest checkpoints kept.
        keep_best: Best checkpoints by ``monitor`` kept.

    Example:
        >>> cb = StoreCheckpoint(store, "d", monitor="val_acc", save_best_only=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        store: Store,
        run: str,
        *,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = False,
        save_freq: str | int = "epoch",
        keep_last: int = 3,
        keep_best: int = 1,
    ) -> None:
        super().__init__(save_freq)
        if mode == "auto":
            mode = "max" if any(w in monitor for w in ("acc", "auc", "f1", "precision", "recall")) else "min"
        self.monitor, self.save_best_only = monitor, save_best_only
        self.ckpt = KerasCheckpointer(
            store, run, keep_last=keep_last, keep_best=keep_best, monitor=monitor, mode=mode
        )
        self.best = math.inf if mode == "min" else -math.inf
        self.saved: list[Checkpoint] = []

    def _improved(self, value: float) -> bool:
        return value < self.best if self.ckpt.mode == "min" else value > self.best

    def _save(self, epoch: int, batch: int, logs: Mapping[str, Any]) -> None:
        metrics = {k: float(v) for k, v in logs.items() if _is_number(v)}
        if self.save_best_only:
            value = metrics.get(self.monitor)
            if value is None or not self._improved(value):
                return
            self.best = value
        saved = self.ckpt.save(
            self.model, step=self.step, epoch=epoch, metrics=metrics, meta={"keras": keras.__version__}
        )
        if saved is not None:
            self.saved.append(saved)


class BackupAndRestore(_StoreCallback):
    """Back up weights and optimizer state to the store; resume after an interruption.

    At ``on_train_begin``, if the run has a backup, weights and optimizer state
    are loaded and ``fit`` continues at the saved epoch. With ``save_freq="epoch"``
    the resumed run equals an uninterrupted one (given deterministic data order);
    with a step count, a resume re-runs the interrupted epoch from its start
    with the weights of the last backup (as Keras's own callback does).

    Args:
        store: Any altakit store.
        run: Run name; backups go to ``checkpoints/<run>/backup/``.
        save_freq: ``"epoch"`` or a number of steps.
        delete_on_end: Remove the backup when ``fit`` completes (default True), so the
            next ``fit`` of the same run starts fresh.
        keep_last: Backups kept (an interrupted write never replaces the last good one).

    Example:
        >>> model.fit(x, y, epochs=20, callbacks=[BackupAndRestore(store, "digits")])  # doctest: +SKIP
    """

    def __init__(
        self,
        store: Store,
        run: str,
        *,
        save_freq: str | int = "epoch",
        delete_on_end: bool = True,
        keep_last: int = 2,
    ) -> None:
        super().__init__(save_freq)
        self.ckpt = Checkpointer(store, f"{run}/backup", keep_last=keep_last, keep_best=0)
        self.ckpt.format = "keras-weights"
        self.delete_on_end = delete_on_end
        self.restored: Checkpoint | None = None

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if not self.ckpt.checkpoints():
            return
        restored = self.ckpt.restore("latest")
        self.ckpt.decode(restored)
        where = f"backup {restored.checkpoint.version} of run {self.ckpt.run!r}"
        load_weights_bytes(self.model, restored.data, where)
        self.model._initial_epoch = restored.checkpoint.epoch or 0
        self.restored = restored.checkpoint
        self.step = restored.checkpoint.step

    def _save(self, epoch: int, batch: int, logs: Mapping[str, Any]) -> None:
        metrics = {k: float(v) for k, v in logs.items() if _is_number(v)}
        with tempfile.TemporaryDirectory(prefix="altakit-keras-") as tmp:
            path = Path(tmp) / "state.weights.h5"
            self.model.save_weights(path)
            self.ckpt.save(path, step=self.step, epoch=epoch, metrics=metrics, meta={"batch": batch})

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self.model._initial_epoch = None
        if not self.delete_on_end:
            return
        self.ckpt.clear()


class EventCallback(keras.callbacks.Callback):
    """Emit ``start`` / ``batch`` / ``epoch`` / ``end`` events of ``fit`` on an event stream.

    Example:
        >>> stream = EventStream("digits"); stream.subscribe(TqdmProgress())  # doctest: +SKIP
        >>> model.fit(x, y, epochs=3, callbacks=[EventCallback(stream, params={"lr": 0.1})])  # doctest: +SKIP
    """

    def __init__(self, stream: EventStream, params: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.stream, self.run_params = stream, dict(params or {})
        self.epoch_no = 0

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        first = self.model._initial_epoch or 0
        resumed = {"epoch": first} if first else None
        self.stream.start(self.run_params, epochs=self.params.get("epochs"), resumed=resumed)

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.epoch_no = epoch

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        step = int(self.model.optimizer.iterations.numpy()) if self.model.optimizer else batch
        self.stream.batch(step, _numbers(logs), epoch=self.epoch_no)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        step = int(self.model.optimizer.iterations.numpy()) if self.model.optimizer else None
        self.stream.epoch(epoch, _numbers(logs), step=step)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self.stream.end("finished")


def restore_model(store: Store, run: str, which: Which = "latest") -> keras.Model:
    """Load a :class:`StoreCheckpoint` checkpoint as a compiled model (safe mode)."""
    return KerasCheckpointer(store, run).load(which)[0]


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _numbers(logs: Mapping[str, Any] | None) -> dict[str, float]:
    return {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
