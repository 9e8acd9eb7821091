"""Each catalog record kind has one owner: one module writes it, one ``RecordDoc`` declares its shape.

Read from the source with ``ast`` (nothing is imported): every catalog write is a
``.register(kind, name, doc, …)`` call (three positional arguments; the store and
engine registries take two), and ``kind`` is a string literal, a module constant
(``TABLE = "table"``, imported or not) or a class constant (``RunDoc.KIND``).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Source:
    """The modules of one package folder, with their constants and imports, for resolving kinds."""

    def __init__(self, package: Path) -> None:
        self.trees: dict[str, ast.Module] = {}
        for path in sorted(package.rglob("*.py")):
            parts = list(path.relative_to(package.parent).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            self.trees[".".join(parts)] = ast.parse(path.read_text(encoding="utf-8"), str(path))
        self.constants = {mod: _constants(tree.body) for mod, tree in self.trees.items()}
        self.classes = {
            mod: {n.name: _constants(n.body) for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
            for mod, tree in self.trees.items()
        }
        self.imports = {mod: _imports(mod, tree) for mod, tree in self.trees.items()}

    def resolve(self, mod: str, node: ast.expr, depth: int = 0) -> str | None:
        """The string ``node`` stands for in module ``mod``, or None when it cannot be told statically."""
        if depth > 10:
            return None
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, ast.Name):
            if node.id in self.constants[mod]:
                return self.resolve(mod, self.constants[mod][node.id], depth + 1)
            origin = self.imports[mod].get(node.id)
            if origin and origin[0] in self.trees:
                return self.resolve(origin[0], ast.Name(origin[1]), depth + 1)
            return None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner, cls = mod, node.value.id
            if cls not in self.classes[mod]:
                origin = self.imports[mod].get(cls)
                if origin and ".".join(origin) in self.trees:  # a module: ``tables.TABLE``
                    return self.resolve(".".join(origin), ast.Name(node.attr), depth + 1)
                if not origin or origin[0] not in self.trees:
                    return None
                owner, cls = origin
            found = self.classes[owner].get(cls, {}).get(node.attr)
            return None if found is None else self.resolve(owner, found, depth + 1)
        return None

    def writers(self) -> tuple[dict[str, set[str]], list[str]]:
        """``{kind: {modules that register it}}`` and the register calls whose kind cannot be told."""
        found: dict[str, set[str]] = defaultdict(set)
        unresolved = []
        for mod, tree in self.trees.items():
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "register"
                    and len(node.args) >= 3
                ):
                    kind = self.resolve(mod, node.args[0])
                    if kind is None:
                        unresolved.append(f"{mod}:{node.lineno}: {ast.unparse(node.args[0])}")
                    else:
                        found[kind].add(mod)
        return found, unresolved

    def doc_models(self) -> dict[str, set[str]]:
        """``{kind: {module.Class}}`` for every ``RecordDoc`` subclass that sets ``KIND``."""
        found: dict[str, set[str]] = defaultdict(set)
        for mod, tree in self.trees.items():
            for node in ast.walk(tree):
                bases = [ast.unparse(b).rpartition(".")[2] for b in getattr(node, "bases", [])]
                if isinstance(node, ast.ClassDef) and "RecordDoc" in bases:
                    value = self.classes[mod][node.name].get("KIND")
                    kind = None if value is None else self.resolve(mod, value)
                    if kind:
                        found[kind].add(f"{mod}.{node.name}")
        return found


def _constants(body: list[ast.stmt]) -> dict[str, ast.expr]:
    out: dict[str, ast.expr] = {}
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
            out[stmt.target.id] = stmt.value
    return out


def _imports(mod: str, tree: ast.Module) -> dict[str, tuple[str, str]]:
    """``{local name: (module, name)}`` for every ``from … import …`` (function-level ones too)."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = mod.split(".")[: len(mod.split(".")) - node.level] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                out[alias.asname or alias.name] = (source, alias.name)
    return out


def _shared(found: dict[str, set[str]]) -> dict[str, list[str]]:
    return {kind: sorted(mods) for kind, mods in sorted(found.items()) if len(mods) > 1}


def test_each_kind_is_written_by_one_module() -> None:
    writers, unresolved = Source(ROOT / "altakit").writers()
    assert unresolved == [], "catalog writes whose kind is not a literal or a constant"
    assert {"dataset", "schema", "model", "run"} <= set(writers)
    assert _shared(writers) == {}, "kinds written by more than one module"


def test_each_kind_has_one_document_model_in_its_writer() -> None:
    source = Source(ROOT / "altakit")
    writers, _ = source.writers()
    models = source.doc_models()
    assert _shared(models) == {}, "kinds with more than one RecordDoc"
    owners = {kind: {m.rpartition(".")[0] for m in classes} for kind, classes in models.items()}
    assert {kind: mods for kind, mods in writers.items() if mods != owners.get(kind)} == {}, (
        "kinds written outside the module that owns their RecordDoc"
    )


def test_a_second_writer_is_caught(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "runs").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "runs" / "__init__.py").write_text("")
    (pkg / "runs" / "record.py").write_text(
        "KIND = 'run'\n\nclass RunDoc(RecordDoc):\n    KIND = KIND\n\n"
        "def write(cat):\n    return cat.register(RunDoc.KIND, 'a', {})\n"
    )
    (pkg / "recorder.py").write_text(
        "from pkg.runs.record import KIND as RUN\n\n"
        "def write(cat):\n    cat.register(RUN, 'b', {}, links={})\n"
    )
    (pkg / "other.py").write_text(
        "from pkg.runs import record\n\n"
        "def go(reg, cat, kind):\n    reg.register('file', 'x:Y')\n    cat.register(kind, 'n', {})\n"
        "    cat.register(record.KIND, 'c', {})\n"
    )
    source = Source(pkg)
    writers, unresolved = source.writers()
    assert _shared(writers) == {"run": ["pkg.other", "pkg.recorder", "pkg.runs.record"]}
    assert unresolved == ["pkg.other:5: kind"]
    assert source.doc_models() == {"run": {"pkg.runs.record.RunDoc"}}
