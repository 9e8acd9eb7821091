"""What ``altakit catalog check`` and ``altakit doctor`` report about checkpoints and model aliases.

:func:`check_checkpoints`: a run's latest manifest lists a checkpoint whose bytes
are gone (what two writers on one run could do before manifests were numbered);
repair commits a manifest without it. :func:`check_aliases`: an alias history
whose moves do not chain (a move recorded a ``previous`` the alias did not point
at: a move lost to a concurrent one before moves were compare-and-set); history
is not rewritten, so this is reported only.

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> check_checkpoints(store), check_aliases(store)
    ([], [])
"""

from __future__ import annotations

import itertools

from altakit.catalog import catalog_of
from altakit.catalog.check import Finding
from altakit.errors import AltakitError, NotFound
from altakit.store.base import Store
from altakit.train.checkpoint import Checkpointer
from altakit.train.registry import ALIAS, read_alias


def check_checkpoints(store: Store, *, repair: bool = False, prefix: str = "checkpoints") -> list[Finding]:
    """Checkpoints a run's manifest lists whose bytes are gone; ``repair`` drops them from the manifest.

    Args:
        store: The store to check.
        repair: Commit, per run, a manifest without the missing checkpoints.
        prefix: Where runs keep their checkpoints (as ``Checkpointer(prefix=...)``).

    Example:
        >>> check_checkpoints(store, repair=True)  # doctest: +SKIP
        [Finding(kind='missing_checkpoint', subject='checkpoints/nightly@2026…', ..., repaired=True)]
    """
    root = f"{prefix.strip('/')}/"
    runs: set[str] = set()
    for v in store.list(root):
        key = v.key[len(root) :]
        if "/@manifest/rec/" in key:
            runs.add(key.partition("/@manifest/")[0])
        elif key.endswith("/manifest.json"):
            runs.add(key.removesuffix("/manifest.json"))
    findings: list[Finding] = []
    for run in sorted(runs):
        try:
            ckpt = Checkpointer(store, run, prefix=prefix)
            listed = ckpt.checkpoints()
        except AltakitError as exc:
            findings.append(
                Finding("damaged_manifest", f"{root}{run}", f"the manifest cannot be read: {exc}")
            )
            continue
        gone = [c for c in listed if not _present(store, c.key, c.version)]
        if gone and repair:
            ckpt.forget({c.version for c in gone})
        for c in gone:
            what = "dropped from the manifest" if repair else "repair drops it from the manifest"
            message = f"the manifest lists the checkpoint of step {c.step} but its bytes are gone; {what}"
            findings.append(Finding("missing_checkpoint", f"{root}{run}@{c.version}", message, repair))
    return findings


def check_aliases(store: Store, *, repair: bool = False) -> list[Finding]:
    """Alias moves whose ``previous`` is not where the move before them pointed (reported, never repaired).

    Example:
        >>> check_aliases(store)  # doctest: +SKIP
        [Finding(kind='alias_chain', subject='model_alias:digits/champion@7', ...)]
    """
    cat = catalog_of(store)
    findings: list[Finding] = []
    for latest in cat.list(ALIAS):
        try:
            moves = [(r, read_alias(r)) for r in cat.versions(ALIAS, latest.name)]
        except AltakitError:
            continue  # a damaged record: check_records reports it
        for (_, before), (rec, doc) in itertools.pairwise(moves):
            if doc.previous != before.version:
                message = (
                    f"move {rec.version} records previous {doc.previous}, but the alias pointed at "
                    f"{before.version}: a concurrent move was lost (its current target is as recorded)"
                )
                findings.append(Finding("alias_chain", str(rec.ref), message))
    return findings


def _present(store: Store, key: str, version: str) -> bool:
    try:
        store.resolve(key, version)
    except NotFound:
        return False
    return True
