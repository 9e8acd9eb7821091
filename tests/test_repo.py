"""The repository contract: two set-up commands, CI calls the test one, the layout exists."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:sh|bash)?\n(.*?)```", text, re.S)
    assert block, "README.md has no command block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.split("#")[0].strip()]


def test_readme_starts_with_exactly_two_commands() -> None:
    assert _setup_commands() == ["make run", "make test"]


def test_ci_runs_the_readme_test_command_and_nothing_else() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[-1] == f"exec {_setup_commands()[1]}"
    assert all(line.startswith(("set ", "cd ")) for line in lines[:-1])


def test_layout() -> None:
    for rel in (
        "pyproject.toml", "altakit/__init__.py", "widgets/pyproject.toml",
        "widgets/altakit_widgets/__init__.py", "notebooks", "tests", "bench/README.md", "openshift",
        "binder", "environment.yml", "README.md", "CLAUDE.md", "requirements/constraints.txt",
    ):  # fmt: skip
        assert (ROOT / rel).exists(), rel


def test_modules_stay_small() -> None:
    big = [
        f"{p.relative_to(ROOT)} ({n} lines)"
        for p in [*ROOT.glob("altakit/**/*.py"), *ROOT.glob("widgets/altakit_widgets/**/*.py")]
        if (n := len(p.read_text().splitlines())) > 600
    ]
    assert big == []


def test_test_module_names_are_unique() -> None:
    # pytest imports test modules by basename: two test_cli.py in different folders break collection
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []


@pytest.mark.parametrize("tool", ["notebooks_train", "notebooks_ingest"])
def test_generated_notebooks_are_what_their_generator_writes(tool, monkeypatch) -> None:
    """The notebooks a tool generates hold its cells (kind, source, tags); outputs may differ, as
    ``tools/nbval_outputs.py`` stores the checked ones."""
    import importlib

    import nbformat

    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    module = importlib.import_module(tool)
    written: list[tuple[str, list]] = []
    monkeypatch.setattr(module, "write", lambda path, cells: written.append((path, cells)))
    module.main()
    assert written, f"tools/{tool}.py wrote no notebook"

    def shape(cells: list) -> list[tuple[str, str, list[str]]]:
        return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in cells]

    for path, cells in written:
        committed = nbformat.read(path, as_version=4).cells
        assert shape(committed) == shape(cells), f"{path} differs from tools/{tool}.py: run it and commit"
