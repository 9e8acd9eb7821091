"""Data files written by many tasks, committed as one Delta transaction.

A distributed writer (a Spark task on an executor) writes its rows as Parquet
files straight into a Delta table's folder with :func:`write_file`, which names
each file after the writing ingest and attempt, and returns a :class:`DataFile`
(path, size, rows, column statistics) — a Delta *add action*. The driver
collects the actions of the attempts that won and commits them all in one
transaction with :func:`commit_files` (delta-rs' transaction API), with the
commit metadata every ingest carries. Files no commit references — a failed,
retried or speculative attempt's — are removed by :func:`sweep`, which only
touches files of the given ingest; a killed driver's by :func:`sweep_orphans`
(an ingest the log never names, whose writer — :func:`mark_writing` — is gone).

The files are plain Parquet and the log plain Delta: DuckDB, delta-rs and Spark
read the table as they read any other.

Example:
    >>> import pyarrow as pa, tempfile
    >>> from altakit.datasets.tables import Location
    >>> loc = Location(tempfile.mkdtemp())
    >>> f = write_file(loc, pa.table({"v": [1, 2, 3]}), "ing1", "t0-a0")
    >>> f.rows, f.path.startswith("part-ing1-")
    (3, True)
    >>> commit_files(loc, [f], pa.schema([("v", pa.int64())]), {"altakit.ingest": "ing1"})
    0
    >>> sweep(loc, "ing1", keep={f.path})
    []
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from altakit import procs
from altakit.errors import Conflict, IngestError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyarrow import fs as pafs

    from altakit.datasets.tables import Location

#: Data files of an ingest are named ``part-<ingest id>-<task>-<random>.parquet``.
PREFIX = "part-"
#: How a writer's intermediate files end (the Spark engine's spill files): never committed, removed after.
SPILL = ".arrow"
#: Folder (in the table's) of the notes of ingests writing files now (:func:`mark_writing`).
WRITING = "_altakit_writing"
#: A writer on another host (or without a note) is taken for gone after this long.
STALE = timedelta(hours=1)


@dataclass(frozen=True)
class DataFile:
    """One Parquet file written into a table's folder: a Delta add action.

    Attributes:
        path: Relative to the table's root.
        size: Bytes.
        rows: Rows it holds.
        stats: Delta statistics, JSON (``numRecords``, ``nullCount``).
    """

    path: str
    size: int
    rows: int
    stats: str

    def to_json(self) -> str:
        """As JSON text (what a task hands the driver)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> DataFile:
        """Read :meth:`to_json`'s text."""
        return cls(**json.loads(text))


def filesystem(loc: Location) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem reaching the table's folder, and the folder's path on it.

    Local tables use the local filesystem; S3 tables pyarrow's S3 client with the
    store's own credentials and endpoint (``loc.storage_options``), so an executor
    without Hadoop's S3A writes through Python.
    """
    from pyarrow import fs as pafs

    if not loc.uri.startswith("s3://"):
        return pafs.LocalFileSystem(), loc.uri
    opts = {k.lower(): v for k, v in (loc.storage_options or {}).items()}
    endpoint = opts.get("aws_endpoint_url", "")
    scheme, _, host = endpoint.partition("://")
    s3 = pafs.S3FileSystem(
        access_key=opts.get("aws_access_key_id"),
        secret_key=opts.get("aws_secret_access_key"),
        session_token=opts.get("aws_session_token"),
        region=opts.get("aws_region", "us-east-1"),
        endpoint_override=host or None,
        scheme=scheme or "https",
    )
    return s3, loc.uri.removeprefix("s3://").rstrip("/")


def write_file(loc: Location, table: pa.Table, ingest_id: str, task: str) -> DataFile:
    """Write ``table`` as one Parquet file into the table's folder (not committed).

    Args:
        loc: The Delta table.
        table: Rows with the table's columns.
        ingest_id: The writing ingest (the file's name starts with it, for :func:`sweep`).
        task: Which task and attempt wrote it (``"t3-a1"``), part of the name.

    Returns:
        The file's add action.
    """
    import pyarrow.parquet as pq

    fs, root = filesystem(loc)
    name = f"{PREFIX}{ingest_id}-{task}-{uuid.uuid4().hex[:12]}.parquet"
    fs.create_dir(root, recursive=True)
    target = f"{root}/{name}"
    with fs.open_output_stream(target) as out:  # S3: one object put; local: a new file of its own name
        pq.write_table(table, out)
    size = fs.get_file_info(target).size
    nulls = {c: table.column(c).null_count for c in table.column_names}
    stats = json.dumps({"numRecords": table.num_rows, "nullCount": nulls})
    return DataFile(name, int(size or 0), table.num_rows, stats)


def commit_files(
    loc: Location,
    files: Iterable[DataFile],
    schema: pa.Schema,
    metadata: Mapping[str, str],
    *,
    retries: int = 5,
) -> int:
    """Commit ``files`` as one Delta transaction (append); returns the new Delta version.

    A table that does not exist yet is created by this commit. Columns of ``schema``
    the table lacks are added first, by a commit of their own that adds no rows.

    Raises:
        Conflict: Another writer kept winning the commit race; nothing was committed.
        IngestError: The table refused the commit.
    """
    from deltalake import CommitProperties, DeltaTable
    from deltalake.exceptions import CommitFailedError, DeltaError
    from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

    now = int(time.time() * 1000)
    adds = [AddAction(f.path, f.size, {}, now, True, f.stats) for f in files]
    actions: list[AddAction | RemoveAction] = list(adds)
    props = CommitProperties(custom_metadata=dict(metadata))
    opts = loc.storage_options
    for attempt in range(retries + 1):
        try:
            if not DeltaTable.is_deltatable(loc.uri, storage_options=opts):
                create_table_with_add_actions(
                    loc.uri, _delta_schema(schema), adds, mode="append", storage_options=opts,
                    commit_properties=props,
                )  # fmt: skip
            else:
                table = DeltaTable(loc.uri, storage_options=opts)
                _add_columns(table, schema)
                table.create_write_transaction(
                    actions, mode="append", schema=table.schema(), commit_properties=props
                )
            return DeltaTable(loc.uri, storage_options=opts).version()
        except (CommitFailedError, DeltaError) as exc:
            text = str(exc).lower()
            if not (isinstance(exc, CommitFailedError) or "conflict" in text or "already exists" in text):
                raise IngestError(f"the table at {loc.uri} refused the commit: {exc}") from exc
            if attempt == retries:
                raise Conflict(
                    f"concurrent writers kept winning the commit to {loc.uri}",
                    hint="retry the ingest; its files are swept",
                ) from exc
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def _delta_schema(schema: pa.Schema) -> Any:
    from deltalake import Schema

    return Schema.from_arrow(schema)


def _add_columns(table: Any, schema: pa.Schema) -> None:
    """Add the columns of ``schema`` that ``table`` lacks (a commit without rows)."""
    from deltalake import Field
    from deltalake import Schema as DeltaSchema

    have = {f.name for f in table.schema().fields}
    wanted = DeltaSchema.from_arrow(schema)
    new = [Field(f.name, f.type, nullable=True) for f in wanted.fields if f.name not in have]
    if new:
        table.alter.add_columns(new)


def mark_writing(loc: Location, ingest_id: str) -> None:
    """Note that this process writes files of ``ingest_id`` (before any task writes one).

    :func:`sweep_orphans` leaves the files of an ingest alone while its writer lives.
    """
    fs, root = filesystem(loc)
    fs.create_dir(f"{root}/{WRITING}", recursive=True)
    doc = {"owner": procs.owner(), "written": datetime.now(UTC).isoformat()}
    with fs.open_output_stream(f"{root}/{WRITING}/{ingest_id}.json") as out:
        out.write(json.dumps(doc).encode())


def unmark_writing(loc: Location, ingest_id: str) -> None:
    """Remove :func:`mark_writing`'s note (the ingest committed, or swept its files)."""
    fs, root = filesystem(loc)
    with contextlib.suppress(FileNotFoundError, OSError):
        fs.delete_file(f"{root}/{WRITING}/{ingest_id}.json")


def committed_ingests(loc: Location) -> set[str]:
    """The ingest ids the table's commits name (``altakit.ingest`` commit metadata)."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(loc.uri, storage_options=loc.storage_options):
        return set()
    history = DeltaTable(loc.uri, storage_options=loc.storage_options).history()
    return {str(h["altakit.ingest"]) for h in history if h.get("altakit.ingest")}


def sweep_orphans(loc: Location, *, stale: timedelta = STALE) -> list[str]:
    """Remove the files of ingests that never committed and whose writer is gone; returns their names.

    A writer is gone when its :func:`mark_writing` note names a process that no longer runs (on
    this host; elsewhere, when the note is older than ``stale``), or when there is no note and the
    files are older than ``stale``. An ingest the table's log names is never touched here.
    """
    from pyarrow import fs as pafs

    fs, root = filesystem(loc)
    infos = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    by_ingest: dict[str, list[Any]] = {}
    for info in infos:
        name = os.path.basename(info.path)
        if info.type == pafs.FileType.File and name.startswith(PREFIX):
            by_ingest.setdefault(name[len(PREFIX) :].split("-", 1)[0], []).append(info)
    if not by_ingest:
        return []
    done = committed_ingests(loc)
    gone: list[str] = []
    now = datetime.now(UTC)
    for ingest_id, files in by_ingest.items():
        if ingest_id in done:  # committed: only its files no add action can list remain (spill files)
            files = [i for i in files if i.path.endswith(SPILL)]
        elif _writer_lives(fs, root, ingest_id, files, now, stale):
            continue
        for info in files:
            fs.delete_file(info.path)
            gone.append(os.path.basename(info.path))
        unmark_writing(loc, ingest_id)
    return sorted(gone)


def _writer_lives(
    fs: Any, root: str, ingest_id: str, files: list[Any], now: datetime, stale: timedelta
) -> bool:
    try:
        with fs.open_input_stream(f"{root}/{WRITING}/{ingest_id}.json") as f:
            doc = json.loads(f.read())
        return procs.is_alive(doc["owner"], datetime.fromisoformat(doc["written"]), stale=stale)
    except (FileNotFoundError, OSError, ValueError, KeyError, TypeError):
        newest = max((i.mtime for i in files if i.mtime is not None), default=None)
        return newest is not None and now - newest.astimezone(UTC) < stale


def sweep(loc: Location, ingest_id: str, keep: Iterable[str] = ()) -> list[str]:
    """Remove the data files of ingest ``ingest_id`` that are not in ``keep``; returns their names.

    Only files named by :func:`write_file` for this ingest are touched.
    """
    from pyarrow import fs as pafs

    fs, root = filesystem(loc)
    kept = set(keep)
    prefix = f"{PREFIX}{ingest_id}-"
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    except FileNotFoundError:
        return []
    gone = []
    for info in infos:
        name = os.path.basename(info.path)
        if info.type == pafs.FileType.File and name.startswith(prefix) and name not in kept:
            fs.delete_file(info.path)
            gone.append(name)
    return sorted(gone)
