"""Build a curated notebook from a list of cells (keeps notebooks reviewable as code).

Usage in a generator: ``write("notebooks/01_x.ipynb", [md("# Title"), params("a = 1"), code("print(a)")])``.
Notebooks are stored without outputs.
"""

from __future__ import annotations

import nbformat


def md(text: str) -> nbformat.NotebookNode:
    """A markdown cell."""
    return nbformat.v4.new_markdown_cell(text.strip())


def code(text: str, *tags: str) -> nbformat.NotebookNode:
    """A code cell with optional tags."""
    cell = nbformat.v4.new_code_cell(text.strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def params(text: str) -> nbformat.NotebookNode:
    """The papermill ``parameters`` cell."""
    return code(text, "parameters")


def write(path: str, cells: list[nbformat.NotebookNode]) -> None:
    """Write a notebook with a python3 kernelspec and no outputs."""
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    nbformat.write(nb, path)
