"""What ``altakit catalog check`` and ``altakit doctor`` report about a store's catalog.

Each check returns :class:`Finding` objects: one problem each, what it is,
and whether it was repaired (checks repair only when asked to).

Example:
    >>> Finding("damaged_record", "dataset:sensors@3", "not JSON").repaired
    False
"""

from __future__ import annotations

from dataclasses import dataclass


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
