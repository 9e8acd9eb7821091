"""Keras 3: exact resume after SIGKILL via BackupAndRestore; StoreCheckpoint best-only; safe loading."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

from altakit.errors import CheckpointError, ConfigError, CorruptObject  # noqa: E402
from altakit.train.keras import (  # noqa: E402
    BackupAndRestore,
    EventCallback,
    KerasCheckpointer,
    StoreCheckpoint,
    restore_model,
)

SCRIPTS = Path(__file__).parent / "scripts"


def _train(store: Path, run: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPTS / "keras_train.py"), str(store), run, str(out), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path):
    store = tmp_path / "store"
    assert _train(store, "full", tmp_path / "full.npz").returncode == 0
    killed = _train(store, "cut", tmp_path / "cut.npz", "--kill-at", "2", "10")  # epoch 3 of 4, batch 11
    assert killed.returncode == -signal.SIGKILL
    resumed = _train(store, "cut", tmp_path / "cut.npz")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = np.load(tmp_path / "full.npz"), np.load(tmp_path / "cut.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def _model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    return model


def test_store_checkpoint_best_only_and_safe_reload(local_store):
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = _model()
    seen = []
    from altakit.events import EventStream

    stream = EventStream("k")
    stream.subscribe(seen.append)
    cb = StoreCheckpoint(local_store, "k", monitor="loss", save_best_only=True, keep_last=1, keep_best=1)
    model.fit(x, y, epochs=4, batch_size=16, verbose=0, callbacks=[cb, EventCallback(stream)])
    assert len(cb.saved) == 4  # the loss fell every epoch
    assert [e.kind for e in seen].count("epoch") == 4 and seen[-1].kind == "end"
    loaded = restore_model(local_store, "k", "best")
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True))
    assert int(loaded.optimizer.iterations.numpy()) == 16


def test_backup_is_refused_by_a_different_model(local_store):
    x = np.ones((8, 4), "float32")
    model = _model()
    model.fit(
        x, x[:, :1], epochs=1, verbose=0, callbacks=[BackupAndRestore(local_store, "b", delete_on_end=False)]
    )
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(7), keras.layers.Dense(1)])
    other.compile(keras.optimizers.Adam(), "mse")
    with pytest.raises(CheckpointError, match="does not match"):
        other.fit(x, x[:, :1], epochs=2, verbose=0, callbacks=[BackupAndRestore(local_store, "b")])


def test_keras_checkpointer_streams_a_plain_keras_file_and_loads_safely(local_store, tmp_path):
    model = _model()
    ckpt = KerasCheckpointer(local_store, "m", keep_last=2)
    with pytest.raises(ConfigError):
        ckpt.save(b"not a model", step=1)
    assert local_store.list("checkpoints/") == []
    first = ckpt.save(model, step=1)
    loaded, got = ckpt.load()
    assert got.version == first.version and got.format == "keras"
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True))
    path = tmp_path / "copy.keras"  # the stored bytes are a plain .keras file
    path.write_bytes(local_store.get(first.key, first.version))
    assert len(keras.saving.load_model(path).get_weights()) == len(model.get_weights())
    # a model that needs code to load (a Lambda) is refused, not run
    unsafe = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda t: t * 2)])
    ckpt.save(unsafe, step=2)
    with pytest.raises(CheckpointError, match=r"not a safe \.keras model"):
        ckpt.load("latest")
    # damaged bytes fail their checksum, and the hint names the older checkpoint
    c = ckpt.checkpoints()[-1]
    stored = local_store._path(local_store.resolve(c.key, c.version).name)
    stored.write_bytes(b"PK" + stored.read_bytes()[2:-1] + b"!")
    with pytest.raises(CorruptObject) as info:
        ckpt.load("latest")
    assert first.version in info.value.hint
