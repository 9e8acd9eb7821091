"""Every docstring example in altakit and altakit_widgets runs and prints what it shows.

The examples are documentation users copy; one that has gone stale is a bug.
Examples that need a store, a server or a model are marked ``+SKIP`` in place.
"""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil

import altakit_widgets
import pytest

import altakit

MODULES = sorted(
    info.name
    for package in (altakit, altakit_widgets)
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    module = importlib.import_module(name)
    environ = dict(os.environ)  # an example may set a variable (config's sets ALTAKIT_STORE)
    try:
        result = doctest.testmod(
            module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=True
        )
    finally:
        os.environ.clear()
        os.environ.update(environ)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (see above)"
