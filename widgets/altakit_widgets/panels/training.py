"""TrainingPanel: pick a dataset version and settings, train, watch the curves, promote a model.

Start runs :func:`altakit_widgets.demo_digits.train_digits` (the function the curated
notebooks call) on a background thread with a stop flag and the panel's event
subscriber; the curves, the progress bar (with ETA) and the checkpoint list
update from the run's event stream as events arrive (nothing polls). Promote is
:meth:`altakit.train.ModelRegistry.promote`.

Example:
    >>> from altakit_widgets.panels import TrainingPanel
    >>> panel = TrainingPanel("./data/store", model="digits")  # doctest: +SKIP
    >>> panel  # doctest: +SKIP
"""

from __future__ import annotations

import html
import threading
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from altakit.catalog import catalog_of
from altakit_widgets.panels.base import Panel

if TYPE_CHECKING:
    from altakit.events import Event
    from altakit.store import Store
    from altakit_widgets.demo_digits import TrainResult


def _open(source: Store | str | None) -> Store:
    from altakit.store import open_store

    return open_store(source or None)


#: Grid line colour of the curves, readable on light and dark themes.
GRID = "rgba(128, 128, 128, 0.3)"


def _figure() -> Any:
    import plotly.graph_objects as go

    traces = [
        go.Scatter(x=[], y=[], mode="lines", name="loss"),
        go.Scatter(x=[], y=[], mode="lines+markers", name="val_loss"),
        go.Scatter(x=[], y=[], mode="lines+markers", name="val_accuracy", yaxis="y2"),
    ]
    return go.FigureWidget(
        data=traces,
        layout={
            "height": 320,
            "margin": {"l": 50, "r": 50, "t": 30, "b": 40},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"color": "#888"},
            # grey grid lines: the default template's white ones vanish on light themes, glare on dark
            "xaxis": {"title": {"text": "step"}, "gridcolor": GRID, "zerolinecolor": GRID},
            "yaxis": {"title": {"text": "loss"}, "gridcolor": GRID, "zerolinecolor": GRID},
            "yaxis2": {
                "title": {"text": "accuracy"},
                "overlaying": "y",
                "side": "right",
                "range": [0, 1],
                "gridcolor": GRID,
                "zerolinecolor": GRID,
            },
            "legend": {"orientation": "h", "y": 1.12},
        },
    )


class TrainingPanel(Panel):
    """Train a model on a dataset version, watch it live, and promote a version to an alias.

    Args:
        source: A store, a store URL, or ``None`` for the default store.
        model: Model name to register the trained versions under (and to list for promotion).
        dataset: Dataset version to select at first (``"digits@2"``; default the newest).
        epochs: Initial epochs setting.
        lr: Initial learning rate.
        batch_size: Initial batch size.

    Attributes:
        thread: The training thread while a run is going.
        result: The last run's :class:`~altakit_widgets.demo_digits.TrainResult` (None if it failed).
        run: The current or last run's name.
        checkpoints: The run's kept checkpoints, as the library lists them.
        figure: The plotly ``FigureWidget`` (traces ``loss``, ``val_loss``, ``val_accuracy``).

    Example:
        >>> panel = TrainingPanel(store, model="digits", epochs=2)  # doctest: +SKIP
        >>> panel.start(); panel.thread.join()  # doctest: +SKIP
        >>> panel.promote(panel.result.record.version, "champion")  # doctest: +SKIP
    """

    def __init__(
        self,
        source: Store | str | None = None,
        *,
        model: str = "digits",
        dataset: str | None = None,
        epochs: int = 5,
        lr: float = 0.01,
        batch_size: int = 64,
    ) -> None:
        super().__init__("Training")
        self.store: Store | None = self.call(_open, source)
        self.thread: threading.Thread | None = None
        self.result: TrainResult | None = None
        self.run = ""
        self.checkpoints: list[Any] = []
        self._stop = threading.Event()
        self._started = 0.0
        self._total = 0
        self.dataset = w.Dropdown(options=[], description="Dataset")
        self.model = w.Text(value=model, description="Model", continuous_update=False)
        self.epochs = w.BoundedIntText(value=epochs, min=1, max=1000, description="Epochs")
        self.lr = w.BoundedFloatText(value=lr, min=1e-6, max=5.0, step=0.001, description="Learning rate")
        self.batch_size = w.BoundedIntText(value=batch_size, min=1, max=4096, description="Batch size")
        self.start_button = w.Button(description="Start", icon="play", button_style="primary")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="60%"))
        self.eta = w.HTML()
        self.figure = _figure()
        self.checkpoint_list = w.HTML()
        self.versions = w.Dropdown(options=[], description="Version")
        self.alias = w.Text(value="champion", description="Alias")
        self.promote_button = w.Button(description="Promote", icon="trophy")
        self.aliases = w.HTML()
        for widget, name in (
            (self.dataset, "dataset"), (self.epochs, "epochs"), (self.lr, "lr"),
            (self.batch_size, "batch-size"), (self.start_button, "start"), (self.stop_button, "stop"),
            (self.progress, "progress"), (self.eta, "eta"), (self.checkpoint_list, "checkpoints"),
            (self.versions, "versions"), (self.promote_button, "promote"), (self.aliases, "aliases"),
        ):  # fmt: skip
            widget.add_class(f"altakit-training-{name}")
        self.body.children = [
            w.HBox([self.dataset, self.model]),
            w.HBox([self.epochs, self.lr, self.batch_size]),
            w.HBox([self.start_button, self.stop_button]),
            w.HBox([self.progress, self.eta]),
            self.figure,
            w.HTML("<b>Checkpoints</b>"),
            self.checkpoint_list,
            w.HTML("<b>Model versions</b>"),
            w.HBox([self.versions, self.alias, self.promote_button]),
            self.aliases,
        ]
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.promote_button.on_click(lambda _: self.promote())
        self.model.observe(lambda _: self.refresh_models(), names="value")
        if self.store is not None:
            self.refresh_datasets(dataset)
            self.refresh_models()
            self.set_status("Ready." if self.dataset.options else "No datasets yet: write one first.")

    # ------------------------------------------------------------------ actions
    @property
    def running(self) -> bool:
        """True while a training thread is alive."""
        return self.thread is not None and self.thread.is_alive()

    def refresh_datasets(self, select: str | None = None) -> None:
        """List every dataset version (``Catalog.list`` / ``Catalog.versions``), newest first."""
        if self.store is None:
            return
        catalog = catalog_of(self.store)
        records = self.call(catalog.list, "dataset")
        if records is None:
            return
        specs: list[str] = []
        for rec in records:
            versions = self.call(catalog.versions, "dataset", rec.name) or []
            specs += [f"{r.name}@{r.version}" for r in reversed(versions)]
        self.dataset.options = specs
        if select and select not in specs and "@" not in select:
            select = next((s for s in specs if s.startswith(f"{select}@")), None)
        if select in specs:
            self.dataset.value = select
        elif specs:
            self.dataset.value = specs[0]

    def refresh_models(self) -> None:
        """List the versions and aliases of the chosen model (``ModelRegistry``)."""
        from altakit.errors import NotFound
        from altakit.train.registry import ModelRegistry, read_model

        if self.store is None or not self.model.value.strip():
            return
        registry = ModelRegistry(self.store)
        name = self.model.value.strip()
        try:
            versions = registry.versions(name)
        except NotFound:
            versions = []
        except Exception as exc:
            self.show_error(exc)
            return
        aliases = self.call(registry.aliases, name) if versions else {}
        labels = []
        for rec in reversed(versions):
            acc = read_model(rec).metrics.get("val_accuracy")
            score = f"  val_accuracy {acc:.3f}" if isinstance(acc, int | float) else ""
            labels.append((f"v{rec.version}{score}", rec.version))
        keep = self.versions.value
        self.versions.options = labels
        values = [v for _, v in labels]
        self.versions.value = keep if keep in values else (values[0] if values else None)
        rows = "".join(
            f"<tr><td>{html.escape(a)}</td><td><code>{html.escape(name)}@{v}</code></td></tr>"
            for a, v in sorted((aliases or {}).items())
        )
        self.aliases.value = f"<table><tr><th>alias</th><th>version</th></tr>{rows}</table>" if rows else ""

    def start(self) -> None:
        """Start :func:`~altakit_widgets.demo_digits.train_digits` on a background thread."""
        if self.store is None or self.running:
            return
        from altakit.errors import ConfigError

        self.clear_error()
        if not self.dataset.value:
            self.show_error(ConfigError("no dataset version chosen", hint="write a dataset, then Refresh"))
            return
        self._stop.clear()
        self.result = None
        settings = {
            "store": self.store,
            "epochs": int(self.epochs.value),
            "lr": float(self.lr.value),
            "batch_size": int(self.batch_size.value),
            "register": self.model.value.strip() or None,
            "subscribers": [self.on_event],
            "stop": self._stop,
        }
        self.start_button.disabled, self.stop_button.disabled = True, False
        self.set_status(f"Starting on {self.dataset.value} …")
        self.thread = threading.Thread(
            target=self._train, args=(self.dataset.value, settings), name="altakit-training", daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        """Ask the run to stop after its current batch (the library checks the flag)."""
        if self.running:
            self._stop.set()
            self.set_status("Stopping …")

    def promote(self, version: int | None = None, alias: str | None = None) -> None:
        """Point ``alias`` of the model at ``version`` (default: the chosen ones)."""
        from altakit.train import ModelRegistry

        if self.store is None:
            return
        version = version if version is not None else self.versions.value
        alias = alias if alias is not None else self.alias.value.strip()
        name = self.model.value.strip()
        if version is None:
            from altakit.errors import ConfigError

            self.show_error(ConfigError(f"model {name!r} has no version to promote", hint="train one first"))
            return
        moved = self.call(
            ModelRegistry(self.store).promote, name, int(version), alias, reason="training panel"
        )
        if moved is not None:
            self.refresh_models()
            self.set_status(f"{name}@{alias} now points at version {version}.")

    # ------------------------------------------------------------------ events
    def on_event(self, event: Event) -> None:
        """Update the curves, progress and checkpoints from one training event."""
        if event.kind == "start":
            self.run = event.run
            self._started, self._total = time.monotonic(), int(event.data.get("steps") or 0)
            with self.figure.batch_update():
                for trace in self.figure.data:
                    trace.x, trace.y = (), ()
            self.progress.max, self.progress.value = max(self._total, 1), 0
            self.checkpoint_list.value = ""
            self.set_status(f"Training {event.run} …")
        elif event.kind == "batch" and event.step is not None:
            self._append("loss", event.step, event.metrics.get("loss"))
            self.progress.value = min(event.step, self.progress.max)
            self.eta.value = html.escape(self._eta(event.step))
        elif event.kind == "epoch":
            step = event.step or 0
            self._append("val_loss", step, event.metrics.get("val_loss"))
            self._append("val_accuracy", step, event.metrics.get("val_accuracy"))
            self._show_checkpoints(event.run)
        elif event.kind == "end":
            status = event.data.get("status", "finished")
            model = event.data.get("model")
            self.set_status(f"Run {event.run} {status}" + (f": registered {model}." if model else "."))

    # ------------------------------------------------------------------ helpers
    def _train(self, spec: str, settings: dict[str, Any]) -> None:
        from altakit_widgets.demo_digits import train_digits

        try:
            self.result = self.call(train_digits, spec, **settings)
        finally:
            self.start_button.disabled, self.stop_button.disabled = False, True
            self.refresh_models()

    def _append(self, name: str, x: float, y: float | None) -> None:
        if y is None:
            return
        trace = next(t for t in self.figure.data if t.name == name)
        trace.x, trace.y = (*trace.x, x), (*trace.y, y)

    def _eta(self, done: int) -> str:
        if not self._total or not done:
            return ""
        elapsed = time.monotonic() - self._started
        left = elapsed / done * max(self._total - done, 0)
        return f"{done}/{self._total} steps · {elapsed:.0f} s · ETA {left:.0f} s"

    def _show_checkpoints(self, run: str) -> None:
        from altakit.train import Checkpointer

        if self.store is None:
            return
        listed = self.call(Checkpointer(self.store, run).checkpoints)
        if listed is None:
            return
        self.checkpoints = listed
        rows = "".join(
            f"<tr><td>{c.epoch}</td><td>{c.step}</td>"
            f"<td>{html.escape(', '.join(f'{k} {v:.4g}' for k, v in sorted(c.metrics.items())))}</td>"
            f"<td><code>{html.escape(c.version)}</code></td></tr>"
            for c in reversed(listed)
        )
        self.checkpoint_list.value = (
            f"<table><tr><th>epoch</th><th>step</th><th>metrics</th><th>version</th></tr>{rows}</table>"
        )
