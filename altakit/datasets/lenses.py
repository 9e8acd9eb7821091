"""Lenses: functions that view one sample type as another.

A :class:`LensRegistry` maps ``(source schema, view schema)`` to a function;
schemas are matched by fingerprint, so a lens also applies to a type rebuilt
from a stored schema. Registries are plain instances: :func:`lenses_of` gives
the one of a store's catalog (made on first use, gone with the catalog), which
``Dataset.as_type`` uses by default; tests build fresh ones. There is no
process-global registry.

Example:
    >>> lenses = LensRegistry()
    >>> @lenses.register
    ... def just_label(s: Digit) -> Label:  # doctest: +SKIP
    ...     return Label(s.label)
    >>> ds.as_type(Label, lenses=lenses)  # doctest: +SKIP
"""

from __future__ import annotations

import typing
import weakref
from collections.abc import Callable
from typing import Any

from altakit.catalog import Catalog, catalog_of
from altakit.datasets.samples import schema_of
from altakit.errors import ConfigError, NotFound
from altakit.store.base import Store


class LensRegistry:
    """Lenses by (source, view) schema fingerprint."""

    def __init__(self) -> None:
        self._lenses: dict[tuple[str, str], Callable[[Any], Any]] = {}

    def register(
        self, fn: Callable[[Any], Any], *, source: type | None = None, view: type | None = None
    ) -> Callable[[Any], Any]:
        """Register ``fn`` (types from its annotations unless given); returns ``fn`` (a decorator).

        Use module-level functions so DataLoader workers can pickle them.
        """
        if source is None or view is None:
            hints = typing.get_type_hints(fn)
            params = [v for k, v in hints.items() if k != "return"]
            source = source or (params[0] if params else None)
            view = view or hints.get("return")
        if source is None or view is None:
            raise ConfigError(
                f"lens {fn!r} needs source and view types", hint="annotate it: def f(s: A) -> B"
            )
        self._lenses[(schema_of(source).fingerprint, schema_of(view).fingerprint)] = fn
        return fn

    def find(self, source: Any, view: Any) -> Callable[[Any], Any]:
        """The lens from ``source`` to ``view`` (types or schemas)."""
        src = source if hasattr(source, "fingerprint") else schema_of(source)
        dst = view if hasattr(view, "fingerprint") else schema_of(view)
        try:
            return self._lenses[(src.fingerprint, dst.fingerprint)]
        except KeyError:
            raise NotFound(
                f"no lens from {src.name!r} to {dst.name!r}",
                source=src.name,
                view=dst.name,
                hint="register one with lenses.register(fn)",
            ) from None

    def __len__(self) -> int:
        return len(self._lenses)

    def clear(self) -> None:
        """Forget every lens."""
        self._lenses.clear()


#: One registry per catalog object, dropped with it (the catalog itself knows nothing of lenses).
_BY_CATALOG: weakref.WeakKeyDictionary[Catalog, LensRegistry] = weakref.WeakKeyDictionary()


def lenses_of(store: Store) -> LensRegistry:
    """The lens registry of ``store``'s catalog: made on first use, then the same one.

    ``catalog_of(store)`` is one catalog per store object, so every dataset of one
    store shares its lenses, and another store (or a test's fresh one) starts empty.

    Example:
        >>> import tempfile, altakit
        >>> store = altakit.open_store(tempfile.mkdtemp())
        >>> lenses_of(store) is lenses_of(store), len(lenses_of(store))
        (True, 0)
        >>> lenses_of(altakit.open_store(tempfile.mkdtemp())) is lenses_of(store)
        False
    """
    catalog = catalog_of(store)
    registry = _BY_CATALOG.get(catalog)
    if registry is None:
        registry = _BY_CATALOG[catalog] = LensRegistry()
    return registry
