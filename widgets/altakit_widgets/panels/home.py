"""HomePanel: every table and sample dataset with its state, and links to the page that acts on it.

One library call, :func:`altakit.ingestion.overview.overview`: latest version and when
it was written, the rows it holds, a schema change waiting for review, open quarantined rows, the models
trained on it. In a dashboard (``dashboard=True``) each row links to the ingest, review,
training and catalog pages, so nobody edits a URL.

Example:
    >>> from altakit_widgets.panels import HomePanel
    >>> panel = HomePanel(store, dashboard=True)  # doctest: +SKIP
    >>> [s.name for s in panel.states]  # doctest: +SKIP
    ['line4']
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

import ipywidgets as w

from altakit.store import open_store
from altakit_widgets.panels.base import Panel

if TYPE_CHECKING:
    from altakit.ingestion.overview import DatasetState
    from altakit.store import Store


def page(page_name: str, **query: str) -> str:
    """A dashboard page's URL relative to another one, e.g. ``ingest.ipynb?dataset=line4``."""
    return f"{page_name}.ipynb?{urlencode(query, quote_via=quote)}" if query else f"{page_name}.ipynb"


def _name(ref: str) -> str:
    """``model:line4-model@3`` → ``line4-model``."""
    return ref.split(":", 1)[1].rsplit("@", 1)[0]


def _a(href: str, text: str, css: str) -> str:
    return f'<a class="{css}" href="{html.escape(href)}">{html.escape(text)}</a>'


class HomePanel(Panel):
    """The landing page: tables and sample datasets with their state.

    Args:
        store: The store (or its URL); ``None`` for the default store.
        dashboard: Link each row to the dashboards beside this one.

    Attributes:
        states: What :func:`~altakit.ingestion.overview.overview` returned last.
    """

    def __init__(self, store: Store | str | None = None, *, dashboard: bool = False) -> None:
        super().__init__("Datasets")
        self.store: Store | None = self.call(open_store, store)
        self.dashboard = dashboard
        self.states: list[DatasetState] = []
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.actions = w.HTML(
            f"<p>{_a(page('ingest'), 'Ingest a new file', 'altakit-new-ingest')} · "
            f"{_a(page('catalog'), 'Catalog', 'altakit-catalog-link')} · "
            f"{_a(page('store'), 'Store', 'altakit-store-link')}</p>"
            if dashboard
            else ""
        )
        self.table = w.HTML()
        self.body.children = [w.HBox([self.refresh_button]), self.actions, self.table]
        self.refresh_button.on_click(lambda _: self.refresh())
        self.refresh()

    def refresh(self) -> list[DatasetState]:
        """List every table and sample dataset again."""
        from altakit.ingestion.overview import overview

        if self.store is None:
            self.set_status("No store.")
            return []
        found = self.call(overview, self.store)
        if found is None:
            self.table.value = ""
            self.set_status("The list could not be read.")
            return []
        self.states = found
        if not found:
            start = (
                _a(page("ingest"), "Ingest a file", "altakit-new-ingest")
                if self.dashboard
                else "Ingest a file"
            )
            self.table.value = f"<p>{start} to make the first one.</p>"  # the status says there is none
            self.set_status("No datasets yet.")
            return found
        rows = "".join(self._row(s) for s in found)
        self.table.value = (
            '<table class="altakit-home"><tr><th>name</th><th>kind</th><th>latest</th><th>written (UTC)</th>'
            "<th>rows</th><th>schema change</th><th>quarantined</th>"
            "<th>models trained on it</th>"
            f"<th></th></tr>{rows}</table>"
        )
        waiting = sum(1 for s in found if s.pending)
        self.set_status(f"{len(found)} dataset(s); {waiting} with a schema change to review.")
        return found

    def _row(self, s: DatasetState) -> str:
        link = self.dashboard
        name = html.escape(s.name)
        if s.pending:
            review = page("schema_review", dataset=s.name)
            pending = (
                _a(review, f"review: {s.pending}", "altakit-review-link") if link else html.escape(s.pending)
            )
        else:
            pending = "none pending" if s.kind == "table" else ""
        quarantined = str(s.quarantined) if s.kind == "table" else ""
        if link and s.quarantined:
            quarantined = _a(
                page("schema_review", dataset=s.name), f"{s.quarantined} to fix", "altakit-quarantine-link"
            )
        models = ", ".join(
            _a(page("catalog", kind="model", name=_name(m)), m, "altakit-model-link")
            if link
            else html.escape(m)
            for m in s.models
        )
        actions = ""
        if link:
            acts = [
                _a(page("training", dataset=f"{s.kind}:{s.name}"), "train a model", "altakit-train-link"),
                _a(page("catalog", kind=s.kind, name=s.name), "details", "altakit-details-link"),
            ]
            if s.kind == "table":
                acts.insert(0, _a(page("ingest", dataset=s.name), "ingest more", "altakit-ingest-link"))
            actions = " · ".join(acts)
        return (
            f'<tr class="altakit-home-row" data-name="{name}"><td><b>{name}</b></td><td>{s.kind}</td>'
            f"<td>v{s.version}</td><td>{html.escape(s.written[:19].replace('T', ' '))}</td>"
            f"<td>{'' if s.rows is None else f'{s.rows:,}'}</td><td>{pending}</td><td>{quarantined}</td>"
            f"<td>{models or '—'}</td><td>{actions}</td></tr>"
        )
