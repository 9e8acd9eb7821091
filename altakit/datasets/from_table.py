"""Typed samples from a table version: features and a target chosen by name, ready for training.

:func:`write_table_dataset` reads one version of an ingested Delta table
(``"sensors@4"``, or ``"sensors"``: the latest, or the version a run is pinned
to), keeps the chosen feature columns and the target column, and writes them
as a typed-sample dataset version (:class:`TableRow` samples) whose catalog
record links ``derived_from`` the table version. Training then reads it like
any dataset — ``ds.torch(...)`` with the exact-once loader, shuffling, resume —
and a model registered with ``dataset=`` that version has the whole lineage:
model ``trained_on`` dataset ``derived_from`` table version ``sourced`` files.

Rows with a missing feature or target are left out (counted in the result).
Features must be numeric or boolean columns; the target may be numeric
(regression) or anything with few distinct values (classification: ``y`` holds
the class index into the sorted class names). Writing the same columns of the
same table version again returns the version already written.

Example:
    >>> tab = write_table_dataset("sensors@2", features=["humidity"], target="temperature",
    ...                           store=store)  # doctest: +SKIP
    >>> tab.dataset, tab.task, tab.rows  # doctest: +SKIP
    (Dataset('sensors-temperature@1', 1704 samples), 'regression', 1704)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np

from altakit.catalog import catalog_of
from altakit.catalog.records import Ref, check_name
from altakit.datasets.internal import is_internal
from altakit.datasets.samples import Array, sample
from altakit.errors import ConfigError, NotFound
from altakit.runs import reads
from altakit.store.base import Store
from altakit.store.registry import open_store

#: Rows whose ``row`` is a multiple of this are the validation split (a stable, seed-free split).
VAL_EVERY = 5
#: An integer target with at most this many distinct values is a classification target (``task="auto"``).
MAX_CLASSES = 20
#: The lineage relation from the dataset version to the table version it was written from.
DERIVED_FROM = "derived_from"
Task = Literal["auto", "regression", "classification"]


@sample(name="table_row")
class TableRow:
    """One table row: its features as a float32 vector, the target, the target as text, the row number."""

    x: Annotated[np.ndarray, Array("float32", (None,))]
    y: float
    label: str
    row: int


@dataclass
class TableDataset:
    """What :func:`write_table_dataset` wrote (or found already written).

    Attributes:
        dataset: The dataset version (:class:`altakit.datasets.dataset.Dataset`) of :class:`TableRow`.
        table: The table version read, ``"name@N"``.
        features: The feature columns, in the order of ``x``.
        target: The target column.
        task: ``"regression"`` or ``"classification"``.
        classes: The class names (classification; ``y`` is an index into them), else empty.
        rows: Samples written.
        dropped: Rows left out for a missing value.
    """

    dataset: Any
    table: str
    features: list[str]
    target: str
    task: str
    classes: list[str] = field(default_factory=list)
    rows: int = 0
    dropped: int = 0


def table_columns(spec: str, *, store: Store | str | None = None) -> dict[str, str]:
    """The user columns of a table version and their types (polars names), without reading rows.

    Raises:
        NotFound: No such table or version.

    Example:
        >>> table_columns("sensors", store=store)  # doctest: +SKIP
        {'timestamp': 'Datetime', 'sensor': 'String', 'temperature': 'Float64', 'humidity': 'Float64'}
    """
    import polars as pl
    from deltalake import DeltaTable

    from altakit.datasets.tables import location, parse_spec, version_doc

    store = open_store(store or None)
    name, asked = parse_spec(spec)
    _, doc = version_doc(store, name, reads.resolve("table", name, asked))
    loc = location(store, name)
    table = DeltaTable(loc.uri, version=doc.delta_version, storage_options=loc.storage_options)
    import pyarrow as pa

    empty = pa.schema(table.schema().to_arrow()).empty_table()  # the schema alone: no row is read
    schema = pl.from_arrow(empty).schema  # type: ignore[union-attr]
    return {c: str(t.base_type()) for c, t in schema.items() if not is_internal(c)}


def write_table_dataset(
    table: str,
    *,
    features: Sequence[str],
    target: str,
    name: str | None = None,
    task: Task = "auto",
    store: Store | str | None = None,
    maxcount: int = 10_000,
) -> TableDataset:
    """Write the ``features`` and ``target`` of a table version as a typed-sample dataset version.

    Args:
        table: ``"name"`` (the latest version, or the version the run is pinned to) or ``"name@N"``.
        features: Numeric or boolean columns, in the order the feature vector ``x`` holds them.
        target: The column to predict.
        name: Dataset name (default ``"<table>-<target>"``).
        task: ``"regression"``, ``"classification"`` or ``"auto"`` (a float target is regression;
            text, booleans and integers with at most :data:`MAX_CLASSES` values are classes).
        store: A store or URL (default: the project store).
        maxcount: Samples per shard.

    Returns:
        The :class:`TableDataset`; its ``dataset`` record links ``derived_from`` the table version.

    Raises:
        NotFound: No such table, version or column.
        ConfigError: No features, the target among them, a feature that is not numeric, a
            classification target with too many classes, or no complete row.

    Example:
        >>> tab = write_table_dataset("sensors", features=["humidity"], target="temperature",
        ...                           store=store)  # doctest: +SKIP
        >>> str(tab.dataset.record.ref)  # doctest: +SKIP
        'dataset:sensors-temperature@1'
    """
    from altakit.datasets.dataset import load_dataset
    from altakit.datasets.tables import parse_spec, read_table, version_doc
    from altakit.datasets.write import write_dataset

    store = open_store(store or None)
    table_name, asked = parse_spec(table)
    features = _check_columns(features, target)
    name = name or f"{table_name}-{target}".replace("/", "-")
    check_name(name)
    if task not in ("auto", "regression", "classification"):
        raise ConfigError(f"task must be 'auto', 'regression' or 'classification', not {task!r}")
    record, _ = version_doc(store, table_name, reads.resolve("table", table_name, asked))
    version = record.ref.version
    spec = f"{table_name}@{version}"
    types = table_columns(spec, store=store)
    missing = [c for c in [*features, target] if c not in types]
    if missing:
        raise NotFound(
            f"table {spec} has no column {missing[0]!r}", table=spec, hint=f"its columns: {sorted(types)}"
        )
    frame = read_table(spec, store=store, columns=[*features, target])
    if asked is None:  # the run read the latest (or its pin): a re-run on the same data pins it
        reads.note(Ref("table", table_name, version), unversioned=True)
    complete = frame.drop_nulls()
    dropped = frame.height - complete.height
    if not complete.height:
        raise ConfigError(f"table {spec} has no row with every one of {[*features, target]}", table=spec)
    x = _feature_matrix(complete, features, spec)
    kind, y, labels, classes = _target(complete[target], task, spec)
    description = json.dumps(
        {"from": f"table:{spec}", "features": features, "target": target, "task": kind,
         "classes": classes, "rows": complete.height, "dropped": dropped,
         "content": _fingerprint(x, y)},
        sort_keys=True,
    )  # fmt: skip
    result = TableDataset(None, spec, features, target, kind, classes, complete.height, dropped)
    catalog = catalog_of(store)
    try:
        versions = catalog.versions("dataset", name)
    except NotFound:
        versions = []
    for rec in versions:
        if rec.doc.get("description") == description:
            result.dataset = load_dataset(f"{name}@{rec.version}", store)
            return result
    rows = (
        TableRow(x=x[i], y=float(y[i]), label=labels[i], row=i)  # type: ignore[call-arg]
        for i in range(len(y))
    )
    result.dataset = write_dataset(
        rows, name, store=store, maxcount=maxcount, description=description, progress=False,
        links={DERIVED_FROM: f"table:{spec}"},
    )  # fmt: skip
    return result


def _check_columns(features: Sequence[str], target: str) -> list[str]:
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    features = list(features)
    if not features:
        raise ConfigError("no feature columns chosen", hint="pick one or more numeric columns")
    if not isinstance(target, str) or not target:
        raise ConfigError("no target column chosen", hint="pick the column to predict")
    if target in features:
        raise ConfigError(f"the target {target!r} is also a feature", hint="leave it out of the features")
    if len(set(features)) != len(features):
        raise ConfigError(f"a feature column is listed twice: {features}")
    return features


def _feature_matrix(frame: Any, features: list[str], spec: str) -> np.ndarray:
    columns = []
    for c in features:
        column = frame[c]
        if not (column.dtype.is_numeric() or str(column.dtype) == "Boolean"):
            raise ConfigError(
                f"feature {c!r} of table {spec} is {column.dtype}, not a number",
                table=spec,
                column=c,
                hint="pick numeric or boolean columns as features",
            )
        columns.append(column.cast(float).to_numpy())
    return np.stack(columns, axis=1).astype(np.float32)


def _target(column: Any, task: Task, spec: str) -> tuple[str, np.ndarray, list[str], list[str]]:
    numeric = column.dtype.is_numeric()
    labels = [str(v) for v in column.to_list()]
    distinct = sorted(set(labels))
    if task == "auto":
        few = column.dtype.is_integer() and column.n_unique() <= MAX_CLASSES
        task = "regression" if numeric and not few else "classification"
    if task == "regression":
        if not numeric:
            raise ConfigError(
                f"target {column.name!r} of table {spec} is {column.dtype}: not a number to regress",
                table=spec,
                hint="use task='classification', or pick a numeric target",
            )
        return task, column.cast(float).to_numpy(), labels, []
    if len(distinct) > MAX_CLASSES and not numeric:
        raise ConfigError(
            f"target {column.name!r} of table {spec} has {len(distinct)} distinct values",
            table=spec,
            hint=f"a classification target has at most {MAX_CLASSES} classes",
        )
    index = {c: i for i, c in enumerate(distinct)}
    return task, np.array([index[v] for v in labels], dtype=np.float64), labels, distinct


def _fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()[:16]
