"""The student's side of `course`: where am I, what next, a hint, a reset, the
reference once solved, and a watch mode that regrades on every save.

Everything is read from course.yaml (lessons, exercises, points, hints,
sections), the layout paths of manifest.Lesson, and the progress file
(progress.py). Output is plain text when it is not a terminal.
"""

from __future__ import annotations

import ast
import difflib
import sys
import time
from pathlib import Path

from vllm_course.grading import progress as progress_store
from vllm_course.course.paths import relative
from vllm_course.grading.feedback import section_link
from vllm_course.course.manifest import REPO_ROOT, Exercise, Lesson, course


class StudyError(Exception):
    """Bad input from the student: the message says what to do."""


# --- finding things ---------------------------------------------------------
def find_lesson(lesson_id: str) -> Lesson:
    known = [l.id for l in course().lessons]
    if lesson_id in known:
        return course().lesson(lesson_id)
    close = course().closest_lesson(lesson_id)
    raise StudyError(f"no lesson {lesson_id!r} (lessons: {', '.join(known)})"
                     + (f". Did you mean {close}?" if close else ""))


def find_exercise(function: str) -> tuple[Lesson, Exercise]:
    try:
        return course().exercise(function)
    except KeyError:
        names = [e.function for l in course().lessons for e in l.exercises]
        close = difflib.get_close_matches(function, names, n=1)
        raise StudyError(f"no exercise {function!r} in the course"
                         + (f". Did you mean {close[0]}?" if close else
                            ": `course show` needs a function name such as create_llm")) from None


def def_line(path: Path, function: str) -> int | None:
    """The line of `def function` in `path`, or None if it is not there or does not parse."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return node.lineno
    return None


def grader_tests(lesson: Lesson, function: str) -> list[str]:
    """file:line name of every grader check of `function` (registry's rule)."""
    from vllm_course.grading.registry import declared

    return [f"{relative(d.path)}:{d.line} {d.name}" + (" (hidden)" if d.hidden else "")
            for d in declared(lesson) if d.function == function]


def next_exercise(progress) -> tuple[Lesson, Exercise] | None:
    for lesson in course().lessons:
        for e in lesson.exercises:
            if not progress.passed(lesson, e.function):
                return lesson, e
    return None


def _ago(stamp: float | None) -> str:
    if stamp is None:
        return "not graded yet"
    minutes = int((time.time() - stamp) // 60)
    if minutes < 1:
        return "graded just now"
    if minutes < 120:
        return f"graded {minutes} min ago"
    hours = minutes // 60
    return f"graded {hours} h ago" if hours < 48 else f"graded {hours // 24} days ago"


def _load_progress():
    progress = progress_store.load()
    if progress.problem:
        print(f"note: {progress.problem}", file=sys.stderr)
    return progress


# --- commands ------------------------------------------------------------------
def status() -> int:
    progress = _load_progress()
    rows = []
    for lesson in course().lessons:
        passed = [e for e in lesson.exercises if progress.passed(lesson, e.function)]
        points = sum(e.points for e in passed)
        rows.append((lesson, len(passed), points, _ago(progress.graded_at(lesson.id))))
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        table = Table(title=course().title, box=None, pad_edge=False)
        for column in ("lesson", "", "exercises", "points", "last graded"):
            table.add_column(column)
        for lesson, n, points, ago in rows:
            table.add_row(f"{lesson.id} {lesson.title}",
                          ProgressBar(total=len(lesson.exercises), completed=n, width=16),
                          f"{n}/{len(lesson.exercises)}", f"{points}/{lesson.max_points}", ago)
        Console().print(table)
    else:
        print(course().title)
        width = max(len(l.title) for l, *_ in rows)
        for lesson, n, points, ago in rows:
            print(f"  {lesson.id} {lesson.title:<{width}}  {n}/{len(lesson.exercises)} exercises  "
                  f"{points}/{lesson.max_points} points  {ago}")
    print()
    return next_step(progress)


def next_step(progress=None) -> int:
    progress = progress or _load_progress()
    found = next_exercise(progress)
    if found is None:
        print("You have passed every exercise of the course: well done.\n"
              "Read next: the concepts pages in lessons/concepts/, vLLM's own docs at "
              "https://docs.vllm.ai, and try the lessons' experiments on the real "
              f"{course().default_model} or a larger model.")
        return 0
    lesson, e = found
    stub = lesson.exercise_path
    line = def_line(stub, e.function)
    print(f"Next: {e.function} ({e.points} point{'s' * (e.points != 1)}), {lesson.id} "
          f"{lesson.title}")
    print(f"  write: {relative(stub)}:{line or '?'}")
    print(f"  read:  {section_link(lesson, e.section)}")
    print(f"  grade: course watch {lesson.id}   (or: pytest exercises/{lesson.id} -k {e.function})")
    return 0


def hint(function: str, more: bool) -> int:
    lesson, e = find_exercise(function)
    print(f"{e.function} ({lesson.id}): {e.more if more else e.hint}")
    if not more:
        print(f"  More: course hint {e.function} --more   Reread: {section_link(lesson, e.section)}")
    return 0


def show(function: str) -> int:
    lesson, e = find_exercise(function)
    print(f"{e.function}: {lesson.id} {lesson.title}, {e.points} point{'s' * (e.points != 1)}")
    print(f"  lesson:   {section_link(lesson, e.section)} (section \"{e.section}\")")
    print(f"  stub:     {relative(lesson.exercise_path)}:{def_line(lesson.exercise_path, e.function) or '?'}")
    for test in grader_tests(lesson, e.function):
        print(f"  grader:   {test}")
    print(f"  hint:     {e.hint}")
    # For maintainers: where the answer and its planted mistake live.
    print(f"  solution: {relative(lesson.solution_path)}:{def_line(lesson.solution_path, e.function) or '?'}")
    from vllm_course.authoring import planted

    names = [m.name for m in planted.mistakes(lesson, e.function)]
    if names:
        print(f"  planted mistakes ({relative(planted.PLANTED_PATH)}): {', '.join(names)}")
    return 0


def solution(function: str) -> int:
    lesson, e = find_exercise(function)
    progress = _load_progress()
    if not progress.passed(lesson, e.function):
        print(f"{e.function}: your own code has not passed it yet, so the reference stays hidden.\n"
              f"  Hint: {e.hint}\n  More: course hint {e.function} --more")
        return 1
    from vllm_course.authoring.stubs import strip_solution_markers

    source = lesson.solution_path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == e.function)
    lines = source.splitlines()[node.lineno - 1:node.end_lineno]
    print(f"# The reference for {e.function} ({relative(lesson.solution_path)}):")
    print(strip_solution_markers("\n".join(lines)))
    return 0


def reset(lesson_id: str, function: str | None, yes: bool) -> int:
    from vllm_course.authoring.stubs import expected_stub

    lesson = find_lesson(lesson_id)
    if function is not None and function not in {e.function for e in lesson.exercises}:
        raise StudyError(f"{lesson.id} has no exercise {function!r} "
                         f"({', '.join(e.function for e in lesson.exercises)})")
    target = lesson.exercise_path
    stub = expected_stub(lesson)
    try:
        current = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if function is None:
        new = stub
    else:
        if current is None or def_line(target, function) is None:
            raise StudyError(f"{relative(target)} has no function {function}() to reset (or it "
                             f"does not parse): `course reset {lesson.id}` resets the whole file")
        new = _replace_function(current, stub, function)
    what = f"{function}() in {relative(target)}" if function else relative(target)
    if current == new:
        print(f"{what} is already the stub: nothing to reset")
        return 0
    if not yes:
        if not sys.stdin.isatty():
            raise StudyError(f"resetting {what} replaces your code: add --yes to confirm")
        answer = input(f"Replace {what} with the stub? Your code is kept in a backup. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 1
    if current is not None:
        backups = REPO_ROOT / ".course-backups"
        backups.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = backups / f"{lesson.id}-{target.stem}-{stamp}.py"
        n = 1
        while backup.exists():  # two resets within a second keep both
            n += 1
            backup = backups / f"{lesson.id}-{target.stem}-{stamp}-{n}.py"
        backup.write_text(current, encoding="utf-8")
        print(f"your code is kept in {relative(backup)}")
    target.write_text(new, encoding="utf-8")
    print(f"reset {what}")
    return 0


def _replace_function(current: str, stub: str, function: str) -> str:
    """`current` with the top-level `def function` taken from `stub`."""
    def span(source: str) -> tuple[int, int]:
        node = next(n for n in ast.parse(source).body
                    if isinstance(n, ast.FunctionDef) and n.name == function)
        start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
        return start, node.end_lineno

    lines, stub_lines = current.splitlines(), stub.splitlines()
    a, b = span(current)
    c, d = span(stub)
    return "\n".join(lines[:a] + stub_lines[c:d] + lines[b:]) + "\n"
