"""What counts as a grader check: the one rule, used by pytest (the plugin
checks that it sees the same), notebooks (`check(...)` cells), nbgrader's
hidden tests, `course check` and `course show`.

In graders/<lesson>/test_*.py, every top-level function named test_* is a
check of the exercise named by its @pytest.mark.exercise("<function>") mark,
or else by the module's `pytestmark`; @pytest.mark.hidden (on the function or
the module) makes it instructor-only. The rule reads the files' syntax, so
that `course check` applies it without importing vLLM.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vllm_course.course.manifest import Lesson


@dataclass(frozen=True)
class Declared:
    path: Path
    line: int
    name: str
    function: str | None  # the exercise; None: a test_ function with no exercise mark
    hidden: bool


@dataclass(frozen=True)
class Check:
    name: str
    function: str  # the exercise
    hidden: bool
    run: Callable  # run(student, kit)


def _marks(node: ast.expr | None) -> list[tuple[str, str | None]]:
    """(mark name, first string argument) for pytest.mark.X / pytest.mark.X("a"), or lists of them."""
    if node is None:
        return []
    if isinstance(node, (ast.List, ast.Tuple)):
        return [m for element in node.elts for m in _marks(element)]
    call = node if isinstance(node, ast.Call) else None
    target = call.func if call else node
    if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Attribute)
            and target.value.attr == "mark"):
        return []
    argument = None
    if call and call.args and isinstance(call.args[0], ast.Constant):
        argument = call.args[0].value
    return [(target.attr, argument)]


def declared(lesson: Lesson) -> list[Declared]:
    found = []
    for path in lesson.grader_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        module_marks = []
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
                module_marks = _marks(node.value)
        for node in tree.body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            own = [m for d in node.decorator_list for m in _marks(d)]
            exercise = ([a for n, a in own if n == "exercise" and a]
                        or [a for n, a in module_marks if n == "exercise" and a])
            hidden = any(n == "hidden" for n, _ in own + module_marks)
            found.append(Declared(path, node.lineno, node.name,
                                  exercise[0] if exercise else None, hidden))
    return found


def grader_module(path: Path, lesson: Lesson):
    name = f"_graders_{lesson.id}_{path.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def checks(lesson: Lesson) -> list[Check]:
    return [Check(d.name, d.function, d.hidden, getattr(grader_module(d.path, lesson), d.name))
            for d in declared(lesson) if d.function]


def checks_for(lesson: Lesson, function: str, hidden: bool) -> list[Check]:
    return [c for c in checks(lesson) if c.function == function and c.hidden == hidden]
