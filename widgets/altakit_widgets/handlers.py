"""REST handlers of the altakit server extension: the catalog as JSON under the server's base URL.

Every handler is a Jupyter ``APIHandler`` behind Jupyter's own auth (the
server token, a login cookie, or JupyterHub's OAuth): a request without
credentials gets 403. Catalog calls run on one worker thread, so a slow store
never blocks the server's event loop. Errors come back as JSON
``{"message": …, "hint": …}`` with 400 (bad request), 404 (no such record),
503 (store or index unreachable) or 500; never a traceback.

Routes (``{base}`` is the server's base URL, e.g. ``/user/ana/``):

- ``GET {base}altakit/api``: the store URL and version
- ``GET {base}altakit/api/{tables|datasets|schemas|models|runs}[?q=text]``: latest record of each name
  (``tables``: ingested Delta tables, kind ``table``; ``datasets``: typed-sample datasets)
- ``GET {base}altakit/api/{tables|…}/{name}``: every version of one name
- ``GET {base}altakit/api/records/{kind}``: latest record of each name of any kind
- ``GET {base}altakit/api/records/{kind}/{name}/{version|latest|alias}``: one record (a model's alias,
  e.g. ``records/model/digits/champion``, names the version it points to)
- anything else under ``{base}altakit/api``: a JSON 404
- ``GET {base}altakit/api/lineage/{kind}/{name}/{version|latest}[?direction=up|down&depth=N]``
  (upstream, the chain ends at the source files of table versions: ``file:<name>`` nodes)
- ``GET {base}altakit/api/catalog?kind=…&q=…&offset=…&limit=…``: one page of latest records
- ``GET {base}altakit/api/detail/{kind}/{name}/{version|latest}``: what the detail view shows
  (``dashboard``: the matching Voila dashboard's URL when Voila is enabled and the notebook exists)
- ``GET {base}altakit/api/diff/{kind}/{name}?a=…&b=…``: two versions compared
- ``POST {base}altakit/api/aliases`` ``{"model","alias","version","comment"?}``;
  ``POST {base}altakit/api/aliases/rollback`` ``{"model","alias","comment"?}``
- the store browser (:mod:`altakit_widgets.store_routes`) and the schema inbox
  (:mod:`altakit_widgets.schema_routes`)

POST routes are checked by Jupyter's XSRF protection (send ``X-XSRFToken``, as
``ServerConnection.makeRequest`` does) unless the request carries a token.
Error texts name no server path: the store's URL and folder are replaced by "the store".

Example:
    $ curl -H "Authorization: token $JUPYTER_TOKEN" http://127.0.0.1:8888/user/ana/altakit/api/datasets
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httputil import responses

if TYPE_CHECKING:
    from altakit.catalog import Catalog, Ref

T = TypeVar("T")
#: Plural route names and the record kind each lists.
KINDS = {
    "tables": "table",
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

    def __init__(self, store_url: str | None = None, index_url: str | None = None, store: Any = None) -> None:
        from altakit import config

        self._store = store
        self.store_url = getattr(store, "url", None) or store_url or config.default_store_url()
        self.index_url = index_url
        self._catalog: Catalog | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="altakit-catalog")

    def catalog(self) -> Catalog:
        """The catalog (opened on first call; call from the worker thread only)."""
        if self._catalog is None:
            from altakit.catalog import Catalog, catalog_of
            from altakit.store import open_store

            given = self._store() if callable(self._store) else self._store
            store = given if given is not None else open_store(self.store_url)
            self.store_url = store.url
            self._catalog = catalog_of(store) if self.index_url is None else Catalog(store, self.index_url)
        return self._catalog

    async def call(self, fn: Callable[[Catalog], T]) -> T:
        """Run ``fn(catalog)`` on the worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self.catalog()))

    def scrub(self, text: str | None) -> str | None:
        """``text`` without the store's URL or folder (error texts go to browsers)."""
        if not text:
            return text
        places = {self.store_url, self.store_url.removeprefix("file://")}
        root = getattr(getattr(self._catalog, "store", None), "root", None)
        places |= {str(root)} if root is not None else set()
        places |= {self.index_url.split("://", 1)[-1]} if self.index_url else set()
        for place in sorted((p for p in places if p and len(p) > 1), key=len, reverse=True):
            text = text.replace(place, "the store")
        return text

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
        await self.reply(lambda: self.service.call(fn), what="catalog")

    async def reply(self, work: Callable[[], Awaitable[Any]], *, what: str) -> None:
        """Send ``await work()`` as JSON, or its error as ``{"message", "hint"}``: a library error with
        its status (:func:`status_of`), anything else as 500, logged with its traceback for the admin."""
        from altakit.errors import AltakitError

        try:
            body = await work()
        except AltakitError as exc:
            self.log.warning("altakit %s API: %s", what, exc)
            self.set_status(status_of(exc))
            body = {"message": self.service.scrub(exc.message), "hint": self.service.scrub(exc.hint)}
        except Exception:
            self.log.exception("altakit %s API failed", what)
            self.set_status(500)
            body = {"message": f"the {what} request failed", "hint": "see the Jupyter server log"}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, ensure_ascii=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Jupyter's own errors (403 without a token or XSRF cookie …) as ``{"message","hint"}`` too."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else None
        hint = {403: "log in to Jupyter; POST requests need the X-XSRFToken header"}.get(status_code, "")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message or responses.get(status_code, "error"), "hint": hint}))

    def body_json(self) -> dict[str, Any]:
        """The request's JSON object (``ConfigError`` when it is not one; call inside ``answer``)."""
        from altakit.errors import ConfigError

        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ConfigError("the request body is not a JSON object", hint='send e.g. {"model": "digits"}')
        return body

    @property
    def user_name(self) -> str:
        """The Jupyter (or JupyterHub) user making the request."""
        user = self.current_user
        return str(getattr(user, "username", None) or getattr(user, "name", None) or user)

    def _depth(self) -> int | None:
        raw = self.get_argument("depth", None)
        if raw is None:
            return None
        if not raw.isdigit():
            raise web.HTTPError(400, "depth must be a whole number")
        return int(raw)


def _version(text: str) -> int | None:
    return None if text == "latest" else int(text)


def status_of(exc: Exception) -> int:
    """The HTTP status of a library error: 404, 400, 409, 403, 503 or 500."""
    from altakit.errors import AccessDenied, ConfigError, Conflict, NotFound, ServiceUnavailable

    for kind, status in ((NotFound, 404), (ConfigError, 400), (Conflict, 409), (AccessDenied, 403),
                         (ServiceUnavailable, 503)):  # fmt: skip
        if isinstance(exc, kind):
            return status
    return 500


def int_arg(raw: str | None, what: str, default: int, lo: int, hi: int) -> int:
    """A whole-number query argument in ``lo … hi`` (``ConfigError`` otherwise; call inside ``answer``).

    Example:
        >>> int_arg("20", "limit", 50, 1, 500), int_arg(None, "limit", 50, 1, 500)
        (20, 50)
    """
    from altakit.errors import ConfigError

    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not lo <= int(raw) <= hi:
        raise ConfigError(f"{what} must be a whole number in {lo} … {hi}", hint=f"e.g. {what}={default}")
    return int(raw)


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
        from altakit_widgets.records import versions_of

        kind = KINDS[plural]

        def versions(cat: Catalog) -> dict[str, Any]:
            found = versions_of(cat, kind, name)  # NotFound with its hint when there is none
            return {"kind": kind, "name": name, "versions": [r.to_json() for r in found]}

        await self.answer(versions)


class RecordHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self, kind: str, name: str, version: str) -> None:
        from altakit_widgets.records import record_at

        await self.answer(lambda cat: record_at(cat, kind, name, version).to_json())


class NoRouteHandler(CatalogHandler):
    """Any other path under the API: a JSON 404, like every route's errors."""

    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        raise web.HTTPError(404, f"no altakit API route {path!r}")


class LineageHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self, kind: str, name: str, version: str) -> None:
        from altakit.catalog import Ref

        direction = self.get_argument("direction", "up")
        depth = self._depth()

        def lineage(cat: Catalog) -> dict[str, Any]:
            from altakit_widgets.records import source_edges

            ref = cat.resolve(Ref(kind, name, _version(version))).ref
            edges = [edge_json(e) for e in cat.lineage(ref, direction, depth)]
            if direction == "up":  # the chain ends at the source files of table versions
                edges += source_edges(cat, str(ref), edges)
            return {"ref": str(ref), "direction": direction, "edges": edges}

        await self.answer(lineage)


class CatalogPageHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        from altakit_widgets.records import catalog_page

        kind, text = self.get_argument("kind", "dataset"), self.get_argument("q", None)
        offset, limit = self.get_argument("offset", None), self.get_argument("limit", None)
        await self.answer(
            lambda cat: catalog_page(
                cat, kind, text, int_arg(offset, "offset", 0, 0, 10**9), int_arg(limit, "limit", 50, 1, 500)
            )
        )


class DetailHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self, kind: str, name: str, version: str) -> None:
        from altakit_widgets.records import detail

        dashboard = await self._dashboard(kind, name)
        await self.answer(lambda cat: {**detail(cat, kind, name, _version(version)), "dashboard": dashboard})

    async def _dashboard(self, kind: str, name: str) -> str | None:
        """The URL of the matching Voila dashboard: Voila enabled here and its notebook under the root."""
        from jupyter_core.utils import ensure_async

        from altakit_widgets.records import dashboard_of

        found = dashboard_of(kind, name)
        extensions = self.serverapp.extension_manager.extensions if self.serverapp else {}
        voila = any(n.split(".")[0] == "voila" and p.enabled for n, p in extensions.items())
        if found is None or not voila or not await ensure_async(self.contents_manager.file_exists(found[0])):
            return None
        return f"{url_path_join(self.base_url, 'voila', 'render', found[0])}?{found[1]}"


class DiffHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self, kind: str, name: str) -> None:
        from altakit_widgets.records import diff

        a, b = self.get_argument("a", None), self.get_argument("b", None)

        def compare(cat: Catalog) -> dict[str, Any]:
            if a is None or b is None:
                from altakit.errors import ConfigError

                raise ConfigError("diff needs two versions", hint="pass ?a=1&b=2")
            return diff(cat, kind, name, int_arg(a, "a", 1, 1, 10**9), int_arg(b, "b", 1, 1, 10**9))

        await self.answer(compare)


class AliasHandler(CatalogHandler):
    """``POST {api}/aliases`` (promote) and ``POST {api}/aliases/rollback``, recorded as the Jupyter user."""

    @web.authenticated
    @authorized
    async def post(self, rollback: str | None = None) -> None:
        from altakit.train.registry import ModelRegistry

        by = self.user_name

        def move(cat: Catalog) -> dict[str, Any]:
            from altakit.errors import ConfigError

            body = self.body_json()
            model, alias = body.get("model"), body.get("alias", "champion")
            reason = body.get("comment") or body.get("reason") or ""
            if not isinstance(model, str) or not isinstance(alias, str) or not isinstance(reason, str):
                raise ConfigError("model and alias must be names", hint='send {"model": "digits", …}')
            reg = ModelRegistry(cat.store, cat)
            if rollback:
                return reg.rollback(model, alias, reason=reason, by=by).to_json()
            version = body.get("version")
            if not isinstance(version, int) or isinstance(version, bool):
                raise ConfigError("version must be a whole number", hint='send {"version": 3}')
            return reg.promote(model, version, alias, reason=reason, by=by).to_json()

        await self.answer(move)


def routes(api: str) -> list[tuple[str, type[CatalogHandler]]]:
    """The catalog's routes under ``api`` (``{base}altakit/api``; all routes: ``extension.handlers``)."""
    plural = "(" + "|".join(KINDS) + ")"
    return [
        (url_path_join(api, "catalog"), CatalogPageHandler),
        (url_path_join(api, "detail", _KIND, "(.+)", _VERSION), DetailHandler),
        (url_path_join(api, "diff", _KIND, "(.+)"), DiffHandler),
        (url_path_join(api, "aliases"), AliasHandler),
        (url_path_join(api, "aliases", "(rollback)"), AliasHandler),
        (api, InfoHandler),
        (url_path_join(api, plural), KindHandler),
        (url_path_join(api, plural, "(.+)"), NameHandler),
        (url_path_join(api, "records", _KIND), KindHandler),
        (url_path_join(api, "records", _KIND, "(.+)", r"([A-Za-z0-9_.-]+)"), RecordHandler),
        (url_path_join(api, "lineage", _KIND, "(.+)", _VERSION), LineageHandler),
        (url_path_join(api, "(.*)"), NoRouteHandler),  # last: every other path answers JSON
    ]
