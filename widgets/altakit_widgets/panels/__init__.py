"""ipywidget panels: thin views over altakit's library functions.

Example:
    >>> from altakit_widgets.panels import CatalogPanel
    >>> CatalogPanel("./data/store")  # doctest: +SKIP
"""

from altakit_widgets.panels.base import Panel
from altakit_widgets.panels.catalog import CatalogPanel

__all__ = ["CatalogPanel", "Panel"]
