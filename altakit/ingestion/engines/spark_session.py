"""Spark sessions for the Spark engine: local mode, a standalone cluster, or Spark Connect.

One session per Python process at a time, made on first use with the settings the engine
relies on (Arrow transfers, UTC); a Spark Connect server that stops answering is a typed
:class:`~altakit.errors.ServiceUnavailable` after bounded retries, never a ten-minute hang.

Example:
    >>> spark = session("local[2]")  # doctest: +SKIP
    >>> stop_all()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

from altakit import faults
from altakit.errors import MissingDependency, ServiceUnavailable

__all__ = ["CONNECT_RETRY", "session", "stop_all", "unavailable"]

_lock = threading.Lock()
_sessions: dict[str, Any] = {}
_owned_env: set[str] = set()  # environment variables pyspark set for a session of ours
#: Spark Connect retries (pyspark's ``DefaultPolicy`` fields): about 8 s before a call gives up,
#: instead of pyspark's default of at least 10 minutes, so a dead server is an error, not a hang.
CONNECT_RETRY: dict[str, Any] = {
    "max_retries": 5,
    "backoff_multiplier": 2.0,
    "initial_backoff": 250,
    "max_backoff": 4000,
}


def session(master: str | None = None) -> Any:
    """The Spark session for ``master`` (``local[2]`` by default; ``sc://…`` for Spark Connect), made once.

    A Python process holds one Spark session at a time (pyspark refuses a Spark
    Connect session next to a local one), so asking for another master stops the
    session this module started before.

    Raises:
        ServiceUnavailable: A Spark Connect server does not answer (after about 8 s of retries).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise MissingDependency(
            "the Spark engine needs pyspark", extra="spark", hint="pip install 'altakit[spark]'"
        ) from exc
    master = master or "local[2]"
    with _lock:
        if master in _sessions:
            return _sessions[master]
        _stop_locked()
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        settings = {
            # crash tests' fault points reach the tasks' Python workers (on any executor)
            **{
                f"spark.executorEnv.{k}": os.environ[k]
                for k in (faults.ENV, faults.ONCE_ENV, faults.HOLD_ENV)
                if k in os.environ
            },
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": "4",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.sql.execution.pythonUDF.arrow.enabled": "true",
        }
        if master.startswith("sc://"):
            _sessions[master] = _connect(master, settings)
            return _sessions[master]
        builder = SparkSession.builder.appName("altakit-ingest").master(master)
        # static settings, which a Spark Connect server has its own of
        local = {
            "spark.ui.enabled": "false",
            "spark.driver.memory": "1g",
            "spark.ui.showConsoleProgress": "false",
        }
        for key, value in (settings | local).items():
            builder = builder.config(key, value)
        spark = _sessions[master] = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return spark


def _connect(master: str, settings: dict[str, str]) -> Any:
    """A Spark Connect session with bounded retries; setting ``settings`` is its first call to the server."""
    from pyspark.sql import SparkSession
    from pyspark.sql.connect.client.retries import DefaultPolicy

    if "SPARK_CONNECT_MODE_ENABLED" not in os.environ:  # pyspark sets it for good: unset it on stop
        _owned_env.add("SPARK_CONNECT_MODE_ENABLED")
    spark = SparkSession.builder.remote(master).getOrCreate()  # no options: applying one is a call
    spark.client.set_retry_policies([DefaultPolicy(**CONNECT_RETRY)])
    try:
        with unavailable(master):
            for key, value in settings.items():
                spark.conf.set(key, value)
    except BaseException:
        spark.stop()
        _unset_owned_env()
        raise
    return spark


def _unset_owned_env() -> None:
    for name in _owned_env:
        os.environ.pop(name, None)
    _owned_env.clear()


@contextlib.contextmanager
def unavailable(master: str) -> Iterator[None]:
    """Turn a Spark Connect server that does not answer (after retries) into :class:`ServiceUnavailable`."""
    try:
        yield
    except Exception as exc:
        code = getattr(exc, "getGrpcStatusCode", lambda: None)()  # pyspark's SparkConnectGrpcException
        if getattr(code, "name", None) != "UNAVAILABLE":
            raise
        found = re.search(r'details = "([^"]*)"', str(exc))
        raise ServiceUnavailable(
            f"the Spark Connect server {master} cannot be reached: {found[1] if found else 'unavailable'}",
            url=master,
            hint="start the server (or check the sc:// host and port in spark_master), then re-run",
        ) from exc


def stop_all() -> None:
    """Stop the sessions this module started."""
    with _lock:
        _stop_locked()


def _stop_locked() -> None:
    for spark in _sessions.values():
        spark.stop()
    _sessions.clear()
    _unset_owned_env()  # so a local session can start after a Connect one
