"""Ordinary use prints no warnings the user did not cause (each case in a fresh interpreter)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

WARNING = re.compile(r"warn|deprecat", re.IGNORECASE)

NOTEBOOK = """
import sys
from pathlib import Path
import nbformat
from altakit.runs.notebook import execute
folder = Path(sys.argv[1])
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell("x = 1 + 1")]
nbformat.write(nb, folder / "one.ipynb")
seconds, error, _ = execute(folder / "one.ipynb", folder / "out.ipynb", {})
assert not error, error
print("done")
"""

LOADER = """
import sys
from typing import Annotated
import numpy as np
import altakit
from altakit.datasets.samples import Array, sample

@sample
class Tiny:
    image: Annotated[np.ndarray, Array("uint8", (4, 4))]
    label: int

if __name__ == "__main__":
    store = altakit.open_store(sys.argv[1])
    samples = [Tiny(image=np.full((4, 4), i, "uint8"), label=i) for i in range(64)]
    ds = altakit.write_dataset(samples, "tiny", store=store, maxcount=16, progress=False)
    seen = []
    for batch in ds.torch(8, seed=0, num_workers=2):
        batch["image"].add_(1)  # tensors handed out are the caller's to change
        seen += batch["label"].tolist()
    assert sorted(seen) == list(range(64)), seen
    print("done")
"""


def _quiet(script: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "TF_CPP_MIN_LOG_LEVEL")}
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(script))
    out = subprocess.run(
        [sys.executable, str(path), str(tmp_path)], capture_output=True, text=True, timeout=300, env=env
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    noisy = [line for line in text.splitlines() if WARNING.search(line)]
    assert not noisy, "\n".join(noisy)
    return text


def test_executing_a_notebook_prints_no_kernel_warning(tmp_path):
    pytest.importorskip("papermill")
    assert "done" in _quiet(NOTEBOOK, tmp_path)


def test_a_two_worker_dataloader_epoch_prints_no_warning(tmp_path):
    pytest.importorskip("torch")
    assert "done" in _quiet(LOADER, tmp_path)


def test_doctor_prints_its_report_without_framework_log_noise(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run(
        [str(Path(sys.executable).parent / "altakit"), "doctor"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    lines = (out.stdout + out.stderr).splitlines()
    assert any(line.startswith("ok   extra [torch]") for line in lines), lines
    report = re.compile(r"^(ok  |MISSING) \S|^ +fix: |^$|^everything is in place$|^\d+ missing$")
    stray = [line for line in lines if not report.match(line)]
    assert not stray, "\n".join(stray)
