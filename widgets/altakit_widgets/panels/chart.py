"""LiveChart: live training curves that send the browser only the points it has not got.

An anywidget (``chart.js``/``chart.css`` beside this module, shipped in the package; SVG, no
CDN, nothing loaded from the network). The kernel keeps every point drawn; the browser gets
them as deltas: :meth:`LiveChart.append` sends one custom message holding only the new
points, so an update costs the same at epoch 200 as at epoch 2. A view that renders — a
reloaded page, a second view of the same widget — asks for the whole history once and
then applies only the deltas sent after it (each message is numbered).

The curves are :data:`CURVES`: ``loss``, ``val_loss`` and ``val_mae`` on the left axis,
``val_accuracy`` on a second 0..1 axis shown once a run draws accuracy. The x axis shows
whole epochs (ticks every :func:`epoch_step`) over the run's epochs once known.

Example:
    >>> chart = LiveChart()
    >>> chart.append([{"epoch": 0, "loss": 0.9, "val_accuracy": 0.5}, {"epoch": 1, "loss": 0.7}])
    3
    >>> chart.x("loss"), chart.y("loss"), chart.accuracy
    ([1, 2], [0.9, 0.7], True)
    >>> chart.show_epochs(30); (chart.epochs, chart.dtick)
    (30, 5)
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anywidget
import traitlets

HERE = Path(__file__).parent

#: The curves drawn: metric → axis (``y``: left, ``y2``: the 0..1 accuracy axis on the right).
CURVES = {"loss": "y", "val_loss": "y", "val_mae": "y", "val_accuracy": "y2"}
#: What each metric is, in words (the legend, the checkpoints and the model versions show these).
WORDS = {
    "loss": "training loss",
    "val_loss": "validation loss",
    "val_mae": "mean absolute error on held-out rows",
    "val_accuracy": "accuracy on held-out rows",
}


def in_words(metric: str) -> str:
    """A metric's name in words (:data:`WORDS`; others with ``_`` as spaces).

    Example:
        >>> in_words("val_mae"), in_words("lr_scale")
        ('mean absolute error on held-out rows', 'lr scale')
    """
    return WORDS.get(metric, metric.replace("_", " "))


#: Grid line colour, readable on light and dark themes (``chart.css`` draws with it).
GRID = "rgba(128, 128, 128, 0.3)"


def epoch_step(epochs: int, ticks: int = 10) -> int:
    """Whole-epoch tick spacing (1, 2, 5, 10, 20, 50 …) giving at most ``ticks`` ticks.

    Example:
        >>> [epoch_step(n) for n in (3, 10, 11, 30, 100, 5000)]
        [1, 1, 2, 5, 10, 500]
    """
    scale = 1
    while True:
        for step in (scale, 2 * scale, 5 * scale):
            if epochs <= step * ticks:
                return step
        scale *= 10


class LiveChart(anywidget.AnyWidget):  # type: ignore[misc]
    """Live curves of one run's history; the browser receives only new points.

    Attributes:
        labels: The legend's words for each curve (:data:`WORDS`).
        epochs: The run's epochs: the x axis spans them (0: it fits the points drawn).
        dtick: Spacing of the x ticks, in whole epochs.
        accuracy: Whether the accuracy axis is shown (once a point has ``val_accuracy``).
        messages: Custom messages sent: one per :meth:`append` with points, per
            :meth:`clear`, and one whole history per view that asked.

    Example:
        >>> chart = LiveChart()
        >>> chart.append([{"epoch": 0, "val_loss": 1.5}]), chart.y("val_loss")
        (1, [1.5])
        >>> chart.clear(); chart.y("val_loss")
        []
    """

    _esm = HERE / "chart.js"
    _css = HERE / "chart.css"
    epochs = traitlets.Int(0).tag(sync=True)
    dtick = traitlets.Int(1).tag(sync=True)
    accuracy = traitlets.Bool(False).tag(sync=True)
    labels = traitlets.Dict(WORDS).tag(sync=True)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._curves: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in CURVES}
        self._seq = 0  # number of the last delta sent
        self.messages = 0
        self.on_msg(self._asked)

    def x(self, name: str) -> list[float]:
        """The x values (epochs, from 1) drawn of curve ``name``."""
        return list(self._curves[name][0])

    def y(self, name: str) -> list[float]:
        """The values drawn of curve ``name``."""
        return list(self._curves[name][1])

    def append(self, points: list[dict[str, Any]]) -> int:
        """Draw history points (``{"epoch": 0, "loss": …}``) and send only them, in one message.

        Returns:
            How many (epoch, value) pairs were drawn: 0 (and nothing sent) when no point holds a curve.
        """
        new: dict[str, list[list[float]]] = {}
        for point in points:
            for name in CURVES:
                value = point.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    new.setdefault(name, []).append([point["epoch"] + 1, value])
        if not new:
            return 0
        with self._lock:
            for name, pairs in new.items():
                xs, ys = self._curves[name]
                xs.extend(x for x, _ in pairs)
                ys.extend(y for _, y in pairs)
            self._seq += 1
            self._message({"type": "append", "seq": self._seq, "curves": new})
        if any(CURVES[name] == "y2" for name in new):
            self.accuracy = True
        return sum(len(pairs) for pairs in new.values())

    def clear(self) -> None:
        """Remove every point (a new run is shown); the axes fit again."""
        with self._lock:
            for xs, ys in self._curves.values():
                xs.clear()
                ys.clear()
            self._seq += 1
            self._message({"type": "clear", "seq": self._seq})
        self.accuracy, self.epochs, self.dtick = False, 0, 1

    def show_epochs(self, epochs: int) -> None:
        """Span the x axis over ``epochs`` whole epochs, with at most ten ticks."""
        if epochs != self.epochs:
            self.dtick = epoch_step(epochs)
            self.epochs = epochs

    def _message(self, content: dict[str, Any]) -> None:
        self.messages += 1
        self.send(content)

    def _asked(self, _: Any, content: dict[str, Any], buffers: Any) -> None:
        """A view asks for the whole history (it rendered): answer it, numbered as the last delta."""
        if not isinstance(content, dict) or content.get("type") != "history":
            return
        with self._lock:
            curves = {
                name: [list(p) for p in zip(xs, ys, strict=True)] for name, (xs, ys) in self._curves.items()
            }
            self._message({"type": "history", "to": content.get("view"), "seq": self._seq, "curves": curves})
