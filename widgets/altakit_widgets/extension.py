"""The altakit Jupyter server extension: catalog REST endpoints (see :mod:`altakit_widgets.handlers`).

Enabled by the jupyter-config file that ``pip install ./widgets`` installs, or by
``jupyter server extension enable --sys-prefix altakit_widgets``. It serves the
catalog of ``$ALTAKIT_STORE`` (or the project's default store) as the server saw
it at start-up; ``c.ServerApp.tornado_settings = {"altakit_store_url": "s3://…"}`` overrides that.

Example:
    $ jupyter server extension list  # doctest: +SKIP
        altakit_widgets enabled
"""

from __future__ import annotations

from typing import Any


def load(serverapp: Any) -> None:
    """Register the handlers on ``serverapp`` (Jupyter calls this once at start-up)."""
    from altakit_widgets.handlers import CatalogService, handlers

    web_app = serverapp.web_app
    settings = web_app.settings
    service = CatalogService(settings.get("altakit_store_url"), settings.get("altakit_index_url"))
    settings["altakit_catalog"] = service
    web_app.add_handlers(".*$", handlers(settings["base_url"]))
    serverapp.log.info(
        "altakit catalog API at %saltakit/api (store %s)", settings["base_url"], service.store_url
    )
