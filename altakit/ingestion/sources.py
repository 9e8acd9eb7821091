"""Sources: what an ingest reads, resolved to local, unpacked files with their checksums.

A source (a path or glob, bytes, ``("name.csv", bytes)``, a store key
``store:raw/a.csv`` or prefix ``store:raw/``, or a URL under the store's own
URL) resolves to :class:`SourceFile` objects: local files, each with the
SHA-256 checksum of the bytes as received. Compressed inputs (gzip, bzip2, xz,
zip) are detected by their magic bytes and unpacked into a work folder first,
so a truncated archive is a typed :class:`~altakit.errors.IngestError`, never
a partial read. Archives inside archives are unpacked too (:data:`MAX_DEPTH`);
members that are an OS's files (:data:`JUNK`) or empty are skipped; an
encrypted archive, or one that unpacks past :data:`MAX_RATIO` times its size or
:data:`MAX_UNPACKED` bytes (a bomb), is a typed error. Reading them is :mod:`altakit.ingestion.readers`' job.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as work:
    ...     (src,) = resolve_sources(("a.csv", b"x\\n1\\n"), Path(work))
    ...     src.name, src.size, src.checksum[:12]
    ('a.csv', 4, 'daff832f8020')
"""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import lzma
import os
import shutil
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from altakit.errors import ConfigError, IngestError, NotFound

if TYPE_CHECKING:
    from altakit.store.base import Store


@dataclass(frozen=True)
class SourceFile:
    """One input file, local and unpacked.

    Attributes:
        name: Name recorded in the catalog and quarantine (path, key or ``archive.zip/member``).
        path: Local file with the (decompressed) bytes.
        digest: SHA-256 hex digest of the bytes as received (before decompression), or a
            :class:`~concurrent.futures.Future` of it while a plain file is hashed on a thread
            (reading can start meanwhile); :attr:`checksum` waits for it.
        size: Bytes as received.
        renamed: Columns the reader renamed because they clash with altakit's own, new name →
            the source's (filled while the file is read).
        origin: Where it came from: ``"path"`` (a local file), ``"store"`` (``name`` is the store
            key) or ``"upload"`` (bytes handed over; ``name`` is the name given, or ``upload``).
        given: For a local file, the path of the file as given (``name`` is it, or
            ``<given>/<member>`` for an archive's member); ``""`` otherwise.
    """

    name: str
    path: Path
    digest: str | Future[str]
    size: int
    renamed: dict[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)
    origin: str = field(default="path", compare=False)
    given: str = field(default="", compare=False)

    @property
    def checksum(self) -> str:
        """SHA-256 hex digest of the bytes as received (waits for the hashing thread)."""
        return self.digest if isinstance(self.digest, str) else self.digest.result()


def resolve_sources(
    source: Any, workdir: Path, store: Store | None = None, *, checksums: bool = True
) -> list[SourceFile]:
    """Turn a source into local, unpacked :class:`SourceFile` objects.

    Args:
        source: A path, glob, ``bytes``, ``("name.csv", bytes)``, ``store:key``, ``store:prefix/``,
            a URL under ``store.url``, or a list of these.
        workdir: Folder for unpacked and downloaded copies.
        store: The store ``store:`` sources and URLs refer to.
        checksums: Hash plain files (on a thread); ``False`` leaves their digest ``""`` (estimates).

    Raises:
        NotFound: No file matches a path or glob, or no key is under a prefix.
        ConfigError: A ``store:`` source without a store, or a URL outside the store.
        IngestError: A compressed input is damaged or truncated.
    """
    if isinstance(source, list | tuple) and not _is_named_bytes(source):
        return [f for item in source for f in resolve_sources(item, workdir, store, checksums=checksums)]
    if isinstance(source, bytes | bytearray | memoryview) or _is_named_bytes(source):
        name, data = source if _is_named_bytes(source) else ("upload", source)
        path = _new_file(workdir, "upload")
        path.write_bytes(bytes(data))
        return [replace(f, origin="upload") for f in _unpack(str(name), path, workdir, checksums)]
    text = str(source)
    if store is not None and "://" in text and text.startswith(store.url.rstrip("/") + "/"):
        text = "store:" + text[len(store.url.rstrip("/")) + 1 :]
    if text.startswith("store:"):
        return _from_store(text[len("store:") :], workdir, store, checksums)
    if "://" in text and not text.startswith("file://"):
        raise ConfigError(
            f"cannot read {text!r}: not under the store's URL",
            hint="open the store at that bucket and pass store=…, or copy the file locally",
        )
    text = text.removeprefix("file://")
    matches = sorted(glob.glob(os.path.expanduser(text))) if glob.has_magic(text) else [text]
    files = [m for m in matches if os.path.isfile(m)]
    if not files:
        raise NotFound(f"no input file matches {text!r}", path=text)
    return [replace(f, given=m) for m in files for f in _unpack(m, Path(m), workdir, checksums)]


def _is_named_bytes(item: Any) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes | bytearray | memoryview)


def _from_store(key: str, workdir: Path, store: Store | None, checksums: bool) -> list[SourceFile]:
    if store is None:
        raise ConfigError(f"source 'store:{key}' needs a store", hint="pass store=altakit.open_store(...)")
    keys = [v.key for v in store.list(key)] if key.endswith("/") or not key else [key]
    if not keys:
        raise NotFound(f"no keys under {key!r} in {store.url}", key=key)
    out: list[SourceFile] = []
    for k in keys:
        with store.open(k) as src:
            path = _copy_in(src, workdir, "store")
        out.extend(replace(f, origin="store") for f in _unpack(k, path, workdir, checksums))
    return out


#: ``sources_root`` of a record whose local source paths are relative to the current directory.
CWD_ROOT = "<cwd>"
#: ``sources_root`` of a record whose local source paths are relative to the folder that holds them all.
FOLDER_ROOT = "<sources folder>"


def recorded_names(files: list[SourceFile]) -> tuple[str | None, list[str]]:
    """How a catalog record names ``files``, without this machine's private absolute paths.

    A store key stays the key, an upload its given name. A local file is named relative to a
    root the record states once (``sources_root``): the current directory (:data:`CWD_ROOT`) when
    every local file is under it — a project's checkout, where ``data/raw/a.csv`` means the same on
    every colleague's machine —, otherwise the deepest folder holding them all (:data:`FOLDER_ROOT`):
    a path like ``../../tmp/x/a.csv`` would still spell out this machine's folders.

    Returns:
        The root (``None`` when no file is local) and each file's recorded name, in order.

    Example:
        >>> f = SourceFile("/srv/private/raw/a.zip/m.csv", Path("x"), "", 1, given="/srv/private/raw/a.zip")
        >>> recorded_names([f, SourceFile("raw/b.csv", Path("y"), "", 1, origin="store")])
        ('<sources folder>', ['a.zip/m.csv', 'raw/b.csv'])
    """
    local = [os.path.abspath(f.given) for f in files if f.origin == "path" and f.given]
    if not local:
        return None, [f.name for f in files]
    cwd = os.getcwd()
    if all(os.path.commonpath([p, cwd]) == cwd for p in local):
        root, label = cwd, CWD_ROOT
    else:
        root, label = os.path.commonpath([os.path.dirname(p) for p in local]), FOLDER_ROOT
    names = []
    for f in files:
        if f.origin != "path" or not f.given:
            names.append(f.name)
            continue
        # the name is the given path, its stem (``x.csv.gz`` → ``x.csv``) or that plus ``/member``
        folder = os.path.dirname(f.given)
        tail = f.name[len(folder) + 1 :] if folder else f.name
        rel = Path(os.path.relpath(os.path.abspath(folder or "."), root)).as_posix()
        names.append(tail if rel == "." else f"{rel}/{tail}")
    return label, names


# ------------------------------------------------------------------ hashing
def digest(path: Path) -> tuple[str, int]:
    """SHA-256 hex digest and size of the file at ``path``."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _hash_later(path: Path) -> Future[str]:
    """The digest of ``path``, computed on a plain thread (hashlib releases the GIL)."""
    done: Future[str] = Future()

    def run() -> None:
        try:
            done.set_result(digest(path)[0])
        except BaseException as exc:  # handed to whoever asks for the checksum
            done.set_exception(exc)

    threading.Thread(target=run, name="altakit-hash", daemon=True).start()
    return done


# ------------------------------------------------------------------ unpacking
def _new_file(workdir: Path, kind: str) -> Path:
    """A new, empty file in ``workdir`` named after what it holds."""
    fd, name = tempfile.mkstemp(prefix=f"{kind}-", dir=workdir)
    os.close(fd)
    return Path(name)


def _copy_in(src: IO[bytes], workdir: Path, kind: str) -> Path:
    """Copy a stream into a new file in ``workdir``."""
    path = _new_file(workdir, kind)
    with open(path, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
    return path


#: Most bytes an input may unpack to, all archive members and nesting levels together.
MAX_UNPACKED = 64 * 1024**3
#: Most bytes unpacked per byte received (beyond :data:`RATIO_FLOOR`): more is a decompression bomb.
MAX_RATIO = 200
#: Unpacked bytes below which any ratio is fine (small files compress well).
RATIO_FLOOR = 64 * 1024**2
#: Archives inside archives unpacked, at most (deeper ones are a typed error).
MAX_DEPTH = 4
#: Archive members that are no one's data: macOS resource forks and folder files, Windows thumbnails.
JUNK = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini", "._")
_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"PK\x03\x04")


@dataclass
class _Budget:
    """What one received input may unpack to (see :data:`MAX_UNPACKED`, :data:`MAX_RATIO`)."""

    name: str
    received: int
    unpacked: int = 0

    def take(self, n: int) -> None:
        self.unpacked += n
        ratio = self.unpacked / max(1, self.received)
        if self.unpacked > MAX_UNPACKED or (self.unpacked > RATIO_FLOOR and ratio > MAX_RATIO):
            raise IngestError(
                f"{self.name}: unpacks to more than {self.unpacked:,} bytes from {self.received:,} "
                f"(a decompression bomb?)",
                source=self.name,
                hint=f"inputs may unpack to {MAX_RATIO}x their size and {MAX_UNPACKED:,} bytes at most; "
                "unpack it yourself and ingest the files",
            )


def _copy_bounded(src: IO[bytes], workdir: Path, kind: str, budget: _Budget) -> Path:
    """Copy a decompressing stream into a new file, within ``budget``."""
    path = _new_file(workdir, kind)
    try:
        with open(path, "wb") as dst:
            while chunk := src.read(1024 * 1024):
                budget.take(len(chunk))
                dst.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


#: ``(sha, size, budget, depth)``: the outermost input's digest, size and budget, and the nesting depth.
_Within = tuple[str, int, _Budget, int]


def _unpack(
    name: str, path: Path, workdir: Path, checksums: bool = True, *, within: _Within | None = None
) -> list[SourceFile]:
    """The files a received file holds: itself, or what it unpacks to (archives in archives too).

    ``within``: set when ``path`` came out of an archive (see :data:`_Within`).
    """
    with open(path, "rb") as f:
        magic = f.read(8)
    if not any(magic.startswith(m) for m in _MAGIC):
        if within is not None:
            return [SourceFile(name, path, within[0], within[1])]
        return [SourceFile(name, path, _hash_later(path) if checksums else "", path.stat().st_size)]
    if within is None:
        sha, size = digest(path)
        budget, depth = _Budget(name, size), 0
    else:
        sha, size, budget, depth = within
    if depth >= MAX_DEPTH:
        raise IngestError(f"{name}: archives nested more than {MAX_DEPTH} deep", source=name)
    opener: dict[bytes, Callable[..., Any]] = {
        b"\x1f\x8b": gzip.open,
        b"BZh": bz2.open,
        b"\xfd7zXZ": lzma.open,
    }
    for prefix, open_ in opener.items():
        if magic.startswith(prefix):
            try:
                with open_(path, "rb") as src:
                    out = _copy_bounded(src, workdir, "unpacked", budget)
            except (EOFError, OSError, lzma.LZMAError, zlib.error, ValueError) as exc:
                raise IngestError(
                    f"{name}: compressed data is damaged or truncated ({exc})",
                    source=name,
                    hint="re-export or re-upload the file",
                ) from exc
            stem = name.rsplit(".", 1)[0] if name.lower().endswith((".gz", ".bz2", ".xz")) else name
            return _unpack(stem, out, workdir, checksums, within=(sha, size, budget, depth + 1))
    if magic.startswith(b"PK\x03\x04") and not name.lower().endswith((".xlsx", ".xls")):
        return _unzip(name, path, workdir, (sha, size, budget, depth + 1), checksums)
    return [SourceFile(name, path, sha, size)]


def _is_junk(member: str) -> bool:
    """Whether an archive member is an OS's file, not data (see :data:`JUNK`)."""
    base = member.rsplit("/", 1)[-1]
    return member.startswith("__MACOSX/") or "/__MACOSX/" in member or base.startswith(JUNK[1:])


def _unzip(name: str, path: Path, workdir: Path, within: _Within, checksums: bool) -> list[SourceFile]:
    sha, size, budget, _ = within
    try:
        with zipfile.ZipFile(path) as archive:
            if any(n.startswith("xl/") for n in archive.namelist()):
                return [SourceFile(name if name.endswith(".xlsx") else name + ".xlsx", path, sha, size)]
            names = [i for i in archive.infolist() if i.filename]
            members = [i for i in names if not i.is_dir() and not _is_junk(i.filename)]
            locked = [i.filename for i in members if i.flag_bits & 0x1]
            if locked:
                raise IngestError(
                    f"{name}: the zip archive is encrypted ({locked[:5]})",
                    source=name,
                    hint="decrypt it (unzip with its password) and ingest the files",
                )
            members = [i for i in members if i.file_size > 0]  # an empty member holds no rows
            if not members:
                raise IngestError(
                    f"{name}: the zip archive holds no data files", source=name, hint="check the archive"
                )
            out = []
            for info in members:
                with archive.open(info) as src:
                    target = _copy_bounded(src, workdir, "unzipped", budget)
                out.extend(_unpack(f"{name}/{info.filename}", target, workdir, checksums, within=within))
            return out
    except IngestError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError, LookupError) as exc:
        # RuntimeError: a member needs a password, or its compression method is one zipfile lacks
        # (NotImplementedError); ValueError: a member name that is not the UTF-8 its flag says;
        # LookupError: headers that contradict each other
        raise IngestError(f"{name}: the zip archive is damaged or unsupported ({exc})", source=name) from exc
