"""The package's layout rule: each subpackage imports only those its
__init__ docstring lists after "May import:", and no module imports itself
back through others. Pure: reads the source with `ast`, imports nothing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from vllm_course.course.paths import PACKAGE_ROOT

PACKAGE = PACKAGE_ROOT.name
TOP = {"cli", "bench"}  # the commands' entry points: they may import any subpackage


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE_ROOT.rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The kit's modules that `path` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == PACKAGE:
            for alias in node.names:  # `from pkg import module` names a module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return found


def _subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def allowed() -> dict[str, set[str]]:
    """Subpackage -> what its docstring says it may import."""
    rule = {}
    for init in sorted(PACKAGE_ROOT.glob("*/__init__.py")):
        name = init.parent.name
        if name in TOP:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        if "imports nothing else of the kit" in doc:
            rule[name] = set()
            continue
        m = re.search(r"May import: ([a-z_, ]+)", doc)
        assert m, f"{init}: the docstring must end with 'May import: ...' (or say it imports nothing else of the kit)"
        rule[name] = {s.strip() for s in m.group(1).split(",") if s.strip()}
    return rule


def test_every_subpackage_states_what_it_is_for_and_may_import():
    rule = allowed()
    subpackages = {p.parent.name for p in PACKAGE_ROOT.glob("*/__init__.py")} - TOP
    assert set(rule) == subpackages
    for name, may in rule.items():
        assert may <= subpackages, f"{name}: 'May import' names {sorted(may - subpackages)}, not subpackages"


def test_no_subpackage_imports_one_it_may_not():
    modules, rule = _modules(), allowed()
    wrong = []
    for name, path in modules.items():
        source = _subpackage(name)
        if source is None or source in TOP:
            continue
        for target in _imports(path, modules):
            dest = _subpackage(target)
            if dest is not None and dest != source and dest not in rule[source]:
                wrong.append(f"{path.relative_to(PACKAGE_ROOT.parent)} imports {target}")
    assert not wrong, "imports across the layering (see each __init__'s 'May import'):\n" + "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert not _cycles(graph), f"modules that import each other: {_cycles(graph)}"
    packages: dict[str, set[str]] = {}
    for name, deps in graph.items():
        src = _subpackage(name) or name
        packages.setdefault(src, set()).update(
            d for d in map(_subpackage, deps) if d is not None and d != src)
    assert not _cycles(packages), f"subpackages that import each other: {_cycles(packages)}"


def test_the_checker_sees_a_planted_circle_and_an_upward_import():
    # The rule must be able to fail: a graph with a circle, and an import the docstrings forbid.
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert "instructor" not in allowed()["student"] and "student" not in allowed()["instructor"]
    assert "runner" not in allowed()["grading"]
