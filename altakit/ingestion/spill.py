"""Spilling typed rows to disk in series buckets, for inputs larger than the memory budget.

Cleaning looks along whole series, so one series never spans two buckets. A
series seen for the first time goes to the bucket with the fewest rows so far
(few, large series then get a bucket each, where a hash would pile several into
one); past :data:`MAX_ASSIGNED` series, new ones go by a hash of the key (many
small series balance out). A block with few series (at most :data:`FEW`) is
split by series once and each piece goes to its series' bucket; a block with
many is assigned row by row with a join. Each bucket is one Arrow IPC stream
(LZ4-compressed) that stays open while the input is read, so a block adds
record batches to a bucket, not files; a block whose columns differ from the
bucket's stream (a column appears later in the input) starts a second stream
for that bucket. :meth:`Spill.buckets` then hands back one :class:`Bucket` at a
time, rows in the order they were added with the series of each piece (so a
bucket of single-series pieces is put in series order without a sort), and
deletes its files.

Example:
    >>> spill = Spill(["sensor"], buckets=4)  # doctest: +SKIP
    >>> spill.add(typed_block)  # doctest: +SKIP
    >>> for bucket in spill.buckets():  # doctest: +SKIP
    ...     clean(bucket.frame)
    >>> spill.cleanup()  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

_BUCKET = "__bucket"
#: Series placed one by one on the least loaded bucket; later ones are placed by hash.
MAX_ASSIGNED = 100_000
#: A block with at most this many series is split by series; with more, rows are assigned by a join.
FEW = 1024


@dataclass
class Bucket:
    """One bucket's rows and what they were added as.

    Attributes:
        frame: The rows, in the order added.
        pieces: ``(series key, rows)`` of each added piece, in order; the key is ``None`` for a
            piece that mixes series (from a block with many).
    """

    frame: pl.DataFrame
    pieces: list[tuple[tuple[Any, ...] | None, int]]

    def series(self) -> Iterator[tuple[tuple[Any, ...], pl.DataFrame]] | None:
        """``(key, rows)`` of each piece, as slices of :attr:`frame`; ``None`` if a piece mixes series."""
        pieces = [(key, n) for key, n in self.pieces if key is not None]
        if len(pieces) != len(self.pieces):
            return None
        starts = [0]
        for _, n in pieces:
            starts.append(starts[-1] + n)
        return ((key, self.frame.slice(a, n)) for (key, n), a in zip(pieces, starts, strict=False))


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
        self._pieces: dict[int, list[tuple[tuple[Any, ...] | None, int]]] = {}  # bucket → what was added
        self._load = [0] * self.n  # rows per bucket
        self._where: dict[tuple[Any, ...], int] = {}  # series key → bucket, for placed series
        self._many = False  # blocks hold many series: assign rows by a join
        self._frame: pl.DataFrame | None = None  # _where as a frame, for the join

    def add(self, frame: pl.DataFrame) -> None:
        """Append typed rows to their buckets."""
        if frame.height == 0:
            return
        if not self._many:
            pieces = frame.partition_by(self.by, as_dict=True, maintain_order=True)
            if len(pieces) <= FEW:
                buckets = self._place(list(pieces), [p.height for p in pieces.values()], frame)
                for k, (key, piece) in zip(buckets, pieces.items(), strict=True):
                    self._load[k] += piece.height
                    self._writer(k, piece.to_arrow(), key)
                return
            self._many = True  # this and later blocks: one join instead of many pieces
        frame = frame.with_columns(self._buckets(frame))
        for (k,), part in frame.partition_by(_BUCKET, as_dict=True).items():
            self._load[int(k)] += part.height
            self._writer(int(k), part.drop(_BUCKET).to_arrow(), None)

    def _place(self, keys: list[tuple[Any, ...]], sizes: list[int], frame: pl.DataFrame) -> list[int]:
        """The buckets of these series keys: placed ones keep theirs, new ones go to the least loaded."""
        import polars as pl

        new = [(key, n) for key, n in zip(keys, sizes, strict=True) if key not in self._where]
        if len(self._where) + len(new) <= MAX_ASSIGNED:
            load = list(self._load)
            for key, n in new:
                self._where[key] = min(range(self.n), key=load.__getitem__)
                load[self._where[key]] += n
            return [self._where[key] for key in keys]
        # past MAX_ASSIGNED, new series go by hash, as in _buckets
        schema = {c: frame.schema[c] for c in self.by}
        table = pl.DataFrame([list(col) for col in zip(*keys, strict=True)], schema=schema, orient="col")
        hashed = table.select(pl.struct(self.by).hash(seed=0) % self.n).to_series().to_list()
        return [self._where.get(key, int(h)) for key, h in zip(keys, hashed, strict=True)]

    def _buckets(self, frame: pl.DataFrame) -> pl.Series:
        """Each row's bucket (see :meth:`_place`), by joining the rows' keys to the placed series."""
        import polars as pl

        counts = frame.group_by(self.by).len()
        new = counts.join(self._placed(frame), on=self.by, how="anti", nulls_equal=True)
        if new.height:
            self._place(new.select(self.by).rows(), new.get_column("len").to_list(), frame)
        hashed = pl.struct(self.by).hash(seed=0) % self.n
        return (
            frame.select(self.by)
            .join(self._placed(frame), on=self.by, how="left", nulls_equal=True, maintain_order="left")
            .select(pl.coalesce(pl.col(_BUCKET), hashed.cast(pl.Int64)).alias(_BUCKET))
            .to_series()
        )

    def _placed(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The placed series as a frame (keys, bucket), made again only after new ones were placed."""
        import polars as pl

        if self._frame is None or self._frame.height != len(self._where):
            keys = [list(col) for col in zip(*self._where, strict=True)] or [[] for _ in self.by]
            schema: dict[str, Any] = {**{c: frame.schema[c] for c in self.by}, _BUCKET: pl.Int64}
            self._frame = pl.DataFrame([*keys, list(self._where.values())], schema=schema, orient="col")
        return self._frame

    def _writer(self, k: int, table: Any, key: tuple[Any, ...] | None) -> None:
        """Append ``table`` to bucket ``k``: one series' rows (``key``) or a mix of series (``None``)."""
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
        self._pieces.setdefault(k, []).append((key, table.num_rows))

    def buckets(self) -> Iterator[Bucket]:
        """Each non-empty bucket, rows in the order added; a bucket's files go once it is handed out."""
        import polars as pl

        for _, writer in self._open.values():
            writer.close()
        self._open.clear()
        for k in sorted(self._files):
            parts = [pl.read_ipc_stream(p) for p in self._files[k]]
            for p in self._files.pop(k):
                p.unlink()
            frame = pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]
            yield Bucket(frame, self._pieces.pop(k))

    def cleanup(self) -> None:
        """Close the streams and remove the folder."""
        for _, writer in self._open.values():
            writer.close()
        self._open.clear()
        self.folder.cleanup()
