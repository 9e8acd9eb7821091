"""Pinned inputs: which versions a run read, and re-running it on exactly those.

Every read of a catalog version through altakit — :func:`altakit.read_table`,
:func:`altakit.load_dataset`, :meth:`altakit.train.ModelRegistry.load_model` —
calls :func:`resolve` (which version to read) and :func:`note` (which version
was read). Outside a run both are no-ops. A batch run
(:func:`altakit.runs.notebook.run_notebook`) sets two environment variables for
its kernel:

- ``ALTAKIT_READS``: a JSON-lines file each read appends ``{"ref": "table:sensors@4",
  "unversioned": true}`` to (``unversioned``: the read named no version number); the run
  record keeps the refs (``reads``, ``unversioned``) and links each one (``read``).
- ``ALTAKIT_PINS``: ``{"table:sensors": 4, "model:digits": 3}``. A read of a pinned
  ``kind:name`` that names no version number (the latest, or a model alias such
  as ``digits@champion``) reads the pinned version: the same snapshot a recorded
  run read (time travel), however much data landed since. A read that names its
  version (``sensors@5``) reads that version, pinned or not.

Example:
    >>> pins_of(["table:sensors@4", "dataset:digits@2"])
    {'table:sensors': 4, 'dataset:digits': 2}
    >>> resolve("table", "sensors", None, pins={"table:sensors": 4})
    4
    >>> resolve("table", "sensors", 5, pins={"table:sensors": 4})
    5
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from altakit.catalog.records import Ref
from altakit.errors import ConfigError

#: Environment variable: JSON object ``{"kind:name": version}`` of pinned reads.
PINS_ENV = "ALTAKIT_PINS"
#: Environment variable: path of the JSON-lines file reads are noted in.
READS_ENV = "ALTAKIT_READS"
#: Kinds whose reads are noted and pinned.
KINDS = ("table", "dataset", "model")


def check_pins(pins: Mapping[str, object]) -> dict[str, int]:
    """``pins`` validated: keys ``kind:name`` of :data:`KINDS`, values version numbers ≥ 1.

    Raises:
        ConfigError: A key or a version is not one.

    Example:
        >>> check_pins({"table:sensors": 4})
        {'table:sensors': 4}
    """
    if not isinstance(pins, Mapping):
        raise ConfigError(f"pins must be a mapping of 'kind:name' to a version, not {type(pins).__name__}")
    out: dict[str, int] = {}
    for key, version in pins.items():
        ref = Ref.parse(key) if isinstance(key, str) else None
        if ref is None or ref.version is not None or ref.kind not in KINDS:
            raise ConfigError(f"bad pin {key!r}", hint="pin 'table:NAME', 'dataset:NAME' or 'model:NAME'")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ConfigError(f"pin {key!r} needs a version number ≥ 1, not {version!r}")
        out[f"{ref.kind}:{ref.name}"] = version
    return out


def active_pins() -> dict[str, int]:
    """The pins of this process (``$ALTAKIT_PINS``; ``{}`` when unset).

    Raises:
        ConfigError: ``$ALTAKIT_PINS`` is not a JSON object of pins.
    """
    text = os.environ.get(PINS_ENV, "").strip()
    if not text:
        return {}
    try:
        pins = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"${PINS_ENV} is not JSON: {exc}", hint="unset it, or give a JSON object") from exc
    return check_pins(pins)


def resolve(
    kind: str, name: str, version: int | None, *, pins: Mapping[str, int] | None = None
) -> int | None:
    """The version to read: ``version`` if given, else the pinned one, else None (the latest)."""
    if version is not None:
        return version
    return (active_pins() if pins is None else pins).get(f"{kind}:{name}")


def note(ref: Ref, *, unversioned: bool) -> None:
    """Append ``ref`` (with the version read) to ``$ALTAKIT_READS`` when a run collects reads.

    Args:
        ref: The version read.
        unversioned: The read named no version number (the latest, an alias, or a pin).
    """
    path = os.environ.get(READS_ENV)
    if not path or ref.version is None or ref.kind not in KINDS:
        return
    line = json.dumps({"ref": str(ref), "unversioned": bool(unversioned)})
    with open(path, "a", encoding="utf-8") as f:  # one short line per write: appends do not interleave
        f.write(line + "\n")


def collect(path: str | Path) -> tuple[list[str], list[str]]:
    """The refs noted in a reads file: ``(reads, unversioned)``, each unique and sorted.

    A line a killed kernel left half-written is skipped; no file means no reads.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return [], []
    reads: set[str] = set()
    unversioned: set[str] = set()
    for line in lines:
        try:
            entry = json.loads(line)
            ref = str(Ref.parse(entry["ref"]))
        except (ValueError, KeyError, TypeError, ConfigError):
            continue
        reads.add(ref)
        if entry.get("unversioned"):
            unversioned.add(ref)
    return sorted(reads), sorted(unversioned)


def pins_of(reads: Iterable[str]) -> dict[str, int]:
    """The pins that read ``reads`` again: ``{"kind:name": version}``.

    Give it a run's ``unversioned`` reads: those that name their version read it again anyway.

    Raises:
        ConfigError: The reads hold two versions of one ``kind:name`` (no one pin reads both).
    """
    pins: dict[str, int] = {}
    for text in reads:
        ref = Ref.parse(text)
        key = f"{ref.kind}:{ref.name}"
        if ref.version is None or pins.get(key, ref.version) != ref.version:
            raise ConfigError(
                f"the run read {key} at more than one version ({pins.get(key)} and {ref.version})",
                hint="re-run it with the notebook naming each version (name@N)",
            )
        pins[key] = ref.version
    return pins
