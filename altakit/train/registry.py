"""The model registry: model versions in the catalog, aliases with history, lineage.

A model version is a catalog record of kind ``model`` (``model:digits@3``) whose
doc names the stored weights (copied out of the run's checkpoints, so checkpoint
retention never breaks a registered model), the framework, metrics and notebook,
and whose links point to the dataset version it was trained on, the run, and the
version it was fine-tuned from. ``catalog.lineage("model:digits@3")`` therefore
walks model → dataset version → schema version → sources.

An alias (``champion``, ``staging`` …) is a record of kind ``model_alias`` named
``<model>/<alias>``: every move is a new version of it, so who moved it when
(record writer and time) and why is the alias's history. A rollback moves the
alias back to the version it pointed at before the last move, and is recorded too.
Moves are compare-and-set on every store: each is built from the alias's true
latest record once its number is won (``Catalog.register`` with a builder), so
concurrent promotes and rollbacks form one chain — every move's ``previous`` is
the target of the move before it, and the rollback stack loses nothing.

This module owns both documents: :class:`ModelDoc` (kind ``model``) and
:class:`AliasDoc` (kind ``model_alias``); the registry writes and reads them
through these models only.

Example:
    >>> reg = ModelRegistry(store)  # doctest: +SKIP
    >>> rec = reg.register("digits", ckpt.find("best"), metrics={"accuracy": 0.97},
    ...                    dataset="digits@2")  # doctest: +SKIP
    >>> reg.promote("digits", rec.version, alias="champion")  # doctest: +SKIP
    >>> model = reg.load_model("digits@champion", model=Net())  # doctest: +SKIP
    >>> reg.rollback("digits", "champion")  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from altakit.catalog import catalog_of
from altakit.catalog.model import RecordDoc
from altakit.catalog.records import Record, Ref, check_name
from altakit.errors import ConfigError, CorruptObject, NotFound
from altakit.runs import reads
from altakit.runs.record import notebook_info
from altakit.store.base import Store
from altakit.train.checkpoint import Checkpoint

MODEL = "model"
ALIAS = "model_alias"
#: Checkpoint formats and the framework that loads them.
FRAMEWORKS = {"torch": "torch", "keras": "keras", "keras-weights": "keras"}
#: The conventional suffix of a model version's weights key (``models/<name>/weights<suffix>``).
WEIGHT_SUFFIXES = {"torch": ".pt", "keras": ".keras", "keras-weights": ".weights.h5"}


@dataclass(frozen=True)
class ModelDoc(RecordDoc):
    """The document of a ``model`` record: one registered model version.

    Attributes:
        framework: ``torch`` or ``keras``: what loads the weights.
        format: ``torch``, ``keras`` (a whole model) or ``keras-weights`` (weights only).
        key: Store key of the weights (copied out of the run's checkpoints).
        store_version: Store version id of the weights.
        size: Size of the weights in bytes.
        checksum: Their checksum (as the store lists it).
        metrics: Evaluation metrics.
        notebook: ``{"path", "parameters"}`` of the notebook that trained it, or None.
        source: Where the weights came from: ``{"run", "checkpoint", "step", "epoch"}`` or ``{"run"}``.
        description: Free text.

    Example:
        >>> doc = ModelDoc("torch", "torch", "models/m/weights", "v1", 10, "ab", {"acc": 0.9}, None, {})
        >>> ModelDoc.from_doc(doc.to_doc()) == doc
        True
    """

    KIND = MODEL

    framework: Literal["torch", "keras"]
    format: Literal["torch", "keras", "keras-weights"]
    key: str
    store_version: str
    size: int
    checksum: str
    metrics: dict[str, Any]
    notebook: dict[str, Any] | None
    source: dict[str, Any]
    description: str | None = ""


@dataclass(frozen=True)
class AliasDoc(RecordDoc):
    """The document of a ``model_alias`` record (``<model>/<alias>``): one move of an alias.

    Attributes:
        model: The model's name.
        alias: The alias (``champion``, ``staging`` …).
        version: The model version it points at after this move.
        previous: Where it pointed before (None for the first move).
        stack: Earlier targets a rollback returns to, oldest first.
        action: ``move`` (a promote) or ``rollback``.
        reason: Why (free text).
        by: Who moved it.

    Example:
        >>> AliasDoc.from_doc({"model": "m", "alias": "champion", "version": 2, "previous": 1,
        ...                    "stack": [1], "action": "move", "reason": "", "by": "ana"}).version
        2
    """

    KIND = ALIAS

    model: str
    alias: str
    version: int
    previous: int | None
    stack: list[int]
    action: Literal["move", "rollback"]
    reason: str | None = ""
    by: str = ""


def read_model(record: Record) -> ModelDoc:
    """The typed document of a ``model`` record.

    Raises:
        CorruptObject: Its document does not validate.
    """
    return ModelDoc.from_doc(record.doc, where=str(record.ref))


def read_alias(record: Record) -> AliasDoc:
    """The typed document of a ``model_alias`` record.

    Raises:
        CorruptObject: Its document does not validate.
    """
    return AliasDoc.from_doc(record.doc, where=str(record.ref))


@dataclass(frozen=True)
class AliasMove:
    """One move of an alias: where it pointed, who moved it, when and why."""

    alias: str
    version: int
    previous: int | None
    action: str
    by: str
    at: datetime
    reason: str


class ModelRegistry:
    """Model versions, aliases and lineage in a store's catalog.

    Args:
        store: The store holding weights and catalog records.
        catalog: The catalog to use (default ``catalog_of(store)``).
    """

    def __init__(self, store: Store, catalog: Any = None) -> None:
        self.store = store
        self.catalog = catalog if catalog is not None else catalog_of(store)

    # ------------------------------------------------------------------ versions
    def register(
        self,
        name: str,
        checkpoint: Any,
        *,
        metrics: Mapping[str, float] | None = None,
        dataset: str | Ref | None = None,
        notebook: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        run: str | None = None,
        parent: str | Ref | None = None,
        description: str = "",
    ) -> Record:
        """Register the next version of model ``name``.

        Args:
            name: Model name (``"digits"``, ``"team/churn"``).
            checkpoint: A :class:`~altakit.train.checkpoint.Checkpoint` (its bytes are
                copied), a ``torch.nn.Module`` or a ``keras.Model``.
            metrics: Evaluation metrics (compared by :mod:`altakit.train.finetune`).
            dataset: Training data: ``"name@version"`` (kind ``dataset``) or a full ref
                such as ``"table:sensors@4"``; without a version the latest is pinned.
            notebook: Notebook that trained it (default: from the environment).
            parameters: Papermill parameters of that notebook.
            run: Run name; links the run record if there is one.
            parent: Model version it was fine-tuned from (``"digits@2"``).
            description: Free text.

        Raises:
            NotFound: The dataset, run or parent record does not exist (nothing is written).
        """
        check_name(name)
        links: dict[str, Any] = {}
        if dataset is not None:
            links["trained_on"] = self._dataset_ref(dataset)
        if parent is not None:
            links["finetuned_from"] = self.get(parent).ref if isinstance(parent, str) else parent
        if run is not None:
            check_name(run)
            if self.catalog.versions("run", run):
                links["run"] = Ref("run", run)
        for rel, ref in links.items():  # check before copying any bytes
            if rel != "finetuned_from":
                links[rel] = self.catalog.resolve(ref).ref
        framework, fmt, weights, source = self._store_weights(name, checkpoint, run)
        doc = ModelDoc(
            framework=framework,  # type: ignore[arg-type]  # validated by to_doc
            format=fmt,  # type: ignore[arg-type]
            key=weights.key,
            store_version=weights.id,
            size=weights.size,
            checksum=weights.checksum,
            metrics={k: float(v) for k, v in (metrics or {}).items()},
            notebook=notebook_info(notebook, parameters),
            source=source,
            description=description,
        )
        return self.catalog.register(MODEL, name, doc.to_doc(), links=links)

    def get(self, spec: str | Ref) -> Record:
        """The model version ``spec`` names: ``"name@3"``, ``"name@champion"``, ``"name"`` (latest).

        Raises:
            NotFound: No such model, version or alias.
        """
        if isinstance(spec, Ref):
            return self.catalog.get(MODEL, spec.name, spec.version)
        if not isinstance(spec, str) or not spec:
            raise ConfigError(f"a model spec must be a str such as 'digits@3', not {spec!r}")
        text = spec.removeprefix(f"{MODEL}:")
        name, sep, tag = text.rpartition("@")
        if not sep:
            return self.catalog.get(MODEL, text)
        if tag.isdigit():
            return self.catalog.get(MODEL, name, int(tag))
        if tag == "latest":
            return self.catalog.get(MODEL, name)
        return self.catalog.get(MODEL, name, self.alias_target(name, tag))

    def versions(self, name: str) -> list[Record]:
        """Every version of model ``name``, oldest first."""
        return self.catalog.versions(MODEL, name)

    def list(self) -> list[Record]:
        """The latest version of every model."""
        return self.catalog.list(MODEL)

    # ------------------------------------------------------------------- aliases
    def promote(
        self, name: str, version: int, alias: str = "champion", *, reason: str = "", by: str | None = None
    ) -> Record:
        """Point ``alias`` of model ``name`` at ``version``; the move is recorded.

        Concurrent moves are serialized: each records where the alias truly pointed
        before it (``previous``) and extends the true rollback stack.

        Raises:
            NotFound: No such model version.
        """
        self.catalog.get(MODEL, name, version)

        def move(current: AliasDoc | None) -> tuple[int, int | None, builtins.list[int]]:
            if current is None:
                return version, None, []
            return version, current.version, [*current.stack, current.version]

        return self._move(name, alias, move, "move", reason, by)

    def rollback(
        self, name: str, alias: str = "champion", *, reason: str = "", by: str | None = None
    ) -> Record:
        """Move ``alias`` back to where it pointed before its last move (recorded as a rollback).

        Raises:
            NotFound: The alias does not exist or has nothing to roll back to.
        """

        def back(current: AliasDoc | None) -> tuple[int, int | None, builtins.list[int]]:
            if current is None or not current.stack:
                raise NotFound(
                    f"alias {alias!r} of model {name!r} has no earlier version to roll back to",
                    model=name,
                    alias=alias,
                    hint="promote a version explicitly: promote(name, version, alias)",
                )
            return current.stack[-1], current.version, list(current.stack[:-1])

        return self._move(name, alias, back, "rollback", reason, by)

    def alias_target(self, name: str, alias: str) -> int:
        """The version ``alias`` points at.

        Raises:
            NotFound: No such alias.
        """
        current = self._alias_doc(name, alias)
        if current is None:
            raise NotFound(
                f"model {name!r} has no alias {alias!r}",
                model=name,
                alias=alias,
                hint=f"aliases of {name!r}: {sorted(self.aliases(name))}; promote one first",
            )
        return current.version

    def aliases(self, name: str) -> dict[str, int]:
        """``{alias: version}`` of model ``name``."""
        docs = (read_alias(rec) for rec in self.catalog.list(ALIAS))
        return {doc.alias: doc.version for doc in docs if doc.model == name}

    def history(self, name: str, alias: str = "champion") -> builtins.list[AliasMove]:
        """Every move of ``alias``, oldest first: version, previous, action, who, when, why."""
        check_name(f"{name}/{alias}")
        moves = []
        for r in self.catalog.versions(ALIAS, f"{name}/{alias}"):
            doc = read_alias(r)
            moves.append(
                AliasMove(
                    alias,
                    doc.version,
                    doc.previous,
                    doc.action,
                    doc.by or r.writer,
                    r.created,
                    doc.reason or "",
                )
            )
        return moves

    # ------------------------------------------------------------------- loading
    def load_bytes(self, spec: str | Ref) -> tuple[bytes, Record]:
        """The stored weights of a model version (checksum verified) and its record.

        In a run pinned to a model version (:mod:`altakit.runs.reads`), a spec without a version
        number (the latest, or an alias) loads the pinned version; the read is noted on the run.
        """
        rec = self.get(spec)
        asked = spec.version if isinstance(spec, Ref) else self._number_in(spec)
        pinned = reads.resolve(MODEL, rec.ref.name, asked)
        if pinned is not None and pinned != rec.ref.version:
            rec = self.catalog.get(MODEL, rec.ref.name, pinned)
        reads.note(rec.ref, unversioned=asked is None)
        doc = read_model(rec)
        try:
            data = self.store.get(doc.key, version=doc.store_version)
        except CorruptObject as exc:
            raise CorruptObject(
                f"the weights of {rec.ref} fail their checksum",
                ref=str(rec.ref),
                name=exc.fields.get("name"),
                hint="load another version, or roll the alias back",
            ) from exc
        return data, rec

    def load_model(self, spec: str | Ref, *, model: Any = None) -> Any:
        """Load a model version in its framework.

        Args:
            spec: ``"name@alias"``, ``"name@3"`` or ``"name"``.
            model: PyTorch (and Keras weights-only) versions: the architecture to load into.

        Returns:
            A ``torch.nn.Module`` (``model``, weights loaded) or a compiled ``keras.Model``.

        Raises:
            CheckpointError: The weights do not fit ``model``, or are not a safe payload.
            CorruptObject: The stored weights fail their checksum.
        """
        data, rec = self.load_bytes(spec)
        where = f"model {rec.ref}"
        fmt = read_model(rec).format
        if fmt == "torch":
            from altakit.train import torch as torch_train

            return torch_train.load_model_bytes(data, model, where)
        from altakit.train import keras as keras_train

        if fmt == "keras":
            return keras_train.load_model_bytes(data, where)
        if model is None:
            raise ConfigError(f"{where} holds Keras weights only: pass model= with its architecture")
        keras_train.load_weights_bytes(model, data, where)
        return model

    def lineage(self, spec: str | Ref, depth: int | None = None) -> builtins.list[tuple[Ref, str, Ref]]:
        """What a model version was made from: dataset version, schema, sources, parent model …"""
        return self.catalog.lineage(self.get(spec).ref, direction="up", depth=depth)

    # ------------------------------------------------------------------- helpers
    @staticmethod
    def _number_in(spec: str) -> int | None:
        tag = spec.rpartition("@")[2] if "@" in spec else ""
        return int(tag) if tag.isdigit() else None

    def _dataset_ref(self, dataset: str | Ref) -> Ref:
        if isinstance(dataset, Ref):
            return dataset
        if not isinstance(dataset, str):
            raise ConfigError(f"dataset must be 'name@version' or a ref, not {type(dataset).__name__}")
        return Ref.parse(dataset if ":" in dataset else f"dataset:{dataset}")

    def _store_weights(self, name: str, obj: Any, run: str | None) -> tuple[str, str, Any, dict[str, Any]]:
        # conventional suffixes (model versions registered before them keep their suffix-less key)
        key = f"models/{name}/weights"
        if isinstance(obj, Checkpoint) and obj.format == "lightning":
            from altakit.train import torch as torch_train

            # a Lightning checkpoint holds the whole trainer state: keep the module's weights only
            state = torch_train.decode(
                self.store.get(obj.key, obj.version), where=f"checkpoint {obj.version}"
            )
            weights = self.store.put(f"{key}.pt", bytes(torch_train.encode(state["state_dict"])))
            source = {"run": obj.run, "checkpoint": obj.version, "step": obj.step, "epoch": obj.epoch}
            return "torch", "torch", weights, source
        if isinstance(obj, Checkpoint):
            if obj.format not in FRAMEWORKS:
                raise ConfigError(
                    f"checkpoint format {obj.format!r} is no model",
                    hint="register a torch, Lightning or Keras checkpoint",
                )
            copied = self.store.copy(obj.key, key + WEIGHT_SUFFIXES[obj.format], version=obj.version)
            source = {"run": obj.run, "checkpoint": obj.version, "step": obj.step, "epoch": obj.epoch}
            return FRAMEWORKS[obj.format], obj.format, copied, source
        torch_mod, keras_mod = sys.modules.get("torch"), sys.modules.get("keras")
        if torch_mod is not None and isinstance(obj, torch_mod.nn.Module):
            from altakit.train import torch as torch_train

            return "torch", "torch", self.store.put(f"{key}.pt", torch_train.model_bytes(obj)), {"run": run}
        if keras_mod is not None and isinstance(obj, keras_mod.Model):
            from altakit.train import keras as keras_train

            weights = self.store.put(f"{key}.keras", keras_train.model_bytes(obj))
            return "keras", "keras", weights, {"run": run}
        raise ConfigError(
            f"cannot register a {type(obj).__name__} as a model",
            hint="pass a Checkpoint (ckpt.find('best')), a torch.nn.Module or a keras.Model",
        )

    def _alias_doc(self, name: str, alias: str) -> AliasDoc | None:
        _check_alias(alias)
        check_name(name)
        try:
            return read_alias(self.catalog.get(ALIAS, f"{name}/{alias}"))
        except NotFound:
            return None

    def _move(
        self,
        name: str,
        alias: str,
        step: Callable[[AliasDoc | None], tuple[int, int | None, builtins.list[int]]],
        action: Literal["move", "rollback"],
        reason: str,
        by: str | None,
    ) -> Record:
        """Record one move, built from the alias's true latest record (compare-and-set on every store)."""
        _check_alias(alias)
        check_name(name)
        who = by or self.store.writer

        def build(prev: Record | None) -> tuple[dict[str, Any], dict[str, Ref]]:
            version, previous, stack = step(read_alias(prev) if prev is not None else None)
            doc = AliasDoc(name, alias, version, previous, stack, action, reason, who)
            return doc.to_doc(), {"points_to": Ref(MODEL, name, version)}

        return self.catalog.register(ALIAS, f"{name}/{alias}", build)


def _check_alias(alias: str) -> None:
    if not isinstance(alias, str) or not alias or alias.isdigit() or alias == "latest" or "/" in alias:
        raise ConfigError(
            f"invalid alias {alias!r}",
            hint="use a word such as 'champion' or 'staging' (not a number, 'latest' or a path)",
        )
    check_name(alias)
