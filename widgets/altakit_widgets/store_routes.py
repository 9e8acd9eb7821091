"""REST routes of the store browser: folder pages, a key's versions, previews (decrypted server-side).

- ``GET {api}/store/list?prefix=<folder/>&cursor=…&limit=…`` → ``{"prefix","folders","keys","next"}``
- ``GET {api}/store/versions?key=…`` → ``{"key","versions"}``
- ``GET {api}/store/preview?key=…&version=…`` → ``{"key","version","size","kind",…,"truncated",
  "snippet","url"}`` (code that reads exactly that version, and its ``altakit://key@version``)

Each calls :mod:`altakit.store.browse` on the catalog service's worker thread; an
encrypted store decrypts there, so neither key material nor ciphertext leaves the server.

Example:
    $ curl -H "Authorization: token $T" "http://127.0.0.1:8888/altakit/api/store/list?prefix=raw/"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from altakit_widgets.handlers import CatalogHandler, int_arg

if TYPE_CHECKING:
    from altakit.catalog import Catalog


class StoreListHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        from altakit.store.browse import list_folder

        prefix, cursor = self.get_argument("prefix", ""), self.get_argument("cursor", None) or None
        limit = self.get_argument("limit", None)
        await self.answer(
            lambda cat: list_folder(cat.store, prefix, cursor, int_arg(limit, "limit", 200, 1, 1000))
        )


class StoreVersionsHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        from altakit.store.browse import key_versions

        key = self.get_argument("key", "")
        await self.answer(lambda cat: key_versions(cat.store, key))


class StorePreviewHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        from altakit.catalog.snippets import store_snippet
        from altakit.store.browse import preview

        key, version = self.get_argument("key", ""), self.get_argument("version", None) or None

        def shown(cat: Catalog) -> dict[str, Any]:
            out = preview(cat.store, key, version)
            # the actions on exactly this version: code that reads it, and its altakit:// URL
            at = out["version"]
            return {**out, "snippet": store_snippet(out["key"], at), "url": f"altakit://{out['key']}@{at}"}

        await self.answer(shown)


def routes(api: str) -> list[tuple[str, type[CatalogHandler]]]:
    """The store browser's routes under ``api``."""
    return [
        (url_path_join(api, "store", "list"), StoreListHandler),
        (url_path_join(api, "store", "versions"), StoreVersionsHandler),
        (url_path_join(api, "store", "preview"), StorePreviewHandler),
    ]
