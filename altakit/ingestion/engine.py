"""The engine contract and the registry that names engines (``local``, ``spark``), imported on first use.

An :class:`Engine` turns resolved source files into a :class:`~.engines._shared.Processed`
result (cleaned rows, quarantine, counts, the schema plan) that the job writes
as one Delta commit. Engines live in :mod:`altakit.ingestion.engines`; an
:class:`EngineRegistry` maps a name to the engine's dotted path (or to an
engine object) and imports it when a job first asks for it, so ``pyspark`` is
never imported for a local ingest and a missing extra is a
:class:`~altakit.errors.MissingDependency` naming it. Registries are plain
instances: :data:`ENGINES` is the one jobs use unless given another, and
:func:`default_engines` builds a fresh one (tests register their own engines
there).

Example:
    >>> reg = default_engines()
    >>> reg.names()
    ['local', 'spark']
    >>> reg.get("local").__name__
    'altakit.ingestion.engines.local'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, cast

from altakit.errors import ConfigError, MissingDependency

if TYPE_CHECKING:
    from altakit.datasets.tables import Location
    from altakit.ingestion.engines._shared import Decide, Processed
    from altakit.ingestion.schema import Schema
    from altakit.ingestion.sources import SourceFile
    from altakit.ingestion.spec import IngestSpec


@dataclass(frozen=True)
class Sink:
    """Where an engine whose tasks write files puts them (:mod:`altakit.datasets.delta_files`).

    Attributes:
        table: The dataset's Delta table.
        quarantine: Its quarantine table.
        ingest_id: The ingest: file names start with it, quarantine rows carry it.
        names: Source name → the name the record gives it (``_source`` of quarantine rows).
    """

    table: Location
    quarantine: Location
    ingest_id: str
    names: dict[str, str] = field(default_factory=dict)


class Engine(Protocol):
    """Reads, types and cleans source files for one ingest (a module or an object with ``process``)."""

    def process(
        self,
        files: Sequence[SourceFile],
        spec: IngestSpec,
        decide: Decide,
        approved: Schema | None,
        *,
        progress: Callable[[int, int | None], None] | None = None,
        sink: Sink | None = None,
    ) -> Processed:
        """Read, type and clean ``files``.

        Args:
            files: Resolved, unpacked source files (:func:`~altakit.ingestion.sources.resolve_sources`).
            spec: The ingest spec.
            decide: Called with the observed schema; returns the policy's plan or raises.
            approved: The approved schema, if any.
            progress: Called with ``(rows read, estimated total or None)``.
            sink: Where the tasks write the table's and quarantine's files themselves, given to an
                engine whose ``WRITES_FILES`` is true (:attr:`Processed.files` lists them and the
                job commits them); None for an engine that hands back rows.
        """
        ...


class EngineRegistry:
    """Ingest engines by name; each imported the first time it is asked for."""

    def __init__(self) -> None:
        self._targets: dict[str, tuple[str | Engine, str | None]] = {}
        self._loaded: dict[str, Engine] = {}

    def register(self, name: str, target: str | Engine, *, extra: str | None = None) -> None:
        """Register ``target`` (a module's dotted path, ``"module:attr"``, or an engine) as ``name``.

        Args:
            name: The name specs use (``engine: local``).
            target: Where the engine is, or the engine itself.
            extra: The pip extra that installs what the engine needs (named when its import fails).
        """
        self._targets[name] = (target, extra)
        self._loaded.pop(name, None)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._targets)

    def get(self, name: str) -> Engine:
        """The engine registered as ``name``, imported on first use.

        Raises:
            ConfigError: No engine has that name.
            MissingDependency: The engine's module cannot be imported (its extra is named).
        """
        if name in self._loaded:
            return self._loaded[name]
        try:
            target, extra = self._targets[name]
        except KeyError:
            raise ConfigError(
                f"unknown engine {name!r}", engine=name, hint=f"one of {', '.join(self.names())}"
            ) from None
        if not isinstance(target, str):
            engine = target
        else:
            module, _, attr = target.partition(":")
            try:
                loaded = importlib.import_module(module)
            except ImportError as exc:
                extra = extra or "all"
                raise MissingDependency(
                    f"the {name!r} engine needs {exc.name or 'a missing package'}",
                    extra=extra,
                    hint=f"pip install 'altakit[{extra}]'",
                ) from exc
            engine = cast("Engine", getattr(loaded, attr) if attr else loaded)
        self._loaded[name] = engine
        return engine


def default_engines() -> EngineRegistry:
    """A fresh registry with the built-in engines: ``local`` (polars) and ``spark``."""
    reg = EngineRegistry()
    reg.register("local", "altakit.ingestion.engines.local")
    reg.register("spark", "altakit.ingestion.engines.spark", extra="spark")
    return reg


#: The registry jobs use when given none.
ENGINES = default_engines()
