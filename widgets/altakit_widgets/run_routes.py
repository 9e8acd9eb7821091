"""REST route of live training curves: a run's metric history, only the points a client lacks.

- ``GET {api}/runs/{name}/{version|latest}/metrics?after=N`` →
  ``{"run","version","status","alive","total","points":[history entries after the N-th],
  "parameters","final"}`` (:func:`altakit.train.live.live_metrics`). A client polls it with
  ``after`` = the points it has, and stops when ``status`` is no longer ``running`` (or
  ``alive`` is false: the run's process is gone).

Run names may hold ``/`` (``digits-torch/digits-v1-ab12cd34``). Behind Jupyter's auth like
every altakit route; errors are ``{"message","hint"}``.

Example:
    $ curl -H "Authorization: token $T" \\
        "http://127.0.0.1:8888/altakit/api/runs/jobs/sensors-model-1/latest/metrics?after=3"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from altakit_widgets.handlers import CatalogHandler

if TYPE_CHECKING:
    from altakit.catalog import Catalog


class RunMetricsHandler(CatalogHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        from altakit.errors import ConfigError
        from altakit.train.live import live_metrics

        after = self.get_argument("after", "0")

        def read(cat: Catalog) -> dict[str, Any]:
            if not after.isdigit():
                raise ConfigError(f"after must be a whole number, not {after!r}", hint="?after=0")
            return live_metrics(
                cat.store, name, None if version == "latest" else int(version), after=int(after)
            )

        await self.answer(read)


def routes(api: str) -> list[tuple[str, type[CatalogHandler]]]:
    """The live-metrics route under ``api`` (before the catalog's ``runs/{name}`` route)."""
    return [(url_path_join(api, "runs", "(.+)", "(latest|[0-9]+)", "metrics"), RunMetricsHandler)]
