"""REST routes of the schema inbox: pending changes, decisions (as the Jupyter user), the audit history.

- ``GET {api}/schema/inbox`` → ``{"count","pending":[{"table","change","created","by","summary","diff",
  "sources","dashboard"}]}``: ``dashboard`` is the Voila schema review page of the change (the URL the
  ingest dashboard links to), ``null`` where this server runs no Voila or has no such notebook
- ``POST {api}/schema/decide`` ``{"change","decision":"approve"|"reject","comment"}`` → the decision record
- ``GET {api}/schema/history?table=…`` → ``{"table","decisions":[{"change","decision","by",…}]}``

Each calls :mod:`altakit.ingestion.inbox` on the catalog service's worker thread.

Example:
    $ curl -H "Authorization: token $T" http://127.0.0.1:8888/altakit/api/schema/inbox
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from altakit_widgets.handlers import CatalogHandler, DetailHandler

if TYPE_CHECKING:
    from altakit.catalog import Catalog


class InboxHandler(DetailHandler):  # its ``_dashboard``: a record's Voila page, if this server serves it
    @web.authenticated
    @authorized
    async def get(self) -> None:  # type: ignore[override]
        from altakit.ingestion.inbox import inbox

        page = await self._dashboard("schema", "")

        def pending(cat: Catalog) -> dict[str, Any]:
            found = inbox(cat.store, cat)
            for change in found["pending"]:
                change["dashboard"] = page and review_url(page, change["table"])
            return found

        await self.answer(pending)


def review_url(page: str, table: str) -> str:
    """The review page's URL for ``table``, as the ingest dashboard builds it. It names no source: the
    page ingests again every ``store:`` source the pending change recorded.

    Example:
        >>> review_url("/voila/render/dashboards/schema_review.ipynb?dataset=", "line4")
        '/voila/render/dashboards/schema_review.ipynb?dataset=line4'
    """
    from altakit_widgets.panels.ingest import review_link

    return review_link(table, page=page.split("?", 1)[0])


class DecideHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        from altakit.ingestion.inbox import decide

        by = self.user_name

        def decide_it(cat: Catalog) -> dict[str, Any]:
            body = self.body_json()
            change, decision, comment = body.get("change"), body.get("decision"), body.get("comment", "")
            return decide(cat.store, change, decision, comment, by=by, catalog=cat)  # type: ignore[arg-type]

        await self.answer(decide_it)


class HistoryHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        from altakit.errors import ConfigError
        from altakit.ingestion.inbox import decisions

        table = self.get_argument("table", "")

        def history(cat: Catalog) -> dict[str, Any]:
            if not table:
                raise ConfigError("which table?", hint="pass ?table=<name>")
            return decisions(cat.store, table, cat)

        await self.answer(history)


def routes(api: str) -> list[tuple[str, type[CatalogHandler]]]:
    """The schema inbox's routes under ``api``."""
    return [
        (url_path_join(api, "schema", "inbox"), InboxHandler),
        (url_path_join(api, "schema", "decide"), DecideHandler),
        (url_path_join(api, "schema", "history"), HistoryHandler),
    ]
