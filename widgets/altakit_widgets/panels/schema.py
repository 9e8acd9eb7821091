"""SchemaReviewPanel: a dataset's pending schema change as a colour-coded diff; approve or reject it.

Every action is one library call: :class:`altakit.ingestion.SchemaRegistry`
(``pending``, ``approved``, ``changes``, ``approve``, ``reject``),
:func:`altakit.ingestion.review.diff_rows` for the rows of the diff,
:func:`altakit.ingestion.spec.dataset_policy` and ``SchemaRegistry.ingest_spec``
for the dataset's policy and spec, :func:`altakit.ingestion.read_table` and
:func:`altakit.ingestion.preview.preview` for sample values and the table's
columns, :func:`altakit.ingestion.ingest` to ingest the waiting source again
after an approval, and :func:`altakit.quarantine` / :func:`altakit.ingestion.replay` for the
dataset's open quarantined rows (:class:`~altakit_widgets.panels.quarantine.QuarantineBox`).
The reviewer is the current user (``$JUPYTERHUB_USER`` on a hub, else the store's writer).

Example:
    >>> from altakit_widgets.panels import SchemaReviewPanel
    >>> panel = SchemaReviewPanel(store, dataset="sensors")  # doctest: +SKIP
    >>> panel.comment.value = "new pressure sensor"  # doctest: +SKIP
    >>> panel.approve()  # doctest: +SKIP
"""

from __future__ import annotations

import html
import os
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from altakit.datasets.internal import is_internal
from altakit.ingestion.preview import preview, samples
from altakit.ingestion.review import SchemaRegistry, change_doc, diff_rows
from altakit.ingestion.spec import dataset_policy
from altakit.store import open_store
from altakit_widgets.panels.base import POLICY_LABELS, Panel, type_label
from altakit_widgets.panels.quarantine import QuarantineBox

if TYPE_CHECKING:
    from altakit.catalog import Record
    from altakit.ingestion import IngestReport
    from altakit.store import Store

#: Colours per kind of change, from Jupyter's CSS variables (fallbacks for plain pages).
COLOURS = {
    "added": "var(--jp-success-color1, #388e3c)",
    "removed": "var(--jp-error-color1, #d32f2f)",
    "changed": "var(--jp-warn-color1, #f57c00)",
    "widened": "var(--jp-warn-color1, #f57c00)",
    "nullability": "var(--jp-info-color1, #0288d1)",
}
SAMPLES = 3


def current_user(store: Store | None = None) -> str:
    """Who is reviewing: ``$JUPYTERHUB_USER`` on a hub, else the store's writer (``user@host``)."""
    from altakit.store.names import default_writer

    return os.environ.get("JUPYTERHUB_USER") or (store.writer if store is not None else default_writer())


class SchemaReviewPanel(Panel):
    """Review a dataset's pending schema change: diff with samples, policy, approve / reject, history.

    Args:
        store: The store (or its URL); ``None`` for the default store.
        dataset: The dataset to review (``?dataset=`` in the dashboard).
        source: The source that proposed the change (``store:uploads/…`` for an upload; default: the
            ``store:`` sources the change recorded): its values are shown as samples of new columns, and
            "Ingest again" re-ingests it after an approval.
        dashboard: A Voila dashboard drives the panel: ``source`` must be a store key (or a path an
            operator allowed, :mod:`~altakit_widgets.panels.safety`), and the page links back to the
            ingest and home dashboards.

    Attributes:
        change: The pending change record, or ``None``.
        policy: The dataset's evolution policy (from its latest ingest spec; ``review`` by default).
        samples: Sample values per column (from the source, else the table).
        history: Every state of every change, oldest first.
        columns: The table's columns (latest version), empty when there is no table yet.
        report: The report of the last "Ingest again".
        exists: The dataset has a table, or a schema change (``False``: no dataset of that name yet).
        quarantine: The dataset's open quarantined rows, with Replay and Discard.
    """

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        dataset: str = "",
        source: Any = None,
        dashboard: bool = False,
    ) -> None:
        super().__init__("Schema review")
        if dashboard:  # the page's own heading names it: one title, not two
            self.title.layout.display = "none"
        self.store: Store | None = self.call(open_store, store)
        self.dashboard = dashboard
        self.source = self._given = self._checked(source or None)
        self.exists = False
        self.change: Record | None = None
        self.policy = "review"
        self.samples: dict[str, list[str]] = {}
        self.history: list[Record] = []
        self.columns: list[str] = []
        self.report: IngestReport | None = None
        self.dataset = w.Text(value=dataset, description="Dataset", continuous_update=False)
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.info = w.HTML()
        self.diff = w.HTML()
        self.comment = w.Textarea(placeholder="why (needed to reject)", description="Comment")
        self.approve_button = w.Button(description="Approve", icon="check", button_style="success")
        self.reject_button = w.Button(description="Reject", icon="times", button_style="danger")
        self.reingest_button = w.Button(description="Ingest again", icon="play", disabled=True)
        self.table = w.HTML()
        self.quarantine = QuarantineBox(self, who=lambda: current_user(self.store))
        self.audit = w.HTML()
        self.links = w.HTML()
        self.body.children = [
            self.links,
            w.HBox([self.dataset, self.refresh_button]),
            self.info,
            self.diff,
            self.comment,
            w.HBox([self.approve_button, self.reject_button, self.reingest_button]),
            self.table,
            self.quarantine.widget,
            self.audit,
        ]
        self.dataset.observe(lambda _: self.refresh(), names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.approve_button.on_click(lambda _: self.approve())
        self.reject_button.on_click(lambda _: self.reject())
        self.reingest_button.on_click(lambda _: self.ingest_again())
        refused = self.last_exception
        self.refresh()
        if refused is not None:  # a source the dashboard may not read: say so after the refresh
            self.show_error(refused)

    # ------------------------------------------------------------------ actions
    def refresh(self) -> None:
        """Show the pending change, the policy, the table's columns and the audit history."""
        from altakit.datasets.tables import check_dataset

        name = self.dataset.value.strip()
        self.change, self.history, self.samples, self.columns, self.exists = None, [], {}, [], False
        self._buttons(False)
        self.quarantine.clear()
        self.links.value = self._links(name)
        if self.store is None or not name:
            self.info.value = self.diff.value = self.table.value = self.audit.value = ""
            self.set_status("Type a dataset name." if self.store is not None else "No store.")
            return
        registry = SchemaRegistry(self.store)
        valid = self.call(check_dataset, name)
        self.change = self.call(registry.pending, name) if valid else None
        if self.error_message:  # e.g. an invalid name: the message says so
            self.info.value = self.diff.value = self.table.value = self.audit.value = ""
            self.set_status("")
            return
        self.history = self.call(registry.changes, name) or []
        if self._given is None:  # the store sources the change recorded (an upload, a key) when none is given
            self.source = _recorded_source(self.history)
        approved = self.call(registry.approved, name)
        self.policy = dataset_policy(self.store, name)
        self.quarantine.load(self.store, name)
        self._show_table(name)
        base = f"v{approved[1]}" if approved else "none yet"
        self.info.value = (
            '<div class="altakit-info">When a file\'s columns change: '
            f'<b class="altakit-policy">{html.escape(POLICY_LABELS.get(self.policy, self.policy))}</b> · '
            f"approved columns: {base} · "
            f"reviewer: {html.escape(current_user(self.store))}</div>"
        )
        self.exists = bool(self.columns or self.history or self.change is not None)
        if not self.exists:
            self.info.value = ""
            self.diff.value = f"<p><i>There is no dataset named {html.escape(name)} yet.</i></p>"
            self.set_status(f"{name}: no such dataset (nothing was ingested into it).")
        elif self.change is None:
            self.diff.value = "<p><i>No schema change awaits review.</i></p>"
            self.set_status(f"{name}: nothing pending.")
            approved_last = bool(self.history) and change_doc(self.history[-1]).status == "approved"
            self.reingest_button.disabled = not (approved_last and self.source is not None)
        else:
            self.samples = self._samples(name, self.change)
            self.diff.value = self._diff_html(self.change)
            self._buttons(True)
            self.set_status(f"{name}: {change_doc(self.change).summary} awaits review.")
        self.audit.value = self._audit_html()

    def approve(self) -> Record | None:
        """Approve the pending change as the current user (:meth:`SchemaRegistry.approve`)."""
        return self._decide("approve")

    def reject(self) -> Record | None:
        """Reject the pending change as the current user; needs a comment (:meth:`SchemaRegistry.reject`)."""
        return self._decide("reject")

    def ingest_again(self) -> IngestReport | None:
        """Ingest ``source`` again with the spec it was sent with (:meth:`SchemaRegistry.ingest_spec`)."""
        from altakit.ingestion import ingest

        name = self.dataset.value.strip()
        if self.store is None or self.source is None:
            return None
        store, source = self.store, self.source

        def again() -> IngestReport:  # one call: a spec that cannot be read never falls back to defaults
            return ingest(source, name, SchemaRegistry(store).ingest_spec(name), store=store)

        report = self.call(again)
        if report is None:
            return None
        self.report = report
        self.refresh()
        self.reingest_button.disabled = True  # written: a second click would only find the files done
        self.set_status(f"{name}@{report.version} written with columns {', '.join(self.columns)}.")
        return report

    # ------------------------------------------------------------------ helpers
    def _checked(self, source: Any) -> Any:
        """``source`` if this panel may read it (a dashboard: store keys and allowed paths only)."""
        from altakit_widgets.panels.safety import check_source

        if source is None or not self.dashboard or str(source).startswith("store:"):
            return source
        return self.call(check_source, str(source))

    def _links(self, name: str) -> str:
        """Links to the ingest and home dashboards (dashboards only)."""
        from urllib.parse import quote

        if not self.dashboard:
            return ""
        ingest = html.escape(f"ingest.ipynb?dataset={quote(name)}" if name else "ingest.ipynb")
        into = html.escape(name or "a dataset")
        return (
            f'<div class="altakit-links"><a class="altakit-home-link" href="home.ipynb">All datasets</a> · '
            f'<a class="altakit-ingest-link" href="{ingest}">Ingest into {into}</a></div>'
        )

    def _decide(self, action: str) -> Record | None:

        name = self.dataset.value.strip()
        if self.store is None or self.change is None:
            return None
        registry = SchemaRegistry(self.store)
        fn = registry.approve if action == "approve" else registry.reject
        record = self.call(fn, name, by=current_user(self.store), comment=self.comment.value.strip())
        if record is None:
            return None
        self.comment.value = ""
        self.refresh()
        verb = "approved" if action == "approve" else "rejected"
        again = " Ingest again to write the new columns." if action == "approve" and self.source else ""
        self.reingest_button.disabled = not (action == "approve" and self.source is not None)
        self.set_status(f"{name}: change {verb} by {change_doc(record).decided_by}.{again}")
        return record

    def _buttons(self, pending: bool) -> None:
        self.approve_button.disabled = self.reject_button.disabled = not pending
        self.reingest_button.disabled = True

    def _show_table(self, name: str) -> None:
        from altakit.datasets.tables import version_doc
        from altakit.errors import NotFound
        from altakit.ingestion import read_table

        if self.store is None:
            return
        try:
            record, _ = version_doc(self.store, name)
            frame = read_table(name, store=self.store)
        except NotFound:
            self.table.value = "<p><i>No table yet.</i></p>"
            return
        except Exception as exc:  # shown, never raised
            self.show_error(exc)
            return
        self.columns = [c for c in frame.columns if not is_internal(c)]
        for col, values in samples(frame, SAMPLES).items():
            self.samples.setdefault(col, values)
        cols = "".join(f"<code>{html.escape(c)}</code> " for c in self.columns)
        self.table.value = (
            f'<div class="altakit-table">Table <code class="altakit-version">{html.escape(name)}@'
            f"{record.version}</code>: {frame.height:,} rows; columns: {cols}</div>"
        )

    def _samples(self, name: str, change: Record) -> dict[str, list[str]]:
        found_samples = dict(self.samples)  # table values of existing columns
        if self.source is not None and self.store is not None:
            spec = SchemaRegistry(self.store).ingest_spec(name)
            found = self.call(preview, self.source, spec, store=self.store, rows=SAMPLES)
            if found is not None:
                found_samples.update(samples(found.rows))
        return found_samples

    def _diff_html(self, change: Record) -> str:
        doc = change_doc(change)
        who, when = doc.requested_by, utc_second(doc.requested_at)
        rows = []
        for kind, col, before, after in diff_rows(doc.diff):
            colour = COLOURS[kind]
            sample = ", ".join(self.samples.get(col, [])) or "—"
            rows.append(
                f'<tr class="altakit-diff-{kind}" style="border-left: 4px solid {colour}">'
                f'<td style="color: {colour}; font-weight: 600">{kind}</td>'
                f"<td><code>{html.escape(col)}</code></td>"
                f"<td>{html.escape(type_label(before))}</td><td>{html.escape(type_label(after))}</td>"
                f"<td>{html.escape(sample)}</td></tr>"
            )
        return (
            f'<div class="altakit-change"><p>Proposed by {html.escape(who)} at '
            f"{html.escape(when)} UTC (against approved columns v{doc.base_version})</p>"
            '<table class="altakit-diff"><tr><th>change</th><th>column</th><th>approved</th>'
            f"<th>proposed</th><th>sample values</th></tr>{''.join(rows)}</table></div>"
        )

    def _audit_html(self) -> str:
        if not self.history:
            return "<p><i>No schema changes yet.</i></p>"
        rows = []
        for rec in reversed(self.history):
            d = change_doc(rec)
            # a proposal a later record decided is no longer pending
            status = "proposed" if d.status == "pending" and rec is not self.history[-1] else d.status
            who = d.decided_by or d.requested_by
            when = d.decided_at or d.requested_at
            rows.append(
                f"<tr><td>v{rec.version}</td><td>{html.escape(status)}</td>"
                f"<td>{html.escape(d.summary)}</td><td>{html.escape(who)}</td>"
                f"<td>{html.escape(utc_second(when))}</td><td>{html.escape(d.comment or '')}</td></tr>"
            )
        return (
            '<h5>Audit history</h5><table class="altakit-audit"><tr><th>#</th><th>status</th><th>change</th>'
            f"<th>by</th><th>at (UTC)</th><th>comment</th></tr>{''.join(rows)}</table>"
        )


def utc_second(when: str) -> str:
    """A recorded time (ISO 8601) in UTC, to the second, as people read it.

    Example:
        >>> utc_second("2026-12-07T21:33:45.123456+00:00"), utc_second("2026-12-07T22:33:45+01:00")
        ('2026-12-07 21:33:45', '2026-12-07 21:33:45')
    """
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(when)
    except ValueError:  # not a time: shown as recorded
        return when
    return (moment.astimezone(UTC) if moment.tzinfo else moment).strftime("%Y-%m-%d %H:%M:%S")


def _recorded_source(history: list[Record]) -> str | list[str] | None:
    """The ``store:`` sources the latest change that recorded any names (one, a list, or ``None``)."""
    for rec in reversed(history):
        found = change_doc(rec).sources
        if found:
            return found[0] if len(found) == 1 else list(found)
    return None
