"""Shards no dataset version lists: what a killed or failed ``write_dataset`` leaves, and removing it.

``write_dataset`` writes its shards under ``datasets/<name>/<write id>/`` and records
the manifest last, so a writer killed in between leaves shards that no ``dataset``
record lists. :func:`orphan_shards` finds the object versions under ``datasets/``
that no manifest of any ``dataset`` record lists (imported manifests included) and
that are older than the grace period (a write may still be running); with
``apply=True`` it removes them. It never removes a version a record lists, and if
any ``dataset`` record cannot be read it removes nothing (that record might list
them); shards of a dataset whose damaged record was moved aside are kept.
``altakit store gc`` runs it with the temp-file sweep of :mod:`altakit.store.gc`;
:func:`check_orphan_shards` is the same as a catalog check.

Example:
    >>> import tempfile, altakit
    >>> store = altakit.open_store(tempfile.mkdtemp())
    >>> _ = store.put("datasets/demo/1/shard-000000.tar", b"left by a killed writer")
    >>> [(g.name.split("@")[0], g.removed) for g in orphan_shards(store, grace=0, apply=True)]
    [('datasets/demo/1/shard-000000.tar', True)]
    >>> orphan_shards(store, grace=0)
    []
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from altakit.catalog import catalog_of
from altakit.catalog.check import QUARANTINE, Finding
from altakit.catalog.ledger import record_keys
from altakit.datasets.manifest import DATASET
from altakit.errors import AltakitError, CorruptObject
from altakit.store.base import Store
from altakit.store.gc import GRACE, Garbage
from altakit.store.names import id_time

#: Where ``write_dataset`` and ``import_dataset`` put the shards they write.
PREFIX = "datasets/"


def listed_shards(store: Store) -> set[tuple[str, str]]:
    """``(key, version id)`` of every shard any ``dataset`` record lists.

    Raises:
        CorruptObject: A ``dataset`` record cannot be read (it might list more).

    Example:
        >>> import tempfile, altakit
        >>> listed_shards(altakit.open_store(tempfile.mkdtemp()))
        set()
    """
    catalog = catalog_of(store)
    listed: set[tuple[str, str]] = set()
    for kind, name, number, key in record_keys(store, DATASET):
        try:
            shards: Any = catalog.get(kind, name, number).doc.get("shards", ())
            listed.update((str(s["key"]), str(s["version"])) for s in shards)
        except (AltakitError, KeyError, TypeError, ValueError) as exc:
            raise CorruptObject(
                f"record {kind}:{name}@{number} cannot be read, so the shards it lists are unknown",
                key=key,
                hint="run `altakit catalog check` to repair the catalog, then collect garbage again",
            ) from exc
    return listed


def moved_aside(store: Store) -> tuple[str, ...]:
    """Shard prefixes of the datasets whose damaged records ``altakit catalog check --repair`` moved aside.

    Such a record may have listed shards, so every shard under its dataset's
    ``datasets/<name>/`` stays until the record is restored or deleted by hand.

    Example:
        >>> import tempfile, altakit
        >>> moved_aside(altakit.open_store(tempfile.mkdtemp()))
        ()
    """
    root = f"{QUARANTINE}catalog/{DATASET}/"
    names = {v.key[len(root) :].partition("/@/")[0] for v in store.list(root)}
    return tuple(sorted(f"{PREFIX}{name}/" for name in names))


def orphan_shards(store: Store, *, grace: float = GRACE, apply: bool = False) -> list[Garbage]:
    """Versions under ``datasets/`` that no ``dataset`` record lists and that are older than ``grace``.

    Args:
        store: The store to look through.
        grace: Seconds an unlisted shard is left alone (its writer may still be running).
        apply: Remove what is found (otherwise only report it).

    Returns:
        One :class:`~altakit.store.gc.Garbage` (kind ``"orphan"``, name ``key@version``) per version.

    Raises:
        CorruptObject: A ``dataset`` record cannot be read; nothing is removed.
    """
    listed = listed_shards(store)
    kept = moved_aside(store)
    now = datetime.now(UTC)
    found: list[Garbage] = []
    for latest in store.list(PREFIX):
        for v in store.versions(latest.key):
            age = (now - id_time(v.id)).total_seconds()
            if v.deleted or (v.key, v.id) in listed or age < grace or v.key.startswith(kept):
                continue
            if apply:
                store.purge(v.key, v)
            found.append(Garbage("orphan", f"{v.key}@{v.id}", v.size, age, apply))
    return found


def check_orphan_shards(store: Store, *, repair: bool = False) -> list[Finding]:
    """``altakit catalog check``: shards no dataset version lists, older than a day (removed on repair).

    If a ``dataset`` record cannot be read, nothing is removed and the one finding says so.

    Example:
        >>> import tempfile, altakit
        >>> check_orphan_shards(altakit.open_store(tempfile.mkdtemp()))
        []
    """
    try:
        found = orphan_shards(store, apply=repair)
    except CorruptObject as exc:
        return [Finding("orphan_shards_unknown", str(exc.fields.get("key")), str(exc))]
    return [
        Finding(
            "orphan_shard",
            g.name,
            f"{g.bytes} bytes no dataset version lists, written {g.age / 3600:.0f} h ago"
            + ("; removed" if g.removed else "; `altakit store gc --apply` removes it"),
            repaired=g.removed,
        )
        for g in found
    ]
