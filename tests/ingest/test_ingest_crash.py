"""Crash tests: an ingest (a replay, a schema approval) killed with SIGKILL at each commit point, then
retried at once: every source row is in the table exactly once and the catalog agrees with the table.

The work runs in a real child process with ``ALTAKIT_FAULT`` naming the point (:mod:`altakit.faults`);
the retry runs in this process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest

import altakit
from altakit.catalog import catalog_of
from altakit.datasets import tables
from altakit.ingestion import claims, quarantine_log
from altakit.ingestion.job import FAULT_POINTS
from altakit.ingestion.reconcile import check_tables
from altakit.ingestion.review import SchemaRegistry

SPEC = {"time": "ts", "by": ["sensor"]}
GOOD = 30
MANY = 80  # over one 1 KiB block: values in a later block are quarantined
BAD = 2


def _csv(start: int, n: int = GOOD, bad: int = BAD, extra: str = "") -> bytes:
    head = "ts,sensor,value" + (",humidity" if extra else "")
    rows = "".join(
        f"2024-01-01T{(start + i) // 60:02d}:{(start + i) % 60:02d}:00Z,s1,{start + i}{extra}\n"
        for i in range(n)
    )
    broken = "".join(f"2024-01-02T00:{i:02d}:00Z\n" for i in range(bad))  # ragged: quarantined
    return (head + "\n" + rows + broken).encode()


def _child(code: str, *args: str, fault: str, extra_env: dict[str, str] | None = None) -> int:
    env = {**os.environ, "ALTAKIT_FAULT": fault, **(extra_env or {})}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, timeout=300)
    return done.returncode


INGEST = (
    "import json, sys, altakit; store = altakit.open_store(sys.argv[1], **json.loads(sys.argv[4])); "
    "altakit.ingest(sys.argv[2], 't', json.loads(sys.argv[3]), store=store)"
)


def _kill_ingest(store_url: str, path: Path, point: str, spec=SPEC, options=None, env=None) -> None:
    rc = _child(
        INGEST, store_url, str(path), json.dumps(spec), json.dumps(options or {}), fault=point, extra_env=env
    )
    assert rc == -signal.SIGKILL, f"the ingest was not killed at {point} (exit {rc})"


def _assert_consistent(store, values: list[int], quarantined: int) -> None:
    """No duplicate or missing row; the catalog's latest record names the table's latest commit."""
    table = altakit.read_table("t", store=store)
    assert sorted(table.get_column("value").to_list()) == sorted(values)
    _, doc = tables.version_doc(store, "t")
    assert doc.delta_version == tables.delta_version(tables.location(store, "t"))
    assert sum(d.rows_written for _, d in tables.version_docs(store, "t")) == len(values)
    counts = quarantine_log.accounting("t", store=store)  # raises when table and catalog disagree
    assert counts["quarantined"] == counts["open"] == quarantined
    assert check_tables(store) == []


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_an_ingest_killed_at_each_commit_point_is_retried_at_once_exactly_once(point, local_store, tmp_path):
    path = tmp_path / "day1.csv"
    path.write_bytes(_csv(0))
    _kill_ingest(str(local_store.root), path, point)
    report = altakit.ingest(str(path), "t", SPEC, store=local_store)  # at once: no hour-long claim
    assert report.status in ("written", "unchanged")
    _assert_consistent(local_store, list(range(GOOD)), BAD)
    assert len(SchemaRegistry(local_store).history("t")) == 1
    assert len(catalog_of(local_store).versions("table", "t")) == 1
    # and the dataset goes on as usual
    later = tmp_path / "day2.csv"
    later.write_bytes(_csv(100))
    assert altakit.ingest(str(later), "t", SPEC, store=local_store).status == "written"
    _assert_consistent(local_store, [*range(GOOD), *range(100, 100 + GOOD)], 2 * BAD)


def test_an_orphan_commit_is_hidden_reported_and_repaired(local_store, tmp_path):
    altakit.ingest(("day1.csv", _csv(0)), "t", SPEC, store=local_store)
    path = tmp_path / "day2.csv"
    path.write_bytes(_csv(100))
    _kill_ingest(str(local_store.root), path, "ingest.delta_committed")
    # readers see what the catalog lists, not the orphan's rows
    assert altakit.read_table("t", store=local_store).height == GOOD
    assert quarantine_log.accounting("t", store=local_store)["quarantined"] == BAD
    found = check_tables(local_store)
    assert [(f.kind, f.subject, f.repaired) for f in found] == [("orphan_commit", "table:t", False)]
    repaired = check_tables(local_store, repair=True)
    assert [(f.kind, f.repaired) for f in repaired] == [("orphan_commit", True)]
    rec, doc = tables.version_doc(local_store, "t")
    assert rec.version == 2 and str(rec.link("derived_from")[0]) == "table:t@1"
    assert str(rec.link("schema")[0]) == "schema:t@1" and doc.rows_quarantined == BAD
    assert altakit.ingest(str(path), "t", SPEC, store=local_store).status == "unchanged"
    _assert_consistent(local_store, [*range(GOOD), *range(100, 100 + GOOD)], 2 * BAD)


def test_an_ingest_killed_after_its_commit_on_s3_is_reconciled(s3_store, s3_server, tmp_path):
    path = tmp_path / "day1.csv"
    path.write_bytes(_csv(0))
    url = s3_store.url
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env = {k: os.environ.get(k, v) for k, v in env.items()}
    _kill_ingest(url, path, "ingest.delta_committed", options={"endpoint_url": s3_server.url}, env=env)
    assert altakit.ingest(str(path), "t", SPEC, store=s3_store).status == "unchanged"
    _assert_consistent(s3_store, list(range(GOOD)), BAD)


APPROVE = (
    "import sys, altakit; from altakit.ingestion.review import SchemaRegistry; "
    "SchemaRegistry(altakit.open_store(sys.argv[1])).approve('t', by='ana', comment='humidity sensor')"
)


@pytest.mark.parametrize("retry", ["approve", "ingest"])
def test_an_approval_killed_between_its_records_completes_on_retry(retry, local_store, tmp_path):
    review = {**SPEC, "policy": "review"}
    altakit.ingest(("day1.csv", _csv(0)), "t", review, store=local_store)
    path = tmp_path / "day2.csv"
    path.write_bytes(_csv(100, extra=",55"))
    with pytest.raises(altakit.errors.SchemaChangePending):
        altakit.ingest(str(path), "t", review, store=local_store)
    rc = _child(APPROVE, str(local_store.root), fault="schema.registered")
    assert rc == -signal.SIGKILL
    registry = SchemaRegistry(local_store)
    assert len(registry.history("t")) == 2 and registry.pending("t") is not None  # the window
    if retry == "approve":
        decided = registry.approve("t", by="ana", comment="humidity sensor")
        assert decided.doc["schema_version"] == 2
    assert altakit.ingest(str(path), "t", review, store=local_store).status == "written"
    assert len(registry.history("t")) == 2 and registry.pending("t") is None
    assert registry.changes("t")[-1].doc["status"] == "approved"
    assert altakit.read_table("t", store=local_store).height == 2 * GOOD


def test_concurrent_first_ingests_register_one_schema_version(local_store, tmp_path):
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"day{k}.csv")
        paths[-1].write_bytes(_csv(100 * k, bad=0))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", INGEST, str(local_store.root), str(p), json.dumps(SPEC), "{}"],
            stderr=subprocess.PIPE,
        )
        for p in paths
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]
    assert len(SchemaRegistry(local_store).history("t")) == 1
    values = [v for k in range(3) for v in range(100 * k, 100 * k + GOOD)]
    assert sorted(altakit.read_table("t", store=local_store).get_column("value").to_list()) == values


def test_a_slow_claim_never_lets_two_claimants_both_be_first(local_store):
    """A claim's version id is stamped when its write starts: a slow write lands after a faster
    claimant looked. Claimants wait for each other, so exactly one is first."""
    key = "_altakit/ingest/claims/t/abc"
    stamped, decided = threading.Event(), threading.Event()
    commit = local_store._commit

    def slow_commit(staged, name):  # the slow claim has its id; it lands once the other decided
        if name.startswith(key) and not stamped.is_set():  # the first claim on the key: the slow one's
            stamped.set()
            decided.wait(5)  # with the fix the other waits for us: this times out, then we land
        return commit(staged, name)

    local_store._commit = slow_commit
    firsts: dict[str, bool] = {}

    def run() -> None:
        (mine,) = claims.claim(local_store, [key], threading.current_thread().name)
        firsts[threading.current_thread().name] = claims.first_claim(local_store, mine)
        if threading.current_thread().name == "fast":
            decided.set()

    slow = threading.Thread(target=run, name="slow")
    slow.start()
    assert stamped.wait(60)
    fast = threading.Thread(target=run, name="fast")
    fast.start()
    fast.join(60)
    decided.set()
    slow.join(60)
    assert firsts == {"slow": True, "fast": False}  # one first: the earlier id


def test_a_dead_processes_claim_is_passed_over_at_once(local_store, tmp_path):
    path = tmp_path / "day1.csv"
    path.write_bytes(_csv(0))
    _kill_ingest(str(local_store.root), path, "ingest.claimed")
    assert [v for v in local_store.list("_altakit/ingest/claims/t/", recursive=True) if not v.deleted]
    assert altakit.ingest(str(path), "t", SPEC, store=local_store).status == "written"


REPLAY = (
    "import sys, altakit; from altakit.ingestion.replay import replay; "
    "replay('t', values={'value': {'x': '7'}}, store=altakit.open_store(sys.argv[1]))"
)


@pytest.mark.parametrize("point", ["replay.table_committed", "replay.log_committed"])
def test_a_replay_killed_after_its_commit_adds_its_rows_once(point, local_store):
    from altakit.ingestion.replay import replay

    rows = "ts,sensor,value\n" + "".join(
        f"2024-01-01T{i // 60:02d}:{i % 60:02d}:00Z,s1,{i}\n" for i in range(MANY)
    )
    rows += "".join(f"2024-01-01T05:{i:02d}:00Z,s1,x\n" for i in range(BAD))  # a later block: quarantined
    altakit.ingest(("a.csv", rows.encode()), "t", {**SPEC, "block_bytes": 1024}, store=local_store)
    assert quarantine_log.accounting("t", store=local_store)["open"] == BAD
    assert _child(REPLAY, str(local_store.root), fault=point) == -signal.SIGKILL
    again = replay("t", values={"value": {"x": "7"}}, store=local_store)
    assert again.status == "unchanged"  # the dead replay's version was registered, not appended again
    table = altakit.read_table("t", store=local_store)
    assert table.height == MANY + BAD and table.filter(pl.col("value") == 7).height == BAD + 1
    counts = quarantine_log.accounting("t", store=local_store)
    assert (counts["replayed"], counts["open"]) == (BAD, 0)
    _, doc = tables.version_doc(local_store, "t")
    assert doc.replay is not None and doc.delta_version == tables.delta_version(
        tables.location(local_store, "t")
    )
    assert check_tables(local_store) == []


def test_a_record_write_that_fails_in_this_process_is_reconciled_by_the_next_call(
    local_store, tmp_path, monkeypatch
):
    """A failure after the commit in a long-lived process (a notebook's kernel): the retry in the same
    process registers the commit instead of appending the rows again."""
    path = tmp_path / "day1.csv"
    path.write_bytes(_csv(0))
    register = tables.register_version
    calls = []

    def fail_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise altakit.errors.StoreUnavailable("the store went away", hint="retry")
        return register(*args, **kwargs)

    monkeypatch.setattr(tables, "register_version", fail_once)
    with pytest.raises(altakit.errors.StoreUnavailable):
        altakit.ingest(str(path), "t", SPEC, store=local_store)
    assert altakit.ingest(str(path), "t", SPEC, store=local_store).status == "unchanged"
    _assert_consistent(local_store, list(range(GOOD)), BAD)


def test_an_ingest_killed_after_its_commit_while_another_runs_is_not_appended_twice(
    local_store, tmp_path, monkeypatch
):
    """B starts (and reconciles) while A is alive; A is killed after its commit; B, claiming the same
    file after A died, registers A's commit instead of appending the file again."""
    from altakit.ingestion import job

    path = tmp_path / "day1.csv"
    path.write_bytes(_csv(0))
    real = job.reconcile
    calls = []

    def then_kill_a(store, dataset, **kwargs):
        done = real(store, dataset, **kwargs)
        calls.append(1)
        if len(calls) == 1:  # B has looked for orphans: now A commits and dies
            _kill_ingest(str(local_store.root), path, "ingest.delta_committed")
        return done

    monkeypatch.setattr(job, "reconcile", then_kill_a)
    assert altakit.ingest(str(path), "t", SPEC, store=local_store).status == "unchanged"
    assert len(calls) >= 2
    _assert_consistent(local_store, list(range(GOOD)), BAD)
