"""What can go wrong talking to S3: credentials, and botocore faults as altakit errors.

:func:`is_transient` decides what the S3 store retries; :func:`translate` turns
every other fault into a typed error with a hint; :func:`read_credentials_dir`
reads a mounted secret folder (OpenShift).

Example:
    >>> is_transient(ConnectionResetError())
    True
"""

from __future__ import annotations

import http.client
import os
from pathlib import Path
from typing import Any

import botocore.exceptions as bex
import urllib3.exceptions

from altakit.errors import AccessDenied, AltakitError, ConfigError, CorruptObject, NotFound, StoreUnavailable

__all__ = [
    "CREDENTIALS_DIR_ENV",
    "CREDENTIALS_HINT",
    "client_error",
    "is_transient",
    "read_credentials_dir",
    "translate",
]

CREDENTIALS_DIR_ENV = "ALTAKIT_S3_CREDENTIALS_DIR"
_SECRET_NAMES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
)
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "InternalError",
        "ServiceUnavailable",
        "BandwidthLimitExceeded",
    }
)
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AllAccessDisabled",
    }
)
CREDENTIALS_HINT = (
    "set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, pass profile=, or mount a secret folder "
    f"and pass credentials_dir= (or set ${CREDENTIALS_DIR_ENV})"
)


def read_credentials_dir(path: str | os.PathLike) -> dict[str, str]:
    """Read a mounted secret folder (one file per variable, e.g. an OpenShift secret).

    Args:
        path: Folder holding ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``, and
            optionally ``AWS_SESSION_TOKEN``, ``AWS_REGION`` and ``AWS_ENDPOINT_URL``.

    Returns:
        The variables found, by file name, with surrounding whitespace stripped.

    Raises:
        ConfigError: The folder does not exist.
        AccessDenied: The key id or the secret key is missing.

    Example:
        >>> read_credentials_dir("/var/run/secrets/s3")["AWS_ACCESS_KEY_ID"]  # doctest: +SKIP
        'AKIA…'
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"S3 credentials folder {str(folder)!r} does not exist",
            path=str(folder),
            hint=f"mount the secret there, or fix credentials_dir= / ${CREDENTIALS_DIR_ENV}",
        )
    found: dict[str, str] = {}
    for name in _SECRET_NAMES:
        for candidate in (folder / name, folder / name.lower()):
            if candidate.is_file():
                value = candidate.read_text().strip()
                if value:
                    found[name] = value
                break
    missing = [n for n in _SECRET_NAMES[:2] if n not in found]
    if missing:
        raise AccessDenied(
            f"S3 credentials folder {str(folder)!r} lacks {' and '.join(missing)}",
            path=str(folder),
            hint="the secret must hold files AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )
    return found


def is_transient(exc: BaseException) -> bool:
    """True if ``exc`` (or what caused it) is worth retrying: 5xx, throttling, a dropped connection.

    Example:
        >>> is_transient(ConnectionResetError())
        True
    """
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 6:
        if isinstance(cur, bex.ClientError):
            status = cur.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            code = cur.response.get("Error", {}).get("Code", "")
            return status >= 500 or status == 429 or code in _TRANSIENT_CODES
        if isinstance(cur, bex.SSLError):
            return False
        if isinstance(
            cur,
            (
                bex.ConnectionError,
                bex.HTTPClientError,
                bex.IncompleteReadError,
                urllib3.exceptions.ProtocolError,
                urllib3.exceptions.TimeoutError,
                http.client.IncompleteRead,
                ConnectionError,
                TimeoutError,
            ),
        ):
            return True
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return False


def client_error(exc: BaseException) -> tuple[str, int] | None:
    cur: BaseException | None = exc
    for _ in range(6):
        if cur is None:
            return None
        if isinstance(cur, bex.ClientError):
            error = cur.response.get("Error", {})
            return error.get("Code", ""), cur.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        cur = cur.__cause__ or cur.__context__
    return None


def translate(
    exc: Exception, op: str, what: str, *, url: str, bucket: str, endpoint: str | None
) -> Exception:
    """The altakit error for a non-transient fault ``exc`` of S3 operation ``op`` on ``what``.

    Errors that are not S3 faults (bugs, local errors) come back unchanged.

    Example:
        >>> translate(ValueError("x"), "get", "k", url="s3://b", bucket="b", endpoint=None)
        ValueError('x')
    """
    if isinstance(exc, bex.NoCredentialsError | bex.PartialCredentialsError):
        return AccessDenied(f"no usable AWS credentials for {url}: {exc}", hint=CREDENTIALS_HINT)
    if isinstance(exc, bex.SSLError):
        return StoreUnavailable(
            f"TLS to {endpoint or 'AWS'} failed: {exc}",
            op=op,
            hint="check the endpoint's certificate, or set AWS_CA_BUNDLE",
        )
    if isinstance(exc, bex.ParamValidationError):
        return ConfigError(f"S3 {op} of {what} refused: {exc}", op=op)
    error = client_error(exc)
    if error is None:
        return exc  # not an S3 fault: a bug or a local error, raised unchanged
    code, status = error
    fields: dict[str, Any] = {"op": op, "url": url, "code": code, "status": status}
    if code == "NoSuchBucket" or (op == "head_bucket" and status == 404):
        return NotFound(
            f"S3 bucket {bucket!r} does not exist at {endpoint or 'AWS'}",
            bucket=bucket,
            hint=f"create it (aws s3 mb s3://{bucket}) or fix the bucket name / endpoint_url",
            **fields,
        )
    if code in ("NoSuchKey", "NotFound", "404") or status == 404:
        return NotFound(f"S3 object {what} not found in {url}", name=what, **fields)
    if code in _DENIED_CODES or status == 403:
        return AccessDenied(
            f"S3 {op} of {what} denied ({code or status}) for {url}",
            hint=f"check the access key, secret and their permissions on the bucket; {CREDENTIALS_HINT}",
            **fields,
        )
    if code == "PreconditionFailed" or status == 412:
        return CorruptObject(
            f"S3 object {what} changed while it was read",
            name=what,
            hint="versions are immutable; another tool rewrote it: read another version",
            **fields,
        )
    if status == 301 or code in ("PermanentRedirect", "AuthorizationHeaderMalformed"):
        return ConfigError(
            f"S3 bucket {bucket!r} is in another region ({code})",
            hint="pass region= with the bucket's region",
            **fields,
        )
    return AltakitError(f"S3 {op} of {what} failed: {code} ({status}): {exc}", **fields)
