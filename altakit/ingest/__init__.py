"""Ingestion: clean, schema-reviewed, versioned tables (local polars engine; Spark to scale out).

``altakit.ingest(source, dataset, spec=…, store=…)`` runs an :class:`IngestJob`;
``altakit.read_table("name[@version]")`` reads a dataset version back. This
package module is itself callable (``altakit.ingest(...)`` works whether the
name resolves to the function or to this module), because importing the
submodule makes Python bind ``altakit.ingest`` to the module.

Example:
    >>> import altakit
    >>> report = altakit.ingest("day1.csv", "sensors", {"time": "ts"}, store=store)  # doctest: +SKIP
    >>> altakit.read_table("sensors@1", store=store)  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types
from typing import Any

from altakit.ingest.job import IngestJob, IngestReport, IngestSpec, ingest
from altakit.ingest.profile import drift_tables, profile_table
from altakit.ingest.review import SchemaRegistry
from altakit.ingest.tables import read_table

__all__ = [
    "IngestJob",
    "IngestReport",
    "IngestSpec",
    "SchemaRegistry",
    "drift_tables",
    "ingest",
    "profile_table",
    "read_table",
]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> IngestReport:
        return ingest(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
