"""The digits demo: scikit-learn digits as typed shards and a tiny PyTorch model.

Demo code, not library: it shows the library at work (typed samples, shards,
checkpoints, run records, the model registry) for the curated notebooks 04–07,
the training panel and its dashboard. One function trains a model on a dataset
version (:func:`train_digits`); the notebooks, the training panel and the tests
all call it. It checkpoints every
epoch into the store, records the run in the catalog, streams ``start`` /
``batch`` / ``epoch`` / ``end`` events (the ``epoch`` event carries the new
checkpoint's version), honours a stop flag between batches, resumes from the
run's latest checkpoint when asked, and registers the best checkpoint as a
model version linked to the dataset version and the run. Running it again with
the same arguments and ``resume=True`` trains nothing and registers nothing new.

Samples whose ``idx`` is a multiple of 5 are the validation split; the rest train.

Example:
    >>> from altakit_widgets.demo_digits import train_digits, write_digits  # doctest: +SKIP
    >>> ds = write_digits(store=store)  # doctest: +SKIP
    >>> result = train_digits(ds, store=store, epochs=3, register="digits")  # doctest: +SKIP
    >>> result.status, round(result.metrics["val_accuracy"], 2)  # doctest: +SKIP
    ('finished', 0.95)
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np

from altakit.catalog import catalog_of
from altakit.catalog.records import Record, check_name
from altakit.datasets.samples import Array, sample
from altakit.errors import ConfigError, NotFound
from altakit.events import Event, EventStream, TqdmProgress
from altakit.store import Store, open_store
from altakit.train import ModelRegistry, RunRecorder
from altakit.train.registry import read_model

#: Validation split: samples whose ``idx`` is a multiple of this.
VAL_EVERY = 5
VARIANTS = ("clean", "shifted")


@sample(name="digit")
class Digit:
    """One 8×8 scikit-learn digit (pixel values 0–16), its label and its index."""

    image: Annotated[np.ndarray, Array("uint8", (8, 8))]
    label: int
    idx: int


# ------------------------------------------------------------------------ data
def digits_samples(variant: str = "clean", *, seed: int = 0) -> list[Any]:
    """The 1797 scikit-learn digits as :class:`Digit` samples.

    Args:
        variant: ``"clean"`` (as shipped) or ``"shifted"``: every image moved by one pixel
            in a random direction, brightened and speckled with noise (a drifted "new drop").
        seed: Seed of the ``shifted`` perturbation.

    Example:
        >>> digits_samples()[0].label
        0
    """
    from sklearn.datasets import load_digits

    if variant not in VARIANTS:
        raise ConfigError(f"unknown digits variant {variant!r}", hint=f"use one of {VARIANTS}")
    data = load_digits()
    images = data.images.astype(np.float64)
    if variant == "shifted":
        rng = np.random.default_rng(seed)
        moves = rng.integers(-1, 2, size=(len(images), 2))
        images = np.stack([np.roll(img, tuple(m), axis=(0, 1)) for img, m in zip(images, moves, strict=True)])
        images = images * 1.25 + rng.poisson(1.0, size=images.shape)
    images = np.clip(np.rint(images), 0, 16).astype(np.uint8)
    return [
        Digit(image=img, label=int(y), idx=i)  # type: ignore[call-arg]  # @sample made it a dataclass
        for i, (img, y) in enumerate(zip(images, data.target, strict=True))
    ]


def _fingerprint(samples: list[Any]) -> str:
    h = hashlib.sha256()
    for s in samples:
        h.update(s.image.tobytes())
        h.update(f"{s.label},{s.idx};".encode())
    return h.hexdigest()[:16]


def write_digits(
    name: str = "digits",
    *,
    variant: str = "clean",
    seed: int = 0,
    store: Store | str | None = None,
    maxcount: int = 500,
) -> Any:
    """Write the digits as a version of dataset ``name``, unless a version already holds them.

    The content fingerprint is kept in the manifest's description, so a second call
    (a notebook run again) returns the existing version instead of writing a copy.

    Returns:
        The dataset version (:class:`altakit.datasets.dataset.Dataset`).

    Example:
        >>> ds = write_digits(store=store)  # doctest: +SKIP
        >>> ds.version, len(ds)  # doctest: +SKIP
        (1, 1797)
    """
    from altakit.datasets.dataset import load_dataset
    from altakit.datasets.write import write_dataset

    store = open_store(store or None)
    samples = digits_samples(variant, seed=seed)
    description = f"scikit-learn digits, {variant} (seed {seed}), content {_fingerprint(samples)}"
    try:
        versions = catalog_of(store).versions("dataset", name)
    except NotFound:
        versions = []
    for rec in versions:
        if rec.doc.get("description") == description:
            return load_dataset(f"{name}@{rec.version}", store)
    return write_dataset(
        samples, name, store=store, maxcount=maxcount, description=description, progress=False
    )


def digit_features(dataset: Any) -> Any:
    """Per-image features for drift checks, as a polars DataFrame.

    Columns: ``ink`` (pixel sum), ``mean`` and ``std`` of the pixels, ``row_center`` and
    ``col_center`` (centre of mass), ``label``.

    Example:
        >>> from altakit.datasets.profile import drift  # doctest: +SKIP
        >>> drift(digit_features(v1), digit_features(v2))["ink"]["psi"]  # doctest: +SKIP
    """
    import polars as pl

    images, labels = [], []
    for batch in dataset.batches(512):
        images.append(np.asarray(batch["image"], dtype=np.float64))
        labels.append(np.asarray(batch["label"]))
    x, y = np.concatenate(images), np.concatenate(labels)
    ink = x.sum(axis=(1, 2))
    grid = np.arange(8, dtype=np.float64)
    safe = np.where(ink > 0, ink, 1.0)
    return pl.DataFrame(
        {
            "ink": ink,
            "mean": x.mean(axis=(1, 2)),
            "std": x.std(axis=(1, 2)),
            "row_center": (x.sum(axis=2) * grid).sum(axis=1) / safe,
            "col_center": (x.sum(axis=1) * grid).sum(axis=1) / safe,
            "label": y.astype(np.int64),
        }
    )


# ----------------------------------------------------------------------- model
def digits_net(hidden: int = 64) -> Any:
    """A small MLP for 8×8 digits: flatten → ``hidden`` → ReLU → 10 logits.

    Example:
        >>> digits_net(32)[1].out_features
        32
    """
    import torch

    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise ConfigError(f"hidden must be a whole number >= 1, not {hidden!r}")
    return torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
    )


def _inputs(batch: dict[str, Any]) -> tuple[Any, Any, Any]:
    import torch

    x = batch["image"].to(torch.float32) / 16.0
    y = batch["label"].to(torch.int64)
    val = batch["idx"] % VAL_EVERY == 0
    return x, y, val


def evaluate_digits(
    model: Any, dataset: Any, *, split: str = "val", batch_size: int = 512
) -> dict[str, float]:
    """Loss and accuracy of ``model`` on ``split`` (``"val"``, ``"train"`` or ``"all"``) of a dataset.

    Example:
        >>> evaluate_digits(model, ds)  # doctest: +SKIP
        {'loss': 0.12, 'accuracy': 0.97}
    """
    import torch

    if split not in ("val", "train", "all"):
        raise ConfigError(f"split must be 'val', 'train' or 'all', not {split!r}")
    model.eval()
    loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for batch in dataset.torch(batch_size, shuffle=False):
            x, y, val = _inputs(batch)
            keep = val if split == "val" else ~val if split == "train" else torch.ones_like(val)
            if not keep.any():
                continue
            logits = model(x[keep])
            loss += float(torch.nn.functional.cross_entropy(logits, y[keep], reduction="sum"))
            correct += int((logits.argmax(1) == y[keep]).sum())
            count += int(keep.sum())
    if not count:
        raise ConfigError(f"dataset {dataset.name!r} has no samples in split {split!r}")
    return {"loss": loss / count, "accuracy": correct / count}


# -------------------------------------------------------------------- training
@dataclass
class TrainResult:
    """What :func:`train_digits` did.

    Attributes:
        run: The run's name.
        status: ``finished``, ``interrupted`` (stopped) or ``failed``.
        epochs: Epochs completed (including resumed ones).
        metrics: Validation metrics after the last epoch (``val_loss``, ``val_accuracy``).
        model: The trained ``torch.nn.Module``.
        checkpoints: The run's kept checkpoints, oldest first.
        record: The registered model version, if ``register`` was given and the run finished.
        dataset: ``"name@version"`` of the training data.
    """

    run: str
    status: str
    epochs: int
    metrics: dict[str, float]
    model: Any
    checkpoints: list[Any] = field(default_factory=list)
    record: Record | None = None
    dataset: str = ""


def default_run(dataset: str, params: dict[str, Any]) -> str:
    """The run name derived from the data and the settings (stable, so re-runs resume)."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    return f"digits-torch/{dataset.replace('@', '-v')}-{digest}"


def find_model(registry: ModelRegistry, name: str, run: str, checkpoint: str | None = None) -> Record | None:
    """The version of model ``name`` registered from ``run`` (and that checkpoint), or None."""
    try:
        versions = registry.versions(name)
    except NotFound:
        return None
    for rec in reversed(versions):
        source = read_model(rec).source
        if source.get("run") == run and (checkpoint is None or source.get("checkpoint") == checkpoint):
            return rec
    return None


def train_digits(
    dataset: Any = "digits",
    *,
    store: Store | str | None = None,
    epochs: int = 5,
    lr: float = 0.01,
    batch_size: int = 64,
    hidden: int = 64,
    seed: int = 0,
    run: str | None = None,
    model: Any = None,
    register: str | None = None,
    parent: str | None = None,
    resume: bool = False,
    subscribers: Sequence[Callable[[Event], None]] = (),
    stop: threading.Event | None = None,
    progress: bool = False,
    threads: int | None = 1,
) -> TrainResult:
    """Train :func:`digits_net` (or ``model``) on a digits dataset version with Adam.

    Args:
        dataset: A dataset spec (``"digits"``, ``"digits@2"``) or a loaded Dataset.
        store: Store or URL (default: the project store; a Dataset brings its own).
        epochs: Epochs in all (a resumed run continues up to this many).
        lr: Adam learning rate.
        batch_size: Samples per batch.
        hidden: Hidden units of the default model.
        seed: Seed of the weights and the shuffle order.
        run: Run name (default: derived from dataset and settings, see :func:`default_run`).
        model: Start from this module (e.g. a registered champion) instead of a fresh one.
        register: Register the best checkpoint as a version of this model when finished.
        parent: Model version this one is fine-tuned from (linked when registering).
        resume: Continue from the run's latest checkpoint (nothing to do if it has all epochs).
        subscribers: Called with every event of the run, as it happens (a panel's plot, a logger);
            the run record (:class:`RunRecorder`) is always subscribed.
        stop: Set it (from any thread) to stop after the current batch; the run ends ``interrupted``.
        progress: Show a tqdm bar.
        threads: Torch intra-op threads while training (1 is fastest for this tiny model on a
            shared machine); restored afterwards. ``None`` leaves torch's setting alone.

    Raises:
        ConfigError: Bad settings (checked before anything is written).
        NotFound: No such dataset version.

    Example:
        >>> stop = threading.Event()  # doctest: +SKIP
        >>> train_digits("digits@1", epochs=2, stop=stop).status  # doctest: +SKIP
        'finished'
    """
    import torch

    from altakit.datasets.dataset import Dataset, load_dataset
    from altakit.train.torch import Checkpointer

    for label, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{label} must be a whole number >= {low}, not {value!r}")
    if not isinstance(lr, int | float) or not 0 < lr < 10:
        raise ConfigError(f"lr must be a number between 0 and 10, not {lr!r}", hint="try 0.01")
    if register is not None:
        check_name(register)
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset, open_store(store or None))
    store = ds.store
    spec = f"{ds.name}@{ds.version}"
    params = {"dataset": spec, "epochs": epochs, "lr": lr, "batch_size": batch_size, "hidden": hidden}
    params["seed"] = seed
    run = run or default_run(spec, {**params, "parent": parent})
    torch.manual_seed(seed)
    net = model if model is not None else digits_net(hidden)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    ckpt = Checkpointer(store, run, monitor="val_accuracy", mode="max", keep_last=3)
    stream = EventStream(run)
    attached = [stream.subscribe(RunRecorder(store, run)), *(stream.subscribe(fn) for fn in subscribers)]
    if progress:
        attached.append(stream.subscribe(TqdmProgress()))
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        first = 0
        if resume:
            resumed = ckpt.resume(model=net, optimizer=optimizer)
            first = int(resumed.epoch or 0) if resumed else 0
        steps_per_epoch = len(ds.torch(batch_size, seed=seed))
        step = first * steps_per_epoch
        where = {"epoch": first} if first else None
        stream.start(params, epochs=epochs, steps=epochs * steps_per_epoch, resumed=where)
        status, metrics, done = "finished", {}, first
        for epoch in range(first, epochs):
            net.train()
            for batch in ds.torch(batch_size, seed=seed, epoch=epoch):
                if stop is not None and stop.is_set():
                    status = "interrupted"
                    break
                x, y, val = _inputs(batch)
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(net(x[~val]), y[~val])
                loss.backward()
                optimizer.step()
                step += 1
                stream.batch(step, {"loss": loss.item()}, epoch=epoch)
            if status != "finished":
                break
            scores = evaluate_digits(net, ds)
            metrics = {"val_loss": scores["loss"], "val_accuracy": scores["accuracy"]}
            saved = ckpt.save(step=step, epoch=epoch + 1, model=net, optimizer=optimizer, metrics=metrics)
            data = {"checkpoint": saved.version if saved else None}
            stream.emit(Event("epoch", run, step=step, epoch=epoch, metrics=metrics, data=data))
            done = epoch + 1
        if not metrics and status == "finished":  # resumed at the end: score what was restored
            scores = evaluate_digits(net, ds)
            metrics = {"val_loss": scores["loss"], "val_accuracy": scores["accuracy"]}
        record = None
        if register and status == "finished":
            record = _register(ModelRegistry(store), register, ckpt.find("best"), metrics, spec, run, parent)
        stream.end(status, run=run, epochs_done=done, model=str(record.ref) if record else None)
    except BaseException as exc:
        stream.end("failed", run=run, error=str(exc)[:300])
        raise
    finally:
        torch.set_num_threads(old_threads)
        for unsubscribe in attached:
            unsubscribe()
    return TrainResult(run, status, done, metrics, net, ckpt.checkpoints(), record, spec)


def _register(
    registry: ModelRegistry,
    name: str,
    best: Any,
    metrics: dict[str, float],
    spec: str,
    run: str,
    parent: str | None,
) -> Record:
    existing = find_model(registry, name, run, best.version)
    if existing is not None:
        return existing
    del metrics  # the registered numbers are the best checkpoint's, not the last epoch's
    return registry.register(name, best, metrics=best.metrics, dataset=spec, run=run, parent=parent)
