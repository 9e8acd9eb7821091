r"""Secrets never land in a notebook: refuse secret-looking parameters, redact secret values.

Papermill writes every parameter into the executed notebook, so parameters that
look like secrets are refused (:func:`check_parameters`); pass secrets through
the environment instead. As a second guard, the values of secret-looking
environment variables (:func:`secret_env_values`) are redacted from everything a
run keeps (:class:`Redactor`): the executed notebook is read as JSON and every
decoded string in it — cell outputs (stdout, stderr, display data, HTML, error
tracebacks), metadata, sources — is redacted, so a secret holding ``"`` or
``\`` is found although the file holds it JSON-escaped.

What counts as a secret:

- environment variables whose *names* mark a secret in any case style
  (:func:`altakit.store.credentials.secret_name`: ``PGPASSWORD``, ``MYSQL_PWD``,
  ``AWS_SECRET_ACCESS_KEY``, ``FOO_TOKEN``, ``apiToken`` …; ``PWD``/``OLDPWD``, the
  shell's working folder, are not), names matching the comma-separated
  ``fnmatch`` patterns of ``$ALTAKIT_SECRET_ENV``, and variables whose *values*
  look like credentials (AWS key ids, GitHub/Slack tokens, JWTs, private keys);
- the password of a URL in any variable (``DATABASE_URL=postgresql://u:p%40ss@h/db``:
  ``p%40ss`` and ``p@ss``);
- in any text, a URL's password: ``scheme://user:pass@host`` becomes ``scheme://user:***@host``;
  and the value of a ``name=value`` whose name marks a secret (``?X-Amz-Signature=…``,
  ``;Password=…;``, ``token=…``) becomes ``name=***``.

A value is found in its raw form and in the forms code prints it in: JSON-escaped
(ASCII or not), ``repr``, URL-encoded, HTML-escaped. Values shorter than
:data:`MIN_LENGTH` and plain ``true``/``false``/small numbers are left alone: they
would erase innocent text and are no secrets.

Example:
    >>> check_parameters({"rows": 500})
    {'rows': 500}
    >>> secret_reason("dbPassword", "hunter2")
    "its name 'dbPassword' marks a secret"
    >>> r = Redactor({"PGPASSWORD": 'pa"ss\\word'})
    >>> r.text('printed: "pa\\"ss\\\\word" url=postgresql://ana:x@db/app')
    'printed: "[redacted]:PGPASSWORD" url=postgresql://ana:***@db/app'
"""

from __future__ import annotations

import fnmatch
import html
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from altakit.errors import ConfigError
from altakit.store.credentials import MASK, URL_PASSWORD, secret_name

#: Values that are credentials whatever their parameter is called.
_SECRET_VALUES = {
    "an AWS access key id": re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    "a Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "a JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
    "a URL with a password": URL_PASSWORD,
}
#: ``name=value`` after ``?``/``&``/``;``/a space (URL queries, connection strings, log lines).
_ASSIGNMENT = re.compile(
    r"(?P<pre>(?:^|[?&;,\s])(?P<name>[A-Za-z][A-Za-z0-9_.\-]{0,60})=)(?P<value>[^&;#,\s\"'<>]+)"
)
_CREDENTIAL_LIKE = re.compile(r"^[A-Za-z0-9+/=_\-]{16,}$")
_ENV_HINT = (
    "pass secrets through the environment (export MY_TOKEN=… before the run and read "
    "os.environ['MY_TOKEN'] in the notebook): papermill writes every parameter into the executed notebook"
)
#: What a redacted value becomes (followed by ``:<variable name>``).
REDACTED = "[redacted]"
#: Extra environment variable names (comma-separated ``fnmatch`` patterns) whose values are secrets.
SECRET_ENV = "ALTAKIT_SECRET_ENV"
#: Variables whose names look secret but hold none (the shell's working folders).
NOT_SECRET_ENV = frozenset({"PWD", "OLDPWD"})
#: Shorter values are not redacted (nor are ``true``/``false``/``none`` and numbers under 6 digits).
MIN_LENGTH = 4
_TRIVIAL = frozenset({"true", "false", "none", "null", "yes", "no", "on", "off", "nan"})


def _looks_like_credential(value: str) -> bool:
    has = (any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value))
    return bool(_CREDENTIAL_LIKE.match(value)) and (sum(has) >= 2 or len(value) >= 32)


def secret_reason(name: str, value: Any) -> str | None:
    """Why the parameter ``name=value`` looks like a secret, or ``None`` if it does not.

    A name that marks a secret refuses any value but ``None``, ``""`` and booleans (a numeric
    PIN is a secret too); ``key``-like names refuse credential-looking text only.

    Example:
        >>> secret_reason("apiToken", "abc123def456")
        "its name 'apiToken' marks a secret"
        >>> secret_reason("rows", 500) is None, secret_reason("bypass_cache", "yes") is None
        (True, True)
    """
    return _reason(name, name, value, None)


def _reason(name: str, leaf: str, value: Any, secret_parent: str | None) -> str | None:
    """:func:`secret_reason` of ``name`` (a dotted path ending in ``leaf``) inside ``secret_parent``.

    Each level is judged by its own key (``password_env.n`` is innocent); everything inside a
    parameter whose name marks a secret is secret.
    """
    kind = secret_name(leaf)
    if secret_parent is None and kind == "secret":
        secret_parent = name
    if isinstance(value, Mapping):
        for k, v in value.items():
            reason = _reason(f"{name}.{k}", str(k), v, secret_parent)
            if reason:
                return reason
        return None
    if isinstance(value, list | tuple | set):
        return next((r for r in (_reason(name, leaf, v, secret_parent) for v in value) if r), None)
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, str):
        for what, pattern in _SECRET_VALUES.items():
            if pattern.search(value):
                return f"its value looks like {what}"
    if secret_parent is not None:
        return f"its name {secret_parent!r} marks a secret"
    if kind == "key" and isinstance(value, str) and _looks_like_credential(value):
        return f"its name {name!r} and its value look like a credential"
    return None


def check_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``parameters`` as a dict, or refuse any that looks like a secret.

    Raises:
        ConfigError: A parameter looks like a secret (``fields['parameter']`` names it).

    Example:
        >>> check_parameters({"rows": 500, "store_url": "s3://bucket/x", "passes": 3})
        {'rows': 500, 'store_url': 's3://bucket/x', 'passes': 3}
        >>> check_parameters({"userPass": "hunter2"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        altakit.errors.ConfigError: parameter 'userPass' looks like a secret: ...
    """
    if not isinstance(parameters, Mapping):
        raise ConfigError("parameters must be a mapping of name to value", hint="e.g. {'rows': 500}")
    for name in parameters:
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(
                f"parameter name {name!r} is not a Python identifier", hint="e.g. rows, store_url"
            )
    refuse_secret_parameters(parameters)
    return dict(parameters)


def refuse_secret_parameters(parameters: Mapping[Any, Any], what: str = "parameter") -> None:
    """Raise the error :func:`check_parameters` raises if one of ``parameters`` looks like a secret.

    Unlike :func:`check_parameters`, any name is allowed (training parameters such as ``optimizer/lr``).

    Raises:
        ConfigError: ``fields['parameter']`` names the first secret-looking one (its value is not shown).

    Example:
        >>> refuse_secret_parameters({"optimizer/lr": 0.1, "dbPassword": "hunter2"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        altakit.errors.ConfigError: parameter 'dbPassword' looks like a secret: ...
    """
    for name, value in parameters.items():
        reason = secret_reason(str(name), value)
        if reason:
            raise ConfigError(
                f"{what} {str(name)!r} looks like a secret: {reason}; refused",
                parameter=str(name),
                hint=_ENV_HINT,
            )


def _worth_redacting(value: str) -> bool:
    v = value.strip()
    return len(v) >= MIN_LENGTH and v.lower() not in _TRIVIAL and not (v.isdigit() and len(v) < 6)


def secret_env_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secrets in ``environ`` (default ``os.environ``): variable name → the secret it holds.

    A variable that is a secret by name or value maps to its value; any other variable holding a URL
    with a password maps to that password (as written in the URL). See the module docstring.

    Example:
        >>> env = {"MYSQL_PWD": "hunter22", "DATABASE_URL": "postgresql://u:p%40ss@h/db", "PWD": "/home/x",
        ...        "HOME": "/home/x", "FOO_TOKEN": "true"}
        >>> secret_env_values(env)
        {'MYSQL_PWD': 'hunter22', 'DATABASE_URL': 'p%40ss'}
    """
    env = os.environ if environ is None else environ
    extra = [p.strip() for p in env.get(SECRET_ENV, "").split(",") if p.strip()]
    found: dict[str, str] = {}
    for name, value in env.items():
        if name in NOT_SECRET_ENV or name == SECRET_ENV or not _worth_redacting(value):
            continue
        kind = secret_name(name)
        by_value = any(p.search(value) for w, p in _SECRET_VALUES.items() if p is not URL_PASSWORD)
        if (
            kind == "secret"
            or (kind == "key" and _looks_like_credential(value))
            or by_value
            or any(fnmatch.fnmatchcase(name, p) for p in extra)
        ):
            found[name] = value
            continue
        passwords = [m["pw"] for m in URL_PASSWORD.finditer(value) if _worth_redacting(m["pw"])]
        if passwords:
            found[name] = max(passwords, key=len)
    return found


def _forms(value: str) -> set[str]:
    """``value`` as code prints it: raw, JSON-escaped, repr, URL-encoded, HTML-escaped."""
    forms = {value, value.strip()}
    for v in list(forms):
        j = json.dumps(v)[1:-1]
        forms |= {
            j,
            json.dumps(v, ensure_ascii=False)[1:-1],
            json.dumps(j)[1:-1],
            repr(v)[1:-1],
            ascii(v)[1:-1],
            quote(v, safe=""),
            quote(v),
            quote_plus(v),
            html.escape(v),
            html.escape(v, quote=False),
        }
    return {f for f in forms if len(f) >= MIN_LENGTH}


class Redactor:
    """Redacts known secret values (in all their printed forms) and URL passwords from text and JSON values.

    Args:
        secrets: Name → secret value (:func:`secret_env_values`); its percent-decoded form is redacted
            too. A value holding a URL with a password also has that password (raw and percent-decoded)
            redacted wherever it stands alone.

    Attributes:
        found: Names of the secrets redacted so far.

    Example:
        >>> r = Redactor({"FOO_TOKEN": "tok\\n123456"})
        >>> r.value({"text": ["a tok\\n", "123456 b\\n", "c"], "tags": ["tok", "123456"]})
        {'text': ['a [redacted]:FOO_TOKEN b\\n', 'c'], 'tags': ['tok', '123456']}
        >>> r.found
        {'FOO_TOKEN'}
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self.found: set[str] = set()
        self._names: dict[str, str] = {}
        for name, value in sorted(secrets.items(), key=lambda kv: len(kv[1])):  # longest value wins a form
            values = [value, unquote(value)]  # a password as written in a URL, and decoded
            for m in URL_PASSWORD.finditer(value):
                values += [m["pw"], unquote(m["pw"])]
            for v in values:
                if _worth_redacting(v):
                    self._names.update(dict.fromkeys(_forms(v), name))
        forms = sorted(self._names, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, forms))) if forms else None

    def _url(self, m: re.Match[str]) -> str:
        pw = m["pw"]
        if pw == MASK:
            return m[0]
        name = self._names.get(pw) or self._names.get(unquote(pw))
        if name:
            self.found.add(name)
        return f"{m['pre']}{MASK}@"

    def _known(self, m: re.Match[str]) -> str:
        name = self._names[m[0]]
        self.found.add(name)
        return f"{REDACTED}:{name}"

    def _assignment(self, m: re.Match[str]) -> str:
        if m["value"] == MASK or m["value"].startswith(REDACTED) or secret_name(m["name"]) != "secret":
            return m[0]
        name = self._names.get(m["value"]) or self._names.get(unquote(m["value"]))
        if name:
            self.found.add(name)
        return f"{m['pre']}{MASK}"

    def text(self, text: str) -> str:
        """``text`` with URL passwords and ``secret_name=value`` values masked (``***``), and known
        secrets replaced by ``[redacted]:<name>``."""
        if "://" in text:
            text = URL_PASSWORD.sub(self._url, text)
        if self._pattern:  # before ``name=value``: that value ends at a quote, a known secret may not
            text = self._pattern.sub(self._known, text)
        if "=" in text:
            text = _ASSIGNMENT.sub(self._assignment, text)
        return text

    def value(self, value: Any) -> Any:
        """A JSON value with every string in it redacted (dict keys too).

        A list of strings that is one multi-line text as Jupyter splits it (every item but the last
        ends with a newline) is redacted as one text, so a secret spanning lines is found. Base64 data
        of binary MIME types (``image/png`` …, not ``image/svg+xml``) is left alone: a short secret
        could match its letters by chance and break the image.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                self.text(k) if isinstance(k, str) else k: v if _binary(k) else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            if (
                len(value) > 1
                and all(isinstance(v, str) for v in value)
                and all(v.endswith("\n") for v in value[:-1])
            ):
                joined = self.text("".join(value))
                return joined.splitlines(keepends=True) if joined else []
            return [self.value(v) for v in value]
        return value


def _binary(key: Any) -> bool:
    """True for a MIME type whose notebook data is base64 bytes, not text."""
    if not isinstance(key, str):
        return False
    major, _, minor = key.partition("/")
    return (major in ("image", "audio", "video") and not minor.endswith(("+xml", "svg"))) or key in (
        "application/pdf",
        "application/octet-stream",
    )


def redact_notebook(path: Path, redactor: Redactor) -> None:
    """Redact the notebook ``path`` in place: every decoded string of its JSON (outputs, metadata, sources).

    A file that is not JSON (a notebook cut short) is redacted as text instead; the printed forms the
    redactor knows include the JSON-escaped one.
    """
    raw = path.read_text(encoding="utf-8")
    text = redact_notebook_text(raw, redactor)
    if text != raw:
        path.write_text(text, encoding="utf-8")


def redact_notebook_text(raw: str, redactor: Redactor, *, metadata: Mapping[str, Any] | None = None) -> str:
    """The notebook text ``raw`` redacted: every decoded string of its JSON, or the text if it is no JSON.

    Args:
        raw: The notebook file's text.
        redactor: What to redact.
        metadata: Entries merged into the notebook's ``metadata.papermill`` (e.g. its real
            ``output_path``) before redacting.

    Example:
        >>> r = Redactor({"MY_TOKEN": "tok-123456"})
        >>> print(redact_notebook_text('{"cells": [{"outputs": ["tok-123456"]}]}', r))
        {
         "cells": [
          {
           "outputs": [
            "[redacted]:MY_TOKEN"
           ]
          }
         ]
        }
        <BLANKLINE>
    """
    try:
        nb = json.loads(raw)
    except ValueError:
        return redactor.text(raw)
    if metadata and isinstance(nb, dict) and isinstance(nb.get("metadata"), dict):
        papermill = nb["metadata"].get("papermill")
        if isinstance(papermill, dict):
            papermill.update(metadata)
    return json.dumps(redactor.value(nb), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def redact_file(path: Path, secrets: Mapping[str, str] | Redactor) -> list[str]:
    """Redact the text file ``path`` (e.g. an HTML page) in place; return the names of the secrets found."""
    redactor = secrets if isinstance(secrets, Redactor) else Redactor(secrets)
    before = set(redactor.found)
    raw = path.read_text(encoding="utf-8")
    redactor.found.clear()
    text = redactor.text(raw)
    found = sorted(redactor.found)
    redactor.found |= before
    if text != raw:
        path.write_text(text, encoding="utf-8")
    return found
