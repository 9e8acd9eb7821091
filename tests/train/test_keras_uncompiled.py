"""Keras weights into an uncompiled model: they load (inference), or fail typed, naming no file."""

from __future__ import annotations

import pytest

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

from altakit.errors import CheckpointError  # noqa: E402
from altakit.train import Checkpointer  # noqa: E402
from altakit.train.keras import load_weights_bytes  # noqa: E402
from altakit.train.registry import ModelRegistry  # noqa: E402


def _net(width: int = 2) -> keras.Model:
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(width)])


def _trained_weights(tmp_path) -> tuple[keras.Model, bytes]:
    model = _net()
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    return model, (tmp_path / "w.weights.h5").read_bytes()


def test_weights_load_into_an_uncompiled_model(local_store, tmp_path) -> None:
    trained, data = _trained_weights(tmp_path)
    x = np.ones((1, 3), "float32")
    fresh = _net()  # built, never compiled: no optimizer
    load_weights_bytes(fresh, data, "model m@1")
    assert np.allclose(fresh.predict(x, verbose=0), trained.predict(x, verbose=0))
    # the same through the registry, as a keras-weights model version
    ckpt = Checkpointer(local_store, "r")
    ckpt.format = "keras-weights"  # as BackupAndRestore saves them
    reg = ModelRegistry(local_store)
    reg.register("m", ckpt.save(data, step=1))
    loaded = reg.load_model("m@1", model=_net())
    assert np.allclose(loaded.predict(x, verbose=0), trained.predict(x, verbose=0))


def test_weights_that_do_not_fit_an_uncompiled_model_are_a_typed_error_without_paths(tmp_path) -> None:
    _, data = _trained_weights(tmp_path)
    with pytest.raises(CheckpointError) as info:
        load_weights_bytes(_net(width=5), data, "model m@1")
    assert info.value.hint and "model m@1" in str(info.value)
    assert "/" not in str(info.value) and "altakit-keras-" not in str(info.value)
