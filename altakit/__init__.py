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

__all__ = ["AltakitError", "Store", "Version", "__version__", "open_store"]
