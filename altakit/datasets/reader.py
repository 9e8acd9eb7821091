"""Read planned batches: fetch whole shards (prefetched on a thread), decode a batch at once.

A batch is decoded columnar: the msgpack maps of its samples are unpacked and
each array field is gathered into one stacked array from one buffer, so the
per-sample Python work is one ``msgpack.unpackb`` and a few comparisons. With
``on_error="skip"`` a bad sample (or the unreadable rest of a shard) is left
out and counted in :attr:`Batch.skipped`; otherwise a :class:`DataError`
names the dataset, shard and sample key.

Example:
    >>> reader = BatchReader(source, plan)  # doctest: +SKIP
    >>> for batch in reader.read(range(plan.num_batches)):  # doctest: +SKIP
    ...     batch["image"].shape
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

from altakit.datasets.codec import column_error_index, decode_columns, decode_field, unpack_views
from altakit.datasets.columns import shard_columns
from altakit.datasets.fetch import ShardFetcher
from altakit.datasets.plan import EpochPlan
from altakit.datasets.samples import SampleSchema
from altakit.datasets.shards import Shard
from altakit.errors import ConfigError, DataError

ON_ERROR = ("raise", "skip")
KEY = "__key__"
#: Average sample size (bytes) above which array bytes are read as views into the shard.
LARGE = 32 * 1024


class Batch(dict):
    """Columns of one batch (``{field: array or list}``), plus ``index`` and ``skipped``."""

    index: int = -1
    skipped: int = 0

    @property
    def size(self) -> int:
        """Rows in the batch."""
        for value in self.values():
            return len(value)
        return 0


@dataclass
class Source:
    """Everything a worker needs to read a dataset version (picklable).

    Attributes:
        store: The store holding the shards.
        name: Dataset name (for error messages).
        shards: Manifest shard entries.
        schema: Sample schema.
        cache_dir: Local shard cache, ``None`` for none.
        cache_bytes: Cache bound.
        prefetch: Shards fetched ahead on a background thread.
        on_error: ``"raise"`` or ``"skip"``.
        verify: Check shards against their checksums (once per unchanged version; see ``fetch``).
        threads: Fetch threads (2: two shards read and verified at once; DataLoader workers use 1,
            the workers themselves run in parallel).
    """

    store: Any
    name: str
    shards: list[dict[str, Any]]
    schema: SampleSchema
    cache_dir: Any = None
    cache_bytes: int = 4 * 1024**3
    prefetch: int = 2
    on_error: str = "raise"
    verify: bool = True
    threads: int = 2
    _fetcher: ShardFetcher | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.on_error not in ON_ERROR:
            raise ConfigError(f"on_error must be one of {ON_ERROR}, got {self.on_error!r}")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fetcher"] = None
        return state

    @property
    def fetcher(self) -> ShardFetcher:
        """The (per process) shard fetcher."""
        if self._fetcher is None:
            self._fetcher = ShardFetcher(self.store, self.cache_dir, self.cache_bytes, self.verify)
        return self._fetcher

    def fetch(self, s: int) -> Shard | DataError:
        """Shard ``s``, or (with ``on_error="skip"``) the error that made it unreadable."""
        try:
            return self.fetcher.fetch(self.name, self.shards[s])
        except DataError as exc:
            if self.on_error == "raise":
                raise
            return exc


def _fetch_columnar(source: Source, s: int) -> Shard | DataError:
    """Shard ``s`` with its whole-shard columnar decode attached when the shard allows one."""
    shard = source.fetch(s)
    if isinstance(shard, Shard):
        shard.columns = shard_columns(source.schema, shard)
    return shard


def _shard_stream(source: Source, need: list[int], columnar: bool = False) -> Iterator[Shard | DataError]:
    """Shards in order of ``need``, fetched (and decoded columnar) ``prefetch`` ahead on a thread."""
    fetch = functools.partial(_fetch_columnar if columnar else Source.fetch, source)
    source.fetcher  # noqa: B018  (made here, once, before the fetch threads share it)
    if source.prefetch < 1:
        for s in need:
            yield fetch(s)
        return
    # reading and hashing release the GIL: with two threads two shards verify at once
    threads = max(1, min(source.threads, source.prefetch))
    with cf.ThreadPoolExecutor(threads, thread_name_prefix="altakit-prefetch") as pool:
        pending = [pool.submit(fetch, s) for s in need[: source.prefetch + 1]]
        for i in range(len(need)):
            result = pending.pop(0).result()
            if i + source.prefetch + 1 < len(need):
                pending.append(pool.submit(fetch, need[i + source.prefetch + 1]))
            yield result


class BatchReader:
    """Decode the batches of an :class:`EpochPlan` from a :class:`Source`.

    Args:
        source: The dataset version.
        plan: The epoch plan.
        sample_fn: ``None`` for columnar batches; else a function from one batch's list of
            ``(key, values)`` to a list of processed samples (map / filter stages), collated after.
        keys: Add a ``"__key__"`` column.
    """

    def __init__(
        self,
        source: Source,
        plan: EpochPlan,
        sample_fn: Callable[[list[tuple[str, dict[str, Any]]]], list[Any]] | None = None,
        keys: bool = False,
    ) -> None:
        self.source, self.plan, self.sample_fn, self.keys = source, plan, sample_fn, keys
        #: Makes the columnar batch arrays, ``empty(shape, dtype)`` (DataLoader workers: shared memory).
        self.empty: Callable[[tuple[int, ...], Any], np.ndarray] = np.empty

    def read(self, batches: Iterable[int]) -> Iterator[Batch]:
        """Yield the given local batches, in order, each exactly once."""
        js = list(batches)
        return self._read(js, [self.plan.batch(j) for j in js])

    def read_pieces(self, pieces: Iterable[tuple[int, int, int]]) -> Iterator[Batch]:
        """Yield pieces ``(j, lo, hi)`` (samples ``lo:hi`` of local batch ``j``; see ``EpochPlan.pieces``)."""
        js, parts = [], []
        for j, lo, hi in pieces:
            shard_ids, sample_ids = self.plan.batch(j)
            js.append(j)
            parts.append((shard_ids[lo:hi], sample_ids[lo:hi]))
        return self._read(js, parts)

    def _read(self, js: list[int], parts: list[tuple[np.ndarray, np.ndarray]]) -> Iterator[Batch]:
        need: list[int] = []
        last_use: dict[int, int] = {}
        for n, (shard_ids, _) in enumerate(parts):
            for s in dict.fromkeys(shard_ids.tolist()):
                if s not in last_use:
                    need.append(s)
                last_use[s] = n
        stream = _shard_stream(self.source, need, columnar=self.sample_fn is None)
        held: dict[int, Shard | DataError] = {}
        fetched = 0
        for n, (j, (shard_ids, sample_ids)) in enumerate(zip(js, parts, strict=True)):
            for s in dict.fromkeys(shard_ids.tolist()):
                while s not in held:
                    held[need[fetched]] = next(stream)
                    fetched += 1
            batch = self._decode(shard_ids, sample_ids, held)
            batch.index = j
            for s in [s for s in held if last_use[s] <= n]:
                del held[s]
            yield batch

    def _decode(self, shard_ids: np.ndarray, sample_ids: np.ndarray, held: dict[int, Any]) -> Batch:
        if self.sample_fn is None:
            fast = self._columnar(shard_ids, sample_ids, held)
            if fast is not None:
                return fast
            fast = self._fast(shard_ids.tolist(), sample_ids.tolist(), held)
            if fast is not None:
                return fast
        return self._careful(shard_ids, sample_ids, held)

    def _columnar(self, shard_ids: np.ndarray, sample_ids: np.ndarray, held: dict[int, Any]) -> Batch | None:
        """Every shard of the batch decoded columnar: one gather per field and shard, into :attr:`empty`."""
        ids = np.unique(shard_ids)
        found = [getattr(held[s], "columns", None) for s in ids.tolist()]
        cols = [c for c in found if c is not None]
        if len(cols) < len(found):
            return None
        if any(c.specs != cols[0].specs for c in cols):
            return None  # arrays of different dtypes or shapes: the per-sample path decides
        n = len(sample_ids)
        where: list[np.ndarray | None] = [None]
        if len(cols) > 1:
            where = [np.flatnonzero(shard_ids == s) for s in ids]
        batch = Batch()
        for f in self.source.schema.fields:
            out = cols[0].column(f.name, n, self.empty)
            for c, w in zip(cols, where, strict=True):
                c.take_into(f.name, sample_ids if w is None else sample_ids[w], out, w)
            batch[f.name] = out
        if self.keys:
            keys = {s: held[s].keys for s in ids.tolist()}
            batch[KEY] = [keys[s][i] for s, i in zip(shard_ids.tolist(), sample_ids.tolist(), strict=True)]
        return batch

    def _fast(self, sl: list[int], il: list[int], held: dict[int, Any]) -> Batch | None:
        """All samples good: one comprehension per step, no per-sample checks beyond the columns."""
        shards = {s: held[s] for s in dict.fromkeys(sl)}
        if any(isinstance(sh, DataError) for sh in shards.values()):
            return None
        views = {s: memoryview(sh.data) for s, sh in shards.items()}
        starts = {s: sh.spans()[0] for s, sh in shards.items()}
        sizes = {s: sh.spans()[1] for s, sh in shards.items()}
        try:
            large = sum(len(sh.data) for sh in shards.values()) > LARGE * sum(
                sh.count for sh in shards.values()
            )
            if any(sh.members for sh in shards.values()):  # arrays in .npy members
                docs = [shards[s].doc(i, large) for s, i in zip(sl, il)]  # noqa: B905
            elif large:
                # large samples: keep array bytes as views into the shard (one copy less)
                docs = [unpack_views(shards[s].data, starts[s][i], sizes[s][i]) for s, i in zip(sl, il)]  # noqa: B905
            else:
                unpackb = msgpack.unpackb
                docs = [unpackb(views[s][starts[s][i] : starts[s][i] + sizes[s][i]]) for s, i in zip(sl, il)]  # noqa: B905
            if not all(type(d) is dict for d in docs):
                return None
            batch = Batch(decode_columns(self.source.schema, docs))
        except Exception:  # any problem: redo carefully, naming the bad sample
            return None
        if self.keys:
            keys = {s: sh.keys for s, sh in shards.items()}
            batch[KEY] = [keys[s][i] for s, i in zip(sl, il)]  # noqa: B905
        return batch

    def _careful(self, shard_ids: np.ndarray, sample_ids: np.ndarray, held: dict[int, Any]) -> Batch:
        skipped = 0
        keys: list[str] = []
        docs: list[dict[str, Any]] = []
        where: list[tuple[int, int]] = []
        for s, i in zip(shard_ids.tolist(), sample_ids.tolist(), strict=True):
            shard = held[s]
            if isinstance(shard, DataError) or i >= shard.count:
                skipped += 1
                continue
            try:
                doc = shard.doc(i)
            except DataError as exc:
                self._fail(exc, s, shard.keys[i])
                skipped += 1
                continue
            docs.append(doc)
            keys.append(shard.keys[i])
            where.append((s, i))
        if self.sample_fn is not None:
            batch, extra = self._per_sample(keys, docs, where)
            skipped += extra
        else:
            while True:
                try:
                    batch = Batch(decode_columns(self.source.schema, docs))
                    break
                except DataError as exc:
                    bad = column_error_index(exc)
                    if bad < 0:
                        raise
                    self._fail(exc, where[bad][0], keys[bad])
                    del docs[bad], keys[bad], where[bad]
                    skipped += 1
            if self.keys:
                batch[KEY] = keys
        batch.skipped = skipped
        return batch

    def _per_sample(
        self, keys: list[str], docs: list[dict[str, Any]], where: list[tuple[int, int]]
    ) -> tuple[Batch, int]:
        items: list[tuple[str, dict[str, Any]]] = []
        skipped = 0
        for key, doc, (s, _) in zip(keys, docs, where, strict=True):
            try:
                items.append((key, {f.name: decode_field(f, doc) for f in self.source.schema.fields}))
            except DataError as exc:
                self._fail(exc, s, key)
                skipped += 1
        assert self.sample_fn is not None
        out = self.sample_fn(items)
        batch = collate([x for _, x in out])
        if self.keys:
            batch[KEY] = [k for k, _ in out]
        return batch, skipped

    def _fail(self, exc: DataError, s: int, key: str) -> None:
        shard = self.source.shards[s]["key"]
        if self.source.on_error == "raise":
            exc.fields.update(dataset=self.source.name, shard=shard, key=key)
            raise DataError(
                f"dataset {self.source.name!r}, shard {shard!r}, sample {key!r}: {exc.message}",
                hint="fix or rewrite the sample, or read with on_error='skip'",
                **exc.fields,
            ) from exc


def collate(samples: Sequence[Any]) -> Batch:
    """Gather samples (sample instances, dicts or tuples) into columns; equal-shape arrays are stacked."""
    if not samples:
        return Batch()
    first = samples[0]
    if isinstance(first, dict):
        names = list(first)
        rows = [[s[k] for k in names] for s in samples]
    elif isinstance(first, tuple):
        names = [str(i) for i in range(len(first))]
        rows = [list(s) for s in samples]
    else:
        names = [k for k in vars(first)]
        rows = [[getattr(s, k) for k in names] for s in samples]
    out = Batch()
    for c, name in enumerate(names):
        col = [r[c] for r in rows]
        out[name] = _stack(col)
    return out


def _stack(col: list[Any]) -> Any:
    head = col[0]
    if isinstance(head, np.ndarray) and all(
        isinstance(v, np.ndarray) and v.shape == head.shape and v.dtype == head.dtype for v in col
    ):
        return np.stack(col)
    if isinstance(head, bool | int | float | np.generic) and not isinstance(head, str):
        try:
            return np.asarray(col)
        except (TypeError, ValueError):
            return col
    return col
