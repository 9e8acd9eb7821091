"""One source of pins: requirements/constraints.txt.

Everything else is derived from it and checked against it:

- ``pyproject.toml`` and ``widgets/pyproject.toml``: every requirement's range is
  ``>=PIN,<NEXT`` (next major; next minor for 0.x), PIN from the constraints;
- ``environment.yml`` and ``binder/environment.yml``: conda environments with
  python, Java, Node.js (the JupyterLab extension's build) and exact pip pins of every direct requirement.

Usage:
    python tools/pins.py check      # exit 1 and list every drift
    python tools/pins.py write      # rewrite the derived files from the pins
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = "requirements/constraints.txt"
PYPROJECTS = ("pyproject.toml", "widgets/pyproject.toml")
CONDA_FILES = ("environment.yml", "binder/environment.yml")
LOCAL = {"altakit", "altakit-widgets"}
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
_REQ = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?P<extras>\[[^\]]*\])?(?P<spec>.*)$")


def normalize(name: str) -> str:
    """PEP 503 name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(root: Path = ROOT) -> dict[str, str]:
    """``{normalized name: version}`` from the constraints file."""
    pins = {}
    for line in (root / CONSTRAINTS).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[normalize(name)] = version.strip()
    return pins


def derived_range(version: str) -> str:
    """``>=version,<next`` where next is the next major (next minor for 0.x)."""
    parts = [int(p) for p in re.findall(r"\d+", version)[:2]] + [0]
    upper = f"0.{parts[1] + 1}" if parts[0] == 0 else str(parts[0] + 1)
    return f">={version},<{upper}"


def requirements(root: Path = ROOT) -> list[tuple[str, str, str]]:
    """``(file, requirement, group)`` for every requirement in the pyprojects."""
    out = []
    for rel in PYPROJECTS:
        project = tomllib.loads((root / rel).read_text())["project"]
        groups = {"dependencies": project.get("dependencies", [])}
        groups |= {f"extra {k}": v for k, v in project.get("optional-dependencies", {}).items()}
        for group, reqs in groups.items():
            out += [(rel, req, group) for req in reqs]
    return out


def direct_pins(root: Path = ROOT) -> dict[str, str]:
    """Exact pins (``name[extras]==version``) of every direct third-party requirement."""
    pins = read_pins(root)
    out = {}
    for _, req, _ in requirements(root):
        m = _REQ.match(req)
        if m and normalize(m["name"]) not in LOCAL:
            out[normalize(m["name"])] = (
                f"{m['name']}{m['extras'] or ''}=={pins.get(normalize(m['name']), '?')}"
            )
    return dict(sorted(out.items()))


def conda_env(name: str, root: Path = ROOT) -> str:
    """The conda environment file text for ``name``."""
    lines = [
        "# Generated from requirements/constraints.txt by `python tools/pins.py write`; do not edit.",
        f"name: {name}",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - openjdk=17",
        # builds the JupyterLab extension (widgets/: jlpm, the Node line openshift/Dockerfile builds with)
        "  - nodejs=20",
        "  - pip",
        "  - pip:",
        # the CPU build of torch (PyPI's linux wheel is the multi-GB CUDA build)
        f"      - --extra-index-url {TORCH_CPU_INDEX}",
    ]
    lines += [f"      - {pin}" for pin in direct_pins(root).values()]
    return "\n".join(lines) + "\n"


def drift(root: Path = ROOT) -> list[str]:
    """Every way the derived files disagree with the pins (empty when in sync)."""
    pins = read_pins(root)
    problems = []
    for rel, req, group in requirements(root):
        m = _REQ.match(req)
        if not m:
            problems.append(f"{rel} [{group}]: cannot parse {req!r}")
            continue
        name = normalize(m["name"])
        if name in LOCAL:
            continue
        if name not in pins:
            problems.append(f"{rel} [{group}]: {m['name']} is not pinned in {CONSTRAINTS}")
        elif m["spec"].strip() != derived_range(pins[name]):
            want = derived_range(pins[name])
            problems.append(f"{rel} [{group}]: {m['name']}{m['spec']} should be {m['name']}{want}")
    for rel, env in zip(CONDA_FILES, ("altakit", "altakit-binder"), strict=True):
        path = root / rel
        if not path.exists() or path.read_text() != conda_env(env, root):
            problems.append(f"{rel}: differs from the pins (run: python tools/pins.py write)")
    return problems


def write(root: Path = ROOT) -> None:
    """Rewrite the pyproject ranges and the conda files from the pins."""
    pins = read_pins(root)
    for rel in PYPROJECTS:
        path = root / rel
        text = path.read_text()

        def fix(match: re.Match) -> str:
            m = _REQ.match(match["req"])
            if not m or normalize(m["name"]) in LOCAL or normalize(m["name"]) not in pins:
                return match[0]
            return f'"{m["name"]}{m["extras"] or ""}{derived_range(pins[normalize(m["name"])])}"'

        path.write_text(re.sub(r'"(?P<req>[A-Za-z0-9_.-]+(\[[^\]]*\])?\s*[<>=!~][^"]*)"', fix, text))
    for rel, env in zip(CONDA_FILES, ("altakit", "altakit-binder"), strict=True):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(conda_env(env, root))


def main(argv: list[str]) -> int:
    """Entry point: ``check`` or ``write``."""
    if argv[1:] == ["write"]:
        write()
        return 0
    if argv[1:] in ([], ["check"]):
        problems = drift()
        for p in problems:
            print(p)
        print("pins: in sync" if not problems else f"pins: {len(problems)} drift(s)")
        return 1 if problems else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
