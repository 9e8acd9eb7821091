"""The layering holds: no import cycle in altakit or altakit_widgets, between modules or between rooms.

The checker is ``tools/import_cycles.py`` (read from source: function-level imports
count, ``if TYPE_CHECKING:`` imports do not). A planted cycle shows the test can fail.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "import_cycles.py"
PACKAGES = [ROOT / "altakit", ROOT / "widgets" / "altakit_widgets"]


def _checker():
    spec = importlib.util.spec_from_file_location("import_cycles", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("level", ["module", "package"])
def test_no_import_cycles(level: str) -> None:
    count, text = _checker().report(PACKAGES, level)
    assert count == 0, f"import cycles at {level} level:\n{text}"


def _plant(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root / next(iter(files)).split("/")[0]


def test_a_planted_cycle_is_found(tmp_path: Path) -> None:
    pkg = _plant(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/low/__init__.py": "",
            "pkg/low/a.py": "from pkg.low import b\n",
            "pkg/low/b.py": """\
                from typing import TYPE_CHECKING

                if TYPE_CHECKING:
                    from pkg.high import c  # exempt: types only

                def late():
                    from pkg.low.a import late  # a function-level import still counts
            """,
            "pkg/high/__init__.py": "",
            "pkg/high/c.py": "import pkg.low.a\n",
            "pkg/high/d.py": "from ..low import b\n\ndef up():\n    from pkg.high import c\n",
        },
    )
    checker = _checker()
    assert checker.find_cycles([pkg], "module") == [["pkg.low.a", "pkg.low.b"]]
    assert checker.find_cycles([pkg], "package") == []  # high -> low only: layered

    (pkg / "low" / "e.py").write_text("def up():\n    import pkg.high.d\n")
    assert checker.find_cycles([pkg], "package") == [["pkg.high", "pkg.low"]]
    run = subprocess.run(
        [sys.executable, str(TOOL), "--level", "package", str(pkg)], capture_output=True, text=True
    )
    assert run.returncode == 1
    assert "pkg.low -> pkg.high" in run.stdout and "e.py:2" in run.stdout
