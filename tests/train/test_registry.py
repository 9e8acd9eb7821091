"""Model registry: versions, alias moves and rollbacks with history, lineage, load in both frameworks, CLI."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from altakit.cli import app  # noqa: E402
from altakit.errors import CheckpointError, ConfigError, CorruptObject, NotFound  # noqa: E402
from altakit.train.finetune import compare, finetune  # noqa: E402
from altakit.train.registry import ModelRegistry  # noqa: E402
from altakit.train.torch import Checkpointer  # noqa: E402


def _lineage_chain(cat):
    src = cat.register("source", "digits-raw", {"path": "raw/digits.csv"})
    schema = cat.register("schema", "digits", {"columns": {"x": "f32"}}, links={"sources": src.ref})
    return cat.register("dataset", "digits", {"rows": 1797}, links={"schema": schema.ref, "sources": src.ref})


def test_register_alias_moves_rollback_and_lineage(local_store):
    reg = ModelRegistry(local_store)
    data = _lineage_chain(reg.catalog)
    ckpt = Checkpointer(local_store, "train-1")
    versions = []
    for i in range(3):
        model = torch.nn.Linear(2, 1)
        torch.nn.init.constant_(model.weight, float(i))
        c = ckpt.save(step=i, model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
        versions.append(reg.register("digits", c, metrics={"acc": 0.5 + i / 10}, dataset="digits@1").version)
    assert versions == [1, 2, 3]
    reg.promote("digits", 1, "champion", reason="first")
    reg.promote("digits", 3, "champion", reason="better", by="ana")
    reg.promote("digits", 2, "staging")
    assert reg.aliases("digits") == {"champion": 3, "staging": 2}
    back = reg.rollback("digits", "champion", reason="regression in prod")
    assert back.doc["version"] == 1 and reg.alias_target("digits", "champion") == 1
    moves = reg.history("digits", "champion")
    assert [(m.action, m.version, m.previous) for m in moves] == [
        ("move", 1, None),
        ("move", 3, 1),
        ("rollback", 1, 3),
    ]
    assert moves[1].by == "ana" and moves[2].reason == "regression in prod"
    assert moves[0].at <= moves[1].at <= moves[2].at
    with pytest.raises(NotFound):
        reg.rollback("digits", "champion")  # nothing left to undo
    # load by alias and by number: weights of that version
    m = reg.load_model("digits@champion", model=torch.nn.Linear(2, 1))
    assert torch.all(m.weight == 0.0)
    assert torch.all(reg.load_model("digits@3", model=torch.nn.Linear(2, 1)).weight == 2.0)
    with pytest.raises(CheckpointError):
        reg.load_model("digits@3", model=torch.nn.Linear(3, 1))
    with pytest.raises(ConfigError):
        reg.load_model("digits@3")  # torch needs the architecture
    # lineage: model -> dataset version -> schema -> source
    edges = {(str(a), rel, str(b)) for a, rel, b in reg.lineage("digits@champion")}
    assert ("model:digits@1", "trained_on", str(data.ref)) in edges
    assert ("schema:digits@1", "sources", "source:digits-raw@1") in edges
    assert ("dataset:digits@1", "schema", "schema:digits@1") in edges


def test_registered_weights_survive_checkpoint_retention_and_corruption_is_refused(local_store):
    reg = ModelRegistry(local_store)
    ckpt = Checkpointer(local_store, "r", keep_last=1)
    c = ckpt.save(step=1, model=torch.nn.Linear(2, 1))
    rec = reg.register("m", c)
    for step in range(2, 4):
        ckpt.save(step=step, model=torch.nn.Linear(2, 1))  # the checkpoint itself is purged
    reg.load_model("m@1", model=torch.nn.Linear(2, 1))
    path = local_store._path(local_store.resolve(rec.doc["key"], rec.doc["store_version"]).name)
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptObject):
        reg.load_model("m@1", model=torch.nn.Linear(2, 1))


def test_bad_input(local_store):
    reg = ModelRegistry(local_store)
    with pytest.raises(NotFound):
        reg.register("m", torch.nn.Linear(1, 1), dataset="nope@1")
    assert reg.list() == []
    with pytest.raises(ConfigError):
        reg.register("m", object())
    reg.register("m", torch.nn.Linear(1, 1))
    with pytest.raises(ConfigError):
        reg.promote("m", 1, "3")
    with pytest.raises(NotFound):
        reg.promote("m", 7)
    with pytest.raises(NotFound):
        reg.get("m@champion")


def test_finetune_promotes_only_when_better(local_store):
    reg = ModelRegistry(local_store)
    reg.catalog.register("dataset", "d", {"rows": 1})
    reg.catalog.register("dataset", "d", {"rows": 2})
    base = reg.register("net", torch.nn.Linear(2, 1), metrics={"loss": 1.0}, dataset="d@1")
    reg.promote("net", base.version)

    def train(model):
        with torch.no_grad():
            model.weight.fill_(0.5)
        return {"loss": 0.4}

    out = finetune(
        reg, "net@champion", train, dataset="d@2", monitor="loss", mode="min", model=torch.nn.Linear(2, 1)
    )
    assert out.promoted and out.candidate.version == 2 and reg.alias_target("net", "champion") == 2
    assert str(out.candidate.link("finetuned_from")[0]) == "model:net@1"
    worse = finetune(
        reg,
        "net@champion",
        lambda m: {"loss": 3.0},
        dataset="d@2",
        monitor="loss",
        mode="min",
        model=torch.nn.Linear(2, 1),
    )
    assert not worse.promoted and reg.alias_target("net", "champion") == 2
    assert not compare(reg, "net", 3, monitor="loss", mode="min").better


def test_cli_models_and_runs(local_store, monkeypatch):
    from altakit.events import EventStream
    from altakit.train.recorder import RunRecorder

    monkeypatch.setenv("ALTAKIT_STORE", str(local_store.root))
    monkeypatch.setenv("ALTAKIT_PARAMETERS", '{"epochs": 2}')
    monkeypatch.setenv("ALTAKIT_NOTEBOOK", "notebooks/06_training.ipynb")
    stream = EventStream("cli-run")
    stream.subscribe(RunRecorder(local_store, "cli-run"))
    stream.start({"lr": 0.1}, epochs=2)
    stream.epoch(0, {"loss": 0.9}, step=5)
    stream.epoch(1, {"loss": 0.4}, step=10)
    stream.end()
    reg = ModelRegistry(local_store)
    reg.catalog.register("dataset", "d", {"rows": 1})
    for _ in range(2):
        reg.register("net", torch.nn.Linear(1, 1), dataset="d@1", run="cli-run", metrics={"loss": 0.4})
    runner = CliRunner()
    store = ["--store", str(local_store.root)]
    for args, expect in [
        (["models", "promote", "net", "1", *store], "net@champion -> @1"),
        (["models", "promote", "net", "2", *store], "(was @1)"),
        (["models", "rollback", "net", *store], "-> @1"),
        (["models", "ls", *store], "champion=@1"),
        (["models", "versions", "net", *store], "dataset:d@1"),
        (["models", "history", "net", *store], "rollback"),
        (["models", "lineage", "net@champion", *store], "--trained_on--> dataset:d@1"),
        (["runs", "ls", *store], "finished"),
        (["runs", "show", "cli-run", *store], "06_training.ipynb"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert expect in result.output, (args, result.output)
    run = reg.catalog.get("run", "cli-run")
    assert run.doc["notebook"]["parameters"] == {"epochs": 2}
    assert [h["loss"] for h in run.doc["history"]] == [0.9, 0.4] and run.doc["parameters"] == {"lr": 0.1}
    assert "python" in run.doc["environment"]


#: A model version and an alias move as the registry wrote them before the record models.
OLD_MODEL = {
    "framework": "torch",
    "format": "torch",
    "key": "models/net/weights",
    "store_version": "",
    "size": 0,
    "checksum": "",
    "metrics": {"loss": 0.25},
    "notebook": {"path": "notebooks/05_train_pytorch.ipynb", "parameters": {"epochs": 2}},
    "source": {"run": "old-run", "checkpoint": "20260102T030405_ab12", "step": 10, "epoch": 2},
    "description": "before the record models",
}
OLD_ALIAS = {
    "model": "net",
    "alias": "champion",
    "version": 1,
    "previous": None,
    "stack": [],
    "action": "move",
    "reason": "first",
    "by": "ana@hub",
}


def test_model_and_alias_records_written_before_the_models_read_back(local_store):
    import subprocess
    import sys

    from altakit.train import ModelRegistry as Exported
    from altakit.train.registry import AliasDoc, ModelDoc, read_alias, read_model

    assert Exported is ModelRegistry
    reg = Exported(local_store)
    weights = local_store.put("models/net/weights", b"\0" * 8)
    cat = reg.catalog
    stored = {"store_version": weights.id, "size": 8, "checksum": weights.checksum}
    cat.register("model", "net", {**OLD_MODEL, **stored})
    cat.register("model_alias", "net/champion", OLD_ALIAS, links={"points_to": "model:net@1"})
    doc = read_model(reg.get("net@champion"))
    assert isinstance(doc, ModelDoc) and doc.metrics == {"loss": 0.25} and doc.source["run"] == "old-run"
    assert reg.load_bytes("net@1")[0] == b"\0" * 8
    assert reg.aliases("net") == {"champion": 1} and reg.history("net")[0].by == "ana@hub"
    reg.register("net", torch.nn.Linear(1, 1), metrics={"loss": 0.1})
    moved = read_alias(reg.promote("net", 2, reason="better"))
    assert isinstance(moved, AliasDoc) and (moved.previous, moved.stack, moved.action) == (1, [1], "move")
    assert read_alias(reg.rollback("net")).version == 1 and reg.alias_target("net", "champion") == 1
    assert set(cat.get("model", "net", 2).doc) == set(OLD_MODEL)  # the stored keys stay as they were
    assert set(cat.get("model_alias", "net/champion").doc) == set(OLD_ALIAS)

    cat.register("model_alias", "net/broken", {k: v for k, v in OLD_ALIAS.items() if k != "stack"})
    with pytest.raises(CorruptObject, match=r"model_alias:net/broken@1.* lacks 'stack'"):
        reg.rollback("net", "broken")  # a typed error naming the record, not a KeyError
    framework_free = (
        "import sys, altakit.train; "
        "print(sorted({'torch', 'tensorflow', 'keras', 'lightning'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", framework_free], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
