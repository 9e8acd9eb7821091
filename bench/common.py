"""Shared helpers for the benchmarks: timing, peak RSS, a ratio table, results JSON.

Every ``bench/bench_<name>.py`` measures altakit next to a peer in the same run,
prints one table of rates and ratios against the goals, and writes
``bench/results/<name>.json``. Benchmarks never fail on timing: a missed goal is
reported, not raised.

Example:
    >>> rows = [Row("local write", "MB/s", "altakit", 900.0, "cp", 1000.0, goal=0.5)]
    >>> print(format_table(rows).splitlines()[2].split()[:2])
    ['local', 'write']
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
MB = 1_000_000


@dataclass
class Row:
    """One comparison: altakit's rate next to a peer's, both higher-is-better.

    Attributes:
        name: What is measured, e.g. ``"S3 write 100 MB"``.
        unit: ``"MB/s"`` or ``"obj/s"``.
        ours: Label of the altakit side.
        ours_rate: Its rate.
        peer: Label of the peer.
        peer_rate: Its rate.
        goal: Minimum ``ours_rate / peer_rate``, or None for information only.
        note: Anything a reader needs (what the peer does, sizes …).
    """

    name: str
    unit: str
    ours: str
    ours_rate: float
    peer: str
    peer_rate: float
    goal: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """``ours_rate / peer_rate``."""
        return self.ours_rate / self.peer_rate if self.peer_rate else float("inf")

    @property
    def met(self) -> bool | None:
        """Whether the goal is met (None without a goal)."""
        return None if self.goal is None else self.ratio >= self.goal


def best_of(
    fn: Callable[[], Any],
    repeat: int = 3,
    setup: Callable[[], Any] | None = None,
    long_s: float = 5.0,
) -> float:
    """Fastest wall time in seconds of up to ``repeat`` calls of ``fn``.

    ``setup`` runs untimed before each call, then ``os.sync()``: a contender that leaves
    dirty pages behind (no fsync) must not make the kernel throttle the next one's writes.
    A call longer than ``long_s`` is not repeated: it already averages over many operations.
    """
    best = float("inf")
    for _ in range(max(1, repeat)):
        if setup is not None:
            setup()
        os.sync()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
        if best > long_s:
            break
    return best


def run_child(script: str, name: str, *args: str) -> dict | None:
    """Run ``script --child name *args`` in a fresh process: its last stdout line as JSON, or ``None``
    (its error printed) if it failed."""
    import subprocess

    proc = subprocess.run([sys.executable, script, "--child", name, *args], capture_output=True, text=True)
    if proc.returncode:
        print(f"{name} failed:\n{proc.stderr[-3000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rate(amount: float, seconds: float) -> float:
    """``amount / seconds``, safe for a zero time."""
    return amount / seconds if seconds > 0 else float("inf")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb * 1024 / MB


def fmt_rate(value: float) -> str:
    """A rate with sensible digits."""
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def format_table(rows: list[Row]) -> str:
    """The ratio table as text (one line per row)."""
    head = ("benchmark", "unit", "altakit", "rate", "peer", "rate", "ratio", "goal", "")
    lines = [head]
    for r in rows:
        goal = "" if r.goal is None else f">= {r.goal:g}x"
        verdict = "" if r.met is None else ("ok" if r.met else "MISSED")
        lines.append(
            (
                r.name,
                r.unit,
                r.ours,
                fmt_rate(r.ours_rate),
                r.peer,
                fmt_rate(r.peer_rate),
                f"{r.ratio:.2f}x",
                goal,
                verdict,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    numeric = {3, 5, 6}
    out = []
    for n, line in enumerate(lines):
        cells = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown_table(rows: list[Row]) -> str:
    """The ratio table as Markdown (for bench/README.md)."""
    out = [
        "| benchmark | altakit | peer | ratio | goal |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        goal = "" if r.goal is None else f"≥ {r.goal:g}× {'✓' if r.met else '✗ missed'}"
        out.append(
            f"| {r.name} | {r.ours}: {fmt_rate(r.ours_rate)} {r.unit} "
            f"| {r.peer}: {fmt_rate(r.peer_rate)} {r.unit} | {r.ratio:.2f}× | {goal} |"
        )
    return "\n".join(out)


def machine() -> dict[str, Any]:
    """Where the numbers come from."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
    }


def write_results(name: str, rows: list[Row], notes: list[str], **extra: Any) -> Path:
    """Write ``bench/results/<name>.json`` and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rows": [{**asdict(r), "ratio": r.ratio, "met": r.met} for r in rows],
        "notes": notes,
        **extra,
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return path


def report(name: str, rows: list[Row], notes: list[str], **extra: Any) -> Path:
    """Print the table and the notes, then write the results JSON."""
    print()
    print(format_table(rows))
    for note in notes:
        print(f"note: {note}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    path = write_results(name, rows, notes, **extra)
    print(f"results: {path.relative_to(REPO)}")
    return path


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto S3 server on loopback (the tests' ``MotoServer``); yields its endpoint URL.

    Sets dummy AWS credentials in this process, as the tests do.
    """
    tests_dir = str(REPO / "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    from fixtures.s3 import DUMMY_KEY, DUMMY_SECRET, MotoServer, moto_ok

    if not moto_ok():
        raise RuntimeError("moto[server] and boto3 are not installed (pip install -e '.[s3,dev]')")
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": DUMMY_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        os.environ.pop(var, None)
    server = MotoServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)


def load_rows(name: str) -> list[Row]:
    """The rows of ``bench/results/<name>.json``."""
    doc = json.loads((RESULTS / f"{name}.json").read_text())
    fields = set(Row.__dataclass_fields__)
    return [Row(**{k: v for k, v in r.items() if k in fields}) for r in doc["rows"]]


if __name__ == "__main__":  # python bench/common.py store  → the Markdown table for bench/README.md
    for bench_name in sys.argv[1:]:
        print(markdown_table(load_rows(bench_name)))
