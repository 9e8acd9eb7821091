"""The one error tree of altakit.

Every error raised on purpose by altakit derives from :class:`AltakitError` and,
where one fits, from the matching builtin too, so ``except FileNotFoundError``
keeps working. Errors carry structured fields (``key``, ``hint`` …) next to the
message; ``str(error)`` shows the hint so a user sees how to fix it.

Example:
    >>> try:
    ...     raise NotFound("no such key", key="a.csv", hint="check store.list()")
    ... except FileNotFoundError as exc:
    ...     print(exc.fields["key"])
    a.csv
"""

from __future__ import annotations

from typing import Any


class AltakitError(Exception):
    """Root of every error altakit raises on purpose.

    Args:
        message: What went wrong.
        hint: How to fix it, shown after the message.
        **fields: Structured details (key, url, dataset …) for programs. ``ui_hint`` is the hint for a
            person in a panel or dashboard (what to click), where ``hint`` names a CLI command.
    """

    def __init__(self, message: str, *, hint: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fields = fields

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # keep fields and hint across processes (DataLoader workers, multiprocessing)
        return (_rebuild, (type(self), self.message, self.hint, self.fields))

    def to_json(self) -> str:
        """This error as JSON text (a Spark task hands it to the driver as data; :func:`from_json`).

        Example:
            >>> from_json(NotFound("no such key", key="a").to_json()).fields
            {'key': 'a'}
        """
        import json

        doc = {"type": type(self).__name__, "message": self.message, "hint": self.hint, "fields": self.fields}
        return json.dumps(doc, default=str)


def from_json(text: str, default: type[AltakitError] | None = None) -> AltakitError:
    """The error :meth:`AltakitError.to_json` wrote, as its class (an unknown class: ``default``)."""
    import json

    doc = json.loads(text)
    cls = globals().get(doc["type"])
    if not (isinstance(cls, type) and issubclass(cls, AltakitError)):
        cls = default or AltakitError
    return cls(doc["message"], hint=doc["hint"], **doc["fields"])


def _rebuild(cls: type[AltakitError], message: str, hint: str | None, fields: dict) -> AltakitError:
    return cls(message, hint=hint, **fields)


class ConfigError(AltakitError, ValueError):
    """A setting, URL, option or argument is malformed or missing."""


class InvalidKey(ConfigError):
    """A store key is refused (``..``, absolute, NUL byte, version separator …)."""


class UnknownBackend(ConfigError):
    """No store backend is registered for a URL scheme."""


class MissingDependency(AltakitError, ImportError):
    """An optional dependency is not installed; ``fields['extra']`` names the extra."""


class NotFound(AltakitError, FileNotFoundError):
    """A key, version, dataset or record does not exist."""


class AlreadyExists(AltakitError, FileExistsError):
    """Something that must be new already exists."""


class AccessDenied(AltakitError, PermissionError):
    """Credentials are missing, wrong, or lack a permission."""


class ServiceUnavailable(AltakitError, ConnectionError):
    """A server altakit works through (a store's, Spark Connect) cannot be reached (after retries)."""


class StoreUnavailable(ServiceUnavailable):
    """A store's server or gateway cannot be reached (after retries)."""


class CorruptObject(AltakitError, OSError):
    """Stored bytes fail their size or checksum check; ``fields['name']`` names the object."""


class DecryptionError(AltakitError, ValueError):
    """An encrypted object cannot be decrypted: wrong key, or the bytes were tampered with."""


class Conflict(AltakitError, RuntimeError):
    """A concurrent writer won a race; retry the operation."""


class IngestError(AltakitError, ValueError):
    """An input cannot be ingested as a whole (unreadable, empty, wrong format …)."""


class AmbiguousValues(IngestError):
    """A column's values read in more than one way (day/month order …) and no spec option says which.

    ``fields`` name the ``column``, the ``source`` file and the spec ``option`` that decides.
    """


class SchemaError(IngestError):
    """Data does not fit the approved schema and the evolution policy refuses it."""


class SchemaChangePending(SchemaError):
    """A schema change awaits review; ``fields['change']`` names it. Approve or reject it, then retry."""


class DataError(AltakitError, ValueError):
    """A dataset's bytes are bad: ``fields`` name ``dataset``, ``shard`` and ``key`` (and ``field``)."""


class CheckpointError(AltakitError, ValueError):
    """A checkpoint does not fit: wrong model or format; ``fields`` name ``run`` and ``version``."""
