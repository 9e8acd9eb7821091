"""The altakit Jupyter server extension: catalog REST endpoints (see :mod:`altakit_widgets.handlers`).

Enabled by the jupyter-config file that ``pip install ./widgets`` installs, or by
``jupyter server extension enable --sys-prefix altakit_widgets``. It serves the
catalog of ``$ALTAKIT_STORE`` (or the project's default store) as the server saw
it at start-up; ``c.ServerApp.tornado_settings = {"altakit_store_url": "s3://…"}`` overrides that,
and ``{"altakit_store": store}`` (a :class:`~altakit.store.base.Store`, or a function returning
one, e.g. an :class:`~altakit.store.crypto.EncryptedStore`) serves that store object.

Example:
    $ jupyter server extension list  # doctest: +SKIP
        altakit_widgets enabled
"""

from __future__ import annotations

from typing import Any


def load(serverapp: Any) -> None:
    """Register the handlers on ``serverapp`` (Jupyter calls this once at start-up)."""
    from altakit_widgets.handlers import CatalogService

    web_app = serverapp.web_app
    settings = web_app.settings
    service = CatalogService(
        settings.get("altakit_store_url"), settings.get("altakit_index_url"), settings.get("altakit_store")
    )
    settings["altakit_catalog"] = service
    web_app.add_handlers(".*$", handlers(settings["base_url"]))
    serverapp.log.info(
        "altakit catalog API at %saltakit/api (store %s)", settings["base_url"], service.store_url
    )


def handlers(base_url: str) -> list[tuple[str, Any]]:
    """Every route of the extension under ``base_url``: catalog, store browser, schema inbox, jobs.

    Example:
        >>> [route for route, _ in handlers("/user/ana/")][0]
        '/user/ana/altakit/api/store/list'
    """
    from jupyter_server.utils import url_path_join

    from altakit_widgets import handlers as catalog_routes
    from altakit_widgets import job_routes, run_routes, schema_routes, store_routes

    api = url_path_join(base_url, "altakit", "api")
    return [*store_routes.routes(api), *schema_routes.routes(api), *job_routes.routes(api),
            *run_routes.routes(api), *catalog_routes.routes(api)]  # fmt: skip
