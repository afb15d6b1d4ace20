"""Finding the grader checks of an exercise: graders/<lesson>/test_*.py
functions marked @pytest.mark.exercise("<function>") (and @pytest.mark.hidden
for instructor-only checks)."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from typing import Callable

from vllm_course.manifest import Lesson


@dataclass(frozen=True)
class Check:
    name: str
    function: str  # the exercise
    hidden: bool
    run: Callable  # run(student, kit)


def _marks(fn) -> list:
    return list(getattr(fn, "pytestmark", []))


def grader_modules(lesson: Lesson) -> list:
    modules = []
    for path in lesson.grader_files():
        name = f"_graders_{lesson.id}_{path.stem}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        modules.append(sys.modules[name])
    return modules


def checks(lesson: Lesson) -> list[Check]:
    found = []
    for module in grader_modules(lesson):
        for name, fn in vars(module).items():
            if not (name.startswith("test_") and callable(fn)):
                continue
            marks = _marks(fn)
            exercise = [m.args[0] for m in marks if m.name == "exercise" and m.args]
            if exercise:
                hidden = any(m.name == "hidden" for m in marks)
                found.append(Check(name, exercise[0], hidden, fn))
    return found


def checks_for(lesson: Lesson, function: str, hidden: bool) -> list[Check]:
    return [c for c in checks(lesson) if c.function == function and c.hidden == hidden]
