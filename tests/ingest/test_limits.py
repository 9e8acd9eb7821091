"""The issue's bound: no corpus input hangs for over 60 s or takes over 1.5 GB of memory.

Every case of :data:`test_corpus.CASES` is ingested in one child process, in sequence; the
child reports each case's wall time and its peak resident memory so far (``VmHWM``), and
the parent stops waiting on a case after 60 s.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from pathlib import Path

#: Longest a case may take, in seconds, and most memory the process may reach, in bytes.
MAX_SECONDS = 60
MAX_RSS = int(1.5 * 1024**3)

_CHILD = """
import json, sys, time
from pathlib import Path


def peak():  # VmHWM: this process's own peak (ru_maxrss keeps the parent's across fork and exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


sys.path.insert(0, sys.argv[1])
import altakit
from test_corpus import CASES, _run
root = Path(sys.argv[2])
for k, case in enumerate(CASES):
    start = time.perf_counter()
    out = _run(case, altakit.open_store(root / f"store{k}"), root / f"in{k}")
    rss = peak()
    print(json.dumps({"case": case[0], "seconds": time.perf_counter() - start, "rss": rss,
                      "error": type(out).__name__ if isinstance(out, BaseException) else None}), flush=True)
"""


def test_no_corpus_case_hangs_or_takes_too_much_memory(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from test_corpus import CASES
    finally:
        sys.path.pop(0)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(Path(__file__).parent), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS", "4")},
    )
    assert child.stdout is not None
    reports = []
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(child.stdout, selectors.EVENT_READ)
            for case in CASES:
                if not sel.select(timeout=MAX_SECONDS):
                    raise AssertionError(f"corpus case {case[0]!r} ran over {MAX_SECONDS} s")
                line = child.stdout.readline()
                assert line, f"the child process died at case {case[0]!r} (rc {child.wait()})"
                reports.append(json.loads(line))
    finally:
        child.kill()
        child.wait()
    assert [r["case"] for r in reports] == [c[0] for c in CASES]
    slow = [(r["case"], round(r["seconds"], 1)) for r in reports if r["seconds"] >= MAX_SECONDS]
    assert not slow
    big = [(r["case"], r["rss"] // 2**20) for r in reports if r["rss"] >= MAX_RSS]
    assert not big, f"peak memory (MiB) over {MAX_RSS // 2**20} MiB from: {big[:1]}"
