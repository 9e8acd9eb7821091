"""What ``altakit catalog check`` and ``altakit doctor`` report about a store's catalog.

Each check returns :class:`Finding` objects: one problem each, what it is,
and whether it was repaired (checks repair only when asked to). This module's
check is :func:`check_records`: damaged records and foreign objects under the
catalog's root. ``altakit catalog check`` runs every check listed in
:data:`altakit.cli.catalog.CHECKS`.

Example:
    >>> Finding("damaged_record", "dataset:sensors@3", "not JSON").repaired
    False
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from dataclasses import dataclass

from altakit.catalog import ledger
from altakit.catalog.catalog import catalog_of
from altakit.catalog.records import Ref, read_record
from altakit.errors import ConfigError, CorruptObject, NotFound
from altakit.store.base import Store
from altakit.store.names import CATALOG_PREFIX, Version


@dataclass(frozen=True)
class Finding:
    """One problem a catalog check found.

    Attributes:
        kind: What sort of problem: ``damaged_record``, ``orphan_commit`` …
        subject: What it concerns: a ref, a store key or a table.
        message: One line for a person: what is wrong and what repair does.
        repaired: True when this check repaired it.

    Example:
        >>> Finding("orphan_commit", "table:sensors", "Delta version 4 has no record").subject
        'table:sensors'
    """

    kind: str
    subject: str
    message: str
    repaired: bool = False


#: Where repairs move damaged or foreign objects: ``<QUARANTINE><key below _altakit/>/<version id>``.
QUARANTINE = f"{CATALOG_PREFIX}damaged/"
#: A record's key below :data:`~altakit.catalog.ledger.ROOT` (as the ledger lists them).
_RECORD = re.compile(r"^(?P<kind>[^/]+)/(?P<name>.+)/@/rec/(?P<n>[1-9][0-9]*)\.json$")
#: The ledger's other objects live in a ``(kind, name)`` folder, ``<kind>/<name>/@/<area>/<leaf>``
#: (claims, markers …); ``@`` never starts a name segment. Anything else under the catalog's root,
#: or under ``@/rec/`` but not named ``<n>.json``, is foreign.
_LEDGER = re.compile(r"^[^/@][^/]*(?:/[^/@][^/]*)+/@/(?!rec/)[^/]+/.+$")


def check_records(store: Store, *, repair: bool = False) -> list[Finding]:
    """Damaged catalog records and foreign objects under the catalog's root, optionally moved aside.

    A record is damaged when its bytes fail their checksum (a flipped byte), are not a
    record (a foreign object written past altakit), or hold another record than their
    key names. The catalog's index passes over a damaged record, so the rest of the
    catalog keeps working, but reading that record fails; repair moves it aside: the
    bytes of each bad version are copied, unchanged, to
    ``_altakit/damaged/<key below _altakit/>/<version id>``, then the newest earlier
    version that is a good record is restored as latest, or else the key is deleted
    (a tombstone: no byte leaves the store). A foreign object in the catalog's folders
    is moved aside likewise. After a repair the catalog's index is rebuilt.

    Args:
        store: The store whose catalog to check.
        repair: Move what is found aside (else only report it).

    Returns:
        One :class:`Finding` per damaged record or foreign object (``repaired`` when moved aside).

    Example:
        >>> import tempfile, altakit
        >>> store = altakit.open_store(tempfile.mkdtemp())
        >>> _ = catalog_of(store).register("run", "r", {"n": 1})
        >>> _ = store.put(ledger.record_key("run", "r", 2), b"PK\\x03\\x04", reserved=True)
        >>> [(f.kind, f.subject) for f in check_records(store)]
        [('damaged_record', '_altakit/catalog/run/r/@/rec/2.json')]
        >>> [f.repaired for f in check_records(store, repair=True)], check_records(store)
        ([True], [])
        >>> [str(r.ref) for r in catalog_of(store).list()]
        ['run:r@1']
    """
    findings: list[Finding] = []
    for latest in store.list(ledger.ROOT):
        below = latest.key[len(ledger.ROOT) :]
        record = _RECORD.match(below)
        if record:
            finding = _check_record(store, latest.key, record, repair)
        elif _LEDGER.match(below):
            continue
        else:
            finding = Finding(
                "foreign_object",
                latest.key,
                f"not one of the catalog's objects (written past altakit); repair moves it to {QUARANTINE}",
            )
            if repair:
                finding = _move_aside(store, finding, _live(store, latest.key))
        if finding is not None:
            findings.append(finding)
    if any(f.repaired for f in findings):
        catalog_of(store).reindex()
    return findings


def _check_record(store: Store, key: str, match: re.Match[str], repair: bool) -> Finding | None:
    """A finding if the record at ``key`` is damaged; with ``repair``, its bad versions moved aside."""
    try:
        ref = Ref(match["kind"], match["name"], int(match["n"]))
    except ConfigError:  # a key no record could have: all of it is foreign
        finding = Finding(
            "foreign_object",
            key,
            f"no record has this key; repair moves it to {QUARANTINE}",
        )
        return _move_aside(store, finding, _live(store, key)) if repair else finding
    try:
        read_record(store, key, ref)
        return None
    except NotFound:  # deleted since the listing
        return None
    except CorruptObject as exc:
        why = str(exc.fields.get("reason") or exc.message)
    history = _live(store, key)
    good = next((v for v in reversed(history[:-1]) if _is_good(store, key, ref, v)), None)
    then = f"restores version {good.id}" if good else "deletes the key (a tombstone)"
    finding = Finding(
        "damaged_record",
        key,
        f"record {ref} is damaged ({why}); repair moves its bytes to {QUARANTINE} and {then}",
    )
    if not repair:
        return finding
    bad = [v for v in history if good is None or v.id > good.id]
    return _move_aside(store, finding, bad, restore=good)


def _live(store: Store, key: str) -> list[Version]:
    return [v for v in store.versions(key) if not v.deleted]


def _is_good(store: Store, key: str, ref: Ref, version: Version) -> bool:
    try:
        read_record(store, key, ref, version)
    except (CorruptObject, NotFound):
        return False
    return True


def _move_aside(
    store: Store, finding: Finding, bad: list[Version], restore: Version | None = None
) -> Finding:
    """Copy each of ``bad`` to the quarantine, then restore ``restore`` as latest or delete the key."""
    key = finding.subject
    for version in bad:
        aside = f"{QUARANTINE}{key[len(CATALOG_PREFIX) :]}/{version.id}"
        store.copy(key, aside, version=version, reserved=True)
    if restore is not None:
        store.copy(key, key, version=restore, reserved=True)
    else:
        with contextlib.suppress(NotFound):  # deleted meanwhile
            store.delete(key, reserved=True)
    return dataclasses.replace(finding, repaired=True)
