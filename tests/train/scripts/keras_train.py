"""A small Keras 3 training run on scikit-learn's digits with BackupAndRestore to a store.

Usage: keras_train.py STORE RUN OUT [--kill-at EPOCH BATCH] [--epochs E]

``--kill-at`` SIGKILLs this process after that batch of that epoch (mid-epoch).
A restart with the same RUN resumes from the last backup. The final weights are
written to OUT (.npz).
"""

from __future__ import annotations

import argparse
import os
import signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits

import altakit
from altakit.train.keras import BackupAndRestore


class KillAt(keras.callbacks.Callback):
    def __init__(self, epoch: int, batch: int) -> None:
        super().__init__()
        self.at, self.epoch = (epoch, batch), -1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("run")
    p.add_argument("out")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--kill-at", type=int, nargs=2, default=None)
    args = p.parse_args()
    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
    digits = load_digits()
    x, y = (digits.data / 16.0).astype("float32"), digits.target
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)]
    )
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    callbacks = [BackupAndRestore(altakit.open_store(args.store), args.run)]
    if args.kill_at:
        callbacks.append(KillAt(*args.kill_at))
    model.fit(x, y, batch_size=64, epochs=args.epochs, shuffle=False, verbose=0, callbacks=callbacks)
    np.savez(args.out, *model.get_weights())
    print("done")


if __name__ == "__main__":
    main()
