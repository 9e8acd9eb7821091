"""The base of store wrappers: a store that forwards every primitive to an inner store.

Wrappers (caching, encryption) compose around any backend. A wrapper overrides
only the primitives it changes; the :class:`~altakit.store.base.Store` base then
derives versioning, listing, verification and copy on top, exactly as for a
backend. ``url`` and ``writer`` come from the inner store.

Example:
    >>> import tempfile
    >>> from altakit.store.local import LocalStore
    >>> store = WrappedStore(LocalStore(tempfile.mkdtemp()))
    >>> store.get("a.txt", version=store.put("a.txt", b"hi").id)
    b'hi'
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from altakit.store.base import Store
from altakit.store.names import Version
from altakit.store.sources import Source


class WrappedStore(Store):
    """A store that forwards every primitive to ``inner``.

    Args:
        inner: The store to wrap (a backend or another wrapper).
    """

    def __init__(self, inner: Store) -> None:
        if not isinstance(inner, Store):
            from altakit.errors import ConfigError

            raise ConfigError(
                f"a wrapper needs a Store to wrap, not {type(inner).__name__}",
                hint="pass altakit.open_store(url)",
            )
        super().__init__(inner.url, writer=inner.writer)
        self.inner = inner

    @property
    def plain_checksums(self) -> bool:
        """As the wrapped store's."""
        return self.inner.plain_checksums

    def _write(self, name: str, source: Source) -> None:
        self.inner._write(name, source)

    def _read_range(self, name: str, start: int, stop: int) -> bytes:
        return self.inner._read_range(name, start, stop)

    def _scan(self, prefix: str, recursive: bool) -> Iterator[str]:
        return self.inner._scan(prefix, recursive)

    def _remove(self, name: str) -> None:
        self.inner._remove(name)

    def _level(self, folder: str, after: str, limit: int) -> tuple[list[tuple[str, list[str] | None]], bool]:
        return self.inner._level(folder, after, limit)

    def _names_of(self, key: str) -> Iterator[str]:
        return self.inner._names_of(key)

    def _open_raw(self, name: str, size: int) -> BinaryIO:
        return self.inner._open_raw(name, size)

    def _copy(self, src: str, dst: str) -> None:
        self.inner._copy(src, dst)

    def _name_checksum(self, version: Version | None, digest: str) -> str:
        return self.inner._name_checksum(version, digest)

    def close(self) -> None:
        """Close the inner store."""
        self.inner.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"
