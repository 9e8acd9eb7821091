"""Generate the training notebooks (04–09) and the training dashboard from code.

Usage: ``python tools/notebooks_train.py`` (from the repository root). The notebooks are
written without outputs; edit them here, not in Jupyter.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from make_notebook import code, md, params, write
from notebooks_tabular import NB_TABULAR

STORE = """
import altakit

store = altakit.open_store(store_url or None)  # None: $ALTAKIT_STORE, else the project's default store
print("store:", store.url)
"""

NB04 = [
    md("""
# 04 · Digits as a typed-sample dataset

scikit-learn's 8×8 digits (shipped inside the package, nothing downloads) become typed
samples (`@altakit.sample`) written as WebDataset tar shards into the store, with a
manifest in the catalog. Running it again finds the version that already holds the
same content and writes nothing.
"""),
    params("""
store_url = ""  # empty: $ALTAKIT_STORE, else the project's default store
name = "digits"  # dataset name
maxcount = 500  # samples per shard
"""),
    code(STORE),
    md("The sample type: an 8×8 `uint8` image, its label and its index (`idx % 5 == 0` is validation)."),
    code("""
# NBVAL_CHECK_OUTPUT
from altakit.datasets.samples import schema_of
from digits_demo import Digit, write_digits

print(schema_of(Digit).to_doc(with_fingerprint=False))
"""),
    code("""
ds = write_digits(name, store=store, maxcount=maxcount)
print(ds, "in", len(ds.manifest["shards"]), "shards")
assert len(ds) == 1797
"""),
    md("Read it back: the first samples, and the labels as a table."),
    code("""
# NBVAL_CHECK_OUTPUT
first = ds.head(3)
print([(d.label, d.image.shape, d.image.dtype.name) for d in first])
ds.to_polars().group_by("label").len().sort("label")
"""),
]

NB05 = [
    md("""
# 05 · Train in PyTorch from the shards

A small MLP trains on the digits shards with a plain PyTorch loop over `ds.torch(...)`: copy
this notebook and swap in your dataset and model. What altakit adds is a few lines:

- `Checkpointer.save` every epoch (a store version) and `Checkpointer.resume` at the start, so
  a run killed part-way continues where it stopped, and running the notebook again trains nothing;
- an `EventStream` with a `RunRecorder`: the run record and its metric history in the catalog,
  which the training panel, the dashboard and the JupyterLab sidebar draw live;
- a `StopCheck` asked once per batch, so Stop (panel, dashboard, `request_stop`) ends the run
  `interrupted` within a batch;
- `ModelRegistry.register` of the best checkpoint, linked to the dataset version and the run.

It runs on the GPU when there is one (pinned memory in the loader, checkpoints restored onto the
device with `map_location`) and on the CPU otherwise, with no edit.
"""),
    params("""
store_url = ""
dataset = "digits"  # a digits dataset version: "digits" (the latest) or "digits@2" (notebook 04 writes it)
model_name = "digits"
epochs = 5
lr = 0.01
batch_size = 64
hidden = 64
seed = 0
run_name = ""  # empty: named after the data and settings, so running again resumes that run
"""),
    code(STORE),
    code("""
import torch

from digits_demo import VAL_EVERY

ds = altakit.load_dataset(dataset, store)
if ds.schema.name != "digit":
    raise altakit.ConfigError(f"{ds.name}@{ds.version} holds {ds.schema.name!r} samples, not digits",
                              hint="train tables with 08_train_tabular.ipynb")
spec = f"{ds.name}@{ds.version}"
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
pin = device.type == "cuda"  # pinned host memory: faster copies to the GPU
print(spec, len(ds), "samples; training on", device)


def inputs(batch):
    \"\"\"Images as floats in [0, 1], labels, and the validation mask, on the device.\"\"\"
    x = batch["image"].to(device, non_blocking=True).float() / 16.0
    y = batch["label"].to(device, non_blocking=True).long()
    return x, y, (batch["idx"] % VAL_EVERY == 0).to(device)


def make_model():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, hidden), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, 10))


def evaluate(model):
    \"\"\"Loss and accuracy on the validation split.\"\"\"
    model.eval()
    loss = correct = count = 0
    with torch.no_grad():
        for batch in ds.torch(512, shuffle=False, pin_memory=pin):
            x, y, val = inputs(batch)
            logits = model(x[val])
            loss += float(torch.nn.functional.cross_entropy(logits, y[val], reduction="sum"))
            correct += int((logits.argmax(1) == y[val]).sum())
            count += int(val.sum())
    return {"val_loss": loss / count, "val_accuracy": correct / count}
"""),
    md("The training loop: yours, with altakit's checkpoints, run record and stop check around it."),
    code("""
import hashlib
import json

from altakit.events import EventStream
from altakit.train import ModelRegistry, RunRecorder, StopCheck
from altakit.train.torch import Checkpointer

params = {"dataset": spec, "epochs": epochs, "lr": lr, "batch_size": batch_size, "hidden": hidden,
          "seed": seed}
digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
run = run_name or f"digits-torch/{ds.name}-v{ds.version}-{digest}"

torch.manual_seed(seed)
model = make_model().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=lr)
ckpt = Checkpointer(store, run, monitor="val_accuracy", mode="max", keep_last=3)
stream = EventStream(run)
stream.subscribe(RunRecorder(store, run))  # the run record and its metric history, as they grow
stop = StopCheck(store, run)  # True once someone asks this run to stop

resumed = ckpt.resume(model=model, optimizer=optimizer, map_location=device)  # None on a first run
first = resumed.epoch if resumed else 0
steps = len(ds.torch(batch_size, seed=seed))
step = first * steps
stream.start(params, epochs=epochs, steps=epochs * steps, resumed={"epoch": first} if first else None)
status = "finished"
try:
    for epoch in range(first, epochs):
        model.train()
        total = seen = 0
        for batch in ds.torch(batch_size, seed=seed, epoch=epoch, pin_memory=pin):
            if stop():
                status = "interrupted"
                break
            x, y, val = inputs(batch)
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[~val]), y[~val])
            loss.backward()
            optimizer.step()
            step += 1
            total, seen = total + loss.item(), seen + 1
            stream.batch(step, {"loss": loss.item()}, epoch=epoch)
        if status != "finished":
            break
        metrics = {"loss": total / max(seen, 1), **evaluate(model)}
        ckpt.save(step=step, epoch=epoch + 1, model=model, optimizer=optimizer, metrics=metrics)
        stream.epoch(epoch, metrics, step=step)
except BaseException as exc:  # the run record says failed, with the error
    stream.end("failed", error=str(exc)[:300])
    raise
print(run, status, "| epochs done:", len(ckpt.checkpoints()) and ckpt.find("latest").epoch)
"""),
    md("Register the best checkpoint (once: running again finds the version already registered)."),
    code("""
registry = ModelRegistry(store)


def registered(run, checkpoint):
    \"\"\"The version of `model_name` registered from this run's checkpoint, if any.\"\"\"
    try:
        versions = registry.versions(model_name)
    except altakit.NotFound:
        return None
    return next((r for r in reversed(versions) if r.doc["source"].get("run") == run
                 and r.doc["source"].get("checkpoint") == checkpoint), None)


record = None
if status == "finished":
    best = ckpt.find("best")
    record = registered(run, best.version) or registry.register(
        model_name, best, metrics=best.metrics, dataset=spec, run=run)
    if "champion" not in registry.aliases(model_name):
        registry.promote(model_name, record.version, "champion", reason="first model")
stream.end(status, model=str(record.ref) if record else None)
if record is not None:
    print("registered:", record.ref, {k: round(v, 4) for k, v in record.doc["metrics"].items()})
    print("aliases:", registry.aliases(model_name))
    for ref, relation, target in registry.lineage(record.ref):
        print(f"{ref}  --{relation}-->  {target}")
    assert record.doc["metrics"]["val_accuracy"] > 0.8
"""),
]

NB06 = [
    md("""
# 06 · Train in TensorFlow / Keras from the same shards

The same dataset version feeds `tf.data` (`ds.tensorflow(...)`) and a plain `model.fit`;
altakit's Keras callbacks save the model into the store every epoch (`StoreCheckpoint`) and
stream its metrics to the run record (`EventCallback` + `RunRecorder`); one more callback
asks the run's `StopCheck` after every batch. The model is registered as `digits-keras`;
running the notebook again reuses the registered version.
"""),
    params("""
store_url = ""
dataset = "digits"
model_name = "digits-keras"
epochs = 5
lr = 0.01
batch_size = 64
"""),
    code(STORE),
    code("""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras
import tensorflow as tf

from altakit.events import EventStream
from altakit.train import ModelRegistry, RunRecorder, StopCheck
from altakit.train.keras import EventCallback, StoreCheckpoint
from digits_demo import VAL_EVERY

tf.config.threading.set_intra_op_parallelism_threads(1)
ds = altakit.load_dataset(dataset, store)
spec = f"{ds.name}@{ds.version}"
run = f"digits-keras/{ds.name}-v{ds.version}-e{epochs}-lr{lr}-b{batch_size}"
registry = ModelRegistry(store)


def split(validation):
    def keep(x, y, idx):
        return tf.equal(idx % VAL_EVERY == 0, validation)

    samples = ds.tensorflow(batch_size, shuffle=False).unbatch()
    samples = samples.map(lambda b: (tf.cast(b["image"], "float32") / 16.0, b["label"], b["idx"]))
    return samples.filter(keep).map(lambda x, y, idx: (x, y)).batch(batch_size).cache()


def registered(run):
    try:
        versions = registry.versions(model_name)
    except altakit.NotFound:
        return None
    return next((r for r in reversed(versions) if r.doc["source"].get("run") == run), None)
"""),
    code("""
record = registered(run)
if record is None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(),
                              keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    stream = EventStream(run)
    stream.subscribe(RunRecorder(store, run))
    stop = StopCheck(store, run)
    stop_on_request = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: setattr(model, "stop_training", stop()))
    params = {"dataset": spec, "epochs": epochs, "lr": lr, "batch_size": batch_size}
    history = model.fit(split(False).shuffle(64, seed=0), validation_data=split(True), epochs=epochs,
                        verbose=0, callbacks=[StoreCheckpoint(store, run, monitor="val_accuracy"),
                                              EventCallback(stream, params=params), stop_on_request])
    last = {k: v[-1] for k, v in history.history.items()}
    metrics = {"val_accuracy": last["val_accuracy"], "val_loss": last["val_loss"]}
    record = registry.register(model_name, model, metrics=metrics, dataset=spec, run=run)
print(record.ref, {k: round(v, 4) for k, v in record.doc["metrics"].items()})
assert record.doc["metrics"]["val_accuracy"] > 0.8
"""),
]

NB07 = [
    md("""
# 07 · Drift, fine-tune the champion, compare, promote

A new drop of digits (shifted by a pixel, brighter, noisier) becomes dataset version 2.
Drift is measured on per-image features with the ingest layer's PSI / KS functions;
if it drifted, the champion is fine-tuned on the new data with a plain PyTorch loop
(checkpointed, recorded, stoppable, like notebook 05), both are scored on the new
validation split, and the alias moves only if the candidate wins. Running it again
finds the fine-tuned version and only compares.
"""),
    params("""
store_url = ""
dataset = "digits"
model_name = "digits"
epochs = 3
lr = 0.005
batch_size = 64
hidden = 64  # the champion's hidden units (notebook 05)
psi_threshold = 0.25  # > 0.25: a shift worth retraining for
"""),
    code(STORE),
    code("""
import polars as pl

from altakit.datasets.profile import drift
from digits_demo import digit_features, write_digits

old = write_digits(dataset, store=store)  # the clean version notebook 04 wrote (found, not written again)
new = write_digits(dataset, variant="shifted", store=store)  # the new drop (idempotent)
report = drift(digit_features(old), digit_features(new))
table = pl.DataFrame([{"feature": k, **v} for k, v in report.items()])
drifted = [k for k, v in report.items() if v["psi"] > psi_threshold]
print(old, "->", new, "| drifted features:", drifted)
table
"""),
    md("Fine-tuning is your loop again: `train(model)` continues the champion on the new data."),
    code("""
import torch

from altakit.events import EventStream
from altakit.train import ModelRegistry, RunRecorder, StopCheck
from altakit.train.finetune import compare, finetune
from altakit.train.torch import Checkpointer
from digits_demo import VAL_EVERY

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
pin = device.type == "cuda"
registry = ModelRegistry(store)
new_spec = f"{new.name}@{new.version}"
run = f"digits-finetune/{new.name}-v{new.version}-e{epochs}-lr{lr}"


def make_model():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, hidden), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, 10))


def inputs(batch):
    x = batch["image"].to(device, non_blocking=True).float() / 16.0
    y = batch["label"].to(device, non_blocking=True).long()
    return x, y, (batch["idx"] % VAL_EVERY == 0).to(device)


def score(model):
    \"\"\"Accuracy and loss on the new data's validation split.\"\"\"
    model = model.to(device).eval()
    loss = correct = count = 0
    with torch.no_grad():
        for batch in new.torch(512, shuffle=False, pin_memory=pin):
            x, y, val = inputs(batch)
            logits = model(x[val])
            loss += float(torch.nn.functional.cross_entropy(logits, y[val], reduction="sum"))
            correct += int((logits.argmax(1) == y[val]).sum())
            count += int(val.sum())
    return {"val_accuracy": correct / count, "val_loss": loss / count}


def train(model):
    \"\"\"Train `model` in place on the new data; resumes this run's checkpoint if there is one.\"\"\"
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    ckpt = Checkpointer(store, run, monitor="val_accuracy", mode="max", keep_last=2)
    stream = EventStream(run)
    stream.subscribe(RunRecorder(store, run))
    stop = StopCheck(store, run)
    resumed = ckpt.resume(model=model, optimizer=optimizer, map_location=device)
    first = resumed.epoch if resumed else 0
    stream.start({"dataset": new_spec, "epochs": epochs, "lr": lr, "base": f"{model_name}@champion"},
                 epochs=epochs, resumed={"epoch": first} if first else None)
    status, step, metrics = "finished", 0, {}
    for epoch in range(first, epochs):
        model.train()
        for batch in new.torch(batch_size, epoch=epoch, pin_memory=pin):
            if stop():
                status = "interrupted"
                break
            x, y, val = inputs(batch)
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[~val]), y[~val])
            loss.backward()
            optimizer.step()
            step += 1
        if status != "finished":
            break
        metrics = score(model)
        ckpt.save(step=step, epoch=epoch + 1, model=model, optimizer=optimizer, metrics=metrics)
        stream.epoch(epoch, metrics, step=step)
    stream.end(status)
    if status != "finished":
        raise altakit.AltakitError(f"fine-tuning run {run!r} was {status}", hint="run the notebook again")
    return metrics or score(model)


def finetuned():
    \"\"\"The version this run registered already, if any.\"\"\"
    versions = reversed(registry.versions(model_name))
    return next((r for r in versions if r.doc["source"].get("run") == run), None)
"""),
    code("""
candidate = finetuned()
if drifted and candidate is None:
    result = finetune(registry, f"{model_name}@champion", train, dataset=new_spec, monitor="val_accuracy",
                      model=make_model(), evaluate=score, run=run)
elif candidate is not None:  # already fine-tuned: compare both on the new data again
    champion = registry.get(f"{model_name}@champion")
    scores = {v: score(registry.load_model(f"{model_name}@{v}", model=make_model()))
              for v in {candidate.version, champion.version}}
    result = compare(registry, model_name, candidate.version, monitor="val_accuracy", scores=scores)
else:
    result = None
    print("no drift: the champion stays")
if result is not None:
    print(f"candidate {result.candidate.ref}: {result.candidate_value:.4f}  vs  champion "
          f"{result.champion.ref if result.champion else None}: {result.champion_value}")
    print("promoted:", result.promoted, "| champion is now", registry.get(f"{model_name}@champion").ref)
"""),
    code("""
for move in registry.history(model_name, "champion"):
    print(move.at.strftime("%H:%M:%S"), move.action, move.previous, "->", move.version, move.reason)
"""),
]

NB09 = [
    md("""
# 09 · Summary report

What the workflow left in the catalog: dataset versions, models with their aliases,
runs with their final metrics, and the champion's lineage.
"""),
    params("""
store_url = ""
model_name = "digits"
"""),
    code(STORE),
    code("""
import polars as pl

from altakit.runs import read_run
from altakit.train import ModelRegistry

catalog = altakit.catalog_of(store)
registry = ModelRegistry(store)
datasets = pl.DataFrame(
    [{"dataset": f"{r.name}@{r.version}", "samples": r.doc.get("count"), "bytes": r.doc.get("bytes"),
      "description": r.doc.get("description", "")}
     for d in catalog.list("dataset") for r in catalog.versions("dataset", d.name)]
    or [{"dataset": None, "samples": None, "bytes": None, "description": None}]
)
datasets
"""),
    code("""
rows = []
for latest in registry.list():
    aliases = {v: a for a, v in registry.aliases(latest.name).items()}
    for r in registry.versions(latest.name):
        trained_on = [str(b) for a, rel, b in catalog.lineage(r.ref, "up", 1) if rel == "trained_on"]
        rows.append({"model": f"{r.name}@{r.version}", "framework": r.doc["framework"],
                     "val_accuracy": r.doc["metrics"].get("val_accuracy"),
                     "alias": aliases.get(r.version, ""),
                     "trained_on": ", ".join(trained_on)})
models = pl.DataFrame(rows) if rows else pl.DataFrame({"model": []})
models
"""),
    code("""
runs = pl.DataFrame(
    [{"run": r.name, "status": run.status, "epochs": len(run.history),
      **{k: v for k, v in run.final.items() if isinstance(v, int | float)}}
     for r in catalog.list("run") for run in [read_run(r)]] or [{"run": None}],
    strict=False,
)
runs
"""),
    code("""
try:
    champion = registry.get(f"{model_name}@champion")
except altakit.AltakitError as exc:
    print("no champion yet:", exc)
else:
    print("champion:", champion.ref, champion.doc["metrics"])
    for ref, relation, target in registry.lineage(champion.ref):
        print(f"  {ref} --{relation}--> {target}")
"""),
]

DASHBOARD = [
    md("""
# Training

Pick the data and what to predict, start training, and watch the error fall epoch by epoch;
training goes on in the background, so closing or reloading this page loses nothing. When a
version is good, promote it: the name under *Alias* then points at it. [All datasets](home.ipynb)
"""),
    params("""
store_url = ""  # empty: $ALTAKIT_STORE, else the project's default store
model = ""  # model name: trained versions register under it; empty: "<data>-model"
dataset = ""  # data to select, e.g. "sensors", "table:sensors@2", "digits@1"; empty: the newest
epochs = 5
"""),
    code("""
import os
from urllib.parse import parse_qs

from altakit_widgets.panels import TrainingPanel

# Voila passes the URL's query string to the kernel: ?model=digits&dataset=digits@1
query = parse_qs(os.environ.get("QUERY_STRING", ""))
dataset = query.get("dataset", [dataset])[0]
model = query.get("model", [model])[0]
if not model:
    model = f"{dataset.split(':')[-1].split('@')[0]}-model" if dataset else "digits"

panel = TrainingPanel(store_url or None, model=model, dataset=dataset or None, epochs=int(epochs))
panel
"""),
    code("""
if "QUERY_STRING" not in os.environ:  # a batch run (papermill): the status as text for its log;
    print(panel.status_text)  # a Voila page shows it in the panel already
"""),
]


def main() -> None:
    """Write the notebooks."""
    root = Path(__file__).resolve().parent.parent / "notebooks"
    write(str(root / "04_digits_dataset.ipynb"), NB04)  # then: python tools/nbval_outputs.py on it
    write(str(root / "05_train_pytorch.ipynb"), NB05)
    write(str(root / "06_train_tensorflow.ipynb"), NB06)
    write(str(root / "07_drift_finetune_promote.ipynb"), NB07)
    write(str(root / "08_train_tabular.ipynb"), NB_TABULAR)
    write(str(root / "09_summary_report.ipynb"), NB09)
    write(str(root / "dashboards" / "training.ipynb"), DASHBOARD)


if __name__ == "__main__":
    main()
