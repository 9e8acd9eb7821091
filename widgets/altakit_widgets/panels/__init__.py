"""ipywidget panels: thin views over altakit's library functions.

Example:
    >>> from altakit_widgets.panels import CatalogPanel
    >>> CatalogPanel("./data/store")  # doctest: +SKIP
"""

from altakit_widgets.panels.base import Panel
from altakit_widgets.panels.catalog import CatalogPanel
from altakit_widgets.panels.home import HomePanel
from altakit_widgets.panels.ingest import IngestPanel
from altakit_widgets.panels.schema import SchemaReviewPanel
from altakit_widgets.panels.training import TrainingPanel

__all__ = ["CatalogPanel", "HomePanel", "IngestPanel", "Panel", "SchemaReviewPanel", "TrainingPanel"]
