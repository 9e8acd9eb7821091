"""Which process wrote something, and whether it still runs: the one rule by which altakit passes
over what dead writers left (ingest claims, orphan commits, checkpoint markers, temp files, private
run folders).

An *owner* (:func:`owner`) is ``{"host", "pid", "start"}``: the host is its name plus the boot id (a
rebooted machine hands out pids again), ``start`` the process's start time (a reused pid is another
process). Only a process on this host can be asked; for one elsewhere :func:`is_running` says
``None`` and callers go by age (:func:`is_alive`). Names that must say who wrote them (temp files,
folders) carry :func:`host_tag` and the pid instead (:func:`running_here`).

Example:
    >>> is_running(owner()), is_running({**owner(), "pid": 2**22 + 1})
    (True, False)
    >>> is_running({"host": "elsewhere", "pid": 1}) is None
    True
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

__all__ = ["host", "host_tag", "is_alive", "is_mine", "is_running", "owner", "running_here"]


@cache
def host() -> str:
    """This machine as owners name it: the host name and, where Linux tells it, the boot id.

    Example:
        >>> host().startswith(socket.gethostname())
        True
    """
    boot = ""
    with contextlib.suppress(OSError), open("/proc/sys/kernel/random/boot_id") as f:
        boot = f.read().strip()
    return f"{socket.gethostname()}#{boot}" if boot else socket.gethostname()


@cache
def host_tag() -> str:
    """A short tag of :func:`host` for names (8 hex digits, no dots or slashes).

    Example:
        >>> len(host_tag())
        8
    """
    return hashlib.sha256(host().encode()).hexdigest()[:8]


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), ``"Z"`` for a zombie, else ``None``."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    return "Z" if fields[0] in ("Z", "X") else fields[19]


def owner(**extra: Any) -> dict[str, Any]:
    """This process as an owner, with ``extra`` keys (say, the writer's name).

    Example:
        >>> sorted(owner(writer="ana"))
        ['host', 'pid', 'start', 'writer']
    """
    return {**extra, "host": host(), "pid": os.getpid(), "start": _start_time(os.getpid())}


def is_mine(who: Any) -> bool:
    """Whether the owner ``who`` (as stored) is this very process.

    Example:
        >>> is_mine(owner()), is_mine({**owner(), "pid": 1})
        (True, False)
    """
    return isinstance(who, dict) and who.get("host") == host() and who.get("pid") == os.getpid()


def _pid_runs(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if pid <= 0 or os.name == "nt":  # os.kill would signal a process group, or end the process on Windows
        return pid > 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def is_running(who: Any) -> bool | None:
    """Whether the owner ``who`` (as stored) still runs; ``None`` when it cannot be told (another host).

    Example:
        >>> is_running(owner())
        True
    """
    if not (isinstance(who, dict) and who.get("host") == host() and isinstance(who.get("pid"), int)):
        return None
    pid = who["pid"]
    if pid == os.getpid() or not _pid_runs(pid):
        return pid == os.getpid()
    started = _start_time(pid)
    return started != "Z" and (who.get("start") is None or started in (None, who["start"]))


def is_alive(who: Any, written: datetime, *, stale: timedelta) -> bool:
    """Whether the owner ``who`` of something written at ``written`` may still be working: it runs
    (this host), or it cannot be asked and what it wrote is younger than ``stale``.

    Example:
        >>> is_alive({"host": "elsewhere", "pid": 1}, datetime.now(UTC), stale=timedelta(hours=1))
        True
    """
    running = is_running(who)
    return running if running is not None else datetime.now(UTC) - written < stale


def running_here(tag: str, pid: int) -> bool | None:
    """Whether process ``pid`` of the host tagged ``tag`` (:func:`host_tag`) runs; ``None`` for another host.

    Example:
        >>> running_here(host_tag(), os.getpid()), running_here("elsewhere", 1)
        (True, None)
    """
    return _pid_runs(pid) if tag == host_tag() else None
