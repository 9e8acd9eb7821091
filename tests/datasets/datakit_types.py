"""Sample types and lens functions for the dataset tests (importable by workers and subprocesses)."""

from __future__ import annotations

from typing import Annotated

import numpy as np

import altakit
from altakit.datasets.samples import Array


@altakit.sample(name="digit")
class Digit:
    """One scikit-learn digit."""

    image: Annotated[np.ndarray, Array("uint8", (8, 8))]
    label: int
    idx: int


@altakit.sample(name="label-only")
class LabelOnly:
    """A view of a Digit."""

    label: int
    even: bool


def digit_to_label(d: Digit) -> LabelOnly:
    """The lens Digit → LabelOnly."""
    return LabelOnly(label=d.label, even=d.label % 2 == 0)


def is_even(d: Digit) -> bool:
    """A filter."""
    return d.label % 2 == 0


def from_300(d: Digit) -> bool:
    """A filter that drops the first 300 digits."""
    return d.idx >= 300


def invert(d: Digit) -> Digit:
    """A map."""
    return Digit(image=(255 - d.image).astype(np.uint8), label=d.label, idx=d.idx)


def digits(n: int | None = None) -> list[Digit]:
    """scikit-learn's digits (bundled with the package, no download) as samples."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images * 16).clip(0, 255).astype(np.uint8)
    count = len(images) if n is None else n
    return [Digit(images[i], int(data.target[i]), i) for i in range(count)]
