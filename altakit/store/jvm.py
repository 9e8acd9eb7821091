"""A versioned store on any Hadoop-compatible filesystem, driven through a real JVM.

URLs are ``jvm+<hadoop uri>``: ``jvm+file:///data``, ``jvm+hdfs://namenode/path``,
``jvm+s3a://bucket/prefix`` (with the filesystem's jar in ``jars=``). A
:class:`~altakit.store.jvm_gateway.JvmGateway` runs Hadoop's ``FileSystem`` API in a
child JVM; py4j carries only calls and names. Bulk bytes go through a local
hand-off file (in ``/dev/shm`` when present):

- a write spools the bytes to a local file (a ``pathlib.Path`` is used as is), the
  JVM ``copyFromLocalFile``-s it to ``<root>/.altakit-tmp/<temp name>`` and renames it
  into place, so a version appears whole or not at all;
- a range read opens an ``FSDataInputStream``, seeks, and copies the bytes into the
  hand-off file with ``IOUtils.copyBytes`` (1 MiB buffer); Python reads that file.

Layout matches the local store: ``<root>/<key>✹/<id>~<size>~<checksum>~<writer>``.

Example:
    >>> import altakit
    >>> store = altakit.open_store("jvm+file:///tmp/lake")  # doctest: +SKIP
    >>> store.put("raw/a.csv", b"x,y\\n1,2\\n").size  # doctest: +SKIP
    8
    >>> store.close()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from altakit import faults
from altakit.errors import AccessDenied, ConfigError, StoreUnavailable
from altakit.store.base import Store
from altakit.store.credentials import check_store_url, mask_url
from altakit.store.gc import TempEntry, temp_name
from altakit.store.jvm_gateway import JvmGateway, java_class, java_error
from altakit.store.names import SEP
from altakit.store.nested import key_limit, walk_nested
from altakit.store.readers import SeekableReader
from altakit.store.sources import Source

TMP = ".altakit-tmp"
#: Where a crash test may kill a write (:mod:`altakit.faults`): the temp file is whole, not yet renamed.
FAULT_POINTS = ("jvm.copied",)
#: Bytes fetched per hand-off by a stream from :meth:`JvmStore.open`.
WINDOW = 8 * 1024 * 1024
#: Buffer of the JVM-side copy loop (measured: 1 MiB beats 4 KiB by ~5×, larger gains nothing).
COPY_BUFFER = 1024 * 1024
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
#: The longest path (bytes, closing NUL counted) of filesystems whose limit is known: a local disk's
#: ``PATH_MAX``, HDFS's ``MAX_PATH_LENGTH``, an object store's 1024-byte key.
_PATH_MAX = {"file": 4096, "hdfs": 8000, "viewfs": 8000, "webhdfs": 8000, "s3a": 1025, "gs": 1025}
_SHM = "/dev/shm"


def parse_jvm_url(url: str) -> tuple[str, str, str]:
    """Split ``jvm+scheme://authority/path`` into ``(scheme, authority, root path)``.

    Raises:
        ConfigError: Not a ``jvm+`` URL, or no Hadoop URI after ``jvm+``.

    Example:
        >>> parse_jvm_url("jvm+hdfs://nn:8020/lake/")
        ('hdfs', 'nn:8020', '/lake')
    """
    hint = "use jvm+<hadoop uri>, e.g. jvm+file:///data or jvm+hdfs://namenode/path"
    if not isinstance(url, str) or not url.startswith("jvm+"):
        raise ConfigError(f"not a jvm store URL: {url!r}", url=url, hint=hint)
    check_store_url(url, "jvm")  # credentials refused, never echoed
    inner = url[4:]
    parts = urlsplit(inner)
    if (
        not inner
        or not parts.scheme
        or not _SCHEME_RE.match(parts.scheme)
        or not inner.startswith(f"{parts.scheme}:/")
    ):
        raise ConfigError(f"jvm store URL {url!r} holds no Hadoop URI", url=url, hint=hint)
    if parts.query or parts.fragment:
        raise ConfigError(f"jvm store URL {url!r} has a query or fragment", url=url, hint=hint)
    path = unquote(parts.path).rstrip("/")
    if path and not path.startswith("/"):
        raise ConfigError(f"jvm store URL {url!r} has a relative path", url=url, hint=hint)
    return parts.scheme.lower(), parts.netloc, path


def _spool_dir() -> str:
    return _SHM if os.access(_SHM, os.W_OK) else tempfile.gettempdir()


class JvmStore(Store):
    """A store on a Hadoop ``FileSystem`` reached through a py4j JVM gateway.

    Args:
        uri: The Hadoop URI of the store's root, e.g. ``"hdfs://namenode/lake"``.
        jars: Extra Hadoop-compatible jars (``$ALTAKIT_JVM_JARS`` adds more).
        java_path: The ``java`` executable (default ``$JAVA_HOME/bin/java`` or PATH).
        java_options: JVM options (default: a small, fast-starting JVM).
        gateway: A running :class:`JvmGateway` to share; the store then never stops it.
        hadoop_conf: Extra Hadoop settings (``{"fs.s3a.endpoint": …}``).
        spool_dir: Local folder for hand-off files (default ``/dev/shm`` or the temp dir; for a
            ``file://`` root, writes then spool into ``<root>/.altakit-tmp/`` and need no JVM copy).
        **options: Passed to :class:`~altakit.store.base.Store` (``writer``).

    The JVM starts on first use and stops on :meth:`close`; a pickled store starts
    its own JVM in the process that unpickles it.
    """

    def __init__(
        self,
        uri: str,
        *,
        jars: Sequence[str | os.PathLike] = (),
        java_path: str | os.PathLike | None = None,
        java_options: Sequence[str] | None = None,
        gateway: JvmGateway | None = None,
        hadoop_conf: Mapping[str, str] | None = None,
        spool_dir: str | os.PathLike | None = None,
        **options: Any,
    ) -> None:
        self.scheme, self.authority, self.root = parse_jvm_url(f"jvm+{uri}")
        base = f"{self.scheme}://{self.authority}{self.root}"
        super().__init__(f"jvm+{base}", **options)
        if gateway is not None and (jars or java_path or java_options):
            raise ConfigError(
                "pass either gateway= or jars=/java_path=/java_options=, not both",
                hint="the shared gateway's own settings apply",
            )
        if gateway is not None and not isinstance(gateway, JvmGateway):
            raise ConfigError(f"gateway= must be a JvmGateway, not {type(gateway).__name__}")
        self._base = base
        self._shared = gateway
        # A gateway owned by this store: jars checked now, JVM started lazily.
        self._own = None if gateway else JvmGateway(jars, java_path=java_path, java_options=java_options)
        self.hadoop_conf = dict(hadoop_conf or {})
        self.spool_dir = str(spool_dir) if spool_dir else _spool_dir()
        self._lock = threading.Lock()
        self._fs: Any = None
        self._pid = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        jars: Sequence[str | os.PathLike] = (),
        java_path: str | os.PathLike | None = None,
        **options: Any,
    ) -> JvmStore:
        """Open ``jvm+<hadoop uri>``; starts the JVM now so a broken setup fails here.

        Raises:
            ConfigError: Malformed URL, missing extra jar, or no Hadoop filesystem for the scheme.
            MissingDependency: py4j or pyspark is not installed.
            StoreUnavailable: Java is missing, the JVM fails to start, or the filesystem is unreachable.
        """
        if not isinstance(url, str) or not url.startswith("jvm+"):
            shown = mask_url(url, user=True) if isinstance(url, str) else url
            raise ConfigError(f"not a jvm store URL: {shown!r}", hint="e.g. jvm+file:///data")
        store = cls(url[4:], jars=jars, java_path=java_path, **options)
        store._connect()
        return store

    # ----------------------------------------------------------------- plumbing
    @property
    def gateway(self) -> JvmGateway:
        """The gateway this store talks through (shared or its own)."""
        return self._shared or self._own  # type: ignore[return-value]

    def _connect(self) -> Any:
        """The Hadoop ``FileSystem``, starting the JVM and opening it on first use."""
        fs = self._fs
        if fs is not None and self._pid == os.getpid() and self.gateway.running:
            return fs
        with self._lock:
            if self._fs is not None and self._pid == os.getpid() and self.gateway.running:
                return self._fs
            self._fs = None
            if self._shared is not None and self._shared.inherited:  # forked worker: a JVM of its own
                gw = self._shared
                self._shared = None
                self._own = JvmGateway(gw.jars, java_path=gw.java_path, java_options=gw.java_options)
            if self._shared is not None and not self._shared.running:
                raise StoreUnavailable(
                    f"the shared JVM gateway of {self.url} is closed", hint="open the store again"
                )
            gw = self.gateway.start()
            jvm = gw.jvm
            hadoop = jvm.org.apache.hadoop
            try:
                conf = hadoop.conf.Configuration()
                conf.setInt("io.file.buffer.size", COPY_BUFFER)
                for key, value in self.hadoop_conf.items():
                    conf.set(str(key), str(value))
                fs = hadoop.fs.FileSystem.newInstance(
                    jvm.java.net.URI(f"{self.scheme}://{self.authority}/"), conf
                )
                fs.setWriteChecksum(False)  # versions carry their own checksum: no .crc side files
                fs.setVerifyChecksum(False)
                self._j = _JavaTypes(gw, hadoop, jvm)
                self._conf = conf
                tmp = self._j.Path(f"{self._base}/{TMP}")
                if not fs.mkdirs(tmp):
                    raise AccessDenied(
                        f"cannot create {self._base}/{TMP}", hint="choose a folder you can write"
                    )
            except Exception as exc:
                if isinstance(exc, AccessDenied):
                    raise
                raise self._error(exc, f"opening {self.url}") from exc
            self._fs, self._pid = fs, os.getpid()
            return fs

    def _key_limit(self) -> int | None:
        """Keys longer than the filesystem's path limit allows under the root are refused up front."""
        path_max = _PATH_MAX.get(self.scheme)
        if path_max is None:
            return None
        if self.scheme == "file":
            with contextlib.suppress(OSError, ValueError):
                path_max = os.pathconf(self.root or "/", "PC_PATH_MAX")
        return key_limit(len(self.root.encode()), path_max)

    def _error(self, exc: BaseException, what: str, **fields: Any) -> BaseException:
        if java_class(exc) or type(exc).__module__.startswith("py4j"):
            return java_error(exc, what, url=self.url, **fields)
        return exc

    def _path(self, name: str) -> Any:
        key, _, rest = name.partition(SEP)
        return self._j.Path(f"{self._base}/{key}{SEP}/{rest}" if rest else f"{self._base}/{name}")

    def _local(self, path: str | os.PathLike) -> Any:
        return self._j.Path(self._j.URI(Path(path).resolve().as_uri()))

    def _spool(self) -> str:
        fd, name = tempfile.mkstemp(prefix="altakit-jvm-", dir=self.spool_dir)
        os.close(fd)
        return name

    def close(self) -> None:
        """Close the filesystem and stop the JVM this store started (a shared gateway stays up)."""
        with self._lock:
            fs, self._fs = self._fs, None
            if fs is not None and self._pid == os.getpid():
                with contextlib.suppress(Exception):  # the JVM may be gone already
                    fs.close()
            if self._own is not None:
                self._own.close()

    def __getstate__(self) -> dict[str, Any]:
        # py4j objects and the process stay behind; the copy starts its own JVM on first use
        gw = self.gateway
        state = {k: v for k, v in self.__dict__.items() if k not in ("_j", "_conf", "_lock", "_fs", "_own")}
        state.update(_shared=None, _pid=0, _gateway_config=(gw.jars, gw.java_path, gw.java_options))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        jars, java_path, java_options = state.pop("_gateway_config")
        self.__dict__.update(state)
        self._own = JvmGateway(jars, java_path=java_path, java_options=java_options)
        self._lock = threading.Lock()
        self._fs = None

    # --------------------------------------------------------------- primitives
    def _write(self, name: str, source: Source) -> None:
        fs = self._connect()
        final = self._path(name)
        tmp = self._j.Path(f"{self._base}/{TMP}/{temp_name()}")
        spooled = None
        try:
            if isinstance(source, Path):
                local = source
            else:
                local = Path(spooled := self._spool())
                with open(local, "wb") as f:
                    f.write(source)
            try:
                fs.copyFromLocalFile(False, True, self._local(local), tmp)
                faults.point("jvm.copied")
                self._rename(fs, tmp, final)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    fs.delete(tmp, False)
                raise self._error(exc, f"writing {name!r}", name=name) from exc
        finally:
            if spooled:
                os.unlink(spooled)

    @staticmethod
    def _rename(fs: Any, tmp: Any, final: Any) -> None:
        """Move a finished temp file to its version name (Hadoop's rename never replaces)."""
        if fs.rename(tmp, final):
            return
        fs.mkdirs(final.getParent())  # the key's first version (or a purge raced us)
        if fs.rename(tmp, final):
            return
        if fs.exists(final):  # names are unique: only a repair or a test rewrites one
            fs.delete(final, False)
            if fs.rename(tmp, final):
                return
        raise StoreUnavailable(f"cannot rename a new version into {final.toString()}")

    def _read_range(self, name: str, start: int, stop: int) -> bytes:
        fs = self._connect()
        if stop <= start:
            return b""
        spooled = self._spool()
        try:
            try:
                stream = fs.open(self._path(name))
            except Exception as exc:
                raise self._error(exc, f"reading {name!r}", name=name) from exc
            try:
                _copy_out(self._j, stream, start, stop - start, spooled, close=True)
            except Exception as exc:
                if java_class(exc) == "java.io.EOFException":  # start is past the end
                    return b""
                raise self._error(exc, f"reading {name!r}", name=name) from exc
            finally:
                _quiet_close(stream)
            with open(spooled, "rb") as f:
                return f.read()
        finally:
            os.unlink(spooled)

    def _open_raw(self, name: str, size: int) -> BinaryIO:
        fs = self._connect()
        try:
            stream = fs.open(self._path(name))
        except Exception as exc:
            raise self._error(exc, f"opening {name!r}", name=name) from exc
        return _JvmReader(self, name, stream, size)  # type: ignore[return-value]

    def _list(self, rel: str) -> list[str]:
        """Names of the entries in folder ``rel`` (``""`` is the root); one bulk string, not one call each."""
        fs = self._connect()
        j = self._j
        try:
            statuses = fs.listStatus(j.Path(f"{self._base}/{rel}"))
            paths = j.FileUtil.stat2Paths(statuses)
            n = len(paths)
            if not n:
                return []
            objects = j.gateway.new_array(j.Object, n)
            j.System.arraycopy(paths, 0, objects, 0, n)  # Path[] → Object[]: py4j matches arrays exactly
            joined = str(j.StringUtils.join(objects, "\x00"))
        except Exception as exc:
            if java_class(exc) == "java.io.FileNotFoundException":
                return []
            raise self._error(exc, f"listing {rel or '/'!r}") from exc
        return sorted(p.rpartition("/")[2] for p in joined.split("\x00"))

    def _names_of(self, key: str) -> Iterator[str]:
        for entry in self._list(f"{key}{SEP}"):
            yield f"{key}{SEP}{entry}"

    def _scan(self, prefix: str, recursive: bool) -> Iterator[str]:
        def folders(folder: str) -> list[str]:
            return [e for e in self._list(folder) if folder or e != TMP]

        return walk_nested(folders, self._names_of, prefix, recursive)

    def _remove(self, name: str) -> None:
        fs = self._connect()
        path = self._path(name)
        try:
            fs.delete(path, False)
        except Exception as exc:
            raise self._error(exc, f"removing {name!r}", name=name) from exc
        try:
            if not self._list(f"{name.partition(SEP)[0]}{SEP}"):
                fs.delete(path.getParent(), False)
        except Exception:  # a writer added a version meanwhile: keep the folder
            pass

    def temp_entries(self) -> Iterator[TempEntry]:
        """The files in the store's temp folder, for :func:`altakit.store.gc.sweep_temp`.

        Example:
            >>> [e.name for e in store.temp_entries()]  # doctest: +SKIP
            []
        """
        fs = self._connect()
        try:
            statuses = list(fs.listStatus(self._j.Path(f"{self._base}/{TMP}")))
        except Exception as exc:
            raise self._error(exc, "listing the temp folder") from exc
        for st in statuses:
            if st.isFile():
                remove = functools.partial(fs.delete, st.getPath(), False)
                mtime = st.getModificationTime() / 1000
                yield TempEntry(str(st.getPath().getName()), int(st.getLen()), mtime, remove)

    def _copy(self, src: str, dst: str) -> None:
        """Copy inside the JVM (``FileUtil.copy``): the bytes never reach Python."""
        fs = self._connect()
        tmp = self._j.Path(f"{self._base}/{TMP}/{temp_name()}")
        final = self._path(dst)
        try:
            self._j.FileUtil.copy(fs, self._path(src), fs, tmp, False, True, self._conf)
            self._rename(fs, tmp, final)
        except Exception as exc:
            with contextlib.suppress(Exception):
                fs.delete(tmp, False)
            raise self._error(exc, f"copying {src!r}", name=src) from exc


class _JavaTypes:
    """Java classes looked up once per JVM (each py4j lookup is a round trip)."""

    def __init__(self, gateway: JvmGateway, hadoop: Any, jvm: Any) -> None:
        self.gateway = gateway.gateway
        self.Path = hadoop.fs.Path
        self.FileUtil = hadoop.fs.FileUtil
        self.IOUtils = hadoop.io.IOUtils
        self.LimitInputStream = hadoop.util.LimitInputStream
        self.FileOutputStream = jvm.java.io.FileOutputStream
        self.URI = jvm.java.net.URI
        self.System = jvm.java.lang.System
        self.Object = jvm.java.lang.Object
        self.StringUtils = jvm.org.apache.commons.lang3.StringUtils


def _copy_out(j: _JavaTypes, stream: Any, start: int, count: int, local: str, *, close: bool) -> None:
    """JVM side of a read: ``count`` bytes from ``start`` of ``stream`` into the local file."""
    stream.seek(start)
    out = j.FileOutputStream(local)
    try:
        j.IOUtils.copyBytes(j.LimitInputStream(stream, count), out, COPY_BUFFER, close)
    finally:
        if not close:
            out.close()


def _quiet_close(stream: Any) -> None:
    with contextlib.suppress(Exception):
        stream.close()


class _JvmReader(SeekableReader):
    """A seekable stream over one open ``FSDataInputStream``, fetched in :data:`WINDOW` hand-offs."""

    def __init__(self, store: JvmStore, name: str, stream: Any, size: int) -> None:
        super().__init__(size)
        self.store, self.name, self.stream = store, name, stream
        self.window = b""
        self.window_at = 0
        self.spooled = store._spool()
        self.fd = os.open(self.spooled, os.O_RDONLY)

    def _fetch(self, start: int, count: int, into: memoryview | None = None) -> bytes | int:
        """Hand ``count`` bytes from ``start`` over; into ``into`` (returns the count) or as bytes."""
        try:
            _copy_out(self.store._j, self.stream, start, count, self.spooled, close=False)
        except Exception as exc:
            if java_class(exc) != "java.io.EOFException":  # EOF: ``start`` is past the end
                raise self.store._error(exc, f"reading {self.name!r}", name=self.name) from exc
            return 0 if into is not None else b""
        if into is not None:
            return os.preadv(self.fd, [into[:count]], 0)
        return os.pread(self.fd, count, 0)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        offset = self.pos - self.window_at
        if 0 <= offset < len(self.window):
            n = min(len(view), len(self.window) - offset)
            view[:n] = self.window[offset : offset + n]
        else:
            self.window = b""  # drop the old window before fetching: one window in memory at a time
            left = self.size - self.pos
            if len(view) >= WINDOW or 0 < left <= len(view):
                n = self._fetch(self.pos, len(view) if left <= 0 else min(len(view), left), view)  # type: ignore[assignment]
            else:
                want = WINDOW if left <= 0 else min(WINDOW, left)
                self.window, self.window_at = self._fetch(self.pos, want), self.pos  # type: ignore[assignment]
                n = min(len(view), len(self.window))
                view[:n] = self.window[:n]
        self.pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            _quiet_close(self.stream)
            os.close(self.fd)
            os.unlink(self.spooled)
            self.window = b""
        super().close()
