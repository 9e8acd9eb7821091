"""CSV text as a stream of UTF-8 chunks: transcoded, line ends normalised, without a copy on disk.

:func:`utf8_chunks` reads a file in chunks and gives UTF-8 bytes:

* UTF-8 files pass through untouched (invalid lines are quarantined later);
* files in a single-byte encoding (cp1252, latin-1 …) are decoded line by
  line: a line that is valid UTF-8 with non-ASCII bytes is kept as UTF-8 (an
  export that switched encodings halfway; cp1252 text that happens to be valid
  multi-byte UTF-8 is practically nonexistent), every other line is decoded
  with the encoding. Only lines holding a UTF-8 lead byte followed by a
  continuation byte are looked at one by one;
* other encodings (UTF-16/32, multi-byte code pages) go through an incremental
  decoder.

:func:`normalise_line_ends` turns lone CRs (old Mac exports, or a mixture)
outside quoted fields into LF; a CR inside quotes is data and stays. Chunks
without a lone CR are passed on as they are.

Example:
    >>> decode_mixed("Müller\\n".encode("cp1252") + "Jürgen\\n".encode(), "cp1252")
    'Müller\\nJürgen\\n'
    >>> b"".join(normalise_line_ends([b'a,b\\r1,"x\\ry"\\r2,3\\r\\n']))
    b'a,b\\n1,"x\\ry"\\n2,3\\r\\n'
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from altakit.errors import IngestError

if TYPE_CHECKING:
    from pathlib import Path


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes cp1252 leaves undefined (0x81, 0x8d …) read as latin-1."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error("altakit-latin1", _latin1_fallback)


def is_utf8(encoding: str) -> bool:
    """Whether ``encoding`` names UTF-8 (with or without BOM).

    Example:
        >>> is_utf8("UTF_8"), is_utf8("utf-8-sig"), is_utf8("cp1252")
        (True, True, False)
    """
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def single_byte(encoding: str) -> bool:
    """Whether ``encoding`` maps every byte to one character (cp1252, latin-1, iso-8859-x …).

    Example:
        >>> single_byte("cp1252"), single_byte("utf-16"), single_byte("shift_jis")
        (True, False, False)
    """
    name = codecs.lookup(encoding).name
    if name.startswith("utf"):
        return False
    return len(bytes(range(256)).decode(name, errors="replace")) == 256


def decode_mixed(data: bytes, encoding: str) -> str:
    """Whole lines of a single-byte encoding, each line that is valid non-ASCII UTF-8 read as UTF-8.

    Raises:
        UnicodeDecodeError: A line is neither valid UTF-8 nor valid ``encoding``.
    """
    import numpy as np

    errors = "altakit-latin1" if codecs.lookup(encoding).name == "cp1252" else "strict"
    if data.isascii():
        return data.decode(encoding, errors)
    raw = np.frombuffer(data, dtype=np.uint8)
    lead = (raw[:-1] - np.uint8(0xC2)) <= np.uint8(0xF4 - 0xC2)  # 0xC2-0xF4, by wrapping around
    pairs = np.flatnonzero(lead & ((raw[1:] & np.uint8(0xC0)) == np.uint8(0x80)))
    parts: list[str] = []
    pos = 0
    for at in pairs.tolist():
        if at < pos:
            continue
        start = max(data.rfind(b"\n", pos, at), data.rfind(b"\r", pos, at), pos - 1) + 1
        nl = data.find(b"\n", at)
        cr = data.find(b"\r", at, len(data) if nl < 0 else nl)  # bounded: no scan to the end per line
        end = (cr if cr >= 0 else nl if nl >= 0 else len(data) - 1) + 1
        line = data[start:end]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = line.decode(encoding, errors)
        parts += (data[pos:start].decode(encoding, errors), text)
        pos = end
    parts.append(data[pos:].decode(encoding, errors))
    return "".join(parts)


def utf8_chunks(name: str, path: Path, encoding: str, size: int) -> Iterator[bytes]:
    """The file at ``path`` in chunks of about ``size`` bytes, as UTF-8 (see the module docstring).

    Raises:
        IngestError: The text is not valid in ``encoding`` (never for UTF-8 or cp1252).
    """
    try:
        with open(path, "rb") as f:
            if is_utf8(encoding):
                if codecs.lookup(encoding).name == "utf-8-sig" and f.read(3) != codecs.BOM_UTF8:
                    f.seek(0)
                while chunk := f.read(size):
                    yield chunk
            elif single_byte(encoding):
                carry = b""
                while True:
                    chunk = f.read(size)
                    data = carry + chunk
                    if not chunk:
                        if data:
                            yield decode_mixed(data, encoding).encode("utf-8")
                        return
                    cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
                    carry = data[cut:]
                    if cut:
                        yield decode_mixed(data[:cut], encoding).encode("utf-8")
            else:
                decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
                while True:
                    chunk = f.read(size)
                    text = decoder.decode(chunk, final=not chunk)
                    if text:
                        yield text.encode("utf-8")
                    if not chunk:
                        return
    except UnicodeError as exc:
        raise IngestError(
            f"{name}: not valid {encoding} text ({exc})",
            source=name,
            hint="give the spec's encoding (utf-8, cp1252, utf-16 …) or re-export the file as UTF-8",
        ) from exc


def normalise_line_ends(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` of UTF-8 text with each lone CR outside quoted fields as LF.

    Quotes are counted through every chunk (a field opened by ``"`` is closed by the next one;
    ``""`` counts twice). A chunk ending in CR waits for the next one's first byte (CRLF). Chunks
    without lone CRs are yielded unchanged: without CR or quotes at the cost of a ``memchr``,
    with CRLF line ends of two byte counts.

    Example:
        >>> list(normalise_line_ends([b"a\\r", b"\\nb\\r", b"c\\r"]))
        [b'a', b'\\r\\nb', b'\\nc', b'\\n']
    """
    inside = False
    held = b""
    for chunk in chunks:
        if held:
            chunk, held = held + chunk, b""
        if chunk.endswith(b"\r"):
            stripped = chunk.rstrip(b"\r")
            chunk, held = stripped, chunk[len(stripped) :]
        odd = b'"' in chunk and chunk.count(b'"') % 2 == 1  # memchr first: no cost without quotes
        if b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n"):
            chunk = _lone_crs_to_lf(chunk, inside)
        inside ^= odd
        if chunk:
            yield chunk
    if held:  # CRs at the end of the file: line ends unless inside a quote
        yield _lone_crs_to_lf(held, inside)


def _lone_crs_to_lf(chunk: bytes, inside: bool) -> bytes:
    """``chunk`` with every CR that is not followed by LF and not inside quotes as LF."""
    import numpy as np

    raw = np.frombuffer(chunk, dtype=np.uint8)
    lone = raw == 13
    lone[:-1] &= raw[1:] != 10
    if inside or b'"' in chunk:
        quoted = np.bitwise_xor.accumulate((raw == 34).view(np.uint8)) ^ np.uint8(inside)
        lone &= quoted == 0
    out = raw.copy()
    out[lone] = 10
    return out.tobytes()
