"""Client-side encryption around any store: AES-256-GCM envelopes in fixed-size segments.

Every object gets its own random 256-bit data key, wrapped (AES-256-GCM) by the
master key and kept in an 84-byte header; the payload follows in segments of
``segment_bytes`` (64 KiB by default), each encrypted with its own nonce and tag,
its index and a last-segment flag authenticated. A range read or a seek decrypts
only the segments it touches; a truncated, reordered or altered object, or a
wrong master key, raises :class:`~altakit.errors.DecryptionError` naming the
object.

An object is bound to its name: the data key is wrapped with the object's key and
version id as associated data, so ciphertext copied under another key or version
(a rollback to old bytes under a newer name, two objects' bytes swapped) fails
authentication instead of returning the other bytes. Object names keep the
plaintext size (the ciphertext's size tells it anyway) but, in place of the
SHA-256 prefix, a keyed MAC of it (HMAC-SHA256 under a key derived from the
master key), so a name confirms no guess of the plaintext to whoever lacks the
key; the base class still verifies what the reader gets through
:meth:`EncryptedStore._name_checksum`.

Layout of an object::

    b"AKE2" | segment_bytes u32 | plaintext size u64 | key id (8) |
    wrap nonce (12) | wrapped data key (32 + 16) | segment 0 + tag | segment 1 + tag | …

The wrap's associated data is the first 24 bytes and ``<key>✹<version id>``. Objects
written before binding start ``b"AKE1"``, wrap with the first 24 bytes alone and have
names with the bare SHA-256 prefix: they stay readable (``accept_unbound=True``, the
default) but are not bound to their name, so one of them can still be copied under a
newer version name and read as the latest. ``store.put(key, store.open(key))`` rewrites
a key's latest version bound; ``accept_unbound=False`` refuses the unbound ones.

Example:
    >>> import os, tempfile
    >>> from altakit.store.local import LocalStore
    >>> store = EncryptedStore(LocalStore(tempfile.mkdtemp()), key=os.urandom(32))
    >>> v = store.put("secret.txt", b"attack at dawn")
    >>> store.get("secret.txt")
    b'attack at dawn'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import os
import struct
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from altakit.errors import AccessDenied, ConfigError, Conflict, DecryptionError, MissingDependency
from altakit.store.base import Store
from altakit.store.names import CHECKSUM_HEX, SEP, Version, parse_name
from altakit.store.readers import SeekableReader
from altakit.store.sources import CHUNK, Source
from altakit.store.wrap import WrappedStore

MAGIC = b"AKE2"
#: The format before names were bound (read, never written).
MAGIC_UNBOUND = b"AKE1"
_PREFIX = struct.Struct(">4sIQ8s")  # magic, segment bytes, plaintext size, key id
HEADER = _PREFIX.size + 12 + 48  # + wrap nonce + wrapped data key with its tag
TAG = 16
KEY_BYTES = 32
DEFAULT_SEGMENT = 64 * 1024
_SPAN_BYTES = 1 << 20  # plaintext decrypted per read call of a stream
_HEADER_CACHE = 256
_KEY_HINT = (
    "set {env} to a base64 32-byte key, pass key=<32 bytes> or key_file=<path>; "
    "make one with altakit.store.crypto.generate_key()"
)


def generate_key() -> str:
    """A new random master key, base64 text for ``ALTAKIT_ENCRYPTION_KEY`` or a secret file.

    Example:
        >>> len(base64.b64decode(generate_key()))
        32
    """
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def _aesgcm() -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as exc:  # pragma: no cover - cryptography is a core dependency
        raise MissingDependency(
            "encryption needs the cryptography package", extra="all", hint="pip install cryptography"
        ) from exc
    return AESGCM


def _invalid_tag() -> type[Exception]:
    from cryptography.exceptions import InvalidTag

    return InvalidTag


def _decode_key(text: bytes, where: str, env: str) -> bytes:
    try:
        altchars = b"-_" if b"-" in text or b"_" in text else None
        key = base64.b64decode(text.strip(), altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(
            f"the encryption key in {where} is not base64 of 32 bytes", hint=_KEY_HINT.format(env=env)
        )
    return key


def load_key(
    key: bytes | None = None,
    key_env: str = "ALTAKIT_ENCRYPTION_KEY",
    key_file: str | os.PathLike | None = None,
) -> bytes:
    """The 32-byte master key: from ``key``, else ``key_file``, else the variable ``key_env``.

    A key file holds either the 32 raw bytes or their base64 text (a Kubernetes or
    OpenShift secret mounted as a file works as is).

    Raises:
        ConfigError: No key is configured, or it is not 32 bytes.

    Example:
        >>> load_key(b"k" * 32) == b"k" * 32
        True
    """
    if key is not None and key_file is not None:
        raise ConfigError("pass either key= or key_file=, not both")
    if key is not None:
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
            raise ConfigError(
                f"key= must be {KEY_BYTES} bytes, got {type(key).__name__}"
                + (f" of length {len(key)}" if isinstance(key, bytes | bytearray | str) else ""),
                hint="for base64 text use base64.b64decode(text); " + _KEY_HINT.format(env=key_env),
            )
        return bytes(key)
    if key_file is not None:
        path = Path(key_file).expanduser()
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise ConfigError(f"no key file {str(path)!r}", hint=_KEY_HINT.format(env=key_env)) from exc
        except PermissionError as exc:
            raise AccessDenied(f"cannot read key file {str(path)!r}", hint="check its permissions") from exc
        return data if len(data) == KEY_BYTES else _decode_key(data, str(path), key_env)
    text = os.environ.get(key_env, "")
    if not text:
        raise ConfigError(f"no encryption key: ${key_env} is not set", hint=_KEY_HINT.format(env=key_env))
    return _decode_key(text.encode(), f"${key_env}", key_env)


def key_id(key: bytes) -> bytes:
    """A short public fingerprint of a master key (it reveals nothing about the key)."""
    return hmac.new(key, b"altakit key id", hashlib.sha256).digest()[:8]


def _nonce(index: int) -> bytes:
    return b"\0\0\0\0" + index.to_bytes(8, "big")


def _aad(index: int, last: bool) -> bytes:
    return index.to_bytes(8, "big") + (b"\1" if last else b"\0")


def _binding(name: str) -> bytes:
    """What an object is bound to: its key and version id (the whole name if it is no version).

    The size, checksum and writer fields are left out: they are only known once the
    bytes are hashed, and the envelope and the checksum guard them already.

    Example:
        >>> _binding("a/b.csv✹20261122T041500123456789Z_0a1b2c3d~5~" + "0" * 32 + "~ana").decode()
        'a/b.csv✹20261122T041500123456789Z_0a1b2c3d'
    """
    version = parse_name(name)
    return (name if version is None else f"{version.key}{SEP}{version.id}").encode()


@dataclass(frozen=True)
class _Header:
    """An object's unwrapped header: its layout and its data key."""

    name: str
    segment: int
    size: int
    aead: Any
    data_key: bytes = field(repr=False)
    bound: bool = True

    @property
    def count(self) -> int:
        return max(1, -(-self.size // self.segment))

    @property
    def ciphertext_size(self) -> int:
        return HEADER + self.size + TAG * self.count

    def offset(self, index: int) -> int:
        return HEADER + index * (self.segment + TAG)

    def length(self, index: int) -> int:
        return min(self.segment, self.size - index * self.segment) + TAG

    def decrypt(self, blob: bytes | memoryview, first: int, last: int) -> bytearray:
        """Decrypt segments ``first..last`` from their concatenated ciphertext ``blob``."""
        view, pos = memoryview(blob), 0
        out = bytearray(min(self.size, (last + 1) * self.segment) - first * self.segment)
        target = memoryview(out)
        invalid = _invalid_tag()
        for index in range(first, last + 1):
            n = self.length(index)
            if view.nbytes - pos < n:
                raise _error(self.name, f"is truncated (segment {index} of {self.count} is incomplete)")
            at = (index - first) * self.segment
            try:
                self.aead.decrypt_into(
                    _nonce(index),
                    view[pos : pos + n],
                    _aad(index, index == self.count - 1),
                    target[at : at + n - TAG],
                )
            except invalid:
                raise _error(self.name, f"fails authentication at segment {index}: it was altered") from None
            pos += n
        return out


def _error(name: str, what: str, hint: str | None = None) -> DecryptionError:
    version = parse_name(name)
    return DecryptionError(
        f"encrypted object {name!r} {what}",
        name=name,
        key=version.key if version else None,
        hint=hint or "the stored bytes were changed or cut short; read an older version",
    )


class EncryptedStore(WrappedStore):
    """Encrypt every object client-side before it reaches ``inner``.

    Args:
        inner: The store that holds the ciphertext.
        key: The 32-byte master key. Default: read from ``key_file`` or ``key_env``.
        key_env: Environment variable holding the base64 master key.
        key_file: A file (e.g. a mounted secret) holding the key, raw or base64.
        segment_bytes: Plaintext bytes per authenticated segment of new objects.
        accept_unbound: Read objects written before names were bound (``AKE1``); they
            stay open to being copied under another name or version. ``False`` refuses them.

    Pickling (DataLoader workers) carries a ``key=`` given as bytes; a key from
    ``key_env`` or ``key_file`` is not pickled but read again where the store is
    unpickled.

    Raises:
        ConfigError: No key is configured, or it is malformed.

    Example:
        >>> store = EncryptedStore(open_store("s3://bucket/team"))  # doctest: +SKIP
        >>> with store.open("images.tar") as f:  # decrypts only the segments read  # doctest: +SKIP
        ...     f.seek(1 << 30)
        ...     block = f.read(4096)
    """

    @property
    def plain_checksums(self) -> bool:
        """False: version names carry an HMAC of the plaintext, not its hash."""
        return False

    def __init__(
        self,
        inner: Store,
        key: bytes | None = None,
        *,
        key_env: str = "ALTAKIT_ENCRYPTION_KEY",
        key_file: str | os.PathLike | None = None,
        segment_bytes: int = DEFAULT_SEGMENT,
        accept_unbound: bool = True,
    ) -> None:
        super().__init__(inner)
        self.accept_unbound = accept_unbound
        if not isinstance(segment_bytes, int) or not 256 <= segment_bytes <= 1 << 30:
            raise ConfigError(f"segment_bytes={segment_bytes!r} is out of range", hint="use 256 B … 1 GiB")
        self.segment_bytes = segment_bytes
        self._key_spec = (key_env, None if key_file is None else str(key_file))
        self._key_given = key is not None
        self._setup(load_key(key, key_env, key_file))

    def _setup(self, key: bytes) -> None:
        self._key = key
        self._key_id = key_id(key)
        self._name_key = hmac.new(key, b"altakit name mac", hashlib.sha256).digest()
        self._master = _aesgcm()(key)
        self._headers: OrderedDict[str, _Header] = OrderedDict()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = {
            k: v
            for k, v in self.__dict__.items()
            if k not in ("_master", "_headers", "_lock", "_key_id", "_name_key")
        }
        if not self._key_given:  # re-read from the variable or the secret file where unpickled
            state["_key"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        key_env, key_file = self._key_spec
        self._setup(state["_key"] or load_key(None, key_env, key_file))

    # ---------------------------------------------------------------- writing
    def _name_checksum(self, version: Version | None, digest: str) -> str:
        """The keyed MAC of SHA-256 prefix ``digest`` that names carry in its place.

        A name written before names were keyed (its checksum is ``digest`` itself)
        still verifies.

        Example:
            >>> from altakit.store.local import LocalStore
            >>> from altakit.store.names import checksum
            >>> store = EncryptedStore(LocalStore(tempfile.mkdtemp()), key=b"k" * 32)
            >>> v = store.put("a.txt", b"hi")
            >>> v.checksum == store._name_checksum(None, checksum(b"hi")) != checksum(b"hi")
            True
        """
        if version is not None and hmac.compare_digest(version.checksum, digest):
            return digest
        return hmac.new(self._name_key, digest.encode(), hashlib.sha256).hexdigest()[:CHECKSUM_HEX]

    def _wrap(self, segment: int, size: int, data_key: bytes, name: str) -> bytes:
        """The header of object ``name``: its layout and its data key wrapped, bound to ``name``."""
        prefix = _PREFIX.pack(MAGIC, segment, size, self._key_id)
        nonce = os.urandom(12)
        return prefix + nonce + self._master.encrypt(nonce, data_key, prefix + _binding(name))

    def _seal(self, size: int, name: str) -> tuple[bytes, Any]:
        """A new header for ``size`` plaintext bytes of ``name`` and the AEAD of its fresh data key."""
        aesgcm = _aesgcm()
        data_key = aesgcm.generate_key(bit_length=256)
        return self._wrap(self.segment_bytes, size, data_key, name), aesgcm(data_key)

    def _write(self, name: str, source: Source) -> None:
        with self._lock:  # only ever cached when a version is overwritten on purpose (tests, repair)
            self._headers.pop(name, None)
        if isinstance(source, Path):
            fd, tmp = tempfile.mkstemp(prefix="altakit-enc-")
            try:
                with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                    self._encrypt_file(src, os.fstat(src.fileno()).st_size, out, name)
                self.inner._write(name, Path(tmp))
            finally:
                os.unlink(tmp)
            return
        view = memoryview(source).cast("B")
        header, aead = self._seal(view.nbytes, name)
        seg = self.segment_bytes
        count = max(1, -(-view.nbytes // seg))
        sealed = bytearray(HEADER + view.nbytes + TAG * count)
        sealed[:HEADER] = header
        target, pos = memoryview(sealed), HEADER
        for index in range(count):
            chunk = view[index * seg : (index + 1) * seg]
            end = pos + chunk.nbytes + TAG
            aead.encrypt_into(_nonce(index), chunk, _aad(index, index == count - 1), target[pos:end])
            pos = end
        self.inner._write(name, memoryview(sealed))

    def _encrypt_file(self, src: BinaryIO, size: int, out: BinaryIO, name: str) -> None:
        header, aead = self._seal(size, name)
        out.write(header)
        seg = self.segment_bytes
        count = max(1, -(-size // seg))
        for index in range(count):
            want = min(seg, size - index * seg)
            chunk = src.read(want)
            if len(chunk) != want or (index == count - 1 and src.read(1)):
                raise Conflict(
                    "the file changed while it was being stored", hint="retry once nothing writes to it"
                )
            out.write(aead.encrypt(_nonce(index), chunk, _aad(index, index == count - 1)))

    # ---------------------------------------------------------------- reading
    def _header(self, name: str) -> _Header:
        with self._lock:
            cached = self._headers.get(name)
            if cached is not None:
                self._headers.move_to_end(name)
                return cached
        raw = self.inner._read_range(name, 0, HEADER)
        if len(raw) < HEADER or raw[:4] not in (MAGIC, MAGIC_UNBOUND):
            raise _error(
                name,
                "has no valid encryption header",
                "it was written without encryption, or its bytes were damaged",
            )
        bound = raw[:4] == MAGIC
        if not bound and not self.accept_unbound:
            raise _error(
                name,
                "was written before objects were bound to their names (format AKE1): it could "
                "have been copied here from another key or version",
                "if you trust it, rewrite it bound with store.put(key, store.open(key)) "
                "through a store opened with accept_unbound=True",
            )
        _, segment, size, kid = _PREFIX.unpack_from(raw)
        if not hmac.compare_digest(kid, self._key_id):
            raise _error(
                name,
                f"was encrypted with a different master key (key id {kid.hex()}, this store's is "
                f"{self._key_id.hex()})",
                "open the store with the key the object was written with",
            )
        nonce, wrapped = raw[_PREFIX.size : _PREFIX.size + 12], raw[_PREFIX.size + 12 : HEADER]
        aad = raw[: _PREFIX.size] + (_binding(name) if bound else b"")
        try:
            data_key = self._master.decrypt(nonce, wrapped, aad)
        except _invalid_tag():
            raise _error(
                name,
                "has a header that fails authentication: it was altered, or copied here from "
                "another key or version (a rollback or a swap)",
                "the stored bytes are not this version's; read another version",
            ) from None
        if segment < 1:
            raise _error(name, "has a damaged header")
        header = _Header(name, segment, size, _aesgcm()(data_key), data_key, bound)
        with self._lock:
            self._headers[name] = header
            while len(self._headers) > _HEADER_CACHE:
                self._headers.popitem(last=False)
        return header

    def _read_range(self, name: str, start: int, stop: int) -> bytes:
        h = self._header(name)
        stop = min(stop, h.size)
        if start >= stop:
            return b""
        first, last = start // h.segment, (stop - 1) // h.segment
        end = h.offset(last) + h.length(last)
        blob = self.inner._read_range(name, h.offset(first), end + (last == h.count - 1))
        if len(blob) > end - h.offset(first):
            raise _error(name, "has bytes after its last segment: it was altered")
        base = first * h.segment
        return bytes(memoryview(h.decrypt(blob, first, last))[start - base : stop - base])

    def _open_raw(self, name: str, size: int) -> BinaryIO:
        h = self._header(name)
        raw = self.inner._open_raw(name, h.ciphertext_size)
        return cast(BinaryIO, _DecryptingReader(h, raw))

    def _copy(self, src: str, dst: str) -> None:
        # the segments are bound to the data key only: copy them as they are, behind a
        # header that wraps the same data key bound to the new name
        h = self._header(src)
        fd, tmp = tempfile.mkstemp(prefix="altakit-enc-")
        try:
            with os.fdopen(fd, "wb") as out, self.inner._open_raw(src, h.ciphertext_size) as raw:
                out.write(self._wrap(h.segment, h.size, h.data_key, dst))
                raw.seek(HEADER)
                left = h.ciphertext_size - HEADER
                while left > 0 and (chunk := raw.read(min(CHUNK, left))):
                    out.write(chunk)
                    left -= len(chunk)
            if left:
                raise _error(src, "is truncated: shorter than its header says")
            self.inner._write(dst, Path(tmp))
        finally:
            os.unlink(tmp)

    def _remove(self, name: str) -> None:
        with self._lock:
            self._headers.pop(name, None)
        self.inner._remove(name)


class _DecryptingReader(SeekableReader):
    """A seekable plaintext stream over an object's ciphertext stream."""

    def __init__(self, header: _Header, raw: BinaryIO) -> None:
        super().__init__(header.size)
        self.h, self.raw = header, raw
        self.raw_pos = 0
        self.span: tuple[int, int, bytes | bytearray] = (-1, -1, b"")  # first, last segment, their plaintext

    def readinto(self, buffer: Any) -> int:
        h = self.h
        want = min(len(buffer), h.size - self.pos)
        if want <= 0:
            return 0
        first = self.pos // h.segment
        last = min((self.pos + want - 1) // h.segment, first + max(1, _SPAN_BYTES // h.segment) - 1)
        if not self.span[0] <= first <= self.span[1]:
            self.span = (first, last, self._decrypt(first, last))
        first, last, plain = self.span
        skip = self.pos - first * h.segment
        n = min(want, len(plain) - skip)
        memoryview(buffer)[:n] = memoryview(plain)[skip : skip + n]
        self.pos += n
        return n

    def _decrypt(self, first: int, last: int) -> bytearray:
        h = self.h
        start, end = h.offset(first), h.offset(last) + h.length(last)
        if self.raw_pos != start:
            self.raw.seek(start)
        blob = bytearray(end - start)
        view, got = memoryview(blob), 0
        while got < len(blob):
            n = cast(io.BufferedIOBase, self.raw).readinto(view[got:])
            if not n:
                break
            got += n
        self.raw_pos = start + got
        plain = h.decrypt(view[:got], first, last)
        if last == h.count - 1 and self.raw.read(1):
            raise _error(h.name, "has bytes after its last segment: it was altered")
        return plain

    def close(self) -> None:
        self.raw.close()
        super().close()
