"""The catalog's SQL index: fast list, search and lineage over records kept in a store.

The index is a cache. Every row can be rebuilt from the store
(:meth:`Index.rebuild`), so deleting the database loses nothing. One database
can index many stores: every row carries the URL of its store. SQLite is the
default; PostgreSQL (``postgresql+psycopg://user@host/db``) serves a shared hub.

Tables: ``altakit_records`` (one row per record version), ``altakit_links``
(one row per link, for lineage both ways), ``altakit_fields`` (top-level doc
fields as canonical JSON, for ``search(field=value)``) and ``altakit_indexed``
(which stores have been indexed, so a missing index is rebuilt on first use).

Example:
    >>> index = Index("sqlite://", store_url="file:///tmp/s")
    >>> index.add([Record("dataset", "sensors", 1, {"owner": "ana"})])
    >>> [str(r.ref) for r in index.search(owner="ana")]
    ['dataset:sensors@1']
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from altakit.catalog.records import Record, Ref
from altakit.errors import ConfigError, MissingDependency, StoreUnavailable

_meta = sa.MetaData()


def _key() -> tuple[sa.Column, ...]:
    return (
        sa.Column("store", sa.String(512), primary_key=True),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
    )


RECORDS = sa.Table(
    "altakit_records",
    _meta,
    *_key(),
    sa.Column("doc", sa.Text, nullable=False),
    sa.Column("links", sa.Text, nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("writer", sa.String(64), nullable=False),
    sa.Column("search", sa.Text, nullable=False),
)
LINKS = sa.Table(
    "altakit_links",
    _meta,
    sa.Column("store", sa.String(512), primary_key=True),
    sa.Column("src_kind", sa.String(64), primary_key=True),
    sa.Column("src_name", sa.String(256), primary_key=True),
    sa.Column("src_version", sa.Integer, primary_key=True),
    sa.Column("relation", sa.String(64), primary_key=True),
    sa.Column("dst_kind", sa.String(64), primary_key=True),
    sa.Column("dst_name", sa.String(256), primary_key=True),
    sa.Column("dst_version", sa.Integer, primary_key=True),
    sa.Index("altakit_links_dst", "store", "dst_kind", "dst_name", "dst_version"),
)
FIELDS = sa.Table(
    "altakit_fields",
    _meta,
    *_key(),
    sa.Column("field", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
    sa.Index("altakit_fields_value", "store", "field", "value"),
)
INDEXED = sa.Table(
    "altakit_indexed",
    _meta,
    sa.Column("store", sa.String(512), primary_key=True),
    sa.Column("at", sa.String(40), nullable=False),
)
_HASHED = 200


def redact(url: str) -> str:
    """``url`` with any password hidden."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "<malformed URL>"


def field_value(value: Any) -> str:
    """A doc field's value as the index stores it: canonical JSON, hashed when long."""
    try:
        text = json.dumps(_canonical(value), sort_keys=True, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"cannot search for {value!r}: not JSON", hint="search with str, int, float, bool"
        ) from exc
    if len(text) > _HASHED:
        return "#sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return text


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 3.0 and 3 are the same value in JSON
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


class Index:
    """The SQL index of one store's catalog.

    Args:
        url: SQLAlchemy URL (``sqlite:///path.sqlite``, ``postgresql+psycopg://…``).
        store_url: The URL of the store whose records this index holds.
    """

    def __init__(self, url: str, store_url: str) -> None:
        self.url = url
        self.store_url = store_url
        self._engine: sa.Engine | None = None
        self._ready = False

    def __getstate__(self) -> dict[str, str]:
        # connections stay behind; a copy (e.g. in a DataLoader worker) reconnects on first use
        return {"url": self.url, "store_url": self.store_url}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["url"], state["store_url"])  # type: ignore[misc]

    # ------------------------------------------------------------ connection
    def engine(self) -> sa.Engine:
        """The engine, created and its tables made on first use."""
        if self._engine is None:
            engine = _create_engine(self.url)
            with self._guard():
                try:
                    _meta.create_all(engine)
                except sa_exc.DBAPIError:  # another process made the tables at the same moment, or down
                    time.sleep(0.2)
                    _meta.create_all(engine)
            self._engine = engine
        return self._engine

    def close(self) -> None:
        """Close the connections; the index reconnects on next use."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._ready = False

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
            raise StoreUnavailable(
                f"cannot reach the catalog index at {redact(self.url)}: {getattr(exc, 'orig', exc)}",
                url=redact(self.url),
                hint="start the database or fix $ALTAKIT_INDEX / index_url; the records are safe in the "
                "store, run `altakit catalog reindex` once the index is back",
            ) from exc

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        engine = self.engine()
        with self._guard(), engine.begin() as conn:
            yield conn

    # --------------------------------------------------------------- writing
    def ensure(self, scan: Callable[[], Iterable[Record]]) -> None:
        """Connect, and rebuild from ``scan()`` if this store was never indexed here."""
        if self._ready:
            return
        with self._begin() as conn:
            done = conn.execute(sa.select(INDEXED.c.store).where(INDEXED.c.store == self.store_url)).first()
        if done is None:
            self.rebuild(scan())
        self._ready = True

    def add(self, records: Iterable[Record]) -> None:
        """Index ``records`` (already indexed ones are left as they are)."""
        rows = [_rows(self.store_url, r) for r in records]
        if not rows:
            return
        with self._begin() as conn:
            for table, i in ((RECORDS, 0), (LINKS, 1), (FIELDS, 2)):
                _insert_ignore(conn, table, [row for group in rows for row in group[i]])

    def rebuild(self, records: Iterable[Record]) -> int:
        """Replace this store's rows with ``records``; returns how many."""
        records = list(records)
        with self._begin() as conn:
            for table in (LINKS, FIELDS, RECORDS, INDEXED):
                conn.execute(sa.delete(table).where(table.c.store == self.store_url))
            # insert-or-ignore: two processes that find the index empty at the same moment both
            # rebuild it; each scan is a complete snapshot of the store, so their union is right
            for table, i in ((RECORDS, 0), (LINKS, 1), (FIELDS, 2)):
                rows = [row for r in records for row in _rows(self.store_url, r)[i]]
                for start in range(0, len(rows), 500):
                    _insert_ignore(conn, table, rows[start : start + 500])
            _insert_ignore(conn, INDEXED, [{"store": self.store_url, "at": datetime.now(UTC).isoformat()}])
        self._ready = True
        return len(records)

    # --------------------------------------------------------------- reading
    def latest(self, kind: str | None = None) -> list[Record]:
        """The latest version of each ``(kind, name)``, sorted by kind and name."""
        r = RECORDS.c
        top = sa.select(r.kind, r.name, sa.func.max(r.version).label("version")).where(
            r.store == self.store_url
        )
        if kind is not None:
            top = top.where(r.kind == kind)
        latest = top.group_by(r.kind, r.name).subquery()
        query = (
            sa.select(RECORDS)
            .join(
                latest,
                sa.and_(r.kind == latest.c.kind, r.name == latest.c.name, r.version == latest.c.version),
            )
            .where(r.store == self.store_url)
            .order_by(r.kind, r.name)
        )
        return self._records(query)

    def search(self, kind: str | None = None, text: str | None = None, **equals: Any) -> list[Record]:
        """Records matching every condition, sorted by kind, name and version.

        Args:
            kind: Only this kind.
            text: Case-insensitive substring of ``kind:name`` or the JSON doc.
            **equals: Top-level doc fields equal (as JSON) to these values.
        """
        r = RECORDS.c
        query = sa.select(RECORDS).where(r.store == self.store_url)
        if kind is not None:
            query = query.where(r.kind == kind)
        if text:
            needle = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(r.search.like(f"%{needle}%", escape="\\"))
        for name, value in equals.items():
            f = FIELDS.c
            query = query.where(
                sa.exists().where(
                    f.store == r.store,
                    f.kind == r.kind,
                    f.name == r.name,
                    f.version == r.version,
                    f.field == name,
                    f.value == field_value(value),
                )
            )
        return self._records(query.order_by(r.kind, r.name, r.version))

    def edges(self, refs: list[Ref], direction: str) -> list[tuple[Ref, str, Ref]]:
        """Links out of ``refs`` (``"up"``) or into them (``"down"``), as ``(from, relation, to)``."""
        c = LINKS.c
        near = (
            (c.src_kind, c.src_name, c.src_version)
            if direction == "up"
            else (c.dst_kind, c.dst_name, c.dst_version)
        )
        out: list[tuple[Ref, str, Ref]] = []
        for start in range(0, len(refs), 100):
            chunk = refs[start : start + 100]
            match = sa.or_(
                *(sa.and_(near[0] == x.kind, near[1] == x.name, near[2] == x.version) for x in chunk)
            )
            query = sa.select(LINKS).where(c.store == self.store_url, match)
            with self._begin() as conn:
                for row in conn.execute(query):
                    src = Ref(row.src_kind, row.src_name, row.src_version)
                    dst = Ref(row.dst_kind, row.dst_name, row.dst_version)
                    out.append((src, row.relation, dst))
        return sorted(out, key=lambda e: (str(e[0]), e[1], str(e[2])))

    def _records(self, query: sa.Select) -> list[Record]:
        with self._begin() as conn:
            return [_record(row) for row in conn.execute(query)]

    def __repr__(self) -> str:
        return f"Index({redact(self.url)!r}, store_url={self.store_url!r})"


def _create_engine(url: str) -> sa.Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa_exc.ArgumentError as exc:
        raise ConfigError(
            f"malformed index URL {url!r}",
            hint="use an SQLAlchemy URL: sqlite:///path/catalog.sqlite or postgresql+psycopg://user@host/db",
        ) from exc
    options: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot create the catalog index folder {folder}: {exc}",
                    url=redact(url),
                    hint="point $ALTAKIT_INDEX / index_url at a writable place; the records are safe in "
                    "the store, run `altakit catalog reindex` once the index is back",
                ) from exc
        options["connect_args"] = {"timeout": 60}
    else:
        options["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(parsed, **options)
    except sa_exc.NoSuchModuleError as exc:
        raise ConfigError(
            f"unknown database in index URL {redact(url)!r}",
            hint="use sqlite:///… or postgresql+psycopg://…",
        ) from exc
    except ImportError as exc:
        raise MissingDependency(
            f"the index at {redact(url)} needs {exc.name or 'a database driver'}",
            extra="postgres",
            hint="pip install 'altakit[postgres]'",
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _insert_ignore(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        module: Any = sqlite if dialect == "sqlite" else postgresql
        conn.execute(module.insert(table).on_conflict_do_nothing(), rows)
        return
    for row in rows:  # other databases: one row at a time, duplicates skipped
        with suppress(sa_exc.IntegrityError), conn.begin_nested():  # a failed row rolls back its savepoint
            conn.execute(sa.insert(table), [row])


def _rows(store: str, record: Record) -> tuple[list[dict], list[dict], list[dict]]:
    key = {"store": store, "kind": record.kind, "name": record.name, "version": record.version}
    doc = json.dumps(record.doc, sort_keys=True, ensure_ascii=False)
    rec = {
        **key,
        "doc": doc,
        "links": json.dumps([[rel, str(ref)] for rel, ref in record.links]),
        "created": record.created.isoformat(),
        "writer": record.writer,
        "search": f"{record.kind}:{record.name}\n{doc}".lower(),
    }
    links = {
        (rel, ref.kind, ref.name, ref.version): {
            "store": store,
            "src_kind": record.kind,
            "src_name": record.name,
            "src_version": record.version,
            "relation": rel,
            "dst_kind": ref.kind,
            "dst_name": ref.name,
            "dst_version": ref.version,
        }
        for rel, ref in record.links
    }
    fields = [
        {**key, "field": name, "value": field_value(value)}
        for name, value in record.doc.items()
        if len(name) <= 128
    ]
    return [rec], list(links.values()), fields


def _record(row: Any) -> Record:
    return Record(
        kind=row.kind,
        name=row.name,
        version=row.version,
        doc=json.loads(row.doc),
        links=tuple((rel, Ref.parse(ref)) for rel, ref in json.loads(row.links)),
        created=datetime.fromisoformat(row.created),
        writer=row.writer,
    )
