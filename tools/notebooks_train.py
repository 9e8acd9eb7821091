"""Generate the training notebooks (04–08) and the training dashboard from code.

Usage: ``python tools/notebooks_train.py`` (from the repository root). The notebooks are
written without outputs; edit them here, not in Jupyter.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from make_notebook import code, md, params, write

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
from altakit_widgets.demo_digits import Digit, write_digits

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

A tiny MLP trains on the digits shards (`ds.torch(...)` batches). Every epoch is a
checkpoint in the store; the run is recorded in the catalog; the best checkpoint is
registered as a model version linked to the dataset version, and becomes the
`champion` if the model has none yet. Running it again resumes the finished run:
nothing is trained or registered twice.
"""),
    params("""
store_url = ""
dataset = "digits"  # dataset name (notebook 04 writes it)
model_name = "digits"
epochs = 5
lr = 0.01
batch_size = 64
"""),
    code(STORE),
    code("""
from altakit.train import ModelRegistry
from altakit_widgets.demo_digits import train_digits, write_digits

ds = write_digits(dataset, store=store)  # the clean version (idempotent: no new write)
result = train_digits(ds, store=store, epochs=epochs, lr=lr, batch_size=batch_size,
                      register=model_name, resume=True, progress=True)
print(result.run, result.status, {k: round(v, 4) for k, v in result.metrics.items()})
print("checkpoints:", [(c.epoch, round(c.metrics["val_accuracy"], 3)) for c in result.checkpoints])
print("registered:", result.record.ref)
"""),
    code("""
registry = ModelRegistry(store)
if "champion" not in registry.aliases(model_name):
    registry.promote(model_name, result.record.version, "champion", reason="first model")
print("aliases:", registry.aliases(model_name))
for ref, relation, target in registry.lineage(result.record.ref):
    print(f"{ref}  --{relation}-->  {target}")
assert result.metrics["val_accuracy"] > 0.8
"""),
]

NB06 = [
    md("""
# 06 · Train in TensorFlow / Keras from the same shards

The same dataset version feeds `tf.data` (`ds.tensorflow(...)`). Keras callbacks save
the model into the store every epoch and stream events to the run record; the trained
model is registered as `digits-keras`. Running it again reuses the registered model.
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
from altakit.train import ModelRegistry, RunRecorder
from altakit.train.keras import EventCallback, StoreCheckpoint
from altakit_widgets.demo_digits import VAL_EVERY, find_model, write_digits

tf.config.threading.set_intra_op_parallelism_threads(1)
ds = write_digits(dataset, store=store)
spec = f"{ds.name}@{ds.version}"
run = f"digits-keras/{ds.name}-v{ds.version}-e{epochs}-lr{lr}-b{batch_size}"
registry = ModelRegistry(store)


def split(validation):
    def keep(x, y, idx):
        return tf.equal(idx % VAL_EVERY == 0, validation)

    samples = ds.tensorflow(batch_size, shuffle=False).unbatch()
    samples = samples.map(lambda b: (tf.cast(b["image"], "float32") / 16.0, b["label"], b["idx"]))
    return samples.filter(keep).map(lambda x, y, idx: (x, y)).batch(batch_size).cache()
"""),
    code("""
record = find_model(registry, model_name, run)
if record is None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(),
                              keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    stream = EventStream(run)
    stream.subscribe(RunRecorder(store, run))
    params = {"dataset": spec, "epochs": epochs, "lr": lr, "batch_size": batch_size}
    history = model.fit(split(False).shuffle(64, seed=0), validation_data=split(True), epochs=epochs,
                        verbose=0, callbacks=[StoreCheckpoint(store, run, monitor="val_accuracy"),
                                   EventCallback(stream, params=params)])
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
if it drifted, the champion is fine-tuned on the new data, both are scored on the new
validation split, and the alias moves only if the candidate wins. Running it again
finds the fine-tuned version and only compares.
"""),
    params("""
store_url = ""
dataset = "digits"
model_name = "digits"
epochs = 3
lr = 0.005
psi_threshold = 0.25  # > 0.25: a shift worth retraining for
"""),
    code(STORE),
    code("""
import polars as pl

from altakit.datasets.profile import drift
from altakit_widgets.demo_digits import digit_features, write_digits

old = write_digits(dataset, store=store)
new = write_digits(dataset, variant="shifted", store=store)
report = drift(digit_features(old), digit_features(new))
table = pl.DataFrame([{"feature": k, **v} for k, v in report.items()])
drifted = [k for k, v in report.items() if v["psi"] > psi_threshold]
print(old, "->", new, "| drifted features:", drifted)
table
"""),
    code("""
from altakit.train import ModelRegistry
from altakit.train.finetune import compare, finetune
from altakit_widgets.demo_digits import digits_net, evaluate_digits, find_model, train_digits

registry = ModelRegistry(store)
new_spec = f"{new.name}@{new.version}"
run = f"digits-finetune/{new.name}-v{new.version}-e{epochs}-lr{lr}"


def score(model):
    found = evaluate_digits(model, new)
    return {"val_accuracy": found["accuracy"], "val_loss": found["loss"]}


def fit_more(model):
    return train_digits(new, store=store, model=model, epochs=epochs, lr=lr, run=run, resume=True).metrics


candidate = find_model(registry, model_name, run)
if drifted and candidate is None:
    result = finetune(registry, f"{model_name}@champion", fit_more, dataset=new_spec, monitor="val_accuracy",
                      model=digits_net(), evaluate=score, run=run)
elif candidate is not None:  # already fine-tuned: compare both on the new data again
    champion = registry.get(f"{model_name}@champion")
    scores = {v: score(registry.load_model(f"{model_name}@{v}", model=digits_net()))
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

NB08 = [
    md("""
# 08 · Summary report

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
# Training monitor

Pick a dataset version and settings, start and stop a run, watch the loss and accuracy
curves and the checkpoints, and promote a model version to an alias. Served by Voila
(`start-altakit voila dashboards/training.ipynb`); `?model=digits` selects the model,
`?dataset=digits@2` the dataset version.
"""),
    params("""
store_url = ""  # empty: $ALTAKIT_STORE, else the project's default store
model = "digits"  # model name: trained versions register under it
dataset = ""  # dataset version to select, e.g. "digits@1"; empty: the newest
epochs = 5
"""),
    code("""
import os
from urllib.parse import parse_qs

from altakit_widgets.panels import TrainingPanel

# Voila passes the URL's query string to the kernel: ?model=digits&dataset=digits@1
query = parse_qs(os.environ.get("QUERY_STRING", ""))
model = query.get("model", [model])[0]
dataset = query.get("dataset", [dataset])[0]

panel = TrainingPanel(store_url or None, model=model, dataset=dataset or None, epochs=int(epochs))
panel
"""),
    code("""
print(panel.status_text)  # for batch runs and logs
"""),
]


def main() -> None:
    """Write the notebooks."""
    root = Path(__file__).resolve().parent.parent / "notebooks"
    write(str(root / "04_digits_dataset.ipynb"), NB04)  # then: python tools/nbval_outputs.py on it
    write(str(root / "05_train_pytorch.ipynb"), NB05)
    write(str(root / "06_train_tensorflow.ipynb"), NB06)
    write(str(root / "07_drift_finetune_promote.ipynb"), NB07)
    write(str(root / "08_summary_report.ipynb"), NB08)
    write(str(root / "dashboards" / "training.ipynb"), DASHBOARD)


if __name__ == "__main__":
    main()
