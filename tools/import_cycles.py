#!/usr/bin/env python3
"""Import cycles between the modules of a package, read from the source (nothing is imported).

    python tools/import_cycles.py altakit widgets/altakit_widgets [--level module|package]

Counts module-level and function-level imports (a lazy import inside a function is
still a dependency); skips imports under ``if TYPE_CHECKING:``. Prints each cycle
(strongly connected component) with the import lines that tie it, and exits 1 when
there is any. ``--level package`` folds modules into their folder first (altakit.store,
altakit.catalog, ...), which shows the layering between rooms.

Vendored from ``../shared/tools/import_cycles.py`` (a fresh clone may lack ``../shared``);
``tests/test_layers.py`` runs it through :func:`find_cycles`.

Example:
    >>> find_cycles(["altakit"], "module")  # doctest: +SKIP
    []
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from pathlib import Path

Edges = dict[str, dict[str, list[str]]]


def module_name(root: Path, path: Path) -> str:
    """The dotted name of the module at ``path`` inside the package folder ``root``."""
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_type_checking(node: ast.If) -> bool:
    """True for ``if TYPE_CHECKING:`` and ``if typing.TYPE_CHECKING:``."""
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def imports(tree: ast.AST, here: str, is_pkg: bool) -> list[tuple[str, int]]:
    """``(imported name, line)`` for every import in ``tree`` outside ``if TYPE_CHECKING:``."""
    out: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = here.split(".") if is_pkg else here.split(".")[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module or ""
                out.append((mod, child.lineno))
                out.extend((f"{mod}.{a.name}", child.lineno) for a in child.names)
            visit(child)

    visit(tree)
    return out


def import_edges(roots: Sequence[str | Path], level: str = "module") -> tuple[Edges, int]:
    """``{importer: {imported: ["file:line", ...]}}`` between the modules (or packages) under ``roots``.

    Returns the edges and how many modules were read.
    """
    mods: dict[str, Path] = {}
    for r in roots:
        root = Path(r).resolve()
        for p in root.rglob("*.py"):
            mods[module_name(root, p)] = p
    known = set(mods)

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    def fold(name: str) -> str:
        if level == "module":
            return name
        p = mods[name]
        if p.name == "__init__.py":
            return name
        if p.parent.joinpath("__init__.py").exists() and name.count(".") > 1:
            return name.rpartition(".")[0]
        return name

    edges: Edges = {}
    cwd = Path.cwd()
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for target, line in imports(tree, name, path.name == "__init__.py"):
            t = owner(target)
            if t is None or t == name:
                continue
            s, d = fold(name), fold(t)
            if s == d:
                continue
            # importing a package's own __init__ from inside it is not a cycle worth showing
            if s.startswith(d + ".") and mods[t].name == "__init__.py":
                continue
            where = f"{path.relative_to(cwd) if path.is_relative_to(cwd) else path}:{line}"
            lines = edges.setdefault(s, {}).setdefault(d, [])
            if where not in lines:
                lines.append(where)
    return edges, len(mods)


def strong_components(edges: Edges) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    sccs: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10000))
    try:
        for v in sorted(set(edges) | {d for e in edges.values() for d in e}):
            if v not in index:
                strong(v)
    finally:
        sys.setrecursionlimit(limit)
    return sccs


def find_cycles(roots: Sequence[str | Path], level: str = "module") -> list[list[str]]:
    """The import cycles among the modules (``level="package"``: packages) under ``roots``."""
    return strong_components(import_edges(roots, level)[0])


def report(roots: Sequence[str | Path], level: str = "module") -> tuple[int, str]:
    """``(number of cycles, the text the command prints)``."""
    edges, count = import_edges(roots, level)
    sccs = strong_components(edges)
    if not sccs:
        return 0, f"no import cycles ({level} level, {count} modules)"
    out = []
    for comp in sccs:
        out.append(f"cycle of {len(comp)}: {', '.join(comp)}")
        members = set(comp)
        for s in comp:
            for d, where in sorted(edges.get(s, {}).items()):
                if d in members:
                    more = " …" if len(where) > 3 else ""
                    out.append(f"  {s} -> {d}   ({', '.join(where[:3])}{more})")
    out.append(f"{len(sccs)} cycle(s) at {level} level")
    return len(sccs), "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: print the cycles; exit status 1 when there is any."""
    ap = argparse.ArgumentParser()
    ap.add_argument("roots", nargs="+", help="package folders, e.g. altakit widgets/altakit_widgets")
    ap.add_argument("--level", choices=["module", "package"], default="module")
    a = ap.parse_args(argv)
    found, text = report(a.roots, a.level)
    print(text)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
