"""Estimates: rows, bytes and seconds of an ingest, from a sample of its input, before it starts.

Example:
    >>> estimate([], IngestSpec())
    {'files': 0, 'bytes': 0, 'rows': 0, 'seconds': 0.0}
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from altakit.ingestion.engine import ENGINES
from altakit.ingestion.schema import plan
from altakit.ingestion.sources import SourceFile
from altakit.ingestion.spec import IngestSpec

if TYPE_CHECKING:
    from altakit.ingestion.engine import EngineRegistry


#: A job's wall time over the timed sample run's, scaled to the input's bytes: a job also pays for
#: fresh memory block after block, spills past its budget and writes. Measured with
#: ``bench/bench_ingest.py`` on a 2-core machine: 0.88 (10 M rows in memory, and 5 GB spilled).
JOB_OVER_SAMPLE = 0.9


def estimate(
    files: Sequence[SourceFile],
    spec: IngestSpec,
    *,
    sample_bytes: int = 16 * 1024 * 1024,
    engines: EngineRegistry | None = None,
) -> dict[str, Any]:
    """Rows, bytes and expected seconds for ``files``, from a sample of the first one.

    The sample (one read block) is processed by the local engine (from ``engines``, default
    :data:`~altakit.ingestion.engine.ENGINES`) as the job would process it (read, typed, put in
    series order, cleaned), twice: the first run warms up, the second is timed. Rows scale with
    bytes; time with bytes, times :data:`JOB_OVER_SAMPLE`.

    Example:
        >>> estimate(files, IngestSpec())  # doctest: +SKIP
        {'files': 1, 'bytes': 354392033, 'rows': 10000122, 'seconds': 3.9, ...}
    """
    total = sum(f.path.stat().st_size for f in files)
    if not files:
        return {"files": 0, "bytes": 0, "rows": 0, "seconds": 0.0}
    process = (ENGINES if engines is None else engines).get("local").process
    first = files[0]
    with open(first.path, "rb") as f:
        head = f.read(sample_bytes)
    cut = head.rfind(b"\n") + 1 if len(head) == sample_bytes else len(head)
    sample_path = first.path.with_name(first.path.name + ".sample")
    sample_path.write_bytes(head[:cut] or head)
    sample = [SourceFile(first.name, sample_path, "", cut)]

    def decide(observed: Any) -> Any:
        return plan(None, observed, "add_new_columns")

    try:
        warm = process(
            sample, spec, decide, None
        )  # its rows stay held while the timed run goes, as a job's do
        started = time.perf_counter()
        timed = process(sample, spec, decide, None)
        seconds = time.perf_counter() - started
        warm.close()
        timed.close()
    finally:
        sample_path.unlink(missing_ok=True)
    scale = total / max(cut, 1)
    return {
        "files": len(files),
        "bytes": total,
        "rows": int(timed.rows_in * scale),
        "seconds": round(seconds * scale * JOB_OVER_SAMPLE, 1),
        "sample_bytes": cut,
        "sample_rows": timed.rows_in,
    }
