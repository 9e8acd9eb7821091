"""`altakit store …` and `altakit catalog …`: a few runs of the real console script, the rest in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import altakit
from altakit.catalog import Catalog, catalog_of
from altakit.cli import app
from altakit.errors import ConfigError, InvalidKey, NotFound

BIN = Path(sys.executable).parent / "altakit"
runner = CliRunner()


def altakit_bin(
    *args: str, env: dict | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], capture_output=True, env=env, input=stdin, timeout=60)


def invoke(*args: str, stdin: bytes | None = None):
    return runner.invoke(app, list(args), input=stdin, catch_exceptions=True)


@pytest.fixture
def filled(tmp_path) -> tuple[str, dict[str, str]]:
    """A store with a few keys, one of them in two versions and one deleted."""
    store = altakit.open_store(tmp_path / "store")
    ids = {
        "v1": store.put("raw/day1.csv", b"t,v\n1,2\n").id,
        "v2": store.put("raw/day1.csv", b"t,v\n1,2\n3,4\n").id,
    }
    store.put("raw/deep/day2.csv", b"x")
    store.put("raw/notes.txt", b"hello")
    store.put("gone.txt", b"bye")
    store.delete("gone.txt")
    catalog_of(store).register("dataset", "sensors", {"rows": 2})
    return str(tmp_path / "store"), ids


def test_console_script_round_trips_bytes_and_reports_errors(tmp_path) -> None:
    store = str(tmp_path / "store")
    blob = bytes(range(256)) * 1000  # binary, not text: stdout must pass it through untouched
    (tmp_path / "blob.bin").write_bytes(blob)

    put = altakit_bin("store", "put", store, "bin/blob.bin", str(tmp_path / "blob.bin"))
    assert put.returncode == 0, put.stderr
    vid = put.stdout.decode().strip()
    assert altakit.open_store(store).versions("bin/blob.bin")[0].id == vid

    got = altakit_bin("store", "cat", store, "bin/blob.bin", "--version", vid)
    assert got.returncode == 0 and got.stdout == blob

    bad = altakit_bin("store", "cat", store, "bin/missing.bin")
    assert bad.returncode == 1 and bad.stdout == b""
    err = bad.stderr.decode()
    assert "no such key 'bin/missing.bin'" in err and "Traceback" not in err


def test_console_script_catalog(filled, tmp_path) -> None:
    store, _ = filled
    env = {**os.environ, "ALTAKIT_STORE": store, "ALTAKIT_HOME": str(tmp_path / "home")}
    env.pop("ALTAKIT_INDEX", None)
    out = altakit_bin("catalog", "show", "dataset:sensors", env=env)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["ref"] == "dataset:sensors@1" and body["doc"] == {"rows": 2}
    bad = altakit_bin("catalog", "show", "dataset:sensors@7", env=env)
    assert bad.returncode == 1
    assert "no record dataset:sensors@7" in bad.stderr.decode() and "hint:" in bad.stderr.decode()


def test_store_ls(filled) -> None:
    store, _ = filled
    out = invoke("store", "ls", store)
    assert out.exit_code == 0
    keys = [line.split()[-1] for line in out.stdout.splitlines()]
    assert keys == ["raw/day1.csv", "raw/deep/day2.csv", "raw/notes.txt"]  # no tombstone, no catalog
    assert out.stdout.splitlines()[0].split()[0] == "12"  # the latest version's size

    def keys_of(*args):
        return [line.split()[-1] for line in invoke("store", "ls", store, *args).stdout.splitlines()]

    assert keys_of("--prefix", "raw/", "--no-recursive") == ["raw/day1.csv", "raw/notes.txt"]
    assert keys_of("--pattern", "*.csv") == ["raw/day1.csv", "raw/deep/day2.csv"]
    assert keys_of("--prefix", "nothing/") == []


def test_store_versions_cat_put_rm(filled, tmp_path) -> None:
    store, ids = filled
    out = invoke("store", "versions", store, "raw/day1.csv")
    assert [line.split()[0] for line in out.stdout.splitlines()] == [ids["v1"], ids["v2"]]
    gone = invoke("store", "versions", store, "gone.txt").stdout.splitlines()
    assert gone[-1].endswith("deleted") and len(gone) == 2

    assert invoke("store", "cat", store, "raw/day1.csv").stdout_bytes == b"t,v\n1,2\n3,4\n"
    assert invoke("store", "cat", store, "raw/day1.csv", "--version", ids["v1"]).stdout_bytes == b"t,v\n1,2\n"

    put = invoke("store", "put", store, "in/stdin.txt", "-", stdin=b"from stdin")
    assert put.exit_code == 0
    assert altakit.open_store(store).get("in/stdin.txt") == b"from stdin"

    rm = invoke("store", "rm", store, "raw/notes.txt")
    assert rm.exit_code == 0
    reopened = altakit.open_store(store)
    assert not reopened.exists("raw/notes.txt")
    assert reopened.get("raw/notes.txt", version=reopened.versions("raw/notes.txt")[0].id) == b"hello"


def test_store_errors_are_typed_and_change_nothing(filled, tmp_path) -> None:
    store, _ = filled
    before = altakit.open_store(store).list()
    cases = [
        (("store", "cat", store, "raw/nope.csv"), NotFound),
        (("store", "versions", store, "raw/nope.csv"), NotFound),
        (("store", "cat", store, "raw/day1.csv", "--version", "not-an-id"), InvalidKey),
        (("store", "put", store, "../escape.txt", str(tmp_path / "x")), InvalidKey),
        (("store", "put", store, "raw/new.csv", str(tmp_path / "missing.csv")), NotFound),
        (("store", "rm", store, "gone.txt"), NotFound),
        (("store", "ls", "nosuch://bucket"), ConfigError),
    ]
    (tmp_path / "x").write_bytes(b"x")
    for args, error in cases:
        out = invoke(*args)
        assert isinstance(out.exception, error), (args, out.exception)
        assert out.exception.hint, args
    assert altakit.open_store(store).list() == before


def test_catalog_ls_show_reindex(filled, tmp_path) -> None:
    store, _ = filled
    index = f"sqlite:///{tmp_path / 'cli-index.sqlite'}"
    cat = Catalog(altakit.open_store(store), index_url=index)
    cat.register("schema", "sensors", {"columns": ["t", "v"]})
    cat.register("dataset", "sensors", {"rows": 4}, links={"schema": "schema:sensors"})
    cat.close()

    out = invoke("catalog", "ls", "--store", store, "--index", index)
    assert [line.split()[0] for line in out.stdout.splitlines()] == ["dataset:sensors@2", "schema:sensors@1"]
    out = invoke("catalog", "ls", "--kind", "schema", "--store", store, "--index", index)
    assert [line.split()[0] for line in out.stdout.splitlines()] == ["schema:sensors@1"]

    shown = json.loads(
        invoke("catalog", "show", "dataset:sensors", "--store", store, "--index", index).stdout
    )
    assert shown["version"] == 2 and shown["links"] == {"schema": ["schema:sensors@1"]}
    assert shown == cat.resolve("dataset:sensors").to_json()  # the one rendering (the REST API's too)

    Path(tmp_path / "cli-index.sqlite").unlink()
    out = invoke("catalog", "reindex", "--store", store, "--index", index)
    assert out.exit_code == 0 and "indexed 3 records" in out.stdout

    bad = invoke("catalog", "show", "dataset:", "--store", store, "--index", index)
    assert isinstance(bad.exception, ConfigError)
    bad = invoke("catalog", "ls", "--kind", "Bad Kind", "--store", store, "--index", index)
    assert isinstance(bad.exception, ConfigError)
