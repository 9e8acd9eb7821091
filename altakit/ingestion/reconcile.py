"""Orphan commits: a Delta commit whose ingest (or replay) died before its catalog record was written.

An ingest commits in a fixed order — claims, quarantine rows, **the table's Delta commit**, the
catalog record ``table:<dataset>@N`` — and the Delta commit is the one that counts: it carries,
in its commit metadata, everything the record needs (:func:`commit_metadata`: the ingest's id,
its owner process and the record's document and links). So a process killed after the commit
leaves a table that describes itself; the next ingest or replay of the dataset (and
``altakit catalog check --repair``, :func:`check_tables`) registers the missing record from it
(:func:`reconcile`) instead of appending the rows again, and the retry then finds its source
files ingested. Until then readers do not see the orphan's rows: :func:`~altakit.datasets.tables.read_table`
reads the newest Delta version a record names, and quarantine rows of ingests without a record
are left out. (Delta versions are cumulative: should another ingest commit and register a later
version while the orphan's writer still counts as alive — on another host, within
:data:`ORPHAN_GRACE` —, that version holds the orphan's rows before the orphan has its record.)

A commit is an orphan only once its owner is gone: its process no longer runs on this host, or
(written on another host) it is older than :data:`ORPHAN_GRACE`; a commit still in flight is
left to its writer. Reconcilers of one dataset take turns, and a record is never registered
twice for one ingest id (:func:`~altakit.datasets.tables.register_version`).

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> reconcile(store, "sensors")  # no table yet: nothing to do
    []
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit.catalog import catalog_of
from altakit.catalog.check import Finding
from altakit.datasets import tables
from altakit.errors import AltakitError
from altakit.ingestion import quarantine_log as qlog
from altakit.ingestion.claims import is_alive, owner, turn
from altakit.procs import is_mine

if TYPE_CHECKING:
    from altakit.catalog.records import Record
    from altakit.store.base import Store

__all__ = [
    "ORPHAN_GRACE",
    "Orphan",
    "check_tables",
    "commit_metadata",
    "in_flight",
    "orphans",
    "reconcile",
    "write_log",
]

#: A commit written on another host whose record is still missing after this long is an orphan.
ORPHAN_GRACE = timedelta(minutes=10)
#: Where reconcilers of a dataset take turns.
TURNS = "_altakit/ingest/reconcile"
RECORD = "altakit.record"
OWNER = "altakit.owner"
#: Ingests and replays this process is committing now; once its call ends (say, its record's write
#: failed), this process's own commit is an orphan like any other, not one "in flight" while it lives.
_IN_FLIGHT: set[str] = set()


@contextlib.contextmanager
def in_flight(ingest_id: str) -> Iterator[None]:
    """Mark the commit of ``ingest_id`` as this process's work in progress while the block runs.

    Example:
        >>> with in_flight("id1"):
        ...     "id1" in _IN_FLIGHT
        True
    """
    _IN_FLIGHT.add(ingest_id)
    try:
        yield
    finally:
        _IN_FLIGHT.discard(ingest_id)


def commit_metadata(
    ingest_id: str, writer: str, doc: tables.TableDoc, links: Mapping[str, Any], **extra: str
) -> dict[str, str]:
    """The Delta commit metadata that makes a commit self-describing: the ingest id, the writer, the
    owner process and the catalog record to register (``doc`` without its ``delta_version``).

    Example:
        >>> doc = tables.TableDoc(0, None, "t", "id1", [], 1, 1, 0, 1, [], {}, "local", {})
        >>> sorted(commit_metadata("id1", "ana", doc, {}))
        ['altakit.ingest', 'altakit.owner', 'altakit.record', 'altakit.writer']
    """
    record = doc.to_doc()
    record.pop("delta_version")
    return {
        "altakit.ingest": ingest_id,
        "altakit.writer": writer,
        OWNER: json.dumps(owner(writer)),
        RECORD: json.dumps({"doc": record, "links": dict(links)}, default=str),
        **extra,
    }


@dataclass(frozen=True)
class Orphan:
    """A Delta commit of a dataset's table that no dataset version names.

    Attributes:
        dataset: The dataset.
        delta_version: The commit's Delta version.
        ingest_id: The ingest (or replay) that wrote it, if recorded.
        written: When it was committed.
        owner: Its writer process (:func:`~altakit.ingestion.claims.owner`), if recorded.
        record: The record it carries (``{"doc", "links"}``), if any (older commits carry none).
        replay: True for a quarantine replay's commit.
    """

    dataset: str
    delta_version: int
    ingest_id: str | None
    written: datetime
    owner: Any
    record: dict[str, Any] | None
    replay: bool

    @property
    def alive(self) -> bool:
        """Whether its writer may still register it (then it is in flight, not an orphan)."""
        if is_mine(self.owner):  # this process: only while the call that committed it runs
            return self.ingest_id in _IN_FLIGHT
        return self.owner is not None and is_alive(self.owner, self.written, stale=ORPHAN_GRACE)


def orphans(
    store: Store, dataset: str, docs: list[tuple[Record, tables.TableDoc]] | None = None
) -> list[Orphan]:
    """The commits of ``dataset``'s table without a dataset version, oldest first (in flight included)."""
    out = []
    for version, info in tables.unrecorded_commits(store, dataset, docs):
        who = record = None
        with contextlib.suppress(ValueError, TypeError):
            who = json.loads(info.get(OWNER) or "null")
        with contextlib.suppress(ValueError, TypeError):
            record = json.loads(info.get(RECORD) or "null")
        stamp = info.get("timestamp")
        written = datetime.fromtimestamp(stamp / 1000, UTC) if isinstance(stamp, int) else datetime.now(UTC)
        out.append(
            Orphan(
                dataset,
                version,
                info.get("altakit.ingest"),
                written,
                who,
                record if isinstance(record, dict) else None,
                info.get("altakit.replay") == "true",
            )
        )
    return out


def reconcile(store: Store, dataset: str, *, writer: str | None = None) -> list[Record]:
    """Register the catalog record of every orphan commit of ``dataset`` whose writer is gone.

    Returns the records registered (oldest commit first). Replay commits get their quarantine-log
    rows first when the replay died before writing them.

    Raises:
        Conflict: Another reconciler of the dataset kept its turn too long.
    """
    if tables.delta_version(tables.location(store, dataset)) is None:
        return []
    if not [o for o in orphans(store, dataset) if _repairable(o)]:
        return []
    done = []
    with turn(store, f"{TURNS}/{dataset}/turn", writer or store.writer, wait=120.0, what="reconciler"):
        for orphan in orphans(store, dataset):  # again, in our turn: another may have registered them
            if _repairable(orphan):
                done.append(_register(store, orphan))
    return done


def _repairable(orphan: Orphan) -> bool:
    return orphan.record is not None and orphan.ingest_id is not None and not orphan.alive


def _register(store: Store, orphan: Orphan) -> Record:
    assert orphan.record is not None and orphan.ingest_id is not None
    doc = tables.TableDoc.from_doc(
        {**orphan.record["doc"], "delta_version": orphan.delta_version},
        where=f"commit {orphan.delta_version}",
    )
    if orphan.replay and doc.replay is not None:
        _log_replay(store, orphan.dataset, orphan.ingest_id, doc)
    return tables.register_version(store, orphan.dataset, doc, links=orphan.record.get("links") or {})


def _log_replay(store: Store, dataset: str, replay_id: str, doc: tables.TableDoc) -> None:
    """Write the replayed entries' log rows, unless the replay wrote them before it died."""
    import polars as pl

    log = qlog.read_log(store, dataset)
    if log.height and log.filter(pl.col("_replay") == replay_id).height:
        return
    assert doc.replay is not None
    who, at = doc.replay.get("by", ""), datetime.fromisoformat(doc.replay["at"])
    rows = [(e, "replayed", None, None) for e in doc.replay.get("entries", [])]
    meta = {"altakit.ingest": replay_id, "altakit.writer": who, "altakit.replay": "true"}
    write_log(store, dataset, rows, replay_id, who, at, doc.replay.get("comment", ""), meta)


def write_log(
    store: Store,
    name: str,
    rows: Sequence[tuple[str, str, str | None, str | None]],
    replay_id: str,
    who: str,
    at: datetime,
    comment: str,
    meta: dict[str, str],
) -> None:
    """Append quarantine entries' new states (a replay's or a discard's) to the log table (one commit)."""
    import polars as pl

    if not rows:
        return
    entry, state, reason, raw = (list(c) for c in zip(*rows, strict=True))
    n = len(rows)
    frame = pl.DataFrame(
        {
            "_entry": entry,
            "_state": state,
            "_reason": reason,
            "_raw": raw,
            "_replay": [replay_id] * n,
            "_by": [who] * n,
            "_at": [at] * n,
            "_comment": [comment] * n,
        },
        schema=qlog.log_schema(),
    )
    tables.write(tables.location(store, name, log=True), frame, metadata=meta)


# ------------------------------------------------------------------ checks
def _datasets(store: Store) -> list[str]:
    """Datasets with a record, and (local stores) tables in the store's table folder."""
    names = {r.name for r in catalog_of(store).list(tables.TABLE)}
    base = store
    while hasattr(base, "inner"):
        base = base.inner
    root = getattr(base, "root", None)
    if isinstance(root, Path) and (root / tables.TABLES).is_dir():
        for log in (root / tables.TABLES).glob("**/_delta_log"):
            name = log.parent.relative_to(root / tables.TABLES).as_posix()
            if not name.endswith((".quarantine", tables.QUARANTINE_LOG)):
                names.add(name)
    return sorted(names)


def check_tables(store: Store, *, repair: bool = False) -> list[Finding]:
    """What ``altakit catalog check`` reports about dataset tables: orphan commits (registered when
    ``repair``), records naming commits the table lacks, and schema changes left pending although
    their schema was registered (completed when ``repair``).

    Example:
        >>> import tempfile, altakit
        >>> check_tables(altakit.open_store(tempfile.mkdtemp()))
        []
    """
    from altakit.ingestion.review import SchemaRegistry

    findings: list[Finding] = []
    for name in _datasets(store):
        subject = f"{tables.TABLE}:{name}"
        try:
            found = [o for o in orphans(store, name) if not o.alive]
            registered = {r.doc.get("ingest_id"): r for r in reconcile(store, name)} if repair else {}
            latest = tables.delta_version(tables.location(store, name))
            docs = tables.version_docs(store, name)
        except (AltakitError, OSError, ValueError) as exc:
            findings.append(Finding("table_unreadable", subject, f"cannot check the table: {exc}"))
            continue
        for o in found:
            rec = registered.get(o.ingest_id)
            if rec is not None:
                msg = f"Delta version {o.delta_version} had no catalog record: registered as {rec.ref}"
            elif o.record is None:
                msg = (
                    f"Delta version {o.delta_version} has no catalog record and carries none to register "
                    "(written by an older altakit); readers skip it until a later version is registered"
                )
            else:
                msg = (
                    f"Delta version {o.delta_version} (ingest {o.ingest_id}) has no catalog record; "
                    "`altakit catalog check --repair` registers it"
                )
            findings.append(Finding("orphan_commit", subject, msg, repaired=rec is not None))
        for rec, doc in docs:
            if latest is None or doc.delta_version > latest:
                findings.append(
                    Finding(
                        "missing_commit",
                        str(rec.ref),
                        f"the record names Delta version {doc.delta_version}, which the table lacks",
                    )
                )
        registry = SchemaRegistry(store)
        stuck = registry.applied_pending(name)
        if stuck is not None:
            done = registry.complete(name) if repair else None
            findings.append(
                Finding(
                    "pending_schema_change",
                    str(stuck.ref),
                    "the change's schema is registered but the change is still pending"
                    + (f": marked approved ({done.ref})" if done is not None else "; --repair approves it"),
                    repaired=done is not None,
                )
            )
    return findings
