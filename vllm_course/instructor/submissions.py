"""Finding a class's submissions in a folder, by convention.

For lesson `lessonNN` with exercise file `f.py`, a folder may hold, mixed:
- `<student>.py`: a plain file;
- `<student>/f.py`: a student's folder;
- nbgrader's layout, `submitted/<student>/lessonNN/*.ipynb` (the folder may be
  the nbgrader course, its `submitted/`, or hold `<student>/lessonNN/*.ipynb`).
The student id is the file's stem or the folder's name. A notebook is graded on
the code of its cells, test cells left out: the functions its solution cells
define, with the locked setup cell's imports, exactly what its test cells check.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from vllm_course.runner.warm import Submission
from vllm_course.course.manifest import Lesson


class SubmissionsError(ValueError):
    """The folder cannot be graded as given; the message says what to do."""


@dataclass(frozen=True)
class Found:
    submissions: list[Submission]
    problems: list[str]  # one line each: graded anyway, but worth the instructor's eye


def notebook_code(path: Path) -> str:
    """The code a notebook defines: every code cell but nbgrader's test cells,
    with IPython's magics and shell lines commented out."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    chunks = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        lines = [("# " + l if l.lstrip().startswith(("%", "!")) else l)
                 for l in source.splitlines()]
        chunks.append("\n".join(lines))
    return "\n\n".join(chunks) + "\n"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _defined_functions(code: str) -> set[str] | None:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _nbgrader_root(folder: Path, lesson: Lesson) -> Path | None:
    """The folder holding <student>/<lesson>/*.ipynb, if this is nbgrader's layout."""
    for candidate in (folder / "submitted", folder):
        if any(candidate.glob(f"*/{lesson.id}/*.ipynb")):
            return candidate
    return None


def find(folder: Path, lesson: Lesson) -> Found:
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionsError(f"{folder}: no such folder. Give the folder that holds the "
                               "submissions (<student>.py, <student>/" + lesson.exercise_file
                               + " or nbgrader's submitted/).")
    by_student: dict[str, list[Submission]] = {}
    problems: list[str] = []

    def add(student: str, path: Path, source: bytes | None = None) -> None:
        by_student.setdefault(student, []).append(Submission(student, lesson, path, source))

    for path in sorted(folder.glob("*.py")):
        if path.name != "nbgrader_config.py":  # an nbgrader course folder's own config
            add(path.stem, path)
    for path in sorted(folder.glob(f"*/{lesson.exercise_file}")):
        add(path.parent.name, path)
    root = _nbgrader_root(folder, lesson)
    if root is not None:
        for student_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            notebooks = sorted((student_dir / lesson.id).glob("*.ipynb"))
            if len(notebooks) > 1:
                problems.append(f"{student_dir / lesson.id}: {len(notebooks)} notebooks; graded "
                                f"{notebooks[0].name} (keep one notebook per student)")
            if notebooks:
                try:
                    code = notebook_code(notebooks[0])
                except (ValueError, OSError) as e:
                    problems.append(f"{notebooks[0]}: not a readable notebook ({e}); scored 0")
                    code = ""
                add(student_dir.name, notebooks[0], code.encode())

    duplicates = {s: subs for s, subs in by_student.items() if len(subs) > 1}
    if duplicates:
        lines = [f"  {s}: " + ", ".join(str(x.path) for x in subs) for s, subs in duplicates.items()]
        raise SubmissionsError("the same student id comes from more than one submission:\n"
                               + "\n".join(lines)
                               + "\nKeep one submission per student, then run again.")
    found = [subs[0] for _, subs in sorted(by_student.items())]
    if not found:
        raise SubmissionsError(
            f"{folder}: no submissions for {lesson.id} (looked for *.py, */{lesson.exercise_file}"
            f" and submitted/*/{lesson.id}/*.ipynb). Is it the right folder and lesson?")
    wanted = [e.function for e in lesson.exercises]
    for sub in found:
        code = sub.source.decode("utf-8", "replace") if sub.source is not None else \
            sub.path.read_text(encoding="utf-8", errors="replace")
        defined = _defined_functions(code)
        if defined is None:
            problems.append(f"{sub.path}: does not parse as Python; {sub.student} scores 0 "
                            "(the results say where)")
        elif not defined & set(wanted):
            problems.append(f"{sub.path}: defines none of {lesson.id}'s functions "
                            f"({', '.join(wanted)}); is it the {lesson.id} submission?")
    return Found(found, problems)
