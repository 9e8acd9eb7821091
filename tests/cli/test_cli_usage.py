"""Every ``altakit`` command, as a user mistypes it: usage errors print typer's usage message (exit 2),
library errors print message + hint (exit 1), never a Python traceback.

The commands are found by walking the app Typer builds, so a command added later is covered
without touching this file. The cases run through :func:`altakit.cli.run` (what the console
script calls) in-process; a few run the real console script.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from altakit.cli import app, run

BIN = Path(sys.executable).parent / "altakit"
ROOT = typer.main.get_command(app)


def walk(cmd: Any = ROOT, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """``(path, command)`` of the root, every group and every command under it."""
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from walk(sub, (*path, name))


COMMANDS = [(path, cmd) for path, cmd in walk() if not hasattr(cmd, "commands")]
GROUPS = [(path, cmd) for path, cmd in walk() if hasattr(cmd, "commands")]


def is_argument(param: Any) -> bool:
    return param.param_type_name == "argument"


def takes_value(param: Any) -> bool:
    return (
        not is_argument(param) and not getattr(param, "is_flag", False) and not getattr(param, "count", False)
    )


def dummy(param: Any) -> str:
    """A value that passes the parameter's type conversion."""
    annotation = param.type_descriptor.annotation if param.type_descriptor else str
    return "1" if annotation in (int, float) else "x"


def given(cmd: Any, skip: Any = None) -> list[str]:
    """Arguments filling every required parameter of ``cmd`` but ``skip``."""
    args: list[str] = []
    for param in cmd.params:
        if not param.required or param is skip:
            continue
        args += [dummy(param)] if is_argument(param) else [param.opts[0], dummy(param)]
    return args


def cases() -> Iterator[Any]:
    """``(argv, expected exit code, text the output must hold)`` for every command and group."""
    for path, _ in GROUPS:
        name = " ".join(path) or "altakit"
        yield pytest.param([*path, "--help"], 0, "Usage", id=f"{name} --help")
        yield pytest.param([*path, "--no-such-option"], 2, "No such option", id=f"{name} bad option")
        yield pytest.param([*path, "no-such-command"], 2, "No such command", id=f"{name} bad command")
        yield pytest.param(list(path), 2, "Usage", id=f"{name} no command")
    for path, cmd in COMMANDS:
        name = " ".join(path)
        yield pytest.param([*path, "--help"], 0, "Usage", id=f"{name} --help")
        # bad: an unknown option, an extra argument, a value of the wrong type
        yield pytest.param([*path, *given(cmd), "--no-such-option"], 2, "", id=f"{name} bad option")
        yield pytest.param([*path, *given(cmd), "extra-arg"], 2, "", id=f"{name} extra argument")
        for param in cmd.params:
            if takes_value(param) and dummy(param) == "1":
                argv = [*path, *given(cmd, skip=param), param.opts[0], "not-a-number"]
                yield pytest.param(argv, 2, "Invalid value", id=f"{name} bad {param.opts[0]}")
        # missing: each required parameter left out, an option's value left out
        for param in cmd.params:
            if param.required:
                argv = [*path, *given(cmd, skip=param)]
                yield pytest.param(argv, 2, "Missing", id=f"{name} missing {param.name}")
        for param in cmd.params:
            if takes_value(param):
                argv = [*path, *given(cmd), param.opts[0]]
                yield pytest.param(argv, 2, "requires an argument", id=f"{name} {param.opts[0]} no value")
                break


@pytest.fixture(autouse=True)
def _empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ALTAKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ALTAKIT_STORE", str(tmp_path / "store"))
    monkeypatch.delenv("ALTAKIT_INDEX", raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # typer (rich) wraps its error box to the terminal
    hook = sys.excepthook
    yield
    sys.excepthook = hook  # typer installs its own on each call


def call(argv: list[str]) -> int:
    """Run the console entry point on ``argv``; its exit code (a failure if anything but an exit escapes)."""
    try:
        run(argv)
    except SystemExit as exit:
        code = exit.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    raise AssertionError("run() returned instead of exiting")


@pytest.mark.parametrize(("argv", "code", "text"), list(cases()))
def test_usage(argv: list[str], code: int, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    got = call(argv)
    out = capsys.readouterr()
    both = out.out + out.err
    assert got == code, both
    assert "Traceback" not in both
    assert text in both
    if code == 2 and not text:
        assert "Usage:" in both


@pytest.mark.parametrize(
    "argv",
    [pytest.param([*path, *given(cmd)], id=" ".join(path)) for path, cmd in COMMANDS if given(cmd)],
)
def test_names_that_do_not_exist(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Well-formed arguments naming nothing (an empty store): the library's message and hint, exit 1."""
    monkeypatch.chdir(tmp_path)  # store URLs given as "x" are folders here
    got = call(argv)
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert got in (0, 1), out.err  # some commands list nothing and succeed
    if got == 1:
        assert out.err.startswith("error: "), out.err


def test_every_command_is_covered() -> None:
    ids = {p.id for p in cases()}
    for path, cmd in COMMANDS:
        name = " ".join(path)
        assert {f"{name} --help", f"{name} bad option", f"{name} extra argument"} <= ids
        if any(p.required or takes_value(p) for p in cmd.params):
            assert any(i.startswith(f"{name} ") and ("missing" in i or "no value" in i) for i in ids), name
    assert len(COMMANDS) >= 30  # the walk found the commands (not only the root)


@pytest.mark.parametrize(
    ("argv", "code", "text"),
    [
        (["store", "ls"], 2, "Missing argument"),
        (["store", "ls", "a", "b"], 2, "unexpected extra argument"),
        (["nope"], 2, "No such command"),
        (["catalog", "show", "not-a-ref"], 1, "hint: write a reference"),
    ],
)
def test_console_script(argv: list[str], code: int, text: str, tmp_path: Path) -> None:
    env = {**os.environ, "ALTAKIT_HOME": str(tmp_path), "ALTAKIT_STORE": str(tmp_path / "store")}
    out = subprocess.run([str(BIN), *argv], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert text in out.stderr
