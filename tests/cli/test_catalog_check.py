"""`altakit catalog check [--repair]` and `altakit doctor` on a store with a damaged catalog record.

The real console script, on a real local store whose record file had one bit flipped on disk.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import altakit
from altakit.catalog import catalog_of, ledger
from altakit.cli.catalog import CHECKS

BIN = Path(sys.executable).parent / "altakit"


def altakit_bin(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ALTAKIT_HOME": str(cwd / "home")}
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def damaged_store(tmp_path: Path) -> tuple[str, str]:
    """A store with three records, one with a bit flipped in its file; returns (store path, record key)."""
    store = altakit.open_store(tmp_path / "store")
    cat = catalog_of(store)
    for name in ("a", "b", "c"):
        cat.register("dataset", name, {"rows": 1})
    cat.close()
    for index in (tmp_path / "store").glob(".altakit-catalog.sqlite*"):
        index.unlink()  # every client below builds its index from the store
    key = ledger.record_key("dataset", "b", 1)
    path = store._path(store.info(key).name)
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    return str(tmp_path / "store"), key


def test_catalog_check_reports_then_repairs_a_damaged_record(tmp_path) -> None:
    store, key = damaged_store(tmp_path)
    url = altakit.open_store(store).url

    listed = altakit_bin("catalog", "ls", "--store", store, cwd=tmp_path)  # the rest still lists
    assert listed.returncode == 0, listed.stderr
    assert "dataset:a@1" in listed.stdout and "dataset:c@1" in listed.stdout
    assert "dataset:b@1" not in listed.stdout and "catalog check --repair" in listed.stderr

    out = altakit_bin("catalog", "check", "--store", store, cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "damaged_record" in out.stdout and key in out.stdout
    assert f"altakit catalog check --repair --store {url}" in out.stdout

    shown = altakit_bin("catalog", "show", "dataset:b@1", "--store", store, cwd=tmp_path)
    assert shown.returncode == 1 and key in shown.stderr
    assert f"hint: the record is damaged: run `altakit catalog check --repair --store {url}`" in shown.stderr

    repaired = altakit_bin("catalog", "check", "--repair", "--store", store, cwd=tmp_path)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired" in repaired.stdout and "0 left" in repaired.stdout

    again = altakit_bin("catalog", "check", "--store", store, cwd=tmp_path)
    assert (again.returncode, again.stdout.strip()) == (0, f"no problems found in {url}")


def test_doctor_fails_on_a_damaged_catalog_and_names_the_repair(tmp_path) -> None:
    store, key = damaged_store(tmp_path)
    out = altakit_bin("doctor", "--quick", "--store", store, cwd=tmp_path)
    assert out.returncode == 1
    [line] = [line for line in out.stdout.splitlines() if line.split()[1:2] == ["catalog"]]
    assert line.startswith("DAMAGED") and key in line
    assert f"fix: altakit catalog check --repair --store {store}" in out.stdout

    from altakit.cli.doctor import catalog_check

    altakit_bin("catalog", "check", "--repair", "--store", store, cwd=tmp_path)
    assert catalog_check(store).ok


def test_every_check_of_catalog_check_is_listed_in_one_place() -> None:
    import importlib

    for _, target in CHECKS:
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function))
    assert [t for _, t in CHECKS][:2] == [
        "altakit.catalog.check:check_records",
        "altakit.ingestion.reconcile:check_tables",
    ]
