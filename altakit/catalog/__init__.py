"""The catalog: datasets, schemas, models and runs as versioned records with lineage.

Records live in the store (so a bucket describes itself); a SQL index (SQLite by
default, PostgreSQL for a shared hub) answers list, search and lineage and can
be rebuilt from the store at any time. SQLAlchemy loads only when a catalog is made.

Example:
    >>> import tempfile, altakit
    >>> cat = catalog_of(altakit.open_store(tempfile.mkdtemp()))
    >>> cat.register("dataset", "sensors", {"rows": 3}).ref
    Ref(kind='dataset', name='sensors', version=1)
"""

from altakit.catalog.catalog import Catalog, catalog_of, default_index_url
from altakit.catalog.records import Record, Ref

__all__ = ["Catalog", "Record", "Ref", "catalog_of", "default_index_url"]
