"""Fixtures for the image tests; the machinery lives in :mod:`uidenv`."""

from uidenv import server, uid_env

__all__ = ["server", "uid_env"]
