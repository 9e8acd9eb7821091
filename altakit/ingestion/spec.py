"""The ingest spec: what to ingest and how, as plain data (a dict, YAML or JSON).

A papermill parameter, a panel and the CLI describe the same job with the same
:class:`IngestSpec`; :func:`last_spec` is the spec a dataset's latest version
was written with (what a re-run or a reviewer starts from).

Example:
    >>> spec = IngestSpec.load("time: ts\\nby: [sensor]")
    >>> spec.by, spec.policy, spec.engine
    (['sensor'], 'review', 'local')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from altakit.datasets import tables
from altakit.errors import ConfigError, NotFound
from altakit.ingestion.engine import ENGINES
from altakit.ingestion.quarantine import EXCERPT
from altakit.ingestion.readers import BLOCK, MAX_COLUMNS, ReadOptions
from altakit.ingestion.readers.limits import MAX_RATIO, MAX_UNPACKED, UnpackLimits
from altakit.ingestion.schema import DEFAULT_POLICY, POLICIES

if TYPE_CHECKING:
    from altakit.store.base import Store


@dataclass
class IngestSpec:
    """What to ingest and how.

    Attributes:
        format: ``csv``, ``parquet``, ``json``, ``ndjson``, ``excel`` (default: detect).
        delimiter: CSV delimiter (default: detect).
        encoding: Text encoding (default: detect).
        time: The time column (datetime; used by resampling and gap filling).
        by: Columns that identify one series (e.g. ``["sensor"]``).
        datetimes: Extra datetime columns with a format (chrono, ``epoch_s``, ``epoch_ms``), an order
            (``dayfirst``, ``monthfirst``) or null (detect).
        tz: Time zone of datetimes in the table.
        source_tz: Time zone of datetime text without an offset.
        infer_threshold: Share of values that must parse for a column to take a type.
        steps: Cleaning steps (see :mod:`altakit.ingestion.clean`).
        policy: Schema evolution policy (``review`` by default).
        incremental: Skip source files whose checksum was already ingested.
        engine: An engine's name (:class:`~altakit.ingestion.engine.EngineRegistry`): ``local`` or ``spark``.
        spark_master: Spark master URL or ``sc://`` Spark Connect URL (``local[*]`` by default).
        max_columns: Most columns an input may have; a wider one is a typed error before its rows are read.
        dayfirst: How to read slash dates whose values fit both orders (``03/04/2026``): day first
            (``true``) or month first (``false``). Unset, such a column is a typed error, never a guess;
            a column with a value that fits only one order is read in that order.
        block_bytes: Size of the blocks text is read and typed in (default 16 MiB).
        max_unpacked_bytes: Most bytes the compressed inputs (gzip, bzip2, xz, zstd, zip, tar, a
            workbook's parts, Parquet pages) of one ingest may unpack to, together (default 16 GiB);
            more is an :class:`~altakit.ingestion.readers.limits.UnpackLimitExceeded` before the disk fills.
        max_unpack_ratio: Most bytes one input may unpack to per byte received (default 100; any
            ratio is fine below 64 MiB); more is a decompression bomb, refused the same way.
        value_excerpt: Characters of a rejected value a quarantine reason quotes (default 40, cut
            with ``…``); ``0`` masks values in reasons. The values themselves stay in the quarantine
            table; catalog records hold reasons without them.

    Example:
        >>> IngestSpec.load({"time": "ts", "steps": [{"step": "resample", "rule": "15m"}]}).time
        'ts'
    """

    format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    time: str | None = None
    by: list[str] = field(default_factory=list)
    datetimes: dict[str, str | None] = field(default_factory=dict)
    tz: str = "UTC"
    source_tz: str = "UTC"
    infer_threshold: float = 0.9
    steps: list[dict[str, Any]] = field(default_factory=list)
    policy: str = DEFAULT_POLICY
    incremental: bool = True
    engine: str = "local"
    spark_master: str | None = None
    max_columns: int = MAX_COLUMNS
    dayfirst: bool | None = None
    block_bytes: int = BLOCK
    max_unpacked_bytes: int = MAX_UNPACKED
    max_unpack_ratio: float = MAX_RATIO
    value_excerpt: int = EXCERPT

    @classmethod
    def load(cls, spec: IngestSpec | dict[str, Any] | str | Path | None) -> IngestSpec:
        """From a spec, a dict, a YAML/JSON file path, or YAML/JSON text.

        Raises:
            ConfigError: Unknown keys or malformed text.
        """
        if spec is None:
            return cls()
        if isinstance(spec, IngestSpec):
            return spec
        if isinstance(spec, Path) or (isinstance(spec, str) and "\n" not in spec and Path(spec).is_file()):
            spec = Path(spec).read_text(encoding="utf-8")
        if isinstance(spec, str):
            import yaml

            try:
                spec = yaml.safe_load(spec) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"the ingest spec is not valid YAML/JSON: {exc}") from exc
        if not isinstance(spec, dict):
            raise ConfigError("an ingest spec must be a mapping", hint="e.g. {time: ts, by: [sensor]}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ConfigError(
                f"unknown ingest spec keys {unknown}", hint=f"known keys: {', '.join(sorted(known))}"
            )
        out = cls(**spec)
        if out.policy not in POLICIES:
            raise ConfigError(f"unknown schema policy {out.policy!r}", hint=f"one of {', '.join(POLICIES)}")
        if out.engine not in ENGINES.names():
            raise ConfigError(f"unknown engine {out.engine!r}", hint=f"one of {', '.join(ENGINES.names())}")
        if out.dayfirst not in (None, True, False):
            raise ConfigError(f"dayfirst must be true or false, not {out.dayfirst!r}", hint="dayfirst: true")
        if not isinstance(out.block_bytes, int) or out.block_bytes < 1024:
            raise ConfigError(f"block_bytes must be at least 1024, not {out.block_bytes!r}")
        for key in ("max_unpacked_bytes", "max_unpack_ratio", "value_excerpt"):
            value = getattr(out, key)
            excerpt = key == "value_excerpt"
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value < 0
                or (value == 0 and not excerpt)
            ):
                low = "0 or more" if key == "value_excerpt" else "a positive number"
                raise ConfigError(
                    f"{key} must be {low}, not {value!r}", hint=f"e.g. {key}: {getattr(cls, key)}"
                )
        if isinstance(out.by, str):
            out.by = [out.by]
        return out

    def datetime_columns(self) -> dict[str, str | None]:
        """Columns that must be datetimes: ``time`` plus ``datetimes``."""
        out = dict(self.datetimes)
        if self.time and self.time not in out:
            out[self.time] = None
        return out

    def read_options(self) -> ReadOptions:
        """The reader options of this spec."""
        return ReadOptions(
            format=self.format,
            delimiter=self.delimiter,
            encoding=self.encoding,
            max_columns=self.max_columns,
            block_bytes=self.block_bytes,
            limits=self.unpack_limits(),
        )

    def unpack_limits(self) -> UnpackLimits:
        """How far this spec lets inputs unpack (:class:`~altakit.ingestion.readers.limits.UnpackLimits`).

        Example:
            >>> IngestSpec(max_unpack_ratio=20).unpack_limits().max_ratio
            20
        """
        return UnpackLimits(max_bytes=int(self.max_unpacked_bytes), max_ratio=self.max_unpack_ratio)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for the catalog and YAML)."""
        return asdict(self)


def last_spec(store: Store, dataset: str) -> dict[str, Any] | None:
    """The spec (plain data) the latest version of ``dataset`` was written with; ``None`` if none yet.

    Example:
        >>> last_spec(store, "sensors")["policy"]  # doctest: +SKIP
        'review'
    """
    try:
        _, doc = tables.version_doc(store, dataset)
    except NotFound:
        return None
    return dict(doc.spec or {})


def dataset_policy(store: Store, dataset: str) -> str:
    """The schema evolution policy of ``dataset``: its latest spec's, else :data:`~.schema.DEFAULT_POLICY`.

    Example:
        >>> dataset_policy(store, "sensors")  # doctest: +SKIP
        'review'
    """
    return str((last_spec(store, dataset) or {}).get("policy") or DEFAULT_POLICY)
