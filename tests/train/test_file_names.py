"""Stored checkpoints and model weights carry their conventional suffix and open with the plain tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

from altakit.store.fsspec import StoreFileSystem  # noqa: E402
from altakit.train import torch as torch_train  # noqa: E402
from altakit.train.checkpoint import FORMAT  # noqa: E402
from altakit.train.keras import BackupAndRestore, KerasCheckpointer  # noqa: E402
from altakit.train.registry import ModelRegistry  # noqa: E402


def _fetch(store, key: str, folder: Path) -> Path:
    """Copy a store key to a local file under the key's own name, as a user with fsspec would."""
    path = folder / key.rsplit("/", 1)[-1]
    StoreFileSystem(store).get(key, str(path))
    return path


def _keras_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_keras_checkpoint_and_registered_model_open_with_plain_keras(local_store, tmp_path):
    model = _keras_model()
    saved = KerasCheckpointer(local_store, "k").save(model, step=1)
    assert saved.key.endswith(".keras")
    loaded = keras.saving.load_model(_fetch(local_store, saved.key, tmp_path))
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

    doc = ModelRegistry(local_store).register("kmodel", model).doc
    assert doc["key"].endswith(".keras")
    (tmp_path / "reg").mkdir()
    assert keras.saving.load_model(_fetch(local_store, doc["key"], tmp_path / "reg")).count_params() == 8


def test_keras_backup_weights_open_with_plain_load_weights(local_store, tmp_path):
    model = _keras_model()
    backup = BackupAndRestore(local_store, "b", delete_on_end=False)
    model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, verbose=0, callbacks=[backup])
    listed = backup.ckpt.checkpoints()[-1]
    assert listed.key.endswith(".weights.h5")
    fresh = _keras_model()
    fresh.load_weights(_fetch(local_store, listed.key, tmp_path))
    np.testing.assert_allclose(fresh.get_weights()[0], model.get_weights()[0])


def test_torch_checkpoint_and_registered_model_open_with_plain_torch_load(local_store, tmp_path):
    net = torch.nn.Linear(2, 1)
    ckpt = torch_train.Checkpointer(local_store, "t")
    saved = ckpt.save(step=3, model=net)
    assert saved.key.endswith(".pt")
    state = torch.load(_fetch(local_store, saved.key, tmp_path), weights_only=True)
    assert torch.equal(state["model"]["weight"], net.weight)

    doc = ModelRegistry(local_store).register("tmodel", ckpt.find("latest")).doc
    assert doc["key"] == "models/tmodel/weights.pt"
    (tmp_path / "reg").mkdir()
    assert set(torch.load(_fetch(local_store, doc["key"], tmp_path / "reg"), weights_only=True)) >= {"model"}


def test_checkpoints_under_the_old_suffixless_key_still_restore_and_are_swept(local_store):
    net = torch.nn.Linear(2, 1)
    old = local_store.put("checkpoints/r/state", bytes(torch_train.encode({"w": net.weight.detach()})))
    listed = {"run": "r", "key": "checkpoints/r/state", "version": old.id, "step": 1, "format": "torch"}
    manifest = {
        "format": FORMAT,
        "run": "r",
        "monitor": None,
        "mode": "min",
        "pinned": [],
        "checkpoints": [listed],
    }
    local_store.put("checkpoints/r/manifest.json", json.dumps(manifest).encode())

    ckpt = torch_train.Checkpointer(local_store, "r", keep_last=1)
    state, found = ckpt.load("latest")
    assert found.key == "checkpoints/r/state" and torch.equal(state["w"], net.weight)
    ckpt = torch_train.Checkpointer(local_store, "r", keep_last=1)  # a restored checkpoint stays pinned
    ckpt.save({"w": net.weight.detach()}, step=2)
    assert [c.key for c in ckpt.checkpoints()] == ["checkpoints/r/state.pt"]
    assert local_store.versions("checkpoints/r/state") == []  # the dropped old checkpoint is purged
