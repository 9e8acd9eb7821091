"""altakit-widgets: ipywidget panels, Voila dashboard helpers and the Jupyter server extension.

Example:
    >>> import altakit_widgets
    >>> altakit_widgets.__version__
    '0.1.0'
"""

__version__ = "0.1.0"
