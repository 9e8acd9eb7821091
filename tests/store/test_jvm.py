"""The JVM gateway store: a real JVM, its lifecycle, the byte hand-off, and its faults.

The shared contract suite runs against ``jvm_store`` (``test_contract.py -k jvm``);
these tests cover what only this backend has. Tests that need a JVM of their own
(lifecycle, pickling, exit) start one each; the rest share the session's gateway.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from fixtures.jvm import jvm_parts_ok
from fixtures.parts import need

import altakit
from altakit.errors import AccessDenied, ConfigError, NotFound, StoreUnavailable

MiB = 1 << 20
pytestmark = pytest.mark.jvm


@pytest.fixture(scope="module", autouse=True)
def _parts():
    ok, why = jvm_parts_ok()
    need(ok, why)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def _wait_gone(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _probe_jar(folder: Path) -> Path:
    """A jar holding one resource, to see whether a jar reached the JVM's classpath."""
    jar = folder / "altakit-probe.jar"
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        z.writestr("altakit/probe.txt", "hello from the probe jar")
    return jar


# ------------------------------------------------------------------ lifecycle
def test_own_jvm_runs_with_jars_random_port_and_auth(tmp_path, jvm_gateway):
    jar = _probe_jar(tmp_path)
    store = altakit.open_store(f"jvm+{(tmp_path / 'lake').as_uri()}", jars=[jar])
    gw = store.gateway
    pid = gw.pid
    assert pid and _alive(pid)
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"py4j.GatewayServer" in cmdline and b"--enable-auth" in cmdline
    assert b"--die-on-broken-pipe" in cmdline
    assert cmdline[-2] == b"0", "the port must be ephemeral (0), never a fixed one"
    assert gw.port not in (0, 25333) and gw.port != jvm_gateway.port
    assert len(gw.auth_token) >= 32
    # the extra jar is on the classpath
    loader = gw.jvm.java.lang.ClassLoader
    assert loader.getSystemResource("altakit/probe.txt") is not None
    assert jvm_gateway.jvm.java.lang.ClassLoader.getSystemResource("altakit/probe.txt") is None
    store.put("a.txt", b"x")
    store.close()
    assert _wait_gone(pid), "the JVM must exit when its store closes"
    assert store.gateway.pid is None


def test_auth_token_is_required(jvm_gateway):
    from py4j.java_gateway import GatewayParameters, JavaGateway
    from py4j.protocol import Py4JError

    intruder = JavaGateway(gateway_parameters=GatewayParameters(port=jvm_gateway.port, auth_token="wrong"))
    try:
        with pytest.raises(Py4JError):
            intruder.jvm.java.lang.System.getProperty("user.name")
    finally:
        intruder.close()
    no_token = JavaGateway(gateway_parameters=GatewayParameters(port=jvm_gateway.port))
    try:
        with pytest.raises(Py4JError):
            no_token.jvm.java.lang.System.getProperty("user.name")
    finally:
        no_token.close()
    assert jvm_gateway.jvm.java.lang.System.getProperty("java.version")


def test_pickled_store_starts_its_own_jvm(jvm_store):
    v = jvm_store.put("p.bin", b"pickled")
    blob = pickle.dumps(jvm_store)
    assert b"py4j" not in blob and jvm_store.gateway.auth_token.encode() not in blob
    clone = pickle.loads(blob)
    try:
        assert clone.gateway.pid is None, "the gateway is created lazily"
        assert clone.get("p.bin", version=v.id) == b"pickled"
        assert clone.gateway.pid not in (None, jvm_store.gateway.pid)
        clone.put("p.bin", b"from the clone")
    finally:
        pid = clone.gateway.pid
        clone.close()
    assert _wait_gone(pid)
    assert jvm_store.get("p.bin") == b"from the clone", "the shared JVM is untouched"
    assert jvm_store.gateway.running


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_jvm_dies_with_python(tmp_path, how):
    """atexit closes the JVM on a normal exit; --die-on-broken-pipe when Python is killed."""
    script = textwrap.dedent(
        f"""
        import os, sys, time, altakit
        store = altakit.open_store({f"jvm+{(tmp_path / 'lake').as_uri()}"!r})
        store.put("a", b"1")
        print(store.gateway.pid, flush=True)
        if {how!r} == "kill":
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(proc.stdout.readline())
        assert _alive(pid)
        if how == "kill":
            proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) in (0, -signal.SIGKILL)
        assert _wait_gone(pid), f"the JVM outlived its Python process ({how})"
    finally:
        proc.kill()
        proc.wait()


def test_closed_store_reopens_and_dead_jvm_is_store_unavailable(tmp_path):
    store = altakit.open_store(f"jvm+{(tmp_path / 'lake').as_uri()}")
    try:
        store.put("k", b"v")
        first = store.gateway.pid
        store.close()
        assert store.get("k") == b"v", "a closed store reopens lazily"
        second = store.gateway.pid
        assert second != first
        os.kill(second, signal.SIGKILL)
        assert _wait_gone(second)
        with pytest.raises(StoreUnavailable) as err:
            store.get("k")
        assert err.value.hint
    finally:
        store.close()


# ------------------------------------------------------------------ bytes hand-off
def test_large_object_round_trip_and_ranges(jvm_store):
    data = os.urandom(17 * MiB + 12345)
    v = jvm_store.put("big/blob.bin", data)
    assert jvm_store.get("big/blob.bin") == data
    for start, stop in [
        (0, 10),
        (8 * MiB - 5, 8 * MiB + 5),
        (16 * MiB, 17 * MiB + 12345),
        (17 * MiB, 18 * MiB),
    ]:
        assert jvm_store._read_range(v.name, start, stop) == data[start:stop]
    assert jvm_store._read_range(v.name, len(data) + 10, len(data) + 20) == b""
    with jvm_store.open("big/blob.bin") as f:
        f.seek(9 * MiB + 7)
        assert f.read(3 * MiB) == data[9 * MiB + 7 : 12 * MiB + 7]
        f.seek(-100, os.SEEK_END)
        assert f.read() == data[-100:]
    with jvm_store.open("big/blob.bin") as f:
        assert f.read() == data
    copy = jvm_store.copy("big/blob.bin", "big/copy.bin")
    assert jvm_store.get("big/copy.bin", version=copy.id) == data


def test_hand_off_files_are_removed(jvm_gateway, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    store = altakit.open_store(f"jvm+{(tmp_path / 'lake').as_uri()}", gateway=jvm_gateway, spool_dir=spool)
    store.put("a.bin", os.urandom(3 * MiB))
    with store.open("a.bin") as f:
        f.read(10)
        assert len(list(spool.iterdir())) == 1, "one hand-off file per open stream"
    store.get("a.bin")
    assert list(spool.iterdir()) == []
    assert not any((tmp_path / "lake" / ".altakit-tmp").iterdir())
    assert not list((tmp_path / "lake").rglob("*.crc")), "no Hadoop checksum side files"


def test_layout_nests_versions_per_key(jvm_store, tmp_path):
    v = jvm_store.put("dir/sub/odd name:#%.txt", b"1")
    root = Path(jvm_store.root)
    assert (root / "dir" / "sub" / "odd name:#%.txt✹" / v.name.split("✹")[1]).is_file()
    assert [x.key for x in jvm_store.list("dir/")] == ["dir/sub/odd name:#%.txt"]
    assert jvm_store.list("dir/", recursive=False) == []


# ------------------------------------------------------------------ faults
@pytest.mark.parametrize("url", ["jvm+", "jvm+relative/path", "jvm+file:relative", "jvm+/no/scheme"])
def test_bad_urls(url):
    with pytest.raises(ConfigError) as err:
        altakit.open_store(url)
    assert err.value.hint


def test_unknown_hadoop_scheme(jvm_gateway):
    with pytest.raises(ConfigError) as err:
        altakit.open_store("jvm+nosuchfs://host/path", gateway=jvm_gateway)
    assert "nosuchfs" in str(err.value) and err.value.fields["java_class"].endswith("Exception")


def test_missing_jar_is_a_config_error(tmp_path, monkeypatch):
    with pytest.raises(ConfigError) as err:
        altakit.open_store(f"jvm+{tmp_path.as_uri()}", jars=[tmp_path / "nope.jar"])
    assert err.value.fields["jar"].endswith("nope.jar") and "ALTAKIT_JVM_JARS" in err.value.hint
    monkeypatch.setenv("ALTAKIT_JVM_JARS", os.pathsep.join([str(_probe_jar(tmp_path)), "/no/such.jar"]))
    with pytest.raises(ConfigError) as err:
        altakit.open_store(f"jvm+{tmp_path.as_uri()}")
    assert err.value.fields["jar"] == "/no/such.jar"


def test_java_missing_or_failing(tmp_path, monkeypatch):
    with pytest.raises(StoreUnavailable) as err:
        altakit.open_store(f"jvm+{tmp_path.as_uri()}", java_path=tmp_path / "no-java")
    assert "Java" in err.value.hint
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(StoreUnavailable):
        altakit.open_store(f"jvm+{tmp_path.as_uri()}")
    monkeypatch.undo()
    with pytest.raises(StoreUnavailable) as err:
        altakit.open_store(f"jvm+{tmp_path.as_uri()}", java_options=["-XX:+NoSuchAltakitOption"])
    assert "NoSuchAltakitOption" in str(err.value), "the JVM's own message is shown"


def test_vanished_object_is_not_found(jvm_store):
    v = jvm_store.put("gone.txt", b"x")
    (Path(jvm_store.root) / "gone.txt✹" / v.name.split("✹")[1]).unlink()
    with pytest.raises(NotFound) as err:
        jvm_store._read_range(v.name, 0, 1)
    assert "FileNotFoundException" in str(err.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_permission_denied_is_access_denied(jvm_store):
    v = jvm_store.put("locked.txt", b"x")
    path = Path(jvm_store.root) / "locked.txt✹" / v.name.split("✹")[1]
    path.chmod(0)
    try:
        with pytest.raises(AccessDenied):
            jvm_store.get("locked.txt")
    finally:
        path.chmod(0o644)


def test_shared_gateway_options_conflict(jvm_gateway, tmp_path):
    with pytest.raises(ConfigError):
        altakit.open_store(f"jvm+{tmp_path.as_uri()}", gateway=jvm_gateway, java_path="java")
