"""Alias moves from several real processes at once form one chain (compare-and-set on every store)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from altakit.catalog import Catalog, ledger
from altakit.errors import NotFound
from altakit.train.registry import ALIAS, MODEL, ModelDoc, ModelRegistry, read_alias

MOVER = """
import json, os, sys, time
import altakit
from altakit.catalog import Catalog
from altakit.errors import NotFound
from altakit.train.registry import ModelRegistry

url, endpoint, index_url, go, who, count = sys.argv[1:]
opts = {"endpoint_url": endpoint, "attempts": 3, "backoff": 0.05, "max_backoff": 0.2} if endpoint else {}
store = altakit.open_store(url, writer=f"w{who}", **opts)
reg = ModelRegistry(store, catalog=Catalog(store, index_url=index_url))
while not os.path.exists(go):
    time.sleep(0.001)
done = []
for i in range(int(count)):
    try:
        if i % 4 == 3:
            rec = reg.rollback("m", "champion", reason=f"{who}-{i}")
        else:
            rec = reg.promote("m", (int(who) * 3 + i) % 5 + 1, "champion", reason=f"{who}-{i}")
        done.append([rec.version, f"{who}-{i}"])
    except NotFound:
        pass  # nothing to roll back to yet
reg.catalog.close()
print(json.dumps(done))
"""

VERSIONS = 5


def _seed(cat: Catalog) -> None:
    for n in range(VERSIONS):
        doc = ModelDoc("torch", "torch", "models/m/weights.pt", f"v{n}", 1, "00", {}, None, {})
        cat.register(MODEL, "m", doc.to_doc())


def _race(url: str, endpoint: str, index_url: str, tmp_path, processes: int = 3, count: int = 10):
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MOVER, url, endpoint, index_url, str(go), str(who), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in range(processes)
    ]
    time.sleep(0.5)  # let them start and import before the gun
    go.write_text("")
    done: list[tuple[int, str]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        done += [tuple(x) for x in json.loads(out)]
    return done


def _assert_one_chain(cat: Catalog, done: list[tuple[int, str]]) -> None:
    records = cat.versions(ALIAS, "m/champion")
    # no move lost, none recorded twice: every reported move is a record, with its own reason
    assert sorted(done) == sorted((r.version, read_alias(r).reason) for r in records)
    docs = [read_alias(r) for r in records]
    assert docs[0].previous is None and docs[0].stack == [] and docs[0].action == "move"
    for before, doc in itertools.pairwise(docs):
        assert doc.previous == before.version  # each move knows where the alias truly was
        if doc.action == "move":
            assert doc.stack == [*before.stack, before.version]
        else:
            assert doc.version == before.stack[-1] and doc.stack == before.stack[:-1]
    for r, doc in zip(records, docs, strict=True):
        assert r.link("points_to")[0].version == doc.version


def _assert_rollbacks_walk_back(reg: ModelRegistry) -> None:
    final = read_alias(reg.catalog.get(ALIAS, "m/champion"))
    for expected in reversed(final.stack):
        reg.rollback("m", "champion")
        assert reg.alias_target("m", "champion") == expected
    with pytest.raises(NotFound):
        reg.rollback("m", "champion")


def test_three_processes_moving_an_alias_on_a_local_store(local_store, tmp_path) -> None:
    index_url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    cat = Catalog(local_store, index_url=index_url)
    try:
        _seed(cat)
        done = _race(str(local_store.root), "", index_url, tmp_path)
        _assert_one_chain(cat, done)
        _assert_rollbacks_walk_back(ModelRegistry(local_store, catalog=cat))
        _assert_one_chain(
            cat, done + [(r.version, "") for r in cat.versions(ALIAS, "m/champion")[len(done) :]]
        )
    finally:
        cat.close()


@pytest.mark.s3
def test_three_processes_moving_an_alias_on_s3(s3_store, s3_server, tmp_path) -> None:
    index_url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    cat = Catalog(s3_store, index_url=index_url)
    try:
        _seed(cat)
        done = _race(s3_store.url, s3_server.url, index_url, tmp_path)
        _assert_one_chain(cat, done)
        _assert_rollbacks_walk_back(ModelRegistry(s3_store, catalog=cat))
    finally:
        cat.close()


def test_a_mover_killed_after_winning_its_number_leaves_a_gap_the_next_move_skips(
    local_store, tmp_path, monkeypatch
) -> None:
    index_url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    cat = Catalog(local_store, index_url=index_url)
    reg = ModelRegistry(local_store, catalog=cat)
    try:
        _seed(cat)
        reg.promote("m", 1)
        reg.promote("m", 2)
        child = subprocess.run(
            [sys.executable, "-c", MOVER, str(local_store.root), "", index_url, str(tmp_path), "0", "1"],
            env={**os.environ, "ALTAKIT_FAULT": "catalog.number_won"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert child.returncode == -signal.SIGKILL  # it won number 3, then died before writing it
        monkeypatch.setattr(ledger, "STALE", 0.5)  # its claim counts as crashed after half a second
        rec = reg.promote("m", 4)
        assert rec.version == 4  # number 3 is a gap
        doc = read_alias(rec)
        assert (doc.previous, doc.stack) == (2, [1, 2])
        # a rollback with nothing to roll back gives its number up at once (no wait for the next move)
        with pytest.raises(NotFound):
            reg.rollback("m", "other")
        assert read_alias(reg.promote("m", 5, "other")).previous is None
    finally:
        cat.close()
