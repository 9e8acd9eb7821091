"""Delta Lake tables in a store, and reading them back with time travel.

Delta needs a real filesystem path or object-store URL, not versioned store
objects, so each dataset's table lives in a reserved folder beside the
versioned objects:

* a local store at ``<root>``: ``<root>/.altakit-tables/<dataset>``;
* an S3 store at ``s3://bucket/prefix``: ``s3://bucket/prefix/.altakit-tables/<dataset>``,
  reached with the store's own credentials (``S3Store.storage_options()``).

No store key can start with ``.altakit`` (:func:`altakit.store.names.validate_key`),
so a table never collides with a key, and listings never show table files.
Quarantined rows go to a second table, ``<dataset>.quarantine``, beside it; what became of
them later (replayed, discarded, failed again) goes to a third, ``<dataset>.quarantine-log``
(:mod:`altakit.ingestion.quarantine_log`), since the quarantine table is append-only history.

Each ingest is one Delta commit. Its dataset version is a catalog record
``table:<dataset>@N`` (this module owns its shape, :class:`TableDoc`) holding the
Delta version, the source files with their checksums and the row counts, linked
to the schema version it was written with and to the version before it.
``read_table("sensors@2")`` reads the Delta version that record names;
:func:`read_quarantine` the rows that version's ingest quarantined (the
quarantine table's columns are :data:`QUARANTINE_COLUMNS`, plus ``_ingest``).
``read_table("sensors")`` reads the newest Delta version a record names, so a
commit whose ingest died before its record (an orphan, registered later by
:mod:`altakit.ingestion.reconcile`) or is still registering shows no rows yet;
the latest quarantine leaves out rows of ingests without a record likewise.

Example:
    >>> df = read_table("sensors", store=store)  # doctest: +SKIP
    >>> old = read_table("sensors@1", store=store, as_="pandas")  # doctest: +SKIP
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit.catalog import catalog_of
from altakit.catalog.model import RecordDoc
from altakit.catalog.records import Ref
from altakit.errors import ConfigError, Conflict, IngestError, NotFound
from altakit.runs import reads
from altakit.store import open_store

if TYPE_CHECKING:
    import polars as pl

    from altakit.catalog.records import Record
    from altakit.store.base import Store

TABLES = ".altakit-tables"
TABLE = "table"
#: The quarantine table's columns: source name, line (or record) number, reason, the row as read.
QUARANTINE_COLUMNS = ("_source", "_line", "_reason", "_raw")
#: The quarantine table's column naming the ingest that quarantined a row (its ``ingest_id``).
INGEST_COLUMN = "_ingest"
#: Name suffix of the quarantine's log table (what became of quarantined rows), beside the dataset's.
QUARANTINE_LOG = ".quarantine-log"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


@dataclass(frozen=True)
class TableDoc(RecordDoc):
    """The document of a dataset version (catalog kind ``table``): one ingest's Delta commit.

    Attributes:
        delta_version: The Delta version of the commit.
        quarantine_version: The quarantine table's Delta version of the commit (``None``: none).
        uri: Where the Delta table lives: its URL in an S3 store; in a local store the path relative
            to the store's root (``.altakit-tables/sensors``; records written before hold the absolute
            path), so shared catalogs hold no machine's private folders.
        ingest_id: The ingest's id (its rows in the quarantine table carry it in ``_ingest``).
        sources: The source files added (``name``, ``sha256``, ``bytes``, ``skipped``; ``from``:
            ``"store"`` — ``name`` is the store key —, ``"path"`` — a local file, ``name`` relative to
            ``sources_root`` — or ``"upload"``). Records written before hold paths as given (absolute
            ones too) and no ``from``.
        rows_in: Data rows read.
        rows_written: Input rows that reached the table.
        rows_quarantined: Rows quarantined.
        rows_out: Rows the commit added.
        steps: What each cleaning step changed.
        quarantine_reasons: Quarantined rows per reason.
        engine: The engine that ran the ingest.
        spec: The ingest spec, as plain data.
        replay: For a version written by a quarantine replay (:func:`altakit.ingestion.replay.replay`):
            ``by``, ``at``, ``comment``, ``fix`` and the quarantine ``entries`` it came from (the record
            links the versions that quarantined them as ``replayed_from``); ``None`` for an ingest.
        datetimes: The order or format each text datetime column was read in, as the ingest decided
            it (``{"ts": "dayfirst"}``; a replay reads the column's quarantined rows the same way);
            empty for versions written before it was recorded (the doc then has no such key).
        renamed: Source columns renamed because they clash with altakit's own, new name → the
            source's (``{"_line_user": "_line"}``); no key in the doc when none was.
        sources_root: What local source paths are relative to (see
            :func:`altakit.ingestion.sources.recorded_names`): ``"<cwd>"`` (the directory the ingest
            ran in) or ``"<sources folder>"`` (the deepest folder holding them all); no key in the
            doc when no source was a local file.

    Example:
        >>> doc = TableDoc(0, None, "/t", "id", [], 2, 2, 0, 2, [], {}, "local", {"time": "ts"})
        >>> TableDoc.from_doc(doc.to_doc()) == doc
        True
    """

    KIND = "table"
    WHEN_SET = ("replay", "datetimes", "renamed", "sources_root")  # keys ingests before them lack
    delta_version: int
    quarantine_version: int | None
    uri: str
    ingest_id: str
    sources: list[Any]
    rows_in: int
    rows_written: int
    rows_quarantined: int
    rows_out: int
    steps: list[Any]
    quarantine_reasons: dict[str, Any]
    engine: str
    spec: dict[str, Any]
    replay: dict[str, Any] | None = None
    datetimes: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    sources_root: str | None = None


def register_version(
    store: Store, dataset: str, doc: TableDoc, *, links: Mapping[str, Any] | None = None
) -> Record:
    """Register the next dataset version of ``dataset``, linked to the one before (``derived_from``).

    A version whose ``ingest_id`` is registered already is not registered twice: that record is
    returned (a reconciled orphan commit, :mod:`altakit.ingestion.reconcile`).

    Args:
        store: The store whose catalog holds the record.
        dataset: The dataset name.
        doc: The version's document (validated).
        links: Further links (``{"schema": "schema:sensors@2"}``).
    """
    cat = catalog_of(store)
    out = dict(links or {})
    previous = cat.versions(TABLE, check_dataset(dataset))
    for rec in previous:
        if rec.doc.get("ingest_id") == doc.ingest_id:
            return rec
    if previous:
        out["derived_from"] = previous[-1].ref
    return cat.register(TABLE, dataset, doc.to_doc(), links=out)


def version_doc(store: Store, dataset: str, version: int | None = None) -> tuple[Record, TableDoc]:
    """The record of a dataset version (latest, or ``version``) and its document.

    Raises:
        NotFound: No such dataset or version.
        CorruptObject: The record is not a dataset version's document.
    """
    rec = catalog_of(store).get(TABLE, dataset, version)
    return rec, TableDoc.from_doc(rec.doc, where=str(rec.ref))


def version_docs(store: Store, dataset: str) -> list[tuple[Record, TableDoc]]:
    """Every dataset version of ``dataset`` with its document, oldest first (empty if none)."""
    return [
        (r, TableDoc.from_doc(r.doc, where=str(r.ref))) for r in catalog_of(store).versions(TABLE, dataset)
    ]


def quarantine_schema() -> dict[str, Any]:
    """The polars schema of :data:`QUARANTINE_COLUMNS`."""
    import polars as pl

    return {"_source": pl.String, "_line": pl.Int64, "_reason": pl.String, "_raw": pl.String}


def check_dataset(name: str) -> str:
    """Return ``name`` if it is a valid dataset name (``sensors``, ``team/sensors``)."""
    reserved = name.endswith((".quarantine", QUARANTINE_LOG)) if isinstance(name, str) else False
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 200 or reserved:
        raise ConfigError(
            f"invalid dataset name {name!r}",
            hint="use '/'-separated segments of letters, digits, '.', '_' and '-', e.g. 'team/sensors'",
        )
    return name


@dataclass(frozen=True)
class Location:
    """Where a Delta table lives: ``uri`` and the ``storage_options`` to reach it."""

    uri: str
    storage_options: dict[str, str] | None = None


def location(store: Store, dataset: str, *, quarantine: bool = False, log: bool = False) -> Location:
    """The Delta table location of ``dataset`` in ``store`` (see the module docstring).

    ``quarantine``: its quarantine table; ``log``: the quarantine's log table.

    Raises:
        ConfigError: The store is neither local nor S3 (wrappers are looked through).
    """
    check_dataset(dataset)
    name = f"{dataset}{QUARANTINE_LOG}" if log else f"{dataset}.quarantine" if quarantine else dataset
    base = store
    while hasattr(base, "inner"):
        base = base.inner
    root = getattr(base, "root", None)
    if root is not None and base.url.startswith("file://"):
        return Location(str(root / TABLES / name))
    if base.url.startswith("s3://") and hasattr(base, "storage_options"):
        return Location(f"{base.url.rstrip('/')}/{TABLES}/{name}", base.storage_options())
    raise ConfigError(
        f"tables need a local or S3 store, not {type(base).__name__}",
        hint="open the store with a local path or an s3:// URL",
    )


def recorded_uri(store: Store, loc: Location) -> str:
    """How a record names a table's location: relative to a local store's root, else its URL.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     store = open_store(root)
        ...     recorded_uri(store, location(store, "sensors"))
        '.altakit-tables/sensors'
    """
    base = store
    while hasattr(base, "inner"):
        base = base.inner
    root = getattr(base, "root", None)
    if root is not None and loc.storage_options is None:
        try:
            return Path(loc.uri).relative_to(root).as_posix()
        except ValueError:
            pass
    return loc.uri


def delta_version(loc: Location) -> int | None:
    """The table's latest Delta version; ``None`` if there is no table yet."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(loc.uri, storage_options=loc.storage_options):
        return None
    return DeltaTable(loc.uri, storage_options=loc.storage_options).version()


def write(
    loc: Location,
    frame: pl.DataFrame | Callable[[], Any],
    *,
    merge_schema: bool = False,
    metadata: dict[str, str] | None = None,
    retries: int = 5,
) -> int:
    """Append ``frame`` as one Delta commit; returns the new Delta version.

    ``frame`` is a polars frame, or a function returning Arrow data (a table or a
    ``RecordBatchReader`` that streams, called again on a retry).

    Concurrent appends are retried (Delta resolves append/append races itself;
    a lost race on the commit file is retried here ``retries`` times with backoff).

    Raises:
        Conflict: Another writer kept winning; nothing was written by this call.
    """
    from deltalake import CommitProperties, DeltaTable, write_deltalake
    from deltalake.exceptions import CommitFailedError, DeltaError

    props = CommitProperties(custom_metadata=metadata or {})
    before = delta_version(loc)
    make = frame if callable(frame) else frame.to_arrow
    for attempt in range(retries + 1):
        try:
            write_deltalake(
                loc.uri,
                make(),
                mode="append",
                schema_mode="merge" if merge_schema else None,
                storage_options=loc.storage_options,
                commit_properties=props,
            )
            break
        except (CommitFailedError, DeltaError) as exc:
            text = str(exc).lower()
            racing = isinstance(exc, CommitFailedError) or "conflict" in text or "already exists" in text
            if not racing:
                raise IngestError(
                    f"cannot write the table at {loc.uri} ({exc})",
                    uri=loc.uri,
                    hint="check the rows' columns",
                ) from exc
            if attempt == retries:
                raise Conflict(
                    f"another ingest kept committing to {loc.uri} ({exc})",
                    uri=loc.uri,
                    hint="retry the ingest",
                ) from exc
            time.sleep(0.05 * 2**attempt)
    wanted = (metadata or {}).get("altakit.ingest")
    latest = DeltaTable(loc.uri, storage_options=loc.storage_options).version()
    if wanted is None:
        return latest
    # find our own commit, not a racer's: read each commit's info since ours could have landed
    for version in range(latest, -1 if before is None else before, -1):
        info = commit_info(loc, version)
        if info is not None and info.get("altakit.ingest") == wanted:
            return version
    raise Conflict(f"the commit of ingest {wanted} is not visible in {loc.uri}", uri=loc.uri)


def commit_info(loc: Location, version: int) -> dict[str, Any] | None:
    """The ``commitInfo`` of one Delta commit (its custom metadata are top-level keys, e.g.
    ``altakit.ingest``); ``None`` when the commit file is gone (log retention) or has none."""
    import json

    import pyarrow.fs as pafs
    from deltalake.fs import DeltaStorageHandler

    fs = pafs.PyFileSystem(DeltaStorageHandler(loc.uri, loc.storage_options))
    try:
        with fs.open_input_stream(f"_delta_log/{version:020d}.json") as f:
            lines = f.read().decode().splitlines()
    except (FileNotFoundError, OSError):
        return None
    for line in lines:
        if '"commitInfo"' in line:
            info = json.loads(line).get("commitInfo")
            return info if isinstance(info, dict) else None
    return None


def unrecorded_commits(
    store: Store, dataset: str, docs: list[tuple[Record, TableDoc]] | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """The Delta commits of ``dataset``'s table that no dataset version names, oldest first, with their
    ``commitInfo`` (an ingest or replay that died — or is still running — between its commit and its
    catalog record; :mod:`altakit.ingestion.reconcile` registers them)."""
    loc = location(store, dataset)
    latest = delta_version(loc)
    if latest is None:
        return []
    docs = version_docs(store, dataset) if docs is None else docs
    named, ids = {d.delta_version for _, d in docs}, {d.ingest_id for _, d in docs}
    out = []
    for version in range(latest + 1):
        if version in named:
            continue
        info = commit_info(loc, version)
        # altakit's commits only: OPTIMIZE or VACUUM by other Delta tools need no record
        if info is not None and "altakit.ingest" in info and info["altakit.ingest"] not in ids:
            out.append((version, info))
    return out


def history(loc: Location) -> list[dict[str, Any]]:
    """The table's Delta commits, newest first."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(loc.uri, storage_options=loc.storage_options):
        raise NotFound(f"no table at {loc.uri}", uri=loc.uri, hint="ingest into the dataset first")
    return DeltaTable(loc.uri, storage_options=loc.storage_options).history()


def parse_spec(spec: str) -> tuple[str, int | None]:
    """``"name@3"`` → ``("name", 3)``; ``"name"`` → ``("name", None)``."""
    name, sep, version = spec.partition("@")
    if sep and not version.isdigit():
        raise ConfigError(f"bad table version in {spec!r}", hint="write name@N with N a dataset version")
    return check_dataset(name), int(version) if sep else None


def read_table(
    spec: str,
    *,
    store: Store | None = None,
    as_: str = "polars",
    quarantine: bool = False,
    columns: list[str] | None = None,
) -> Any:
    """Read a dataset version as a polars (default) or pandas frame.

    Args:
        spec: ``"name"`` (the latest version the catalog lists) or ``"name@N"`` (dataset version N,
            see ``table history``). In a run pinned to a version, ``"name"`` reads the pinned one;
            either read is noted on the run (:mod:`altakit.runs.reads`).
        store: The store (default: the project store).
        as_: ``"polars"`` or ``"pandas"``.
        quarantine: Read the quarantine table instead.
        columns: Only these columns.

    Raises:
        NotFound: No such dataset or version (or the table's only commits have no record yet).

    Example:
        >>> read_table("sensors@1", store=store).height  # doctest: +SKIP
        1440
    """
    import polars as pl
    from deltalake import DeltaTable

    if as_ not in ("polars", "pandas"):
        raise ConfigError(f"as_ must be 'polars' or 'pandas', not {as_!r}")
    store = open_store(store)
    name, asked = parse_spec(spec)
    version = asked if quarantine else reads.resolve(TABLE, name, asked)  # a run's pin reads its snapshot
    loc = location(store, name, quarantine=quarantine)
    delta = None
    if version is not None:
        try:
            _, doc = version_doc(store, name, version)
        except NotFound:
            raise NotFound(
                f"dataset {name!r} has no version {version}", dataset=name, version=version
            ) from None
        delta = doc.quarantine_version if quarantine else doc.delta_version
        if delta is None:
            return _empty(as_)
    if not DeltaTable.is_deltatable(loc.uri, storage_options=loc.storage_options):
        if quarantine:
            return _empty(as_)
        raise NotFound(f"no dataset {name!r} in {store.url}", dataset=name, hint="ingest it first")
    table = DeltaTable(loc.uri, version=delta, storage_options=loc.storage_options)
    recorded: set[str] | None = None
    if version is None and not quarantine:  # the latest version the catalog lists, not a commit in flight
        delta, version = _listed_version(store, name, table.version())
        if delta != table.version():
            table.load_as_version(delta)
    elif version is None:
        recorded = {d.ingest_id for _, d in version_docs(store, name)}
    frame = pl.from_arrow(table.to_pyarrow_table(columns=columns))
    assert isinstance(frame, pl.DataFrame)
    if not quarantine:
        reads.note(Ref(TABLE, name, version), unversioned=asked is None)
    if recorded is not None and INGEST_COLUMN in frame.columns:  # rows of ingests that never committed
        frame = frame.filter(pl.col(INGEST_COLUMN).is_null() | pl.col(INGEST_COLUMN).is_in(list(recorded)))
    return frame.to_pandas() if as_ == "pandas" else frame


def _listed_version(store: Store, name: str, latest: int) -> tuple[int, int]:
    """The newest Delta version of ``name`` a dataset version names, and that dataset version.

    The Delta version is ``latest`` when the newest dataset version names it.

    Raises:
        NotFound: The table has commits but no dataset version lists one (its ingest died).
    """
    try:
        record, doc = version_doc(store, name)
    except NotFound:
        raise NotFound(
            f"dataset {name!r} has no recorded version (an ingest died before registering it)",
            dataset=name,
            hint="re-run the ingest, or `altakit catalog check --repair`",
            ui_hint="ingest the file again; if this stays, ask your operator to repair the catalog",
        ) from None
    if doc.delta_version >= latest:
        assert record.ref.version is not None
        return latest, record.ref.version
    # versions registered out of commit order (concurrent ingests): the newest any record names
    record, doc = max(version_docs(store, name), key=lambda pair: pair[1].delta_version)
    assert record.ref.version is not None
    return doc.delta_version, record.ref.version


def read_quarantine(spec: str, *, store: Store | None = None) -> pl.DataFrame:
    """The rows the ingest of one dataset version (``"sensors@2"``) quarantined, with why and where.

    Example:
        >>> read_quarantine("sensors@2", store=store).columns  # doctest: +SKIP
        ['_source', '_line', '_reason', '_raw']
    """
    import polars as pl

    store = open_store(store)
    name, version = parse_spec(spec)
    frame = read_table(spec, store=store, quarantine=True)
    if INGEST_COLUMN in frame.columns:
        _, doc = version_doc(store, name, version)
        frame = frame.filter(pl.col(INGEST_COLUMN) == doc.ingest_id).drop(INGEST_COLUMN)
    return frame


def _empty(as_: str) -> Any:
    import polars as pl

    frame = pl.DataFrame(schema=quarantine_schema())
    return frame.to_pandas() if as_ == "pandas" else frame
