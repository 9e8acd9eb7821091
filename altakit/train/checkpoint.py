"""Checkpoints in any store: atomic, versioned, with retention.

A run's checkpoints live under ``<prefix>/<run>/`` in a store::

    checkpoints/<run>/state.pt                    one store version per checkpoint (the bytes)
    checkpoints/<run>/@manifest/rec/<n>.json      manifest number n: the kept checkpoints
    checkpoints/<run>/@manifest/writing/<token>   "a save is in flight" marker (host, pid)
    checkpoints/<run>/manifest.json               older runs' manifest (read until the first new commit)

Saving writes the bytes as a new version of ``state`` (atomic in every store),
then commits the next manifest, which lists it. The manifest is the commit
point: a writer killed before it leaves an orphan version that nobody reads and
a later save removes, so ``restore("latest")`` always finds a complete checkpoint.
Retention keeps the last ``keep_last`` checkpoints, the ``keep_best`` best by a
monitored metric, and every checkpoint a run resumed from; the rest are purged
from the store after the manifest that drops them is committed.

Two writers on one run (two overlapping scheduled runs) are safe: manifests are
numbered by the catalog's ledger (:mod:`altakit.catalog.ledger`), and each is
built from the one before it once that one is written, so no commit loses
another's checkpoint, and a checkpoint one manifest drops is listed by no later
one — only then are its bytes purged. An unlisted version (an orphan) is purged
only while no other save is in flight (its ``writing`` marker: one older than
the ledger's ``stale`` seconds, or of a dead process on this host, is ignored),
so a sweep never takes the bytes a live writer is about to commit. Every
checkpoint the latest manifest lists stays readable.

This module moves bytes only; :mod:`altakit.train.torch` and
:mod:`altakit.train.keras` turn framework state into bytes and back.

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> ckpt = Checkpointer(store, "demo", keep_last=2, monitor="loss")
    >>> for step, loss in enumerate([0.9, 0.5, 0.7, 0.8]):
    ...     _ = ckpt.save(f"weights {step}".encode(), step=step, metrics={"loss": loss})
    >>> [c.step for c in ckpt.checkpoints()]
    [1, 2, 3]
    >>> ckpt.restore("best").data, ckpt.restore("latest").checkpoint.step
    (b'weights 1', 3)
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from altakit import faults, procs
from altakit.catalog import ledger
from altakit.catalog.records import check_name
from altakit.errors import AltakitError, CheckpointError, ConfigError, CorruptObject, NotFound
from altakit.store.base import Store
from altakit.store.names import Version

FORMAT = "altakit.checkpoints/1"
#: Manifests kept besides the newest (older ones are history nobody reads).
MANIFEST_HISTORY = 3
#: Fault-injection points (see :mod:`altakit.faults`).
FAULT_POINTS = ("checkpoint.state_written", "checkpoint.committed")
#: The conventional file suffix of each checkpoint format's state key.
SUFFIXES = {"torch": ".pt", "lightning": ".ckpt", "keras": ".keras", "keras-weights": ".weights.h5"}
Which = str | int
T = TypeVar("T")


@dataclass(frozen=True)
class Checkpoint:
    """One saved checkpoint, as listed in the run's manifest.

    Attributes:
        run: The run it belongs to.
        key: Store key of the bytes.
        version: Store version id of the bytes.
        step: Global step (or any increasing number) at save time.
        epoch: Epoch at save time, if known.
        metrics: Metric values at save time.
        format: What the bytes are (``"torch"``, ``"keras"``, ``"keras-weights"``, ``"bytes"``).
        size: Size in bytes.
        checksum: Checksum the store verifies on every read.
        created: When it was saved (UTC, ISO 8601).
        meta: Free-form JSON details (framework versions, world size …).
    """

    run: str
    key: str
    version: str
    step: int
    epoch: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    format: str = "bytes"
    size: int = 0
    checksum: str = ""
    created: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        """The JSON form kept in the manifest."""
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Checkpoint:
        """Inverse of :meth:`to_doc`."""
        return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})


@dataclass(frozen=True)
class Restored:
    """A restored checkpoint: its listing and its verified bytes."""

    checkpoint: Checkpoint
    data: bytes


class Checkpointer:
    """Save and restore the checkpoints of one run in a store.

    Args:
        store: Any altakit store (local, S3, JVM, wrapped).
        run: Run name, ``/``-separated segments (``"digits/2026-05-01"``).
        prefix: Store prefix for all runs.
        keep_last: How many of the newest checkpoints to keep (>= 1).
        keep_best: How many of the best checkpoints by ``monitor`` to keep.
        monitor: Metric that ranks checkpoints for ``keep_best`` and ``restore("best")``.
        mode: ``"min"`` or ``"max"``: which end of ``monitor`` is best.
        writer: False on processes that must not write (DDP ranks other than 0):
            ``save`` then returns None and writes nothing.

    Example:
        >>> ckpt = Checkpointer(store, "digits", keep_last=3, monitor="val_loss")  # doctest: +SKIP
    """

    format = "bytes"

    def __init__(
        self,
        store: Store,
        run: str,
        *,
        prefix: str = "checkpoints",
        keep_last: int = 3,
        keep_best: int = 1,
        monitor: str | None = None,
        mode: str = "min",
        writer: bool = True,
    ) -> None:
        check_name(run)
        if mode not in ("min", "max"):
            raise ConfigError(f"mode must be 'min' or 'max', not {mode!r}", hint="mode='min' for a loss")
        for label, n, low in (("keep_last", keep_last, 1), ("keep_best", keep_best, 0)):
            if isinstance(n, bool) or not isinstance(n, int) or n < low:
                raise ConfigError(f"{label} must be a whole number >= {low}, not {n!r}")
        if keep_best and monitor is None:
            keep_best = 0  # nothing to rank by: keep the last N only
        self.store, self.run = store, run
        self.root = f"{prefix.strip('/')}/{run}"
        self.keep_last, self.keep_best = keep_last, keep_best
        self.monitor, self.mode = monitor, mode
        self.writer = writer
        self.pinned: set[str] = set()

    @property
    def state_key(self) -> str:
        """Store key whose versions hold the checkpoint bytes, with its format's conventional suffix.

        ``state.pt`` (torch), ``state.ckpt`` (Lightning), ``state.keras``, ``state.weights.h5``: a file
        fetched under its key's name opens with the tool the name suggests. Checkpoints saved under the
        older suffix-less ``state`` key stay listed and readable (each listing names its key).
        """
        return f"{self.root}/state{SUFFIXES.get(self.format, '')}"

    @property
    def manifest_folder(self) -> str:
        """Store prefix of the run's numbered manifests (the newest lists the kept checkpoints)."""
        return f"{self.root}/@manifest/"

    @property
    def manifest_key(self) -> str:
        """Store key of an older run's manifest (its latest version), read until the first new commit."""
        return f"{self.root}/manifest.json"

    # ------------------------------------------------------------------ writing
    def save(
        self,
        state: Any,
        *,
        step: int,
        epoch: int | None = None,
        metrics: Mapping[str, float] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Checkpoint | None:
        """Save ``state`` as the newest checkpoint, then apply retention.

        Args:
            state: Bytes, a ``pathlib.Path`` to a file, or what a subclass's ``encode`` accepts.
            step: Global step; checkpoints are ordered by save time, ``step`` is recorded.
            epoch: Epoch number, if any.
            metrics: Metric values (floats) at this point.
            meta: Extra JSON details.

        Returns:
            The new :class:`Checkpoint`, or None on a non-writer process.

        Example:
            >>> ckpt.save(b"...", step=100, metrics={"val_loss": 0.3})  # doctest: +SKIP
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ConfigError(f"step must be a whole number >= 0, not {step!r}")
        clean = _clean_metrics(metrics)
        if not self.writer:
            return None
        me = json.dumps(procs.owner()).encode()
        marker = self.store.put(f"{self.manifest_folder}writing/{secrets.token_hex(8)}", me)
        try:
            version = self.write_state(state)
            marker = self.store.put(marker.key, me)  # fresh again, however long the bytes took
            ckpt = Checkpoint(
                run=self.run,
                key=self.state_key,
                version=version.id,
                step=step,
                epoch=epoch,
                metrics=clean,
                format=self.format,
                size=version.size,
                checksum=version.checksum,
                created=datetime.now(UTC).isoformat(),
                meta=json.loads(json.dumps(dict(meta or {}), default=str)),
            )
            faults.point("checkpoint.state_written")
            dropped, number = self._commit(ckpt)
            faults.point("checkpoint.committed")
            self._sweep(dropped, version, number, marker)
        finally:
            with suppress(AltakitError):  # a marker left behind only delays orphan sweeps (it goes stale)
                for v in self.store.versions(marker.key):
                    with suppress(NotFound):
                        self.store.purge(marker.key, v)
        return ckpt

    def forget(self, versions: set[str]) -> None:
        """Commit a manifest that no longer lists ``versions`` (checkpoints whose bytes are gone).

        Example:
            >>> ckpt.forget({"20260501T120000000000000Z_0a1b2c3d"})  # doctest: +SKIP
        """
        self._commit(None, versions)

    def _commit(
        self, ckpt: Checkpoint | None, forget: set[str] | None = None
    ) -> tuple[list[Checkpoint], int]:
        """Commit the manifest after the latest one, plus ``ckpt``; returns what it dropped, its number."""
        turn = ledger.take_turn(self.store, self.manifest_folder, stale=ledger.STALE)
        try:
            before = turn.previous()
            manifest = self._read_manifest(before) if before else self._legacy_manifest()
            listed = [Checkpoint.from_doc(d) for d in manifest["checkpoints"]]
            listed = [c for c in listed if c.version not in (forget or set())]
            pinned = sorted(set(manifest.get("pinned", [])) | self.pinned)
            kept = self._retain([*listed, ckpt], set(pinned)) if ckpt else listed
            listed += [ckpt] if ckpt else []
            versions = {c.version for c in kept}
            body = {
                "format": FORMAT,
                "run": self.run,
                "monitor": self.monitor,
                "mode": self.mode,
                "pinned": [p for p in pinned if p in versions],
                "checkpoints": [c.to_doc() for c in kept],
            }
            turn.check()
        except BaseException:
            turn.void()
            raise
        try:
            data = json.dumps(body, sort_keys=True).encode()
            self.store.put(f"{self.manifest_folder}rec/{turn.number}.json", data)
        finally:
            turn.done()
        return [c for c in listed if c.version not in versions], turn.number

    def write_state(self, state: Any) -> Version:
        """Write ``state`` as a new version of :attr:`state_key` (subclasses stream it).

        The version is orphaned until :meth:`save` commits a manifest that lists it.
        """
        return self.store.put(self.state_key, self.encode(state))

    def encode(self, state: Any) -> bytes | memoryview | Path:
        """Turn ``state`` into what the store writes (bytes or a file path)."""
        if isinstance(state, bytes | bytearray | memoryview):
            return memoryview(state)
        if isinstance(state, os.PathLike):
            return Path(state)
        raise ConfigError(
            f"{type(self).__name__} saves bytes or a file path, not {type(state).__name__}",
            hint="use altakit.train.torch.Checkpointer for torch state, or the Keras callbacks",
        )

    # ------------------------------------------------------------------ reading
    def checkpoints(self) -> list[Checkpoint]:
        """The kept checkpoints, oldest first (empty if none)."""
        return [Checkpoint.from_doc(d) for d in self._manifest()["checkpoints"]]

    def find(self, which: Which = "latest") -> Checkpoint:
        """The checkpoint ``which`` names, without reading its bytes.

        Args:
            which: ``"latest"``, ``"best"`` (by ``monitor``), a store version id,
                or an int step (the newest checkpoint saved at that step).

        Raises:
            NotFound: The run has no such checkpoint.
            ConfigError: ``"best"`` without a monitor, or a malformed ``which``.
        """
        manifest = self._manifest()
        listed = [Checkpoint.from_doc(d) for d in manifest["checkpoints"]]
        hint = f"saved checkpoints: {[c.step for c in listed]}; use ckpt.checkpoints()"
        if not listed:
            raise NotFound(
                f"run {self.run!r} has no checkpoint in {self.store.url}",
                run=self.run,
                hint="train and save one first, or check the run name and store",
            )
        if which == "latest":
            return listed[-1]
        if which == "best":
            monitor = self.monitor or manifest.get("monitor")  # a reader may not know the run's monitor
            mode = self.mode if self.monitor else manifest.get("mode", "min")
            if monitor is None:
                raise ConfigError(
                    "restore('best') needs a monitor", hint="Checkpointer(..., monitor='val_loss')"
                )
            ranked = self._ranked(listed, monitor, mode)
            if not ranked:
                raise NotFound(f"no checkpoint of {self.run!r} has metric {monitor!r}", hint=hint)
            return ranked[0]
        if isinstance(which, int) and not isinstance(which, bool):
            at = [c for c in listed if c.step == which]
            if not at:
                raise NotFound(f"run {self.run!r} has no checkpoint at step {which}", hint=hint)
            return at[-1]
        if isinstance(which, str):
            for c in listed:
                if c.version == which:
                    return c
            raise NotFound(f"run {self.run!r} has no checkpoint {which!r}", hint=hint)
        raise ConfigError(f"cannot restore {which!r}", hint="use 'latest', 'best', a version id or a step")

    def restore(self, which: Which = "latest") -> Restored:
        """Read a checkpoint's bytes (checksum verified) and pin it against retention.

        Raises:
            NotFound: No such checkpoint.
            CorruptObject: The stored bytes fail their checksum (the hint names an older one).
        """
        ckpt, data = self.read(which, lambda f: f.read())
        return Restored(ckpt, data)

    def read(self, which: Which | Checkpoint, reader: Callable[[BinaryIO], T]) -> tuple[Checkpoint, T]:
        """``reader(file)`` over a checkpoint's bytes, returned only if they pass their checksum.

        The checksum is verified on a second thread while ``reader`` parses (see
        :meth:`Store.read_verified <altakit.store.base.Store.read_verified>`); the
        checkpoint is pinned against retention, as by :meth:`restore`.

        Raises:
            NotFound: No such checkpoint, or its bytes are gone.
            CorruptObject: The stored bytes fail their checksum (the hint names an older one).

        Example:
            >>> ckpt.read("latest", lambda f: f.read(2))  # doctest: +SKIP
            (Checkpoint(run='digits', ...), b'PK')
        """
        ckpt = which if isinstance(which, Checkpoint) else self.find(which)
        try:
            result = self.store.read_verified(ckpt.key, reader, version=ckpt.version)
        except CorruptObject as exc:
            older = [c.version for c in self.checkpoints() if c.version < ckpt.version]
            raise CorruptObject(
                f"checkpoint {ckpt.version} of run {self.run!r} fails its checksum",
                run=self.run,
                version=ckpt.version,
                name=exc.fields.get("name"),
                hint=f"restore an older one: restore({older[-1]!r})" if older else "no older checkpoint",
            ) from exc
        except NotFound as exc:
            raise NotFound(
                f"checkpoint {ckpt.version} of run {self.run!r} is listed but its bytes are gone",
                run=self.run,
                version=ckpt.version,
                hint="restore another one from ckpt.checkpoints()",
            ) from exc
        self.pinned.add(ckpt.version)
        return ckpt, result

    def decode(self, restored: Restored) -> Any:
        """Turn restored bytes back into state (bytes here; subclasses decode frameworks)."""
        self.check_format(restored.checkpoint)
        return restored.data

    def check_format(self, ckpt: Checkpoint) -> None:
        """Refuse a checkpoint another framework's checkpointer saved.

        Raises:
            CheckpointError: ``ckpt.format`` is not this checkpointer's format.
        """
        if ckpt.format != self.format:
            raise CheckpointError(
                f"checkpoint {ckpt.version} is {ckpt.format!r}, not {self.format!r}",
                run=self.run,
                version=ckpt.version,
                hint="restore it with the checkpointer of the framework that saved it",
            )

    # ------------------------------------------------------------------ helpers
    def _manifest(self) -> dict[str, Any]:
        for _ in range(3):  # a manifest trimmed between listing and reading: list again
            numbers = ledger.numbers_under(self.store, self.manifest_folder)
            if not numbers:
                return self._legacy_manifest()
            with suppress(NotFound):
                return self._read_manifest(numbers[-1])
        return self._read_manifest(ledger.numbers_under(self.store, self.manifest_folder)[-1])

    def _read_manifest(self, number: int) -> dict[str, Any]:
        key = f"{self.manifest_folder}rec/{number}.json"
        return self._parse_manifest(self.store.get(key), key)

    def _legacy_manifest(self) -> dict[str, Any]:
        try:
            raw = self.store.get(self.manifest_key)
        except NotFound:
            return {"checkpoints": [], "pinned": []}
        return self._parse_manifest(raw, self.manifest_key)

    def _parse_manifest(self, raw: bytes, key: str) -> dict[str, Any]:
        try:
            body = json.loads(raw)
            if body.get("format") != FORMAT:
                raise ValueError(f"format {body.get('format')!r}")
            return body
        except (ValueError, AttributeError) as exc:
            raise CheckpointError(
                f"the manifest of run {self.run!r} is not a checkpoint manifest: {exc}",
                run=self.run,
                key=key,
                hint="restore an older manifest: store.versions(...) under the run's '@manifest/rec/'",
            ) from exc

    def _ranked(self, listed: list[Checkpoint], monitor: str, mode: str) -> list[Checkpoint]:
        scored = [c for c in listed if monitor in c.metrics]
        sign = 1 if mode == "min" else -1
        # ties go to the newer checkpoint
        return sorted(scored, key=lambda c: (sign * c.metrics[monitor], -listed.index(c)))

    def _retain(self, listed: list[Checkpoint], pinned: set[str]) -> list[Checkpoint]:
        keep = {c.version for c in listed[-self.keep_last :]}
        if self.keep_best and self.monitor:
            keep |= {c.version for c in self._ranked(listed, self.monitor, self.mode)[: self.keep_best]}
        keep |= pinned
        return [c for c in listed if c.version in keep]

    def _sweep(self, dropped: list[Checkpoint], newest: Version, number: int, marker: Version) -> None:
        """Purge what manifest ``number`` dropped, orphans no save is about to commit, old manifests."""
        for c in dropped:  # listed by no later manifest: each is built from the one before
            with suppress(NotFound):
                self.store.purge(c.key, c.version)
        if not self._saves_in_flight(marker):
            listed = {d["version"] for d in self._manifest()["checkpoints"]}
            for key in dict.fromkeys([self.state_key, f"{self.root}/state"]):  # older runs: suffix-less key
                for v in self.store.versions(key):
                    if v.id < newest.id and v.id not in listed:
                        with suppress(NotFound):
                            self.store.purge(key, v)
        floor = number - MANIFEST_HISTORY
        for v in self.store.list(self.manifest_folder):
            tail = v.key[len(self.manifest_folder) :]
            if not 0 < _ledger_number(tail) < floor:  # never a marker: `choosing/`, `writing/`
                continue
            for old in self.store.versions(v.key):
                with suppress(NotFound):
                    self.store.purge(v.key, old)
        for v in self.store.versions(self.manifest_key):  # superseded by the numbered manifests
            with suppress(NotFound):
                self.store.purge(self.manifest_key, v)

    def _saves_in_flight(self, mine: Version) -> bool:
        """True if another save of this run may still commit (its marker is fresh and its process alive)."""
        now = datetime.now(UTC)
        for v in self.store.list(f"{self.manifest_folder}writing/", recursive=False):
            if v.key == mine.key:
                continue
            if (now - v.timestamp).total_seconds() <= ledger.STALE and _alive(self.store, v):
                return True
            with suppress(NotFound):  # a crashed save's marker: tidy it away
                self.store.purge(v.key, v)
        return False

    def clear(self) -> None:
        """Delete every checkpoint of the run and its manifests: the run then has none.

        Example:
            >>> ckpt.clear()  # doctest: +SKIP
        """
        for c in self.checkpoints():
            with suppress(NotFound):
                self.store.purge(c.key, c.version)
        for key in [v.key for v in self.store.list(self.manifest_folder)] + [self.manifest_key]:
            for v in self.store.versions(key):
                with suppress(NotFound):
                    self.store.purge(key, v)


def _ledger_number(tail: str) -> int:
    """The number in a ledger key (``rec/<n>.json``, ``claim/<n>``, ``void/<n>``, ``live/<n>``), or 0."""
    kind, _, text = tail.partition("/")
    text = text.removesuffix(".json") if kind == "rec" else text
    return int(text) if kind in ("rec", "claim", "void", "live") and text.isdigit() else 0


def _alive(store: Store, marker: Version) -> bool:
    """False if the marker's writer ran on this host and is gone; True if alive or unknown."""
    try:
        who = json.loads(store.get(marker.key, marker))
    except (NotFound, ValueError):
        return False  # gone meanwhile, or not a marker we wrote
    return procs.is_running(who) is not False


def _clean_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in (metrics or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"metric {name!r} is not a number: {value!r}", hint="pass floats") from exc
        if not math.isfinite(number):
            continue  # a NaN loss is not a ranking
        out[str(name)] = number
    return out
