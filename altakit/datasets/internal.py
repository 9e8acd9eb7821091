"""The names of altakit's own columns, and what happens to a user's column that takes one.

altakit adds a few columns of its own next to a user's data while it ingests
(``_source``, ``_line`` …), keeps one in stored tables (``_rescued_data``) and
names the quarantine table's columns. Every other name is the user's, leading
underscores included (``_id`` from MongoDB exports, ``_version``,
``__index_level_0__`` from pandas are data). Stored tables and quarantines
already hold these names, so they cannot move to a new namespace; instead a
user's column whose name equals one of them (case folded, as Delta compares
names) is renamed by :func:`user_name` (``_line`` → ``_line_user``), which shows
under its new name in the schema review and diff.

Example:
    >>> is_internal("_line"), is_internal("_id"), is_internal("__index_level_0__")
    (True, False, False)
    >>> user_name("_Line", taken={"_line_user"})
    '_Line_user2'
"""

from __future__ import annotations

from collections.abc import Iterable

#: Every column name altakit itself uses next to user data, in stored tables or in quarantine
#: (readers' position columns, the quarantine's, ``_rescued_data``, the cleaning steps' scratch
#: columns, the Spark engine's row kind).
INTERNAL_COLUMNS = frozenset(
    {
        "_source", "_line", "_reason", "_raw", "_ingest", "_rescued_data", "_kind", "_n",
        "__series", "__row", "__bucket", "__i", "__why", "__run", "__g", "__grid",
    }
)  # fmt: skip
_FOLDED = frozenset(n.casefold() for n in INTERNAL_COLUMNS)


def is_internal(name: str) -> bool:
    """Whether ``name`` is one of altakit's own columns (exactly as altakit spells it).

    Example:
        >>> is_internal("_rescued_data"), is_internal("_rescued")
        (True, False)
    """
    return name in INTERNAL_COLUMNS


def collides(name: str) -> bool:
    """Whether a user's column called ``name`` would clash with one of altakit's (case folded).

    Example:
        >>> collides("_SOURCE"), collides("source")
        (True, False)
    """
    return name.casefold() in _FOLDED


def user_name(name: str, taken: Iterable[str] = ()) -> str:
    """The name a user's column called ``name`` gets: itself, or renamed if it :func:`collides`.

    The new name is ``<name>_user`` (``_user2`` … if that is ``taken`` too, case folded).

    Example:
        >>> user_name("_id"), user_name("_rescued_data")
        ('_id', '_rescued_data_user')
    """
    if not collides(name):
        return name
    folded = {t.casefold() for t in taken}
    n, out = 1, f"{name}_user"
    while out.casefold() in folded or collides(out):
        n += 1
        out = f"{name}_user{n}"
    return out
