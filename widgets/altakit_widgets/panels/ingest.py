"""IngestPanel: pick a source, preview it, set cleaning options, estimate, run, and see the outcome.

Every button is one library call, the same a notebook cell makes:
:func:`altakit.ingestion.preview.preview` (readers + schema inference on the first rows),
:meth:`altakit.ingestion.IngestJob.estimate`, :func:`altakit.ingestion.ingest` and
:func:`altakit.quarantine` (the rows the run quarantined, still open), shown with a Replay
and a Discard (:class:`~altakit_widgets.panels.quarantine.QuarantineBox`, calling
:func:`altakit.ingestion.replay`).
The cleaning widgets only fill in an :class:`~altakit.ingestion.IngestSpec` dict.

Example:
    >>> from altakit_widgets.panels import IngestPanel
    >>> panel = IngestPanel(store, dataset="sensors", source="data/sensors_day1.csv")  # doctest: +SKIP
    >>> panel.run()  # doctest: +SKIP
    >>> panel.report.version  # doctest: +SKIP
    1
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from altakit.ingestion.preview import Preview, preview
from altakit.ingestion.schema import DEFAULT_POLICY, policies
from altakit.store import open_store
from altakit_widgets.panels.base import Panel, grid
from altakit_widgets.panels.quarantine import QuarantineBox

if TYPE_CHECKING:
    import polars as pl

    from altakit.events import Event
    from altakit.ingestion import IngestReport
    from altakit.store import Store

#: Source kinds offered, as (label, kind).
SOURCES = [("upload", "upload"), ("store key / prefix", "store"), ("path or s3:// URL", "url")]


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


class IngestPanel(Panel):
    """Ingest a file into a dataset: source → preview → options → estimate → run → outcome.

    Args:
        store: The store (or its URL); ``None`` for the default store.
        dataset: The dataset to ingest into.
        source: A source to start with (path, ``store:key``, URL); picks the matching source kind.

    Attributes:
        source: What :meth:`run` ingests (``(name, bytes)`` after an upload).
        preview_result: The last :class:`Preview`, or ``None``.
        estimate_result: The last estimate (rows, bytes, seconds), or ``None``.
        report: The last :class:`~altakit.ingestion.IngestReport`, or ``None``.
        quarantined: The rows the last run quarantined that are still open (after :meth:`show_quarantine`).
        quarantine: The quarantine box: those rows, Replay and Discard.

    Example:
        >>> panel = IngestPanel(None, dataset="sensors")  # doctest: +SKIP
        >>> panel.source_text.value = "store:raw/sensors.csv"  # doctest: +SKIP
    """

    def __init__(self, store: Store | str | None = None, *, dataset: str = "", source: Any = None) -> None:
        super().__init__("Ingest")
        self.store: Store | None = self.call(open_store, store)
        self.source: Any = None
        self.preview_result: Preview | None = None
        self.estimate_result: dict[str, Any] | None = None
        self.report: IngestReport | None = None
        self.quarantined: pl.DataFrame | None = None
        # --- source
        self.kind = w.ToggleButtons(options=SOURCES, value="upload", description="Source")
        self.upload = w.FileUpload(
            accept=".csv,.tsv,.txt,.parquet,.json,.ndjson,.jsonl,.xlsx,.gz,.bz2,.xz,.zip", multiple=False
        )
        self.upload_progress = w.FloatProgress(value=0, min=0, max=1, description="Upload")
        self.source_text = w.Text(
            placeholder="raw/sensors.csv or raw/ (prefix)", continuous_update=False, description="Key"
        )
        self.dataset = w.Text(value=dataset, description="Dataset", placeholder="e.g. sensors")
        self.preview_button = w.Button(description="Preview", icon="eye")
        # --- preview
        self.sort_by = w.Dropdown(options=[""], value="", description="Sort by")
        self.descending = w.Checkbox(value=False, description="descending", indent=False)
        self.grid = w.HTML()
        self.schema = w.HTML()
        # --- cleaning options (they fill in the spec)
        self.time = w.Dropdown(options=[("(none)", "")], value="", description="Time column")
        self.by = w.Text(description="Series by", placeholder="sensor, site")
        self.policy = w.Dropdown(options=policies(), value=DEFAULT_POLICY, description="Schema")
        self.outliers = w.Dropdown(
            options=[("keep", ""), ("zscore", "zscore"), ("iqr", "iqr"), ("hampel", "hampel")],
            value="",
            description="Outliers",
        )
        self.outlier_action = w.Dropdown(options=["null", "quarantine"], value="null", description="then")
        self.max_gap = w.BoundedIntText(value=0, min=0, max=10_000, description="Fill gaps ≤")
        self.resample = w.Text(description="Resample", placeholder="e.g. 15m (empty: keep)")
        # --- estimate, run, outcome
        self.estimate_button = w.Button(description="Estimate", icon="calculator")
        self.estimate_html = w.HTML()
        self.run_button = w.Button(description="Ingest", icon="play", button_style="primary")
        self.progress = w.FloatProgress(value=0, min=0, max=1, description="Progress")
        self.outcome = w.HTML()
        self.quarantine_button = w.Button(description="Show quarantined rows", icon="ban", disabled=True)
        self.quarantine = QuarantineBox(self, who=self._who)
        self.quarantine.widget.layout.display = "none"
        self.quarantine_grid = self.quarantine.grid
        self.body.children = [
            w.HBox([self.kind, self.dataset]),
            w.HBox([self.upload, self.upload_progress, self.source_text, self.preview_button]),
            w.HBox([self.sort_by, self.descending]),
            self.grid,
            self.schema,
            w.HTML("<b>Cleaning</b>"),
            w.HBox([self.time, self.by, self.policy]),
            w.HBox([self.outliers, self.outlier_action, self.max_gap, self.resample]),
            w.HBox([self.estimate_button, self.run_button, self.progress]),
            self.estimate_html,
            self.outcome,
            self.quarantine_button,
            self.quarantine.widget,
        ]
        self.kind.observe(self._on_kind, names="value")
        self.upload.observe(self._on_upload, names="value")
        self.source_text.observe(lambda _: self._on_text(), names="value")
        self.preview_button.on_click(lambda _: self.show_preview())
        self.sort_by.observe(lambda _: self._show_grid(), names="value")
        self.descending.observe(lambda _: self._show_grid(), names="value")
        self.estimate_button.on_click(lambda _: self.estimate())
        self.run_button.on_click(lambda _: self.run())
        self.quarantine_button.on_click(lambda _: self.show_quarantine())
        self._on_kind({"new": "upload"})
        if source is not None:
            text = str(source)
            self.kind.value = "store" if text.startswith("store:") else "url"
            self.source_text.value = text.removeprefix("store:")
        self.set_status("Pick a source." if self.store is not None else "No store.")

    # ------------------------------------------------------------------ actions
    def spec(self) -> dict[str, Any]:
        """The ingest spec the cleaning widgets describe (a plain dict, as a notebook would write it)."""
        spec: dict[str, Any] = {"policy": self.policy.value}
        if self.time.value:
            spec["time"] = self.time.value
        by = [c.strip() for c in self.by.value.split(",") if c.strip()]
        if by:
            spec["by"] = by
        steps: list[dict[str, Any]] = []
        if self.outliers.value:
            action = self.outlier_action.value
            steps.append({"step": "outliers", "method": self.outliers.value, "action": action})
        if self.max_gap.value:
            steps.append({"step": "fill_gaps", "max_gap": int(self.max_gap.value)})
        if self.resample.value.strip():
            steps.append({"step": "resample", "rule": self.resample.value.strip()})
        if steps:
            spec["steps"] = steps
        return spec

    def show_preview(self) -> Preview | None:
        """Preview the source: first rows, inferred types, detected datetime formats (:func:`preview`)."""
        if not self._ready(need_dataset=False):
            return None
        found = self.call(preview, self.source, self.spec(), store=self.store)
        if found is None:
            return None
        self.preview_result = found
        columns = found.rows.columns
        keep_time = self.time.value
        guess = keep_time or next((c for c, t in found.types.items() if t.startswith("datetime")), "")
        self.time.options = [("(none)", ""), *[(c, c) for c in columns]]
        self.time.value = guess if guess in columns else ""
        self.sort_by.options = ["", *columns]
        self._show_grid()
        rows = "".join(
            f"<tr><td><code>{html.escape(c)}</code></td><td>{html.escape(t)}</td>"
            f"<td>{html.escape(', '.join(found.datetime_formats.get(c, [])))}</td></tr>"
            for c, t in found.types.items()
        )
        self.schema.value = (
            '<table class="altakit-schema"><tr><th>column</th><th>inferred type</th>'
            f"<th>datetime format</th></tr>{rows}</table>"
        )
        self.set_status(f"Previewing {', '.join(found.files)}: {len(columns)} columns.")
        return found

    def estimate(self) -> dict[str, Any] | None:
        """Size the job before it runs (:meth:`altakit.ingestion.IngestJob.estimate`)."""
        from altakit.ingestion import IngestJob

        if not self._ready():
            return None
        job = self.call(IngestJob, self.source, self.dataset.value.strip(), self.spec(), store=self.store)
        found = self.call(job.estimate) if job is not None else None
        if found is None:
            return None
        self.estimate_result = found
        self.estimate_html.value = (
            f'<div class="altakit-estimate">Estimate: {found["files"]} file(s), {_size(found["bytes"])}, '
            f"about {found['rows']:,} rows, about {found['seconds']:.1f} s</div>"
        )
        return found

    def _on_event(self, event: Event) -> None:
        """Move the progress bar with the ingest's ``progress`` events (reading is 90 %, writing the rest)."""
        if event.kind == "progress" and event.total:
            stage = event.data.get("stage", "working")
            share = {"resolve": 0.1, "read": 0.9}.get(stage, 1.0)  # resolving files is the first 10 %
            self.progress.value = min(1.0, share * event.done / event.total) if event.done else 0.0
            unit = "files" if stage == "resolve" else "rows"
            self.set_status(f"{stage}: {event.done:,} of ~{event.total:,} {unit}")

    def run(self) -> IngestReport | None:
        """Ingest the source into the dataset (:func:`altakit.ingestion.ingest`) and show the outcome."""
        from altakit.ingestion import ingest

        if not self._ready():
            return None
        from altakit.events import EventStream

        dataset = self.dataset.value.strip()
        self.run_button.disabled = True
        self.progress.bar_style, self.progress.value = "info", 0.0
        self.set_status(f"Ingesting into {dataset} …")
        events = EventStream(f"ingest {dataset}")
        events.subscribe(self._on_event)
        try:
            report = self.call(ingest, self.source, dataset, self.spec(), store=self.store, events=events)
        finally:
            self.run_button.disabled = False
        if report is None:
            self.progress.bar_style, self.progress.value = "danger", 1.0
            self.set_status("Nothing was written.")
            return None
        self.report, self.quarantined = report, None
        self.progress.bar_style, self.progress.value = "success", 1.0
        self.quarantine_grid.value = ""
        self.quarantine.widget.layout.display = "none"
        self.quarantine_button.disabled = not report.rows_quarantined
        self.outcome.value = self._outcome(report)
        self.set_status(
            f"{dataset}@{report.version} written." if report.version else f"{dataset}: {report.status}."
        )
        return report

    def show_quarantine(self) -> pl.DataFrame | None:
        """The rows the last run quarantined that are still open (:func:`altakit.quarantine`), to replay."""
        if self.report is None or self.report.version is None or self.store is None:
            return None
        frame = self.quarantine.load(self.store, self.report.dataset, self.report.version)
        if frame is None:
            return None
        self.quarantined = frame
        self.quarantine.widget.layout.display = None
        return frame

    def _who(self) -> str:
        from altakit_widgets.panels.schema import current_user

        return current_user(self.store)

    # ------------------------------------------------------------------ helpers
    def _ready(self, *, need_dataset: bool = True) -> bool:
        from altakit.errors import ConfigError

        self.clear_error()
        if self.store is None:
            self.show_error(ConfigError("no store is open", hint="pass a store or set $ALTAKIT_STORE"))
            return False
        if self.source is None:
            hint = "upload a file, or type a store key, a path or an s3:// URL"
            self.show_error(ConfigError("no source picked", hint=hint))
            return False
        if need_dataset and not self.dataset.value.strip():
            hint = "type the dataset to ingest into, e.g. sensors"
            self.show_error(ConfigError("no dataset name", hint=hint))
            return False
        return True

    def _show_grid(self) -> None:
        if self.preview_result is None:
            return
        frame = self.preview_result.rows
        if self.sort_by.value:
            frame = frame.sort(self.sort_by.value, descending=self.descending.value, nulls_last=True)
        self.grid.value = grid(frame)

    def _on_kind(self, change: dict[str, Any]) -> None:
        upload = change["new"] == "upload"
        self.upload.layout.display = None if upload else "none"
        self.upload_progress.layout.display = None if upload else "none"
        self.source_text.layout.display = "none" if upload else None
        if change["new"] == "store":
            self.source_text.description, self.source_text.placeholder = "Key", "raw/sensors.csv or raw/"
        else:
            self.source_text.description = "Path / URL"
            self.source_text.placeholder = "s3://bucket/prefix/raw/day1.csv or /data/day1.csv"
        self.source = self._upload_source() if upload else self._text_source()

    def _on_text(self) -> None:
        self.source = self._text_source()
        if self.source is not None:
            self.set_status(f"Source: {self.source}")

    def _on_upload(self, change: dict[str, Any]) -> None:
        self.source = self._upload_source()
        if self.source is not None:
            name, data = self.source
            self.upload_progress.value = 1.0
            self.upload_progress.bar_style = "success"
            self.set_status(f"Received {name} ({_size(len(data))}).")

    def _upload_source(self) -> tuple[str, bytes] | None:
        files = self.upload.value
        if not files:
            return None
        item = files[0]
        return str(item["name"]), bytes(item["content"])

    def _text_source(self) -> str | None:
        text = self.source_text.value.strip()
        if not text:
            return None
        return f"store:{text.removeprefix('store:')}" if self.kind.value == "store" else text

    def _outcome(self, report: IngestReport) -> str:
        name = f"{report.dataset}@{report.version}" if report.version else report.dataset
        reasons = "".join(
            f"<li>{html.escape(reason)}: {count}</li>" for reason, count in report.quarantine_reasons.items()
        )
        skipped = [s["name"] for s in report.sources if s.get("skipped")]
        note = f"<p>Already ingested (skipped): {html.escape(', '.join(skipped))}</p>" if skipped else ""
        return (
            f'<div class="altakit-outcome"><p><b>{html.escape(report.status)}</b>: '
            f'<code class="altakit-version">{html.escape(name)}</code></p>'
            f"<table><tr><th>rows read</th><td>{report.rows_in}</td></tr>"
            f"<tr><th>rows written</th><td>{report.rows_written}</td></tr>"
            f"<tr><th>rows quarantined</th><td>{report.rows_quarantined}</td></tr>"
            f"<tr><th>rows in the commit</th><td>{report.rows_out}</td></tr>"
            f"<tr><th>schema version</th><td>{report.schema_version or ''}</td></tr>"
            f"<tr><th>seconds</th><td>{report.seconds:.2f}</td></tr></table>"
            f"{f'<ul>{reasons}</ul>' if reasons else ''}{note}</div>"
        )
