"""Schemas: inference, typing with quarantine, diff, and evolution policies.

A :class:`Schema` is an ordered list of :class:`Field` (name, type name
``dtype``, nullable; stored as ``{"name", "type", "nullable"}``). Type names
are stable strings (``int64``, ``float64``, ``bool``, ``string``, ``date``,
``datetime[us, UTC]`` …) so schemas compare and store as JSON. Text columns
are typed by :func:`infer`: a column becomes ``int64``, ``float64``, ``bool``
or a datetime when at least ``threshold`` of its non-null values parse as such;
the values that do not are quarantined by :func:`cast` with the column and
value in the reason, never silently nulled.

:func:`diff` lists added and removed columns, type changes (``widened`` when
no value can be lost, e.g. ``int64 → float64``) and nullability changes.
:func:`plan` applies a dataset's evolution policy to a diff:

``add_new_columns``
    new columns are accepted (a new schema version); other changes fail.
``rescue``
    the approved schema is kept; unexpected columns, and values that do not fit
    their type, go as JSON into the ``_rescued_data`` column.
``fail``
    any change is a :class:`~altakit.errors.SchemaError`.
``ignore``
    the approved schema is kept; unexpected columns are dropped (reported).
``review`` (the default, :data:`DEFAULT_POLICY`)
    any change becomes a pending change that blocks the write until a person
    approves or rejects it (:mod:`altakit.ingestion.review`).

Example:
    >>> import polars as pl
    >>> a = Schema.from_polars(pl.Schema({"x": pl.Int64}))
    >>> b = Schema.from_polars(pl.Schema({"x": pl.Float64, "y": pl.String}))
    >>> diff(a, b).summary()
    'added: y; widened: x int64→float64'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from altakit.datasets.internal import is_internal
from altakit.errors import ConfigError, SchemaError
from altakit.ingestion import quarantine
from altakit.ingestion.datetimes import detect_formats, parse_datetimes

if TYPE_CHECKING:
    import polars as pl

POLICIES = ("add_new_columns", "rescue", "fail", "ignore", "review")
#: The policy of a dataset whose spec names none.
DEFAULT_POLICY = "review"
RESCUED = "_rescued_data"
NULL_TOKENS = ("", "NA", "N/A", "n/a", "null", "NULL", "None", "NaN", "nan", "-")
_WIDEN = {
    ("int8", "int16"), ("int8", "int32"), ("int8", "int64"), ("int16", "int32"), ("int16", "int64"),
    ("int32", "int64"), ("float32", "float64"), ("date", "datetime[us, UTC]"),
}  # fmt: skip
#: The integer type names a column can take.
INT_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")
#: Text that is an integer and reads back unchanged: no leading zeros (``007`` is a code, kept as text).
INT_TEXT = r"^[+-]?(0|[1-9]\d*)$"
#: Text of digits only (an integer, or a code with leading zeros).
DIGITS = r"^[+-]?\d+$"
#: From this on (2**53) a float64 does not hold every integer: such integer text never becomes a float.
FLOAT_EXACT = 2**53
#: Number text of at most this many characters always reads back from a float64 unchanged (at most 15
#: significant digits, or an integer below ``2**53`` checked apart): longer text is checked exactly.
FLOAT_SHORT = 15


def policies() -> list[str]:
    """The evolution policies, the default first (what a picker offers).

    Example:
        >>> policies()
        ['review', 'add_new_columns', 'rescue', 'fail', 'ignore']
    """
    return [DEFAULT_POLICY, *(p for p in POLICIES if p != DEFAULT_POLICY)]


@dataclass(frozen=True)
class Field:
    """One column: ``name``, ``dtype`` (a type name such as ``"int64"``) and ``nullable``.

    Example:
        >>> Field("x", "int64").to_doc()
        {'name': 'x', 'type': 'int64', 'nullable': True}
    """

    name: str
    dtype: str
    nullable: bool = True

    def to_doc(self) -> dict[str, Any]:
        """JSON form (the type name under ``"type"``, as stored schemas have it)."""
        return {"name": self.name, "type": self.dtype, "nullable": self.nullable}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Field:
        """From the JSON form."""
        return cls(doc["name"], doc["type"], bool(doc.get("nullable", True)))


@dataclass(frozen=True)
class Schema:
    """An ordered list of fields.

    Example:
        >>> Schema([Field("x", "int64")]).names
        ['x']
    """

    fields: list[Field] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [f.name for f in self.fields]

    def get(self, name: str) -> Field | None:
        """The field called ``name``, if any."""
        return next((f for f in self.fields if f.name == name), None)

    def to_doc(self) -> list[dict[str, Any]]:
        """JSON form."""
        return [f.to_doc() for f in self.fields]

    @classmethod
    def from_doc(cls, doc: list[dict[str, Any]]) -> Schema:
        """From the JSON form."""
        return cls([Field.from_doc(d) for d in doc])

    @classmethod
    def from_polars(cls, schema: Any, nulls: dict[str, int] | None = None) -> Schema:
        """From a polars schema; ``nulls`` (null counts) decides nullability (default nullable)."""
        out = []
        for name, dtype in schema.items():
            if is_internal(name) and name != RESCUED:
                continue
            nullable = True if nulls is None else nulls.get(name, 0) > 0
            out.append(Field(name, type_name(dtype), nullable))
        return cls(out)

    def polars(self) -> dict[str, Any]:
        """The polars dtypes, by column."""
        return {f.name: dtype_of(f.dtype) for f in self.fields}

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` as this schema's columns, in order and cast; missing columns become typed nulls.

        Example:
            >>> import polars as pl
            >>> target = Schema([Field("a", "int64"), Field("b", "string")])
            >>> target.conform(pl.DataFrame({"a": ["1"]})).columns
            ['a', 'b']
        """
        import polars as pl

        present = frame.schema
        return frame.select(
            (pl.col(c).cast(t) if c in present else pl.lit(None, t).alias(c))
            for c, t in self.polars().items()
        )


def type_name(dtype: Any) -> str:
    """Stable name of a polars dtype (``Int64`` → ``"int64"``)."""
    import polars as pl

    if dtype == pl.String:
        return "string"
    if dtype == pl.Boolean:
        return "bool"
    if isinstance(dtype, pl.Datetime):
        return (
            f"datetime[{dtype.time_unit}, {dtype.time_zone}]"
            if dtype.time_zone
            else f"datetime[{dtype.time_unit}]"
        )
    return str(dtype).lower()


def dtype_of(name: str) -> Any:
    """The polars dtype for a type name (inverse of :func:`type_name`)."""
    import polars as pl

    simple = {
        "string": pl.String, "bool": pl.Boolean, "date": pl.Date, "float64": pl.Float64,
        "float32": pl.Float32, "int64": pl.Int64, "int32": pl.Int32, "int16": pl.Int16, "int8": pl.Int8,
        "uint8": pl.UInt8, "uint16": pl.UInt16, "uint32": pl.UInt32, "uint64": pl.UInt64,
    }  # fmt: skip
    if name in simple:
        return simple[name]
    if name.startswith("datetime["):
        unit, _, tz = name[len("datetime[") : -1].partition(", ")
        return pl.Datetime(unit, tz or None)  # type: ignore[arg-type]
    if name.startswith("decimal(precision="):  # type_name of pl.Decimal: "decimal(precision=12, scale=2)"
        precision, _, scale = name[len("decimal(precision=") : -1].partition(", scale=")
        return pl.Decimal(int(precision), int(scale))
    raise ConfigError(f"unsupported column type {name!r}", column_type=name)


# ---------------------------------------------------------------- inference and typing
def normalize_nulls(df: pl.DataFrame) -> pl.DataFrame:
    """Turn null tokens (``""``, ``NA``, ``null`` …) in text columns into nulls."""
    import polars as pl

    text = [c for c, t in df.schema.items() if t == pl.String and not is_internal(c)]
    tokens = list(NULL_TOKENS)
    return df.with_columns(
        pl.when(pl.col(c).str.strip_chars().is_in(tokens)).then(None).otherwise(pl.col(c)).alias(c)
        for c in text
    )


def infer(
    df: pl.DataFrame,
    *,
    datetimes: dict[str, str | None] | None = None,
    tz: str = "UTC",
    threshold: float = 0.9,
) -> tuple[dict[str, str], dict[str, str | None]]:
    """Infer a type name for every data column of ``df``.

    Args:
        df: Text columns (already typed columns keep their type).
        datetimes: Columns that must be datetimes, with an explicit format or ``None`` to detect.
        tz: Time zone of parsed datetimes.
        threshold: Share of non-null values that must parse for a column to take a type.

    Returns:
        ``(types, datetime formats)``: type name per column, and the datetime columns found.
    """
    import polars as pl

    datetimes = dict(datetimes or {})
    types: dict[str, str] = {}
    dt_type = f"datetime[us, {tz}]"
    for name, dtype in df.schema.items():
        if is_internal(name):
            continue
        if dtype != pl.String:
            types[name] = type_name(dtype)
            continue
        if name in datetimes:
            types[name] = dt_type
            continue
        values = df.get_column(name).drop_nulls().str.strip_chars()
        total = values.len()
        if total == 0:
            types[name] = "string"
            continue
        sample = values.head(100_000)
        n = sample.len()
        as_float = sample.cast(pl.Float64, strict=False)
        digits = sample.str.contains(DIGITS)
        ints = int((sample.str.contains(INT_TEXT) & sample.cast(pl.Int64, strict=False).is_not_null()).sum())
        floats = int(as_float.is_not_null().sum())
        bools = int(sample.str.to_lowercase().is_in(["true", "false"]).sum())
        # a type is taken only if its values read back unchanged: codes with leading zeros and
        # integers beyond int64 keep the column text; integers beyond 2**53 never become floats
        codes = bool((digits & ~sample.str.contains(INT_TEXT)).any()) or int(digits.sum()) > ints
        huge = bool((digits & (as_float.abs() >= FLOAT_EXACT)).any())
        if ints == n or (ints >= threshold * n and floats == ints and not codes):
            types[name] = "int64"
        elif floats >= threshold * n:
            # text a float would round (``12345678901234567.89``) keeps the column text, as codes do
            rounds = codes or huge or bool(inexact_floats(sample).any())
            types[name] = "string" if rounds else "float64"
        elif bools >= threshold * n:
            types[name] = "bool"
        else:
            fmts, _epoch, share = detect_formats(sample)
            if fmts and share >= threshold:
                types[name] = dt_type
                datetimes[name] = None
            else:
                types[name] = "string"
    return types, {c: f for c, f in datetimes.items() if c in types}


def cast(
    df: pl.DataFrame,
    types: dict[str, str],
    *,
    datetimes: dict[str, str | None],
    tz: str = "UTC",
    source_tz: str = "UTC",
    rescue: list[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cast columns to ``types``; rows with a value that does not fit go to quarantine.

    Args:
        df: Rows with ``_source``/``_line`` and data columns.
        types: Type name per column to cast.
        datetimes: Text columns to parse as datetimes (format or ``None`` to detect).
        tz: Time zone of parsed datetimes.
        source_tz: Time zone of naive datetime text.
        rescue: With a list (maybe empty), rows are never quarantined: values that do not fit,
            and the listed extra columns, go as JSON into ``_rescued_data`` and are removed.

    Returns:
        ``(typed rows, quarantine rows)``.
    """
    import polars as pl

    schema = df.schema  # once: each df.schema / df.columns is linear in the columns
    text_dt = {c: f for c, f in datetimes.items() if c in schema and schema[c] == pl.String}
    out, _, _ = parse_datetimes(df, text_dt, tz=tz, source_tz=source_tz)
    exprs = {}
    for c, tname in types.items():
        if c not in schema or c in text_dt or type_name(schema[c]) == tname:
            continue
        src = pl.col(c)
        if schema[c] == pl.String:
            src = src.str.strip_chars()
            if tname == "bool":  # polars casts no text to Boolean: the words infer() took for one
                low = src.str.to_lowercase()
                exprs[c] = pl.when(low == "true").then(True).when(low == "false").then(False).otherwise(None)
                continue
            if tname in INT_TYPES or tname.startswith("uint"):
                src = pl.when(src.str.contains(INT_TEXT)).then(src).otherwise(None)
        exprs[c] = src.cast(dtype_of(tname), strict=False)
    if exprs:
        out = out.with_columns(df.select(e.alias(c) for c, e in exprs.items()))
        out = _no_rounded_integers(out, df, [c for c in exprs if types[c] in ("float64", "float32")])
    why = pl.repeat(None, df.height, dtype=pl.String, eager=True)
    failed: dict[str, pl.Series] = {}
    for c in [*text_dt, *exprs]:
        fail = out.get_column(c).is_null() & df.get_column(c).is_not_null()
        if not fail.any():
            continue
        failed[c] = fail
        what = "an unparseable datetime" if c in text_dt else f"not {types[c]}"
        msg = pl.DataFrame({"v": df.get_column(c).cast(pl.String), "f": fail}).select(
            pl.when(pl.col("f")).then(quarantine.value_reason(c, what, pl.col("v")))
        )
        why = why.fill_null(msg.to_series())
    if rescue is not None:
        keep = [pl.col(c).cast(pl.String) for c in rescue]
        keep += [
            pl.when(pl.lit(f)).then(df.get_column(c).cast(pl.String)).alias(c) for c, f in failed.items()
        ]
        if keep:
            packed = df.select(
                pl.when(pl.any_horizontal(e.is_not_null() for e in keep))
                .then(pl.struct(keep).struct.json_encode())
                .alias(RESCUED)
            )
            out = out.drop(rescue).with_columns(packed)
        else:
            out = out.with_columns(pl.lit(None, pl.String).alias(RESCUED))
        return out, pl.DataFrame(schema=quarantine.schema())
    bad_mask = why.is_not_null()
    if not bad_mask.any():
        return out, pl.DataFrame(schema=quarantine.schema())
    data_cols = [c for c in df.columns if not is_internal(c)]
    bad = quarantine.from_frame(
        df.filter(bad_mask).with_columns(why.filter(bad_mask).alias("__why")), pl.col("__why"), data_cols
    )
    return out.filter(~bad_mask), bad


def _no_rounded_integers(out: pl.DataFrame, df: pl.DataFrame, floats: list[str]) -> pl.DataFrame:
    """Null (so: not a fit) a float cast from text it does not hold exactly.

    That is integer text of ``2**53`` or more, and (``float64``) any text :func:`inexact_floats` finds.
    """
    import polars as pl

    schema = df.schema
    for c in floats:
        if schema[c] != pl.String:
            continue
        text = df.get_column(c).str.strip_chars()
        big = out.get_column(c).abs() >= FLOAT_EXACT
        if big.any():
            digits = text.str.contains(DIGITS)
            out = out.with_columns(pl.when(big & digits).then(None).otherwise(pl.col(c)).alias(c))
        if out.schema[c] == pl.Float64:
            odd = inexact_floats(text)
            if odd.any():
                out = out.with_columns(pl.when(odd).then(None).otherwise(pl.col(c)).alias(c))
    return out


def inexact_floats(values: pl.Series) -> pl.Series:
    """Which number texts a float64 does not hold exactly (``True``; nulls and non-numbers: ``False``).

    Vectorised for the common case: text of at most :data:`FLOAT_SHORT` characters (finite) reads
    back unchanged; only longer text (and overflow such as ``1e400``) is checked, in Python:
    ``Decimal(repr(float(t))) == Decimal(t)``.

    Example:
        >>> import polars as pl
        >>> inexact_floats(pl.Series(["0.1", "12345678901234567.89", "1.5000000000000000000"])).to_list()
        [False, True, False]
    """
    import polars as pl

    as_float = values.cast(pl.Float64, strict=False)
    check = (values.str.len_chars() > FLOAT_SHORT) | as_float.is_infinite()
    check = (check & as_float.is_not_null()).fill_null(False)
    if not check.any():
        return check
    rows = check.arg_true()
    odd = [not _exact_float(t) for t in values.gather(rows).str.strip_chars().to_list()]
    return check.scatter(rows, pl.Series(odd, dtype=pl.Boolean))


def _exact_float(text: str) -> bool:
    try:
        return Decimal(repr(float(text))) == Decimal(text)
    except (ValueError, ArithmeticError):
        return False


# ---------------------------------------------------------------- diff
@dataclass
class Diff:
    """What changed from an approved schema to an observed one."""

    added: list[Field] = field(default_factory=list)
    removed: list[Field] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    widened: list[tuple[str, str, str]] = field(default_factory=list)
    nullability: list[tuple[str, bool, bool]] = field(default_factory=list)
    #: Added columns the reader renamed (they clash with altakit's own), new name → the source's.
    renamed: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when nothing changed."""
        return not (self.added or self.removed or self.changed or self.widened or self.nullability)

    @property
    def additive(self) -> bool:
        """True when only columns were added."""
        return bool(self.added) and not (self.removed or self.changed or self.widened or self.nullability)

    def summary(self) -> str:
        """One line for people."""
        parts = []
        if self.added:
            parts.append("added: " + ", ".join(self._named(f.name) for f in self.added))
        if self.removed:
            parts.append("removed: " + ", ".join(f.name for f in self.removed))
        for label, items in (("changed", self.changed), ("widened", self.widened)):
            if items:
                parts.append(f"{label}: " + ", ".join(f"{c} {a}→{b}" for c, a, b in items))
        if self.nullability:
            parts.append("nullable: " + ", ".join(c for c, _, _ in self.nullability))
        return "; ".join(parts) or "no change"

    @property
    def added_names(self) -> set[str]:
        """The names of the added columns."""
        return {f.name for f in self.added}

    def _named(self, name: str) -> str:
        old = self.renamed.get(name)
        return name if old is None else f"{name} (renamed from {old})"

    def to_doc(self) -> dict[str, Any]:
        """JSON form (``renamed`` only when a column was renamed)."""
        doc: dict[str, Any] = {
            "added": [f.to_doc() for f in self.added],
            "removed": [f.to_doc() for f in self.removed],
            "changed": [list(x) for x in self.changed],
            "widened": [list(x) for x in self.widened],
            "nullability": [list(x) for x in self.nullability],
        }
        if self.renamed:
            doc["renamed"] = dict(self.renamed)
        return doc


def diff(approved: Schema, observed: Schema) -> Diff:
    """Compare an approved schema with an observed one (see :class:`Diff`)."""
    out = Diff()
    for f in observed.fields:
        old = approved.get(f.name)
        if old is None:
            out.added.append(f)
            continue
        if old.dtype != f.dtype:
            target = (
                out.widened
                if (old.dtype, f.dtype) in _WIDEN or (old.dtype in INT_TYPES and f.dtype == "float64")
                else out.changed
            )
            target.append((f.name, old.dtype, f.dtype))
        if f.nullable and not old.nullable:
            out.nullability.append((f.name, old.nullable, f.nullable))
    out.removed = [f for f in approved.fields if observed.get(f.name) is None and f.name != RESCUED]
    return out


# ---------------------------------------------------------------- policies
@dataclass
class Plan:
    """What the policy decided: write with ``target`` (maybe a new version), or stop.

    Attributes:
        target: The schema the table is written with.
        new_version: ``target`` must be registered as a new approved version first.
        drop: Observed columns to drop (``ignore``).
        rescue: Columns to pack into ``_rescued_data`` (``rescue``).
        review: The diff needs a person's approval (``review``).
        diff: The diff the decision is based on.
    """

    target: Schema
    new_version: bool = False
    drop: list[str] = field(default_factory=list)
    rescue: list[str] = field(default_factory=list)
    review: bool = False
    diff: Diff = field(default_factory=Diff)


def plan(approved: Schema | None, observed: Schema, policy: str = "review", *, dataset: str = "") -> Plan:
    """Apply an evolution policy to the observed schema.

    Raises:
        SchemaError: ``fail`` with any change, or ``add_new_columns`` with a non-additive change.
        ConfigError: Unknown policy.
    """
    if policy not in POLICIES:
        raise ConfigError(f"unknown schema policy {policy!r}", hint=f"one of {', '.join(POLICIES)}")
    if approved is None:
        return Plan(observed, new_version=True, review=False)
    d = diff(approved, observed)
    if d.empty:
        return Plan(approved, diff=d)
    if policy == "review":
        return Plan(approved, review=True, diff=d)
    if policy == "fail" or (policy == "add_new_columns" and (d.changed or d.widened)):
        raise SchemaError(
            f"schema of {dataset!r} changed ({d.summary()}) and the policy is {policy!r}",
            dataset=dataset,
            diff=d.to_doc(),
            hint="fix the input, or change the policy to 'review' and approve the change",
        )
    if policy == "add_new_columns":
        nullable = {c for c, _, _ in d.nullability}
        fields = [Field(f.name, f.dtype, f.nullable or f.name in nullable) for f in approved.fields]
        fields += [Field(f.name, f.dtype, True) for f in d.added]
        return Plan(Schema(fields), new_version=True, diff=d)
    if policy == "rescue":
        target = approved if approved.get(RESCUED) else Schema([*approved.fields, Field(RESCUED, "string")])
        return Plan(target, rescue=[f.name for f in d.added], new_version=target is not approved, diff=d)
    return Plan(approved, drop=[f.name for f in d.added], diff=d)  # ignore
