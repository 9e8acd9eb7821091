"""Two processes register into the same (kind, name) at once: nothing lost, no number twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

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
    local_store.put(marker, b"", reserved=True)
    threading.Timer(0.3, local_store.delete, args=(marker,), kwargs={"reserved": True}).start()
    started = time.monotonic()
    assert ledger.claim_number(local_store, "run", "r") == 1
    assert time.monotonic() - started >= 0.25


def test_a_crashed_writers_marker_goes_stale_and_is_tidied(local_store) -> None:
    from altakit.catalog import ledger

    prefix = f"{ledger.folder('run', 'r')}choosing/"
    local_store.put(f"{prefix}crashed-writer", b"", reserved=True)  # never deleted: its writer died
    time.sleep(0.2)
    assert ledger.claim_number(local_store, "run", "r", stale=0.1) == 1
    assert ledger.claim_number(local_store, "run", "r", stale=0.1) == 2
    assert local_store.list(prefix) == []


@pytest.mark.postgres
def test_two_first_time_rebuilds_at_once_both_succeed(local_store, postgres_url) -> None:
    # Two processes that find the index empty both rebuild it. Hold one rebuild's rows in an open
    # transaction, start the other (it waits on the same keys), then commit the first: the second
    # must finish without a unique-key error, and the index must hold every record once.
    import threading

    import sqlalchemy as sa

    from altakit.catalog.index import INDEXED, RECORDS, Index, _rows

    cat = Catalog(local_store, index_url=postgres_url)
    for i in range(3):
        cat.register("dataset", "race", {"i": i})
    records = cat.versions("dataset", "race")
    first, second = Index(postgres_url, local_store.url), Index(postgres_url, local_store.url)
    first.rebuild([])  # make the tables, then empty this store's rows
    with first.engine().connect() as conn:
        conn.execute(sa.delete(INDEXED).where(INDEXED.c.store == local_store.url))
        conn.commit()
    errors: list[BaseException] = []
    with first.engine().connect() as held:
        held.execute(sa.insert(RECORDS), [_rows(local_store.url, r)[0][0] for r in records])
        held.execute(sa.insert(INDEXED), [{"store": local_store.url, "at": "now"}])
        racer = threading.Thread(target=lambda: _catch(errors, second.rebuild, records))
        racer.start()
        racer.join(2)
        assert racer.is_alive()  # blocked on the rows the held transaction inserted
        held.commit()
    racer.join(30)
    assert errors == []
    assert [r.version for r in second.latest("dataset")] == [3]
    with first.engine().connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(RECORDS).where(RECORDS.c.store == local_store.url)
        )
        assert count.scalar() == 3


def _catch(errors: list[BaseException], fn, *args) -> None:
    try:
        fn(*args)
    except BaseException as exc:  # asserted by the test
        errors.append(exc)
