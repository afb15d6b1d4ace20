"""Exercise stubs, generated from the solution files (the single source).

A solution marks its answer with nbgrader's markers, each on a line of its own:

        ### BEGIN SOLUTION
        return SamplingParams(temperature=0.8, top_p=0.95)
        ### END SOLUTION

and the stub keeps everything but the marked region, which becomes nbgrader's
own stub, so the exercise files and the nbgrader notebooks agree.
"""

from __future__ import annotations

import re
from pathlib import Path

from vllm_course.course.manifest import REPO_ROOT, Course, Lesson

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
_MARKER = re.compile(r"^(\s*)(### (?:BEGIN|END) SOLUTION)\s*$")


class StubError(ValueError):
    pass


def solution_regions(source: str, origin: str = "<solution>") -> list[tuple[int, int, str]]:
    """(begin line, end line, indent) of each marked region, 0-based, checked."""
    regions, open_at = [], None
    for number, line in enumerate(source.splitlines()):
        m = _MARKER.match(line)
        if not m:
            if BEGIN in line or END in line:
                raise StubError(f"{origin}:{number + 1}: a solution marker must stand alone on its line")
            continue
        indent, marker = m.groups()
        if marker == BEGIN:
            if open_at is not None:
                raise StubError(f"{origin}:{number + 1}: {BEGIN} inside another solution region "
                                f"(opened at line {open_at[0] + 1})")
            open_at = (number, indent)
        else:
            if open_at is None:
                raise StubError(f"{origin}:{number + 1}: {END} without a {BEGIN}")
            regions.append((open_at[0], number, open_at[1]))
            open_at = None
    if open_at is not None:
        raise StubError(f"{origin}:{open_at[0] + 1}: {BEGIN} is never closed by {END}")
    return regions


def make_stub(source: str, origin: str = "<solution>") -> str:
    lines = source.splitlines()
    out: list[str] = []
    position = 0
    for begin, end, indent in solution_regions(source, origin):
        out.extend(lines[position:begin])
        out.extend(indent + s for s in STUB)
        position = end + 1
    out.extend(lines[position:])
    return "\n".join(out) + "\n"


def solution_path(lesson: Lesson) -> Path:
    return lesson.solution_path


def exercise_path(lesson: Lesson) -> Path:
    return lesson.exercise_path


def expected_stub(lesson: Lesson) -> str:
    path = solution_path(lesson)
    return make_stub(path.read_text(encoding="utf-8"), str(path.relative_to(REPO_ROOT)))


def write_stubs(course: Course, lesson_ids: list[str] | None = None) -> list[Path]:
    """Regenerate the exercise files of the given lessons (default: all); return
    the ones that changed."""
    changed = []
    lessons = [course.lesson(i) for i in lesson_ids] if lesson_ids else course.lessons
    for lesson in lessons:
        target = exercise_path(lesson)
        text = expected_stub(lesson)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            changed.append(target)
    return changed


def strip_solution_markers(code: str) -> str:
    """The reference answer as a student would write it: no solution markers."""
    return "\n".join(l for l in code.splitlines()
                     if l.strip() not in (BEGIN, END))
