"""Ingestion: clean, schema-reviewed, versioned tables (local polars engine; Spark to scale out).

``altakit.ingest(source, dataset, spec=…, store=…)`` runs an :class:`IngestJob`;
``altakit.read_table("name[@version]")`` reads a dataset version back. (The
package is ``ingestion``, not ``ingest``, so that importing it never rebinds the
``altakit.ingest`` function.)

Example:
    >>> import altakit
    >>> report = altakit.ingest("day1.csv", "sensors", {"time": "ts"}, store=store)  # doctest: +SKIP
    >>> altakit.read_table("sensors@1", store=store)  # doctest: +SKIP
"""

from __future__ import annotations

from altakit.datasets.tables import read_table
from altakit.ingestion.job import IngestJob, IngestReport, IngestSpec, ingest
from altakit.ingestion.profile import drift_tables, profile_table
from altakit.ingestion.review import SchemaRegistry

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
