"""altakit: versioned storage, typed datasets, ingestion and training helpers for Jupyter.

Importing altakit is light: torch, tensorflow, pyspark and ipywidgets load only
inside the code that needs them.

Example:
    >>> import altakit
    >>> store = altakit.open_store("./data")  # doctest: +SKIP
"""

from altakit.errors import AltakitError
from altakit.store import Store, Version, open_store

__version__ = "0.1.0"

__all__ = [
    "AltakitError",
    "FileDataset",
    "Store",
    "Version",
    "__version__",
    "ingest",
    "load_dataset",
    "open_store",
    "read_table",
    "sample",
    "write_dataset",
]

# Loaded on first use so `import altakit` stays light.
_LAZY = {
    "sample": "altakit.samples",
    "write_dataset": "altakit.shards",
    "load_dataset": "altakit.data.dataset",
    "FileDataset": "altakit.data.files",
    "ingest": "altakit.ingestion",
    "read_table": "altakit.ingestion",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'altakit' has no attribute {name!r}")
