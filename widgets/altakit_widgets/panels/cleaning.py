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
from typing import Any

import ipywidgets as w

#: Widths that keep descriptions whole ("Time column", "Threshold") at common page widths.
WIDE = {"description_width": "initial"}
METHODS = [("keep", ""), ("z-score", "zscore"), ("IQR", "iqr"), ("Hampel", "hampel")]
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
        self.kept: list[dict[str, Any]] = []
        self.kept_html = w.HTML()
        self.outlier_box = w.HBox([self.threshold, self.window, self.columns, self.outlier_action])
        self.widget = w.VBox(
            [self.kept_html, w.HBox([self.outliers]), self.outlier_box, w.HBox([self.max_gap, self.resample])]
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
            steps.append({"step": "resample", "rule": self.resample.value.strip()})
        return steps

    def load(self, steps: list[dict[str, Any]]) -> None:
        """Set the widgets from a spec's ``steps`` (steps they cannot show are left out)."""
        self.outliers.value, self.max_gap.value, self.resample.value = "", 0, ""
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
            elif kind == "resample" and set(step) <= {"step", "rule"}:
                self.resample.value = str(step.get("rule", ""))
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
