"""altakit: versioned storage, typed datasets, ingestion and training helpers for Jupyter.

Importing altakit is light: torch, tensorflow, pyspark and ipywidgets load only
inside the code that needs them. The names below load their module on first use
(``dir(altakit)`` lists them; type checkers see them through the
``TYPE_CHECKING`` block).

Example:
    >>> import altakit
    >>> store = altakit.open_store("./data")  # doctest: +SKIP
    >>> "write_dataset" in dir(altakit)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from altakit.errors import AltakitError
from altakit.store import Store, Version, open_store

if TYPE_CHECKING:
    from altakit.catalog import catalog_of
    from altakit.datasets.dataset import load_dataset
    from altakit.datasets.files import FileDataset
    from altakit.datasets.imports import import_dataset
    from altakit.datasets.samples import sample
    from altakit.datasets.spark_write import write_dataset_from_spark
    from altakit.datasets.tables import read_table
    from altakit.datasets.write import write_dataset
    from altakit.ingestion import ingest
    from altakit.ingestion.quarantine_log import quarantine

__version__ = "0.1.0"

__all__ = [
    "AltakitError",
    "FileDataset",
    "Store",
    "Version",
    "__version__",
    "catalog_of",
    "import_dataset",
    "ingest",
    "load_dataset",
    "open_store",
    "quarantine",
    "read_table",
    "sample",
    "write_dataset",
    "write_dataset_from_spark",
]

# Loaded on first use so `import altakit` stays light.
_LAZY = {
    "catalog_of": "altakit.catalog",
    "sample": "altakit.datasets.samples",
    "write_dataset": "altakit.datasets.write",
    "write_dataset_from_spark": "altakit.datasets.spark_write",
    "import_dataset": "altakit.datasets.imports",
    "load_dataset": "altakit.datasets.dataset",
    "FileDataset": "altakit.datasets.files",
    "ingest": "altakit.ingestion",
    "read_table": "altakit.datasets.tables",
    "quarantine": "altakit.ingestion.quarantine_log",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'altakit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
