"""Dataset fixtures: scikit-learn digits written as shards into a fresh store."""

from __future__ import annotations

import pytest
from datakit_types import digits

import altakit

#: 1797 digits in shards of 200: 9 shards, the last one short (197).
MAXCOUNT = 200


@pytest.fixture(scope="session")
def digit_samples():
    """All 1797 digits as Digit samples."""
    return digits()


@pytest.fixture
def digits_ds(local_store, digit_samples):
    """The digits dataset, version 1, in a fresh local store."""
    return altakit.write_dataset(
        digit_samples, "digits", store=local_store, maxcount=MAXCOUNT, progress=False
    )


@pytest.fixture(params=["local", "s3"])
def any_store(request):
    """A fresh local store, then a fresh store on the loopback moto S3 server."""
    return request.getfixturevalue("local_store" if request.param == "local" else "s3_store")
