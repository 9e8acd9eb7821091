"""The pins are the one source: pyproject ranges, environment.yml and binder/ follow them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import pins  # noqa: E402


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    for rel in (pins.CONSTRAINTS, *pins.PYPROJECTS, *pins.CONDA_FILES):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    return tmp_path


def test_repository_is_in_sync() -> None:
    assert pins.drift(ROOT) == []


def test_issue_stack_is_pinned() -> None:
    got = pins.read_pins(ROOT)
    expected = {
        "torch": "2.13.", "tensorflow-cpu": "2.21.", "polars": "2.1.", "pandas": "3.1.", "pyarrow": "26.",
        "deltalake": "1.6.", "jupyterlab": "4.6.", "ipywidgets": "8.1.", "voila": "0.5.13",
        "papermill": "2.7.", "nbval": "0.11.", "webdataset": "1.0.2", "py4j": "0.10.9.9", "boto3": "1.44.",
        "moto": "5.2.",
    }  # fmt: skip
    for name, prefix in expected.items():
        assert got[name].startswith(prefix), (name, got[name])


@pytest.mark.parametrize(
    ("rel", "old", "new"),
    [
        (pins.CONSTRAINTS, "polars==2.1.0", "polars==2.1.1"),
        ("pyproject.toml", '"polars>=2.1.0,<3"', '"polars>=2.0,<3"'),
        ("widgets/pyproject.toml", '"voila>=0.5.13,<0.6"', '"voila>=0.5.12,<0.6"'),
        ("environment.yml", "polars==2.1.0", "polars==2.0.0"),
        ("binder/environment.yml", "boto3==", "boto3>="),
    ],
)
def test_a_pin_changed_in_one_place_is_caught(repo_copy: Path, rel: str, old: str, new: str) -> None:
    path = repo_copy / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))
    assert pins.drift(repo_copy), f"changing {rel} alone went unnoticed"


def test_write_repairs_drift(repo_copy: Path) -> None:
    constraints = repo_copy / pins.CONSTRAINTS
    constraints.write_text(constraints.read_text().replace("polars==2.1.0", "polars==2.1.3"))
    assert pins.drift(repo_copy)
    pins.write(repo_copy)
    assert pins.drift(repo_copy) == []
    assert '"polars>=2.1.3,<3"' in (repo_copy / "pyproject.toml").read_text()
    assert "polars==2.1.3" in (repo_copy / "binder/environment.yml").read_text()


def test_unpinned_requirement_is_caught(repo_copy: Path) -> None:
    path = repo_copy / "pyproject.toml"
    path.write_text(path.read_text().replace('"tqdm>=', '"left-pad>=1.0,<2",\n    "tqdm>=', 1))
    assert any("left-pad is not pinned" in p for p in pins.drift(repo_copy))


def test_derived_ranges() -> None:
    assert pins.derived_range("2.1.0") == ">=2.1.0,<3"
    assert pins.derived_range("0.10.9.9") == ">=0.10.9.9,<0.11"
    assert pins.derived_range("2026.9.0") == ">=2026.9.0,<2027"


def test_all_extra_covers_every_runtime_extra() -> None:
    import re
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (all_req,) = extras["all"]
    bundled = set(re.search(r"\[(.*)\]", all_req).group(1).split(","))
    assert bundled == set(extras) - {"all", "dev", "bench"}
