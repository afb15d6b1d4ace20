"""`course check`: does every lesson in course.yaml have all its parts?

For each exercise `f` of lesson `lessonNN`: the lesson README has the section
course.yaml names, the solution file defines `f` (in course.yaml's order) with
a solution region, the committed stub is generated from the solution, and at
least one grader test is marked @pytest.mark.exercise("f"), and
tests/planted_mistakes.yaml plants enough mistakes in it (planted.py), and
every clause of its docstring has a check and a mistake behind it where
tests/contracts.yaml has a table for the lesson (contracts.py). Static: reads files,
imports nothing of vLLM, so it runs in a second.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from vllm_course.course.paths import relative
from vllm_course.grading.registry import declared
from vllm_course.course.manifest import REPO_ROOT, Course, Lesson
from vllm_course.authoring.stubs import StubError, exercise_path, expected_stub, solution_path


def _headings(readme: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", readme.read_text(encoding="utf-8"), flags=re.S)
    return {m.group(1).strip() for m in re.finditer(r"^#{2,3} +(.+?)\s*$", text, flags=re.M)}


def _graded_exercises(lesson: Lesson) -> set[str]:
    """The exercises graded by graders/<id>/test_*.py, by the one rule (registry.py)."""
    return {d.function for d in declared(lesson) if d.function}


def lesson_problems(lesson: Lesson) -> list[str]:
    problems = []
    wanted = [e.function for e in lesson.exercises]
    readme = lesson.readme
    if not readme.is_file():
        problems.append(f"{lesson.id}: no lesson text {readme.relative_to(REPO_ROOT)}")
    else:
        headings = _headings(readme)
        for e in lesson.exercises:
            if e.section not in headings:
                problems.append(f"{lesson.id}.{e.function}: course.yaml names the section "
                                f"{e.section!r}, which is not a heading of {lesson.readme_link}")
    solution = solution_path(lesson)
    if not solution.is_file():
        problems.append(f"{lesson.id}: no solution file {solution.relative_to(REPO_ROOT)}")
    else:
        tree = ast.parse(solution.read_text(encoding="utf-8"))
        defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted]
        docs = {n.name: ast.get_docstring(n) or "" for n in tree.body if isinstance(n, ast.FunctionDef)}
        for e in lesson.exercises:
            line = f'Lesson section: "{e.section}".'
            if e.function in docs and line not in docs[e.function]:
                problems.append(f"{lesson.id}.{e.function}: its docstring in "
                                f"{solution.relative_to(REPO_ROOT)} must say {line} "
                                "(the section course.yaml names)")
        for f in wanted:
            if f not in defined:
                problems.append(f"{lesson.id}.{f}: {solution.relative_to(REPO_ROOT)} defines no "
                                f"top-level function {f}()")
        if sorted(defined, key=wanted.index) != defined:
            problems.append(f"{lesson.id}: the exercises in {solution.relative_to(REPO_ROOT)} are in "
                            f"the order {defined}, course.yaml lists {wanted}: keep one order")
        try:
            stub = expected_stub(lesson)
        except StubError as e:
            problems.append(f"{lesson.id}: {e}")
        else:
            target = exercise_path(lesson)
            if not target.is_file() or target.read_text(encoding="utf-8") != stub:
                problems.append(f"{lesson.id}: {target.relative_to(REPO_ROOT)} is not generated "
                                "from the solution: run `course stubs`")
    for d in declared(lesson):
        if d.function is None:
            problems.append(f"{lesson.id}: {relative(d.path)}:{d.line} {d.name} "
                            "grades no exercise: mark it @pytest.mark.exercise(\"<function>\")")
    graded = _graded_exercises(lesson)
    for f in wanted:
        if f not in graded:
            problems.append(f"{lesson.id}.{f}: no grader test in graders/{lesson.id}/ is marked "
                            f"@pytest.mark.exercise({f!r})")
    for f in sorted(graded - set(wanted)):
        problems.append(f"{lesson.id}: graders/{lesson.id}/ grades {f!r}, which course.yaml does not list")
    return problems


def version_problems(pyproject: str, cpu_lock: str, course_vllm: str) -> list[str]:
    """Where a copy of a pinned version (vllm_course/course/versions.py) has drifted."""
    from vllm_course.course import versions

    found = []
    pins = {"vllm": versions.VLLM, "torch": versions.TORCH}
    for name, pinned in pins.items():
        if f'"{name}=={pinned}"' not in pyproject:
            found.append(f"pyproject.toml: dependencies must pin \"{name}=={pinned}\" "
                         "(vllm_course/course/versions.py)")
    if not re.search(rf"^vllm=={re.escape(versions.VLLM)}$", cpu_lock, re.M):
        found.append(f"requirements/cpu.txt: must pin vllm=={versions.VLLM} "
                     "(vllm_course/course/versions.py): run `make lock`")
    if course_vllm != versions.VLLM:
        found.append(f"course.yaml: vllm_version is {course_vllm!r}, but the kit is pinned to "
                     f"{versions.VLLM!r} (vllm_course/course/versions.py)")
    return found


def problems(course: Course) -> list[str]:
    versions = version_problems((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"),
                                (REPO_ROOT / "requirements" / "cpu.txt").read_text(encoding="utf-8"),
                                course.vllm_version)
    from vllm_course.authoring import contracts, planted

    return (versions + [p for lesson in course.lessons for p in lesson_problems(lesson)]
            + planted.problems(course) + contracts.problems(course))
