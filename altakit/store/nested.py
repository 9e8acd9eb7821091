"""The folder-per-key layout that the local and JVM stores share: ``<root>/<key>✹/<version name>``.

Keeping each key's versions in a folder of their own means resolving "latest"
lists that key's versions only. :func:`walk_nested` turns such a tree back into
the flat listing ``Store._scan`` returns.

Example:
    >>> tree = {"": ["raw"], "raw": ["a.csv✹", "b.csv✹"]}
    >>> names = {"raw/a.csv": ["raw/a.csv✹v1"], "raw/b.csv": ["raw/b.csv✹v1", "raw/b.csv✹v2"]}
    >>> list(walk_nested(tree.get, lambda key: iter(names[key]), "raw/b", True))
    ['raw/b.csv✹v1', 'raw/b.csv✹v2']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from altakit.store.names import SEP


def walk_nested(
    folders: Callable[[str], Iterable[str]],
    names_of: Callable[[str], Iterator[str]],
    prefix: str,
    recursive: bool,
) -> Iterator[str]:
    """``Store._scan`` for backends that keep each key's versions in a folder ``<key>✹/``.

    Args:
        folders: The sub-folder names of a folder (``""`` is the root), temp folders left out.
        names_of: The backend's ``_names_of``.
        prefix: As in ``_scan``.
        recursive: As in ``_scan``.

    Returns:
        The names of every version of every key under ``prefix``.
    """

    def walk(folder: str) -> Iterator[str]:
        for entry in sorted(folders(folder)):
            rel = f"{folder}/{entry}" if folder else entry
            if rel.endswith(SEP):
                if rel[: -len(SEP)].startswith(prefix):
                    yield from names_of(rel[: -len(SEP)])
            elif prefix.startswith(rel + "/") or (recursive and rel.startswith(prefix)):
                yield from walk(rel)

    return walk(prefix.rpartition("/")[0])
