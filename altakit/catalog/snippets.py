"""Code snippets that load exactly one catalog record's version or one store version, with their imports.

What "insert a snippet" in the JupyterLab sidebar puts in a notebook cell. The
text is built here, from the library's own loaders, so the frontend never
builds code: a table version reads with ``read_table``, a typed-sample dataset
with ``load_dataset``, a model with ``ModelRegistry.load_model`` (by version or
alias), a run's record with the catalog, a store version with ``store.get``.
The store a snippet opens is the notebook's default store (``$ALTAKIT_STORE``),
the one the server extension serves.

Example:
    >>> print(record_snippet("table", "sensors", 4))
    from altakit import read_table
    <BLANKLINE>
    df = read_table("sensors@4")
    >>> print(record_snippet("model", "digits", 3, alias="champion").splitlines()[-1])
    model = ModelRegistry(altakit.open_store()).load_model("digits@champion")
"""

from __future__ import annotations

import json

from altakit.catalog.records import Ref
from altakit.store.names import validate_id, validate_key


def record_snippet(kind: str, name: str, version: int, *, alias: str | None = None) -> str:
    """Python code that loads version ``version`` of record ``kind:name`` (``alias`` for a model).

    Raises:
        ConfigError: A malformed kind, name or version.
    """
    ref = Ref(kind, name, version)
    spec = _q(f"{ref.name}@{alias or ref.version}")
    if kind == "table":
        return f"from altakit import read_table\n\ndf = read_table({spec})"
    if kind == "dataset":
        return f"from altakit import load_dataset\n\nds = load_dataset({spec})"
    if kind == "model":
        return (
            "import altakit\nfrom altakit.train.registry import ModelRegistry\n\n"
            f"model = ModelRegistry(altakit.open_store()).load_model({spec})"
        )
    return f"import altakit\n\nrecord = altakit.catalog_of(altakit.open_store()).resolve({_q(str(ref))})"


def store_snippet(key: str, version: str) -> str:
    """Python code that reads version ``version`` of store key ``key``.

    Example:
        >>> print(store_snippet("raw/a.csv", "20261122T041500123456789Z_0a1b2c3d").splitlines()[-1])
        data = store.get("raw/a.csv", version="20261122T041500123456789Z_0a1b2c3d")
    """
    validate_key(key)
    validate_id(version)
    return (
        f"import altakit\n\nstore = altakit.open_store()\ndata = store.get({_q(key)}, version={_q(version)})"
    )


def _q(text: str) -> str:
    """``text`` as a Python string literal in double quotes."""
    return json.dumps(text, ensure_ascii=False)
