"""`import altakit` stays light: no heavy frameworks, and fast."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "tensorflow", "pyspark", "ipywidgets", "boto3", "py4j", "polars", "sqlalchemy")


def _probe(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_import_loads_no_heavy_module() -> None:
    loaded = _probe(
        "import json, sys, altakit, altakit.store; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    assert loaded == []


def test_import_is_fast() -> None:
    code = "import json, time; t = time.perf_counter(); import altakit; print(time.perf_counter() - t)"
    best = min(_probe(code) for _ in range(3))  # best of three: the machine is shared
    assert best < 0.3, f"import altakit took {best:.3f} s"
