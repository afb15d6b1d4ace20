"""Contract tables: every clause of an exercise's docstring, and what checks it.

tests/contracts.yaml lists, per lesson and exercise, the clauses of the
solution's docstring. A clause is a piece of the docstring's own text
(`says`, quoted as written; whitespace does not matter), the check `input`
that would fail if only that clause were broken, the grader test that feeds
it (`check`), and the planted mistakes (tests/planted_mistakes.yaml) that
break only that clause (`broken_by`). Since every planted mistake must lose
exactly its exercise's points in `make test`, a clause with a mistake behind
it is shown to be checked, not just claimed to be.

A clause whose every wrong version would also break another exercise (lesson
2's main runs the file's own helpers as a program) cannot have a planted
mistake that loses exactly its points: it gives `broken_by: []` and says why
in `no_mistake_because`.

`course check` reports: docstring text that no clause quotes (a promise with
no check), a clause whose text the docstring no longer holds, a check that is
not a grader test of that exercise, and a mistake that is not planted.
Static: reads files only.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vllm_course.course import exercise_tables
from vllm_course.course.paths import relative
from vllm_course.grading.registry import declared
from vllm_course.course.manifest import REPO_ROOT, Course, Lesson

CONTRACTS_PATH = REPO_ROOT / "tests" / "contracts.yaml"
_FIELDS = {"says", "input", "check", "broken_by"}
_OPTIONAL = {"no_mistake_because"}
# Not a promise about behaviour: where to read, in every docstring.
_LESSON_LINE = re.compile(r'Lesson section: "[^"]*"\.')


class ContractError(ValueError):
    pass


@dataclass(frozen=True)
class Clause:
    lesson: str
    function: str
    says: str
    input: str
    check: str
    broken_by: tuple[str, ...]


def _words(text: str) -> str:
    return " ".join(text.split())


def _parse(data, path: Path) -> list[Clause]:
    found = []
    for lesson, function, at, entry in exercise_tables.entries(data, path, ContractError,
                                                               "clauses", nonempty=True):
        if not isinstance(entry, dict) or not _FIELDS <= set(entry) <= _FIELDS | _OPTIONAL:
            got = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise ContractError(f"{at}: expected the fields {sorted(_FIELDS)} (and "
                                f"optionally {sorted(_OPTIONAL)}), got {got}")
        for field in ("says", "input", "check"):
            if not isinstance(entry[field], str) or not entry[field].strip():
                raise ContractError(f"{at}: {field} must be non-empty text, "
                                    f"got {entry[field]!r}")
        broken, because = entry["broken_by"], entry.get("no_mistake_because")
        if not (isinstance(broken, list) and all(isinstance(b, str) for b in broken)
                and (broken or isinstance(because, str) and because.strip())):
            raise ContractError(f"{at}: broken_by must list planted mistakes by name "
                                "(or be [] with no_mistake_because saying why), got "
                                f"{broken!r}")
        found.append(Clause(lesson, function, _words(entry["says"]), entry["input"],
                            entry["check"], tuple(broken)))
    return found


@lru_cache(maxsize=None)
def _all(path: Path = CONTRACTS_PATH) -> tuple[Clause, ...]:
    return tuple(_parse(exercise_tables.load(path), path))


def clauses(lesson: Lesson | str | None = None, function: str | None = None) -> list[Clause]:
    return exercise_tables.select(_all(), lesson, function)


def uncovered(docstring: str, says: list[str]) -> tuple[list[str], list[str]]:
    """(docstring text that no clause quotes, clauses the docstring does not hold).
    Punctuation and whitespace between clauses need no clause."""
    text = _words(_LESSON_LINE.sub("", docstring))
    covered = [False] * len(text)
    missing = []
    for clause in map(_words, says):
        at = text.find(clause)
        if at < 0:
            missing.append(clause)
            continue
        covered[at:at + len(clause)] = [True] * len(clause)
    gaps, run = [], []
    for char, done in zip(text, covered):
        if done:
            if run:
                gaps.append("".join(run))
            run = []
        else:
            run.append(char)
    if run:
        gaps.append("".join(run))
    return [g.strip() for g in gaps if re.search(r"\w", g)], missing


def docstrings(lesson: Lesson) -> dict[str, str]:
    tree = ast.parse(lesson.solution_path.read_text(encoding="utf-8"))
    return {n.name: ast.get_docstring(n) or "" for n in tree.body if isinstance(n, ast.FunctionDef)}


def lesson_problems(lesson: Lesson, planted_names: dict[str, set[str]]) -> list[str]:
    where = relative(CONTRACTS_PATH)
    own = clauses(lesson)
    if not own:
        return []
    docs = docstrings(lesson)
    tests = {}
    for d in declared(lesson):
        tests.setdefault(d.function, set()).add(d.name)
    out = []
    for e in lesson.exercises:
        mine = [c for c in own if c.function == e.function]
        gaps, missing = uncovered(docs.get(e.function, ""), [c.says for c in mine])
        for gap in gaps:
            out.append(f"{lesson.id}.{e.function}: its docstring says {gap!r}, which no clause in "
                       f"{where} quotes: add the clause, the check input that fails when only it "
                       "is broken, and a planted mistake that breaks it")
        for clause in missing:
            out.append(f"{where}: {lesson.id}.{e.function}: the clause {clause!r} is not in its "
                       f"docstring in {relative(lesson.solution_path)}: quote the docstring as written")
        for c in mine:
            if c.check not in tests.get(e.function, set()):
                out.append(f"{where}: {lesson.id}.{e.function}: check {c.check!r} is not a grader "
                           f"test of {e.function} in graders/{lesson.id}/")
            for name in c.broken_by:
                if name not in planted_names.get(e.function, set()):
                    out.append(f"{where}: {lesson.id}.{e.function}: {name!r} is not one of its "
                               "planted mistakes in tests/planted_mistakes.yaml")
    known = {e.function for e in lesson.exercises}
    for c in own:
        if c.function not in known:
            out.append(f"{where}: {lesson.id}.{c.function}: no such exercise in course.yaml")
    return out


def problems(course: Course) -> list[str]:
    """For `course check`: the unchecked clauses of every lesson that has a table."""
    from vllm_course.authoring import planted

    try:
        _all()
        found = planted.mistakes()
    except (ContractError, planted.PlantedError) as e:
        return [str(e)]
    out = []
    for lesson in course.lessons:
        names: dict[str, set[str]] = {}
        for m in found:
            if m.lesson == lesson.id:
                names.setdefault(m.function, set()).add(m.name)
        out += lesson_problems(lesson, names)
    return out


def untabled(course: Course) -> list[str]:
    """Lessons whose docstrings have no contract table yet (shown, not hidden)."""
    return [lesson.id for lesson in course.lessons if not clauses(lesson)]
