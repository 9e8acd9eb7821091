"""The Catalog: datasets, schemas, models and runs as versioned records with lineage.

Records are small JSON documents kept in the store itself (see
:mod:`altakit.catalog.ledger` for the layout and how version numbers are
handed out safely between concurrent writers), so a bucket describes itself.
``get``, ``resolve`` and ``versions`` read the store; ``list``, ``search`` and
``lineage`` ask the SQL index (:mod:`altakit.catalog.index`), which is built
from the store on first use and rebuilt by :meth:`Catalog.reindex`.

Example:
    >>> import tempfile, altakit
    >>> cat = catalog_of(altakit.open_store(tempfile.mkdtemp()))
    >>> schema = cat.register("schema", "sensors", {"columns": {"t": "datetime"}})
    >>> data = cat.register("dataset", "sensors", {"rows": 10}, links={"schema": schema.ref})
    >>> str(cat.resolve("dataset:sensors").link("schema")[0])
    'schema:sensors@1'
    >>> [(str(a), rel, str(b)) for a, rel, b in cat.lineage("dataset:sensors@1")]
    [('dataset:sensors@1', 'schema', 'schema:sensors@1')]
"""

from __future__ import annotations

import builtins  # `list` below is Catalog.list in the class body
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit import config
from altakit.catalog import ledger
from altakit.catalog.records import (
    DamagedRecordWarning,
    Record,
    Ref,
    check_doc,
    check_kind,
    check_name,
    check_version,
    damaged,
    dump_record,
    flatten_links,
    read_record,
)
from altakit.errors import ConfigError, CorruptObject, NotFound
from altakit.store.base import Store

if TYPE_CHECKING:
    from altakit.catalog.index import Index

#: What ``register(links=...)`` accepts for one relation.
LinkTargets = str | Ref | Sequence[str | Ref]
_NO_LINKS: Mapping[str, LinkTargets] = {}
#: What ``register(doc=...)`` accepts besides a doc: ``build(previous record or None)`` → doc or (doc, links).
Builder = Callable[[Record | None], Mapping[str, Any] | tuple[Mapping[str, Any], Mapping[str, LinkTargets]]]


def default_index_url(store: Store) -> str:
    """Where the index of ``store`` lives unless told otherwise.

    ``$ALTAKIT_INDEX`` if set; the project index (``./data/catalog.sqlite``) for
    the default local store; SQLite inside the folder of any other local store;
    and a SQLite file in a per-store cache folder for remote stores.
    """
    if os.environ.get(config.INDEX_ENV):
        return config.default_index_url()
    root = getattr(store, "root", None)
    if isinstance(root, Path):
        default = config.default_store_url()  # a path or file:// URL when the default store is local
        if default.startswith("file:"):
            from urllib.parse import urlparse
            from urllib.request import url2pathname

            default = url2pathname(urlparse(default).path)
        if "://" not in default and root == Path(default).expanduser().resolve():
            return config.default_index_url()
        return f"sqlite:///{root / '.altakit-catalog.sqlite'}"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "altakit" / "catalog"
    return f"sqlite:///{cache / hashlib.sha256(store.url.encode()).hexdigest()[:20]}.sqlite"


def catalog_of(store: Store) -> Catalog:
    """The catalog whose records live in ``store``: made once per store object, then reused.

    This is how library code and notebooks reach a store's catalog; the store layer
    itself knows nothing of catalogs.

    Example:
        >>> import tempfile, altakit
        >>> store = altakit.open_store(tempfile.mkdtemp())
        >>> catalog_of(store) is catalog_of(store)
        True
    """
    cached = store.__dict__.get("_catalog")
    if cached is None:
        cached = store.__dict__["_catalog"] = Catalog(store)
    return cached


class Catalog:
    """Versioned records of datasets, schemas, models and runs, kept in a store.

    Args:
        store: The store that holds the records (the source of truth).
        index_url: SQLAlchemy URL of the SQL index (default: :func:`default_index_url`).

    Example:
        >>> cat = Catalog(store, index_url="postgresql+psycopg://hub@db/altakit")  # doctest: +SKIP
    """

    def __init__(self, store: Store, index_url: str | None = None) -> None:
        from altakit.catalog.index import Index

        self.store = store
        self.index: Index = Index(index_url or default_index_url(store), store.url)
        #: The damaged records the last scan of the store passed over (see :meth:`reindex`).
        self.damaged: builtins.list[CorruptObject] = []

    # ------------------------------------------------------------------ writing
    def register(
        self,
        kind: str,
        name: str,
        doc: Mapping[str, Any] | Builder,
        *,
        links: Mapping[str, LinkTargets] = _NO_LINKS,
    ) -> Record:
        """Register the next version of ``kind:name``.

        ``doc`` may be a *builder*, ``build(previous)``, for a version that depends on
        the one before it (compare-and-set on every store): it is called once the
        number ``n`` is won and every number below ``n`` is settled, with the
        record of the highest of them (None if there is none), and returns the doc,
        or ``(doc, links)``. So a builder always extends the true latest record,
        however many writers register at once (see :mod:`altakit.catalog.ledger`).
        If it raises, the number is given up and the error propagates.

        Args:
            kind: Lowercase identifier: ``"dataset"``, ``"schema"``, ``"model"``, ``"run"`` …
            name: ``/``-separated name such as ``"sensors"`` or ``"team/sensors"``.
            doc: JSON-serializable dict describing it, or a builder (above).
            links: Relation to ref(s) of existing records; a ref without a
                version is pinned to the current latest version.

        Returns:
            The new :class:`Record` (version 1, 2, 3 … per ``(kind, name)``).

        Raises:
            ConfigError: Bad kind, name, doc or link (nothing is written).
            NotFound: A linked record does not exist (nothing is written).
            StoreUnavailable: The index cannot be reached (nothing is written).
            Conflict: A builder's writer stalled past the ledger's ``stale`` seconds; retry.

        Example:
            >>> rec = cat.register("model", "churn", {"auc": 0.91},
            ...                    links={"trained_on": "dataset:sensors@3"})  # doctest: +SKIP
            >>> cat.register("run", "r", {"n": 1}).version, cat.register("run", "r", lambda prev: {
            ...     "n": prev.doc["n"] + 1}).doc  # doctest: +SKIP
            (1, {'n': 2})
        """
        check_kind(kind)
        check_name(name)
        if callable(doc):
            return self._register_built(kind, name, doc, links)
        doc_json = check_doc(doc)
        pinned = tuple((rel, self._pin(ref)) for rel, ref in flatten_links(links))
        self.index.ensure(self._scan)  # the index must answer before anything is written
        number = ledger.claim_number(self.store, kind, name)
        return self._write(kind, name, number, doc_json, pinned)

    def _register_built(
        self, kind: str, name: str, build: Builder, links: Mapping[str, LinkTargets]
    ) -> Record:
        self.index.ensure(self._scan)
        turn = ledger.take_turn(self.store, ledger.folder(kind, name), stale=ledger.STALE)
        try:
            before = turn.previous()
            built = build(self.get(kind, name, before) if before else None)
            doc, rels = built if isinstance(built, tuple) else (built, links)
            doc_json = check_doc(doc)
            pinned = tuple((rel, self._pin(ref)) for rel, ref in flatten_links(rels))
            turn.check()
        except BaseException:
            turn.void()
            raise
        try:
            return self._write(kind, name, turn.number, doc_json, pinned)
        finally:
            turn.done()

    def _write(
        self, kind: str, name: str, number: int, doc_json: str, pinned: tuple[tuple[str, Ref], ...]
    ) -> Record:
        record = Record(
            kind, name, number, json.loads(doc_json), pinned, datetime.now(UTC), self.store.writer
        )
        self.store.put(ledger.record_key(kind, name, number), dump_record(record), reserved=True)
        self.index.add([record])
        return record

    def reindex(self) -> int:
        """Rebuild the SQL index from the records in the store; returns how many records.

        A damaged record (bytes that fail their checksum, or that are not a record: a
        flipped byte, a foreign object) is passed over with a warning and kept in
        :attr:`damaged`, so one bad object never takes the catalog down;
        ``altakit catalog check --repair`` moves it aside.

        Example:
            >>> cat.reindex()  # doctest: +SKIP
            42
        """
        return self.index.rebuild(self._scan())

    # ------------------------------------------------------------------ reading
    def get(self, kind: str, name: str, version: int | None = None) -> Record:
        """Record ``kind:name@version``; the latest version when ``version`` is None.

        Raises:
            NotFound: No such record.
            ConfigError: Malformed kind, name or version.
            CorruptObject: The record is damaged (the hint names its key and the repair command).
        """
        check_kind(kind)
        check_name(name)
        ref = Ref(kind, name, version)
        if version is None:
            numbers = ledger.record_numbers(self.store, kind, name)
            if not numbers:
                raise self._not_found(ref)
            version = numbers[-1]
        check_version(version)
        try:
            return read_record(self.store, ledger.record_key(kind, name, version), ref.at(version))
        except NotFound:
            raise self._not_found(ref.at(version)) from None

    def resolve(self, ref: str | Ref) -> Record:
        """The record a reference names (``"dataset:sensors@3"``, ``"dataset:sensors"``, or a Ref)."""
        ref = Ref.parse(ref)
        return self.get(ref.kind, ref.name, ref.version)

    def versions(self, kind: str, name: str) -> list[Record]:
        """Every version of ``kind:name``, oldest first (empty if none)."""
        check_kind(kind)
        check_name(name)
        return [self.get(kind, name, n) for n in ledger.record_numbers(self.store, kind, name)]

    def list(self, kind: str | None = None) -> list[Record]:
        """The latest version of each ``(kind, name)`` (of ``kind`` if given), from the index."""
        if kind is not None:
            check_kind(kind)
        self.index.ensure(self._scan)
        return self.index.latest(kind)

    def search(
        self, kind: str | None = None, text: str | None = None, **doc_equals: Any
    ) -> builtins.list[Record]:
        """Records (every version) matching all conditions, sorted by kind, name and version.

        Args:
            kind: Only records of this kind.
            text: Case-insensitive substring of ``kind:name`` or of the JSON doc.
            **doc_equals: Top-level doc fields that must equal these values (compared as JSON).

        Example:
            >>> cat.search("dataset", owner="ana", text="sensor")  # doctest: +SKIP
        """
        if kind is not None:
            check_kind(kind)
        if text is not None and not isinstance(text, str):
            raise ConfigError(f"text must be a str, not {type(text).__name__}")
        self.index.ensure(self._scan)
        return self.index.search(kind, text, **doc_equals)

    def lineage(
        self, ref: str | Ref, direction: str = "up", depth: int | None = None
    ) -> builtins.list[tuple[Ref, str, Ref]]:
        """Links around a record, as ``(from, relation, to)`` edges, nearest first.

        Args:
            ref: The record to start from (latest version if the ref has none).
            direction: ``"up"`` follows links to what the record was made from;
                ``"down"`` finds the records made from it.
            depth: How many links deep to go (``None``: all the way).

        Example:
            >>> cat.lineage("model:churn@2")  # doctest: +SKIP
            [(Ref('model', 'churn', 2), 'trained_on', Ref('dataset', 'sensors', 3)), ...]
        """
        if direction not in ("up", "down"):
            raise ConfigError(f"direction must be 'up' or 'down', not {direction!r}")
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
            raise ConfigError(f"depth must be None or a whole number >= 0, not {depth!r}")
        start = self.resolve(ref).ref
        self.index.ensure(self._scan)
        seen, frontier, edges, level = {start}, [start], [], 0
        known: set[tuple[Ref, str, Ref]] = set()
        while frontier and (depth is None or level < depth):
            found = [e for e in self.index.edges(frontier, direction) if e not in known]
            known.update(found)
            edges.extend(found)
            nodes = [e[2] if direction == "up" else e[0] for e in found]
            frontier = [n for n in dict.fromkeys(nodes) if n not in seen]
            seen.update(frontier)
            level += 1
        return edges

    def close(self) -> None:
        """Close the index connections (reopened on next use)."""
        self.index.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({self.store!r}, index={self.index!r})"

    # ------------------------------------------------------------------ helpers
    def _pin(self, ref: Ref) -> Ref:
        if ref.version is None:
            numbers = ledger.record_numbers(self.store, ref.kind, ref.name)
            if not numbers:
                raise self._not_found(ref)
            return ref.at(numbers[-1])
        if not self.store.exists(ledger.record_key(ref.kind, ref.name, ref.version)):
            raise self._not_found(ref)
        return ref

    def _scan(self) -> Iterator[Record]:
        """Every readable record in the store; damaged ones are warned about and kept in :attr:`damaged`."""
        passed_over: builtins.list[CorruptObject] = []
        self.damaged = passed_over
        for kind, name, version, key in ledger.record_keys(self.store):
            try:
                try:
                    ref = Ref(kind, name, version)
                except ConfigError as exc:  # a key no record could have: a foreign object
                    raise damaged(self.store, key, f"{kind}:{name}@{version}", "no such record key") from exc
                yield read_record(self.store, key, ref)
            except NotFound:  # deleted since the listing (a repair moved it aside)
                continue
            except CorruptObject as exc:
                passed_over.append(exc)
                warnings.warn(
                    f"{exc.message}; passed over. Hint: {exc.hint}", DamagedRecordWarning, stacklevel=2
                )

    def _not_found(self, ref: Ref) -> NotFound:
        return NotFound(
            f"no record {ref} in {self.store.url}",
            ref=str(ref),
            hint="see the records with catalog.list() or `altakit catalog ls`",
            ui_hint="pick one of the records listed on the catalog page",
        )
