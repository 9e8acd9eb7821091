"""CatalogPanel: tables, datasets, models, runs and schemas, their versions, and their lineage.

Every action is one call of :class:`altakit.catalog.Catalog` (``list``,
``search``, ``versions``, ``lineage``), the same call a notebook cell makes;
the panel only lays the answers out.

Example:
    >>> from altakit_widgets.panels import CatalogPanel
    >>> panel = CatalogPanel("./data/store", kind="dataset", name="sensors")  # doctest: +SKIP
    >>> panel  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from altakit_widgets.panels.base import Panel

if TYPE_CHECKING:
    from altakit.catalog import Catalog, Record, Ref
    from altakit.store import Store

#: The kinds the panel offers, as (label, kind); "" is every kind.
KINDS = [
    ("all", ""),
    ("tables", "table"),
    ("sample datasets", "dataset"),
    ("models", "model"),
    ("runs", "run"),
    ("schemas", "schema"),
    ("sample types", "sample_type"),
]
#: Which kind a bare name (``?name=line4``) means when several kinds share it: data before its schema.
PREFER = ["table", "dataset", "model", "run", "sample_type", "schema"]


def _open(source: Catalog | Store | str | None) -> Catalog:
    from altakit.catalog import Catalog, catalog_of
    from altakit.store import open_store

    if isinstance(source, Catalog):
        return source
    return catalog_of(open_store(source))


def _edges(edges: list[tuple[Ref, str, Ref]], empty: str) -> str:
    if not edges:
        return f"<i>{html.escape(empty)}</i>"
    rows = "".join(
        f"<tr><td><code>{html.escape(str(a))}</code></td><td>{html.escape(rel)}</td>"
        f"<td><code>{html.escape(str(b))}</code></td></tr>"
        for a, rel, b in edges
    )
    return f"<table><tr><th>from</th><th>relation</th><th>to</th></tr>{rows}</table>"


class CatalogPanel(Panel):
    """Browse the catalog: pick a kind, a record, a version; see its document and lineage.

    Args:
        source: A :class:`~altakit.catalog.Catalog`, a store, a store URL, or ``None`` for the
            default store (``$ALTAKIT_STORE`` or the project's store).
        kind: Show only this kind at first (``"table"``, ``"dataset"``, ``"model"``, ``"run"``, ``"schema"``).
        name: Select this record at first (``"sensors"`` or ``"table:sensors"``; a bare name picks the
            kind first in :data:`PREFER`).

    Attributes:
        records: The records listed (latest version of each name, or search hits).
        history: Every version of the selected record, oldest first.
        selected: The record shown in detail, or ``None``.
        upstream: Lineage edges of ``selected`` towards what it was made from.
        downstream: Edges from records made from ``selected`` (one level).

    Example:
        >>> panel = CatalogPanel(store, kind="model")  # doctest: +SKIP
        >>> panel.select("model:churn@2")  # doctest: +SKIP
    """

    def __init__(
        self, source: Catalog | Store | str | None = None, *, kind: str | None = None, name: str | None = None
    ) -> None:
        super().__init__("Catalog")
        self.catalog: Catalog | None = self.call(_open, source)
        self.records: list[Record] = []
        self.history: list[Record] = []
        self.selected: Record | None = None
        self.upstream: list[tuple[Ref, str, Ref]] = []
        self.downstream: list[tuple[Ref, str, Ref]] = []
        self._want = name or ""
        kinds = [value for _, value in KINDS]
        self.kind = w.Dropdown(options=KINDS, value=kind if kind in kinds else "", description="Kind")
        self.text = w.Text(
            description="Filter", placeholder="text in name or document", continuous_update=False
        )
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        # as wide as the longest name, and never narrow: record names are long and not cut
        wide = {"width": "auto", "min_width": "24em"}
        self.names = w.Select(options=[], rows=10, description="Records", layout=wide)
        self.versions = w.Select(options=[], rows=10, description="Versions", layout=wide)
        self.details = w.HTML()
        self.body.children = [
            w.HBox([self.kind, self.text, self.refresh_button]),
            w.HBox([self.names, self.versions]),
            self.details,
        ]
        self.kind.observe(lambda _: self.refresh(), names="value")
        self.text.observe(lambda _: self.refresh(), names="value")  # on Enter or leaving the box
        self.refresh_button.on_click(lambda _: self.refresh())
        self.names.observe(self._on_name, names="value")
        self.versions.observe(self._on_version, names="value")
        if self.catalog is not None:
            self.refresh()

    # ------------------------------------------------------------------ actions
    def refresh(self) -> None:
        """List the records of the chosen kind (``Catalog.list``, or ``Catalog.search`` with a filter)."""
        if self.catalog is None:
            return
        kind = self.kind.value or None
        text = self.text.value.strip()
        found = self.call(self.catalog.search, kind, text) if text else self.call(self.catalog.list, kind)
        if found is None:
            return
        self.records = found
        keep = self.names.value
        labels: dict[str, str] = {}
        for r in found:  # search hits hold every version: one line per name, labelled by the latest
            labels[f"{r.kind}:{r.name}"] = f"{r.kind.replace('_', ' ')}: {r.name}@{r.version}"
        self._listing = True
        try:
            self.names.options = [(label, key) for key, label in labels.items()]
            want, self._want = self._want, ""
            hits = [k for k in labels if want and (k == want or k.split(":", 1)[1] == want)]
            rank = {k: i for i, k in enumerate(PREFER)}
            match = min(hits, key=lambda k: rank.get(k.split(":", 1)[0], len(PREFER)), default=None)
            target = match or (keep if keep in labels else None)
            self.names.value = target
        finally:
            self._listing = False
        if target is not None:
            self.select(target)
        else:
            self._clear()
        self.set_status(self._summary(kind, text))

    def select(self, ref: str | Ref) -> None:
        """Show the versions of ``ref`` (``"dataset:sensors"``, ``"dataset:sensors@2"``), one in detail."""
        from altakit.catalog import Ref

        if self.catalog is None:
            return
        parsed = self.call(Ref.parse, ref)
        if parsed is None:
            return
        history = self.call(self.catalog.versions, parsed.kind, parsed.name)
        if not history:
            if history is not None:
                self.call(self.catalog.resolve, parsed)  # shows "no record …" with its hint
            self._clear()
            return
        self.history = history
        version = parsed.version or history[-1].version
        chosen = next((r for r in history if r.version == version), None)
        if chosen is None:
            self.call(self.catalog.resolve, parsed)
            return
        options = [(f"v{r.version}  {r.created:%Y-%m-%d %H:%M}", r.version) for r in reversed(history)]
        self._showing = True
        try:
            self.versions.options = options
            self.versions.value = version
        finally:
            self._showing = False
        self.show(chosen)

    def show(self, record: Record) -> None:
        """Show ``record``'s document, links and lineage (``Catalog.lineage`` up and one level down)."""
        if self.catalog is None:
            return
        self.selected = record
        self.upstream = self.call(self.catalog.lineage, record.ref, "up") or []
        self.downstream = self.call(self.catalog.lineage, record.ref, "down", 1) or []
        doc = html.escape(json.dumps(record.doc, indent=2, ensure_ascii=False, default=str))
        self.details.value = (
            f'<div class="altakit-record"><h4><code>{html.escape(str(record.ref))}</code></h4>'
            f"<p>registered {record.created:%Y-%m-%d %H:%M:%S} UTC by {html.escape(record.writer)}</p>"
            f"<pre>{doc}</pre>"
            f"<h5>Made from</h5>{_edges(self.upstream, 'nothing recorded')}"
            f"<h5>Used by</h5>{_edges(self.downstream, 'nothing yet')}</div>"
        )

    # ------------------------------------------------------------------ helpers
    _showing = False
    _listing = False

    def _on_name(self, change: dict[str, Any]) -> None:
        if change["new"] and not self._listing:
            self.select(change["new"])

    def _on_version(self, change: dict[str, Any]) -> None:
        if self._showing or change["new"] is None or not self.history:
            return
        record = next((r for r in self.history if r.version == change["new"]), None)
        if record is not None:
            self.show(record)

    def _clear(self) -> None:
        self.history, self.selected, self.upstream, self.downstream = [], None, [], []
        self.versions.options = []
        self.details.value = ""

    def _summary(self, kind: str | None, text: str) -> str:
        where = f" matching {text!r}" if text else ""
        count = len({(r.kind, r.name) for r in self.records})
        noun = f"{kind} record" if kind else "record"
        if not count:
            return f"No {noun}s{where}." if text else f"No {noun}s yet."
        return f"{count} {noun}{'' if count == 1 else 's'}{where}."
