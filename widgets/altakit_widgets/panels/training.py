"""TrainingPanel: pick a table or dataset version, train it as a job, watch live curves, promote.

The panel lists every table and dataset version of the catalog. Start runs the
curated notebook that trains the picked data (:mod:`altakit_widgets.training_jobs`:
the tabular notebook for a table, with the features and target chosen here; the
PyTorch notebook for a digits dataset) as ``altakit run`` in a background process,
and refuses, with the reason and a hint, data no notebook trains. Nothing trains in
the panel's kernel.

The curves come from the store, not from the panel: a watcher reads the run's
history (:func:`altakit.train.live.live_metrics`) at most :data:`UPDATES_PER_SECOND`
times a second and draws only the points it has not drawn on a
:class:`~altakit_widgets.panels.chart.LiveChart`, which sends the browser just those
points (a reloaded view gets the whole curve once). Any run can be
watched — one started here, by ``altakit run`` or by a scheduler — and a page
reloaded later picks up the newest running run with its whole curve. Stop asks the
run to stop (:func:`altakit.train.live.request_stop`); its loop checks once per batch
and the run ends ``interrupted``. Promote is :meth:`altakit.train.ModelRegistry.promote`.

Example:
    >>> from altakit_widgets.panels import TrainingPanel
    >>> panel = TrainingPanel("./data/store", model="digits")  # doctest: +SKIP
    >>> panel  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import html
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from altakit_widgets.panels.base import Panel
from altakit_widgets.panels.chart import LiveChart, in_words

if TYPE_CHECKING:
    from altakit.store import Store
    from altakit_widgets.training_jobs import TrainingJob

#: Longest wait, once a run ended, for its job process to end before Start is offered again.
WRAP_UP_SECONDS = 120
#: Most curve updates a second. Each sends only the points new since the last one (a few hundred
#: bytes, the same at epoch 200 as at epoch 2: :class:`~altakit_widgets.panels.chart.LiveChart`),
#: so four a second stays far below the notebook connection's message-rate limit; each also reads
#: the run's record from the store once.
UPDATES_PER_SECOND = 4


def _data_label(ref: str) -> str:
    """A table or dataset version in words: ``table:line2@2`` → ``line2 (table, version 2)``.

    Example:
        >>> _data_label("table:line2@2"), _data_label("dataset:digits@1")
        ('line2 (table, version 2)', 'digits (dataset, version 1)')
    """
    kind, _, spec = ref.partition(":")
    name, _, version = spec.rpartition("@")
    return f"{name} ({kind}, version {version})" if name else ref


def _open(source: Store | str | None) -> Store:
    from altakit.store import open_store

    return open_store(source or None)


class TrainingPanel(Panel):
    """Train a table or dataset version as a job, watch any run live, promote a model version.

    Args:
        source: A store, a store URL, or ``None`` for the default store.
        model: Model name to register the trained versions under (and to list for promotion).
        dataset: Data to select at first: ``"sensors"``, ``"digits@2"``, ``"table:sensors@3"``
            (default: the newest). A name the catalog lacks is shown as an error.
        epochs: Initial epochs setting.
        lr: Initial learning rate.
        batch_size: Initial batch size.
        notebooks: Folder of the curated notebooks (default: the working folder or its parent).
        watch: Watch the newest running run at once (a reloaded page continues its curve).

    Attributes:
        job: The job this panel started last (:class:`~altakit_widgets.training_jobs.TrainingJob`).
        run: The name of the run the curves show.
        status_of_run: Its status as last read (``running``, ``finished`` …).
        points: Its history points drawn so far.
        updates: Curve updates sent (each holds only the new points).
        figure: The curves, a :class:`~altakit_widgets.panels.chart.LiveChart` (``loss``, ``val_loss``,
            ``val_mae``, ``val_accuracy``): the browser receives only new points, and a reloaded
            page the whole history once; hidden until the run shown has a point.

    Example:
        >>> panel = TrainingPanel(store, model="digits", epochs=2)  # doctest: +SKIP
        >>> panel.start(); panel.wait()  # doctest: +SKIP
        >>> panel.promote(1, "champion")  # doctest: +SKIP
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
        notebooks: str | None = None,
        watch: bool = True,
    ) -> None:
        super().__init__("Training")
        self.store: Store | None = self.call(_open, source)
        self.notebooks = notebooks
        self.job: TrainingJob | None = None
        self.run = ""
        self.status_of_run = ""
        self.alive: bool | None = None
        self.points: list[dict[str, Any]] = []
        self.updates = 0
        self.checkpoints: list[Any] = []
        self._watcher: threading.Thread | None = None
        self._halt = threading.Event()
        self._lock = threading.Lock()
        wide = {"width": "auto", "min_width": "16em"}  # names and labels the user chose are shown whole
        self.dataset = w.Dropdown(options=[], description="Data", layout=wide)
        self.model = w.Text(value=model, description="Model", continuous_update=False)
        self.features = w.SelectMultiple(options=[], description="Features", rows=4, layout=wide)
        self._numeric: list[str] = []  # the picked table's numeric columns
        self.target = w.Dropdown(options=[], description="Target", layout=wide)
        self.columns = w.HBox([self.features, self.target])
        self.epochs = w.BoundedIntText(value=epochs, min=1, max=10000, description="Epochs")
        self.lr = w.BoundedFloatText(value=lr, min=1e-6, max=5.0, step=0.001, description="Learning rate")
        self.batch_size = w.BoundedIntText(value=batch_size, min=1, max=65536, description="Batch size")
        self.start_button = w.Button(description="Start", icon="play", button_style="primary")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        # the rest of its row: run names (jobs/<model>-<time>-<n> (status)) are long
        self.runs = w.Dropdown(options=[], description="Run", layout=w.Layout(flex="1 1 auto", width="auto"))
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="60%"))
        self.eta = w.HTML()
        self.figure = LiveChart()
        self.figure.layout.display = "none"  # shown with a run's first point
        self.checkpoint_list = w.HTML()
        self.versions = w.Dropdown(options=[], description="Version", layout=wide)
        self.alias = w.Text(value="champion", description="Alias")
        self.promote_button = w.Button(description="Promote", icon="trophy")
        self.aliases = w.HTML()
        for widget, name in (
            (self.dataset, "dataset"), (self.features, "features"), (self.target, "target"),
            (self.epochs, "epochs"), (self.lr, "lr"), (self.batch_size, "batch-size"),
            (self.start_button, "start"), (self.stop_button, "stop"), (self.runs, "runs"),
            (self.progress, "progress"), (self.eta, "eta"), (self.checkpoint_list, "checkpoints"),
            (self.versions, "versions"), (self.promote_button, "promote"), (self.aliases, "aliases"),
        ):  # fmt: skip
            widget.add_class(f"altakit-training-{name}")
        self.body.children = [
            w.HBox([self.dataset, self.model]),
            self.columns,
            w.HBox([self.epochs, self.lr, self.batch_size]),
            w.HBox([self.start_button, self.stop_button, self.runs]),
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
        self.dataset.observe(lambda _: self.refresh_columns(), names="value")
        self.target.observe(lambda _: self._offer_features(), names="value")
        self.runs.observe(self._picked_run, names="value")
        if self.store is not None:
            self.refresh_datasets(dataset)
            self.refresh_models()
            self.refresh_runs(select_running=watch)
            if dataset and self.dataset.value is None:
                from altakit.errors import NotFound

                self.show_error(NotFound(f"no table or dataset {dataset!r} in the catalog",
                                         hint="ingest it or write it first, then reload"))  # fmt: skip
            elif not self.dataset.options:
                self.set_status("No tables or datasets yet: ingest or write one first.")
            else:
                self.set_status("Ready.")

    # ------------------------------------------------------------------ lists
    def refresh_datasets(self, select: str | None = None) -> None:
        """List every table and dataset version (newest first); select ``select`` if given."""
        from altakit_widgets.training_jobs import pick, trainable_refs

        if self.store is None:
            return
        refs = self.call(trainable_refs, self.store)
        if refs is None:
            return
        self.dataset.options = [(_data_label(r), r) for r in refs]
        chosen = pick(refs, select) if select else (refs[0] if refs else None)
        self.dataset.value = chosen
        self.refresh_columns()

    def refresh_columns(self) -> None:
        """Offer the picked table's measured columns as target and features (hidden for datasets):
        not its time or series columns (:func:`altakit.ingestion.overview.training_columns`)."""
        from altakit.ingestion.overview import training_columns

        ref = self.dataset.value or ""
        if self.store is None or not ref.startswith("table:"):
            self.columns.layout.display = "none"
            return
        found = self.call(training_columns, ref.removeprefix("table:"), self.store)
        self._numeric = found.features if found is not None else []
        targets = found.targets if found is not None else []
        self.target.options = targets
        self.target.value = found.default if found is not None else None
        self._offer_features(everything=True)
        self.columns.layout.display = None

    def _offer_features(self, everything: bool = False) -> None:
        """The numeric columns but the target as features (all of them picked, or those picked before)."""
        offered = [c for c in self._numeric if c != self.target.value]
        picked = offered if everything else [c for c in self.features.value if c in offered]
        self.features.options = offered
        self.features.value = tuple(picked)

    def refresh_runs(self, select_running: bool = False) -> None:
        """List the runs (newest first, running ones marked); watch the newest running one if asked."""
        from altakit.catalog import catalog_of

        if self.store is None:
            return
        records = self.call(catalog_of(self.store).list, "run") or []
        records = sorted(records, key=lambda r: str(r.doc.get("started") or ""), reverse=True)
        history_runs = [r for r in records if r.doc.get("history") or r.doc.get("status") == "running"]
        labels = [
            (f"{r.name} ({r.doc.get('status')})", r.name) for r in history_runs if r.doc.get("environment")
        ]
        keep = self.runs.value
        self.runs.options = labels
        if keep in [v for _, v in labels]:
            self.runs.value = keep
        elif select_running:
            running = next((r.name for r in history_runs if r.doc.get("status") == "running"), None)
            if running:
                self.runs.value = running  # watches it

    def refresh_models(self, select: int | None = None) -> None:
        """List the versions and aliases of the chosen model (``ModelRegistry``); select version
        ``select`` if given (else keep the selection, else the newest)."""
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
            metrics = read_model(rec).metrics
            key = "val_accuracy" if "val_accuracy" in metrics else "val_loss"
            value = metrics.get(key)
            score = f" · {in_words(key)} {value:.3f}" if isinstance(value, int | float) else ""
            labels.append((f"version {rec.version}{score}", rec.version))
        keep = select if select is not None else self.versions.value
        self.versions.options = labels
        values = [v for _, v in labels]
        self.versions.value = keep if keep in values else (values[0] if values else None)
        rows = "".join(
            f"<tr><td>{html.escape(a)}</td><td><code>{html.escape(name)}@{v}</code></td></tr>"
            for a, v in sorted((aliases or {}).items())
        )
        self.aliases.value = f"<table><tr><th>alias</th><th>version</th></tr>{rows}</table>" if rows else ""

    # ------------------------------------------------------------------ actions
    @property
    def running(self) -> bool:
        """True while this panel's job process runs."""
        return self.job is not None and not self.job.done

    def start(self) -> None:
        """Run the notebook that trains the picked data as a job, and watch its run."""
        from altakit.errors import ConfigError
        from altakit_widgets.training_jobs import start_job, training_plan

        if self.store is None:
            return
        if self.running:
            self.set_status("A training job is still running: wait for it to end, or stop it.")
            return
        self.clear_error()
        if not self.dataset.value:
            self.show_error(
                ConfigError("no table or dataset chosen", hint="ingest or write one, then reload")
            )
            return
        plan = self.call(
            training_plan, self.store, self.dataset.value, model=self.model.value.strip(),
            epochs=int(self.epochs.value), lr=float(self.lr.value), batch_size=int(self.batch_size.value),
            features=list(self.features.value), target=self.target.value or "",
        )  # fmt: skip
        if plan is None:
            return
        job = self.call(start_job, self.store, plan[0], plan[1], folder=self.notebooks)
        if job is None:
            return
        self.job = job
        self.start_button.disabled, self.stop_button.disabled = True, False
        self.set_status(
            f"Training on {_data_label(self.dataset.value)} started; it goes on if you close this page …"
        )
        self.watch(job.run)

    def stop(self) -> None:
        """Ask the watched run to stop: its loop sees it within a batch and ends ``interrupted``."""
        from altakit.train.live import request_stop

        if self.store is None or not self.run:
            return
        self.call(request_stop, self.store, self.run, reason="training panel")
        if not self.error_message:
            self.set_status(f"Stopping {self.run} …")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the watched run is no longer running; True if it ended in time."""
        watcher = self._watcher
        if watcher is not None:
            watcher.join(timeout)
            return not watcher.is_alive()
        return True

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

    # ------------------------------------------------------------------ watching
    def _picked_run(self, change: dict[str, Any]) -> None:
        if change["new"] and change["new"] != self.run:
            self.watch(change["new"])

    def watch(self, run: str) -> None:
        """Show run ``run``'s curves from the store, and follow them while it runs."""
        if run not in [v for _, v in self.runs.options]:
            self.runs.options = [(f"{run} (started here)", run), *self.runs.options]
        self.run = run
        self.runs.value = run  # the run being shown (no second watch: it is self.run already)
        self._halt.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(5)
        self._halt = threading.Event()
        with self._lock:
            self.run, self.points, self.status_of_run, self.alive = run, [], "", None
            self.figure.clear()
            self.figure.layout.display = "none"
            self.checkpoint_list.value, self.eta.value = "", ""
            self.progress.value = 0
        self._watcher = threading.Thread(
            target=self._follow, args=(run, self._halt), name="altakit-training-watch", daemon=True
        )
        self._watcher.start()

    def poll(self) -> str:
        """Read the watched run once and draw what is new; its status (``""`` before it registers)."""
        from altakit.errors import NotFound
        from altakit.train.live import live_metrics

        if self.store is None or not self.run:
            return ""
        try:
            live = live_metrics(self.store, self.run, after=len(self.points))
        except NotFound:
            return ""  # the job's kernel is starting: its run registers when training starts
        except Exception as exc:
            self.show_error(exc)
            return "failed"
        with self._lock:
            self._draw(live)
        return str(live["status"])

    def _follow(self, run: str, halt: threading.Event) -> None:
        gap = 1.0 / UPDATES_PER_SECOND
        while not halt.is_set():
            status = self.poll()
            if (status and status != "running") or self.alive is False or self._lost(status):
                break
            halt.wait(gap)
        if not halt.is_set():
            self._finished(run)

    def _lost(self, status: str) -> bool:
        """The job this panel started ended without its run ending (it failed before or was killed)."""
        if self.job is None or self.job.run != self.run or not self.job.done:
            return False
        time.sleep(0.2)
        if self.poll() not in ("", "running"):
            return False
        code = self.job.proc.returncode
        if status == "" or code:
            from altakit.errors import AltakitError

            tail = self.job.tail(300).strip().splitlines()
            self.show_error(AltakitError(f"the training job ended ({code}) before its run did",
                                         hint=tail[-1] if tail else f"see {self.job.log}"))  # fmt: skip
        return True

    def _finished(self, run: str) -> None:
        self.stop_button.disabled = True
        job = self.job
        if job is not None and job.run == run and not job.done:
            # the run has ended; its job still saves the notebook and records it: Start waits for that
            self.set_status(f"Run {run} ended; its job is finishing …")
            with contextlib.suppress(subprocess.TimeoutExpired):
                job.proc.wait(WRAP_UP_SECONDS)
        self.start_button.disabled = False
        if self.store is None:
            return
        from altakit.catalog import catalog_of
        from altakit.catalog.records import Ref

        rec = self.call(catalog_of(self.store).get, "run", run)
        model = rec.doc.get("model") if rec is not None else None
        made = self.call(Ref.parse, str(model)) if model else None
        # the version just trained is the one to promote (not the one selected before)
        self.refresh_models(select=made.version if made and made.name == self.model.value.strip() else None)
        status = self.status_of_run or "ended"
        if self.alive is False:
            status = "stopped without ending (its process is gone)"
        self.set_status(f"Run {run} {status}" + (f": registered {model}." if model else "."))

    def _draw(self, live: dict[str, Any]) -> None:
        new = live["points"]
        self.status_of_run, self.alive = str(live["status"]), live["alive"]
        running = self.status_of_run == "running"
        self.stop_button.disabled = not running
        if running:
            self.start_button.disabled = True
        if new:
            self.points += new
            if self.figure.append(new):  # one message holding only these points
                self.updates += 1
                self.figure.layout.display = None
            self._show_checkpoints(live["run"])
        epochs = live["parameters"].get("epochs")
        if isinstance(epochs, int) and epochs > 0:
            self.epochs.value = epochs  # the run's own, also on a page that reopened it
            self.figure.show_epochs(epochs)  # the whole run's axis, whole-epoch ticks
            done = len(self.points)
            self.progress.max, self.progress.value = epochs, min(done, epochs)
            self.eta.value = html.escape(self._eta(done, epochs))
        if running:
            self.set_status(f"Training {live['run']} … epoch {len(self.points)}")

    def _eta(self, done: int, epochs: int) -> str:
        times = [str(p["time"]) for p in self.points if p.get("time")]
        if done < 2 or len(times) < 2:
            return f"{done}/{epochs} epochs"
        first = time.mktime(time.strptime(times[0], "%Y-%m-%dT%H:%M:%SZ"))
        last = time.mktime(time.strptime(times[-1], "%Y-%m-%dT%H:%M:%SZ"))
        per = (last - first) / (len(times) - 1)
        return f"{done}/{epochs} epochs · ETA {per * max(epochs - done, 0):.0f} s"

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
            f"<td>{html.escape(', '.join(f'{in_words(k)} {v:.4g}' for k, v in sorted(c.metrics.items())))}"
            "</td>"
            f"<td>{html.escape(_saved_at(c.version))}</td></tr>"
            for c in reversed(listed)
        )
        self.checkpoint_list.value = (
            f"<table><tr><th>epoch</th><th>step</th><th>metrics</th><th>saved (UTC)</th></tr>{rows}</table>"
        )


def _saved_at(version: str) -> str:
    """When a stored version was written, from its id (``20261207T190106…Z_8e06`` → ``2026-12-07 19:01:06``).

    Example:
        >>> _saved_at("20261207T190106116438627Z_8e063520"), _saved_at("v3")
        ('2026-12-07 19:01:06', 'v3')
    """
    from altakit.store.names import id_time

    try:
        return f"{id_time(version):%Y-%m-%d %H:%M:%S}"
    except ValueError:  # not a version id (an older checkpoint's label)
        return version
