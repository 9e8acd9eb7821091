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

#: Bytes a version's file name takes in its key's folder at most (``<id>~<size>~<checksum>~<writer>``
#: is 129 at most; the rest is room for a longer checksum field).
VERSION_NAME_BYTES = 140


def key_limit(root_bytes: int, path_max: int) -> int:
    """The longest key (UTF-8 bytes) whose version paths ``<root>/<key>✹/<version>`` fit ``path_max``.

    Args:
        root_bytes: Length of the store's root path in bytes.
        path_max: The filesystem's longest path, its closing NUL included (``PC_PATH_MAX``).

    Example:
        >>> key_limit(len(b"/data/lake"), 4096)
        3940
    """
    return path_max - 1 - root_bytes - 1 - len(SEP.encode()) - 1 - VERSION_NAME_BYTES


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
