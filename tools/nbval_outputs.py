"""Store the outputs of the cells marked ``# NBVAL_CHECK_OUTPUT``, and only those.

Curated notebooks are kept without outputs; nbval (``pytest --nbval-lax``) compares
the stored output of marked cells with a fresh run. This fills those outputs from a
run in a throwaway ``ALTAKIT_HOME``. Re-run it after regenerating a notebook.

Usage:
    python tools/nbval_outputs.py notebooks/01_store_quickstart.ipynb notebooks/04_digits_dataset.ipynb
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
import papermill

MARK = "# NBVAL_CHECK_OUTPUT"


def fill(path: Path) -> int:
    """Run ``path`` and copy the outputs of its marked cells into it; returns how many."""
    with tempfile.TemporaryDirectory(prefix="altakit-nbval-") as tmp:
        os.environ["ALTAKIT_HOME"] = str(Path(tmp) / "home")
        out = Path(tmp) / path.name
        papermill.execute_notebook(str(path), str(out), cwd=str(path.parent), progress_bar=False)
        ran = {c.get("id"): c for c in nbformat.read(out, as_version=4).cells}
    nb = nbformat.read(path, as_version=4)
    marked = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if cell.source.startswith(MARK):
                reference = ran[cell.get("id")]
                cell.outputs, cell.execution_count = reference.outputs, reference.execution_count
                marked += 1
    nbformat.write(nb, path)
    return marked


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {fill(Path(arg))} checked cell(s)")
