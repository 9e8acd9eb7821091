"""Sources: what an ingest reads, resolved to local, unpacked files with their checksums.

A source (a path or glob, bytes, ``("name.csv", bytes)``, a store key
``store:raw/a.csv`` or prefix ``store:raw/``, or a URL under the store's own
URL) resolves to :class:`SourceFile` objects: local files, each with the
SHA-256 checksum of the bytes as received. Compressed inputs (gzip, bzip2, xz,
zstd, zip, tar) are detected by their magic bytes and unpacked into a work folder first,
so a truncated archive is a typed :class:`~altakit.errors.IngestError`, never
a partial read. Archives inside archives are unpacked too (:data:`MAX_DEPTH`);
members that are an OS's files (:data:`JUNK`) or empty are skipped; an
encrypted archive is a typed error.

Decompression is bounded (:class:`UnpackLimits`; the spec's ``max_unpacked_bytes`` and
``max_unpack_ratio``): an input that unpacks past :data:`MAX_RATIO` times its size (beyond
:data:`RATIO_FLOOR`), or inputs that unpack past :data:`MAX_UNPACKED` bytes together, are a
:class:`UnpackLimitExceeded` naming the file, the limit and the spec key that raises it — raised
as the bytes arrive, and before any byte is read where an archive declares its sizes (zip, tar,
an xlsx workbook's parts). A full temp folder is a typed error too, never "damaged". Reading the
files is :mod:`altakit.ingestion.readers`' job (Parquet's declared sizes are checked there).

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
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from altakit.errors import ConfigError, IngestError, NotFound
from altakit.ingestion.readers.limits import (
    MAX_RATIO,
    MAX_UNPACKED,
    RATIO_FLOOR,
    Budget,
    Tally,
    UnpackLimitExceeded,
    UnpackLimits,
    copy_bounded,
    copy_in,
    new_file,
    write_all,
    write_chunk,
)

if TYPE_CHECKING:
    from altakit.events import EventStream
    from altakit.store.base import Store

__all__ = [
    "MAX_DEPTH",
    "MAX_RATIO",
    "MAX_UNPACKED",
    "RATIO_FLOOR",
    "SourceFile",
    "Stored",
    "UnpackLimitExceeded",
    "UnpackLimits",
    "digest",
    "fetch",
    "recorded_names",
    "resolve_sources",
]


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
        stored: For a store source resolved for an engine whose workers read the store
            (``resolve_sources(head=…)``): where a worker fetches it (:func:`fetch`).
    """

    name: str
    path: Path
    digest: str | Future[str]
    size: int
    renamed: dict[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)
    origin: str = field(default="path", compare=False)
    given: str = field(default="", compare=False)
    stored: Stored | None = field(default=None, compare=False)

    @property
    def checksum(self) -> str:
        """SHA-256 hex digest of the bytes as received (waits for the hashing thread).

        Raises:
            IngestError: The source's workers never reported it (a bug; never a silent wait).
        """
        if isinstance(self.digest, str):
            return self.digest
        if self.stored is not None and not self.stored.whole and not self.digest.done():
            raise IngestError(
                f"{self.name}: no checksum came back from the worker that read it",
                source=self.name,
                hint="this is a bug in altakit; please report it",
            )
        return self.digest.result()


@dataclass(frozen=True)
class Stored:
    """Where a worker fetches a store source itself (the Spark engine's executors; :func:`fetch`).

    Attributes:
        url: The store's URL.
        key: The store key (an archive's, for a member of it).
        version: The version id resolved when the ingest started (later writes are not read).
        checksum: The version's checksum as the store names it (the first 32 hex digits of its SHA-256).
        whole: The driver's copy (``SourceFile.path``) holds every byte; ``False``: only the first
            bytes, a sample to decide types from — never read as the file.
        store: The store itself (it pickles without its connections): a worker reads through its
            client, endpoint and options as the driver opened it.
    """

    url: str
    key: str
    version: str
    checksum: str
    whole: bool = True
    store: Store | None = field(default=None, compare=False, repr=False)


def resolve_sources(
    source: Any,
    workdir: Path,
    store: Store | None = None,
    *,
    checksums: bool = True,
    limits: UnpackLimits | None = None,
    events: EventStream | None = None,
    head: int | None = None,
) -> list[SourceFile]:
    """Turn a source into local, unpacked :class:`SourceFile` objects.

    Args:
        source: A path, glob, ``bytes``, ``("name.csv", bytes)``, ``store:key``, ``store:prefix/``,
            a URL under ``store.url``, or a list of these.
        workdir: Folder for unpacked and downloaded copies.
        store: The store ``store:`` sources and URLs refer to.
        checksums: Hash plain files (on a thread); ``False`` leaves their digest ``""`` (estimates).
        limits: How far inputs may unpack (default :class:`UnpackLimits` ()).
        events: Where to report ``progress`` (``stage="resolve"``: files resolved of those matched).
        head: For an engine whose workers read the store themselves: copy only the first ``head``
            bytes of a plain CSV store key larger than that (a sample; its checksum comes
            back from the worker that reads it), and mark every store source :attr:`SourceFile.stored`.

    Raises:
        NotFound: No file matches a path or glob, or no key is under a prefix.
        ConfigError: A ``store:`` source without a store, or a URL outside the store.
        UnpackLimitExceeded: An input unpacks past ``limits``, or the temp folder fills up.
        IngestError: A compressed input is damaged or truncated.
    """
    tally = Tally(limits or UnpackLimits(), events)
    out = _resolve(source, workdir, store, checksums, tally, head)
    tally.report(len(out), len(out), force=True)
    return out


def _resolve(
    source: Any, workdir: Path, store: Store | None, checksums: bool, tally: Tally, head: int | None = None
) -> list[SourceFile]:
    if isinstance(source, list | tuple) and not _is_named_bytes(source):
        return [f for item in source for f in _resolve(item, workdir, store, checksums, tally, head)]
    if isinstance(source, bytes | bytearray | memoryview) or _is_named_bytes(source):
        name, data = source if _is_named_bytes(source) else ("upload", source)
        path = new_file(workdir, "upload")
        write_all(path, bytes(data), str(name))
        return [replace(f, origin="upload") for f in _unpack(str(name), path, workdir, checksums, tally)]
    text = str(source)
    if store is not None and "://" in text and text.startswith(store.url.rstrip("/") + "/"):
        text = "store:" + text[len(store.url.rstrip("/")) + 1 :]
    if text.startswith("store:"):
        return _from_store(text[len("store:") :], workdir, store, checksums, tally, head)
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
    out: list[SourceFile] = []
    for i, m in enumerate(files):
        out.extend(replace(f, given=m) for f in _unpack(m, Path(m), workdir, checksums, tally))
        tally.report(i + 1, len(files))
    return out


def _is_named_bytes(item: Any) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes | bytearray | memoryview)


def _from_store(
    key: str, workdir: Path, store: Store | None, checksums: bool, tally: Tally, head: int | None = None
) -> list[SourceFile]:
    if store is None:
        raise ConfigError(f"source 'store:{key}' needs a store", hint="pass store=altakit.open_store(...)")
    versions = list(store.list(key)) if key.endswith("/") or not key else [store.resolve(key)]
    if not versions:
        raise NotFound(f"no keys under {key!r} in {store.url}", key=key)
    out: list[SourceFile] = []
    # a store that names no plaintext hash (encrypted) cannot check a worker's read: the driver copies
    head = head if store.plain_checksums else None
    for i, v in enumerate(versions):
        stored = Stored(store.url, v.key, v.id, v.checksum, store=store) if head is not None else None
        with store.open(v.key, v) as src:
            if stored is not None and head is not None and v.size > head:
                path = new_file(workdir, "store")
                write_all(path, src.read(head), v.key)
                if _sampled(path, v.key):  # the driver's sample; a worker reads the file
                    sample = replace(stored, whole=False)
                    out.append(SourceFile(v.key, path, Future(), v.size, origin="store", stored=sample))
                    tally.report(i + 1, len(versions))
                    continue
                with open(path, "ab") as dst:  # the rest, read on from the same (verifying) stream
                    while chunk := src.read(1024 * 1024):
                        write_chunk(dst, chunk, v.key, workdir)
            else:
                path = copy_in(src, workdir, "store", v.key)
        unpacked = _unpack(v.key, path, workdir, checksums, tally)
        out.extend(replace(f, origin="store", stored=stored) for f in unpacked)
        tally.report(i + 1, len(versions))
    return out


def _sampled(path: Path, key: str) -> bool:
    """Whether the first bytes at ``path`` are enough to sample: a plain CSV object."""
    from altakit.ingestion.readers import detect_format

    with open(path, "rb") as f:
        magic = f.read(_TAR_MAGIC_AT + 8)
    if magic[_TAR_MAGIC_AT : _TAR_MAGIC_AT + 5] == b"ustar" or magic.startswith(_MAGIC):
        return False
    return detect_format(SourceFile(key, path, "", 0)) == "csv"  # NDJSON's first batch is counted in rows


def fetch(src: SourceFile, workdir: Path, limits: UnpackLimits | None = None) -> SourceFile:
    """``src`` with all its bytes in ``workdir``, fetched from the store by the worker that reads it.

    A source without :attr:`SourceFile.stored` is returned as it is (a local path: on a cluster,
    a shared filesystem). A store source is read with the store's own client at the version the
    ingest resolved (an archive's member: the archive, unpacked here again), its SHA-256 computed.

    Raises:
        IngestError: The archive no longer holds the member (or the store's bytes are damaged).
    """
    if src.stored is None:
        return src
    from altakit.store.registry import open_store

    store = src.stored.store or open_store(src.stored.url)
    with store.open(src.stored.key, src.stored.version) as stream:
        path = copy_in(stream, workdir, "store", src.stored.key)
    tally = Tally(limits or UnpackLimits())
    for f in _unpack(src.stored.key, path, workdir, True, tally):
        if f.name == src.name:
            return replace(f, origin="store", stored=replace(src.stored, whole=True), given=src.given)
    raise IngestError(
        f"{src.name}: not in {src.stored.key} as the store holds it now",
        source=src.name,
        hint="this is a bug in altakit, or the store's bytes are damaged: run altakit catalog check",
    )


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


#: The hashing pool of this process: ``(pid, pool)`` (a forked child makes its own, the parent's
#: threads are not in it).
_HASHERS: dict[str, tuple[int, ThreadPoolExecutor]] = {}


def _hash_later(path: Path) -> Future[str]:
    """The digest of ``path``, computed on a shared pool of threads (hashlib releases the GIL).

    One pool for every file: a glob of 100,000 files starts no thread per file.
    """
    pid, pool = _HASHERS.get("pool", (None, None))
    if pool is None or pid != os.getpid():
        pool = ThreadPoolExecutor(4, thread_name_prefix="altakit-hash")
        _HASHERS["pool"] = (os.getpid(), pool)
    return pool.submit(lambda: digest(path)[0])


# ------------------------------------------------------------------ unpacking
#: Archives inside archives unpacked, at most (deeper ones are a typed error).
MAX_DEPTH = 4
#: Archive members that are no one's data: macOS resource forks and folder files, Windows thumbnails.
JUNK = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini", "._")
_ZSTD = b"\x28\xb5\x2f\xfd"
_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", _ZSTD, b"PK\x03\x04")
#: Where a POSIX tar header holds ``ustar`` (GNU and POSIX tars; old v7 tars are read as text).
_TAR_MAGIC_AT = 257
#: ``(sha, size, budget, depth)``: the outermost input's digest, size and budget, and the nesting depth.
_Within = tuple[str, int, Budget, int]
#: What a damaged compressed stream raises while read (pyarrow's zstd errors: ``OSError``, ``ValueError``).
_DAMAGED = (EOFError, OSError, lzma.LZMAError, zlib.error, ValueError)


def _unpack(
    name: str,
    path: Path,
    workdir: Path,
    checksums: bool,
    tally: Tally,
    *,
    within: _Within | None = None,
) -> list[SourceFile]:
    """The files a received file holds: itself, or what it unpacks to (archives in archives too).

    ``within``: set when ``path`` came out of an archive (see :data:`_Within`).
    """
    with open(path, "rb") as f:
        head = f.read(_TAR_MAGIC_AT + 8)
    magic = head[:8]
    tar = head[_TAR_MAGIC_AT : _TAR_MAGIC_AT + 5] == b"ustar"
    if not tar and not any(magic.startswith(m) for m in _MAGIC):
        if within is not None:
            return [SourceFile(name, path, within[0], within[1])]
        return [SourceFile(name, path, _hash_later(path) if checksums else "", path.stat().st_size)]
    if within is None:
        sha, size = digest(path)
        budget, depth = Budget(name, size, tally), 0
    else:
        sha, size, budget, depth = within
    if depth >= MAX_DEPTH:
        raise IngestError(f"{name}: archives nested more than {MAX_DEPTH} deep", source=name)
    if tar:
        return _untar(name, path, workdir, (sha, size, budget, depth + 1), checksums, tally)
    opener: dict[bytes, Callable[..., Any]] = {
        b"\x1f\x8b": gzip.open,
        b"BZh": bz2.open,
        b"\xfd7zXZ": lzma.open,
        _ZSTD: _zstd_open,
    }
    for prefix, open_ in opener.items():
        if magic.startswith(prefix):
            try:
                with open_(path, "rb") as src:
                    out = copy_bounded(src, workdir, "unpacked", budget)
            except IngestError:
                raise
            except _DAMAGED as exc:
                raise IngestError(
                    f"{name}: compressed data is damaged or truncated ({exc})",
                    source=name,
                    hint="re-export or re-upload the file",
                ) from exc
            stem = name.rsplit(".", 1)[0] if name.lower().endswith((".gz", ".bz2", ".xz", ".zst")) else name
            return _unpack(stem, out, workdir, checksums, tally, within=(sha, size, budget, depth + 1))
    if magic.startswith(b"PK\x03\x04") and not name.lower().endswith((".xlsx", ".xls")):
        return _unzip(name, path, workdir, (sha, size, budget, depth + 1), checksums, tally)
    if magic.startswith(
        b"PK\x03\x04"
    ):  # a workbook: its reader inflates the parts, so check what they declare
        _workbook_sizes(name, path, budget)
    return [SourceFile(name, path, sha, size)]


def _zstd_open(path: Path, mode: str) -> IO[bytes]:
    """A zstd stream (pyarrow's codec, a dependency already) read in bounded chunks."""
    import pyarrow as pa

    return pa.input_stream(str(path), compression="zstd")  # type: ignore[return-value]


def _declared(budget: Budget, sizes: list[int]) -> None:
    """Refuse an archive whose members declare more than the budget allows, before any is read."""
    total = sum(max(0, n) for n in sizes)
    budget.check(budget.unpacked + total, budget.tally.unpacked + total, declared=True)


def _workbook_sizes(name: str, path: Path, budget: Budget) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            _declared(budget, [i.file_size for i in archive.infolist()])
    except (zipfile.BadZipFile, OSError, ValueError, LookupError) as exc:
        if isinstance(exc, IngestError):
            raise
        raise IngestError(f"{name}: the workbook is damaged (not a readable zip)", source=name) from exc


def _is_junk(member: str) -> bool:
    """Whether an archive member is an OS's file, not data (see :data:`JUNK`)."""
    base = member.rsplit("/", 1)[-1]
    return member.startswith("__MACOSX/") or "/__MACOSX/" in member or base.startswith(JUNK[1:])


def _unzip(
    name: str, path: Path, workdir: Path, within: _Within, checksums: bool, tally: Tally
) -> list[SourceFile]:
    sha, size, budget, _ = within
    try:
        with zipfile.ZipFile(path) as archive:
            if any(n.startswith("xl/") for n in archive.namelist()):
                _declared(budget, [i.file_size for i in archive.infolist()])
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
            # zipfile never reads a member past its declared size: the declared total bounds it all
            _declared(budget, [i.file_size for i in members])
            out = []
            for info in members:
                with archive.open(info) as src:
                    target = copy_bounded(src, workdir, "unzipped", budget)
                member = f"{name}/{info.filename}"
                out.extend(_unpack(member, target, workdir, checksums, tally, within=within))
            return out
    except IngestError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError, LookupError) as exc:
        # RuntimeError: a member needs a password, or its compression method is one zipfile lacks
        # (NotImplementedError); ValueError: a member name that is not the UTF-8 its flag says;
        # LookupError: headers that contradict each other
        raise IngestError(f"{name}: the zip archive is damaged or unsupported ({exc})", source=name) from exc


def _untar(
    name: str, path: Path, workdir: Path, within: _Within, checksums: bool, tally: Tally
) -> list[SourceFile]:
    """A tar archive's regular files (links, devices and folders are passed over)."""
    budget = within[2]
    try:
        with tarfile.open(path, mode="r:") as archive:
            members = [m for m in archive.getmembers() if m.isfile() and m.size > 0 and not _is_junk(m.name)]
            if not members:
                raise IngestError(
                    f"{name}: the tar archive holds no data files", source=name, hint="check the archive"
                )
            _declared(budget, [m.size for m in members])
            out = []
            for m in members:
                src = archive.extractfile(m)
                if src is None:
                    continue
                with src:
                    target = copy_bounded(src, workdir, "untarred", budget)
                out.extend(_unpack(f"{name}/{m.name}", target, workdir, checksums, tally, within=within))
            return out
    except IngestError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise IngestError(f"{name}: the tar archive is damaged or unsupported ({exc})", source=name) from exc
