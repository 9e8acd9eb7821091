"""Backends by URL scheme, imported on first use.

A :class:`Registry` maps a scheme to a dotted path and the extra that installs
its dependencies. Registries are plain instances: tests build fresh ones, and
:func:`default_registry` builds the standard one.

Example:
    >>> reg = default_registry()
    >>> reg.schemes()
    ['file', 'jvm', 's3']
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from altakit import config
from altakit.errors import ConfigError, MissingDependency, UnknownBackend
from altakit.store.base import Store
from altakit.store.credentials import check_store_url, mask_url


@dataclass(frozen=True)
class Backend:
    """A registered backend: ``target`` is ``"module:Class"``; ``extra`` the pip extra."""

    target: str
    extra: str | None = None


class Registry:
    """Store backends by scheme."""

    def __init__(self) -> None:
        self._backends: dict[str, Backend] = {}

    def register(self, scheme: str, target: str, extra: str | None = None) -> None:
        """Register ``target`` (``"module:Class"``) for URLs of ``scheme``."""
        self._backends[scheme] = Backend(target, extra)

    def schemes(self) -> list[str]:
        """The registered schemes, sorted."""
        return sorted(self._backends)

    def load(self, scheme: str) -> type[Store]:
        """Import and return the store class for ``scheme``."""
        try:
            backend = self._backends[scheme]
        except KeyError:
            raise UnknownBackend(
                f"no store backend for scheme {scheme!r}",
                scheme=scheme,
                hint=f"use one of: {', '.join(self.schemes())} (or a plain path)",
            ) from None
        module, _, name = backend.target.partition(":")
        try:
            return getattr(importlib.import_module(module), name)
        except ImportError as exc:
            extra = backend.extra or "all"
            raise MissingDependency(
                f"the {scheme!r} store needs {exc.name or 'a missing package'}",
                extra=extra,
                hint=f"pip install 'altakit[{extra}]'",
            ) from exc

    def open(self, url: str | Any, **options: Any) -> Store:
        """Open the store at ``url`` (see :func:`open_store`)."""
        url = str(url)
        if not url or "\x00" in url:
            shown = mask_url(url, user=True)
            raise ConfigError(f"malformed store URL {shown!r}", hint="e.g. ./data, s3://bucket/prefix")
        scheme, sep, _ = url.partition("://")
        if url.startswith("jvm+"):  # even a malformed one: the jvm store says what is wrong
            scheme = "jvm"
        elif not sep or "/" in scheme or scheme == "":
            scheme = "file"
        check_store_url(url, scheme)  # before any backend sees it: no credentials, never echoed
        return self.load(scheme).from_url(url, **options)  # type: ignore[attr-defined]


def default_registry() -> Registry:
    """A registry with the built-in backends."""
    reg = Registry()
    reg.register("file", "altakit.store.local:LocalStore")
    reg.register("s3", "altakit.store.s3:S3Store", extra="s3")
    reg.register("jvm", "altakit.store.jvm:JvmStore", extra="jvm")
    return reg


def open_store(
    url: Store | str | Any | None = None, *, registry: Registry | None = None, **options: Any
) -> Store:
    """Open a versioned store: the one way to say "this store, this URL, or the default one".

    Every URL is checked before a backend sees it (:func:`altakit.store.credentials.check_store_url`):
    credentials in it (``user:password@``, ``?aws_secret_access_key=…``) are refused with the URL masked.

    Args:
        url: A plain path or ``file:///…`` (local folder), ``s3://bucket/prefix``,
            or ``jvm+<hadoop uri>`` such as ``jvm+file:///data``; a :class:`Store` is
            returned as it is; ``None`` opens the default store
            (:func:`altakit.config.default_store_url`: ``$ALTAKIT_STORE`` or ``./data/store``).
        registry: Backends to use (default: :func:`default_registry`).
        **options: Backend options (``endpoint_url``, ``region``, ``profile``, ``writer`` …).

    Example:
        >>> store = open_store("./data")  # doctest: +SKIP
        >>> store = open_store("s3://bucket/team", endpoint_url="http://127.0.0.1:9000")  # doctest: +SKIP
    """
    if isinstance(url, Store):
        return url
    if url is None:
        url = config.default_store_url()
    return (registry or default_registry()).open(url, **options)
