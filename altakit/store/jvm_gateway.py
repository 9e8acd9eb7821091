"""Launch and own a real JVM that exposes Hadoop's ``FileSystem`` API through py4j.

A :class:`JvmGateway` starts ``py4j.GatewayServer`` in a child ``java`` process on
an ephemeral port with an auth token. Readiness comes from py4j's launcher
handshake (the JVM prints its port and token once its server socket listens), so
there is no fixed port and no sleep. The classpath is the jars that ship with
pyspark (Hadoop's client API and runtime) plus any extra Hadoop-compatible jars
given as ``jars=`` or in ``ALTAKIT_JVM_JARS`` (``os.pathsep``-separated).

The JVM exits when :meth:`JvmGateway.close` runs, at interpreter exit (atexit),
and, because it is started with ``--die-on-broken-pipe``, when this Python
process dies.

Example:
    >>> gw = JvmGateway().start()  # doctest: +SKIP
    >>> gw.jvm.java.lang.System.getProperty("java.version")  # doctest: +SKIP
    '17.0.15'
    >>> gw.close()  # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from altakit.errors import (
    AccessDenied,
    AltakitError,
    ConfigError,
    MissingDependency,
    NotFound,
    StoreUnavailable,
)

JARS_ENV = "ALTAKIT_JVM_JARS"
#: Startup-friendly defaults: one GC thread, no C2 warm-up for a process that mostly copies bytes.
DEFAULT_JAVA_OPTIONS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true")
_INSTALL_HINT = "pip install 'altakit[jvm]'"
_JAVA_HINT = "install Java 17 (apt-get install openjdk-17-jre-headless), or set JAVA_HOME or java_path="


def _import_py4j() -> Any:
    try:
        from py4j import java_gateway
    except ImportError as exc:
        raise MissingDependency("the 'jvm' store needs py4j", extra="jvm", hint=_INSTALL_HINT) from exc
    return java_gateway


def spark_jars_dir() -> Path:
    """The folder of jars that ships with pyspark (without importing pyspark)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency(
            "the 'jvm' store needs pyspark's jars (Hadoop's FileSystem API)", extra="jvm", hint=_INSTALL_HINT
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "jars"
    if not folder.is_dir():
        raise MissingDependency(f"pyspark has no jars folder at {folder}", extra="jvm", hint=_INSTALL_HINT)
    return folder


def extra_jars(jars: Sequence[str | os.PathLike] = ()) -> list[str]:
    """Classpath entries for ``jars`` plus ``$ALTAKIT_JVM_JARS``; each must exist.

    A folder adds every jar in it (``folder/*``).

    Raises:
        ConfigError: A listed jar or folder does not exist.
    """
    if isinstance(jars, str | os.PathLike):
        jars = [jars]
    listed = [*jars, *filter(None, os.environ.get(JARS_ENV, "").split(os.pathsep))]
    out = []
    for entry in listed:
        path = Path(entry).expanduser()
        if path.is_dir():
            out.append(str(path.resolve() / "*"))
        elif path.is_file():
            out.append(str(path.resolve()))
        else:
            raise ConfigError(
                f"extra JVM jar {str(entry)!r} does not exist",
                jar=str(entry),
                hint=f"fix the path in jars= or ${JARS_ENV} ({os.pathsep}-separated jar files or folders)",
            )
    return out


def find_java(java_path: str | os.PathLike | None = None) -> str:
    """The ``java`` executable: ``java_path``, else ``$JAVA_HOME/bin/java``, else ``java`` on PATH.

    Raises:
        StoreUnavailable: No Java runtime is found.
    """
    if java_path is not None:
        candidate = shutil.which(str(java_path))
        if candidate is None:
            raise StoreUnavailable(f"java_path {str(java_path)!r} is not an executable", hint=_JAVA_HINT)
        return candidate
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    found = shutil.which("java")
    if found is None:
        raise StoreUnavailable("no Java runtime found for the JVM gateway", hint=_JAVA_HINT)
    return found


class JvmGateway:
    """One JVM running ``py4j.GatewayServer`` with Hadoop on its classpath.

    Args:
        jars: Extra Hadoop-compatible jars or folders of jars (``$ALTAKIT_JVM_JARS`` adds more).
        java_path: The ``java`` executable (default: ``$JAVA_HOME/bin/java`` or ``java`` on PATH).
        java_options: JVM options (default :data:`DEFAULT_JAVA_OPTIONS`).

    Several stores may share one gateway (``open_store(url, gateway=gw)``); the
    one who created it closes it.

    Example:
        >>> with JvmGateway() as gw:  # doctest: +SKIP
        ...     gw.jvm.org.apache.hadoop.util.VersionInfo.getVersion()
        '3.5.0'
    """

    def __init__(
        self,
        jars: Sequence[str | os.PathLike] = (),
        *,
        java_path: str | os.PathLike | None = None,
        java_options: Sequence[str] | None = None,
    ) -> None:
        self.jars = tuple(str(j) for j in ([jars] if isinstance(jars, str | os.PathLike) else jars))
        self.java_path = None if java_path is None else str(java_path)
        self.java_options = tuple(DEFAULT_JAVA_OPTIONS if java_options is None else java_options)
        self.classpath = [*extra_jars(self.jars)]  # validated now: a bad jar fails at open
        self._lock = threading.Lock()
        self._gateway: Any = None
        self._proc: subprocess.Popen | None = None
        self._stderr: Any = None
        self._pid = 0
        self.port = 0
        self.auth_token = ""

    # ------------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        """True while this process's JVM is up."""
        return self._gateway is not None and self._pid == os.getpid() and self._proc is not None

    @property
    def inherited(self) -> bool:
        """True in a forked child: the JVM belongs to the parent process."""
        return bool(self._pid) and self._pid != os.getpid()

    def start(self) -> JvmGateway:
        """Launch the JVM unless it runs already; returns ``self``.

        Raises:
            MissingDependency: py4j or pyspark is not installed.
            StoreUnavailable: Java is missing or the JVM fails to start (with its stderr).
        """
        with self._lock:
            if self.running:
                return self
            if self._pid and self._pid != os.getpid():  # inherited over fork: the parent's JVM
                self._gateway = self._proc = self._stderr = None
            self._launch()
            return self

    def _launch(self) -> None:
        java_gateway = _import_py4j()
        jars_dir = spark_jars_dir()
        py4j_jars = sorted(jars_dir.glob("py4j-*.jar"))
        jarpath = str(py4j_jars[-1]) if py4j_jars else java_gateway.find_jar_path()
        java = find_java(self.java_path)
        classpath = os.pathsep.join([str(jars_dir / "*"), *self.classpath])
        self._stderr = tempfile.TemporaryFile(prefix="altakit-jvm-stderr-")  # noqa: SIM115 (lives with the JVM)
        try:
            port, token, proc = java_gateway.launch_gateway(
                port=0,
                jarpath=jarpath,
                classpath=classpath,
                javaopts=list(self.java_options),
                die_on_exit=True,
                enable_auth=True,
                java_path=java,
                redirect_stderr=self._stderr,
                return_proc=True,
            )
        except (OSError, ValueError, java_gateway.Py4JError) as exc:
            detail = self._stderr_tail() or str(exc)
            self._stderr.close()
            raise StoreUnavailable(
                f"the JVM gateway failed to start: {detail}", java=java, hint=_JAVA_HINT
            ) from exc
        if isinstance(token, bytes):
            token = token.decode("ascii")
        params = java_gateway.GatewayParameters(
            port=port, auth_token=token, auto_convert=False, auto_close=True, eager_load=True
        )
        try:
            self._gateway = java_gateway.JavaGateway(gateway_parameters=params)
        except Exception as exc:
            proc.kill()
            proc.wait()
            raise StoreUnavailable(f"cannot connect to the JVM gateway: {exc}", hint=_JAVA_HINT) from exc
        self._proc, self.port, self.auth_token, self._pid = proc, port, token, os.getpid()
        atexit.register(self.close)

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""
        return text[-2000:]

    def close(self) -> None:
        """Shut the JVM down and wait for it to exit (idempotent)."""
        with self._lock:
            gateway, proc, stderr = self._gateway, self._proc, self._stderr
            self._gateway = self._proc = self._stderr = None
            if self._pid != os.getpid():  # never touch a parent's JVM after fork
                return
            atexit.unregister(self.close)
        if gateway is not None:
            with contextlib.suppress(Exception):  # the JVM may be gone already
                gateway.shutdown()
        if proc is not None:
            try:
                if proc.stdin:
                    proc.stdin.close()  # --die-on-broken-pipe: the JVM exits
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            except OSError:
                pass
        if stderr is not None:
            stderr.close()

    @property
    def pid(self) -> int | None:
        """The JVM's process id, or ``None`` when it is not running."""
        return self._proc.pid if self.running and self._proc else None

    @property
    def jvm(self) -> Any:
        """py4j's view of the JVM (``gw.jvm.java.lang.System`` …); starts the JVM if needed."""
        return self.gateway.jvm

    @property
    def gateway(self) -> Any:
        """The py4j ``JavaGateway``; starts the JVM if needed."""
        if not self.running:
            self.start()
        return self._gateway

    def stderr_tail(self) -> str:
        """The end of what the JVM wrote to stderr (for error messages)."""
        with self._lock:
            return self._stderr_tail() if self._stderr is not None else ""

    def __enter__(self) -> JvmGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("a JvmGateway holds a process and cannot be pickled; pickle the store instead")

    def __repr__(self) -> str:
        state = f"pid={self.pid}, port={self.port}" if self.running else "stopped"
        return f"JvmGateway({state}, jars={list(self.jars)!r})"


# ---------------------------------------------------------------------- errors
_NOT_FOUND = ("java.io.FileNotFoundException", "java.nio.file.NoSuchFileException")
_DENIED = (
    "org.apache.hadoop.security.AccessControlException",
    "java.nio.file.AccessDeniedException",
    "org.apache.hadoop.fs.PathAccessDeniedException",
    "org.apache.hadoop.fs.PathPermissionException",
)
_CONFIG = (
    "org.apache.hadoop.fs.UnsupportedFileSystemException",
    "java.lang.IllegalArgumentException",
    "java.net.URISyntaxException",
)


def java_class(exc: BaseException) -> str:
    """The Java class name of a ``Py4JJavaError``'s exception, or ``""``."""
    jexc = getattr(exc, "java_exception", None)
    if jexc is None:
        return ""
    try:
        return str(jexc.getClass().getName())
    except Exception:
        return ""


def java_error(exc: BaseException, what: str, **fields: Any) -> AltakitError:
    """Map a py4j error to the matching altakit error (``raise java_error(e, …) from e``).

    Args:
        exc: A ``Py4JJavaError`` (Java exception) or other ``Py4JError`` (gateway gone).
        what: What was being done, e.g. ``"reading 'a.csv'"``.
        **fields: Structured fields for the error (``name``, ``url`` …).
    """
    name = java_class(exc)
    if not name:
        return StoreUnavailable(
            f"{what}: the JVM gateway is not reachable ({type(exc).__name__}: {exc})",
            hint="the JVM exited or was closed; open the store again",
            **fields,
        )
    try:
        message = str(exc.java_exception.getMessage())  # type: ignore[attr-defined]
    except Exception:
        message = str(exc).splitlines()[0]
    text = f"{what}: {name}: {message}"
    if name in _NOT_FOUND and "Permission denied" in message:
        return AccessDenied(text, java_class=name, hint="check the filesystem permissions", **fields)
    if name in _NOT_FOUND:
        return NotFound(text, java_class=name, **fields)
    if name in _DENIED:
        return AccessDenied(
            text, java_class=name, hint="check the Hadoop credentials and permissions", **fields
        )
    if name in _CONFIG:
        return ConfigError(
            text,
            java_class=name,
            hint=f"check the URL, or add the filesystem's jar with jars= or ${JARS_ENV}",
        )
    return StoreUnavailable(text, java_class=name, hint="see the Java message above", **fields)
