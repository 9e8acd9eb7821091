"""What a dashboard may read: uploads and the configured store; server paths only where an operator allows.

A Voila dashboard runs its kernel as the server's user, so a text box that takes
any path would read any file that user can (``/etc/passwd``, the server's token
files …). Panels built with ``dashboard=True`` therefore accept only uploads and
keys of the configured store, unless an operator lists folders or URL prefixes in
``$ALTAKIT_DASHBOARD_PATHS`` (comma-separated, e.g. ``/data/raw,s3://plant/drops/``):
then a path or URL under one of them is read too. Uploads are checked for type
(:data:`UPLOAD_TYPES`) and size (``$ALTAKIT_UPLOAD_MAX_MB``, default
:data:`UPLOAD_MAX_MB`) before the first byte and again as the bytes arrive
(:func:`upload_spool`).

Example:
    >>> try:
    ...     check_source("/etc/passwd", roots=[])
    ... except PermissionError as exc:
    ...     print(exc.message)
    dashboards read only uploads and store keys
    >>> check_source("/data/raw/day1.csv", roots=["/data/raw"])
    '/data/raw/day1.csv'
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from altakit.errors import AccessDenied, ConfigError
from altakit.ingestion.uploads import UploadSpool

#: The operator's allowlist of server folders and URL prefixes dashboards may read (comma-separated).
PATHS_ENV = "ALTAKIT_DASHBOARD_PATHS"
#: The largest upload accepted, in MiB (``$ALTAKIT_UPLOAD_MAX_MB`` overrides). An upload travels to the
#: kernel in chunks (:class:`~altakit_widgets.panels.upload.ChunkedUpload`, each far under the server's
#: 10 MiB WebSocket message cap) and is spooled to a temp file on the kernel's machine, so the limit is
#: that machine's disk, not its memory.
UPLOAD_MAX_MB = 1024
UPLOAD_MAX_ENV = "ALTAKIT_UPLOAD_MAX_MB"
#: File name endings an upload may have (the formats the readers know, and their compressed forms).
UPLOAD_TYPES = (".csv", ".tsv", ".txt", ".parquet", ".json", ".ndjson", ".jsonl", ".xlsx",
                ".gz", ".bz2", ".xz", ".zip")  # fmt: skip


def allowed_roots() -> list[str]:
    """The folders and URL prefixes an operator allowed in ``$ALTAKIT_DASHBOARD_PATHS`` (empty: none)."""
    return [p.strip() for p in os.environ.get(PATHS_ENV, "").split(",") if p.strip()]


def _is_url(text: str) -> bool:
    return "://" in text


def check_source(text: str, *, roots: list[str] | None = None) -> str:
    """``text`` if a dashboard may read it (a path or URL under an allowed root), else :class:`AccessDenied`.

    Args:
        text: A server path or URL typed into a dashboard.
        roots: The allowlist (default: :func:`allowed_roots`).
    """
    roots = allowed_roots() if roots is None else roots
    if not roots:
        raise AccessDenied(
            "dashboards read only uploads and store keys",
            source=text,
            hint='upload the file, or pick "store key"; an operator can allow server folders',
        )
    if _is_url(text):
        inside = ".." not in PurePosixPath(text.split("://", 1)[1]).parts and any(
            _is_url(r) and text.startswith(r.rstrip("/") + "/") for r in roots
        )
    else:
        real = os.path.realpath(text)
        inside = any(
            not _is_url(r) and os.path.commonpath([real, os.path.realpath(r)]) == os.path.realpath(r)
            for r in roots
        )
    if not inside:
        raise AccessDenied(
            f"{text} is outside the folders dashboards may read",
            source=text,
            hint=f"pick a file under {', '.join(roots)}, or upload it",
        )
    return text


def upload_limit() -> int:
    """The largest upload accepted, in bytes."""
    raw = os.environ.get(UPLOAD_MAX_ENV, "")
    try:
        mib = float(raw) if raw.strip() else UPLOAD_MAX_MB
    except ValueError:
        raise ConfigError(f"${UPLOAD_MAX_ENV} must be a number of MiB, not {raw!r}") from None
    return int(mib * 1024 * 1024)


def check_upload(name: str, size: int, *, limit: int | None = None) -> None:
    """Refuse an upload of a type the readers do not know or larger than ``limit`` (:func:`upload_limit`).

    Example:
        >>> check_upload("day1.csv", 10)
        >>> try:
        ...     check_upload("tool.exe", 10)
        ... except ValueError as exc:
        ...     print(exc.message)
        tool.exe is not a file type altakit ingests
    """
    if not name.lower().endswith(UPLOAD_TYPES):
        kinds = ", ".join(UPLOAD_TYPES[:8])
        raise ConfigError(
            f"{name} is not a file type altakit ingests",
            name=name,
            hint=f"upload {kinds}, or one compressed as {', '.join(UPLOAD_TYPES[8:])}",
        )
    limit = upload_limit() if limit is None else limit
    if size > limit:
        raise ConfigError(
            f"{name} is {size / 2**20:.1f} MiB; uploads are limited to {limit / 2**20:.0f} MiB",
            name=name,
            hint="put large files in the store (ask your operator), then pick them as a store key",
        )


def upload_spool(name: str, size: int | None = None) -> UploadSpool:
    """A spool for an upload arriving in chunks, checked against the limits before and as bytes arrive.

    Example:
        >>> spool = upload_spool("day1.csv", 12)
        >>> spool.write(b"ts,value\\n")
        9
        >>> spool.discard()
        >>> try:
        ...     upload_spool("tool.exe", 4)
        ... except ValueError as exc:
        ...     print(exc.message)
        tool.exe is not a file type altakit ingests
    """
    limit = upload_limit()
    return UploadSpool(name, size, check=lambda n, s: check_upload(n, s, limit=limit))
