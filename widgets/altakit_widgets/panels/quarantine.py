"""QuarantineBox: a dataset's open quarantined rows, with Replay and Discard; part of two panels.

The IngestPanel shows it under a run's outcome (the rows that run quarantined), the
SchemaReviewPanel under the table (every open row of the dataset). It holds no logic: it lists
rows with :func:`altakit.ingestion.quarantine_log.quarantine` and
:func:`~altakit.ingestion.quarantine_log.accounting`, and its buttons call
:func:`altakit.ingestion.replay.replay` (the fix: a datetime format, or a corrected value, for
one column; only rows whose reason contains a text) and :func:`~altakit.ingestion.replay.discard`
(the comment is the reason). Errors show in the owning panel, as message and hint.

Example:
    >>> box = QuarantineBox(panel, who=lambda: "ana")  # doctest: +SKIP
    >>> box.load(store, "sensors")  # doctest: +SKIP
    >>> box.column.value, box.format.value = "ts", "%d.%m.%Y %H:%M"  # doctest: +SKIP
    >>> box.replay().version  # doctest: +SKIP
    3
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from altakit.ingestion.quarantine_log import META_COLUMNS
from altakit_widgets.panels.base import format_label, grid

if TYPE_CHECKING:
    import polars as pl

    from altakit.ingestion.replay import ReplayReport
    from altakit.store import Store
    from altakit_widgets.panels.base import Panel

#: Rows shown in the grid (the frame in :attr:`QuarantineBox.rows` holds all).
SHOWN = 50
#: The date-format field's example (shown as people read it, ``DD.MM.YYYY hh:mm``).
EXAMPLE_FORMAT = "%d.%m.%Y %H:%M"
#: A pattern as people write it → its codes (longest first; ``hh`` is ``%I`` beside ``AM/PM``).
_PATTERN = [("YYYY", "%Y"), ("±hh:mm", "%z"), ("AM/PM", "%p"), ("Mon", "%b"), ("YY", "%y"), ("MM", "%m"),
            ("DD", "%d"), ("hh", "%H"), ("mm", "%M"), ("ss", "%S")]  # fmt: skip
#: A value as the quarantine keeps a UTC time (``2024-03-01 20:00:00.000000+00:00``), to the second.
_UTC_TEXT = r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.0+)?(?:\+00:00|Z)?$"


def format_code(pattern: str) -> str:
    """A date format as people write it (``DD.MM.YYYY hh:mm``) in the codes replay reads.

    A pattern that already holds ``%`` codes is kept as it is.

    Example:
        >>> format_code("DD.MM.YYYY hh:mm"), format_code("MM/DD/YY hh:mm AM/PM"), format_code("%d.%m.%Y")
        ('%d.%m.%Y %H:%M', '%m/%d/%y %I:%M %p', '%d.%m.%Y')
    """
    if "%" in pattern:
        return pattern
    out, i = "", 0
    while i < len(pattern):
        text, code = next(((t, c) for t, c in _PATTERN if pattern.startswith(t, i)), (pattern[i], pattern[i]))
        out += "%I" if code == "%H" and "AM/PM" in pattern else code
        i += len(text)
    return out


class QuarantineBox:
    """Open quarantined rows of one dataset (optionally of one ingest), with Replay and Discard.

    Args:
        panel: The panel whose error area and status line the box uses.
        who: Who acts (the reviewer or the current user).

    Attributes:
        widget: The box's widgets.
        rows: The open rows shown (:func:`~altakit.ingestion.quarantine_log.quarantine`), or ``None``.
        counts: The dataset's quarantine accounting (quarantined, replayed, open, discarded).
        report: The last :class:`~altakit.ingestion.replay.ReplayReport`, or ``None``.
    """

    def __init__(self, panel: Panel, *, who: Callable[[], str]) -> None:
        self.panel, self.who = panel, who
        self.store: Store | None = None
        self.dataset = ""
        self.ingest: int | None = None
        self.rows: pl.DataFrame | None = None
        self.counts: dict[str, int] = {}
        self.report: ReplayReport | None = None
        self.summary = w.HTML()
        self.grid = w.HTML()
        self.column = w.Dropdown(options=[("(none)", "")], value="", description="Fix column")
        self.format = w.Text(description="date format", placeholder=f"e.g. {format_label(EXAMPLE_FORMAT)}")
        self.old = w.Text(description="replace", placeholder="12,5")
        self.new = w.Text(description="with", placeholder="12.5")
        self.reason = w.Text(description="Reason has", placeholder="only rows whose reason contains …")
        self.comment = w.Text(description="Comment", placeholder="why (needed to discard)")
        self.replay_button = w.Button(
            description="Replay", icon="repeat", button_style="primary", disabled=True
        )
        self.discard_button = w.Button(description="Discard", icon="trash", disabled=True)
        self.widget = w.VBox(
            [
                self.summary,
                self.grid,
                w.HBox([self.column, self.format]),
                w.HBox([self.old, self.new]),
                w.HBox([self.reason, self.comment]),
                w.HBox([self.replay_button, self.discard_button]),
            ]
        )
        self.widget.add_class("altakit-quarantine")
        self.replay_button.on_click(lambda _: self.replay())
        self.discard_button.on_click(lambda _: self.discard())

    def load(self, store: Store, dataset: str, ingest: int | None = None) -> pl.DataFrame | None:
        """Show the open rows of ``dataset`` (of the ingest that wrote version ``ingest``, if given)."""
        from altakit.ingestion.quarantine_log import accounting, quarantine

        self.store, self.dataset, self.ingest = store, dataset, ingest
        rows = self.panel.call(quarantine, dataset, store=store, ingest=ingest)
        counts = self.panel.call(accounting, dataset, store=store) if rows is not None else None
        if rows is None or counts is None:
            self.clear()
            return None
        self.rows, self.counts = rows, counts
        data = [c for c in rows.columns if c not in META_COLUMNS]
        self.column.options = [("(none)", ""), *[(c, c) for c in data]]
        self.replay_button.disabled = self.discard_button.disabled = rows.height == 0
        if counts["quarantined"] == 0:  # nothing was ever set aside: no counts, no empty table
            self.summary.value = '<p class="altakit-quarantine-summary">No rows set aside.</p>'
            self.grid.value = ""
            return rows
        self.summary.value = (
            f'<div class="altakit-quarantine-summary">Quarantine of <code>{html.escape(dataset)}</code>: '
            f"{counts['quarantined']} rows quarantined = {counts['replayed']} replayed + "
            f"{counts['open']} open + {counts['discarded']} discarded"
            f"{f'; {rows.height} open from this ingest' if ingest is not None else ''}</div>"
        )
        import polars as pl

        shown = rows.select(
            pl.col("_reason").alias("why set aside"),
            pl.col("_source").str.split("/").list.last().alias("from file"),
            pl.col("_line").alias("file line"),
            *[pl.col(c).str.replace(_UTC_TEXT, "$1 $2") if rows.schema[c] == pl.String else c for c in data],
        )
        css = "altakit-grid altakit-quarantine-grid"
        self.grid.value = grid(shown, css_class=css, limit=SHOWN) if rows.height else ""  # no bare header
        return rows

    def clear(self) -> None:
        """Show nothing (no dataset)."""
        self.rows, self.counts, self.summary.value, self.grid.value = None, {}, "", ""
        self.replay_button.disabled = self.discard_button.disabled = True

    def fix(self) -> dict[str, Any]:
        """The fix the widgets describe: ``formats`` and ``values`` (what :func:`replay` takes)."""
        col = self.column.value
        fmt = format_code(self.format.value.strip())
        formats = {col: fmt} if col and fmt else {}
        values = {col: {self.old.value: self.new.value}} if col and self.old.value else {}
        return {"formats": formats, "values": values}

    def replay(self, rows: Any = None) -> ReplayReport | None:
        """Replay the open rows shown (or ``rows``, an edited copy of :attr:`rows`) with the fix."""
        from altakit.ingestion.replay import replay

        if self.store is None or self.rows is None:
            return None
        report = self.panel.call(
            replay,
            self.dataset,
            rows,
            **self.fix(),
            entries=None if rows is not None else self.rows.get_column("_entry").to_list(),
            reason=self.reason.value.strip() or None,
            by=self.who(),
            comment=self.comment.value.strip(),
            store=self.store,
        )
        return self._done(report)

    def discard(self) -> ReplayReport | None:
        """Discard the open rows shown (those whose reason contains the filter), the comment as reason."""
        from altakit.ingestion.replay import discard

        if self.store is None or self.rows is None:
            return None
        report = self.panel.call(
            discard,
            self.dataset,
            self.rows,
            reason=self.comment.value.strip(),
            reason_contains=self.reason.value.strip() or None,
            by=self.who(),
            store=self.store,
        )
        return self._done(report)

    def _done(self, report: ReplayReport | None) -> ReplayReport | None:
        if report is None or self.store is None:
            return None
        self.report = report
        self.comment.value = ""
        self.load(self.store, self.dataset, self.ingest)
        where = f": {self.dataset}@{report.version} written" if report.version else ""
        still = f"; {len(report.failed)} still do not fit (see their new reason)" if report.failed else ""
        self.panel.set_status(
            f"{len(report.replayed)} replayed, {len(report.discarded)} discarded{where}{still}."
        )
        return report
