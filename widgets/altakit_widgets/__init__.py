"""altakit-widgets: ipywidget panels, Voila dashboard helpers and the Jupyter server extension.

Importing it is light: ipywidgets and the server's handlers load with the parts that use them.

Example:
    >>> import altakit_widgets
    >>> altakit_widgets.__version__
    '0.1.0'
    >>> from altakit_widgets.panels import CatalogPanel  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The server extension Jupyter loads (``jupyter server extension enable altakit_widgets``)."""
    return [{"module": "altakit_widgets"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Add the catalog REST endpoints to a running Jupyter server."""
    from altakit_widgets.extension import load

    load(serverapp)
