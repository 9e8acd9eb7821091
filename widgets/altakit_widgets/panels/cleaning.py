"""The ingest panel's cleaning options: widgets that fill in the ``steps`` of an ingest spec, and back.

Every option a step takes in a spec has a widget: the outlier method with its
threshold, Hampel window, columns and action; the longest gap to fill; the
resample rule. :meth:`CleaningOptions.steps` is the spec's ``steps`` list, and
:meth:`CleaningOptions.load` sets the widgets from one (so a panel mirrors the
spec a notebook passes it: steps without widgets, such as ``failures``, are kept as they are, run
first, and named under the widgets).

Example:
    >>> box = CleaningOptions()
    >>> box.load([{"step": "outliers", "method": "hampel", "threshold": 6, "columns": ["temp"]}])
    >>> box.steps()[0]["threshold"], box.steps()[0]["columns"]
    (6.0, ['temp'])
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from altakit_widgets.panels.base import grid

if TYPE_CHECKING:
    import polars as pl

    from altakit.ingestion.preview import CleaningPreview

#: Widths that keep descriptions whole ("Time column", "Threshold") at common page widths.
WIDE = {"description_width": "initial"}
METHODS = [("keep", ""), ("z-score", "zscore"), ("IQR", "iqr"), ("Hampel", "hampel")]
#: How Resample builds each grid point: only interpolation adds the missing times (a missing hour).
RESAMPLE_HOW = [
    ("average per interval", "mean"),
    ("interpolate (fills missing times)", "linear"),
    ("nearest reading", "nearest"),
]
#: Step names as people read them (``outliers:hampel`` → ``Outliers (Hampel)``).
STEP_LABELS = {
    "outliers": "Outliers",
    "failures": "Failed sensor",
    "fill_gaps": "Fill gaps",
    "resample": "Resample",
    "zscore": "z-score",
    "iqr": "IQR",
    "hampel": "Hampel",
    "mean": "average",
    "linear": "interpolate",
    "nearest": "nearest",
}


def step_label(step: str) -> str:
    """A step's report name as a person reads it.

    Example:
        >>> step_label("outliers:hampel"), step_label("fill_gaps"), step_label("resample:linear")
        ('Outliers (Hampel)', 'Fill gaps', 'Resample (interpolate)')
    """
    kind, _, detail = step.partition(":")
    label = STEP_LABELS.get(kind, kind)
    return f"{label} ({STEP_LABELS.get(detail, detail)})" if detail else label


#: What each method's threshold multiplies, as the threshold field says it.
THRESHOLD_LABELS = {
    "zscore": "Threshold (× standard deviation)",
    "iqr": "Threshold (× middle-half spread)",
    "hampel": "Threshold (× typical spread)",
}
#: Each method's default threshold (as :class:`altakit.ingestion.clean.Outliers` uses it).
DEFAULT_THRESHOLD = {"zscore": 3.0, "iqr": 1.5, "hampel": 3.0}


class CleaningOptions:
    """Widgets for the cleaning steps; ``widget`` holds them.

    Attributes:
        outliers: Method (empty: keep every value).
        threshold: The method's threshold (see :class:`~altakit.ingestion.clean.Outliers`).
        window: Hampel's window in rows.
        columns: Numeric columns the outlier step looks at (none picked: all numeric columns).
        outlier_action: ``null`` (blank the value) or ``quarantine`` (set the row aside).
        max_gap: Longest run of missing values to fill (0: no filling).
        resample: Resample rule (empty: keep the rows' own times).
        resample_how: How each grid point is made (``mean``, ``linear``, ``nearest``).
        kept: Steps of a loaded spec that have no widgets here (kept unchanged, run first).
    """

    def __init__(self) -> None:
        self.outliers = w.Dropdown(options=METHODS, value="", description="Outliers", style=WIDE)
        self.threshold = w.BoundedFloatText(
            value=3.0, min=0.1, max=1000, step=0.5, description="Threshold", style=WIDE
        )
        self.window = w.BoundedIntText(
            value=7, min=3, max=1001, step=2, description="Window (rows)", style=WIDE
        )
        self.columns = w.SelectMultiple(options=[], rows=3, description="Columns", style=WIDE)
        self.outlier_action = w.Dropdown(
            options=[("blank the value", "null"), ("set the row aside", "quarantine")],
            value="null",
            description="then",
            style=WIDE,
        )
        self.max_gap = w.BoundedIntText(
            value=0, min=0, max=10_000, description="Fill gaps up to (rows)", style=WIDE
        )
        self.resample = w.Text(description="Resample to", placeholder="e.g. 15m (empty: keep)", style=WIDE)
        self.resample_how = w.Dropdown(options=RESAMPLE_HOW, value="mean", description="by", style=WIDE)
        self.kept: list[dict[str, Any]] = []
        self.kept_html = w.HTML()
        self.outlier_box = w.HBox([self.threshold, self.window, self.columns, self.outlier_action])
        self.widget = w.VBox(
            [
                self.kept_html,
                w.HBox([self.outliers]),
                self.outlier_box,
                w.HBox([self.max_gap, self.resample, self.resample_how]),
            ]
        )
        self.outliers.observe(lambda _: self._on_method(), names="value")
        self._on_method()

    def set_columns(self, numeric: list[str]) -> None:
        """Offer ``numeric`` for the outlier step (keeps the picked ones that still exist)."""
        keep = tuple(c for c in self.columns.value if c in numeric)
        self.columns.options = numeric
        self.columns.value = keep

    def steps(self) -> list[dict[str, Any]]:
        """The spec's ``steps`` (empty when nothing is cleaned)."""
        steps: list[dict[str, Any]] = [dict(s) for s in self.kept]
        if self.outliers.value:
            step: dict[str, Any] = {"step": "outliers", "method": self.outliers.value}
            step["action"] = self.outlier_action.value
            step["threshold"] = float(self.threshold.value)
            if self.outliers.value == "hampel":
                step["window"] = int(self.window.value)
            if self.columns.value:
                step["columns"] = list(self.columns.value)
            steps.append(step)
        if self.max_gap.value:
            steps.append({"step": "fill_gaps", "max_gap": int(self.max_gap.value)})
        if self.resample.value.strip():
            step = {"step": "resample", "rule": self.resample.value.strip()}
            if self.resample_how.value != "mean":
                step["how"] = self.resample_how.value
            steps.append(step)
        return steps

    def load(self, steps: list[dict[str, Any]]) -> None:
        """Set the widgets from a spec's ``steps`` (steps they cannot show are left out)."""
        self.outliers.value, self.max_gap.value, self.resample.value = "", 0, ""
        self.resample_how.value = "mean"
        self.kept = []
        for step in steps:
            kind = step.get("step")
            if kind == "outliers":
                self.outliers.value = step.get("method", "zscore")
                if step.get("threshold") is not None:
                    self.threshold.value = float(step["threshold"])
                self.window.value = int(step.get("window", 7))
                self.outlier_action.value = step.get("action", "null")
                cols = list(step.get("columns") or [])
                self.columns.options = list(dict.fromkeys([*self.columns.options, *cols]))
                self.columns.value = tuple(cols)
            elif kind == "fill_gaps" and isinstance(step.get("max_gap"), int):
                self.max_gap.value = int(step["max_gap"])
            elif (
                kind == "resample"
                and set(step) <= {"step", "rule", "how"}
                and step.get("how", "mean") in {how for _, how in RESAMPLE_HOW}
            ):
                self.resample.value = str(step.get("rule", ""))
                self.resample_how.value = step.get("how", "mean")
            else:
                self.kept.append(dict(step))
        names = ", ".join(str(s.get("step")) for s in self.kept)
        self.kept_html.value = f"<p>Also from the spec (run first): {html.escape(names)}</p>" if names else ""

    def _on_method(self) -> None:
        method = self.outliers.value
        self.outlier_box.layout.display = None if method else "none"
        self.window.layout.display = None if method == "hampel" else "none"
        if method:
            self.threshold.value = DEFAULT_THRESHOLD[method]
            self.threshold.description = THRESHOLD_LABELS[method]


def steps_html(steps: list[dict[str, Any]]) -> str:
    """What each cleaning step changed, with the reason when it changed nothing."""
    from altakit.ingestion.clean import explain

    if not steps:
        return ""
    items = []
    for step in steps:
        changed = sum(step.get("changed", {}).values())
        rows = step.get("rows_before", 0) - step.get("rows_after", 0)
        what = f"{changed} value(s) changed" + (f", {rows} row(s) fewer" if rows > 0 else "")
        why = explain(step)
        items.append(
            f'<li class="altakit-step"><b>{html.escape(step_label(step["step"]))}</b>: {what}'
            f"{f' ({html.escape(why)})' if why else ''}</li>"
        )
    return f'<ul class="altakit-steps">{"".join(items)}</ul>'


def cleaning_html(found: CleaningPreview) -> str:
    """The previewed rows a cleaning step would change or set aside, marked per step."""
    from altakit.ingestion.clean import explain

    notes = "".join(
        f'<li class="altakit-step">{html.escape(step_label(s.step))}: {s.summary()}'
        f"{f' ({html.escape(why)})' if (why := explain(s.report)) else ''}</li>"
        for s in found.steps
    )
    if found.marked.height == 0:
        return (
            f'<div class="altakit-cleaning"><p>In the first {found.rows_read} rows no step changes a row.</p>'
            f"<ul>{notes}</ul></div>"
        )
    return (
        f'<div class="altakit-cleaning"><p>In the first {found.rows_read} rows, the cleaning steps would '
        f"change these (nothing is written yet):</p><ul>{notes}</ul>"
        f"{grid(_readable_marks(found.marked), css_class='altakit-grid altakit-marked')}</div>"
    )


def _readable_marks(marked: pl.DataFrame) -> pl.DataFrame:
    """The ``marks`` column with step names as people read them (``Outliers (Hampel): set aside``)."""
    import polars as pl

    def readable(text: str) -> str:
        return "; ".join(
            f"{step_label(step)}: {what}" for step, _, what in (m.rpartition(": ") for m in text.split("; "))
        )

    return marked.with_columns(pl.col("marks").map_elements(readable, pl.String))
