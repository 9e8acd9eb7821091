"""Fine-tune a registered model on a newer dataset, compare with the champion, promote if better.

These are the functions notebook 06 calls. They are framework-free: the caller
passes ``train(model) -> metrics`` (and optionally ``evaluate(model) -> metrics``
to score the champion on the same new data, so both numbers are comparable).

Example:
    >>> reg = ModelRegistry(store)  # doctest: +SKIP
    >>> result = finetune(reg, "digits@champion", train=fit_more, dataset="digits@3",
    ...                   monitor="accuracy", model=Net(), evaluate=score)  # doctest: +SKIP
    >>> result.promoted, result.candidate.ref  # doctest: +SKIP
    (True, Ref(kind='model', name='digits', version=4))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from altakit.catalog.records import Record
from altakit.errors import ConfigError, NotFound
from altakit.train.registry import ModelRegistry, read_model


@dataclass(frozen=True)
class Comparison:
    """A candidate model version against the current holder of an alias.

    Attributes:
        candidate: The candidate's record.
        champion: The alias holder's record (None if the alias is unset).
        monitor: The compared metric.
        mode: ``"max"`` or ``"min"``.
        candidate_value: The candidate's value.
        champion_value: The champion's value (None without a champion).
        better: The candidate wins (always True without a champion).
        promoted: The alias was moved to the candidate.
    """

    candidate: Record
    champion: Record | None
    monitor: str
    mode: str
    candidate_value: float
    champion_value: float | None
    better: bool
    promoted: bool = False


def compare(
    registry: ModelRegistry,
    name: str,
    version: int,
    *,
    monitor: str,
    mode: str = "max",
    alias: str = "champion",
    scores: Mapping[int, Mapping[str, float]] | None = None,
) -> Comparison:
    """Compare model ``name@version`` with ``name@alias`` on ``monitor``.

    Args:
        registry: The model registry.
        name: Model name.
        version: Candidate version.
        monitor: Metric name; each version's registered metrics are used unless ``scores``.
        mode: ``"max"`` (accuracy) or ``"min"`` (loss).
        alias: The alias to beat.
        scores: ``{version: metrics}`` measured now (e.g. both on the newest data).

    Raises:
        ConfigError: A version lacks ``monitor``.
    """
    if mode not in ("max", "min"):
        raise ConfigError(f"mode must be 'max' or 'min', not {mode!r}")
    candidate = registry.get(f"{name}@{version}")
    try:
        champion: Record | None = registry.get(f"{name}@{alias}")
    except NotFound:
        champion = None
    cand_value = _metric(candidate, monitor, scores)
    if champion is None or champion.version == candidate.version:
        return Comparison(candidate, champion, monitor, mode, cand_value, None, champion is None)
    champ_value = _metric(champion, monitor, scores)
    better = cand_value > champ_value if mode == "max" else cand_value < champ_value
    return Comparison(candidate, champion, monitor, mode, cand_value, champ_value, better)


def promote_if_better(
    registry: ModelRegistry,
    name: str,
    version: int,
    *,
    monitor: str,
    mode: str = "max",
    alias: str = "champion",
    scores: Mapping[int, Mapping[str, float]] | None = None,
) -> Comparison:
    """:func:`compare`, then move ``alias`` to the candidate if it wins (the move is recorded)."""
    result = compare(registry, name, version, monitor=monitor, mode=mode, alias=alias, scores=scores)
    if not result.better:
        return result
    old = f"{result.champion_value:.6g}" if result.champion_value is not None else "none"
    reason = f"{monitor} {result.candidate_value:.6g} vs {old} ({mode})"
    registry.promote(name, version, alias, reason=reason)
    return Comparison(**{**result.__dict__, "promoted": True})


def finetune(
    registry: ModelRegistry,
    base: str,
    train: Callable[[Any], Mapping[str, float]],
    *,
    dataset: str,
    monitor: str,
    mode: str = "max",
    name: str | None = None,
    model: Any = None,
    evaluate: Callable[[Any], Mapping[str, float]] | None = None,
    alias: str = "champion",
    promote: bool = True,
    notebook: str | None = None,
    run: str | None = None,
) -> Comparison:
    """Load ``base``, train it more on ``dataset``, register the result, compare, promote if better.

    Args:
        registry: The model registry.
        base: The version to start from (``"digits@champion"``, ``"digits@2"``).
        train: ``train(model) -> metrics``; trains the model in place.
        dataset: The newer dataset version (``"digits@3"``), linked as ``trained_on``.
        monitor: Metric to compare.
        mode: ``"max"`` or ``"min"``.
        name: Model name to register under (default: the base's).
        model: PyTorch: the architecture to load ``base`` into.
        evaluate: ``evaluate(model) -> metrics`` on the new data; when given, the
            champion is scored by it too, so both are compared on the same data.
        alias: Alias to compare with and promote.
        promote: Move the alias when the candidate wins.
        notebook: Notebook doing the fine-tuning (recorded).
        run: Run name (linked if it has a run record).
    """
    start = registry.get(base)
    loaded = registry.load_model(start.ref, model=model)
    metrics = dict(train(loaded))
    if evaluate is not None:
        metrics.update(evaluate(loaded))
    target = name or start.name
    rec = registry.register(
        target, loaded, metrics=metrics, dataset=dataset, parent=start.ref, notebook=notebook, run=run
    )
    scores: dict[int, Mapping[str, float]] | None = None
    if evaluate is not None:
        scores = {rec.version: metrics}
        try:
            champ = registry.get(f"{target}@{alias}")
        except NotFound:
            champ = None
        if champ is not None and champ.version != rec.version:
            champ_model = registry.load_model(champ.ref, model=_fresh(model))
            scores[champ.version] = dict(evaluate(champ_model))
    op = promote_if_better if promote else compare
    return op(registry, target, rec.version, monitor=monitor, mode=mode, alias=alias, scores=scores)


def _metric(rec: Record, monitor: str, scores: Mapping[int, Mapping[str, float]] | None) -> float:
    source = scores[rec.version] if scores and rec.version in scores else read_model(rec).metrics
    if monitor not in source:
        raise ConfigError(
            f"{rec.ref} has no metric {monitor!r} (has {sorted(source)})",
            hint="register metrics=… with the model, or pass evaluate=…",
        )
    return float(source[monitor])


def _fresh(model: Any) -> Any:
    """A separate copy of a torch architecture, so loading the champion leaves the candidate alone."""
    if model is None:
        return None
    import copy

    return copy.deepcopy(model)
