"""Public typing: both packages ship ``py.typed`` (PEP 561) and ``make lint`` runs the pinned type checker."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("pyproject", "package"), [("pyproject.toml", "altakit"), ("widgets/pyproject.toml", "altakit_widgets")]
)
def test_packages_ship_py_typed(pyproject: str, package: str) -> None:
    path = ROOT / pyproject
    assert (path.parent / package / "py.typed").is_file()
    tool = tomllib.loads(path.read_text())["tool"]
    if "hatch" in tool:  # hatchling ships every file of a listed package that is not excluded
        wheel = tool["hatch"]["build"]["targets"]["wheel"]
        assert package in wheel["packages"], f"{package} is not packaged"
        assert not any("py.typed" in e or e.rstrip("/") == package for e in wheel.get("exclude", []))
    else:
        config = tool["setuptools"]
        assert "py.typed" in config.get("package-data", {}).get(package, []), "py.typed is not packaged"


def test_lint_runs_the_pinned_type_checker() -> None:
    lint = re.search(r"^lint:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert lint and "mypy altakit widgets/altakit_widgets" in lint.group(1)
    assert re.search(r"^mypy==\S+$", (ROOT / "requirements/constraints.txt").read_text(), re.M)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(r.startswith("mypy>=") for r in pyproject["project"]["optional-dependencies"]["dev"])
    assert pyproject["tool"]["mypy"]["ignore_missing_imports"] is True
