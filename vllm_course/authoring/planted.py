"""Planted mistakes: wrong submissions that show each grader can fail.

tests/planted_mistakes.yaml lists, per lesson and exercise, realistic wrong
answers. Each replaces the solution region of ONE function of the reference
solution, either with a whole new `body` or by one `replace: [old, new]` edit
of the reference region (for a one-word slip in a long answer). Grading such
a submission must lose exactly that exercise's points and no others.

`agrees_when` marks a subtle mistake: one that gives the right answer on the
lesson's simplest inputs (n=1, one prompt, a default left alone...) and is
wrong only elsewhere. Every exercise needs MIN_PER_EXERCISE mistakes, at
least one of them subtle (`course check` says which fall short).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vllm_course.course import exercise_tables
from vllm_course.course.paths import relative
from vllm_course.course.manifest import REPO_ROOT, Course, Lesson
from vllm_course.authoring.stubs import solution_regions

PLANTED_PATH = REPO_ROOT / "tests" / "planted_mistakes.yaml"
MIN_PER_EXERCISE = 3
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class PlantedError(ValueError):
    pass


@dataclass(frozen=True)
class Mistake:
    lesson: str
    function: str
    name: str  # short, kebab-case: what is wrong
    agrees_when: str | None  # the simple inputs where it gives the right answer
    body: str | None
    replace: tuple[str, str] | None

    @property
    def student(self) -> str:
        """The id its submission is graded under."""
        return f"mistake-{self.function}-{self.name}"

    def apply(self, solution: str) -> str:
        """The solution file's text with this mistake in it."""
        return replace_region(solution, self.function, self.new_region(solution))

    def new_region(self, solution: str) -> str:
        if self.body is not None:
            return self.body
        old, new = self.replace
        region = region_of(solution, self.function)
        if region.count(old) != 1:
            raise PlantedError(f"{relative(PLANTED_PATH)}: {self.lesson}.{self.function} "
                               f"{self.name}: replace needs {old!r} exactly once in the "
                               f"reference's solution region, found it {region.count(old)} times")
        return region.replace(old, new)


def _region_bounds(source: str, function: str) -> tuple[int, int, str]:
    lines = source.splitlines()
    for begin, end, indent in solution_regions(source):
        header = next((l for l in reversed(lines[:begin]) if l.lstrip().startswith("def ")), "")
        if header.lstrip().startswith(f"def {function}("):
            return begin, end, indent
    raise PlantedError(f"no solution region inside def {function}()")


def region_of(source: str, function: str) -> str:
    """The dedented code between `function`'s solution markers."""
    begin, end, _ = _region_bounds(source, function)
    return textwrap.dedent("\n".join(source.splitlines()[begin + 1:end])) + "\n"


def replace_region(source: str, function: str, body: str) -> str:
    """`source` with the solution region inside `def function` replaced by `body`."""
    begin, end, indent = _region_bounds(source, function)
    lines = source.splitlines()
    new = textwrap.indent(textwrap.dedent(body).rstrip("\n"), indent).splitlines()
    return "\n".join(lines[:begin] + new + lines[end + 1:]) + "\n"


def _parse(data, path: Path) -> list[Mistake]:
    found = []
    for lesson, function, at, entry in exercise_tables.entries(data, path, PlantedError,
                                                               "mistakes"):
        if not isinstance(entry, dict):
            raise PlantedError(f"{at}: expected a mapping with name and body (or replace)")
        unknown = set(entry) - {"name", "agrees_when", "body", "replace"}
        if unknown:
            raise PlantedError(f"{at}: unknown field(s) {sorted(unknown)}; expected name, "
                               "agrees_when, and body or replace")
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise PlantedError(f"{at}: name must be short kebab-case text, got {name!r}")
        body, replace = entry.get("body"), entry.get("replace")
        if (body is None) == (replace is None):
            raise PlantedError(f"{at} {name}: give exactly one of body and replace")
        if body is not None and not isinstance(body, str):
            raise PlantedError(f"{at} {name}: body must be text")
        if replace is not None and not (isinstance(replace, list) and len(replace) == 2
                                        and all(isinstance(s, str) for s in replace)):
            raise PlantedError(f"{at} {name}: replace must be [old text, new text]")
        agrees = entry.get("agrees_when")
        if agrees is not None and not isinstance(agrees, str):
            raise PlantedError(f"{at} {name}: agrees_when must be text")
        found.append(Mistake(lesson, function, name, agrees, body,
                             tuple(replace) if replace else None))
    students = [m.student for m in found]
    twice = sorted({s for s in students if students.count(s) > 1})
    if twice:
        raise PlantedError(f"{relative(path)}: two mistakes share a name: {twice}")
    return found


@lru_cache(maxsize=None)
def _all(path: Path = PLANTED_PATH) -> tuple[Mistake, ...]:
    return tuple(_parse(exercise_tables.load(path), path))


def mistakes(lesson: Lesson | str | None = None, function: str | None = None) -> list[Mistake]:
    """The planted mistakes, in file order: all, or a lesson's, or one exercise's."""
    return exercise_tables.select(_all(), lesson, function)


def problems(course: Course) -> list[str]:
    """For `course check`: exercises short of mistakes, and mistakes of no exercise."""
    where = relative(PLANTED_PATH)
    try:
        found = mistakes()
    except PlantedError as e:
        return [str(e)]
    out = []
    known = {(l.id, e.function) for l in course.lessons for e in l.exercises}
    for m in found:
        if (m.lesson, m.function) not in known:
            out.append(f"{where}: {m.lesson}.{m.function} {m.name}: no such exercise in course.yaml")
    for lesson in course.lessons:
        solution = lesson.solution_path.read_text(encoding="utf-8") \
            if lesson.solution_path.is_file() else None
        for e in lesson.exercises:
            own = [m for m in found if (m.lesson, m.function) == (lesson.id, e.function)]
            if len(own) < MIN_PER_EXERCISE:
                out.append(f"{lesson.id}.{e.function}: {len(own)} planted mistake(s) in {where}, "
                           f"expected at least {MIN_PER_EXERCISE}")
            elif not any(m.agrees_when for m in own):
                out.append(f"{lesson.id}.{e.function}: none of its planted mistakes in {where} "
                           "has agrees_when: plant one that is right on the simplest inputs")
            for m in own:
                if solution is None:
                    continue
                try:
                    changed = m.apply(solution)
                except PlantedError as err:
                    out.append(str(err))
                    continue
                if changed == solution:
                    out.append(f"{where}: {lesson.id}.{e.function} {m.name}: it is the reference "
                               "solution itself")
                    continue
                try:  # a mistake is wrong code that runs, not a file that fails to parse
                    compile(changed, str(lesson.solution_path), "exec")
                except SyntaxError as err:
                    out.append(f"{where}: {lesson.id}.{e.function} {m.name}: the edited solution "
                               f"does not parse (line {err.lineno}: {err.msg}); in a replace, "
                               "write \\n in double quotes for a new line")
    return out
