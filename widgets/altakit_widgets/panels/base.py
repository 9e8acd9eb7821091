"""The panel base: a title, a body, a status line and an error area, in any Jupyter theme.

A panel holds no logic: its buttons call library functions through
:meth:`Panel.call`, which shows an :class:`~altakit.errors.AltakitError` as its
message and hint, any other exception as a short generic message (never a
traceback), and returns ``None`` instead of raising, so a callback never breaks
the page. Colours come from JupyterLab's CSS variables (with fallbacks for
plain Voila pages), so panels follow the light and dark themes.

Example:
    >>> panel = Panel("Demo")
    >>> panel.call(int, "not a number") is None
    True
    >>> panel.error_message
    'Something went wrong (ValueError).'
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as w

from altakit.errors import AltakitError

if TYPE_CHECKING:
    import polars as pl

T = TypeVar("T")
log = logging.getLogger("altakit_widgets")
log.addHandler(logging.NullHandler())  # a kernel's stderr is the page: tracebacks go to configured logs only

#: Theme-neutral styles: Jupyter CSS variables, with fallbacks where they are not defined.
CSS = """
<style>
.altakit-panel { color: var(--jp-ui-font-color1, inherit); font-family: var(--jp-ui-font-family, inherit); }
.altakit-panel .altakit-title { font-size: var(--jp-content-font-size3, 1.2em); font-weight: 600; margin: 0; }
.altakit-panel .altakit-status { color: var(--jp-ui-font-color2, inherit); font-size: 0.9em; }
.altakit-panel .altakit-error {
  color: var(--jp-error-color1, #d32f2f); border-left: 3px solid var(--jp-error-color1, #d32f2f);
  background: var(--jp-layout-color2, transparent); padding: 4px 8px; margin: 4px 0;
}
.altakit-panel .altakit-hint { color: var(--jp-ui-font-color1, inherit); font-style: italic; }
.altakit-panel table { border-collapse: collapse; }
.altakit-panel th, .altakit-panel td {
  border-bottom: 1px solid var(--jp-border-color2, rgba(128, 128, 128, 0.4));
  padding: 2px 8px; text-align: left;
}
.altakit-panel a { color: var(--jp-content-link-color, #1976d2); text-decoration: underline; }
/* no clipped labels: descriptions and buttons as wide as their text, never cut with "…" */
.altakit-panel .widget-inline-hbox .widget-label {
  width: auto; min-width: var(--jp-widgets-inline-label-width, 80px); max-width: none; overflow: visible;
}
.altakit-panel .jupyter-button { width: auto; min-width: var(--jp-widgets-inline-width-short, 148px); }
.altakit-panel pre, .altakit-panel code {
  background: var(--jp-layout-color2, rgba(128, 128, 128, 0.12));
  color: var(--jp-content-font-color1, inherit);
}
</style>
"""


def grid(frame: pl.DataFrame, *, css_class: str = "altakit-grid", limit: int = 50) -> str:
    """An HTML table of the first ``limit`` rows of ``frame`` (escaped; theme colours from the panel CSS)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{'' if v is None else html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.head(limit).iter_rows()
    )
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


#: Column types as people read them (the start of polars' names; datetimes add their zone).
_TYPES = [("datetime", "date and time"), ("date", "date"), ("float", "number"), ("int", "whole number"),
          ("uint", "whole number"), ("str", "text"), ("bool", "yes/no")]  # fmt: skip
#: What a table does when a file's columns differ from its own (the ingest spec's ``policy``), in words.
POLICY_LABELS = {
    "review": "hold for review",
    "add_new_columns": "add new columns",
    "rescue": "keep odd values aside in a side column",
    "fail": "refuse the file",
    "ignore": "drop new columns",
}
#: strftime codes as a pattern people read.
_CODES = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "hh", "%M": "mm", "%S": "ss", "%.f": "", "%z": "±hh:mm",
          "%b": "Mon", "%y": "YY", "%I": "hh", "%p": "AM/PM"}  # fmt: skip


def type_label(dtype: str) -> str:
    """A column type as a plant engineer reads it.

    Example:
        >>> type_label("float64"), type_label("datetime[us, UTC]"), type_label("string")
        ('number', 'date and time (UTC)', 'text')
    """
    for prefix, label in _TYPES:
        if dtype.startswith(prefix):
            zone = dtype.partition(", ")[2].rstrip("]") if prefix == "datetime" else ""
            return f"{label} ({zone})" if zone else label
    return dtype


def format_label(fmt: str) -> str:
    """A datetime format as a pattern, e.g. ``%d.%m.%Y %H:%M`` → ``DD.MM.YYYY hh:mm``.

    Example:
        >>> format_label("%Y-%m-%d %H:%M:%S%.f"), format_label("epoch")
        ('YYYY-MM-DD hh:mm:ss', 'time since 1970 (epoch)')
    """
    if fmt == "epoch":
        return "time since 1970 (epoch)"
    for code, text in _CODES.items():
        fmt = fmt.replace(code, text)
    return fmt


#: A hint that names a shell command (`altakit …`): meant for whoever runs the CLI, not a panel's user.
_COMMAND = re.compile(r"(^|`)altakit [a-z]")


def ui_hint(hint: str | None) -> str | None:
    """A library hint as a panel shows it: one naming a shell command is marked as the operator's.

    Errors a panel's user can meet carry ``ui_hint`` (what to click); any other hint that names a
    command is still shown, for whoever runs the server, not as something the user must type.

    Example:
        >>> ui_hint("see `altakit catalog ls`")
        'for your operator: see `altakit catalog ls`'
        >>> ui_hint("pick a file")
        'pick a file'
    """
    if hint and _COMMAND.search(hint):
        return f"for your operator: {hint}"
    return hint


class Panel:
    """Base of every altakit panel.

    Args:
        title: Shown at the top.

    Attributes:
        widget: The whole panel (display it, or display the panel itself).
        body: Where subclasses put their widgets.
        status: The one-line status.
        error: The error area (empty when there is no error).
    """

    def __init__(self, title: str) -> None:
        self.title = w.HTML(f'<p class="altakit-title">{html.escape(title)}</p>')
        self.body = w.VBox()
        self.status = w.HTML()
        self.error = w.HTML()
        self.status_text = ""
        self.error_message = ""
        self.error_hint: str | None = None
        self.last_exception: BaseException | None = None
        self.widget = w.VBox([w.HTML(CSS), self.title, self.error, self.body, self.status])
        self.widget.add_class("altakit-panel")

    def set_status(self, text: str) -> None:
        """Show ``text`` on the status line."""
        self.status_text = text
        self.status.value = f'<div class="altakit-status">{html.escape(text)}</div>'

    def show_error(self, exc: BaseException) -> None:
        """Show ``exc`` as message + hint (altakit errors) or a generic message (anything else)."""
        self.last_exception = exc
        if isinstance(exc, AltakitError):
            message, hint = exc.message, exc.fields.get("ui_hint") or ui_hint(exc.hint)
        else:
            log.warning("panel action failed", exc_info=exc)  # the traceback goes to the log only
            message, hint = f"Something went wrong ({type(exc).__name__}).", None
        self.error_message, self.error_hint = message, hint
        tip = f'<div class="altakit-hint">hint: {html.escape(hint)}</div>' if hint else ""
        self.error.value = f'<div class="altakit-error"><b>{html.escape(message)}</b>{tip}</div>'

    def clear_error(self) -> None:
        """Empty the error area."""
        self.error_message, self.error_hint, self.last_exception = "", None, None
        self.error.value = ""

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Call a library function for a button: its result, or ``None`` with the error shown.

        Example:
            >>> rows = panel.call(catalog.list, "dataset")  # doctest: +SKIP
        """
        self.clear_error()
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # shown in the panel, never raised into the page
            self.show_error(exc)
            return None

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
