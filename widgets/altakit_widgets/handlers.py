"""REST handlers of the altakit server extension: the catalog as JSON under the server's base URL.

Every handler is a Jupyter ``APIHandler`` behind Jupyter's own auth (the
server token, a login cookie, or JupyterHub's OAuth): a request without
credentials gets 403. Catalog calls run on one worker thread, so a slow store
never blocks the server's event loop. Errors come back as JSON
``{"message": …, "hint": …}`` with 400 (bad request), 404 (no such record),
503 (store or index unreachable) or 500; never a traceback.

Routes (``{base}`` is the server's base URL, e.g. ``/user/ana/``):

- ``GET {base}altakit/api``: the store URL and version
- ``GET {base}altakit/api/{datasets|schemas|models|runs}[?q=text]``: latest record of each name
- ``GET {base}altakit/api/{datasets|…}/{name}``: every version of one name
- ``GET {base}altakit/api/records/{kind}``: latest record of each name of any kind
- ``GET {base}altakit/api/records/{kind}/{name}/{version|latest}``: one record
- ``GET {base}altakit/api/lineage/{kind}/{name}/{version|latest}[?direction=up|down&depth=N]``

Example:
    $ curl -H "Authorization: token $JUPYTER_TOKEN" http://127.0.0.1:8888/user/ana/altakit/api/datasets
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

if TYPE_CHECKING:
    from altakit.catalog import Catalog, Ref

T = TypeVar("T")
#: Plural route names and the record kind each lists.
KINDS = {
    "datasets": "dataset",
    "sample_types": "sample_type",
    "schemas": "schema",
    "models": "model",
    "runs": "run",
}
_KIND = r"([a-z][a-z0-9_]{0,39})"
_VERSION = r"(latest|[0-9]+)"
#: Jupyter's authorizer sees requests to these endpoints as this resource.
AUTH_RESOURCE = "altakit"


def edge_json(edge: tuple[Ref, str, Ref]) -> dict[str, str]:
    """A lineage edge as ``{"from": ref, "relation": …, "to": ref}``."""
    return {"from": str(edge[0]), "relation": edge[1], "to": str(edge[2])}


class CatalogService:
    """The catalog the endpoints read, opened on first use, driven from one worker thread.

    Args:
        store_url: The store whose catalog to serve (default: ``$ALTAKIT_STORE`` / the project store).
        index_url: The catalog index (default: the store's, see :func:`altakit.catalog.default_index_url`).
    """

    def __init__(self, store_url: str | None = None, index_url: str | None = None) -> None:
        from altakit import config

        self.store_url = store_url or config.default_store_url()
        self.index_url = index_url
        self._catalog: Catalog | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="altakit-catalog")

    def catalog(self) -> Catalog:
        """The catalog (opened on first call; call from the worker thread only)."""
        if self._catalog is None:
            from altakit.catalog import Catalog, catalog_of
            from altakit.store import open_store

            store = open_store(self.store_url)
            self._catalog = catalog_of(store) if self.index_url is None else Catalog(store, self.index_url)
        return self._catalog

    async def call(self, fn: Callable[[Catalog], T]) -> T:
        """Run ``fn(catalog)`` on the worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self.catalog()))

    def close(self) -> None:
        """Close the catalog and stop the worker thread."""
        if self._catalog is not None:
            self._catalog.close()
        self._pool.shutdown(wait=False)


class CatalogHandler(APIHandler):
    """Base of the catalog endpoints: JSON answers and errors as message + hint."""

    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> CatalogService:
        return self.settings["altakit_catalog"]

    async def answer(self, fn: Callable[[Catalog], Any]) -> None:
        """Compute ``fn(catalog)`` off the event loop and send it as JSON (or the error)."""
        from altakit.errors import AltakitError, ConfigError, NotFound, StoreUnavailable

        try:
            body = await self.service.call(fn)
        except AltakitError as exc:
            status = 404 if isinstance(exc, NotFound) else 400 if isinstance(exc, ConfigError) else 500
            status = 503 if isinstance(exc, StoreUnavailable) else status
            self.log.warning("altakit catalog API: %s", exc)
            self.set_status(status)
            body = {"message": exc.message, "hint": exc.hint}
        except Exception:  # logged with its traceback for the admin; the client gets a message
            self.log.exception("altakit catalog API failed")
            self.set_status(500)
            body = {"message": "the catalog request failed", "hint": "see the Jupyter server log"}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, ensure_ascii=False))

    def _depth(self) -> int | None:
        raw = self.get_argument("depth", None)
        if raw is None:
            return None
        if not raw.isdigit():
            raise web.HTTPError(400, "depth must be a whole number")
        return int(raw)


def _version(text: str) -> int | None:
    return None if text == "latest" else int(text)


class InfoHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        import altakit_widgets

        url = self.service.store_url
        await self.answer(lambda cat: {"version": altakit_widgets.__version__, "store": url, "kinds": KINDS})


class KindHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self, plural: str) -> None:
        kind = KINDS.get(plural, plural)
        text = self.get_argument("q", None)
        records = (lambda cat: cat.search(kind, text)) if text else (lambda cat: cat.list(kind))
        await self.answer(lambda cat: {"kind": kind, "records": [r.to_json() for r in records(cat)]})


class NameHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self, plural: str, name: str) -> None:
        from altakit.catalog import Ref

        kind = KINDS[plural]

        def versions(cat: Catalog) -> dict[str, Any]:
            found = cat.versions(kind, name)
            if not found:
                cat.resolve(Ref(kind, name))  # raises NotFound with its hint
            return {"kind": kind, "name": name, "versions": [r.to_json() for r in found]}

        await self.answer(versions)


class RecordHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self, kind: str, name: str, version: str) -> None:
        await self.answer(lambda cat: cat.get(kind, name, _version(version)).to_json())


class LineageHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self, kind: str, name: str, version: str) -> None:
        from altakit.catalog import Ref

        direction = self.get_argument("direction", "up")
        depth = self._depth()

        def lineage(cat: Catalog) -> dict[str, Any]:
            ref = cat.resolve(Ref(kind, name, _version(version))).ref
            edges = cat.lineage(ref, direction, depth)
            return {"ref": str(ref), "direction": direction, "edges": [edge_json(e) for e in edges]}

        await self.answer(lineage)


def handlers(base_url: str) -> list[tuple[str, type[CatalogHandler]]]:
    """The extension's routes under ``base_url``."""
    api = url_path_join(base_url, "altakit", "api")
    plural = "(" + "|".join(KINDS) + ")"
    return [
        (api, InfoHandler),
        (url_path_join(api, plural), KindHandler),
        (url_path_join(api, plural, "(.+)"), NameHandler),
        (url_path_join(api, "records", _KIND), KindHandler),
        (url_path_join(api, "records", _KIND, "(.+)", _VERSION), RecordHandler),
        (url_path_join(api, "lineage", _KIND, "(.+)", _VERSION), LineageHandler),
    ]
