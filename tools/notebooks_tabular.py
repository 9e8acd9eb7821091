"""The curated tabular training notebook (08): a table version → typed samples → a PyTorch model.

Written by ``python tools/notebooks_train.py`` with the other training notebooks.
"""

from __future__ import annotations

from make_notebook import code, md, params

STORE = """
import altakit

store = altakit.open_store(store_url or None)  # None: $ALTAKIT_STORE, else the project's default store
print("store:", store.url)
"""

NB_TABULAR = [
    md("""
# 08 · Train on a table: your columns, a PyTorch model, the lineage kept

A version of an ingested table (notebook 02 writes `sensors`) becomes a typed-sample dataset:
the feature columns and the target column you name, written by `write_table_dataset` as a
dataset version linked `derived_from` the table version. Training reads it like any dataset
(`ds.torch(...)`: exact-once batches, shuffling, resume), so the registered model's lineage
runs model → dataset → table version → source files. The loop is plain PyTorch with
altakit's checkpoints, run record and stop check (as in notebook 05); a float target is a
regression, text or a few integer values a classification. GPU when there is one, CPU otherwise.

The training panel and dashboard run this notebook as a job for a table you pick; running it
again with the same parameters trains and registers nothing new.
"""),
    params("""
store_url = ""
table = "sensors"  # a table version: "sensors" (the latest) or "sensors@2"
features = ["temperature", "humidity"]  # numeric columns: the model's inputs
target = "sensor"  # the column to predict: which sensor took the reading (a classification)
model_name = ""  # empty: "<table>-<target>"
epochs = 20
lr = 0.01
batch_size = 64
hidden = 32
seed = 0
run_name = ""  # empty: named after the data and settings, so running again resumes that run
"""),
    code(STORE),
    md("The sample type every table dataset is written as: features as one float32 vector, the target."),
    code("""
# NBVAL_CHECK_OUTPUT
from altakit.datasets.from_table import VAL_EVERY, TableRow, table_columns, write_table_dataset
from altakit.datasets.samples import schema_of

print(schema_of(TableRow).to_doc(with_fingerprint=False))
"""),
    code("""
print("columns of", table, ":", table_columns(table, store=store))
tab = write_table_dataset(table, features=features, target=target, store=store)
ds = tab.dataset
spec = f"{ds.name}@{ds.version}"
model_name = model_name or f"{tab.table.split('@')[0]}-{target}".replace("/", "-")
print(f"{tab.table} -> {spec}: {tab.rows} rows ({tab.dropped} with a missing value left out), "
      f"{tab.task}", tab.classes or "")
"""),
    code("""
import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
pin = device.type == "cuda"  # pinned host memory: faster copies to the GPU
classify = tab.task == "classification"
outputs = len(tab.classes) if classify else 1


def inputs(batch):
    \"\"\"Features, target and the validation mask (rows whose number is a multiple of VAL_EVERY).\"\"\"
    x = batch["x"].to(device, non_blocking=True).float()
    y = batch["y"].to(device, non_blocking=True)
    y = y.long() if classify else y.float()
    return x, y, (batch["row"] % VAL_EVERY == 0).to(device)


# standardize with the training rows' statistics (kept in the model, so it works on raw rows)
xs, ys = [], []
for batch in ds.torch(4096, shuffle=False):
    x, y, val = inputs(batch)
    xs.append(x[~val].cpu())
    ys.append(y[~val].cpu().float())
xs, ys = torch.cat(xs), torch.cat(ys)
x_mean, x_std = xs.mean(0), xs.std(0).clamp_min(1e-6)
y_mean, y_std = (0.0, 1.0) if classify else (float(ys.mean()), float(ys.std().clamp_min(1e-6)))


class Scale(torch.nn.Module):
    \"\"\"(x - mean) / std, with the statistics saved as buffers in the model's state.\"\"\"

    def __init__(self, mean, std, invert=False):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.invert = invert

    def forward(self, x):
        return x * self.std + self.mean if self.invert else (x - self.mean) / self.std


def make_model():
    layers = [Scale(x_mean, x_std), torch.nn.Linear(len(tab.features), hidden), torch.nn.ReLU(),
              torch.nn.Linear(hidden, outputs)]
    if not classify:
        layers.append(Scale(y_mean, y_std, invert=True))  # predictions in the target's own units
    return torch.nn.Sequential(*layers)


def loss_of(out, y):
    if classify:
        return torch.nn.functional.cross_entropy(out, y)
    return torch.nn.functional.mse_loss(out.squeeze(1) / y_std, y / y_std)  # in units of the target's std


def evaluate(model):
    model.eval()
    total = hits = err = count = 0
    with torch.no_grad():
        for batch in ds.torch(4096, shuffle=False, pin_memory=pin):
            x, y, val = inputs(batch)
            out = model(x[val])
            total += float(loss_of(out, y[val])) * int(val.sum())
            hits += int((out.argmax(1) == y[val]).sum()) if classify else 0
            err += 0 if classify else float((out.squeeze(1) - y[val]).abs().sum())
            count += int(val.sum())
    scores = {"val_loss": total / count}
    scores.update({"val_accuracy": hits / count} if classify else {"val_mae": err / count})
    return scores
"""),
    md("The training loop (the same shape as notebook 05's)."),
    code("""
import hashlib
import json

from altakit.events import EventStream
from altakit.train import ModelRegistry, RunRecorder, StopCheck
from altakit.train.torch import Checkpointer

params = {"table": tab.table, "dataset": spec, "features": tab.features, "target": target, "epochs": epochs,
          "lr": lr, "batch_size": batch_size, "hidden": hidden, "seed": seed}
digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
run = run_name or f"tabular/{ds.name}-v{ds.version}-{digest}"
monitor, mode = ("val_accuracy", "max") if classify else ("val_loss", "min")

torch.manual_seed(seed)
model = make_model().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=lr)
ckpt = Checkpointer(store, run, monitor=monitor, mode=mode, keep_last=3)
stream = EventStream(run)
stream.subscribe(RunRecorder(store, run))
stop = StopCheck(store, run)

resumed = ckpt.resume(model=model, optimizer=optimizer, map_location=device)
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
            if not (~val).any():
                continue
            optimizer.zero_grad()
            loss = loss_of(model(x[~val]), y[~val])
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
except BaseException as exc:
    stream.end("failed", error=str(exc)[:300])
    raise
print(run, status)
"""),
    code("""
registry = ModelRegistry(store)


def registered(run, checkpoint):
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
        model_name, best, metrics=best.metrics, dataset=spec, run=run,
        description=f"{tab.task} of {target} from {tab.features} ({tab.table})")
stream.end(status, model=str(record.ref) if record else None)
if record is not None:
    print("registered:", record.ref, {k: round(v, 4) for k, v in record.doc["metrics"].items()})
    for ref, relation, target_ref in altakit.catalog_of(store).lineage(record.ref, "up"):
        print(f"{ref}  --{relation}-->  {target_ref}")
    assert all(v == v for v in record.doc["metrics"].values())  # no NaN
"""),
]
