"""Secrets never land in a notebook: refuse secret-looking parameters, redact secret values.

Papermill writes every parameter into the executed notebook, so parameters that
look like secrets are refused (:func:`check_parameters`); pass secrets through
the environment instead. As a second guard, the values of secret-looking
environment variables (:func:`secret_env_values`) are redacted from the executed
notebook before it is kept anywhere (:func:`redact_file`).

Example:
    >>> check_parameters({"rows": 500})
    {'rows': 500}
    >>> secret_reason("db_password", "hunter2")
    "its name 'db_password' marks a secret"
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from altakit.errors import ConfigError

#: Name segments that always mark a secret: any non-empty text value is refused.
_SECRET_WORDS = re.compile(
    r"(?i)(?:^|[_\-.])(secret|secrets|password|passwd|passphrase|token|tokens|credential|credentials"
    r"|apikey|api[_\-]?key|access[_\-]?key|private[_\-]?key|secret[_\-]?key|auth)(?:$|[_\-.])"
)
#: A ``key`` segment marks a secret only when the value looks like a credential.
_KEY_WORD = re.compile(r"(?i)(?:^|[_\-.])key(?:$|[_\-.])")
#: Values that are credentials whatever their parameter is called.
_SECRET_VALUES = {
    "an AWS access key id": re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    "a Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "a JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
    "a URL with a password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"),
}
_CREDENTIAL_LIKE = re.compile(r"^[A-Za-z0-9+/=_\-]{16,}$")
_ENV_HINT = (
    "pass secrets through the environment (export MY_TOKEN=… before the run and read "
    "os.environ['MY_TOKEN'] in the notebook): papermill writes every parameter into the executed notebook"
)
REDACTED = "[redacted]"


def _looks_like_credential(value: str) -> bool:
    has = (any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value))
    return bool(_CREDENTIAL_LIKE.match(value)) and (sum(has) >= 2 or len(value) >= 32)


def secret_reason(name: str, value: Any) -> str | None:
    """Why the parameter ``name=value`` looks like a secret, or ``None`` if it does not.

    Example:
        >>> secret_reason("api_token", "abc123def456")
        "its name 'api_token' marks a secret"
        >>> secret_reason("rows", 500) is None
        True
    """
    if isinstance(value, Mapping):
        for k, v in value.items():
            reason = secret_reason(f"{name}.{k}", v)
            if reason:
                return reason
        return None
    if isinstance(value, list | tuple | set):
        return next((r for r in (secret_reason(name, v) for v in value) if r), None)
    if not isinstance(value, str) or not value:
        return None
    for what, pattern in _SECRET_VALUES.items():
        if pattern.search(value):
            return f"its value looks like {what}"
    if _SECRET_WORDS.search(name):
        return f"its name {name!r} marks a secret"
    if _KEY_WORD.search(name) and _looks_like_credential(value):
        return f"its name {name!r} and its value look like a credential"
    return None


def check_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``parameters`` as a dict, or refuse any that looks like a secret.

    Raises:
        ConfigError: A parameter looks like a secret (``fields['parameter']`` names it).

    Example:
        >>> check_parameters({"rows": 500, "store_url": "s3://bucket/x"})
        {'rows': 500, 'store_url': 's3://bucket/x'}
        >>> check_parameters({"password": "hunter2"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        altakit.errors.ConfigError: parameter 'password' looks like a secret: ...
    """
    if not isinstance(parameters, Mapping):
        raise ConfigError("parameters must be a mapping of name to value", hint="e.g. {'rows': 500}")
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(
                f"parameter name {name!r} is not a Python identifier", hint="e.g. rows, store_url"
            )
        reason = secret_reason(name, value)
        if reason:
            raise ConfigError(
                f"parameter {name!r} looks like a secret: {reason}; refused", parameter=name, hint=_ENV_HINT
            )
    return dict(parameters)


def secret_env_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Values of environment variables whose names mark a secret (6 characters or more)."""
    env = os.environ if environ is None else environ
    return {
        name: value
        for name, value in env.items()
        if len(value) >= 6
        and (_SECRET_WORDS.search(name) or (_KEY_WORD.search(name) and _looks_like_credential(value)))
    }


def redact_file(path: Path, secrets: Mapping[str, str]) -> list[str]:
    """Replace every secret value in the text file ``path``; return the names found."""
    text = path.read_text(encoding="utf-8")
    found = []
    for name, value in sorted(secrets.items(), key=lambda kv: -len(kv[1])):
        if value in text:
            text = text.replace(value, f"{REDACTED}:{name}")
            found.append(name)
    if found:
        path.write_text(text, encoding="utf-8")
    return found
