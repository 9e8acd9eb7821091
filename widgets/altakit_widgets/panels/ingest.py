"""IngestPanel: pick a source, preview it, set cleaning options, estimate, run, and see the outcome.

Every button is one library call, the same a notebook cell makes:
:func:`altakit.ingestion.preview.preview` (readers + schema inference on the first rows) and
:func:`~altakit.ingestion.preview.preview_cleaning` (which rows each cleaning step would change or
set aside), :meth:`altakit.ingestion.IngestJob.estimate`, :func:`altakit.ingestion.ingest` and
:func:`altakit.quarantine` (the rows the run quarantined, still open), shown with a Replay
and a Discard (:class:`~altakit_widgets.panels.quarantine.QuarantineBox`, calling
:func:`altakit.ingestion.replay`). The cleaning widgets
(:class:`~altakit_widgets.panels.cleaning.CleaningOptions`) only fill in an
:class:`~altakit.ingestion.IngestSpec` dict. An upload reaches the kernel in slices
(:class:`~altakit_widgets.panels.upload.ChunkedUpload`: files of any size up to the limit, spooled
to a temp file) and is kept in the store as a raw version (``uploads/<sha256 prefix>/<name>``,
:mod:`altakit.ingestion.uploads`), so a schema review shows its values and re-ingests it.

With ``dashboard=True`` (the Voila dashboards) the panel reads only uploads and store keys,
unless an operator allows server folders (:mod:`~altakit_widgets.panels.safety`), and a
pending schema change links to the review page.

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
from urllib.parse import quote, urlencode

import ipywidgets as w

from altakit.ingestion.preview import Preview, preview
from altakit.ingestion.schema import DEFAULT_POLICY, policies
from altakit.store import open_store
from altakit_widgets.panels.base import POLICY_LABELS, Panel, format_label, grid, type_label
from altakit_widgets.panels.cleaning import WIDE, CleaningOptions, cleaning_html, steps_html
from altakit_widgets.panels.quarantine import QuarantineBox
from altakit_widgets.panels.safety import allowed_roots, check_source, upload_spool
from altakit_widgets.panels.upload import ChunkedUpload

if TYPE_CHECKING:
    import polars as pl

    from altakit.events import Event
    from altakit.ingestion import IngestReport
    from altakit.ingestion.preview import CleaningPreview
    from altakit.ingestion.uploads import UploadSpool
    from altakit.store import Store

#: Source kinds offered, as (label, kind).
SOURCES = [("upload", "upload"), ("store key / prefix", "store"), ("path or s3:// URL", "url")]
#: The schema review dashboard, relative to the ingest dashboard (both in ``notebooks/dashboards/``).
REVIEW_PAGE = "schema_review.ipynb"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def review_link(dataset: str, source: str | None = None, page: str = REVIEW_PAGE) -> str:
    """The URL (relative to a dashboard) of the review page for ``dataset`` and the source it waits on.

    Example:
        >>> review_link("line4", "store:uploads/ab/day2.csv")
        'schema_review.ipynb?dataset=line4&source=store%3Auploads%2Fab%2Fday2.csv'
    """
    query = {"dataset": dataset, **({"source": source} if source else {})}
    return f"{page}?{urlencode(query, quote_via=quote)}"


class IngestPanel(Panel):
    """Ingest a file into a dataset: source → preview → options → estimate → run → outcome.

    Args:
        store: The store (or its URL); ``None`` for the default store.
        dataset: The dataset to ingest into.
        source: A source to start with (path, ``store:key``, URL); picks the matching source kind.
        spec: An ingest spec to start from (time, series, policy, cleaning steps): the widgets show it.
        dashboard: A Voila dashboard drives the panel: only uploads and store keys are read (unless an
            operator allows folders, :mod:`~altakit_widgets.panels.safety`), and a pending schema change
            links to the review page.

    Attributes:
        source: What :meth:`run` ingests (``store:uploads/…`` after an upload).
        preview_result: The last :class:`Preview`, or ``None``.
        cleaning_result: What the cleaning steps would do to the previewed rows, or ``None``.
        estimate_result: The last estimate (rows, bytes, seconds), or ``None``.
        report: The last :class:`~altakit.ingestion.IngestReport`, or ``None``.
        quarantined: The rows the last run quarantined that are still open (after :meth:`show_quarantine`).
        quarantine: The quarantine box: those rows, Replay and Discard.
    """

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        dataset: str = "",
        source: Any = None,
        spec: dict[str, Any] | None = None,
        dashboard: bool = False,
    ) -> None:
        super().__init__("Ingest")
        if dashboard:  # the page's own heading names it: one title, not two
            self.title.layout.display = "none"
        self.store: Store | None = self.call(open_store, store)
        self.dashboard = dashboard
        self.source: Any = None
        self.preview_result: Preview | None = None
        self.cleaning_result: CleaningPreview | None = None
        self.estimate_result: dict[str, Any] | None = None
        self.report: IngestReport | None = None
        self.quarantined: pl.DataFrame | None = None
        self._time_picked = False  # the person chose the time column (else an ingest detects it)
        self._upload_key: str | None = None  # the last upload, kept in the store
        self._setting = False  # the panel itself is setting widgets
        # --- source
        kinds = SOURCES if not dashboard or allowed_roots() else SOURCES[:2]
        self.kind = w.ToggleButtons(options=kinds, value="upload", description="Source")
        self.upload = ChunkedUpload(
            open_spool=self._open_upload,
            on_received=self._keep_upload,
            on_error=self._upload_refused,
            accept=".csv,.tsv,.txt,.parquet,.json,.ndjson,.jsonl,.xlsx,.gz,.bz2,.xz,.zip",
        )
        self.upload_progress = w.FloatProgress(value=0, min=0, max=1, description="Sent")
        self.source_text = w.Text(
            placeholder="raw/sensors.csv or raw/ (prefix)", continuous_update=False, description="Key"
        )
        self.dataset = w.Text(value=dataset, description="Dataset", placeholder="e.g. sensors")
        self.preview_button = w.Button(description="Preview", icon="eye")
        # --- preview
        # column names: as wide as the longest one (the default width cuts names over ~25 characters)
        self.sort_by = w.Dropdown(options=[""], value="", description="Sort by", layout={"width": "auto"})
        self.descending = w.Checkbox(value=False, description="descending", indent=False)
        self.sort_row = w.HBox([self.sort_by, self.descending], layout={"display": "none"})  # after a preview
        self.grid = w.HTML()
        self.schema = w.HTML()
        # --- cleaning options (they fill in the spec)
        self.time = w.Dropdown(
            options=[("(detect)", "")],
            value="",
            description="Time column",
            style=WIDE,
            layout={"width": "auto"},
        )
        self.by = w.Text(description="Series by", placeholder="sensor, site", style=WIDE)
        self.policy = w.Dropdown(
            options=[(POLICY_LABELS.get(p, p), p) for p in policies()],
            value=DEFAULT_POLICY,
            description="New or changed columns",
            style=WIDE,
        )
        self.cleaning = CleaningOptions()
        self.outliers, self.outlier_action = self.cleaning.outliers, self.cleaning.outlier_action
        self.max_gap, self.resample = self.cleaning.max_gap, self.cleaning.resample
        self.cleaning_html = w.HTML()
        # --- estimate, run, outcome
        self.estimate_button = w.Button(description="Estimate", icon="calculator", disabled=True)
        self.estimate_html = w.HTML()
        self.run_button = w.Button(description="Ingest", icon="play", button_style="primary", disabled=True)
        self.progress = w.FloatProgress(value=0, min=0, max=1, description="Progress")
        self.outcome = w.HTML()
        self.quarantine_button = w.Button(  # shown once an ingest set rows aside
            description="Show quarantined rows", icon="ban", layout={"width": "auto", "display": "none"}
        )
        self.quarantine = QuarantineBox(self, who=self._who)
        self.quarantine.widget.layout.display = "none"
        self.quarantine_grid = self.quarantine.grid
        self.body.children = [
            w.HBox([self.kind, self.dataset]),
            w.HBox([self.upload, self.upload_progress, self.source_text, self.preview_button]),
            self.sort_row,
            self.grid,
            self.schema,
            w.HTML("<b>Cleaning</b>"),
            w.HBox([self.time, self.by, self.policy]),
            self.cleaning.widget,
            self.cleaning_html,
            w.HBox([self.estimate_button, self.run_button, self.progress]),
            self.estimate_html,
            self.outcome,
            self.quarantine_button,
            self.quarantine.widget,
        ]
        self.kind.observe(self._on_kind, names="value")
        self.upload.observe(self._on_upload_progress, names="received")
        self.source_text.observe(lambda _: self._on_text(), names="value")
        self.dataset.observe(lambda _: self._sync_buttons(), names="value")
        self.time.observe(lambda _: self._on_time(), names="value")
        self.preview_button.on_click(lambda _: self.show_preview())
        self.sort_by.observe(lambda _: self._show_grid(), names="value")
        self.descending.observe(lambda _: self._show_grid(), names="value")
        self.estimate_button.on_click(lambda _: self.estimate())
        self.run_button.on_click(lambda _: self.run())
        self.quarantine_button.on_click(lambda _: self.show_quarantine())
        if spec:
            self.load_spec(spec)
        self._on_kind({"new": "upload"})
        if source is not None:
            text = str(source)
            kind = "store" if text.startswith("store:") else "url"
            if kind in [k for _, k in self.kind.options]:
                self.kind.value = kind
                self.source_text.value = text.removeprefix("store:")
            else:  # a server path where the operator allowed none: say why it is not read
                self.call(check_source, text)
        if self.store is not None and not self.error_message:
            self.set_status("Pick a source.")
        elif self.store is None:
            self.set_status("No store.")

    # ------------------------------------------------------------------ actions
    def spec(self) -> dict[str, Any]:
        """The ingest spec the cleaning widgets describe (a plain dict, as a notebook would write it)."""
        spec: dict[str, Any] = {"policy": self.policy.value}
        if self.time.value:
            spec["time"] = self.time.value
        by = [c.strip() for c in self.by.value.split(",") if c.strip()]
        if by:
            spec["by"] = by
        steps = self.cleaning.steps()
        if steps:
            spec["steps"] = steps
        return spec

    def load_spec(self, spec: dict[str, Any]) -> None:
        """Show ``spec`` in the widgets (time column, series, policy, cleaning steps)."""
        self._setting = True
        try:
            time = spec.get("time") or ""
            if time:
                self.time.options = list(dict.fromkeys([*self.time.options, (time, time)]))
                self.time.value = time
                self._time_picked = True
            by = spec.get("by") or []
            self.by.value = ", ".join([by] if isinstance(by, str) else by)
            self.policy.value = spec.get("policy", DEFAULT_POLICY)
            self.cleaning.load(list(spec.get("steps") or []))
        finally:
            self._setting = False

    def show_preview(self) -> Preview | None:
        """Preview the source: first rows, inferred types, detected datetime formats (:func:`preview`),
        and the rows each cleaning step would change or set aside (nothing is written)."""
        if not self._ready(need_dataset=False):
            return None
        self._clear_preview()
        found = self.call(preview, self.source, self.spec(), store=self.store)
        if found is None:
            self.set_status("The preview failed: nothing to show.")
            return None
        self.preview_result = found
        columns = found.rows.columns
        self._setting = True
        try:
            keep_time = self.time.value if self._time_picked else ""
            guess = keep_time or _time_column(found)
            self.time.options = [("(none)", ""), *[(c, c) for c in columns]]
            self.time.value = guess if guess in columns else ""
        finally:
            self._setting = False
        self.cleaning.set_columns([c for c, t in found.types.items() if t.startswith(("int", "float"))])
        self.sort_by.options = ["", *columns]
        self.sort_row.layout.display = None
        self._show_grid()
        rows = "".join(
            f"<tr><td><code>{html.escape(c)}</code></td><td>{html.escape(type_label(t))}</td>"
            f"<td>{html.escape(', '.join(map(format_label, found.datetime_formats.get(c, []))))}</td></tr>"
            for c, t in found.types.items()
        )
        self.schema.value = (
            '<table class="altakit-schema"><tr><th>column</th><th>type</th>'
            f"<th>date format</th></tr>{rows}</table>"
        )
        self.show_cleaning()
        names = ", ".join(f.rsplit("/", 1)[-1] for f in found.files)
        self.set_status(f"Previewing {names}: {len(columns)} columns, the first {found.rows.height} rows.")
        return found

    def show_cleaning(self) -> CleaningPreview | None:
        """Mark the previewed rows each cleaning step would change or set aside
        (:func:`~altakit.ingestion.preview.preview_cleaning`)."""
        from altakit.ingestion.preview import preview_cleaning

        self.cleaning_result, self.cleaning_html.value = None, ""
        spec = self.spec()
        if not spec.get("steps") or self.source is None:
            return None
        found = self.call(preview_cleaning, self.source, spec, store=self.store)
        if found is None:
            return None
        self.cleaning_result = found
        self.cleaning_html.value = cleaning_html(found)
        return found

    def estimate(self) -> dict[str, Any] | None:
        """Size the job before it runs (:meth:`altakit.ingestion.IngestJob.estimate`)."""
        from altakit.ingestion import IngestJob

        if not self._ready():
            return None
        self.estimate_html.value, self.estimate_result = "", None
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
        """Ingest the source into the dataset (:func:`altakit.ingestion.ingest`) and show the outcome.

        Without a time column picked, the preview's detected one is used (the status says so).
        """
        from altakit.ingestion import ingest

        self._clear_outcome()
        if not self._ready():
            return None
        from altakit.errors import SchemaChangePending
        from altakit.events import EventStream

        detected = ""
        if not self._time_picked and not self.time.value and self.preview_result is None:
            if self.show_preview() is None:
                self.progress.bar_style, self.progress.value = "danger", 1.0
                return None
            detected = self.time.value
        dataset = self.dataset.value.strip()
        self.run_button.disabled = True
        self.progress.bar_style, self.progress.value = "info", 0.0
        self.set_status(f"Ingesting into {dataset} …")
        events = EventStream(f"ingest {dataset}")
        events.subscribe(self._on_event)
        try:
            report = self.call(ingest, self.source, dataset, self.spec(), store=self.store, events=events)
        finally:
            self._sync_buttons()
        if report is None:
            self.progress.bar_style, self.progress.value = "danger", 1.0
            if isinstance(self.last_exception, SchemaChangePending):
                self.outcome.value = self._pending_html(dataset, self.last_exception)
                self.progress.bar_style = "warning"  # waiting for a person, not failed
                if self.dashboard:  # not an error: the next step, shown with its link below
                    self.clear_error()
            self.set_status("Nothing was written.")
            return None
        self.report = report
        self.progress.bar_style, self.progress.value = "success", 1.0
        self.quarantine_button.layout.display = None if report.rows_quarantined else "none"
        self.outcome.value = self._outcome(report)
        done = f"{dataset}@{report.version} written." if report.version else f"{dataset}: {report.status}."
        self.set_status(f"{done} Time column {detected} (detected)." if detected else done)
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
            what = "upload a file, or type a store key" + (
                "" if self.kind.options == SOURCES[:2] else ", a path or an s3:// URL"
            )
            self.show_error(ConfigError("no source picked", hint=what))
            return False
        if need_dataset and not self.dataset.value.strip():
            hint = "type the dataset to ingest into, e.g. sensors"
            self.show_error(ConfigError("no dataset name", hint=hint))
            return False
        return True

    def _sync_buttons(self) -> None:
        """Estimate and Ingest need a source and a dataset name (a Preview without one says what to pick)."""
        self.estimate_button.disabled = self.run_button.disabled = (
            self.source is None or not self.dataset.value.strip()
        )

    def _clear_preview(self) -> None:
        self.preview_result = self.cleaning_result = None
        self.grid.value = self.schema.value = self.cleaning_html.value = ""
        self.sort_row.layout.display = "none"

    def _clear_outcome(self) -> None:
        self.report, self.quarantined = None, None
        self.outcome.value = ""
        self.progress.bar_style, self.progress.value = "", 0.0
        self.quarantine_grid.value = ""
        self.quarantine.widget.layout.display = "none"
        self.quarantine_button.layout.display = "none"

    def _reset(self) -> None:
        """A new source is coming: nothing the previous one showed stays."""
        self.source = None
        self._clear_preview()
        self._clear_outcome()
        self.estimate_html.value, self.estimate_result = "", None
        self.clear_error()
        self._sync_buttons()

    def _on_time(self) -> None:
        if not self._setting:
            self._time_picked = True

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
        # a key is only text: taken as typed, so Ingest is enabled before the field is left (a path is
        # checked against the allowed folders: taken on Enter or leaving the field, not at every letter)
        self.source_text.continuous_update = change["new"] == "store"
        if change["new"] == "store":
            self.source_text.description, self.source_text.placeholder = "Key", "raw/sensors.csv or raw/"
        else:
            self.source_text.description = "Path / URL"
            self.source_text.placeholder = "s3://bucket/prefix/raw/day1.csv or /data/day1.csv"
        self._reset()
        self.source = self._upload_source() if upload else self._text_source()
        self._sync_buttons()

    def _on_text(self) -> None:
        self._reset()
        self.source = self._text_source()
        self._sync_buttons()
        if self.source is not None:
            self.set_status(f"Source: {self.source}")

    def _open_upload(self, name: str, size: int) -> UploadSpool:
        """A new file is coming: nothing the previous one showed stays; its chunks go to a checked spool."""
        self._reset()
        self._upload_key = None
        self.upload_progress.bar_style, self.upload_progress.value = "info", 0.0
        spool = upload_spool(name, size)
        self.set_status(f"Receiving {spool.name} ({_size(size)}) …")
        return spool

    def _on_upload_progress(self, change: dict[str, Any]) -> None:
        if self.upload.size:
            self.upload_progress.value = min(1.0, change["new"] / self.upload.size)

    def _keep_upload(self, spool: UploadSpool) -> bool:
        """Keep the upload in the store (one raw version per content) as the ``store:`` source."""
        if self.store is None:
            return False
        key = self.call(spool.keep, self.store)
        if key is None:
            self.upload_progress.bar_style = "danger"
            return False
        self._upload_key = key
        self.upload_progress.bar_style, self.upload_progress.value = "success", 1.0
        self.source = f"store:{key}"
        self._sync_buttons()
        self.set_status(f"Received {spool.name} ({_size(spool.size)}); kept in the store as {key}.")
        return True

    def _upload_refused(self, exc: BaseException) -> None:
        self.upload_progress.bar_style = "danger"
        self.show_error(exc)

    def _upload_source(self) -> str | None:
        """The last upload kept in the store, as a ``store:`` source."""
        return f"store:{self._upload_key}" if self._upload_key else None

    def _text_source(self) -> str | None:
        text = self.source_text.value.strip()
        if not text:
            return None
        if self.kind.value == "store":
            return f"store:{text.removeprefix('store:')}"
        if self.dashboard and self.call(check_source, text) is None:
            return None
        return text

    def _pending_html(self, dataset: str, pending: BaseException) -> str:
        from altakit.errors import AltakitError

        diff = pending.fields.get("diff") if isinstance(pending, AltakitError) else None
        what = _diff_words(diff) if isinstance(diff, dict) else ""
        changed = f"this file changes the columns of {html.escape(dataset)}{what}. " if what else ""
        link = review_link(dataset, self.source if isinstance(self.source, str) else None)
        if self.dashboard:
            action = (
                f'<a class="altakit-review-link" href="{html.escape(link)}">Review the change</a> '
                "(approve or reject it there; after an approval, <i>Ingest again</i> on that page "
                "writes this file, no new upload needed)."
            )
        else:
            action = "Review it in the schema review panel (notebook 03), then ingest again."
        waiting = f"<b>Waiting for review</b>: {changed}{action}"
        return f'<div class="altakit-outcome altakit-pending"><p>{waiting}</p></div>'

    def _outcome(self, report: IngestReport) -> str:
        name = f"{report.dataset}@{report.version}" if report.version else report.dataset
        reasons = "".join(
            f"<li>{html.escape(reason)}: {count}</li>" for reason, count in report.quarantine_reasons.items()
        )
        skipped = [s["name"] for s in report.sources if s.get("skipped")]
        note = f"<p>Already ingested (skipped): {html.escape(', '.join(skipped))}</p>" if skipped else ""
        version = f"v{report.schema_version}" if report.schema_version else ""  # as the review page shows it
        return (
            f'<div class="altakit-outcome"><p><b>{html.escape(report.status)}</b>: '
            f'<code class="altakit-version">{html.escape(name)}</code></p>'
            f"<table><tr><th>rows read</th><td>{report.rows_in}</td></tr>"
            f"<tr><th>rows kept</th><td>{report.rows_written}</td></tr>"
            f"<tr><th>rows set aside (quarantined)</th><td>{report.rows_quarantined}</td></tr>"
            f"<tr><th>rows added to the table</th><td>{report.rows_out}</td></tr>"
            f"<tr><th>approved columns</th><td>{version}</td></tr>"
            f"<tr><th>time taken</th><td>{report.seconds:.1f} s</td></tr></table>"
            f"{steps_html(report.steps)}"
            f"{f'<ul>{reasons}</ul>' if reasons else ''}{note}{self._next_html(report)}</div>"
        )

    def _next_html(self, report: IngestReport) -> str:
        """In a dashboard, where to go after a write: every dataset, or training on this table."""
        from altakit_widgets.panels.home import page

        if not self.dashboard or not report.version:
            return ""
        train = page("training", dataset=f"table:{report.dataset}")
        return (
            '<p class="altakit-next">Next: <a href="home.ipynb">all datasets</a> · '
            f'<a class="altakit-next-train" href="{html.escape(train)}">train a model on '
            f"{html.escape(report.dataset)}</a></p>"
        )


def _diff_words(diff: dict[str, Any]) -> str:
    """`` (added: flow_rate)`` from a schema diff's JSON form (empty when it names nothing)."""
    parts = []
    for key, word in (
        ("added", "added"),
        ("removed", "removed"),
        ("changed", "changed"),
        ("widened", "widened"),
    ):
        names = [str(f.get("name") if isinstance(f, dict) else f[0]) for f in diff.get(key) or []]
        if names:
            parts.append(f"{word}: {', '.join(names)}")
    return f" ({html.escape('; '.join(parts))})" if parts else ""


def _time_column(found: Preview) -> str:
    """The first datetime column of a preview (empty: none)."""
    return next((c for c, t in found.types.items() if t.startswith("datetime")), "")
