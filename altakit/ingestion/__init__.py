"""Ingestion: raw files in, clean, schema-reviewed dataset table versions out.

``altakit.ingest(source, dataset, spec=…, store=…)`` runs an :class:`IngestJob`;
``altakit.read_table("name[@version]")`` reads a dataset version back (Delta
tables, profiles and drift live in :mod:`altakit.datasets`; they are
re-exported here). (The package is ``ingestion``, not ``ingest``, so that
importing it never rebinds the ``altakit.ingest`` function.)

The rooms, in the order data passes them:

- :mod:`.spec` — :class:`IngestSpec`, the job as plain data;
- :mod:`.job` — :class:`IngestJob`: claims, the schema decision, the Delta commit;
- :mod:`.sources` — paths, uploads, store keys and archives → local files with checksums;
- :mod:`.readers` — one module per format (CSV, JSON/NDJSON, Parquet, Excel);
- :mod:`.schema`, :mod:`.datetimes`, :mod:`.fastcast` — inference and typing;
- :mod:`.clean`, :mod:`.order`, :mod:`.spill` — cleaning steps along series;
- :mod:`.quarantine` — rejected rows with why and where;
- :mod:`.quarantine_log` and :mod:`.replay` — the open quarantine (``altakit.quarantine``), fixing and
  replaying rows into a new version, discarding them with a reason;
- :mod:`.review` — approved schemas and pending changes (catalog kinds ``schema``, ``schema_change``);
- :mod:`.engine` and :mod:`.engines` — the engine contract, its registry, the local and Spark engines;
- :mod:`.estimate` — rows, bytes and seconds before a job runs;
- :mod:`.preview` — the first rows of a source, typed, for people to check.

Example:
    >>> import altakit
    >>> report = altakit.ingest("day1.csv", "sensors", {"time": "ts"}, store=store)  # doctest: +SKIP
    >>> altakit.read_table("sensors@1", store=store)  # doctest: +SKIP
"""

from __future__ import annotations

from altakit.datasets.profile import drift_tables, profile_table
from altakit.datasets.tables import read_table
from altakit.ingestion.job import IngestJob, IngestReport, ingest
from altakit.ingestion.replay import ReplayReport, discard, replay
from altakit.ingestion.review import SchemaRegistry
from altakit.ingestion.spec import IngestSpec

__all__ = [
    "IngestJob",
    "IngestReport",
    "IngestSpec",
    "ReplayReport",
    "SchemaRegistry",
    "discard",
    "drift_tables",
    "ingest",
    "profile_table",
    "read_table",
    "replay",
]
# The listing is altakit.quarantine (altakit.ingestion.quarantine_log.quarantine): the name
# ``quarantine`` here is the submodule's.
