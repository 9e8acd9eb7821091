"""Fault-injection points: crash tests kill a process at a named moment.

Code that commits in several steps calls :func:`point` between them. Normally
that is one environment lookup. When ``ALTAKIT_FAULT`` names the point, the
process sends itself ``SIGKILL`` there: no ``finally`` block, no ``atexit``, no
flush runs, exactly as when the machine loses power or the OOM killer strikes.
``ALTAKIT_FAULT="<name>:<n>"`` kills at the n-th time the point is reached
(counted per process), so a test can kill in the middle of a loop. With
``ALTAKIT_FAULT_ONCE=<path>`` only the first process to get there is killed (it
creates ``path``): a retried task that reaches the point again lives. With
``ALTAKIT_FAULT_HOLD=<seconds>`` as well, that first process is not killed but
held there: it writes its pid into ``path`` and sleeps, so a test can kill
another process (the Spark executor hosting it) while the work is surely in flight.

Point names are ``<area>.<moment>`` (``ingest.delta_committed``); every module
that has points lists them in a module constant ``FAULT_POINTS`` so a test can
kill at each in turn.

Example:
    >>> point("ingest.delta_committed")  # ALTAKIT_FAULT unset: nothing happens
    >>> parse("ingest.delta_committed:3")
    ('ingest.delta_committed', 3)
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

ENV = "ALTAKIT_FAULT"
#: A file whose creation marks that a process was killed: no other process is.
ONCE_ENV = "ALTAKIT_FAULT_ONCE"
#: Seconds the first process at the point is held (instead of killed); needs :data:`ONCE_ENV`.
HOLD_ENV = "ALTAKIT_FAULT_HOLD"
_hits: Counter[str] = Counter()


def parse(spec: str) -> tuple[str, int]:
    """``"name"`` or ``"name:n"`` as ``(name, n)``; ``n`` is 1 when not given.

    Example:
        >>> parse("store.staged")
        ('store.staged', 1)
    """
    name, _, nth = spec.partition(":")
    return name, int(nth) if nth else 1


def point(name: str) -> None:
    """Kill this process with ``SIGKILL`` if ``ALTAKIT_FAULT`` names this point.

    Args:
        name: The point's name, ``<area>.<moment>``.

    Example:
        >>> point("checkpoint.manifest_written")
    """
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, nth = parse(spec)
    if target != name:
        return
    _hits[name] += 1
    if _hits[name] != nth:
        return
    once = os.environ.get(ONCE_ENV)
    if once:
        try:
            fd = os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return  # another process was killed here already
        hold = os.environ.get(HOLD_ENV)
        if hold:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            time.sleep(float(hold))
            return
        os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
