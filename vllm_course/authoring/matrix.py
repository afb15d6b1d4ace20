"""`make test-matrix`: the class runs of every lesson under every dtype and model.

    python -m vllm_course.authoring.matrix [LESSON ...] [--cells CELL,...]

A cell is a dtype of the CPU platform (VLLM_COURSE_CPU_DTYPE) and a model:
`default` (what the kit resolves: the stand-in offline, the real model where
it can be had) or `unseen` (course.yaml's second stand-in recipe, which no
grader was tuned on). In each cell, tests/test_grading.py grades each lesson's
class (the reference, the stubs, every planted mistake and the notebook
pair) and asserts that each scores as it should; the table says, per lesson
and cell, "as expected" or which submissions were not. `make test` grades
each lesson once more under one other cell (`rotated`): the reference, the
stubs and one planted mistake per exercise, so that a regression in any cell
shows in CI over successive commits.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from vllm_course.authoring import planted
from vllm_course.course.manifest import REPO_ROOT, Lesson, course

DTYPES = ("float32", "float16", "bfloat16")  # the CPU platform's choices (dtype_choice.py)
MODELS = ("default", "unseen")
DTYPE_ENV = "VLLM_COURSE_CPU_DTYPE"  # dtype_choice.DTYPE_ENV, without importing torch
CELL_ENV = "VLLM_COURSE_TEST_CELL"  # pins the cell of make test's extra class runs


@dataclass(frozen=True)
class Cell:
    dtype: str
    model: str  # "default" or "unseen"

    @property
    def name(self) -> str:
        return f"{self.dtype}/{self.model}"

    def env(self) -> dict[str, str]:
        """The environment that puts a process in this cell."""
        env = {DTYPE_ENV: self.dtype}
        if self.model == "unseen":
            from vllm_course.models.offline_model import ensure_built

            for m in course().models.values():
                if m.unseen:
                    env[m.env] = str(ensure_built(m.unseen, progress=_say))
        return env

    @classmethod
    def parse(cls, text: str) -> "Cell":
        dtype, _, model = text.partition("/")
        if dtype not in DTYPES or model not in MODELS:
            raise ValueError(f"a cell is DTYPE/MODEL with DTYPE one of {', '.join(DTYPES)} and "
                             f"MODEL one of {', '.join(MODELS)}; got {text!r}")
        return cls(dtype, model)


CELLS = tuple(Cell(d, m) for m in MODELS for d in DTYPES)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def rotated(lesson_index: int, turn: int, machine_dtype: str | None) -> Cell:
    """The cell of make test's extra class run of the lesson at `lesson_index`:
    one that differs from what the machine runs anyway (its own dtype on the
    default model), moving on by one with every `turn` (the commit count), so
    that successive CI runs cover every cell of every lesson."""
    others = [c for c in CELLS if not (c.model == "default" and c.dtype == machine_dtype)]
    return others[(lesson_index + turn) % len(others)]


def rotated_mistakes(lesson: Lesson, turn: int) -> list[planted.Mistake]:
    """The planted mistakes graded in make test's extra class run of `lesson`:
    one per exercise (each check meets a wrong answer in the other cell, at
    a third of the cost of all of them). The choice moves on to each
    exercise's next mistake once the cells have come round (every len(CELLS)
    turns), so that successive commits pair every mistake with every cell."""
    step = turn // len(CELLS)
    per_exercise = (planted.mistakes(lesson, e.function) for e in lesson.exercises)
    return [ms[step % len(ms)] for ms in per_exercise if ms]


def commit_count() -> int:
    """How many commits HEAD has (0 outside a git checkout): the rotation's turn."""
    try:
        done = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=30)
        return int(done.stdout.strip()) if done.returncode == 0 else 0
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0


def _unexpected(junit: Path, lesson_id: str) -> list[str] | None:
    """The test ids of `lesson_id` that failed or errored in a junit report,
    or None when none of its tests ran."""
    ran, failed = 0, []
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        if f"[{lesson_id}" not in name:
            continue
        ran += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed.append(name.split("[", 1)[1].rstrip("]"))
    return failed if ran else None


def run_cell(cell: Cell, lessons: list[str], workdir: Path) -> dict[str, list[str] | None]:
    """Grade the lessons' classes in `cell`: lesson -> unexpected results."""
    junit = workdir / f"{cell.dtype}-{cell.model}.xml"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env.update(cell.env())
    # The class runs in the cell itself: not make test's extra ("rotated") runs.
    selection = f"({' or '.join(lessons)}) and not rotated"
    _say(f"cell {cell.name}: grading {len(lessons)} lessons' classes")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_grading.py", "-q", "-p", "no:cacheprovider",
         "-k", selection, f"--junitxml={junit}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    _say(f"cell {cell.name}: done in {time.monotonic() - started:.0f} s (pytest exit "
         f"{done.returncode})")
    if not junit.exists():
        (workdir / f"{cell.dtype}-{cell.model}.log").write_text(done.stdout + done.stderr)
        return {lesson: [f"no report: pytest exit {done.returncode}"] for lesson in lessons}
    return {lesson: _unexpected(junit, lesson) for lesson in lessons}


def table(lessons: list[str], cells: list[Cell], found: dict) -> list[str]:
    width = max(len(c.name) for c in cells)
    lines = ["lesson    " + "  ".join(f"{c.name:<{width}}" for c in cells)]
    notes = []
    for lesson in lessons:
        row = []
        for cell in cells:
            bad = found[cell][lesson]
            if bad is None:
                row.append("not run")
            elif not bad:
                row.append("as expected")
            else:
                row.append(f"{len(bad)} not")
                notes.append(f"{lesson} {cell.name}: {', '.join(bad)}")
        lines.append(f"{lesson:<10}" + "  ".join(f"{r:<{width}}" for r in row))
    return lines + notes


def main(argv: list[str] | None = None) -> int:
    lessons_all = [l.id for l in course().lessons]
    p = argparse.ArgumentParser(prog="make test-matrix", description=__doc__.split("\n\n")[0])
    p.add_argument("lessons", nargs="*", metavar="LESSON",
                   help=f"lessons to grade (default: all of {', '.join(lessons_all)})")
    p.add_argument("--cells", default=",".join(c.name for c in CELLS),
                   help="comma-separated DTYPE/MODEL cells (default: all six)")
    args = p.parse_args(argv)
    unknown = [l for l in args.lessons if l not in lessons_all]
    if unknown:
        p.error(f"unknown lesson {', '.join(unknown)}; choose from {', '.join(lessons_all)}")
    try:
        cells = [Cell.parse(c) for c in args.cells.split(",") if c]
    except ValueError as e:
        p.error(f"--cells: {e}")
    lessons = args.lessons or lessons_all
    found = {}
    with tempfile.TemporaryDirectory(prefix="vllm-course-matrix-") as tmp:
        for cell in cells:
            found[cell] = run_cell(cell, lessons, Path(tmp))
            # Each cell's column as it ends: a run stopped later keeps what it found.
            for line in table(lessons, [cell], found):
                print(line, flush=True)
    if len(cells) > 1:  # one cell's table was printed as it ended
        for line in table(lessons, cells, found):
            print(line)
    ok = all(found[c][l] == [] for c in cells for l in lessons)
    print("every cell as expected" if ok else "some cells were not as expected (listed above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
