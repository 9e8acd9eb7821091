"""Where things live: the default store and catalog index.

The embedded default is a local store in the project folder (``./data/store``)
with a SQLite index beside it (``./data/catalog.sqlite``). Environment
variables override both, so a hub can point every notebook at S3 and a shared
PostgreSQL index without touching code or notebooks.

Example:
    >>> import os
    >>> os.environ["ALTAKIT_STORE"] = "s3://team-bucket/altakit"
    >>> default_store_url()
    's3://team-bucket/altakit'
"""

from __future__ import annotations

import os
from pathlib import Path

STORE_ENV = "ALTAKIT_STORE"
INDEX_ENV = "ALTAKIT_INDEX"
HOME_ENV = "ALTAKIT_HOME"


def project_home() -> Path:
    """The project's data folder: ``$ALTAKIT_HOME`` or ``./data``."""
    return Path(os.environ.get(HOME_ENV) or Path.cwd() / "data").expanduser()


def default_store_url() -> str:
    """``$ALTAKIT_STORE`` or the local store ``<home>/store``."""
    return os.environ.get(STORE_ENV) or str(project_home() / "store")


def default_index_url() -> str:
    """``$ALTAKIT_INDEX`` (an SQLAlchemy URL) or SQLite at ``<home>/catalog.sqlite``."""
    return os.environ.get(INDEX_ENV) or f"sqlite:///{project_home() / 'catalog.sqlite'}"
