"""kubetui's layers hold: every import in kubetui/ obeys kubetui/import-rules.yaml.

Like Kubernetes' import-boss over ``.import-restrictions`` files: the rules
are data, this test parses every module (``ast``: module-level and
function-local imports, relative ones resolved, ``importlib.import_module``
with a literal name) and fails with one line per broken rule.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1] / "kubetui"
RULES = yaml.safe_load((ROOT / "import-rules.yaml").read_text())


def module_name(path: Path) -> str:
    parts = ["kubetui", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every kubetui import in one file."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from kubetui import cli` imports kubetui.cli
            found += [(node.lineno, f"{target}.{a.name}" if target == "kubetui" else target) for a in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return [(line, t) for line, t in found if t.startswith("kubetui.")]


def top(module: str) -> str:
    """The package a module belongs to: ``kubetui.store.wal`` -> ``store``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def edges() -> list[tuple[str, str, str, int, str]]:
    """``(importer package, imported package, file, line, module)`` across packages."""
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        src = top(module_name(path))
        for line, target in imports_of(path):
            dst = top(target)
            if dst and dst != src:
                out.append((src, dst, str(path.relative_to(ROOT.parent)), line, target))
    return out


EDGES = edges()


def test_the_rules_name_real_packages():
    """A rule about a package that does not exist (a typo) would pass forever."""
    names = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()
             if (p.suffix == ".py" or (p / "__init__.py").exists())}
    named = set(RULES["packages"]) | set(RULES["imported_by"])
    for rule in RULES["packages"].values():
        named |= set(rule.get("allow", [])) | set(rule.get("forbid", []))
    for allowed in RULES["imported_by"].values():
        named |= set(allowed)
    # `agent` (the node agents' shared base) is named before it exists; every other name must exist
    assert named - names - {"agent"} == set()


def test_packages_import_only_what_they_may():
    broken = []
    for src, dst, file, line, target in EDGES:
        rule = RULES["packages"].get(src) or {}
        if "allow" in rule and dst not in rule["allow"]:
            broken.append(f"{file}:{line} imports {target}: {src} may import only {rule['allow'] or 'nothing of kubetui'}")
        if dst in rule.get("forbid", []):
            broken.append(f"{file}:{line} imports {target}: {src} must not import {dst}")
    assert not broken, "\n".join(broken)


def test_only_the_listed_packages_import_cli_cmd_and_bench():
    broken = [f"{file}:{line} imports {target}: only {RULES['imported_by'][dst] or 'nothing'} may import {dst}"
              for src, dst, file, line, target in EDGES
              if dst in RULES["imported_by"] and src not in RULES["imported_by"][dst]]
    assert not broken, "\n".join(broken)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("graph,expected", [
    ({"a": {"b"}, "b": {"c"}}, []),
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
])
def test_cycles_finds_strongly_connected_packages(graph, expected):
    assert cycles(graph) == expected


def test_no_import_cycles_between_packages():
    assert RULES["cycles"] == "forbidden"
    graph: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], str] = {}
    for src, dst, file, line, target in EDGES:
        graph[src].add(dst)
        where.setdefault((src, dst), f"{file}:{line} imports {target}")
    found = cycles(graph)
    detail = ["cycle " + " <-> ".join(c) + ":\n  " + "\n  ".join(
        where[(a, b)] for a in c for b in c if (a, b) in where) for c in found]
    assert not found, "\n".join(detail)


def test_imports_are_found_wherever_they_are(tmp_path, monkeypatch):
    """The parser sees function-local, relative and importlib imports (a rule it cannot see is no rule)."""
    pkg = tmp_path / "kubetui" / "tui"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    f = pkg / "x.py"
    f.write_text("import importlib\n"
                 "def f():\n    from kubetui.store import Store\n"
                 "from ..cluster import views\n"
                 "from . import y\n"
                 "from kubetui import cli\n"
                 "importlib.import_module('kubetui.providers.docker')\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path / "kubetui")
    assert [t for _, t in imports_of(f)] == [
        "kubetui.cluster", "kubetui.tui", "kubetui.cli", "kubetui.store", "kubetui.providers.docker"]
