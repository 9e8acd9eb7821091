"""Every docstring example in altakit and altakit_widgets runs and prints what it shows.

The examples are documentation users copy; one that has gone stale is a bug.
Examples that need a store, a server or a model are marked ``+SKIP`` in place.

They run in a child Python, as a user's fresh kernel would, not inside the
suite's process with everything earlier tests left behind (threads, JVMs, torch
and TensorFlow state): a crash there would take the whole run with it. A child
that dies fails the module it was in, with its last output, and a new child goes
on with the rest. Run as a script, this file is that child.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib
import io
import json
import os
import pkgutil
import subprocess
import sys
import tempfile

import altakit_widgets
import pytest

import altakit

MODULES = sorted(
    info.name
    for package in (altakit, altakit_widgets)
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
)


def run_examples(name: str) -> dict:
    """One module's examples, in a fresh working folder and with the environment restored after."""
    environ, cwd, report = dict(os.environ), os.getcwd(), io.StringIO()
    try:
        with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(report):
            os.chdir(folder)  # an example that writes a file writes it here
            result = doctest.testmod(
                importlib.import_module(name),
                optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                report=True,
            )
    finally:
        os.chdir(cwd)
        os.environ.clear()  # an example may set a variable (config's sets ALTAKIT_STORE)
        os.environ.update(environ)
    return {"name": name, "failed": result.failed, "attempted": result.attempted, "report": report.getvalue()}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, dict]:
    """Each module's outcome, from as many children as it takes to get past any that die."""
    results = tmp_path_factory.mktemp("doctests") / "results.jsonl"
    done: dict[str, dict] = {}
    while len(done) < len(MODULES):
        rest = [name for name in MODULES if name not in done]
        child = subprocess.run(
            [sys.executable, "-X", "faulthandler", __file__, str(results), *rest],
            capture_output=True,
            text=True,
            timeout=600,
        )
        lines = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
        done.update((line["name"], line) for line in lines if "name" in line)
        if child.returncode != 0:
            started = [line["start"] for line in lines if "start" in line and line["start"] not in done]
            lost = started[-1] if started else rest[0]
            died = f"the child died ({child.returncode}):\n{child.stderr[-6000:]}"
            done[lost] = {"failed": "all", "attempted": "all", "report": died}
    return done


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, outcomes):
    outcome = outcomes[name]
    assert not outcome["failed"], (
        f"{outcome['failed']} of {outcome['attempted']} examples in {name} failed:\n{outcome['report']}"
    )


if __name__ == "__main__":
    with open(sys.argv[1], "a") as out:
        for module in sys.argv[2:]:
            out.write(json.dumps({"start": module}) + "\n")
            out.flush()
            out.write(json.dumps(run_examples(module)) + "\n")
            out.flush()
