"""Lenses: functions that view one sample type as another.

A :class:`LensRegistry` maps ``(source schema, view schema)`` to a function;
schemas are matched by fingerprint, so a lens also applies to a type rebuilt
from a stored schema. Registries are plain instances owned by a catalog (or
built fresh in tests); there is no process-global one.

Example:
    >>> lenses = LensRegistry()
    >>> @lenses.register
    ... def just_label(s: Digit) -> Label:  # doctest: +SKIP
    ...     return Label(s.label)
    >>> ds.as_type(Label, lenses=lenses)  # doctest: +SKIP
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from altakit.datasets.samples import schema_of
from altakit.errors import ConfigError, NotFound


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
