"""Ingest jobs: a declarative spec in, a dataset version (or a clear reason why not) out.

An :class:`~altakit.ingestion.spec.IngestSpec` is plain data (a dict, YAML or
JSON), so a papermill parameter, a panel and the CLI describe the same job.
:class:`IngestJob` runs it: resolve sources (:mod:`.sources`) → skip files
already ingested (by checksum) → read, type and clean with the engine the spec
names (:mod:`.engine`) → apply the schema policy → write one Delta commit (plus
the quarantine table) → register the dataset version in the catalog as
``table:<dataset>@N`` (:func:`altakit.datasets.tables.register_version`), linked
to its schema version and the previous dataset version.

What survives a kill: the commit points, in order, are :data:`FAULT_POINTS` —
source files claimed (:mod:`.claims`; a dead process's claims are passed over at
once), the schema version registered (never twice, :mod:`.review`), the
quarantine rows committed (left out by readers until their ingest is recorded),
the table's Delta commit (self-describing: it carries its catalog record, which
the next ingest registers if this one dies, :mod:`.reconcile`), the record.
Killed anywhere, a re-run at once leaves each source row in the table exactly once.

Example:
    >>> import altakit
    >>> spec = {"time": "ts", "by": ["sensor"]}
    >>> report = altakit.ingest("raw/*.csv", "sensors", spec=spec)  # doctest: +SKIP
    >>> report.rows_in == report.rows_written + report.rows_quarantined  # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
import uuid
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit import faults
from altakit.catalog import catalog_of
from altakit.datasets import delta_files, tables
from altakit.errors import Conflict, SchemaChangePending, SchemaError
from altakit.ingestion import claims as _claims
from altakit.ingestion.claims import first_claim
from altakit.ingestion.datetimes import AUTO
from altakit.ingestion.engine import ENGINES, Engine, EngineRegistry, Sink
from altakit.ingestion.reconcile import commit_metadata, in_flight, reconcile
from altakit.ingestion.review import SchemaRegistry, change_doc
from altakit.ingestion.schema import Plan, Schema, plan
from altakit.ingestion.sources import SourceFile, recorded_names, resolve_sources
from altakit.ingestion.spec import IngestSpec
from altakit.store import open_store

if TYPE_CHECKING:
    from altakit.events import EventStream
    from altakit.ingestion.engines._shared import Processed
    from altakit.store.base import Store
    from altakit.store.names import Version

__all__ = [
    "CLAIMS",
    "CLAIM_STALE",
    "FAULT_POINTS",
    "IngestJob",
    "IngestReport",
    "IngestSpec",
    "first_claim",
    "ingest",
]

#: Store prefix of the claims ingests take on source files before committing them.
CLAIMS = "_altakit/ingest/claims"
#: A claim from another host this old whose file is not in the catalog was left by an ingest that
#: died (a claim of a process gone from this host is passed over at once: :mod:`.claims`).
CLAIM_STALE = _claims.FOREIGN_STALE
#: An ingest's commit points, in order (:mod:`altakit.faults`): a kill at any of them and a re-run
#: leave every source row in the table once, and the catalog and the table agreeing.
FAULT_POINTS = (
    "ingest.claimed",
    "ingest.schema_registered",
    "ingest.quarantine_committed",
    "ingest.delta_committed",
    "ingest.registered",
)


@dataclass
class IngestReport:
    """The outcome of one ingest.

    Attributes:
        dataset: Dataset name.
        status: ``written``, ``unchanged`` (every source already ingested) or ``empty`` (no rows).
        version: The new dataset version (catalog ``table:<dataset>@version``), if written.
        delta_version: The Delta commit it wrote.
        rows_in: Data rows read from the sources.
        rows_written: Input rows that reached the table.
        rows_quarantined: Rows in quarantine (with reason, source and line).
        rows_out: Rows the commit added (fewer than ``rows_written`` after resampling).
        sources: Source files with checksum, size and whether they were skipped.
        steps: What each cleaning step changed.
        quarantine_reasons: Quarantined rows per reason.
        schema_version: The schema version the table was written with.
        schema_change: Summary of the schema change applied, if any.
        seconds: Wall time.
        renamed: Source columns renamed because they clash with altakit's own, new name → the source's.
        sources_root: What the record's local source names are relative to
            (:func:`~altakit.ingestion.sources.recorded_names`); ``None`` when none was a local file.
        recorded: Each source's name as the catalog record holds it (no private absolute paths).
    """

    dataset: str
    status: str = "written"
    version: int | None = None
    delta_version: int | None = None
    rows_in: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    rows_out: int = 0
    blank_lines: int = 0
    sources: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    schema_version: int | None = None
    schema_change: str | None = None
    seconds: float = 0.0
    renamed: dict[str, str] = field(default_factory=dict)
    sources_root: str | None = None
    recorded: list[str] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.dataset}: {self.status} v{self.version} rows_in={self.rows_in} "
            f"written={self.rows_written} "
            f"quarantined={self.rows_quarantined} out={self.rows_out}"
        )


class IngestJob:
    """One ingest of ``source`` into ``dataset``.

    Args:
        source: Path, glob, bytes, ``store:key`` … (see :func:`altakit.ingestion.sources.resolve_sources`).
        dataset: Dataset name, e.g. ``"sensors"``.
        spec: An :class:`IngestSpec` or its dict / YAML / JSON form.
        store: The store (default: the project store).
        writer: Who runs the ingest (default: the store's writer).
        events: An :class:`~altakit.events.EventStream` to report progress on (``start``, then
            ``progress`` of rows read against an estimated total, then ``end`` with the status).
        engines: Where the spec's engine name is looked up (default :data:`~.engine.ENGINES`).
    """

    def __init__(
        self,
        source: Any,
        dataset: str,
        spec: IngestSpec | dict[str, Any] | str | Path | None = None,
        *,
        store: Store | None = None,
        writer: str | None = None,
        events: EventStream | None = None,
        engines: EngineRegistry | None = None,
    ) -> None:
        store = open_store(store)
        self.source, self.dataset = source, tables.check_dataset(dataset)
        self.spec, self.store = IngestSpec.load(spec), store
        self.writer = writer or store.writer
        self.events = events
        self.engines = ENGINES if engines is None else engines
        self.catalog = catalog_of(store)
        self.registry = SchemaRegistry(store, self.catalog)

    def estimate(self) -> dict[str, Any]:
        """Rows, bytes and expected seconds from a sample (:func:`~altakit.ingestion.estimate.estimate`)."""
        from altakit.ingestion.estimate import estimate

        with tempfile.TemporaryDirectory(prefix="altakit-ingest-") as work:
            files = resolve_sources(
                self.source, Path(work), self.store, checksums=False, limits=self.spec.unpack_limits()
            )
            return estimate(files, self.spec, engines=self.engines)

    def run(self) -> IngestReport:
        """Run the job.

        Raises:
            SchemaChangePending: The schema changed under the ``review`` policy; nothing was written.
            SchemaError: The policy refused the change, or a reviewer rejected it.
            IngestError: An input cannot be read as a whole.
            Conflict: Concurrent writers kept winning the commit race.
        """
        if self.events is None:
            return self._run()
        self.events.start(params={"dataset": self.dataset, "engine": self.spec.engine})
        try:
            report = self._run()
        except BaseException as exc:
            self.events.end("failed", error=str(exc))
            raise
        self.events.end(report.status, version=report.version, rows_written=report.rows_written)
        return report

    def _run(self) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport(self.dataset)
        engine = self._engine()
        # an engine whose workers read the store: the driver copies a sample of each big text file only
        sampled = getattr(engine, "READS_STORE", False) and self.spec.format in (None, "csv")
        head = 2 * self.spec.block_bytes if sampled else None
        with tempfile.TemporaryDirectory(prefix="altakit-ingest-") as work:
            files = resolve_sources(
                self.source, Path(work), self.store, limits=self.spec.unpack_limits(), events=self.events,
                head=head,
            )  # fmt: skip
            # an earlier ingest that died after its commit: register it rather than append it again
            reconcile(self.store, self.dataset, writer=self.writer)
            self.registry.complete(self.dataset)  # an approval that died between its two records
            seen = self._ingested() if self.spec.incremental else {}
            # a file of a size never ingested is new: no need to wait for its checksum
            sizes = set(seen.values())  # sets: a glob of 100,000 files is not quadratic
            prefixes = {c[:32]: c for c in seen}  # a sampled store key is known by its checksum's prefix
            todo = [f for f in files if f.size not in sizes or not _seen(f, seen, prefixes)]
            new = {id(f) for f in todo}
            report.sources = [
                {"name": f.name, "sha256": f, "bytes": f.size, "skipped": id(f) not in new, "from": f.origin}
                for f in files
            ]
            report.sources_root, report.recorded = recorded_names(files)
            if not todo:
                report.status = "unchanged"
                report.seconds = time.perf_counter() - started
                return self._checksums(report)
            approved = self.registry.approved(self.dataset)
            sink = self._sink(engine, report)
            try:
                out = engine.process(
                    todo,
                    self.spec,
                    self._decide(approved, todo),
                    approved[0] if approved else None,
                    progress=self._progress,
                    sink=sink,
                )
            except BaseException:
                self._tidy(sink, None)
                raise
            self._checksums(report)
            report.rows_in, report.rows_written = out.rows_in, out.rows_written
            report.rows_quarantined, report.rows_out = out.quarantine.count, out.rows_out
            report.blank_lines = out.blank_lines
            report.steps = [s.to_dict() for s in out.steps]
            report.quarantine_reasons = out.quarantine.reasons()
            report.renamed = _renamed(todo)
            out.plan.diff.renamed = {
                n: o for n, o in report.renamed.items() if n in out.plan.diff.added_names
            }
            report.schema_change = None if out.plan.diff.empty else out.plan.diff.summary()
            if self.events is not None:
                self.events.progress(out.rows_in, out.rows_in, stage="write")
            try:
                claims = self._claim(todo) if self.spec.incremental and out.rows_in else []
                if claims is None:  # another ingest wrote these very files meanwhile: nothing to add
                    report.status = "unchanged"
                    for s in report.sources:
                        s["skipped"] = True
                    report.seconds = time.perf_counter() - started
                    return report
                faults.point("ingest.claimed")
                try:
                    self._write(report, out, approved, sink.ingest_id if sink else uuid.uuid4().hex)
                except BaseException:
                    self._release(claims)
                    raise
            finally:
                out.close()
                self._tidy(sink, out)
        report.seconds = time.perf_counter() - started
        return report

    # ------------------------------------------------------------------ steps
    def _sink(self, engine: Engine, report: IngestReport) -> Sink | None:
        """Where an engine whose tasks write files puts them (None: the job writes the rows).

        What a killed driver's tasks left is swept first, then this ingest is noted as writing.
        """
        if not getattr(engine, "WRITES_FILES", False):
            return None
        sink = Sink(
            tables.location(self.store, self.dataset),
            tables.location(self.store, self.dataset, quarantine=True),
            uuid.uuid4().hex,
            {s["name"]: rec for s, rec in zip(report.sources, report.recorded, strict=True)},
        )
        for loc in (sink.table, sink.quarantine):
            delta_files.sweep_orphans(loc)
            delta_files.mark_writing(loc, sink.ingest_id)
        return sink

    @staticmethod
    def _tidy(sink: Sink | None, out: Processed | None) -> None:
        """Remove the sink's files no commit lists (retried attempts'; all of a table not committed)."""
        if sink is None:
            return
        for loc, files in ((sink.table, out and out.files), (sink.quarantine, out and out.quarantine_files)):
            committed = sink.ingest_id in delta_files.committed_ingests(loc)
            delta_files.sweep(loc, sink.ingest_id, {f.path for f in files or ()} if committed else ())
            delta_files.unmark_writing(loc, sink.ingest_id)

    def _progress(self, done: int, total: int | None) -> None:
        if self.events is not None:
            self.events.progress(done, total, stage="read")

    def _engine(self) -> Engine:
        return self.engines.get(self.spec.engine)

    def _ingested(self) -> dict[str, int]:
        """Checksum → size of the source files already in the dataset."""
        return {
            s["sha256"]: s["bytes"]
            for _, doc in tables.version_docs(self.store, self.dataset)
            for s in doc.sources
        }

    @staticmethod
    def _checksums(report: IngestReport) -> IngestReport:
        """Put the (by now computed) checksums into the report's sources."""
        for s in report.sources:
            if isinstance(s["sha256"], SourceFile):
                s["sha256"] = s["sha256"].checksum
        return report

    def _claim(self, files: list[SourceFile]) -> list[Version] | None:
        """Claim ``files`` for this dataset before committing them, so two ingests never both do.

        Each file has a claim key; the first live claim wins (:func:`.claims.first_claim`: claimants
        wait for each other, so two never both see themselves first; a claim of a process gone from
        this host, or one from another host older than :data:`CLAIM_STALE`, is passed over). Returns
        this ingest's claims, or ``None`` when every file was committed by another ingest meanwhile
        (so this one adds nothing).

        Raises:
            Conflict: Another ingest holds (or committed) some of the files; nothing was written.
        """
        # one claim per checksum (the members of an archive share theirs)
        keys = {f"{CLAIMS}/{self.dataset}/{f.checksum}": f.checksum for f in files}
        scope = f"{CLAIMS}/{self.dataset}"
        mine = list(zip(keys, _claims.claim(self.store, list(keys), self.writer, scope=scope), strict=True))
        firsts = {key: first_claim(self.store, version) for key, version in mine}
        # a claimant passed over as dead may have committed before it died: register that first
        reconcile(self.store, self.dataset, writer=self.writer)
        seen = self._ingested()
        lost_sums = {keys[key] for key, _ in mine if keys[key] in seen or not firsts[key]}
        if not lost_sums:
            return [version for _, version in mine]
        self._release([version for _, version in mine])
        lost = [f for f in files if f.checksum in lost_sums]
        if len(lost) == len(files) and lost_sums <= seen.keys():
            return None
        raise Conflict(
            f"another ingest into {self.dataset!r} is writing or wrote {', '.join(f.name for f in lost)}",
            dataset=self.dataset,
            sources=[f.name for f in lost],
            hint="re-run when it is done: files already ingested are skipped",
        )

    def _release(self, claims: list[Version]) -> None:
        _claims.release(self.store, claims)

    def _store_sources(self) -> list[str]:
        """The job's ``store:`` sources (a key or prefix each), which a review can ingest again."""
        items = self.source if isinstance(self.source, list | tuple) else [self.source]
        return [s for s in items if isinstance(s, str) and s.startswith("store:")]

    def _decide(self, approved: tuple[Schema, int] | None, files: list[SourceFile]) -> Any:
        def decide(observed: Schema) -> Plan:
            result = plan(approved[0] if approved else None, observed, self.spec.policy, dataset=self.dataset)
            renamed = _renamed(files)
            result.diff.renamed = {n: o for n, o in renamed.items() if n in result.diff.added_names}
            if result.review:
                decided = self.registry.decision(self.dataset, observed)
                if decided is not None and (verdict := change_doc(decided)).status == "rejected":
                    raise SchemaError(
                        f"the schema change of {self.dataset!r} ({result.diff.summary()}) was rejected by "
                        f"{verdict.decided_by}: {verdict.comment}",
                        dataset=self.dataset,
                        change=str(decided.ref),
                        hint="fix the input so it matches the approved schema",
                    )
                change = self.registry.propose(
                    self.dataset,
                    approved,
                    observed,
                    by=self.writer,
                    renamed=renamed,
                    sources=self._store_sources(),
                    spec=self.spec.to_dict(),
                )
                raise SchemaChangePending(
                    f"the schema of {self.dataset!r} changed ({result.diff.summary()}); "
                    f"change {change.ref} awaits review",
                    dataset=self.dataset,
                    change=str(change.ref),
                    diff=result.diff.to_doc(),
                    hint=f"altakit schema approve {self.dataset} --comment '…' (or reject), then re-run",
                    ui_hint="open the schema review page, approve or reject the change, then ingest again",
                )
            return result

        return decide

    def _write(
        self, report: IngestReport, out: Processed, approved: tuple[Schema, int] | None, ingest_id: str
    ) -> None:
        if out.rows_in == 0:
            report.status = "empty"
            return
        schema_version = approved[1] if approved else None
        if out.plan.new_version:
            how = (
                "first ingest"
                if approved is None
                else f"policy {self.spec.policy}: {out.plan.diff.summary()}"
            )
            schema_version = self.registry.register(
                self.dataset, out.plan.target, by=self.writer, comment=f"auto-approved ({how})"
            )
            faults.point("ingest.schema_registered")
        report.schema_version = schema_version
        loc = tables.location(self.store, self.dataset)
        q_version = None
        if out.quarantine.count:  # first: its rows count once the table's commit (naming them) lands
            q_loc = tables.location(self.store, self.dataset, quarantine=True)
            meta = {"altakit.ingest": ingest_id, "altakit.writer": self.writer}
            if out.quarantine_files is not None:  # the engine's tasks wrote them
                q_columns = tables.quarantine_schema()
                q_schema = _arrow_schema({**q_columns, tables.INGEST_COLUMN: q_columns["_source"]})
                q_version = delta_files.commit_files(q_loc, out.quarantine_files, q_schema, meta)
            else:
                frame = _recorded_sources(out.quarantine.frame(), report).with_columns(
                    _lit(tables.INGEST_COLUMN, ingest_id)
                )
                q_version = tables.write(q_loc, frame, metadata=meta)
            faults.point("ingest.quarantine_committed")
        doc = tables.TableDoc(
            delta_version=-1,  # known once committed
            quarantine_version=q_version,
            uri=tables.recorded_uri(self.store, loc),
            ingest_id=ingest_id,
            sources=[
                {**s, "name": name}
                for s, name in zip(report.sources, report.recorded, strict=True)
                if not s["skipped"]
            ],
            rows_in=report.rows_in,
            rows_written=report.rows_written,
            rows_quarantined=report.rows_quarantined,
            rows_out=report.rows_out,
            steps=report.steps,
            quarantine_reasons=report.quarantine_reasons,
            engine=self.spec.engine,
            spec=json.loads(json.dumps(self.spec.to_dict(), default=str)),
            datetimes={c: f for c, f in out.datetimes.items() if f is not None and f != AUTO},
            renamed=report.renamed,
            sources_root=report.sources_root
            if any(s["from"] == "path" for s in report.sources if not s["skipped"])
            else None,
        )
        links = {} if schema_version is None else {"schema": self.registry.ref(self.dataset, schema_version)}
        # the commit carries its record, so a kill before the record is reconciled, not re-appended;
        # the frame is conformed to the approved schema, which may have grown since the last commit
        meta = commit_metadata(ingest_id, self.writer, doc, links)
        with in_flight(ingest_id):  # should registering fail, the next call reconciles the commit
            if out.files is not None:  # the engine's tasks wrote the table's files: one transaction
                schema = _arrow_schema(out.plan.target.polars())
                report.delta_version = delta_files.commit_files(loc, out.files, schema, meta)
            else:
                report.delta_version = tables.write(loc, out.data, merge_schema=True, metadata=meta)
            faults.point("ingest.delta_committed")
            doc = dataclasses.replace(doc, delta_version=report.delta_version)
            report.version = tables.register_version(self.store, self.dataset, doc, links=links).version
        faults.point("ingest.registered")


def _seen(f: SourceFile, seen: dict[str, int], prefixes: dict[str, str]) -> bool:
    """Whether ``f``'s bytes were ingested before (``seen``: checksum → size; ``prefixes``: first 32
    hex digits → checksum).

    A store source the driver holds a sample of is known by its version's checksum prefix; when
    seen, its full checksum is the one recorded then.
    """
    if f.stored is None or f.stored.whole or not isinstance(f.digest, Future):
        return f.checksum in seen
    full = prefixes.get(f.stored.checksum)
    if full is not None:
        f.digest.set_result(full)
    return full is not None


def _renamed(files: list[SourceFile]) -> dict[str, str]:
    """The columns the readers renamed in ``files`` (those read so far), new name → the source's."""
    return {new: old for f in files for new, old in f.renamed.items()}


def _recorded_sources(frame: Any, report: IngestReport) -> Any:
    """``frame`` (quarantine rows) with ``_source`` named as the record names it (``recorded_names``).

    A store key stays the key, a local path becomes relative to the record's ``sources_root``, so
    the quarantine table holds no machine's private absolute paths either.
    """
    import polars as pl

    names = {
        s["name"]: rec for s, rec in zip(report.sources, report.recorded, strict=True) if s["name"] != rec
    }
    return frame.with_columns(pl.col("_source").replace(names)) if names else frame


def _arrow_schema(columns: dict[str, Any]) -> Any:
    """The Arrow schema polars writes for ``columns`` (name → polars dtype)."""
    import polars as pl

    return pl.DataFrame(schema=columns).to_arrow().schema


def _lit(name: str, value: str) -> Any:
    import polars as pl

    return pl.lit(value).alias(name)


def ingest(
    source: Any,
    dataset: str,
    spec: IngestSpec | dict[str, Any] | str | Path | None = None,
    *,
    store: Store | None = None,
    engine: str | None = None,
    writer: str | None = None,
    events: EventStream | None = None,
) -> IngestReport:
    """Ingest ``source`` into the dataset table ``dataset``; see :class:`IngestJob`.

    Args:
        source: A path or glob, bytes, ``store:key`` / ``store:prefix/``, an URL under the store, or a list.
        dataset: Dataset name.
        spec: The spec (dict, YAML/JSON text or file, or :class:`IngestSpec`).
        store: The store (default: the project store).
        engine: Overrides ``spec.engine`` (``"local"`` or ``"spark"``).
        writer: Who runs it (recorded in the catalog).
        events: Where to report progress (see :class:`IngestJob`).

    Example:
        >>> report = ingest("day1.csv", "sensors", {"time": "ts"}, store=store)  # doctest: +SKIP
    """
    job_spec = IngestSpec.load(spec)
    if engine is not None:
        job_spec = IngestSpec.load({**job_spec.to_dict(), "engine": engine})
    return IngestJob(source, dataset, job_spec, store=store, writer=writer, events=events).run()
