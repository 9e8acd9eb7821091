"""The schema inbox: every pending schema change of a store, decisions on them, and their audit trail.

What the JupyterLab sidebar's inbox shows, as JSON-ready dicts, on top of
:class:`~altakit.ingestion.review.SchemaRegistry`'s public API (which owns the
``schema`` and ``schema_change`` records): :func:`inbox` lists what awaits review,
:func:`decide` approves or rejects one change as a named person with a comment,
:func:`decisions` is the history of a table's decisions.

Example:
    >>> inbox(store)["count"]  # doctest: +SKIP
    1
    >>> decision = decide(store, "schema_change:sensors@1", "approve", "ok", by="ana")  # doctest: +SKIP
    >>> decision["doc"]["status"]  # doctest: +SKIP
    'approved'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from altakit.catalog.records import Ref
from altakit.errors import ConfigError, Conflict
from altakit.ingestion.review import CHANGE, SchemaRegistry, change_doc, diff_rows

if TYPE_CHECKING:
    from altakit.catalog import Catalog
    from altakit.catalog.records import Record
    from altakit.store.base import Store

#: What :func:`decide` accepts.
DECISIONS = ("approve", "reject")
#: Sample values shown per column of a diff.
SAMPLES = 3


def _registry(store: Store, catalog: Catalog | None) -> SchemaRegistry:
    return SchemaRegistry(store, catalog)


def diff_json(record: Record, store: Store | None = None) -> list[dict[str, Any]]:
    """The change's diff as rows ``{"column","change","before","after","samples"}``: ``samples`` are
    up to :data:`SAMPLES` values of the column in the table's latest version (none for a column the
    table does not have yet, or without ``store``)."""
    rows = diff_rows(change_doc(record).diff)
    found = _samples(store, record.name, sorted({row[1] for row in rows})) if store is not None else {}
    return [
        {"column": column, "change": kind, "before": before, "after": after, "samples": found.get(column, [])}
        for kind, column, before, after in rows
    ]


def _samples(store: Store, table: str, columns: list[str]) -> dict[str, list[str]]:
    from altakit.datasets.tables import read_table
    from altakit.errors import NotFound
    from altakit.ingestion.preview import samples

    try:
        frame = read_table(table, store=store)
    except NotFound:  # no table version yet
        return {}
    present = [c for c in columns if c in frame.columns]
    return samples(frame.select(present).head(SAMPLES * 10), SAMPLES) if present else {}


def inbox(store: Store, catalog: Catalog | None = None) -> dict[str, Any]:
    """Every pending change: ``{"count", "pending": [{"table", "change", "created", "by", …}]}``.

    The ``diff`` rows come from :func:`diff_json`; ``sources`` are the ``store:`` sources that
    proposed the change (a review ingests them again once approved).
    """
    reg = _registry(store, catalog)
    pending = []
    for latest in reg.catalog.list(CHANGE):
        doc = change_doc(latest)
        if doc.status != "pending":
            continue
        pending.append(
            {
                "table": latest.name,
                "change": str(latest.ref),
                "created": latest.created.isoformat(),
                "by": doc.requested_by,
                "summary": doc.summary,
                "diff": diff_json(latest, store),
                "sources": list(doc.sources),
            }
        )
    return {"count": len(pending), "pending": pending}


def decide(
    store: Store, change: str, decision: str, comment: str, *, by: str, catalog: Catalog | None = None
) -> dict[str, Any]:
    """Approve or reject the pending change ``change`` (a ``schema_change:<table>@<n>`` ref) as ``by``.

    Returns:
        The decision record as JSON (:meth:`Record.to_json <altakit.catalog.records.Record.to_json>`).

    Raises:
        ConfigError: A malformed ref, an unknown decision, or a rejection without a comment.
        NotFound: No such change, or nothing is pending for its table.
        Conflict: ``change`` is not the table's pending change any more (decided, or superseded).
    """
    if decision not in DECISIONS:
        raise ConfigError(f"unknown decision {decision!r}", hint="use 'approve' or 'reject'")
    if not isinstance(comment, str) or not isinstance(by, str) or not by:
        raise ConfigError("a decision needs a comment (text) and who decides")
    ref = Ref.parse(change)
    if ref.kind != CHANGE or ref.version is None:
        raise ConfigError(
            f"{change!r} is not a schema change", hint="pass the change's ref, e.g. 'schema_change:sensors@2'"
        )
    reg = _registry(store, catalog)
    reg.catalog.get(CHANGE, ref.name, ref.version)  # NotFound with its hint
    pending = reg.pending(ref.name)
    if pending is None or pending.version != ref.version:
        raise Conflict(
            f"{change} is not pending any more",
            change=change,
            hint="reload the inbox: it was decided or replaced by a newer change",
        )
    if decision == "approve":
        return reg.approve(ref.name, by=by, comment=comment).to_json()
    return reg.reject(ref.name, by=by, comment=comment).to_json()


def decisions(store: Store, table: str, catalog: Catalog | None = None) -> dict[str, Any]:
    """The decisions on ``table``'s schema changes, oldest first:
    ``{"table", "decisions": [{"change","decision","by","comment","time"}]}``."""
    rows = []
    for record in _registry(store, catalog).changes(table):
        doc = change_doc(record)
        if doc.status == "pending":
            continue
        rows.append(
            {
                "change": str(record.ref),
                "decision": doc.status,
                "by": doc.decided_by,
                "comment": doc.comment or "",
                "time": doc.decided_at,
            }
        )
    return {"table": table, "decisions": rows}
