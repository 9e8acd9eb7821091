"""The digits demo's data: scikit-learn's 8×8 digits as typed samples, and features for drift.

Demo code beside the curated notebooks (04–07), not library: the notebooks import
it from their own folder (a kernel started in ``notebooks/`` finds it). The model,
the training loop, checkpoints and registration are in the notebooks themselves,
where a user copies them and swaps in their own data and model.

Samples whose ``idx`` is a multiple of :data:`VAL_EVERY` are the validation split.

Example:
    >>> from digits_demo import write_digits  # doctest: +SKIP
    >>> ds = write_digits(store=store)  # doctest: +SKIP
    >>> ds.version, len(ds)  # doctest: +SKIP
    (1, 1797)
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import numpy as np

from altakit.catalog import catalog_of
from altakit.datasets.samples import Array, sample
from altakit.errors import ConfigError, NotFound
from altakit.store import Store, open_store

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
