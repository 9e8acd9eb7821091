"""Two processes register into the same (kind, name) at once: nothing lost, no number twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from altakit.catalog import Catalog

WRITER = """
import json, os, sys, time
import altakit
from altakit.catalog import Catalog

store_path, index_url, go, count, who = sys.argv[1:]
cat = Catalog(altakit.open_store(store_path, writer=who), index_url=index_url)
while not os.path.exists(go):
    time.sleep(0.001)
got = [cat.register("dataset", "team/sensors", {"by": who, "i": i}).version for i in range(int(count))]
cat.close()
print(json.dumps(got))
"""


def test_two_processes_lose_nothing_and_never_share_a_number(local_store, index_url, tmp_path) -> None:
    go, count = tmp_path / "go", 50
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(local_store.root), index_url, str(go), str(count), who],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("ana", "bob")
    ]
    time.sleep(0.5)  # let both start and import before the gun
    go.write_text("")
    results = {}
    for who, proc in zip(("ana", "bob"), procs, strict=True):
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        results[who] = json.loads(out)

    ana, bob = results["ana"], results["bob"]
    assert len(ana) == len(bob) == count
    assert ana == sorted(ana) and bob == sorted(bob)  # each writer's numbers grow
    assert sorted(ana + bob) == list(range(1, 2 * count + 1))  # unique and consecutive

    cat = Catalog(local_store, index_url=index_url)
    try:
        records = cat.versions("dataset", "team/sensors")
        assert [r.version for r in records] == list(range(1, 2 * count + 1))
        by_number = {r.version: (r.doc["by"], r.doc["i"], r.writer) for r in records}
        for who, numbers in results.items():
            assert [by_number[n] for n in numbers] == [(who, i, who) for i in range(count)]
        # the index saw every record too, from both processes
        assert len(cat.search(kind="dataset")) == 2 * count
        assert cat.list()[0].version == 2 * count
    finally:
        cat.close()


def test_claim_waits_for_a_writer_that_is_choosing(local_store) -> None:
    import threading

    from altakit.catalog import ledger

    marker = f"{ledger.folder('run', 'r')}choosing/other-writer"
    local_store.put(marker, b"")
    threading.Timer(0.3, local_store.delete, args=(marker,)).start()
    started = time.monotonic()
    assert ledger.claim_number(local_store, "run", "r") == 1
    assert time.monotonic() - started >= 0.25


def test_a_crashed_writers_marker_goes_stale_and_is_tidied(local_store) -> None:
    from altakit.catalog import ledger

    prefix = f"{ledger.folder('run', 'r')}choosing/"
    local_store.put(f"{prefix}crashed-writer", b"")  # never deleted: its writer died
    time.sleep(0.2)
    assert ledger.claim_number(local_store, "run", "r", stale=0.1) == 1
    assert ledger.claim_number(local_store, "run", "r", stale=0.1) == 2
    assert local_store.list(prefix) == []
