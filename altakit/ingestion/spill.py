"""Spilling typed rows to disk in series buckets, for inputs larger than the memory budget.

Cleaning looks along whole series, so one series never spans two buckets. A
series seen for the first time goes to the bucket with the fewest rows so far
(few, large series then get a bucket each, where a hash would pile several into
one); past :data:`MAX_ASSIGNED` series, new ones go by a hash of the key (many
small series balance out). Each bucket is one Arrow IPC stream
(LZ4-compressed) that stays open while the input is read, so a block adds one
record batch per bucket instead of a file; a block whose columns differ from
the bucket's stream (a column appears later in the input) starts a second
stream for that bucket. :meth:`Spill.buckets` then hands back one bucket at a
time, rows in the order they were added, and deletes its files.

Example:
    >>> spill = Spill(["sensor"], buckets=4)  # doctest: +SKIP
    >>> spill.add(typed_block)  # doctest: +SKIP
    >>> for frame in spill.buckets():  # doctest: +SKIP
    ...     clean(frame)
    >>> spill.cleanup()  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

_BUCKET = "__bucket"
#: Series placed one by one on the least loaded bucket; later ones are placed by hash.
MAX_ASSIGNED = 100_000


class Spill:
    """Per-series-bucket Arrow IPC streams in a temporary folder.

    Args:
        by: The series key columns.
        buckets: Number of buckets (rows per bucket ≈ rows / buckets).
    """

    def __init__(self, by: Sequence[str], buckets: int) -> None:
        self.by, self.n = list(by), max(1, buckets)
        self.folder = tempfile.TemporaryDirectory(prefix="altakit-spill-")
        self._open: dict[int, tuple[Any, Any]] = {}  # bucket → (schema, writer)
        self._files: dict[int, list[Path]] = {}
        self._load = [0] * self.n  # rows per bucket
        self._placed: pl.DataFrame | None = None  # series key → bucket

    def add(self, frame: pl.DataFrame) -> None:
        """Append typed rows to their buckets."""

        if frame.height == 0:
            return
        frame = frame.with_columns(self._buckets(frame))
        for (k,), part in frame.partition_by(_BUCKET, as_dict=True).items():
            self._load[int(k)] += part.height
            self._writer(int(k), part.drop(_BUCKET).to_arrow())

    def _buckets(self, frame: pl.DataFrame) -> pl.Series:
        """Each row's bucket: placed series keep theirs, new ones go to the least loaded."""
        import polars as pl

        counts = frame.group_by(self.by).len()
        placed = (
            self._placed
            if self._placed is not None
            else counts.clear().select(*self.by, pl.lit(0, pl.Int64).alias(_BUCKET))
        )
        new = counts.join(placed, on=self.by, how="anti", nulls_equal=True)
        if new.height and placed.height + new.height <= MAX_ASSIGNED:
            load, chosen = list(self._load), []
            for n in new.get_column("len").to_list():
                chosen.append(min(range(self.n), key=load.__getitem__))
                load[chosen[-1]] += n
            new = new.select(self.by).with_columns(pl.Series(_BUCKET, chosen, dtype=pl.Int64))
            placed = pl.concat([placed, new], how="vertical_relaxed")
            self._placed = placed
        hashed = pl.struct(self.by).hash(seed=0) % self.n
        return (
            frame.select(self.by)
            .join(placed, on=self.by, how="left", nulls_equal=True, maintain_order="left")
            .select(pl.coalesce(pl.col(_BUCKET), hashed.cast(pl.Int64)).alias(_BUCKET))
            .to_series()
        )

    def _writer(self, k: int, table: Any) -> None:
        import pyarrow as pa

        schema, writer = self._open.get(k, (None, None))
        if schema is None or not table.schema.equals(schema):
            if writer is not None:
                writer.close()
            files = self._files.setdefault(k, [])
            files.append(Path(self.folder.name) / f"bucket-{k}-{len(files)}.arrow")
            options = pa.ipc.IpcWriteOptions(compression="lz4")
            writer = pa.ipc.new_stream(str(files[-1]), table.schema, options=options)
            self._open[k] = (table.schema, writer)
        writer.write_table(table)

    def buckets(self) -> Iterator[pl.DataFrame]:
        """Each non-empty bucket's rows in the order added; a bucket's files go once it is handed out."""
        import polars as pl

        for _, writer in self._open.values():
            writer.close()
        self._open.clear()
        for k in sorted(self._files):
            parts = [pl.read_ipc_stream(p) for p in self._files[k]]
            for p in self._files.pop(k):
                p.unlink()
            yield pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]

    def cleanup(self) -> None:
        """Close the streams and remove the folder."""
        for _, writer in self._open.values():
            writer.close()
        self._open.clear()
        self.folder.cleanup()
